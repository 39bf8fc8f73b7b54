//! SSH keys: the public keys that log users in to clusters, and the sealed private keys
//! the platform signs with on their behalf.

pub mod private_key;
pub mod public_key;

pub use private_key::{
    PinnedHostKey, SshPrivateKey, SshPrivateKeyError, SshPrivateKeyName, SshPrivateKeyRecord,
};
pub use public_key::{KeyType, MAX_INPUT_LEN, SshKeyError, SshKeyName, SshKeyRecord, SshPublicKey};
