//! SSH public key use cases: add, list, show, delete, and the authorized_keys answer
//! clusters ask for when a user logs in.

use crate::account::Username;
use crate::actor::Actor;
use crate::audit::AuditEvent;
use crate::error::{Error, Result};
use crate::ids::SshKeyId;
use crate::ssh_key::{SshKeyName, SshKeyRecord, SshPublicKey};

use super::Core;
use super::api_keys::actor_factor;

impl Core {
    /// Adds a public key to the actor's account. Requires `ssh_keys:write`.
    #[tracing::instrument(skip_all, fields(user = %actor.user.id))]
    pub async fn add_ssh_key(&self, actor: &Actor, name: &str, key: &str) -> Result<SshKeyRecord> {
        actor.require("ssh_keys:write")?;
        let name = SshKeyName::parse(name)?;
        let parsed = SshPublicKey::parse(key)?;
        let now = self.clock.now();
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

    /// The actor's keys. Requires `ssh_keys:read` (or `ssh_keys:write`).
    pub async fn list_ssh_keys(&self, actor: &Actor) -> Result<Vec<SshKeyRecord>> {
        require_ssh_read(actor)?;
        self.store.list_ssh_keys(&actor.user.id).await
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
        actor.require("ssh_keys:write")?;
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

    /// The keys that may log in as `username` on a cluster, for sshd's
    /// `AuthorizedKeysCommand`. Requires `ssh_keys:read_all` (a machine credential).
    /// Unknown, malformed or disabled accounts have no keys.
    pub async fn authorized_keys(
        &self,
        actor: &Actor,
        username: &str,
    ) -> Result<Vec<SshKeyRecord>> {
        actor.require("ssh_keys:read_all")?;
        let Ok(name) = Username::parse(username) else {
            return Ok(Vec::new());
        };
        // SECURITY: the name must already be in canonical form; `Alice` is not `alice` to
        // sshd, so a case-folded match would hand one account's keys to another login.
        if name.as_str() != username {
            return Ok(Vec::new());
        }
        match self.store.user_by_username(&name).await? {
            Some(u) if !u.user.disabled => self.store.list_ssh_keys(&u.user.id).await,
            _ => Ok(Vec::new()),
        }
    }
}

fn require_ssh_read(actor: &Actor) -> Result<()> {
    actor
        .require("ssh_keys:read")
        .or_else(|_| actor.require("ssh_keys:write"))
}
