//! The user CLI, run as the real binary against a real server: login with a pinned
//! fingerprint, the api-keys commands, `GATEHOUSE_API_KEY`, and logout.

mod support;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use support::{TestApp, spawn_app};

struct Cli<'a> {
    app: &'a TestApp,
    home: tempfile::TempDir,
}

impl Cli<'_> {
    fn run(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
        cmd.args(args)
            .env_clear()
            .env("HOME", self.home.path())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn gatehouse");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())
                .expect("write");
        }
        drop(child.stdin.take());
        child.wait_with_output().expect("wait")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args, None, &[]);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf8")
    }
}

async fn logged_in(app: &TestApp) -> Cli<'_> {
    let cli = Cli {
        app,
        home: tempfile::tempdir().expect("home"),
    };
    let base = app.base.clone();
    let fp = app.fingerprint.clone();
    let pw = format!("{}\n", app.admin_password);
    let out = tokio::task::block_in_place(|| {
        cli.run(
            &[
                "login",
                "--server",
                &base,
                "--fingerprint",
                &fp,
                "--username",
                "admin",
            ],
            Some(&pw),
            &[],
        )
    });
    assert!(
        out.status.success(),
        "login: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("as admin"));
    cli
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_stores_a_private_credentials_file_and_auth_session_shows_the_user() {
    let app = spawn_app().await;
    let cli = logged_in(&app).await;
    let path = cli.home.path().join(".config/gatehouse/credentials.toml");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).expect("file").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let out = tokio::task::block_in_place(|| cli.ok(&["auth", "session"]));
    assert!(
        out.contains("admin") && out.contains("auth method: cookie"),
        "{out}"
    );
    let _ = &cli.app;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_keys_commands_manage_the_whole_lifecycle() {
    let app = spawn_app().await;
    let cli = logged_in(&app).await;
    tokio::task::block_in_place(|| {
        let out = cli.run(
            &[
                "api-keys",
                "create",
                "--name",
                "cli-key",
                "--expires",
                "30d",
                "--permission",
                "account:read",
                "--permission",
                "api_keys:read",
            ],
            None,
            &[],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let key = String::from_utf8(out.stdout)
            .expect("utf8")
            .trim()
            .to_owned();
        assert!(
            key.starts_with("gwk_") && key.len() == 42,
            "only the key on stdout: {key:?}"
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("only time"));

        let list = cli.ok(&["api-keys", "list"]);
        assert!(
            list.contains("cli-key") && list.contains(&key[..10]) && !list.contains(&key),
            "{list}"
        );
        let id = list
            .lines()
            .find(|l| l.contains("cli-key"))
            .and_then(|l| l.split_whitespace().next())
            .expect("id")
            .to_owned();

        // The key works on its own, through the environment.
        let who = cli.run(
            &[
                "auth",
                "session",
                "--server",
                &cli.app.base,
                "--fingerprint",
                &cli.app.fingerprint,
            ],
            None,
            &[("GATEHOUSE_API_KEY", &key)],
        );
        assert!(
            String::from_utf8_lossy(&who.stdout).contains("auth method: api_key"),
            "{}",
            String::from_utf8_lossy(&who.stderr)
        );

        assert!(
            cli.ok(&["api-keys", "show", &id])
                .contains("account:read api_keys:read")
        );
        cli.ok(&["api-keys", "disable", &id]);
        assert!(cli.ok(&["api-keys", "list"]).contains("disabled"));
        let refused = cli.run(&["auth", "session"], None, &[("GATEHOUSE_API_KEY", &key)]);
        assert!(!refused.status.success());
        assert!(String::from_utf8_lossy(&refused.stderr).contains("invalid_credentials"));
        cli.ok(&["api-keys", "enable", &id]);
        let dup = cli.ok(&["api-keys", "duplicate", &id, "--name", "cli-copy"]);
        assert!(dup.trim().starts_with("gwk_") && dup.trim() != key);
        cli.ok(&["api-keys", "delete", &id]);
        assert!(!cli.ok(&["api-keys", "list"]).contains("cli-key "));
        let bad = cli.run(&["api-keys", "show", "../etc"], None, &[]);
        assert!(!bad.status.success());
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_fingerprint_or_plain_http_is_refused_with_a_clear_message() {
    let app = spawn_app().await;
    let cli = Cli {
        app: &app,
        home: tempfile::tempdir().expect("home"),
    };
    tokio::task::block_in_place(|| {
        let wrong = format!("SHA256:{}", "0".repeat(64));
        let pw = format!("{}\n", app.admin_password);
        let out = cli.run(
            &[
                "login",
                "--server",
                &app.base,
                "--fingerprint",
                &wrong,
                "--username",
                "admin",
            ],
            Some(&pw),
            &[],
        );
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("does not match the pinned"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let http = app.http_base.clone().expect("http");
        let out = cli.run(
            &["login", "--server", &http, "--username", "admin"],
            Some(&pw),
            &[],
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("https://"));
        assert!(
            !cli.home
                .path()
                .join(".config/gatehouse/credentials.toml")
                .exists()
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_the_session_and_forgets_it() {
    let app = spawn_app().await;
    let cli = logged_in(&app).await;
    let path = cli.home.path().join(".config/gatehouse/credentials.toml");
    let stored = std::fs::read_to_string(&path).expect("creds");
    let cookie = stored
        .lines()
        .find_map(|l| l.strip_prefix("secret = "))
        .expect("secret")
        .trim_matches('"')
        .to_owned();
    tokio::task::block_in_place(|| cli.ok(&["logout"]));
    assert!(!path.exists());
    let res = app.get_with_cookie("/api/auth/session", &cookie).await;
    assert_eq!(
        res.status(),
        reqwest::StatusCode::UNAUTHORIZED,
        "the session ended server-side"
    );
}
