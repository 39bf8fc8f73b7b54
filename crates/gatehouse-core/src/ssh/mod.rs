//! SSH keys: the public keys that log users in to clusters (and, next, the sealed
//! private keys the platform signs with on their behalf).

pub mod public_key;

pub use public_key::{KeyType, MAX_INPUT_LEN, SshKeyError, SshKeyName, SshKeyRecord, SshPublicKey};
