//! The connection to the server: which credential and trust a command uses, how a
//! request is authenticated, and how the server's errors are told to the user in the
//! CLI's own words (its flags, the right next step).

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

pub use super::credentials::{Credentials, credentials_path, load_credentials, save_credentials};

use crate::cli::term::safe;
use crate::client::{
    Trust, http_client, is_untrusted_certificate, normalize_fingerprint, presented_fingerprint,
};

/// Where the server is and how to trust it.
#[derive(Debug, Args, Clone, Default)]
pub struct ServerArgs {
    /// Server URL, e.g. https://gatehouse.example.org:8443.
    #[arg(long, global = true, env = "GATEHOUSE_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// Pin the server certificate (SHA256:… as printed by "gatehouse serve").
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

/// What to tell the user when a stored token has expired.
pub fn token_expired_message(expires_at: &str) -> String {
    format!(
        "token expired at {expires_at}; generate a new one in Account → Authentication → Tokens, then run \"gatehouse login\" again"
    )
}

/// Whether an RFC 3339 time is in the past.
fn is_past(rfc3339: &str) -> bool {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .is_ok_and(|t| t <= gatehouse_core::clock::Clock::now(&gatehouse_core::clock::SystemClock))
}

/// How a request proves who is calling. `Debug` shows no secret.
#[derive(Debug)]
pub enum Auth {
    /// A password sign-in's session cookie (and its CSRF token).
    Cookie {
        /// The `cloud.sso` value.
        cookie: SecretString,
        /// Sent on changes.
        csrf: Option<SecretString>,
    },
    /// A bearer token.
    Bearer(SecretString),
    /// An API key, as Basic credentials.
    Basic(SecretString),
    /// Nothing (sign-in).
    None,
}

/// Where the credential in use came from, so a refusal names the right fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The credentials file written by `gatehouse login`.
    Stored,
    /// An environment variable (`GATEHOUSE_TOKEN`, `GATEHOUSE_API_KEY`).
    Env(&'static str),
    /// Given to this command (`gatehouse login` checking what it was handed).
    Given,
}

/// The server answered, and refused the request (as opposed to not being reached).
#[derive(Debug)]
pub struct Refused {
    /// The HTTP status.
    pub status: StatusCode,
    /// The message for the user.
    pub message: String,
    /// The request field the server named (`passphrase`, …), if any.
    pub field: Option<String>,
    /// The machine-readable code (`host_key_unknown`, …).
    pub code: Option<String>,
    /// The whole JSON body, for refusals that carry more (a host key's fingerprint).
    pub body: Value,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Refused {}

/// An authenticated connection to the server.
pub struct Session {
    client: reqwest::Client,
    base: String,
    auth: Auth,
    source: Source,
    /// For a stored token: when it expires, to explain a 401.
    token_expires_at: Option<String>,
    /// API body fields and the flags that set them, to word 422 errors.
    flags: &'static [(&'static str, &'static str)],
}

/// The trust to use: flags first, then what was stored at login.
pub fn trust_of(server: &ServerArgs, stored: Option<&Credentials>) -> anyhow::Result<Trust> {
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

/// `url` without a trailing slash; plain HTTP is refused.
pub fn base_url(url: &str) -> anyhow::Result<String> {
    let url = url.trim_end_matches('/');
    if !url.starts_with("https://") {
        bail!(
            "the server URL must start with https:// (Gatehouse never authenticates over plain HTTP)"
        );
    }
    Ok(url.to_owned())
}

fn env_secret(name: &str) -> Option<SecretString> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .map(SecretString::from)
}

impl Session {
    /// Connects with `GATEHOUSE_TOKEN` / `GATEHOUSE_API_KEY` when set, or else the stored
    /// credential. A stored token past its expiry is refused here with a clear message.
    pub fn open(server: &ServerArgs) -> anyhow::Result<Self> {
        let stored = load_credentials()?;
        let url = server
            .server
            .clone()
            .or_else(|| stored.as_ref().map(|c| c.server.clone()))
            .context("no server: run \"gatehouse login --server URL\" or pass --server")?;
        let trust = trust_of(server, stored.as_ref())?;
        let mut token_expires_at = None;
        let (auth, source) = match (
            env_secret("GATEHOUSE_TOKEN"),
            env_secret("GATEHOUSE_API_KEY"),
            &stored,
        ) {
            (Some(t), _, _) => (Auth::Bearer(t), Source::Env("GATEHOUSE_TOKEN")),
            (None, Some(k), _) => (Auth::Basic(k), Source::Env("GATEHOUSE_API_KEY")),
            (None, None, Some(c)) => {
                let auth = match c.kind.as_str() {
                    "token" => {
                        if let Some(exp) = &c.expires_at {
                            if is_past(exp) {
                                bail!("{}", token_expired_message(exp));
                            }
                            token_expires_at = Some(exp.clone());
                        }
                        Auth::Bearer(c.secret.clone())
                    }
                    "session" => Auth::Cookie {
                        cookie: c.secret.clone(),
                        csrf: c.csrf_token.clone(),
                    },
                    "api_key" => Auth::Basic(c.secret.clone()),
                    other => bail!("unknown credential kind {other:?} in the credentials file"),
                };
                (auth, Source::Stored)
            }
            (None, None, None) => bail!(
                "not logged in: run \"gatehouse login --server URL\" with a token, or set GATEHOUSE_TOKEN or GATEHOUSE_API_KEY"
            ),
        };
        Ok(Session {
            client: http_client(&trust)?,
            base: base_url(&url)?,
            auth,
            source,
            token_expires_at,
            flags: &[],
        })
    }

