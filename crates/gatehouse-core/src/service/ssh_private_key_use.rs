//! Using a stored SSH private key: signing an SSH authentication request with it (what
//! `gatehouse ssh agent` and platform jobs ask for), and the connection test, with the
//! host keys its owner pinned. Every use is audited: key, account, calling credential,
//! client address, destination and result. The key is opened for the one operation and
//! dropped; it never leaves this module.

use std::net::SocketAddr;

use crate::actor::Actor;
use crate::audit::AuditEvent;
use crate::error::{Error, Result};
use crate::ids::{AccountId, SshPrivateKeyId};
use crate::scope;
use crate::ssh::PinnedHostKey;
use crate::ssh::SshPrivateKeyRecord;
use crate::ssh::private_key::probe::{self, HostKey, Outcome};
use crate::ssh::private_key::seal_context;
use crate::ssh::private_key::sign::{SigningKey, fingerprint, verify_session_bind};

use super::Core;
use super::api_keys::actor_factor;

/// A sign request.
#[derive(Debug)]
pub struct SignRequest<'a> {
    /// The account whose key signs; `None`: the caller's own. Naming another account
    /// needs `ssh_private_keys:use_all`.
    pub account: Option<&'a str>,
    /// The key.
    pub id: &'a SshPrivateKeyId,
    /// An SSH user-authentication request (RFC 4252 §7) for this key.
    pub data: &'a [u8],
    /// ssh-agent sign flags (2: `rsa-sha2-256`, 4: `rsa-sha2-512`).
    pub flags: u32,
    /// OpenSSH's `session-bind@openssh.com` proof, when the agent received one: the
    /// destination's host key blob, the session id and the host's signature over it.
    pub session_bind: Option<SessionBind<'a>>,
}

/// A `session-bind@openssh.com` proof.
#[derive(Debug, Clone, Copy)]
pub struct SessionBind<'a> {
    /// The host key (SSH wire blob).
    pub host_key: &'a [u8],
    /// The session identifier.
    pub session_id: &'a [u8],
    /// The host's signature over the session identifier (SSH wire form).
    pub signature: &'a [u8],
}

/// A signature and what it was for.
#[derive(Debug)]
pub struct Signature {
    /// The SSH wire form, as `SSH_AGENT_SIGN_RESPONSE` carries it.
    pub signature: Vec<u8>,
    /// `ssh-ed25519`, `rsa-sha2-512`, ….
    pub algorithm: String,
    /// The key that signed.
    pub key: SshPrivateKeyRecord,
}

/// Where a connection test goes.
#[derive(Debug)]
pub struct TestTarget<'a> {
    /// Host name or address.
    pub host: &'a str,
    /// SSH port.
    pub port: u16,
    /// The remote user.
    pub username: &'a str,
    /// A fingerprint the owner confirms for a host with no pin (trust on first use).
    pub trust_host_key: Option<&'a str>,
}

/// How a connection test ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestResult {
    /// The host accepted the key.
    Success,
    /// The host refused the key.
    AuthenticationRefused,
    /// No pin, nothing confirmed: the owner must confirm this key first.
    HostKeyUnknown,
    /// The host presents another key than the pinned (or just confirmed) one.
    HostKeyMismatch {
        /// The pinned or confirmed fingerprint.
        expected: String,
    },
    /// No connection.
    Unreachable(String),
    /// No answer in time.
    Timeout,
}

impl TestResult {
    /// The audit and API name of the result.
    pub fn as_str(&self) -> &'static str {
        match self {
            TestResult::Success => "success",
            TestResult::AuthenticationRefused => "authentication_refused",
            TestResult::HostKeyUnknown => "host_key_unknown",
            TestResult::HostKeyMismatch { .. } => "host_key_mismatch",
            TestResult::Unreachable(_) => "unreachable",
            TestResult::Timeout => "timeout",
        }
    }
}

/// A connection test's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestReport {
    /// The result.
    pub result: TestResult,
    /// The host as tested (lowercased) and the port.
    pub host: String,
    /// The port.
    pub port: u16,
    /// The host key the host presented, if it got that far: type and fingerprint.
    pub host_key: Option<(String, String)>,
    /// Whether this test pinned the host key.
    pub pinned: bool,
}

