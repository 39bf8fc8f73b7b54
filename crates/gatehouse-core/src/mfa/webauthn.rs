//! Security keys and passkeys (WebAuthn), through webauthn-rs: this module fixes the
//! relying party (id and origin from `server.public_origin`, HTTPS only), how ceremony
//! state travels to the store (serialised, so a ceremony started on one node finishes on
//! another), the user handle, and which of the crate's flows Gatehouse uses.
//!
//! Choices (documented in the README):
//! - Every key is registered with webauthn-rs's passkey flow, which requires user
//!   verification (the key's PIN or a biometric) at registration and at every sign-in, and
//!   checks origin, RP id hash, type, challenge, and the UP and UV flags.
//! - Registration asks for a discoverable credential (`residentKey: "preferred"`); keys
//!   whose browser reports one (`credProps.rk`) may also sign in with no password at all.
//! - Signature counters: a non-zero counter that does not increase is refused (a cloned
//!   key) and audited; a counter that is always 0 — synced passkeys have none — is
//!   accepted, as WebAuthn Level 3 allows.
//! - Approved models: when an organisation lists authenticator models (AAGUIDs), keys
//!   are registered with webauthn-rs's attested flow, which verifies the attestation
//!   statement up to one of the operator's attestation roots (`mfa.attestation_roots_file`)
//!   and accepts only the listed AAGUIDs.

use secrecy::SecretString;
use sha2::{Digest, Sha256};
use webauthn_rs::prelude::{
    AttestationCaListBuilder, AttestedPasskeyRegistration, AuthenticationResult,
    CreationChallengeResponse, CredentialID, DiscoverableAuthentication, Passkey,
    PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Url, Uuid, Webauthn, WebauthnBuilder, WebauthnError,
};

use crate::account::Account;
use crate::error::{Error, Result};
use crate::ids::AccountId;
use crate::secret::TokenHash;

pub use webauthn_rs::prelude::{
    PublicKeyCredential as AssertionResponse, RegisterPublicKeyCredential as RegistrationResponse,
};

/// How long a ceremony (registration or sign-in) may take.
pub const CEREMONY_LIFETIME: time::Duration = time::Duration::minutes(5);
/// Security keys one account may hold.
pub const MAX_KEYS: usize = 20;

/// What a stored ceremony is for; finishing checks the kind, so state made for one
/// ceremony cannot finish another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyKind {
    /// Adding a key to a signed-in account.
    Register,
    /// The second step of a sign-in (after the password).
    SecondStep,
    /// Signing in with a passkey alone.
    Passkey,
}

impl CeremonyKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            CeremonyKind::Register => "register",
            CeremonyKind::SecondStep => "second_step",
            CeremonyKind::Passkey => "passkey",
        }
    }
}

/// A ceremony's server-side state, kept by the hash of the token the client holds.
#[derive(Debug, Clone)]
pub struct CeremonyRecord {
    /// SHA-256 of the ceremony token.
    pub token_hash: TokenHash,
    /// What it is for.
    pub kind: CeremonyKind,
    /// Whose (none for a passkey sign-in: the key says who).
    pub user_id: Option<AccountId>,
    /// webauthn-rs's state, serialised (it holds the challenge).
    pub state: String,
    /// When it started.
    pub created_at: time::OffsetDateTime,
    /// When it stops working.
    pub expires_at: time::OffsetDateTime,
}

/// A started ceremony: the token naming it and the options for the browser.
pub struct CeremonyStart {
    /// The ceremony token (sent back with the browser's answer).
    pub token: SecretString,
    /// `PublicKeyCredentialCreationOptions` or `…RequestOptions`, as WebAuthn's JSON
    /// (`{"publicKey": {...}}`).
    pub options: serde_json::Value,
}

impl std::fmt::Debug for CeremonyStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CeremonyStart(..)")
    }
}

/// The relying party: Gatehouse as WebAuthn sees it.
pub struct RelyingParty {
    inner: Webauthn,
    origin: String,
    /// Root certificates (PEM, one per entry) that attest approved authenticator models.
    attestation_roots: Vec<String>,
}

/// Registration state as stored: webauthn-rs's, for the flow that made it, and the
/// approved models it was started under.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredRegistration {
    /// The approved models (AAGUIDs) at the start; empty for any.
    models: Vec<Uuid>,
    flow: RegistrationState,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(tag = "flow", content = "state", rename_all = "snake_case")]
enum RegistrationState {
    Passkey(PasskeyRegistration),
    Attested(AttestedPasskeyRegistration),
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty")
            .field("origin", &self.origin)
            .finish()
    }
}

