//! The user CLI: `login`, `logout`, `auth session`, `api-keys …`, `tokens …`.
//! Credentials live in `~/.config/gatehouse/credentials.toml` (mode 0600);
//! `GATEHOUSE_TOKEN` or `GATEHOUSE_API_KEY` override them.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::cli::term::safe;
use crate::client::{Trust, http_client, normalize_fingerprint};

/// Where the server is and how to trust it.
#[derive(Debug, Args, Clone, Default)]
pub struct ServerArgs {
    /// Server URL, e.g. https://gatehouse.example.org:8443.
    #[arg(long, global = true, env = "GATEHOUSE_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// Pin the server certificate (SHA256:… as printed by `gatehouse serve`).
    #[arg(
        long,
        global = true,
        env = "GATEHOUSE_FINGERPRINT",
        value_name = "FP",
        conflicts_with = "ca_file"
    )]
    pub fingerprint: Option<String>,
    /// Trust certificates issued by this CA (PEM).
    #[arg(long, global = true, env = "GATEHOUSE_CA_FILE", value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
}

/// What is stored after `gatehouse login`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// Server URL.
    pub server: String,
    /// Pinned fingerprint, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// CA file, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// `session`, `token` or `api_key`.
    pub kind: String,
    /// The credential itself.
    pub secret: String,
    /// The CSRF token of a session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
    /// When the credential expires (RFC 3339), for clear messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

impl std::fmt::Display for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} credential for {}", self.kind, self.server)
    }
}

/// `gatehouse login`
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The server and its trust.
    #[command(flatten)]
    pub server: ServerArgs,
    /// The token to store (made in Account → Authentication → Tokens). Without this
    /// flag it is read from GATEHOUSE_TOKEN, or else from standard input.
    #[arg(long, value_name = "TOKEN", conflicts_with_all = ["username", "api_key_stdin"])]
    pub token: Option<String>,
    /// Sign in with a username instead; the password is read from standard input.
    #[arg(long)]
    pub username: Option<String>,
    /// Store an API key read from standard input instead.
    #[arg(long, conflicts_with = "username")]
    pub api_key_stdin: bool,
}

/// `gatehouse tokens …`
#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Make a token and print it (once).
    Create {
        /// Lifetime in hours, 1–24 (default: your organisation's default).
        #[arg(long, value_name = "N")]
        hours: Option<u32>,
        /// A label.
        #[arg(long)]
        name: Option<String>,
        /// A permission to give it (repeatable; default: all of yours).
        #[arg(long = "permission", value_name = "SCOPE")]
        permissions: Vec<String>,
    },
    /// List your live tokens.
    List,
    /// Revoke a token (it stops working at once).
    Revoke {
        /// Token id.
        id: String,
    },
}

/// `gatehouse ssh-keys …`
#[derive(Debug, Subcommand)]
pub enum SshKeysCommand {
    /// Add a public key (the contents of a .pub file).
    Add {
        /// Name, unique among your keys.
        #[arg(long)]
        name: String,
        /// The public key file, e.g. ~/.ssh/id_ed25519.pub (`-` for standard input).
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
    },
    /// List your keys.
    List,
    /// Print one key's authorized_keys line.
    Show {
        /// Key id.
        id: String,
    },
    /// Delete a key (it stops letting you log in).
    Delete {
        /// Key id.
        id: String,
    },
}

/// What to tell the user when a stored token has expired.
pub fn token_expired_message(expires_at: &str) -> String {
    format!(
        "token expired at {expires_at}; generate a new one in Account → Authentication → Tokens, then run `gatehouse login` again"
    )
}

/// Whether an RFC 3339 time is in the past.
fn is_past(rfc3339: &str) -> bool {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .is_ok_and(|t| t <= gatehouse_core::clock::Clock::now(&gatehouse_core::clock::SystemClock))
}

/// `gatehouse api-keys …`
#[derive(Debug, Subcommand)]
pub enum ApiKeysCommand {
    /// Create a key and print it (once).
    Create {
        /// Name, unique among your keys.
        #[arg(long)]
        name: String,
        /// none, 7d, 30d, 60d or 90d (default: your organisation's default).
        #[arg(long)]
        expires: Option<String>,
        /// A permission to grant (repeatable; default: account:read).
        #[arg(long = "permission", value_name = "SCOPE")]
        permissions: Vec<String>,
    },
    /// List your keys.
    List,
    /// Show one key.
    Show {
        /// Key id.
        id: String,
    },
    /// Disable a key (it stops working at once).
    Disable {
        /// Key id.
        id: String,
    },
    /// Re-enable a key.
    Enable {
        /// Key id.
        id: String,
    },
    /// Create a key with the same permissions and a new secret.
    Duplicate {
        /// Key id.
        id: String,
        /// Name of the copy (default: "<name> (copy)").
        #[arg(long)]
        name: Option<String>,
        /// Expiration of the copy.
        #[arg(long)]
        expires: Option<String>,
    },
    /// Delete a key.
    Delete {
        /// Key id.
        id: String,
    },
}

