//! `gatehouse ssh agent`: an ssh-agent whose keys stay in Gatehouse.
//!
//! It listens on a Unix socket (mode 0600, in a folder of its own with mode 0700) and
//! answers OpenSSH's agent protocol (draft-miller-ssh-agent): the identities are the
//! public halves of the caller's stored SSH private keys, and each sign request is
//! forwarded to `POST /api/ssh-private-keys/{id}/sign`, so `ssh`, `scp`, `rsync` and
//! `git` work unchanged while the private keys never reach this machine. When OpenSSH
//! sends `session-bind@openssh.com`, the proof is checked here and passed on, so the
//! server records which host the key was used for.
//!
//! Written by hand because russh's agent server (`russh::keys::agent::server`) holds
//! the private keys in its own memory and signs with them itself; no crate forwards the
//! requests. The framing uses `ssh-encoding` as re-exported by russh. Only the four
//! requests this agent serves are read: listing, signing, the session-bind extension,
//! and everything else (adding, removing, locking) is answered with failure.
//!
//! SECURITY: only processes of the same user may talk to the agent (checked with the
//! peer's credentials on every connection, besides the socket's mode).

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::Method;
use russh::keys::ssh_encoding::{Decode, Encode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

use crate::cli::out::{note, outln};
use crate::cli::term::safe;
use crate::cli::user::{ServerArgs, Session};

/// Longest request read (OpenSSH's own agent uses 256 KiB).
const MAX_FRAME: usize = 256 * 1024;

const FAILURE: u8 = 5;
const SUCCESS: u8 = 6;
const REQUEST_IDENTITIES: u8 = 11;
const IDENTITIES_ANSWER: u8 = 12;
const SIGN_REQUEST: u8 = 13;
const SIGN_RESPONSE: u8 = 14;
const EXTENSION: u8 = 27;

const API: &str = "/api/ssh-private-keys";

/// Runs the agent until SIGINT or SIGTERM; removes its socket on the way out.
pub async fn run(server: &ServerArgs, socket: Option<&Path>) -> anyhow::Result<()> {
    let session = Arc::new(Session::open(server)?);
    // Fail now, not at the first ssh, when the credential cannot list the keys.
    let keys = list_keys(&session).await?;
    let (dir, path) = socket_path(socket)?;
    let listener = bind(&dir, &path)?;
    outln!(
        "SSH_AUTH_SOCK={}; export SSH_AUTH_SOCK;",
        shell_quote(&path.display().to_string())
    )?;
    outln!("echo Agent pid {};", std::process::id())?;
    note!(
        "gatehouse: agent serving {} stored key(s) on {}",
        keys.len(),
        safe(&path.display().to_string())
    );
    let me = rustix::process::getuid();
    let stop = crate::cli::serve::shutdown_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                // SECURITY: the socket's mode keeps others out; the peer check does too
                // if the folder's mode was changed.
                match stream.peer_cred() {
                    Ok(c) if c.uid() == me.as_raw() => {}
                    _ => {
                        note!("gatehouse: refused an agent connection from another user");
                        continue;
                    }
                }
                let session = session.clone();
                tokio::spawn(async move {
                    if let Err(e) = serve(stream, &session).await {
                        note!("gatehouse: agent connection ended: {e:#}");
                    }
                });
            }
        }
    }
    let _ = std::fs::remove_file(&path);
    if socket.is_none() {
        let _ = std::fs::remove_dir(&dir);
    }
    Ok(())
}

/// The folder and socket: the given path (its folder must exist and be private), or a
/// new folder under `$XDG_RUNTIME_DIR` (else the temporary folder).
fn socket_path(given: Option<&Path>) -> anyhow::Result<(PathBuf, PathBuf)> {
    if let Some(p) = given {
        let dir = p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        return Ok((dir, p.to_path_buf()));
    }
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let suffix = hex::encode(gatehouse_core::secret::random_bytes::<6>());
    let dir = base.join(format!("gatehouse-agent-{suffix}"));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    Ok((dir.clone(), dir.join("agent.sock")))
}