impl RelyingParty {
    /// The relying party for `origin` (`https://sso.example.org`), named `name` in the
    /// browser's dialogs. The RP id is the origin's host. SECURITY: refused unless the
    /// origin is HTTPS. `any_port` accepts the host on any port (for `localhost` when no
    /// public origin is configured: tests and a first look).
    pub fn new(origin: &str, name: &str, any_port: bool) -> Result<Self> {
        let bad = |why: &str| Error::invalid("server.public_origin", why.to_owned());
        let url = Url::parse(origin).map_err(|_| bad("is not a URL"))?;
        if url.scheme() != "https" {
            return Err(bad(
                "must be an https:// origin for security keys (WebAuthn works only over HTTPS)",
            ));
        }
        let host = url
            .host_str()
            .ok_or_else(|| bad("has no host name"))?
            .to_owned();
        let inner = WebauthnBuilder::new(&host, &url)
            .map_err(|e| bad(&format!("is not usable as a WebAuthn relying party: {e}")))?
            .rp_name(name)
            .allow_any_port(any_port)
            .timeout(std::time::Duration::from_secs(
                u64::try_from(CEREMONY_LIFETIME.whole_seconds()).unwrap_or(300),
            ))
            .build()
            .map_err(|e| bad(&format!("is not usable as a WebAuthn relying party: {e}")))?;
        Ok(RelyingParty {
            inner,
            origin: url.origin().ascii_serialization(),
            attestation_roots: Vec::new(),
        })
    }

    /// Adds the roots that attest approved authenticator models: PEM text with one or
    /// more certificates. Each must parse.
    pub fn with_attestation_roots(mut self, pem: &str) -> Result<Self> {
        let roots: Vec<String> = pem
            .split_inclusive("-----END CERTIFICATE-----")
            .map(str::trim)
            .filter(|b| b.contains("-----BEGIN CERTIFICATE-----"))
            .map(str::to_owned)
            .collect();
        if roots.is_empty() {
            return Err(Error::invalid(
                "mfa.attestation_roots_file",
                "holds no PEM certificate",
            ));
        }
        let mut subjects = std::collections::BTreeSet::new();
        for root in &roots {
            let mut one = AttestationCaListBuilder::new();
            one.insert_device_pem(
                root.as_bytes(),
                Uuid::nil(),
                String::new(),
                Default::default(),
            )
            .map_err(|_| {
                Error::invalid(
                    "mfa.attestation_roots_file",
                    "holds a certificate that does not parse",
                )
            })?;
            let list = one.build();
            let subject = list
                .cas()
                .values()
                .next()
                .map(|ca| ca.ca().tbs_certificate().subject().to_string())
                .unwrap_or_default();
            // webauthn-rs looks a chain's root up by name and tries only one root per
            // name: a second root of the same name would silently never verify a key.
            if !subjects.insert(subject.clone()) {
                return Err(Error::invalid(
                    "mfa.attestation_roots_file",
                    format!(
                        "holds two roots named {subject:?}; keys are checked against only one \
                         root per name, so keep one"
                    ),
                ));
            }
        }
        self.attestation_roots = roots;
        Ok(self)
    }

    /// The origin ceremonies must come from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The WebAuthn user handle of an account: derived from its id, so it carries no
    /// name or address, and is the same on every node.
    pub fn user_handle(user: &AccountId) -> Uuid {
        let digest = Sha256::new()
            .chain_update(b"gatehouse-webauthn-user-v1\0")
            .chain_update(user.as_str().as_bytes())
            .finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        Uuid::from_bytes(bytes)
    }