/// The credentials file.
pub fn credentials_path() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("gatehouse/credentials.toml"));
    }
    let home = std::env::var_os("HOME").context("HOME is not set")?;
    Ok(PathBuf::from(home).join(".config/gatehouse/credentials.toml"))
}

/// Loads stored credentials, if any.
pub fn load_credentials() -> anyhow::Result<Option<Credentials>> {
    let path = credentials_path()?;
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?,
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Stores credentials with mode 0600 in a 0700 folder.
pub fn save_credentials(c: &Credentials) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = credentials_path()?;
    let dir = path.parent().context("credentials path has no folder")?;
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    crate::tls::write_private(&path, toml::to_string(c)?.as_bytes())?;
    Ok(path)
}

/// An authenticated connection to the server.
pub struct Session {
    client: reqwest::Client,
    base: String,
    auth: Auth,
    /// For a stored token: when it expires, to explain a 401.
    token_expires_at: Option<String>,
}

enum Auth {
    Cookie {
        cookie: String,
        csrf: Option<String>,
    },
    Bearer(String),
    Basic(String),
    None,
}

fn trust_of(server: &ServerArgs, stored: Option<&Credentials>) -> anyhow::Result<Trust> {
    if let Some(fp) = server
        .fingerprint
        .as_deref()
        .or(stored.and_then(|c| c.fingerprint.as_deref()))
    {
        return Ok(Trust::Fingerprint(normalize_fingerprint(fp)?));
    }
    if let Some(ca) = server
        .ca_file
        .as_ref()
        .or(stored.and_then(|c| c.ca_file.as_ref()))
    {
        return Ok(Trust::CaFile(ca.clone()));
    }
    Ok(Trust::System)
}

fn base_url(url: &str) -> anyhow::Result<String> {
    let url = url.trim_end_matches('/');
    if !url.starts_with("https://") {
        bail!(
            "the server URL must start with https:// (Gatehouse never authenticates over plain HTTP)"
        );
    }
    Ok(url.to_owned())
}

impl Session {
    /// Connects with the stored credential, or `GATEHOUSE_TOKEN` / `GATEHOUSE_API_KEY`
    /// when set. A stored token past its expiry is refused here with a clear message.
    pub fn open(server: &ServerArgs) -> anyhow::Result<Self> {
        let stored = load_credentials()?;
        let env = |name: &str| std::env::var(name).ok().filter(|k| !k.trim().is_empty());
        let (env_token, api_key) = (env("GATEHOUSE_TOKEN"), env("GATEHOUSE_API_KEY"));
        let url = server
            .server
            .clone()
            .or_else(|| stored.as_ref().map(|c| c.server.clone()))
            .context("no server: run `gatehouse login --server URL` or pass --server")?;
        let trust = trust_of(server, stored.as_ref())?;
        let mut token_expires_at = None;
        let auth = match (env_token, api_key, &stored) {
            (Some(t), _, _) => Auth::Bearer(t.trim().to_owned()),
            (None, Some(k), _) => Auth::Basic(k),
            (None, None, Some(c)) if c.kind == "token" => {
                if let Some(exp) = &c.expires_at {
                    if is_past(exp) {
                        bail!("{}", token_expired_message(exp));
                    }
                    token_expires_at = Some(exp.clone());
                }
                Auth::Bearer(c.secret.clone())
            }
            (None, None, Some(c)) => match c.kind.as_str() {
                "session" => Auth::Cookie {
                    cookie: c.secret.clone(),
                    csrf: c.csrf_token.clone(),
                },
                "api_key" => Auth::Basic(c.secret.clone()),
                other => bail!("unknown credential kind {other:?} in the credentials file"),
            },
            (None, None, None) => bail!(
                "not logged in: run `gatehouse login --server URL` with a token, or set GATEHOUSE_TOKEN or GATEHOUSE_API_KEY"
            ),
        };
        Ok(Session {
            client: http_client(&trust)?,
            base: base_url(&url)?,
            auth,
            token_expires_at,
        })
    }

