//! Why a pasted public key was refused, in words meant for the person who pasted it.

use std::fmt;

use super::{KeyType, MAX_INPUT_LEN, MAX_RSA_BITS, MIN_RSA_BITS};

/// Why a pasted key was refused. The messages are shown to end users as they are.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SshKeyError {
    /// Nothing but whitespace was given.
    #[error("no key was given; paste the contents of your .pub file, e.g. ~/.ssh/id_ed25519.pub")]
    Empty,
    /// The input is longer than [`MAX_INPUT_LEN`] bytes.
    #[error(
        "the key is too long ({len} bytes; at most {max} are accepted); paste a single public key",
        max = MAX_INPUT_LEN
    )]
    TooLong {
        /// The input's length in bytes.
        len: usize,
    },
    /// A private key was pasted instead of the public one.
    #[error("this is a private key; paste the contents of the .pub file")]
    PrivateKey,
    /// A public key in the SSH2 (RFC 4716) or PEM format.
    #[error(
        "this key is in the SSH2 or PEM format; convert it with \"ssh-keygen -i -f <file>\" \
         (add \"-m PKCS8\" for a PEM key) and paste the single line it prints"
    )]
    ForeignFormat,
    /// A newline, tab or other control character inside the key.
    #[error(
        "the key must be a single line without tabs, line breaks or other control characters; \
         paste exactly one line of the .pub file"
    )]
    ControlCharacter,
    /// The line starts with `authorized_keys` options.
    #[error(
        "authorized_keys options such as command=\"...\", from=\"...\" or no-pty are not allowed; \
         paste only the key, starting with its type (e.g. ssh-ed25519)"
    )]
    OptionsNotAllowed,
    /// The line starts with the base64 data: the type in front of it is missing.
    #[error(
        "the key type is missing; paste the whole line of the .pub file, starting with its type \
         (e.g. ssh-ed25519)"
    )]
    MissingKeyType,
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
    /// A type other than the accepted ones, certificates included. Carries the start of
    /// the type as given.
    #[error(
        "\"{0}\" is not a supported key type; use ssh-ed25519 (recommended), \
         ecdsa-sha2-nistp256/384/521, ssh-rsa, or a security key (sk-ssh-ed25519@openssh.com, \
         sk-ecdsa-sha2-nistp256@openssh.com)"
    )]
    UnsupportedType(String),
    /// Nothing follows the type.
    #[error("the key data after \"{0}\" is missing; paste the whole line of the .pub file")]
    MissingKeyData(KeyType),
    /// The key data is not canonical, padded, standard base64.
    #[error(
        "the key data is not valid base64; paste the line of the .pub file without changing it"
    )]
    InvalidBase64,
    /// The type in front of the blob differs from the type inside it.
    #[error(
        "the line says {declared} but the key inside is \"{inner}\"; paste the line of the .pub \
         file without changing it"
    )]
    TypeMismatch {
        /// The type in front of the blob.
        declared: KeyType,
        /// The start of the type inside the blob, made printable.
        inner: String,
    },
    /// The blob's length or content does not match its type.
    #[error(
        "the key data does not match the {key_type} type: {problem}; paste the line of the .pub \
         file without changing it"
    )]
    Malformed {
        /// The key's type.
        key_type: KeyType,
        /// What is wrong with the blob.
        problem: BlobProblem,
    },
}

impl From<SshKeyError> for crate::error::Error {
    fn from(err: SshKeyError) -> Self {
        crate::error::Error::Invalid {
            field: "key",
            reason: err.to_string(),
        }
    }
}

/// What is wrong inside a blob whose type is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobProblem {
    /// A field is cut short, or missing.
    Truncated,
    /// Bytes follow the last field.
    TrailingBytes,
    /// The key or curve point has the wrong length.
    WrongKeyLength {
        /// The length the type requires.
        expected: usize,
        /// The length found.
        actual: usize,
    },
    /// The curve point is not an uncompressed (`0x04`) point.
    PointNotUncompressed,
    /// The curve named inside the blob is not the type's curve.
    CurveMismatch,
    /// An RSA number is negative.
    NegativeNumber,
    /// The RSA exponent or modulus is empty or zero.
    MissingNumber,
    /// The security key's application string contains a NUL byte.
    InvalidApplication,
}

impl fmt::Display for BlobProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlobProblem::Truncated => f.write_str("it is cut short"),
            BlobProblem::TrailingBytes => f.write_str("it has extra bytes at the end"),
            BlobProblem::WrongKeyLength { expected, actual } => {
                write!(f, "the key is {actual} bytes long instead of {expected}")
            }
            BlobProblem::PointNotUncompressed => {
                f.write_str("the curve point is not in uncompressed form")
            }
            BlobProblem::CurveMismatch => f.write_str("it names a different curve"),
            BlobProblem::NegativeNumber => f.write_str("an RSA number is negative"),
            BlobProblem::MissingNumber => f.write_str("the RSA exponent or modulus is missing"),
            BlobProblem::InvalidApplication => {
                f.write_str("the security key's application name is invalid")
            }
        }
    }
}
