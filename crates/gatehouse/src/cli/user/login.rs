//! `gatehouse login`, `gatehouse logout` and `gatehouse auth session`: getting a
//! credential (a token, a password sign-in or an API key, read without echo at a
//! terminal), checking it with the server, and storing or forgetting it.

use anyhow::{Context, bail};
use clap::Args;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::session::{
    Auth, Credentials, Refused, ServerArgs, Session, base_url, credentials_path,
    describe_transport, load_credentials, save_credentials, trust_of,
};
use crate::cli::out::outln;
use crate::cli::output::{OutputArgs, print_json, text, words};
use crate::cli::prompt::read_secret;
use crate::cli::term::safe;
use crate::client::Trust;

fn secret_arg(s: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(s.trim().to_owned()))
}

/// `gatehouse login`
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The server and its trust.
    #[command(flatten)]
    pub server: ServerArgs,
    /// The token to store (made in Account → Authentication → Tokens). Without this
    /// flag it is read from GATEHOUSE_TOKEN, or else from standard input (not echoed).
    #[arg(long, value_name = "TOKEN", value_parser = secret_arg,
          conflicts_with_all = ["username", "api_key_stdin"])]
    pub token: Option<SecretString>,
    /// Sign in with a username instead; the password is read from standard input
    /// (at a terminal, asked for and not echoed).
    #[arg(long)]
    pub username: Option<String>,
    /// Store an API key read from standard input instead (not echoed).
    #[arg(long, conflicts_with = "username")]
    pub api_key_stdin: bool,
    /// When the account uses 2-step verification, read the code (or a recovery code)
    /// from standard input, on the line after the password, instead of asking for it.
    #[arg(long, requires = "username")]
    pub otp_stdin: bool,
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
    let server = base_url(&server)?;
    let trust = trust_of(&args.server, stored.as_ref())?;
    let (kind, auth, csrf, mut expires_at) = if let Some(username) = &args.username {
        let password = read_secret(&format!("Password for {}: ", safe(username)), "password")?;
        let (cookie, csrf, expires) =
            sign_in(&server, &trust, username, &password, args.otp_stdin).await?;
        let auth = Auth::Cookie { cookie, csrf: None };
        ("session", auth, csrf, expires)
    } else if args.api_key_stdin {
        let key = read_secret(
            "Paste the API key and press Enter (it is not shown): ",
            "API key",
        )?;
        ("api_key", Auth::Basic(trimmed(&key)), None, None)
    } else {
        let token = match (&args.token, std::env::var("GATEHOUSE_TOKEN")) {
            (Some(t), _) => t.clone(),
            (None, Ok(t)) if !t.trim().is_empty() => SecretString::from(t.trim().to_owned()),
            _ => trimmed(&read_secret(
                "Paste the token and press Enter (it is not shown): ",
                "token",
            )?),
        };
        ("token", Auth::Bearer(token), None, None)
    };
    let secret = match &auth {
        Auth::Cookie { cookie, .. } => cookie.clone(),
        Auth::Bearer(s) | Auth::Basic(s) => s.clone(),
        Auth::None => bail!("no credential"),
    };
    let probe = Session::given(&server, &trust, auth)?;
    let (_, who) = probe
        .call(Method::GET, "/api/auth/session", None)
        .await
        .map_err(|e| match e.downcast_ref::<Refused>() {
            Some(refused) if kind == "token" => anyhow::anyhow!(
                "the server refused this token: {refused}. Tokens last 1 to 24 hours; generate a new one in Account → Authentication → Tokens"
            ),
            _ => e,
        })?;
    if kind == "token" {
        expires_at = who["expires_at"].as_str().map(str::to_owned);
    }
    let creds = Credentials {
        server,
        fingerprint: match &trust {
            Trust::Fingerprint(f) => Some(f.clone()),
            _ => None,
        },
        ca_file: match &trust {
            Trust::CaFile(p) => Some(p.clone()),
            _ => None,
        },
        kind: kind.to_owned(),
        secret,
        csrf_token: csrf,
        expires_at,
    };
    let path = save_credentials(&creds)?;
    outln!(
        "Logged in to {} as {} ({}); credentials saved in {}",
        creds.server,
        safe(text(&who["user"], "username", "?")),
        text(&who, "auth_method", "?"),
        path.display()
    )?;
    if let Some(exp) = creds.expires_at.as_deref().filter(|_| kind == "token") {
        outln!("The token expires at {exp}.")?;
    }
    Ok(())
}

/// A pasted secret without surrounding spaces (tokens and keys have none).
fn trimmed(s: &SecretString) -> SecretString {
    SecretString::from(s.expose_secret().trim().to_owned())
}

/// `POST /api/auth/login` body, borrowing the password (no extra copy of it).
#[derive(serde::Serialize)]
struct SignInRequest<'a> {
    username: &'a str,
    password: &'a str,
}

/// Signs in with a password (and, when the server asks for one, a code); returns the
/// session cookie, its CSRF token and expiry.
async fn sign_in(
    server: &str,
    trust: &Trust,
    username: &str,
    password: &SecretString,
    otp_stdin: bool,
) -> anyhow::Result<(SecretString, Option<SecretString>, Option<String>)> {
    let anon = Session::given(server, trust, Auth::None)?;
    let sent = anon
        .client()
        .post(format!("{server}/api/auth/login"))
        .json(&SignInRequest {
            username,
            password: password.expose_secret(),
        })
        .send()
        .await;
    let (status, cookies, body) = answer(sent, server).await?;
    if status.is_success() && body["mfa_required"] == Value::Bool(true) {
        let pending = cookie_value(&cookies, "gatehouse.mfa")
            .context("the server asked for a code but sent no pending sign-in")?;
        let code = read_code(otp_stdin)?;
        let field = if is_totp_code(code.expose_secret()) {
            "code"
        } else {
            "recovery_code"
        };
        let sent = anon
            .client()
            .post(format!("{server}/api/auth/login/mfa"))
            .header(
                reqwest::header::COOKIE,
                format!("gatehouse.mfa={}", pending.expose_secret()),
            )
            .json(&serde_json::json!({ field: code.expose_secret() }))
            .send()
            .await;
        let (status, cookies, body) = answer(sent, server).await?;
        return session_of(status, &cookies, &body);
    }
    session_of(status, &cookies, &body)
}