impl Core {
    /// Signs an SSH authentication request with a stored key. The owner's credentials
    /// need `ssh_private_keys:use`; another account's key needs
    /// `ssh_private_keys:use_all` (administrators) and names that account. A key that is
    /// deleted, or whose account is disabled, signs nothing from then on: the key is
    /// read from the store on every request, never cached.
    #[tracing::instrument(skip_all, fields(user = %actor.user.id, key = %req.id))]
    pub async fn sign_with_ssh_private_key(
        &self,
        actor: &Actor,
        req: SignRequest<'_>,
    ) -> Result<Signature> {
        let owner = self.key_user(actor, req.account).await?;
        let (record, key) = self.open_ssh_private_key(&owner, req.id).await?;
        let bound = match req.session_bind {
            None => None,
            Some(b) => Some(
                verify_session_bind(b.host_key, b.session_id, b.signature).ok_or_else(|| {
                    Error::invalid(
                        "session_bind",
                        "the session-bind proof does not verify: the host's signature over \
                         the session id is wrong",
                    )
                })?,
            ),
        };
        let data = req.data.to_vec();
        let flags = req.flags;
        let signed = tokio::task::spawn_blocking(move || key.sign(&data, flags))
            .await
            .map_err(Error::internal)?;
        let mut detail = format!(
            "key={} fingerprint={} owner={}{}",
            record.id,
            record.fingerprint,
            owner,
            credential_detail(actor),
        );
        let signed = match signed {
            Ok(s) => s,
            Err(e) => {
                detail.push_str(" result=refused");
                self.audit_use(actor, &owner, detail).await;
                return Err(e);
            }
        };
        let host = bound
            .as_ref()
            .or(signed.request.host_key.as_ref())
            .map(fingerprint);
        detail.push_str(&format!(
            " destination_user={} destination_host_key={} algorithm={}",
            quoted(&signed.request.user),
            host.as_deref().unwrap_or("unknown"),
            signed.algorithm
        ));
        // SECURITY: a key deleted while it was signing gives no signature.
        let now = self.clock.now();
        if !self
            .store
            .touch_ssh_private_key(&owner, &record.id, now)
            .await?
        {
            return Err(Error::NotFound);
        }
        detail.push_str(" result=signed");
        self.audit_use(actor, &owner, detail).await;
        Ok(Signature {
            signature: signed.signature,
            algorithm: signed.algorithm,
            key: SshPrivateKeyRecord {
                last_used_at: Some(now),
                ..record
            },
        })
    }

    /// Connects to a host with a stored key and reports whether it logs in (no command
    /// runs). The first test of a host reports `HostKeyUnknown` with the key it
    /// presented; the owner confirms it by testing again with `trust_host_key` set to
    /// its fingerprint, which pins it once the host proves it holds that key. A pinned
    /// host presenting another key is refused, and the key signs nothing for it.
    /// Requires `ssh_private_keys:use`; hosts in the denied networks are refused.
    #[tracing::instrument(skip_all, fields(user = %actor.user.id, key = %id))]
    pub async fn test_ssh_private_key(
        &self,
        actor: &Actor,
        id: &SshPrivateKeyId,
        target: TestTarget<'_>,
    ) -> Result<TestReport> {
        actor.require(scope::SSH_PRIVATE_KEYS_USE)?;
        let host = parse_host(target.host)?;
        let port = parse_port(target.port)?;
        let username = parse_remote_user(target.username)?;
        let owner = actor.user.id.clone();
        let (record, key) = self.open_ssh_private_key(&owner, id).await?;
        let addr = self.resolve_test_host(&host, port).await?;
        let pin = self.store.pinned_host_key(&owner, &host, port).await?;
        let expected = match (&pin, target.trust_host_key) {
            (Some(p), _) => HostKey::Pinned(p.fingerprint.clone()),
            (None, Some(fp)) => HostKey::Confirmed(fp.trim().to_owned()),
            (None, None) => HostKey::Unknown,
        };
        let limit = self.settings.connection_tests.timeout;
        let outcome = probe::probe(addr, &username, &key, &expected, limit).await;
        drop(key);
        let presented = outcome.host_key().cloned();
        let expected_fp = match &expected {
            HostKey::Pinned(fp) | HostKey::Confirmed(fp) => fp.clone(),
            HostKey::Unknown => String::new(),
        };
        let result = match outcome {
            Outcome::Success { .. } => TestResult::Success,
            Outcome::AuthenticationRefused { .. } => TestResult::AuthenticationRefused,
            Outcome::HostKeyUnknown { .. } => TestResult::HostKeyUnknown,
            // A confirmed fingerprint that the host does not match: ask again, showing
            // what it presents now.
            Outcome::HostKeyChanged { .. } => TestResult::HostKeyUnknown,
            Outcome::HostKeyMismatch { .. } => TestResult::HostKeyMismatch {
                expected: expected_fp,
            },
            Outcome::Unreachable(why) => TestResult::Unreachable(why),
            Outcome::Timeout => TestResult::Timeout,
        };
        let now = self.clock.now();
        // The host proved it holds the confirmed key (the key exchange is signed by it):
        // pin it, whatever the authentication said.
        let mut pinned = false;
        if let (None, HostKey::Confirmed(_), Some(k)) = (&pin, &expected, &presented)
            && matches!(
                result,
                TestResult::Success | TestResult::AuthenticationRefused
            )
        {
            let pin = PinnedHostKey {
                host: host.clone(),
                port,
                key_type: k.algorithm().as_str().to_owned(),
                fingerprint: fingerprint(k),
                public_key: k.to_openssh().unwrap_or_default(),
                pinned_at: now,
            };
            match self.store.pin_host_key(&owner, &pin).await {
                Ok(()) | Err(Error::Conflict(_)) => pinned = true,
                Err(e) => return Err(e),
            }
        }
        if result == TestResult::Success {
            self.store
                .touch_ssh_private_key(&owner, &record.id, now)
                .await?;
        }
        let host_key = presented.map(|k| (k.algorithm().as_str().to_owned(), fingerprint(&k)));
        self.audit_use(
            actor,
            &owner,
            format!(
                "key={} fingerprint={} owner={}{} purpose=test destination={}:{} \
                 destination_user={} destination_host_key={} result={}{}",
                record.id,
                record.fingerprint,
                owner,
                credential_detail(actor),
                host,
                port,
                quoted(&username),
                host_key.as_ref().map_or("unknown", |(_, fp)| fp.as_str()),
                result.as_str(),
                if pinned { " pinned=yes" } else { "" },
            ),
        )
        .await;
        Ok(TestReport {
            result,
            host,
            port,
            host_key,
            pinned,
        })
    }