    /// Starts adding a key for `user`, excluding the keys it already has. With
    /// `approved_models` (AAGUIDs), only those models are accepted, and their attestation
    /// must chain to one of the attestation roots.
    pub fn start_registration(
        &self,
        user: &Account,
        existing: &[Passkey],
        approved_models: &[Uuid],
    ) -> Result<(serde_json::Value, String)> {
        let exclude: Vec<CredentialID> = existing.iter().map(|k| k.cred_id().clone()).collect();
        let handle = Self::user_handle(&user.id);
        let (ccr, state): (CreationChallengeResponse, RegistrationState) =
            if approved_models.is_empty() {
                let (ccr, st) = self
                    .inner
                    .start_passkey_registration(
                        handle,
                        &user.username,
                        &user.display_name,
                        Some(exclude),
                    )
                    .map_err(Error::internal)?;
                (ccr, RegistrationState::Passkey(st))
            } else {
                if self.attestation_roots.is_empty() {
                    return Err(Error::Conflict(
                        "your organisation accepts only approved security key models, but this \
                         server has no attestation roots to check them against \
                         (mfa.attestation_roots_file); ask your administrator"
                            .into(),
                    ));
                }
                let mut cas = AttestationCaListBuilder::new();
                for root in &self.attestation_roots {
                    for model in approved_models {
                        cas.insert_device_pem(
                            root.as_bytes(),
                            *model,
                            model.to_string(),
                            Default::default(),
                        )
                        .map_err(|e| Error::internal(format!("{e:?}")))?;
                    }
                }
                let (ccr, st) = self
                    .inner
                    .start_attested_passkey_registration(
                        handle,
                        &user.username,
                        &user.display_name,
                        Some(exclude),
                        cas.build(),
                        None,
                    )
                    .map_err(Error::internal)?;
                (ccr, RegistrationState::Attested(st))
            };
        let mut options = serde_json::to_value(&ccr).map_err(Error::internal)?;
        // Ask for a discoverable credential, so the key can also sign in on its own.
        if let Some(sel) = options
            .pointer_mut("/publicKey/authenticatorSelection")
            .and_then(serde_json::Value::as_object_mut)
        {
            sel.insert("residentKey".into(), "preferred".into());
        }
        let stored = StoredRegistration {
            models: approved_models.to_vec(),
            flow: state,
        };
        Ok((
            options,
            serde_json::to_string(&stored).map_err(Error::internal)?,
        ))
    }

    /// Verifies a registration answer against its state. SECURITY: `approved_models`
    /// are the organisation's now; a ceremony started under another list is stale (a key
    /// must not slip in under the rules from before a change).
    pub fn finish_registration(
        &self,
        answer: &RegisterPublicKeyCredential,
        state: &str,
        approved_models: &[Uuid],
    ) -> std::result::Result<Passkey, Refusal> {
        let stored: StoredRegistration = serde_json::from_str(state).map_err(Refusal::internal)?;
        let mut then = stored.models.clone();
        let mut now = approved_models.to_vec();
        then.sort();
        now.sort();
        if then != now {
            return Err(Refusal::Stale);
        }
        match stored.flow {
            RegistrationState::Passkey(st) => self
                .inner
                .finish_passkey_registration(answer, &st)
                .map_err(Refusal::from),
            RegistrationState::Attested(st) => self
                .inner
                .finish_attested_passkey_registration(answer, &st)
                .map(Passkey::from)
                .map_err(Refusal::from),
        }
    }

    /// Starts the second step of a sign-in with `keys`.
    pub fn start_authentication(&self, keys: &[Passkey]) -> Result<(serde_json::Value, String)> {
        let (rcr, state): (RequestChallengeResponse, PasskeyAuthentication) = self
            .inner
            .start_passkey_authentication(keys)
            .map_err(Error::internal)?;
        Ok((
            serde_json::to_value(&rcr).map_err(Error::internal)?,
            serde_json::to_string(&state).map_err(Error::internal)?,
        ))
    }

    /// Verifies a sign-in answer against its state.
    pub fn finish_authentication(
        &self,
        answer: &PublicKeyCredential,
        state: &str,
    ) -> std::result::Result<AuthenticationResult, Refusal> {
        let state: PasskeyAuthentication =
            serde_json::from_str(state).map_err(Refusal::internal)?;
        self.inner
            .finish_passkey_authentication(answer, &state)
            .map_err(Refusal::from)
    }

    /// Starts a passkey sign-in (no account yet: the key says whose it is).
    pub fn start_passkey_sign_in(&self) -> Result<(serde_json::Value, String)> {
        let (rcr, state): (RequestChallengeResponse, DiscoverableAuthentication) = self
            .inner
            .start_discoverable_authentication()
            .map_err(Error::internal)?;
        let mut options = serde_json::to_value(&rcr).map_err(Error::internal)?;
        // The sign-in page asks with a button, not the autofill ("conditional") UI.
        if let Some(o) = options.as_object_mut() {
            o.remove("mediation");
        }
        Ok((
            options,
            serde_json::to_string(&state).map_err(Error::internal)?,
        ))
    }

    /// The user handle and credential id a passkey answer claims (not yet verified).
    pub fn identify(answer: &PublicKeyCredential) -> Option<(Uuid, Vec<u8>)> {
        let id = answer.get_credential_id().to_vec();
        let user = answer
            .get_user_unique_id()
            .and_then(|b| Uuid::from_slice(b).ok())?;
        Some((user, id))
    }