/// The status, `Set-Cookie` pairs and JSON body of a sign-in answer.
async fn answer(
    sent: reqwest::Result<reqwest::Response>,
    server: &str,
) -> anyhow::Result<(reqwest::StatusCode, Vec<String>, Value)> {
    let res = match sent {
        Ok(res) => res,
        Err(e) => return Err(describe_transport(e, server).await),
    };
    let status = res.status();
    let cookies = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.split(';').next())
        .map(str::to_owned)
        .collect();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    Ok((status, cookies, body))
}

fn cookie_value(cookies: &[String], name: &str) -> Option<SecretString> {
    cookies
        .iter()
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        .filter(|v| !v.is_empty())
        .map(|c| SecretString::from(c.to_owned()))
}

fn session_of(
    status: reqwest::StatusCode,
    cookies: &[String],
    body: &Value,
) -> anyhow::Result<(SecretString, Option<SecretString>, Option<String>)> {
    let Some(cookie) = cookie_value(cookies, "cloud.sso").filter(|_| status.is_success()) else {
        bail!(
            "sign-in failed: {}",
            safe(text(body, "message", "unexpected answer"))
        );
    };
    let csrf = body["csrf_token"]
        .as_str()
        .map(|t| SecretString::from(t.to_owned()));
    let expires = body["expires_at"].as_str().map(str::to_owned);
    Ok((cookie, csrf, expires))
}

/// The second step's code: asked for (not echoed) at a terminal, or read from standard
/// input with `--otp-stdin`.
fn read_code(otp_stdin: bool) -> anyhow::Result<SecretString> {
    if !otp_stdin && !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        bail!(
            "this account uses 2-step verification: pass --otp-stdin and give the code from \
             your authenticator app (or a recovery code) on the line after the password"
        );
    }
    let code = read_secret(
        "Verification code from your authenticator app (or a recovery code): ",
        "verification code",
    )?;
    Ok(trimmed(&code))
}

/// Six digits (spaces allowed, as apps show them) are an app's code; anything else is
/// taken as a recovery code.
fn is_totp_code(s: &str) -> bool {
    let digits: Vec<char> = s.chars().filter(|c| !c.is_whitespace()).collect();
    digits.len() == 6 && digits.iter().all(char::is_ascii_digit)
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
        Ok(()) => outln!("Logged out; removed {}", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => outln!("Not logged in."),
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    }
}

/// `gatehouse auth session`
pub async fn auth_session(server: &ServerArgs, output: &OutputArgs) -> anyhow::Result<()> {
    let s = Session::open(server)?;
    let (_, v) = s.call(Method::GET, "/api/auth/session", None).await?;
    if output.is_json() {
        return print_json(&v);
    }
    let user = &v["user"];
    outln!(
        "user:        {} ({})",
        safe(text(user, "username", "?")),
        text(user, "id", "?")
    )?;
    outln!("email:       {}", safe(text(user, "email", "-")))?;
    outln!("auth method: {}", text(&v, "auth_method", "?"))?;
    if v["amr"].is_array() {
        outln!("signed in with: {}", words(&v["amr"]))?;
    }
    if let Some(t) = v.get("token") {
        outln!("token:       {}", text(t, "id", "?"))?;
    }
    outln!("expires at:  {}", text(&v, "expires_at", "never"))?;
    if v["permissions"].is_array() {
        outln!("permissions: {}", words(&v["permissions"]))?;
    }
    Ok(())
}

/// `gatehouse mfa status`
pub async fn mfa_status(server: &ServerArgs, output: &OutputArgs) -> anyhow::Result<()> {
    let s = Session::open(server)?;
    let (_, v) = s.call(Method::GET, "/api/mfa", None).await?;
    if output.is_json() {
        return print_json(&v);
    }
    let on = v["enabled"] == Value::Bool(true);
    outln!("2-Step Verification: {}", if on { "On" } else { "Off" })?;
    if let Some(factors) = v["factors"].as_array() {
        for f in factors {
            outln!(
                "  {} (added {}, last used {})",
                safe(text(f, "name", "?")),
                text(f, "created_at", "?"),
                text(f, "last_used_at", "never")
            )?;
        }
    }
    if on {
        let left = v["recovery_codes_left"].as_u64().unwrap_or(0);
        outln!("Recovery codes left: {left}")?;
        if v["recovery_codes_low"] == Value::Bool(true) {
            outln!(
                "Few recovery codes are left: make a new set in Account → Authentication → \
                 2-Step Verification."
            )?;
        }
    }
    if v["required_by_organization"] == Value::Bool(true) {
        outln!("Your organisation requires 2-step verification.")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn six_digits_are_an_app_code_and_anything_else_a_recovery_code() {
        assert!(super::is_totp_code("123456"));
        assert!(super::is_totp_code("123 456"));
        assert!(!super::is_totp_code("12345"));
        assert!(!super::is_totp_code("ABCD-EFGH-JKMN-PQRS"));
    }
}
