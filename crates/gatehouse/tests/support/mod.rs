//! `spawn_app()`: a real server on port 0 with its own store, and an HTTPS client that
//! trusts exactly that server's certificate.

#![allow(dead_code)]

use gatehouse::config::{Config, Overrides};
use gatehouse::startup::Application;
use gatehouse_core::secrecy::SecretString;
use gatehouse_web::AppState;
use serde_json::json;

/// A cookie session: the `cloud.sso=…` pair and its CSRF token.
pub struct Login {
    pub cookie: String,
    pub csrf: String,
}

/// A running server.
pub struct TestApp {
    pub base: String,
    pub http_base: Option<String>,
    pub client: reqwest::Client,
    pub state: AppState,
    pub admin_password: String,
    pub fingerprint: String,
    pub cert_pem: Vec<u8>,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// Spawns with default settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Spawns with extra `GATEHOUSE_*` settings (given explicitly, never via the process env).
pub async fn spawn_app_with(env: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let database_url = match std::env::var("GATEHOUSE_TEST_DATABASE").as_deref() {
        Ok("postgres") => Some(gatehouse_store::testing::fresh_postgres_url().await),
        Ok("sqlite") | Err(_) => None,
        Ok(other) => panic!("GATEHOUSE_TEST_DATABASE={other}: use sqlite or postgres"),
    };
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let config = Config::load_from(
        None,
        &env,
        &Overrides {
            listen: Some("127.0.0.1:0".into()),
            http_listen: Some("127.0.0.1:0".into()),
            data_dir: Some(dir.path().to_path_buf()),
            database_url: database_url.map(Into::into),
        },
    )
    .expect("config");
    let admin_password = "correct horse battery staple".to_owned();
    let app = Application::build(&config, Some(SecretString::from(admin_password.clone())))
        .await
        .expect("build");
    let base = format!("https://{}", app.https_addr());
    let http_base = app.http_addr().map(|a| format!("http://{a}"));
    let state = app.state().clone();
    let fingerprint = app.fingerprint().to_owned();
    let cert_pem = std::fs::read(app.cert_path()).expect("cert");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&cert_pem).expect("pem"))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    TestApp {
        base,
        http_base,
        client,
        state,
        admin_password,
        fingerprint,
        cert_pem,
        _dir: dir,
        _stop: stop,
    }
}

/// The password of accounts made by [`TestApp::add_user`].
pub const USER_PASSWORD: &str = "a perfectly long passphrase";

impl TestApp {
    /// Adds a non-admin account and signs it in.
    pub async fn add_user(&self, username: &str) -> Login {
        self.state
            .core
            .create_account(gatehouse_core::service::NewAccount {
                username,
                email: &format!("{username}@example.org"),
                display_name: None,
                password: USER_PASSWORD,
                role: gatehouse_core::org::Role::Member,
                org: None,
            })
            .await
            .expect("user");
        self.sign_in(username, USER_PASSWORD).await
    }

    /// A request authenticated by a cookie session, with its CSRF token.
    pub fn with_cookie(
        &self,
        method: reqwest::Method,
        path: &str,
        login: &Login,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("cookie", &login.cookie)
            .header("x-csrf-token", &login.csrf)
    }

    /// A request authenticated by a bearer token.
    pub fn with_bearer(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
    }

    /// A request authenticated by an API key (HTTP Basic, empty password).
    pub fn with_key(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .basic_auth(key, Some(""))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn origin(&self) -> String {
        self.base.clone()
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path))
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(self.url(path))
    }

    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.delete(self.url(path))
    }

    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        self.post("/api/auth/login")
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .expect("login request")
    }

    /// Signs in (which must succeed) and returns the cookie pair and CSRF token.
    pub async fn sign_in(&self, username: &str, password: &str) -> Login {
        let res = self.login(username, password).await;
        assert_eq!(res.status(), reqwest::StatusCode::OK, "login {username}");
        let cookie = res.headers()[reqwest::header::SET_COOKIE]
            .to_str()
            .expect("cookie")
            .split(';')
            .next()
            .expect("kv")
            .to_owned();
        let csrf = res.json::<serde_json::Value>().await.expect("json")["csrf_token"]
            .as_str()
            .expect("csrf")
            .to_owned();
        Login { cookie, csrf }
    }

    pub async fn get_with_cookie(&self, path: &str, cookie: &str) -> reqwest::Response {
        self.get(path)
            .header("cookie", format!("cloud.sso={cookie}"))
            .send()
            .await
            .expect("request")
    }
}