    /// Removes the caller's pinned host key for `host:port` (after a legitimate host
    /// key change). Requires `ssh_private_keys:write`; audited.
    pub async fn forget_ssh_host_key(&self, actor: &Actor, host: &str, port: u16) -> Result<()> {
        actor.require(scope::SSH_PRIVATE_KEYS_WRITE)?;
        let host = parse_host(host)?;
        let port = parse_port(port)?;
        if !self
            .store
            .forget_host_key(&actor.user.id, &host, port)
            .await?
        {
            return Err(Error::NotFound);
        }
        self.audit(
            AuditEvent::new(self.clock.now(), "ssh_private_key.host_key_forgotten")
                .user(&actor.user.id)
                .factor(actor_factor(actor))
                .detail(format!("destination={host}:{port}")),
        )
        .await;
        Ok(())
    }

    /// The account whose key is used: the caller's own, or (with `use_all`, for an
    /// administrator) the named, enabled account of the caller's organisation.
    async fn key_user(&self, actor: &Actor, account: Option<&str>) -> Result<AccountId> {
        let named = account.map(str::trim).filter(|a| !a.is_empty());
        let own = named
            .is_none_or(|a| a.eq_ignore_ascii_case(&actor.user.username) || a == actor.user.id.0);
        if own {
            actor.require_any(&[scope::SSH_PRIVATE_KEYS_USE, scope::SSH_PRIVATE_KEYS_USE_ALL])?;
            // SECURITY: read now, not from the credential caches, so that disabling an
            // account stops its keys at once, before the invalidation reaches this node.
            return match self.store.account_by_id(&actor.user.id).await? {
                Some(r) if !r.user.disabled => Ok(r.user.id),
                Some(_) => Err(disabled(&actor.user.username)),
                None => Err(Error::NotFound),
            };
        }
        actor.require(scope::SSH_PRIVATE_KEYS_USE_ALL)?;
        // SECURITY: the scope is granted to administrators only; one who is no longer
        // one loses it here too.
        if !actor.user.is_admin() {
            return Err(Error::InsufficientPermissions(
                scope::SSH_PRIVATE_KEYS_USE_ALL.into(),
            ));
        }
        let name = named.unwrap_or_default();
        // Looked up inside the caller's organisation: another one's account is not found.
        let record = match crate::account::Username::parse(name) {
            Ok(u) => {
                self.store
                    .member_by_username(&actor.user.org_id, &u)
                    .await?
            }
            Err(_) => None,
        };
        match record {
            Some(r) if r.user.disabled => Err(disabled(&r.user.username)),
            Some(r) => Ok(r.user.id),
            None => Err(Error::NotFound),
        }
    }