    fn anonymous(server: &str, trust: &Trust) -> anyhow::Result<Self> {
        Ok(Session {
            client: http_client(trust)?,
            base: base_url(server)?,
            auth: Auth::None,
            token_expires_at: None,
        })
    }

    /// Sends a request and returns the JSON body, or a readable error.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        self.send(method, path, body)
            .await
            .map(|(status, _, value)| (status, value))
    }

    /// Every item of a paged list route, following its `X-Next-Cursor` header.
    pub async fn list_all(&self, path: &str) -> anyhow::Result<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        // A bound on pages, in case a server kept answering with a cursor.
        for _ in 0..10_000 {
            let url = match &cursor {
                None => format!("{path}?limit=200"),
                Some(c) => format!("{path}?limit=200&cursor={c}"),
            };
            let (_, headers, value) = self.send(Method::GET, &url, None).await?;
            if let Value::Array(page) = value {
                items.extend(page);
            }
            cursor = headers
                .get("x-next-cursor")
                .and_then(|v| v.to_str().ok())
                .filter(|c| {
                    c.chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
                })
                .map(str::to_owned);
            if cursor.is_none() {
                break;
            }
        }
        Ok(Value::Array(items))
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(StatusCode, reqwest::header::HeaderMap, Value)> {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        req = match &self.auth {
            Auth::Cookie { cookie, csrf } => {
                let r = req.header("cookie", format!("cloud.sso={cookie}"));
                match csrf {
                    Some(t) => r.header("x-csrf-token", t),
                    None => r,
                }
            }
            Auth::Bearer(t) => req.bearer_auth(t),
            Auth::Basic(k) => req.basic_auth(k, Some("")),
            Auth::None => req,
        };
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.map_err(describe_transport)?;
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        let value: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if status.is_success() {
            return Ok((status, headers, value));
        }
        let message = safe(value["message"].as_str().unwrap_or("request failed"));
        let code = value["error"].as_str().unwrap_or("error");
        let rid = value["request_id"].as_str().unwrap_or("-");
        if status == StatusCode::UNAUTHORIZED {
            if let Some(exp) = self.token_expires_at.as_deref().filter(|e| is_past(e)) {
                bail!("{}", token_expired_message(exp));
            }
            bail!(
                "{message} ({code}, request {rid}); your credential may have expired or been revoked: run `gatehouse login` again"
            );
        }
        bail!(
            "{message} ({code}, HTTP {}, request {rid})",
            status.as_u16()
        )
    }
}

fn describe_transport(e: reqwest::Error) -> anyhow::Error {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        msg = format!("{msg}: {s}");
        source = s.source();
    }
    anyhow::anyhow!("cannot reach the server: {msg}")
}

