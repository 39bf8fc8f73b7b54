//! Master key rotation: re-wrapping every sealed value's data key under the active
//! master key, and counting what an older key still wraps before it is retired. The
//! sealed bodies are not touched (their data keys stay the same), so a value being
//! re-wrapped stays readable throughout, by any node holding either master key.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::ids::{AccountId, MfaFactorId, SshPrivateKeyId};
use crate::seal::{Keyring, master_key_id};
use crate::store::{SealedKind, SealedValue};

use super::Core;

/// Rows read per store round trip.
const BATCH: u32 = 200;

/// What a re-wrap did, per kind of sealed value.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RewrapReport {
    /// Values re-wrapped under the active key, by kind label.
    pub rewrapped: BTreeMap<&'static str, u64>,
    /// Values already under the active key.
    pub current: u64,
    /// Values changed by someone else meanwhile (left as they are: whoever changed
    /// them sealed them with a listed key).
    pub skipped: u64,
}

impl Core {
    /// Re-wraps every sealed value under `ring`'s active key (the ring must list every
    /// key in use: run it with the new key file).
    pub async fn rewrap_sealed_values(&self, ring: &Keyring) -> Result<RewrapReport> {
        let mut report = RewrapReport::default();
        for kind in SealedKind::ALL {
            report.rewrapped.entry(kind.label()).or_insert(0);
            let mut pages = Pages::new(kind);
            while let Some(rows) = pages.next(self).await? {
                for v in &rows {
                    let context = context_of(kind, v)?;
                    let Some(new) = ring.rewrap(&v.sealed, &context)? else {
                        report.current += 1;
                        continue;
                    };
                    if self
                        .store
                        .replace_sealed(kind, &v.id, &v.sealed, &new)
                        .await?
                    {
                        *report.rewrapped.entry(kind.label()).or_insert(0) += 1;
                    } else {
                        report.skipped += 1;
                    }
                }
            }
        }
        Ok(report)
    }

    /// How many sealed values each master key wraps, by key id.
    pub async fn sealed_values_by_master_key(&self) -> Result<BTreeMap<String, u64>> {
        let mut counts = BTreeMap::new();
        for kind in SealedKind::ALL {
            let mut pages = Pages::new(kind);
            while let Some(rows) = pages.next(self).await? {
                for v in &rows {
                    let id = master_key_id(&v.sealed).unwrap_or("(unreadable)");
                    *counts.entry(id.to_owned()).or_insert(0) += 1;
                }
            }
        }
        Ok(counts)
    }
}

/// One kind's sealed values, [`BATCH`] rows per store round trip, by id.
struct Pages {
    kind: SealedKind,
    after: Option<String>,
    done: bool,
}

impl Pages {
    fn new(kind: SealedKind) -> Self {
        Pages {
            kind,
            after: None,
            done: false,
        }
    }

    /// The next page; `None` when every row has been read.
    async fn next(&mut self, core: &Core) -> Result<Option<Vec<SealedValue>>> {
        if self.done {
            return Ok(None);
        }
        let rows = core
            .store
            .sealed_values(self.kind, self.after.as_deref(), BATCH)
            .await?;
        self.done = rows.len() < BATCH as usize;
        let Some(last) = rows.last() else {
            return Ok(None);
        };
        self.after = Some(last.id.clone());
        Ok(Some(rows))
    }
}

/// The seal context a value of `kind` was sealed with.
fn context_of(kind: SealedKind, v: &SealedValue) -> Result<String> {
    let owner = || {
        v.owner
            .clone()
            .map(AccountId)
            .ok_or_else(|| Error::internal("sealed value without an owner"))
    };
    Ok(match kind {
        SealedKind::SigningKey => crate::token::signing_key_seal_context(&v.id),
        SealedKind::TotpSeed => crate::mfa::seed_context(&owner()?, &MfaFactorId(v.id.clone())),
        SealedKind::SshPrivateKey => {
            crate::ssh::private_key::seal_context(&owner()?, &SshPrivateKeyId(v.id.clone()))
        }
    })
}
