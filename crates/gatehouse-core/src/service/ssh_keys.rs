//! SSH public key use cases: add, list, show, delete, and the authorized_keys answer
//! clusters ask for when a user logs in.

use crate::account::Username;
use crate::actor::Actor;
use crate::audit::AuditEvent;
use crate::error::{Error, Result};
use crate::ids::SshKeyId;
use crate::page::{After, Page, PageRequest};
use crate::scope;
use crate::ssh::{SshKeyName, SshKeyRecord, SshPublicKey};

use super::api_keys::actor_factor;
use super::{Cap, Core};

impl Core {
    /// Adds a public key to the actor's account. Requires `ssh_keys:write`.
    #[tracing::instrument(skip_all, fields(user = %actor.user.id))]
    pub async fn add_ssh_key(&self, actor: &Actor, name: &str, key: &str) -> Result<SshKeyRecord> {
        actor.require(scope::SSH_KEYS_WRITE)?;
        let name = SshKeyName::parse(name)?;
        let parsed = SshPublicKey::parse(key)?;
        let now = self.clock.now();
        let held = self.store.count_ssh_keys(&actor.user.id).await?;
        let caps = self.policy_for(actor).await?.caps;
        self.check_cap(&caps, held, Cap::SshKeys)?;
        let record = SshKeyRecord::new(
            SshKeyId::generate(),
            actor.user.id.clone(),
            name,
            &parsed,
            now,
        );
        self.store.insert_ssh_key(&record).await?;
        self.audit(
            AuditEvent::new(now, "ssh_key.added")
                .user(&actor.user.id)
                .factor(actor_factor(actor))
                .detail(format!(
                    "key={} type={} fingerprint={}",
                    record.id, record.key_type, record.fingerprint
                )),
        )
        .await;
        Ok(record)
    }

    /// A page of the actor's keys, oldest first. Requires `ssh_keys:read` (or
    /// `ssh_keys:write`).
    pub async fn list_ssh_keys(
        &self,
        actor: &Actor,
        page: &PageRequest,
    ) -> Result<Page<SshKeyRecord>> {
        require_ssh_read(actor)?;
        let rows = self.store.list_ssh_keys(&actor.user.id, page).await?;
        Ok(Page::from_rows(rows, page, |k| After {
            created_at: k.created_at.unix_timestamp(),
            id: k.id.0.clone(),
        }))
    }

    /// One of the actor's keys; another user's key is `NotFound`.
    pub async fn get_ssh_key(&self, actor: &Actor, id: &SshKeyId) -> Result<SshKeyRecord> {
        require_ssh_read(actor)?;
        self.store
            .ssh_key_by_id(&actor.user.id, id)
            .await?
            .ok_or(Error::NotFound)
    }

    /// Deletes one of the actor's keys. Requires `ssh_keys:write`.
    #[tracing::instrument(skip_all, fields(user = %actor.user.id))]
    pub async fn delete_ssh_key(&self, actor: &Actor, id: &SshKeyId) -> Result<()> {
        actor.require(scope::SSH_KEYS_WRITE)?;
        let Some(key) = self.store.delete_ssh_key(&actor.user.id, id).await? else {
            return Err(Error::NotFound);
        };
        self.audit(
            AuditEvent::new(self.clock.now(), "ssh_key.deleted")
                .user(&actor.user.id)
                .factor(actor_factor(actor))
                .detail(format!("key={} fingerprint={}", key.id, key.fingerprint)),
        )
        .await;
        Ok(())
    }

    /// The canonical username and the keys that may log in as it on a cluster, for
    /// sshd's `AuthorizedKeysCommand`. Requires `ssh_keys:read_all` (a machine
    /// credential) and answers for the caller's own organisation's members only. Usernames
    /// are case-insensitive, as at sign-in, and the answer names
    /// the canonical (lowercase) form; unknown or disabled accounts have no keys. A name
    /// that no account could have (`../admin`, `admin\0`) is `NotFound`.
    ///
    /// SECURITY: Unix login names are case-sensitive, so `gatehouse ssh authorized-keys`
    /// asks only for canonical names and checks that the answer names what it asked.
    pub async fn authorized_keys(
        &self,
        actor: &Actor,
        username: &str,
    ) -> Result<(Username, Vec<SshKeyRecord>)> {
        actor.require(scope::SSH_KEYS_READ_ALL)?;
        if username.len() > 64 || username != username.trim() {
            return Err(Error::NotFound);
        }
        let name = Username::parse(username).map_err(|_| Error::NotFound)?;
        // SECURITY: only the caller's own organisation's members: a Team Computer Key (or
        // an administrator's key) of one organisation never reads another's.
        let keys = match self
            .store
            .member_by_username(&actor.user.org_id, &name)
            .await?
        {
            Some(u) if !u.user.disabled => {
                // The cap keeps every account's keys within one page.
                let page = PageRequest::first(crate::page::MAX_LIMIT);
                self.store.list_ssh_keys(&u.user.id, &page).await?
            }
            _ => Vec::new(),
        };
        Ok((name, keys))
    }
}

fn require_ssh_read(actor: &Actor) -> Result<()> {
    actor.require_any(&[scope::SSH_KEYS_READ, scope::SSH_KEYS_WRITE])
}
