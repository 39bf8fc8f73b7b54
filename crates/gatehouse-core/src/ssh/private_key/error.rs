//! Why an uploaded private key was refused, in words meant for the person who sent it.

use super::{MAX_INPUT_LEN, MAX_PASSPHRASE_LEN};
use crate::ssh::public_key::{MAX_RSA_BITS, MIN_RSA_BITS};

/// Why a private key was refused. The messages are shown to end users as they are;
/// none of them repeats any part of the key or the passphrase.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SshPrivateKeyError {
    /// Nothing but whitespace was given.
    #[error("no private key was given; paste the private key file, e.g. ~/.ssh/id_ed25519")]
    Empty,
    /// The input is longer than [`MAX_INPUT_LEN`] bytes.
    #[error(
        "the private key is too long ({len} bytes; at most {max} are accepted); paste a single \
         private key file",
        max = MAX_INPUT_LEN
    )]
    TooLong {
        /// The input's length in bytes.
        len: usize,
    },
    /// A public key (a `.pub` line, or SSH2/PEM public key text) was pasted.
    #[error("this is a public key; paste the private key file, e.g. ~/.ssh/id_ed25519")]
    PublicKey,
    /// An OpenSSH certificate was pasted: it holds no private key.
    #[error(
        "this is an SSH certificate, which holds no private key; paste the private key file, \
         e.g. ~/.ssh/id_ed25519"
    )]
    Certificate,
    /// A PuTTY `.ppk` file.
    #[error(
        "PuTTY key files are not accepted; in PuTTYgen choose Conversions → Export OpenSSH key \
         and paste that file"
    )]
    Putty,
    /// Text that is no key file at all.
    #[error(
        "this is not a private key file; paste the whole file, from its -----BEGIN line to its \
         -----END line"
    )]
    NotAKey,
    /// A key file whose contents cannot be read (cut short, altered, or junk inside).
    #[error(
        "the private key is damaged or cut short; paste the whole file, from its -----BEGIN line \
         to its -----END line, without changing it"
    )]
    Damaged,
    /// A DSA key.
    #[error("DSA keys are not accepted; generate an Ed25519 key with \"ssh-keygen -t ed25519\"")]
    Dsa,
    /// An RSA key smaller than [`MIN_RSA_BITS`].
    #[error(
        "this RSA key has only {bits} bits, and at least {min} are required; generate an Ed25519 \
         key with \"ssh-keygen -t ed25519\" (or an RSA key with \"ssh-keygen -t rsa -b 3072\")",
        min = MIN_RSA_BITS
    )]
    RsaTooSmall {
        /// The modulus size.
        bits: u32,
    },
    /// An RSA key larger than [`MAX_RSA_BITS`].
    #[error(
        "this RSA key has {bits} bits, more than the {max} that SSH supports; generate an Ed25519 \
         key with \"ssh-keygen -t ed25519\"",
        max = MAX_RSA_BITS
    )]
    RsaTooLarge {
        /// The modulus size.
        bits: u32,
    },
    /// A key held on a FIDO security key: the file holds only a handle, and signing
    /// needs the security key itself.
    #[error(
        "keys held on a security key (sk-…) cannot be stored here: their private half never \
         leaves the security key; use an Ed25519, ECDSA or RSA key file"
    )]
    SecurityKey,
    /// Any other algorithm.
    #[error(
        "this key type is not accepted; use Ed25519 (recommended), ECDSA P-256/384/521, or RSA \
         of at least 2048 bits"
    )]
    UnsupportedType,
    /// The key is encrypted in a way this reader does not know (e.g. an encrypted EC key
    /// in the old PEM format, or a cipher other than AES-128-CBC there).
    #[error(
        "this key's encryption is not supported; rewrite it in the OpenSSH format with \
         \"ssh-keygen -p -f <file>\" and paste that file"
    )]
    UnsupportedEncryption,
    /// The key is protected by a passphrase and none was given. The web and CLI show
    /// a passphrase field (or prompt) on this one: its field is `passphrase`.
    #[error(
        "this key is protected by a passphrase; give the passphrase (it is used once to decrypt \
         the key and is never stored)"
    )]
    PassphraseNeeded,
    /// The passphrase does not decrypt the key.
    #[error("the passphrase does not decrypt this key; check it and try again")]
    WrongPassphrase,
    /// The passphrase is longer than [`MAX_PASSPHRASE_LEN`] bytes.
    #[error("the passphrase is too long (at most {max} bytes)", max = MAX_PASSPHRASE_LEN)]
    PassphraseTooLong,
    /// The key's passphrase protection asks for more bcrypt-pbkdf rounds than the
    /// server spends on one upload.
    #[error(
        "this key's passphrase protection uses {rounds} key-derivation rounds, more than the \
         {max} this server accepts; rewrite it with fewer: ssh-keygen -p -a 100 -f <file>",
        max = super::MAX_KDF_ROUNDS
    )]
    KdfTooSlow {
        /// The rounds the key asks for.
        rounds: u32,
    },
}

impl SshPrivateKeyError {
    /// The request field at fault: `passphrase` for the passphrase refusals (so a
    /// client knows to ask for one), `private_key` for everything else.
    pub fn field(&self) -> &'static str {
        match self {
            SshPrivateKeyError::PassphraseNeeded
            | SshPrivateKeyError::WrongPassphrase
            | SshPrivateKeyError::PassphraseTooLong => "passphrase",
            _ => "private_key",
        }
    }
}

impl From<SshPrivateKeyError> for crate::error::Error {
    fn from(err: SshPrivateKeyError) -> Self {
        crate::error::Error::Invalid {
            field: err.field(),
            reason: err.to_string(),
        }
    }
}