    /// Verifies a passkey sign-in answer against its state and the key it names.
    pub fn finish_passkey_sign_in(
        &self,
        answer: &PublicKeyCredential,
        state: &str,
        key: &Passkey,
    ) -> std::result::Result<AuthenticationResult, Refusal> {
        let state: DiscoverableAuthentication =
            serde_json::from_str(state).map_err(Refusal::internal)?;
        self.inner
            .finish_discoverable_authentication_v2(answer, state, key)
            .map_err(Refusal::from)
    }
}

/// Why the relying party refused an answer.
#[derive(Debug)]
pub enum Refusal {
    /// A non-zero signature counter did not increase: the key may have been cloned.
    CounterRegression,
    /// Anything else wrong with the answer (origin, RP id, type, challenge, flags,
    /// signature); the text is for the audit trail.
    Invalid(String),
    /// Our own state could not be read.
    Internal(String),
    /// The rules changed since the ceremony started (approved models): start again.
    Stale,
}

impl Refusal {
    fn internal(e: impl std::fmt::Display) -> Self {
        Refusal::Internal(e.to_string())
    }
}

impl From<WebauthnError> for Refusal {
    fn from(e: WebauthnError) -> Self {
        match e {
            WebauthnError::CredentialPossibleCompromise => Refusal::CounterRegression,
            other => Refusal::Invalid(other.to_string()),
        }
    }
}

/// The base64url form of a credential id, as stored and as the browser names it.
pub fn credential_id_text(id: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id)
}

/// A stored key's webauthn-rs form.
pub fn passkey_from_stored(json: &str) -> Result<Passkey> {
    serde_json::from_str(json).map_err(|_| Error::internal("a stored security key cannot be read"))
}

/// A key's webauthn-rs form, for the store.
pub fn passkey_to_stored(key: &Passkey) -> Result<String> {
    serde_json::to_string(key).map_err(Error::internal)
}

/// Whether the browser said the new credential is discoverable (`credProps.rk`).
/// Unsigned: it only decides whether "Sign in with a passkey" is offered for the key;
/// a key that is not discoverable simply cannot answer a passkey sign-in.
pub fn reported_discoverable(answer: &RegisterPublicKeyCredential) -> bool {
    answer
        .extensions
        .cred_props
        .as_ref()
        .is_some_and(|p| p.rk == Some(true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relying_party_must_be_https() {
        assert!(RelyingParty::new("http://sso.example.org", "Gatehouse", false).is_err());
        assert!(RelyingParty::new("not a url", "Gatehouse", false).is_err());
        let rp = RelyingParty::new("https://sso.example.org", "Gatehouse", false).expect("rp");
        assert_eq!(rp.origin(), "https://sso.example.org");
    }

    #[test]
    fn user_handles_are_stable_and_distinct() {
        let a = AccountId("usr_a".into());
        let b = AccountId("usr_b".into());
        assert_eq!(RelyingParty::user_handle(&a), RelyingParty::user_handle(&a));
        assert_ne!(RelyingParty::user_handle(&a), RelyingParty::user_handle(&b));
    }

    #[test]
    fn registration_options_ask_for_user_verification_and_a_discoverable_key() {
        let rp = RelyingParty::new("https://sso.example.org", "Gatehouse", false).expect("rp");
        let user = Account {
            id: AccountId("usr_x".into()),
            org_id: crate::ids::OrgId("org_x".into()),
            username: "alice".into(),
            email: "a@example.org".into(),
            display_name: "Alice".into(),
            disabled: false,
            role: crate::account::Role::Member,
            operator: false,
            kind: crate::account::AccountKind::Person,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        };
        let (options, state) = rp.start_registration(&user, &[], &[]).expect("start");
        let sel = &options["publicKey"]["authenticatorSelection"];
        assert_eq!(sel["residentKey"], "preferred");
        assert_eq!(sel["userVerification"], "required");
        assert_eq!(options["publicKey"]["rp"]["id"], "sso.example.org");
        assert!(!state.is_empty());
        let (auth, _) = rp.start_passkey_sign_in().expect("passkey");
        assert!(auth.get("mediation").is_none());
        assert_eq!(auth["publicKey"]["userVerification"], "required");
        // Approved models need attestation roots to check them against.
        let model = Uuid::from_u128(0xcb69481e_8ff7_4039_93ec_0a2729a154a8);
        assert!(matches!(
            rp.start_registration(&user, &[], &[model]),
            Err(Error::Conflict(_))
        ));
    }

    #[test]
    fn attestation_roots_must_be_certificates() {
        let rp = RelyingParty::new("https://sso.example.org", "Gatehouse", false).expect("rp");
        assert!(rp.with_attestation_roots("not a certificate").is_err());
    }
}