    /// A session for `auth` handed to this command (login checks it before storing it).
    pub fn given(server: &str, trust: &Trust, auth: Auth) -> anyhow::Result<Self> {
        Ok(Session {
            client: http_client(trust)?,
            base: base_url(server)?,
            auth,
            source: Source::Given,
            token_expires_at: None,
            flags: &[],
        })
    }

    /// Names the flag behind each API body field, so that a 422 speaks of `--expires`
    /// rather than `expires_in_days`.
    pub fn with_flags(mut self, flags: &'static [(&'static str, &'static str)]) -> Self {
        self.flags = flags;
        self
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The HTTP client (trust settled).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
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
    pub async fn list_all(&self, path: &str) -> anyhow::Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        // A bound on pages, in case a server kept answering with a cursor.
        for _ in 0..10_000 {
            // A path may carry a list's filters already.
            let join = if path.contains('?') { '&' } else { '?' };
            let url = match &cursor {
                None => format!("{path}{join}limit=200"),
                Some(c) => format!("{path}{join}limit=200&cursor={c}"),
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
        Ok(items)
    }

    /// Streams a download route's body to standard output as it arrives (an export of a
    /// year of records never sits in memory); returns the bytes written.
    pub async fn download(&self, path: &str) -> anyhow::Result<u64> {
        let mut res = match self.request(Method::GET, path, None).send().await {
            Ok(res) => res,
            Err(e) => return Err(describe_transport(e, &self.base).await),
        };
        if !res.status().is_success() {
            let status = res.status();
            let text = res.text().await.unwrap_or_default();
            return Err(self.refused(status, &text));
        }
        let mut written = 0u64;
        loop {
            match res.chunk().await {
                Ok(Some(bytes)) => {
                    written += bytes.len() as u64;
                    crate::cli::out::write_bytes(&bytes)?;
                }
                Ok(None) => return Ok(written),
                Err(e) => {
                    return Err(anyhow::anyhow!(
                        "the download stopped after {written} bytes: {e}; the output is incomplete"
                    ));
                }
            }
        }
    }

    fn request(&self, method: Method, path: &str, body: Option<Value>) -> reqwest::RequestBuilder {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        req = match &self.auth {
            Auth::Cookie { cookie, csrf } => {
                let r = req.header("cookie", format!("cloud.sso={}", cookie.expose_secret()));
                match csrf {
                    Some(t) => r.header("x-csrf-token", t.expose_secret()),
                    None => r,
                }
            }
            Auth::Bearer(t) => req.bearer_auth(t.expose_secret()),
            Auth::Basic(k) => req.basic_auth(k.expose_secret(), Some("")),
            Auth::None => req,
        };
        if let Some(b) = body {
            req = req.json(&b);
        }
        req
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(StatusCode, reqwest::header::HeaderMap, Value)> {
        let res = match self.request(method, path, body).send().await {
            Ok(res) => res,
            Err(e) => return Err(describe_transport(e, &self.base).await),
        };
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        if status.is_success() {
            return Ok((status, headers, parse_body(text)));
        }
        Err(self.refused(status, &text))
    }

    /// The error for a refused request's body.
    fn refused(&self, status: StatusCode, text: &str) -> anyhow::Error {
        let value = parse_body(text.to_owned());
        anyhow::Error::new(Refused {
            status,
            message: self.refusal(status, &value),
            field: value["field"].as_str().map(str::to_owned),
            code: value["error"].as_str().map(str::to_owned),
            body: value,
        })
    }

    /// The error for a refused request, worded for the person at the terminal.
    fn refusal(&self, status: StatusCode, value: &Value) -> String {
        let raw = value["message"].as_str().unwrap_or("request failed");
        let code = value["error"].as_str().unwrap_or("error");
        let rid = value["request_id"].as_str().unwrap_or("-");
        if let Some((field, flag)) = value["field"].as_str().and_then(|f| self.flag_for(f)) {
            let reason = raw
                .strip_prefix(field)
                .and_then(|r| r.strip_prefix(": "))
                .unwrap_or(raw);
            return format!("{} (request {rid})", in_flag_words(flag, &safe(reason)));
        }
        let message = safe(raw);
        if status == StatusCode::UNAUTHORIZED {
            if let Some(exp) = self.token_expires_at.as_deref().filter(|e| is_past(e)) {
                return token_expired_message(exp);
            }
            return match self.source {
                Source::Stored => format!(
                    "{message} ({code}, request {rid}); your stored login may have expired or been revoked: run \"gatehouse login\" again"
                ),
                Source::Env(var) => format!(
                    "{message} ({code}, request {rid}); the credential in {var} may have expired or been revoked: set {var} to a working one, or unset it to use your stored login"
                ),
                Source::Given => format!("{message} ({code}, request {rid})"),
            };
        }
        format!(
            "{message} ({code}, HTTP {}, request {rid})",
            status.as_u16()
        )
    }

    fn flag_for(&self, field: &str) -> Option<(&'static str, &'static str)> {
        // `permissions[2]` or `permissions.2` is the `permissions` field.
        let head = field
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .next()
            .unwrap_or(field);
        self.flags.iter().copied().find(|(f, _)| *f == head)
    }
}

/// A response body as JSON, or as a string when it is not JSON.
fn parse_body(text: String) -> Value {
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }
}

/// `reason` (the server's words after the field name) as a sentence about `flag`.
pub fn in_flag_words(flag: &str, reason: &str) -> String {
    if flag == "--expires" && reason.starts_with("must be null") {
        return "--expires must be none, 7d, 30d, 60d or 90d".to_owned();
    }
    if reason.starts_with("must ") || reason.starts_with("is ") {
        format!("{flag} {reason}")
    } else {
        format!("{flag}: {reason}")
    }
}

/// A transport failure as a message; an untrusted certificate says how to trust it.
pub async fn describe_transport(e: reqwest::Error, base: &str) -> anyhow::Error {
    let mut msg = e.to_string();
    let mut last = msg.clone();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        last = s.to_string();
        msg = format!("{msg}: {last}");
        source = s.source();
    }
    if is_untrusted_certificate(&e) {
        let Some(seen) = presented_fingerprint(base).await else {
            return anyhow::anyhow!(
                "the server's certificate is not trusted ({last}); pass --fingerprint with the \
                 SHA256:… fingerprint \"gatehouse serve\" printed, or --ca-file with the CA (PEM) \
                 that issued the certificate"
            );
        };
        return anyhow::anyhow!(
            "the server's certificate is not trusted ({last}).\n\
             The server at {base} presented a certificate with the fingerprint\n  \
             {seen}\n\
             If that is the fingerprint \"gatehouse serve\" printed when it started (ask the \
             server's operator), trust it with:\n  \
             gatehouse login --server {base} --fingerprint {seen}\n\
             or trust the CA that issued the certificate with --ca-file FILE (PEM)."
        );
    }
    anyhow::anyhow!("cannot reach the server: {msg}")
}

/// Ids go into URL paths; refuse anything that is not an id.
pub fn path_segment(id: &str) -> anyhow::Result<&str> {
    if !looks_like_id(id) {
        bail!("{:?} is not an id", safe(id));
    }
    Ok(id)
}

/// Whether `s` has the shape of an id (safe in a URL path).
pub fn looks_like_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_field_errors_are_worded_with_the_flag() {
        assert_eq!(
            in_flag_words("--expires", "must be null (no expiration), 7, 30, 60 or 90"),
            "--expires must be none, 7d, 30d, 60d or 90d"
        );
        assert_eq!(
            in_flag_words("--name", "must be 1 to 64 characters"),
            "--name must be 1 to 64 characters"
        );
        assert_eq!(
            in_flag_words("--expires", "90 days is not allowed"),
            "--expires: 90 days is not allowed"
        );
    }
}
