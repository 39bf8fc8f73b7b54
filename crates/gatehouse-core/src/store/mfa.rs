//! Storage of second factors, recovery codes and half-finished sign-ins.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::Result;
use crate::ids::{AccountId, MfaFactorId};
use crate::mfa::webauthn::{CeremonyKind, CeremonyRecord};
use crate::mfa::{ChallengeRecord, FactorRecord};
use crate::secret::TokenHash;

/// Second factors. Every method names the owner in its query.
#[async_trait]
pub trait MfaStore: Send + Sync + 'static {
    /// Stores a pending enrolment, replacing the owner's earlier pending ones of its kind.
    async fn insert_pending_factor(&self, factor: &FactorRecord) -> Result<()>;
    /// The owner's factors, confirmed and pending, oldest first.
    async fn mfa_factors(&self, owner: &AccountId) -> Result<Vec<FactorRecord>>;
    /// Confirms a pending enrolment started after `started_after`, with the step of its
    /// first code, and — when `recovery_codes` is given — replaces the owner's recovery
    /// codes, in one transaction. `false` when there was no such pending factor.
    async fn confirm_factor(
        &self,
        owner: &AccountId,
        id: &MfaFactorId,
        step: i64,
        started_after: OffsetDateTime,
        at: OffsetDateTime,
        recovery_codes: Option<&[TokenHash]>,
    ) -> Result<bool>;
    /// Accepts a TOTP code's step with one compare-and-set: `true` only when the
    /// factor's last accepted step was older (SECURITY: a code works once, on any node).
    async fn advance_totp_step(
        &self,
        owner: &AccountId,
        id: &MfaFactorId,
        step: i64,
        at: OffsetDateTime,
    ) -> Result<bool>;
    /// Deletes one factor, and the recovery codes too when no confirmed factor remains
    /// (2-step verification is then off). Whether it existed.
    async fn delete_factor(
        &self,
        owner: &AccountId,
        id: &MfaFactorId,
        at: OffsetDateTime,
    ) -> Result<bool>;
    /// Deletes every factor and recovery code of the owner (turning 2-step verification
    /// off); how many factors there were.
    async fn delete_all_factors(&self, owner: &AccountId, at: OffsetDateTime) -> Result<u64>;
    /// Replaces the owner's recovery codes with a new set.
    async fn replace_recovery_codes(
        &self,
        owner: &AccountId,
        codes: &[TokenHash],
        at: OffsetDateTime,
    ) -> Result<()>;
    /// Consumes one recovery code with one guarded update (`used_at IS NULL`): `true` for
    /// exactly one of any number of concurrent uses.
    async fn use_recovery_code(
        &self,
        owner: &AccountId,
        code: &TokenHash,
        at: OffsetDateTime,
    ) -> Result<bool>;
    /// Unused recovery codes of the owner.
    async fn recovery_codes_left(&self, owner: &AccountId) -> Result<u64>;
    /// Stores a half-finished sign-in.
    async fn insert_challenge(&self, challenge: &ChallengeRecord) -> Result<()>;
    /// A half-finished sign-in that has not expired at `now`.
    async fn challenge_by_hash(
        &self,
        hash: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<Option<ChallengeRecord>>;
    /// Counts a wrong code against a half-finished sign-in; deletes it once it has
    /// `max_failures`. The new count.
    async fn fail_challenge(&self, hash: &TokenHash, max_failures: u32) -> Result<u32>;
    /// Ends a half-finished sign-in; `true` for exactly one of concurrent callers.
    async fn take_challenge(&self, hash: &TokenHash, now: OffsetDateTime) -> Result<bool>;
    /// Stores a confirmed factor (a security key) and — when `recovery_codes` is given —
    /// replaces the owner's recovery codes, in one transaction. `Conflict` when the key's
    /// credential id is registered already (to any account).
    async fn insert_confirmed_factor(
        &self,
        factor: &FactorRecord,
        recovery_codes: Option<&[TokenHash]>,
    ) -> Result<()>;
    /// The security key with this credential id (base64url), whoever's it is.
    async fn factor_by_credential_id(&self, credential_id: &str) -> Result<Option<FactorRecord>>;
    /// Records a key's use: its updated credential and counter, with one compare-and-set
    /// (`sign_count < $n`, or a counter that stays 0): `false` when another sign-in
    /// recorded a later counter first.
    async fn record_key_use(
        &self,
        owner: &AccountId,
        id: &MfaFactorId,
        credential: &str,
        sign_count: i64,
        at: OffsetDateTime,
    ) -> Result<bool>;
    /// Renames one of the owner's factors; whether it existed.
    async fn rename_factor(&self, owner: &AccountId, id: &MfaFactorId, name: &str) -> Result<bool>;
    /// Stores a WebAuthn ceremony's state.
    async fn insert_ceremony(&self, ceremony: &CeremonyRecord) -> Result<()>;
    /// Takes a ceremony's state (one `DELETE`: `Some` for exactly one of concurrent
    /// callers), if it is of `kind` and has not expired.
    async fn take_ceremony(
        &self,
        hash: &TokenHash,
        kind: CeremonyKind,
        now: OffsetDateTime,
    ) -> Result<Option<CeremonyRecord>>;
    /// Deletes expired half-finished sign-ins and ceremonies, and pending enrolments
    /// started before `enrolment_cutoff`.
    async fn delete_expired_challenges(
        &self,
        now: OffsetDateTime,
        enrolment_cutoff: OffsetDateTime,
    ) -> Result<u64>;
}
