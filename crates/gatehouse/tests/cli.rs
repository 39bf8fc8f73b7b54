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

// ---- Bearer tokens: `login` with a token, `tokens …`, GATEHOUSE_TOKEN, expiry. ----

/// Signs in as admin over the API and mints a token; returns the 201 body and the cookie
/// session (`cloud.sso=…`, CSRF token) that made it.
async fn api_token(app: &TestApp, body: serde_json::Value) -> (serde_json::Value, String, String) {
    let support::Login { cookie, csrf } = app.sign_in("admin", &app.admin_password).await;
    let res = app
        .post("/api/tokens")
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&body)
        .send()
        .await
        .expect("mint");
    assert_eq!(res.status(), reqwest::StatusCode::CREATED);
    (res.json().await.expect("json"), cookie, csrf)
}

async fn bearer_status(app: &TestApp, token: &str) -> reqwest::StatusCode {
    app.get("/api/auth/session")
        .bearer_auth(token)
        .send()
        .await
        .expect("session")
        .status()
}

impl Cli<'_> {
    fn new<'a>(app: &'a TestApp) -> Cli<'a> {
        Cli {
            app,
            home: tempfile::tempdir().expect("home"),
        }
    }

    /// `$XDG_CONFIG_HOME` for these runs (a folder of the temporary home).
    fn config_home(&self) -> std::path::PathBuf {
        self.home.path().join("xdg")
    }

    fn credentials(&self) -> std::path::PathBuf {
        self.config_home().join("gatehouse/credentials.toml")
    }

    /// Runs with `XDG_CONFIG_HOME` set, plus `env`.
    fn xdg(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
        let config = self.config_home();
        let config = config.to_str().expect("utf8 path");
        let mut all = vec![("XDG_CONFIG_HOME", config)];
        all.extend_from_slice(env);
        self.run(args, stdin, &all)
    }

    fn xdg_ok(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let out = self.xdg(args, None, env);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf8")
    }

    /// `gatehouse login --server … --fingerprint …` plus `extra`.
    fn token_login(&self, extra: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
        let mut args = vec![
            "login",
            "--server",
            &self.app.base,
            "--fingerprint",
            &self.app.fingerprint,
        ];
        args.extend_from_slice(extra);
        self.xdg(&args, stdin, env)
    }

    fn stored(&self) -> toml::Table {
        toml::from_str(&std::fs::read_to_string(self.credentials()).expect("credentials"))
            .expect("toml")
    }
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn rfc3339(s: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).expect("rfc3339")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_with_a_token_from_stdin_the_environment_or_the_flag_stores_it_privately() {
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app().await;
    let (created, _, _) = api_token(&app, serde_json::json!({"name": "cli"})).await;
    let token = created["token"].as_str().expect("token").to_owned();
    let id = created["id"].as_str().expect("id").to_owned();
    let stdin = format!("{token}\n");
    tokio::task::block_in_place(|| {
        for how in ["stdin", "GATEHOUSE_TOKEN", "--token"] {
            let cli = Cli::new(&app);
            let out = match how {
                "stdin" => cli.token_login(&[], Some(&stdin), &[]),
                "GATEHOUSE_TOKEN" => cli.token_login(&[], None, &[("GATEHOUSE_TOKEN", &token)]),
                _ => cli.token_login(&["--token", &token], None, &[]),
            };
            assert!(out.status.success(), "{how}: {}", stderr_of(&out));
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                stdout.contains("as admin (bearer)") && stdout.contains("The token expires at"),
                "{how}: {stdout}"
            );

            let path = cli.credentials();
            let mode = std::fs::metadata(&path).expect("file").permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{how}");
            assert!(
                !cli.home
                    .path()
                    .join(".config/gatehouse/credentials.toml")
                    .exists(),
                "XDG_CONFIG_HOME is honoured"
            );
            let stored = cli.stored();
            assert_eq!(stored["kind"].as_str(), Some("token"), "{how}");
            assert_eq!(stored["secret"].as_str(), Some(token.as_str()), "{how}");
            assert_eq!(stored["server"].as_str(), Some(app.base.as_str()));
            assert_eq!(
                rfc3339(stored["expires_at"].as_str().expect("expires_at")),
                rfc3339(created["expires_at"].as_str().expect("e")),
                "{how}"
            );

            let who = cli.xdg_ok(&["auth", "session"], &[]);
            assert!(
                who.contains("admin")
                    && who.contains("auth method: bearer")
                    && who.contains(&format!("token:       {id}")),
                "{how}: {who}"
            );
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tokens_commands_create_list_and_revoke_and_gatehouse_token_overrides() {
    let app = spawn_app().await;
    let (created, _, _) = api_token(&app, serde_json::json!({"name": "stored"})).await;
    let stored_token = created["token"].as_str().expect("token").to_owned();
    let cli = Cli::new(&app);
    let made = tokio::task::block_in_place(|| {
        let out = cli.token_login(&["--token", &stored_token], None, &[]);
        assert!(out.status.success(), "{}", stderr_of(&out));
        let out = cli.xdg(
            &["tokens", "create", "--hours", "2", "--name", "cli-made"],
            None,
            &[],
        );
        assert!(out.status.success(), "{}", stderr_of(&out));
        assert!(stderr_of(&out).contains("only time"), "{}", stderr_of(&out));
        let stdout = String::from_utf8(out.stdout).expect("utf8");
        let made = stdout.trim().to_owned();
        assert_eq!(stdout, format!("{made}\n"), "only the token on stdout");
        assert_eq!(made.split('.').count(), 3, "a JWT: {made:?}");
        assert!(!made.contains(char::is_whitespace));
        made
    });

    let res = app
        .get("/api/auth/session")
        .bearer_auth(&made)
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), reqwest::StatusCode::OK, "the new token works");
    let v: serde_json::Value = res.json().await.expect("json");
    let (issued, expires) = (
        rfc3339(v["token"]["issued_at"].as_str().expect("i")),
        rfc3339(v["token"]["expires_at"].as_str().expect("e")),
    );
    assert_eq!((expires - issued).whole_hours(), 2);
    let made_id = v["token"]["id"].as_str().expect("id").to_owned();
    let stored_id = created["id"].as_str().expect("id").to_owned();

    tokio::task::block_in_place(|| {
        // GATEHOUSE_TOKEN takes precedence over the stored token.
        let who = cli.xdg_ok(&["auth", "session"], &[("GATEHOUSE_TOKEN", &made)]);
        assert!(who.contains(&made_id) && !who.contains(&stored_id), "{who}");
        let who = cli.xdg_ok(&["auth", "session"], &[]);
        assert!(who.contains(&stored_id), "{who}");

        let list = cli.xdg_ok(&["tokens", "list"], &[]);
        assert!(
            list.contains("cli-made") && list.contains(&made_id) && list.contains("stored"),
            "{list}"
        );
        assert!(
            !list.contains(&made) && !list.contains(&stored_token),
            "{list}"
        );

        let out = cli.xdg_ok(&["tokens", "revoke", &made_id], &[]);
        assert!(out.contains(&format!("revoked {made_id}")), "{out}");
        assert!(!cli.xdg_ok(&["tokens", "list"], &[]).contains(&made_id));
        let bad = cli.xdg(&["tokens", "revoke", "../etc"], None, &[]);
        assert!(!bad.status.success());
    });
    assert_eq!(
        bearer_status(&app, &made).await,
        reqwest::StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        bearer_status(&app, &stored_token).await,
        reqwest::StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_stored_token_is_refused_locally_with_a_clear_message() {
    let app = spawn_app().await;
    let (created, _, _) = api_token(&app, serde_json::json!({})).await;
    let token = created["token"].as_str().expect("token").to_owned();
    let cli = Cli::new(&app);
    tokio::task::block_in_place(|| {
        let out = cli.token_login(&["--token", &token], None, &[]);
        assert!(out.status.success(), "{}", stderr_of(&out));
        let past = "2020-01-02T03:04:05Z";
        let mut stored = cli.stored();
        stored.insert("expires_at".into(), past.into());
        std::fs::write(cli.credentials(), toml::to_string(&stored).expect("toml")).expect("write");
        let expected = format!(
            "token expired at {past}; generate a new one in Account → Authentication → Tokens"
        );
        for args in [&["auth", "session"][..], &["tokens", "list"][..]] {
            let out = cli.xdg(args, None, &[]);
            assert_eq!(out.status.code(), Some(1), "{args:?}");
            assert!(
                stderr_of(&out).contains(&expected),
                "{args:?}: {}",
                stderr_of(&out)
            );
            assert!(out.stdout.is_empty(), "{args:?}");
        }

        // Refused before any request: an unreachable server changes nothing.
        stored.insert("server".into(), "https://127.0.0.1:1".into());
        std::fs::write(cli.credentials(), toml::to_string(&stored).expect("toml")).expect("write");
        let out = cli.xdg(&["auth", "session"], None, &[]);
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr_of(&out).contains(&expected), "{}", stderr_of(&out));
        assert!(!stderr_of(&out).contains("cannot reach"));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_forgets_a_stored_token() {
    let app = spawn_app().await;
    let (created, _, _) = api_token(&app, serde_json::json!({})).await;
    let token = created["token"].as_str().expect("token").to_owned();
    let cli = Cli::new(&app);
    tokio::task::block_in_place(|| {
        let out = cli.token_login(&[], None, &[("GATEHOUSE_TOKEN", &token)]);
        assert!(out.status.success(), "{}", stderr_of(&out));
        assert!(cli.credentials().exists());
        let out = cli.xdg_ok(&["logout"], &[]);
        assert!(out.contains("Logged out"), "{out}");
        assert!(!cli.credentials().exists());
        let out = cli.xdg(&["auth", "session"], None, &[]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr_of(&out).contains("gatehouse login"),
            "{}",
            stderr_of(&out)
        );
        assert!(cli.xdg_ok(&["logout"], &[]).contains("Not logged in"));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_fails_with_a_readable_message() {
    let app = spawn_app().await;
    let (created, cookie, csrf) = api_token(&app, serde_json::json!({})).await;
    let token = created["token"].as_str().expect("token").to_owned();
    let id = created["id"].as_str().expect("id").to_owned();
    let cli = Cli::new(&app);
    tokio::task::block_in_place(|| {
        let out = cli.token_login(&["--token", &token], None, &[]);
        assert!(out.status.success(), "{}", stderr_of(&out));
    });
    let res = app
        .delete(&format!("/api/tokens/{id}"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .expect("revoke");
    assert_eq!(res.status(), reqwest::StatusCode::NO_CONTENT);
    tokio::task::block_in_place(|| {
        let out = cli.xdg(&["auth", "session"], None, &[]);
        assert_eq!(out.status.code(), Some(1));
        let err = stderr_of(&out);
        assert!(
            err.starts_with("error: ")
                && err.contains("expired or been revoked")
                && err.contains("gatehouse login")
                && !err.contains("panicked"),
            "{err}"
        );
        assert!(!err.contains(&token), "the token is never echoed: {err}");

        // Logging in with it again is refused and stores nothing.
        let fresh = Cli::new(&app);
        let out = fresh.token_login(&["--token", &token], None, &[]);
        assert_eq!(out.status.code(), Some(1));
        let err = stderr_of(&out);
        assert!(err.contains("the server refused this token"), "{err}");
        assert!(!err.contains(&token), "{err}");
        assert!(!fresh.credentials().exists());
    });
}
