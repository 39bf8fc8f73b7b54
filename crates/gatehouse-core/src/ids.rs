//! Opaque random identifiers for stored objects.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// A fresh random id (96 bits, so ids cannot be enumerated).
            pub fn generate() -> Self {
                $name(format!(concat!($prefix, "_{}"), hex::encode(crate::secret::random_bytes::<12>())))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// Identifies an account.
    AccountId,
    "usr"
);
id_type!(
    /// Identifies an organisation.
    OrgId,
    "org"
);
id_type!(
    /// Identifies a session (not its secret: that is only ever hashed).
    SessionId,
    "ses"
);
id_type!(
    /// Identifies an API key.
    ApiKeyId,
    "key"
);
id_type!(
    /// Identifies a bearer token (its `jti`).
    TokenId,
    "tok"
);
id_type!(
    /// Identifies an SSH public key.
    SshKeyId,
    "ssh"
);
id_type!(
    /// Identifies a stored (sealed) SSH private key.
    SshPrivateKeyId,
    "spk"
);
id_type!(
    /// Identifies a second factor (an authenticator app; security keys later).
    MfaFactorId,
    "mfa"
);
id_type!(
    /// Identifies a group an identity provider keeps through SCIM.
    ScimGroupId,
    "grp"
);
id_type!(
    /// Identifies an audit record.
    AuditId,
    "aud"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_carry_their_prefix_and_differ() {
        let a = AccountId::generate();
        assert!(a.as_str().starts_with("usr_"));
        assert_eq!(a.as_str().len(), 4 + 24);
        assert_ne!(a, AccountId::generate());
    }
}