/// `gatehouse login`
pub async fn login(args: &LoginArgs) -> anyhow::Result<()> {
    let stored = load_credentials()?;
    let server = args
        .server
        .server
        .clone()
        .or_else(|| stored.as_ref().map(|c| c.server.clone()))
        .context("--server is required for the first login")?;
    let trust = trust_of(&args.server, stored.as_ref())?;
    let anon = Session::anonymous(&server, &trust)?;
    let mut creds = Credentials {
        server: base_url(&server)?,
        fingerprint: match &trust {
            Trust::Fingerprint(f) => Some(f.clone()),
            _ => None,
        },
        ca_file: match &trust {
            Trust::CaFile(p) => Some(p.clone()),
            _ => None,
        },
        kind: String::new(),
        secret: String::new(),
        csrf_token: None,
        expires_at: None,
    };
    if let Some(username) = &args.username {
        let password = read_stdin_line("password")?;
        let res = anon
            .client
            .post(format!("{}/api/auth/login", anon.base))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .map_err(describe_transport)?;
        let status = res.status();
        let cookie = res
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|c| c.split(';').next())
            .and_then(|kv| kv.strip_prefix("cloud.sso="))
            .map(str::to_owned);
        let body: Value = res.json().await.unwrap_or(Value::Null);
        let Some(cookie) = cookie.filter(|_| status.is_success()) else {
            bail!(
                "sign-in failed: {}",
                body["message"].as_str().unwrap_or("unexpected answer")
            );
        };
        creds.kind = "session".into();
        creds.secret = cookie;
        creds.csrf_token = body["csrf_token"].as_str().map(str::to_owned);
        creds.expires_at = body["expires_at"].as_str().map(str::to_owned);
    } else if args.api_key_stdin {
        creds.kind = "api_key".into();
        creds.secret = read_stdin_line("API key")?.trim().to_owned();
    } else {
        creds.kind = "token".into();
        creds.secret = match (&args.token, std::env::var("GATEHOUSE_TOKEN")) {
            (Some(t), _) => t.trim().to_owned(),
            (None, Ok(t)) if !t.trim().is_empty() => t.trim().to_owned(),
            _ => read_stdin_line("token")?.trim().to_owned(),
        };
    }
    let probe = Session {
        client: anon.client.clone(),
        base: anon.base.clone(),
        auth: match creds.kind.as_str() {
            "session" => Auth::Cookie {
                cookie: creds.secret.clone(),
                csrf: None,
            },
            "token" => Auth::Bearer(creds.secret.clone()),
            _ => Auth::Basic(creds.secret.clone()),
        },
        token_expires_at: None,
    };
    let (_, who) = probe
        .call(Method::GET, "/api/auth/session", None)
        .await
        .map_err(|e| {
            if creds.kind == "token" {
                anyhow::anyhow!(
                    "the server refused this token: {e:#}. Tokens last 1 to 24 hours; generate a new one in Account → Authentication → Tokens"
                )
            } else {
                e
            }
        })?;
    if creds.kind == "token" {
        creds.expires_at = who["expires_at"].as_str().map(str::to_owned);
    }
    let path = save_credentials(&creds)?;
    println!(
        "Logged in to {} as {} ({}); credentials saved in {}",
        creds.server,
        safe(who["user"]["username"].as_str().unwrap_or("?")),
        who["auth_method"].as_str().unwrap_or("?"),
        path.display()
    );
    if let Some(exp) = creds
        .expires_at
        .as_deref()
        .filter(|_| creds.kind == "token")
    {
        println!("The token expires at {exp}.");
    }
    Ok(())
}

