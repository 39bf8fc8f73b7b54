//! Asking Gatehouse for a user's keys, and believing only a well-formed answer about
//! that user.
//!
//! The answer is read with a size cap and, by the caller, under one deadline for the
//! whole exchange. It must be HTTP 200 with `{"username": <the user asked>, "keys":
//! [{"line": …}, …]}`; each line is parsed by the project's public-key parser and
//! re-serialised, so options (`command="…"`), a second key smuggled after a newline, a
//! private key or junk never reach sshd. Fingerprints are computed from the keys, never
//! taken from the answer.

use std::time::Duration;

use gatehouse_core::ssh::SshPublicKey;
use reqwest::StatusCode;

use crate::cli::out::note;
use serde::Deserialize;

use super::config::SshConfig;
use crate::client::http_client_without_redirects;

/// The largest answer read. One key line is at most 16 KiB; real answers are a few KiB.
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// Why there is no fresh answer.
pub enum Failure {
    /// A definite answer that is not a usable one (refusal, redirect, malformed or
    /// oversized body, another user's keys): the cache must not stand in.
    Refused(anyhow::Error),
    /// Gatehouse could not be reached, was too slow, failed (5xx) or asked us to slow
    /// down (429): the cache may stand in.
    Unavailable(anyhow::Error),
}

fn refused(msg: impl std::fmt::Display) -> Failure {
    Failure::Refused(anyhow::anyhow!("{msg}"))
}

fn unavailable(msg: impl std::fmt::Display) -> Failure {
    Failure::Unavailable(anyhow::anyhow!("{msg}"))
}

#[derive(Deserialize)]
struct Answer {
    username: String,
    keys: Vec<AnswerKey>,
}

#[derive(Deserialize)]
struct AnswerKey {
    line: String,
}

/// The active keys of `username`. The caller bounds the total time.
pub async fn fetch(config: &SshConfig, username: &str) -> Result<Vec<SshPublicKey>, Failure> {
    let timeout = Duration::from_secs(config.timeout_seconds.max(1));
    let client = http_client_without_redirects(&config.trust().map_err(Failure::Refused)?, timeout)
        .map_err(Failure::Refused)?;
    let key = config.api_key().map_err(Failure::Refused)?;
    let url = format!(
        "{}/api/ssh/authorized-keys/{username}",
        config.server.trim_end_matches('/')
    );
    let mut res = client
        .get(url)
        .basic_auth(key.as_str(), Some(""))
        .send()
        .await
        .map_err(|e| unavailable(format!("cannot reach Gatehouse: {}", describe(&e))))?;
    let status = res.status();
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        return Err(unavailable(format!(
            "Gatehouse answered HTTP {}",
            status.as_u16()
        )));
    }
    if status.is_redirection() {
        return Err(refused(format!(
            "Gatehouse answered with a redirect (HTTP {}), which is never followed; set server to Gatehouse's own URL",
            status.as_u16()
        )));
    }
    if status != StatusCode::OK {
        return Err(refused(format!(
            "Gatehouse refused the request (HTTP {}); check the machine credential in the config file",
            status.as_u16()
        )));
    }
    if res
        .content_length()
        .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = res
        .chunk()
        .await
        .map_err(|e| unavailable(format!("reading the answer: {}", describe(&e))))?
    {
        // SECURITY: stop at the cap, so an endless answer costs a megabyte, not memory.
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    parse(&body, username)
}

fn too_large() -> Failure {
    refused(format!(
        "the answer is larger than {MAX_ANSWER_BYTES} bytes; refusing it"
    ))
}

/// The keys of a 200 answer for `username`. Lines that are not plain public keys are
/// skipped (and logged); anything else wrong refuses the whole answer.
fn parse(body: &[u8], username: &str) -> Result<Vec<SshPublicKey>, Failure> {
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|e| refused(format!("unreadable answer from Gatehouse: {e}")))?;
    // SECURITY: an answer about someone else (a confused proxy or cache in front of
    // Gatehouse) would let their keys log in as this user.
    if answer.username != username {
        return Err(refused(
            "the answer is for a different user than the one asked about; refusing it",
        ));
    }
    Ok(answer
        .keys
        .iter()
        .filter_map(|k| match SshPublicKey::parse(&k.line) {
            Ok(key) => Some(key),
            Err(e) => {
                note!("gatehouse: skipping a line that is not a plain public key: {e}");
                None
            }
        })
        .collect())
}

/// A reqwest error with its causes, which name the actual problem (refused, timed out).
fn describe(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg = format!("{msg}: {s}");
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ED25519: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB5k693GmFVm5+JuEouDSdrqMWHN58JxKPVKUSkWfM9K a@b";

    fn lines(body: serde_json::Value, user: &str) -> Result<Vec<String>, String> {
        match parse(body.to_string().as_bytes(), user) {
            Ok(keys) => Ok(keys
                .iter()
                .map(SshPublicKey::authorized_keys_line)
                .collect()),
            Err(Failure::Refused(e)) => Err(format!("refused: {e}")),
            Err(Failure::Unavailable(e)) => Err(format!("unavailable: {e}")),
        }
    }

    #[test]
    fn only_plain_public_keys_are_kept_and_re_serialised() {
        let body = json!({"username": "alice", "keys": [
            {"line": format!("command=\"/bin/sh\" {ED25519}")},
            {"line": "junk"},
            {"line": format!("{ED25519}\n{ED25519} second")},
            {"line": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n-----END OPENSSH PRIVATE KEY-----"},
            {"line": format!("  {ED25519}   with   spaces "), "fingerprint": "SHA256:forged"},
        ]});
        assert_eq!(
            lines(body, "alice"),
            Ok(vec![format!("{ED25519} with spaces")])
        );
    }

    #[test]
    fn an_answer_for_another_user_or_of_the_wrong_shape_is_refused() {
        let other = json!({"username": "bob", "keys": [{"line": ED25519}]});
        assert!(lines(other, "alice").is_err_and(|e| e.contains("different user")));
        for bad in [
            json!({"keys": []}),
            json!({"username": "alice"}),
            json!([ED25519]),
        ] {
            assert!(lines(bad, "alice").is_err_and(|e| e.starts_with("refused")));
        }
        assert!(matches!(
            parse(b"not json", "alice"),
            Err(Failure::Refused(_))
        ));
    }
}