/// Binds the socket after checking its folder is the user's own and private, and makes
/// the socket mode 0600.
fn bind(dir: &Path, path: &Path) -> anyhow::Result<UnixListener> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(dir).with_context(|| format!("reading {}", dir.display()))?;
    if meta.uid() != rustix::process::getuid().as_raw() || meta.mode() & 0o077 != 0 {
        bail!(
            "{} must be a folder of your own that only you can open (chmod 700 {})",
            dir.display(),
            dir.display()
        );
    }
    if path.exists() {
        bail!(
            "{} exists already: is another agent running? Remove it or choose another --socket",
            path.display()
        );
    }
    let listener =
        UnixListener::bind(path).with_context(|| format!("listening on {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("making {} private", path.display()))?;
    Ok(listener)
}

/// `'…'` for a shell, so the printed line can be `eval`ed whatever the path holds.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// A stored key as the agent offers it.
struct Identity {
    id: String,
    blob: Vec<u8>,
    comment: String,
}

async fn list_keys(session: &Session) -> anyhow::Result<Vec<Identity>> {
    let keys = session.list_all(API).await?;
    Ok(keys.iter().filter_map(identity).collect())
}

fn identity(v: &Value) -> Option<Identity> {
    let line = v["public_key"].as_str()?;
    let blob = B64.decode(line.split_whitespace().nth(1)?).ok()?;
    Some(Identity {
        id: v["id"].as_str()?.to_owned(),
        blob,
        comment: format!("gatehouse:{}", v["name"].as_str().unwrap_or("")),
    })
}

/// What one client connection has said so far.
#[derive(Default)]
struct Connection {
    /// The `session-bind@openssh.com` proof (host key, session id, signature).
    bound: Option<(Vec<u8>, Vec<u8>, Vec<u8>)>,
    /// The keys as last listed.
    keys: Vec<Identity>,
}

async fn serve(mut stream: UnixStream, session: &Session) -> anyhow::Result<()> {
    let mut conn = Connection::default();
    loop {
        let mut len = [0u8; 4];
        if stream.read_exact(&mut len).await.is_err() {
            return Ok(());
        }
        let len = u32::from_be_bytes(len) as usize;
        if len == 0 || len > MAX_FRAME {
            bail!("a request of {len} bytes");
        }
        let mut frame = vec![0u8; len];
        stream.read_exact(&mut frame).await?;
        let reply = match answer(&mut conn, session, &frame).await {
            Ok(r) => r,
            Err(e) => {
                note!("gatehouse: agent: {e:#}");
                vec![FAILURE]
            }
        };
        let mut out = Vec::with_capacity(reply.len() + 4);
        out.extend_from_slice(&u32::try_from(reply.len())?.to_be_bytes());
        out.extend_from_slice(&reply);
        stream.write_all(&out).await?;
    }
}

/// The reply (without its length) to one request.
async fn answer(conn: &mut Connection, session: &Session, frame: &[u8]) -> anyhow::Result<Vec<u8>> {
    let (kind, mut body) = frame.split_first().context("an empty request")?;
    let mut out = Vec::new();
    match *kind {
        REQUEST_IDENTITIES => {
            conn.keys = list_keys(session).await?;
            IDENTITIES_ANSWER.encode(&mut out)?;
            u32::try_from(conn.keys.len())?.encode(&mut out)?;
            for k in &conn.keys {
                k.blob.encode(&mut out)?;
                k.comment.encode(&mut out)?;
            }
        }
        SIGN_REQUEST => {
            let blob = Vec::<u8>::decode(&mut body)?;
            let data = Vec::<u8>::decode(&mut body)?;
            let flags = u32::decode(&mut body)?;
            if conn.keys.iter().all(|k| k.blob != blob) {
                conn.keys = list_keys(session).await?;
            }
            let Some(key) = conn.keys.iter().find(|k| k.blob == blob) else {
                bail!("asked to sign with a key that is not stored in Gatehouse");
            };
            let mut req = json!({"data": B64.encode(&data), "flags": flags});
            if let Some((host_key, session_id, signature)) = &conn.bound {
                req["session_bind"] = json!({
                    "host_key": B64.encode(host_key),
                    "session_id": B64.encode(session_id),
                    "signature": B64.encode(signature),
                });
            }
            let (_, v) = session
                .call(Method::POST, &format!("{API}/{}/sign", key.id), Some(req))
                .await?;
            let signature = B64
                .decode(
                    v["signature"]
                        .as_str()
                        .context("no signature in the answer")?,
                )
                .context("a malformed signature in the answer")?;
            SIGN_RESPONSE.encode(&mut out)?;
            signature.encode(&mut out)?;
        }
        EXTENSION => {
            let name = String::decode(&mut body)?;
            if name != "session-bind@openssh.com" {
                return Ok(vec![FAILURE]);
            }
            let host_key = Vec::<u8>::decode(&mut body)?;
            let session_id = Vec::<u8>::decode(&mut body)?;
            let signature = Vec::<u8>::decode(&mut body)?;
            let _forwarding = bool::decode(&mut body)?;
            // The host proves the session is with it; a wrong proof ends the binding.
            if gatehouse_core::ssh::private_key::sign::verify_session_bind(
                &host_key,
                &session_id,
                &signature,
            )
            .is_none()
            {
                bail!("a session-bind proof that does not verify");
            }
            conn.bound = Some((host_key, session_id, signature));
            SUCCESS.encode(&mut out)?;
        }
        _ => FAILURE.encode(&mut out)?,
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_quoted_for_the_shell() {
        assert_eq!(shell_quote("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(shell_quote("/tmp/it's"), "'/tmp/it'\\''s'");
    }

    #[test]
    fn identities_come_from_the_listed_public_halves() {
        let v = json!({"id": "spk_1", "name": "deploy",
            "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHHgUqhR2nHG2G0CDB1VU2Gd3nSk6jDpWvw7N8Sn4l6j"});
        let k = identity(&v).expect("identity");
        assert_eq!(k.id, "spk_1");
        assert_eq!(k.comment, "gatehouse:deploy");
        assert_eq!(&k.blob[4..15], b"ssh-ed25519");
        assert!(identity(&json!({"id": "x", "public_key": "junk"})).is_none());
    }

    #[test]
    fn a_private_folder_of_ones_own_is_required() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let sock = dir.path().join("a.sock");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt");
        rt.block_on(async {
            assert!(bind(dir.path(), &sock).is_err(), "a folder others can open");
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
                .expect("chmod");
            let _l = bind(dir.path(), &sock).expect("bind");
            let mode = std::fs::metadata(&sock).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            assert!(bind(dir.path(), &sock).is_err(), "a socket that exists");
        });
    }
}