    /// Reads and opens one of `owner`'s keys (another account's is `NotFound`).
    async fn open_ssh_private_key(
        &self,
        owner: &AccountId,
        id: &SshPrivateKeyId,
    ) -> Result<(SshPrivateKeyRecord, SigningKey)> {
        let record = self
            .store
            .ssh_private_key_by_id(owner, id)
            .await?
            .ok_or(Error::NotFound)?;
        let sealed = self
            .store
            .sealed_ssh_private_key(owner, id)
            .await?
            .ok_or(Error::NotFound)?;
        let text = self.master()?.open(&sealed, &seal_context(owner, id))?;
        let key = SigningKey::from_openssh(&text)?;
        Ok((record, key))
    }

    /// The address a test dials: the first the host resolves to, unless any of them is
    /// in a denied network (checked on the resolved addresses, and the one checked is
    /// the one dialled, so a name cannot resolve differently in between).
    async fn resolve_test_host(&self, host: &str, port: u16) -> Result<SocketAddr> {
        let lookup = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            tokio::net::lookup_host((host, port)),
        )
        .await;
        let unresolved =
            || Error::invalid("host", format!("the host name {host} does not resolve"));
        let addrs: Vec<SocketAddr> = match lookup {
            Ok(Ok(a)) => a.collect(),
            _ => return Err(unresolved()),
        };
        let denied = &self.settings.connection_tests.denied_networks;
        for a in &addrs {
            let ip = a.ip().to_canonical();
            if denied.iter().any(|n| n.contains(ip)) || ip.is_unspecified() || ip.is_multicast() {
                return Err(Error::invalid(
                    "host",
                    format!(
                        "{host} resolves to {ip}, an address connection tests may not reach \
                         (loopback, link-local and metadata addresses are refused)"
                    ),
                ));
            }
        }
        addrs.first().copied().ok_or_else(unresolved)
    }

    async fn audit_use(&self, actor: &Actor, owner: &AccountId, detail: String) {
        self.audit(
            AuditEvent::new(self.clock.now(), "ssh_private_key.used")
                .user(owner)
                .factor(actor_factor(actor))
                .detail(detail),
        )
        .await;
    }
}

fn disabled(username: &str) -> Error {
    Error::Forbidden(format!(
        "the account {username} is disabled; its stored keys sign nothing"
    ))
}

/// ` caller=<account> credential=<id>` for the audit detail.
fn credential_detail(actor: &Actor) -> String {
    format!(
        " caller={} credential={}",
        actor.user.id,
        actor
            .credential
            .credential_id()
            .unwrap_or_else(|| actor.credential.kind().to_owned())
    )
}

/// A remote user name for the audit detail, quoted and without control characters.
fn quoted(s: &str) -> String {
    let clean: String = s.chars().filter(|c| !c.is_control()).take(64).collect();
    format!("{clean:?}")
}

/// A host name or address: 1–253 characters of letters, digits, `.`, `-`, `:` (IPv6),
/// or an IPv6 address in brackets; lowercased.
fn parse_host(raw: &str) -> Result<String> {
    let host = raw.trim().trim_start_matches('[').trim_end_matches(']');
    let ok = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'))
        && !host.starts_with('-');
    if !ok {
        return Err(Error::invalid(
            "host",
            "give a host name or IP address, e.g. cluster.example.com or 192.0.2.10",
        ));
    }
    Ok(host.to_ascii_lowercase())
}

fn parse_port(port: u16) -> Result<u16> {
    if port == 0 {
        return Err(Error::invalid(
            "port",
            "the port must be between 1 and 65535",
        ));
    }
    Ok(port)
}

/// A remote user name: 1–64 characters, no whitespace or control characters.
fn parse_remote_user(raw: &str) -> Result<String> {
    let user = raw.trim();
    if user.is_empty()
        || user.chars().count() > 64
        || user.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(Error::invalid(
            "username",
            "give the user name to log in as on the remote host (1 to 64 characters, no spaces)",
        ));
    }
    Ok(user.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_users_and_ports_are_checked() {
        assert_eq!(
            parse_host(" Cluster.Example.COM ").expect("ok"),
            "cluster.example.com"
        );
        assert_eq!(parse_host("[::1]").expect("ok"), "::1");
        for bad in [
            "",
            "-oProxyCommand=x",
            "a b",
            "host/path",
            "x\ny",
            &"a".repeat(254),
        ] {
            assert!(parse_host(bad).is_err(), "{bad:?}");
        }
        assert!(parse_port(0).is_err());
        assert!(parse_remote_user("root").is_ok());
        assert!(parse_remote_user("a b").is_err());
        assert!(parse_remote_user("").is_err());
        assert_eq!(quoted("x\u{7}y"), "\"xy\"");
    }
}
