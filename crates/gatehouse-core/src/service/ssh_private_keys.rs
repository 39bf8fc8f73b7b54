//! SSH private key use cases: upload (read, decrypt, seal), list, show and delete. No
//! use case here returns the key: it is sealed on upload and only the signing path
//! (next) opens it.

use secrecy::{ExposeSecret, SecretString};

use crate::actor::Actor;
use crate::audit::AuditEvent;
use crate::error::{Error, Result};
use crate::ids::SshPrivateKeyId;
use crate::page::{After, Page, PageRequest};
use crate::scope;
use crate::ssh::private_key::{parse_description, seal_context};
use crate::ssh::{SshPrivateKey, SshPrivateKeyName, SshPrivateKeyRecord};

use super::api_keys::actor_factor;
use super::{Cap, Core};

/// What an upload carries. `Debug` shows neither the key nor the passphrase.
pub struct NewSshPrivateKey<'a> {
    /// Unique among the account's private keys.
    pub name: &'a str,
    /// Optional, at most 500 characters.
    pub description: Option<&'a str>,
    /// The key file's text.
    pub private_key: &'a SecretString,
    /// The passphrase, for a protected key; used once to decrypt, never stored.
    pub passphrase: Option<&'a SecretString>,
}

impl std::fmt::Debug for NewSshPrivateKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSshPrivateKey")
            .field("name", &self.name)
            .field("private_key", &"[redacted]")
            .field("passphrase", &self.passphrase.map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

impl Core {
    /// Stores a private key on the actor's account, sealed with a context that binds
    /// the account and the key's id. Requires `ssh_private_keys:write`.
    #[tracing::instrument(skip_all, fields(user = %actor.user.id))]
    pub async fn add_ssh_private_key(
        &self,
        actor: &Actor,
        new: NewSshPrivateKey<'_>,
    ) -> Result<SshPrivateKeyRecord> {
        actor.require(scope::SSH_PRIVATE_KEYS_WRITE)?;
        let name = SshPrivateKeyName::parse(new.name)?;
        let description = parse_description(new.description)?;
        let keyring = self.master()?;
        let held = self.store.count_ssh_private_keys(&actor.user.id).await?;
        let caps = self.policy_for(actor).await?.caps;
        self.check_cap(&caps, held, Cap::SshPrivateKeys)?;
        // Reading can mean a bcrypt-pbkdf run of the passphrase (16+ rounds): off the
        // async workers.
        let text = new.private_key.clone();
        let pass = new.passphrase.cloned();
        // SECURITY: one decrypt at a time; a queue that does not move within 10 s is shed.
        let _permit = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            self.key_decrypts.acquire(),
        )
        .await
        .map_err(|_| Error::Unavailable { retry_after: 10 })?
        .map_err(Error::internal)?;
        let key = tokio::task::spawn_blocking(move || {
            SshPrivateKey::parse(
                text.expose_secret(),
                pass.as_ref().map(|p| p.expose_secret()),
            )
        })
        .await
        .map_err(Error::internal)??;
        let now = self.clock.now();
        let record = SshPrivateKeyRecord::new(
            SshPrivateKeyId::generate(),
            actor.user.id.clone(),
            name,
            description,
            &key,
            now,
        );
        // SECURITY: the context names purpose, owner and id, so the sealed value opens
        // only on this row of this account.
        let sealed = keyring.seal(
            key.expose_openssh().as_bytes(),
            &seal_context(&record.user_id, &record.id),
        )?;
        drop(key);
        self.store.insert_ssh_private_key(&record, &sealed).await?;
        self.audit(
            AuditEvent::new(now, "ssh_private_key.added")
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

    /// A page of the actor's private keys (metadata only), oldest first. Requires
    /// `ssh_private_keys:read` (or `ssh_private_keys:write`).
    pub async fn list_ssh_private_keys(
        &self,
        actor: &Actor,
        page: &PageRequest,
    ) -> Result<Page<SshPrivateKeyRecord>> {
        require_read(actor)?;
        let rows = self
            .store
            .list_ssh_private_keys(&actor.user.id, page)
            .await?;
        Ok(Page::from_rows(rows, page, |k| After {
            created_at: k.created_at.unix_timestamp(),
            id: k.id.0.clone(),
        }))
    }

    /// One of the actor's private keys (metadata only); another account's is
    /// `NotFound`. Requires `ssh_private_keys:read` (or `:write`).
    pub async fn get_ssh_private_key(
        &self,
        actor: &Actor,
        id: &SshPrivateKeyId,
    ) -> Result<SshPrivateKeyRecord> {
        require_read(actor)?;
        self.store
            .ssh_private_key_by_id(&actor.user.id, id)
            .await?
            .ok_or(Error::NotFound)
    }

    /// Deletes one of the actor's private keys. Requires `ssh_private_keys:write`.
    #[tracing::instrument(skip_all, fields(user = %actor.user.id))]
    pub async fn delete_ssh_private_key(&self, actor: &Actor, id: &SshPrivateKeyId) -> Result<()> {
        actor.require(scope::SSH_PRIVATE_KEYS_WRITE)?;
        let Some(key) = self
            .store
            .delete_ssh_private_key(&actor.user.id, id)
            .await?
        else {
            return Err(Error::NotFound);
        };
        self.audit(
            AuditEvent::new(self.clock.now(), "ssh_private_key.deleted")
                .user(&actor.user.id)
                .factor(actor_factor(actor))
                .detail(format!("key={} fingerprint={}", key.id, key.fingerprint)),
        )
        .await;
        Ok(())
    }
}

fn require_read(actor: &Actor) -> Result<()> {
    actor.require_any(&[scope::SSH_PRIVATE_KEYS_READ, scope::SSH_PRIVATE_KEYS_WRITE])
}