/// `gatehouse logout`
pub async fn logout() -> anyhow::Result<()> {
    let path = credentials_path()?;
    if let Some(c) = load_credentials()?
        && c.kind == "session"
        && let Ok(s) = Session::open(&ServerArgs::default())
    {
        // Best effort: end the session server-side too.
        let _ = s.call(Method::POST, "/api/auth/logout", None).await;
    }
    match std::fs::remove_file(&path) {
        Ok(()) => println!("Logged out; removed {}", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => println!("Not logged in."),
        Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
    }
    Ok(())
}

/// `gatehouse auth session`
pub async fn auth_session(server: &ServerArgs) -> anyhow::Result<()> {
    let s = Session::open(server)?;
    let (_, v) = s.call(Method::GET, "/api/auth/session", None).await?;
    println!(
        "user:        {} ({})",
        safe(v["user"]["username"].as_str().unwrap_or("?")),
        v["user"]["id"].as_str().unwrap_or("?")
    );
    println!(
        "email:       {}",
        safe(v["user"]["email"].as_str().unwrap_or("-"))
    );
    println!("auth method: {}", v["auth_method"].as_str().unwrap_or("?"));
    if let Some(t) = v.get("token") {
        println!("token:       {}", t["id"].as_str().unwrap_or("?"));
    }
    println!(
        "expires at:  {}",
        v["expires_at"].as_str().unwrap_or("never")
    );
    if let Some(p) = v["permissions"].as_array() {
        let names: Vec<&str> = p.iter().filter_map(Value::as_str).collect();
        println!("permissions: {}", names.join(" "));
    }
    Ok(())
}

fn expires_body(expires: Option<&str>) -> anyhow::Result<Option<Value>> {
    let Some(e) = expires else { return Ok(None) };
    let parsed = gatehouse_core::org::KeyExpiration::parse_code(e)
        .map_err(|e| anyhow::anyhow!("--expires: {e}"))?;
    Ok(Some(json!(parsed.days())))
}

/// `gatehouse api-keys …`
pub async fn api_keys(server: &ServerArgs, cmd: &ApiKeysCommand) -> anyhow::Result<()> {
    let s = Session::open(server)?;
    match cmd {
        ApiKeysCommand::Create {
            name,
            expires,
            permissions,
        } => {
            let mut body = json!({"name": name});
            if let Some(e) = expires_body(expires.as_deref())? {
                body["expires_in_days"] = e;
            }
            if !permissions.is_empty() {
                body["permissions"] = json!(permissions);
            }
            let (_, v) = s.call(Method::POST, "/api/api-keys", Some(body)).await?;
            print_created(&v);
        }
        ApiKeysCommand::List => {
            let v = s.list_all("/api/api-keys").await?;
            println!(
                "{:<28} {:<20} {:<12} {:<8} {:<20} {:<20} PERMISSIONS",
                "ID", "NAME", "PREFIX", "STATUS", "EXPIRES", "LAST USED"
            );
            for k in v.as_array().map(Vec::as_slice).unwrap_or_default() {
                println!(
                    "{:<28} {:<20} {:<12} {:<8} {:<20} {:<20} {}",
                    k["id"].as_str().unwrap_or(""),
                    safe(k["name"].as_str().unwrap_or("")),
                    k["display_prefix"].as_str().unwrap_or(""),
                    if !k["revoked_at"].is_null() {
                        "revoked"
                    } else if k["enabled"].as_bool().unwrap_or(false) {
                        "enabled"
                    } else {
                        "disabled"
                    },
                    k["expires_at"].as_str().unwrap_or("never"),
                    k["last_used_at"].as_str().unwrap_or("never"),
                    scopes(&k["permissions"]),
                );
            }
        }
        ApiKeysCommand::Show { id } => {
            let (_, v) = s
                .call(
                    Method::GET,
                    &format!("/api/api-keys/{}", path_segment(id)?),
                    None,
                )
                .await?;
            print_key(&v);
        }
        ApiKeysCommand::Disable { id } => {
            s.call(
                Method::POST,
                &format!("/api/api-keys/{}/disable", path_segment(id)?),
                None,
            )
            .await?;
            println!("disabled {id}");
        }
        ApiKeysCommand::Enable { id } => {
            s.call(
                Method::POST,
                &format!("/api/api-keys/{}/enable", path_segment(id)?),
                None,
            )
            .await?;
            println!("enabled {id}");
        }
        ApiKeysCommand::Duplicate { id, name, expires } => {
            let mut body = json!({});
            if let Some(n) = name {
                body["name"] = json!(n);
            }
            if let Some(e) = expires_body(expires.as_deref())? {
                body["expires_in_days"] = e;
            }
            let (_, v) = s
                .call(
                    Method::POST,
                    &format!("/api/api-keys/{}/duplicate", path_segment(id)?),
                    Some(body),
                )
                .await?;
            print_created(&v);
        }
        ApiKeysCommand::Delete { id } => {
            s.call(
                Method::DELETE,
                &format!("/api/api-keys/{}", path_segment(id)?),
                None,
            )
            .await?;
            println!("deleted {id}");
        }
    }
    Ok(())
}

/// `gatehouse tokens …`
pub async fn tokens(server: &ServerArgs, cmd: &TokensCommand) -> anyhow::Result<()> {
    let s = Session::open(server)?;
    match cmd {
        TokensCommand::Create {
            hours,
            name,
            permissions,
        } => {
            let mut body = json!({});
            if let Some(h) = hours {
                body["expires_in_hours"] = json!(h);
            }
            if let Some(n) = name {
                body["name"] = json!(n);
            }
            if !permissions.is_empty() {
                body["permissions"] = json!(permissions);
            }
            let (_, v) = s.call(Method::POST, "/api/tokens", Some(body)).await?;
            println!("{}", v["token"].as_str().unwrap_or(""));
            eprintln!(
                "Created token {:?} ({}), expires {}. This is the only time the token is shown: store it now.",
                v["name"].as_str().unwrap_or(""),
                v["id"].as_str().unwrap_or(""),
                v["expires_at"].as_str().unwrap_or("?"),
            );
        }
        TokensCommand::List => {
            let v = s.list_all("/api/tokens").await?;
            println!(
                "{:<28} {:<20} {:<22} {:<22} SCOPES",
                "ID", "NAME", "CREATED", "EXPIRES"
            );
            for t in v.as_array().map(Vec::as_slice).unwrap_or_default() {
                println!(
                    "{:<28} {:<20} {:<22} {:<22} {}",
                    t["id"].as_str().unwrap_or(""),
                    safe(t["name"].as_str().unwrap_or("")),
                    t["created_at"].as_str().unwrap_or(""),
                    t["expires_at"].as_str().unwrap_or(""),
                    scopes(&t["scopes"]),
                );
            }
        }
        TokensCommand::Revoke { id } => {
            s.call(
                Method::DELETE,
                &format!("/api/tokens/{}", path_segment(id)?),
                None,
            )
            .await?;
            println!("revoked {id}");
        }
    }
    Ok(())
}

/// `gatehouse ssh-keys …`
pub async fn ssh_keys(server: &ServerArgs, cmd: &SshKeysCommand) -> anyhow::Result<()> {
    let s = Session::open(server)?;
    match cmd {
        SshKeysCommand::Add { name, file } => {
            let key = if file.as_os_str() == "-" {
                let mut text = String::new();
                std::io::stdin().read_to_string(&mut text)?;
                text
            } else {
                let meta = std::fs::metadata(file)
                    .with_context(|| format!("reading {}", file.display()))?;
                if meta.len() > 64 * 1024 {
                    bail!("{} is too large to be a public key", file.display());
                }
                std::fs::read_to_string(file)
                    .with_context(|| format!("reading {}", file.display()))?
            };
            let (_, v) = s
                .call(
                    Method::POST,
                    "/api/ssh-keys",
                    Some(json!({"name": name, "key": key})),
                )
                .await?;
            println!(
                "added {} ({} {}) as {}",
                v["fingerprint"].as_str().unwrap_or(""),
                v["key_type"].as_str().unwrap_or(""),
                v["bits"],
                v["id"].as_str().unwrap_or("")
            );
        }
        SshKeysCommand::List => {
            let v = s.list_all("/api/ssh-keys").await?;
            println!(
                "{:<28} {:<20} {:<36} {:<52} ADDED",
                "ID", "NAME", "TYPE", "FINGERPRINT"
            );
            for k in v.as_array().map(Vec::as_slice).unwrap_or_default() {
                println!(
                    "{:<28} {:<20} {:<36} {:<52} {}",
                    k["id"].as_str().unwrap_or(""),
                    safe(k["name"].as_str().unwrap_or("")),
                    k["key_type"].as_str().unwrap_or(""),
                    k["fingerprint"].as_str().unwrap_or(""),
                    k["created_at"].as_str().unwrap_or(""),
                );
            }
        }
        SshKeysCommand::Show { id } => {
            let (_, v) = s
                .call(
                    Method::GET,
                    &format!("/api/ssh-keys/{}", path_segment(id)?),
                    None,
                )
                .await?;
            println!("{}", safe(v["public_key"].as_str().unwrap_or("")));
        }
        SshKeysCommand::Delete { id } => {
            s.call(
                Method::DELETE,
                &format!("/api/ssh-keys/{}", path_segment(id)?),
                None,
            )
            .await?;
            println!("deleted {id}");
        }
    }
    Ok(())
}

/// Ids go into URL paths; refuse anything that is not an id.
fn path_segment(id: &str) -> anyhow::Result<&str> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        bail!("{id:?} is not an id (see `gatehouse api-keys list` or `gatehouse tokens list`)");
    }
    Ok(id)
}

fn scopes(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

fn print_key(v: &Value) {
    for (label, key) in [
        ("id", "id"),
        ("name", "name"),
        ("prefix", "display_prefix"),
        ("created at", "created_at"),
        ("created by", "created_by"),
        ("expires at", "expires_at"),
        ("last used at", "last_used_at"),
        ("last used from", "last_used_ip"),
    ] {
        println!("{label:<15} {}", safe(v[key].as_str().unwrap_or("-")));
    }
    println!(
        "{:<15} {}",
        "enabled",
        v["enabled"].as_bool().unwrap_or(false)
    );
    println!("{:<15} {}", "permissions", scopes(&v["permissions"]));
}

fn print_created(v: &Value) {
    println!("{}", v["key"].as_str().unwrap_or(""));
    eprintln!(
        "Created API key {:?} ({}), expires {}. This is the only time the key is shown: store it now.",
        v["name"].as_str().unwrap_or(""),
        v["id"].as_str().unwrap_or(""),
        v["expires_at"].as_str().unwrap_or("never"),
    );
}

fn read_stdin_line(what: &str) -> anyhow::Result<String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        eprint!("Paste the {what} and press Enter: ");
    }
    // One line, so a pasted secret needs only Enter (not Ctrl-D) at a terminal.
    let mut s = String::new();
    std::io::stdin()
        .read_line(&mut s)
        .with_context(|| format!("reading the {what} from stdin"))?;
    // Only the line ending goes: a password may begin or end with spaces.
    let line = s.trim_end_matches(['\r', '\n']).to_owned();
    if line.is_empty() {
        bail!("no {what} on standard input");
    }
    Ok(line)
}
