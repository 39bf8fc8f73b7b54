//! P-256 keys whose private scalar OpenSSH writes in fewer than 32 bytes.
//!
//! OpenSSH stores an ECDSA private scalar as an `mpint`, which drops leading zero
//! bytes: about one P-256 key in 512 has a scalar of 31 bytes (or, rarer still,
//! fewer). `ssh-key` 0.7.0-rc.11 (and rc.12, the newest release) refuses any P-256
//! scalar shorter than 32 bytes with a length error (`MIN_SIZE = 32` in
//! `EcdsaPrivateKey::decode`, where the minimum should be the curve's own), so such a
//! key, written by `ssh-keygen` like any other, read as damaged, or with a
//! passphrase as a wrong passphrase.
//!
//! Written by hand because no crate covers it: this module rewrites the key's private
//! section with the scalar left-padded to 32 bytes (the same number) and hands the
//! result, unencrypted, back to `ssh-key`, which does all the reading and checking.
//! A passphrase-protected key's section is decrypted first with `ssh-key`'s own KDF
//! and cipher. It is tried only after `ssh-key` refused a P-256 key, so every other
//! key goes through the crate alone. Remove it once `ssh-key` accepts short scalars.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use russh::keys::ssh_encoding::{Decode, Encode};
use russh::keys::ssh_key::cipher::Tag;
use russh::keys::ssh_key::{Algorithm, EcdsaCurve, PrivateKey};
use zeroize::Zeroizing;

/// The OpenSSH private key container's leading bytes.
const MAGIC: &[u8] = b"openssh-key-v1\0";
/// The one key type this applies to.
const P256: &str = "ecdsa-sha2-nistp256";
/// The length of a P-256 scalar.
const SCALAR_LEN: usize = 32;
/// Private sections of unencrypted keys are padded to this block size.
const BLOCK: usize = 8;

/// The key in an OpenSSH private key file (`text`, normalised, its `-----END` line
/// checked) whose P-256 scalar is shorter than 32 bytes, read through `ssh-key` after
/// padding that scalar; decrypted with `passphrase` if it is protected. `None` if the
/// file is anything else, or the passphrase does not decrypt it.
pub(super) fn read(text: &str, passphrase: Option<&str>) -> Option<PrivateKey> {
    let container = Container::read(text)?;
    let plain = match (container.cipher.as_str(), passphrase) {
        ("none", _) => container.private.clone(),
        (_, None) => return None,
        (_, Some(passphrase)) => container.decrypt(text, passphrase)?,
    };
    let padded = pad_scalar(&plain)?;
    let rewrapped = container.unencrypted(&padded)?;
    PrivateKey::from_openssh(rewrapped.as_bytes()).ok()
}

/// The parts of an OpenSSH private key file that matter here.
struct Container {
    /// `none`, or the cipher the private section is encrypted with.
    cipher: String,
    /// The public key blob.
    public: Vec<u8>,
    /// The private section, as stored (encrypted unless `cipher` is `none`).
    private: Zeroizing<Vec<u8>>,
    /// An AEAD cipher's tag, stored after the private section.
    tag: Vec<u8>,
}

impl Container {
    /// Reads one key's container from the file's text.
    fn read(text: &str) -> Option<Container> {
        let body: Zeroizing<String> =
            Zeroizing::new(text.lines().filter(|l| !l.starts_with("-----")).collect());
        let bytes = Zeroizing::new(STANDARD.decode(body.as_bytes()).ok()?);
        let mut r = bytes.strip_prefix(MAGIC)?;
        let cipher = String::decode(&mut r).ok()?;
        let _kdf_name = String::decode(&mut r).ok()?;
        let _kdf_options = Vec::<u8>::decode(&mut r).ok()?;
        if u32::decode(&mut r).ok()? != 1 {
            return None;
        }
        let public = Vec::<u8>::decode(&mut r).ok()?;
        let private = Zeroizing::new(Vec::<u8>::decode(&mut r).ok()?);
        Some(Container {
            cipher,
            public,
            private,
            tag: r.to_vec(),
        })
    }

    /// The private section decrypted with the passphrase, through `ssh-key`'s KDF and
    /// cipher (which read the rest of the file: only its private section is at fault).
    fn decrypt(&self, text: &str, passphrase: &str) -> Option<Zeroizing<Vec<u8>>> {
        let key = PrivateKey::from_openssh(text.as_bytes()).ok()?;
        if key.algorithm()
            != (Algorithm::Ecdsa {
                curve: EcdsaCurve::NistP256,
            })
        {
            return None;
        }
        let cipher = key.cipher();
        let (k, iv) = key.kdf().derive_key_and_iv(cipher, passphrase).ok()?;
        let tag = if cipher.has_tag() {
            Some(Tag::try_from(self.tag.as_slice()).ok()?)
        } else {
            None
        };
        let mut buffer = self.private.clone();
        cipher.decrypt(&k, &iv, &mut buffer, tag).ok()?;
        Some(buffer)
    }

    /// An unencrypted OpenSSH private key file holding this public key and the given
    /// private section.
    fn unencrypted(&self, private: &[u8]) -> Option<Zeroizing<String>> {
        let mut out = Zeroizing::new(MAGIC.to_vec());
        "none".encode(&mut *out).ok()?;
        "none".encode(&mut *out).ok()?;
        b"".as_slice().encode(&mut *out).ok()?;
        1u32.encode(&mut *out).ok()?;
        self.public.encode(&mut *out).ok()?;
        private.encode(&mut *out).ok()?;
        let b64 = Zeroizing::new(STANDARD.encode(&*out));
        let mut pem = Zeroizing::new(String::from("-----BEGIN OPENSSH PRIVATE KEY-----\n"));
        for line in b64.as_bytes().chunks(70) {
            pem.push_str(std::str::from_utf8(line).ok()?);
            pem.push('\n');
        }
        pem.push_str("-----END OPENSSH PRIVATE KEY-----\n");
        Some(pem)
    }
}

/// The decrypted private section of a P-256 key with its scalar left-padded to 32
/// bytes, and padded again to the unencrypted block size. `None` unless it is a
/// P-256 key whose scalar is short, with matching check numbers (a wrong
/// passphrase decrypts to numbers that differ).
fn pad_scalar(plain: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let mut r = plain;
    let check = u32::decode(&mut r).ok()?;
    if u32::decode(&mut r).ok()? != check {
        return None;
    }
    if String::decode(&mut r).ok()? != P256 {
        return None;
    }
    let curve = String::decode(&mut r).ok()?;
    let point = Vec::<u8>::decode(&mut r).ok()?;
    let scalar = Zeroizing::new(Vec::<u8>::decode(&mut r).ok()?);
    let comment = String::decode(&mut r).ok()?;
    if scalar.is_empty() || scalar.len() >= SCALAR_LEN {
        return None;
    }
    let mut padded = Zeroizing::new(vec![0u8; SCALAR_LEN - scalar.len()]);
    padded.extend_from_slice(&scalar);

    let mut out = Zeroizing::new(Vec::with_capacity(plain.len() + BLOCK));
    check.encode(&mut *out).ok()?;
    check.encode(&mut *out).ok()?;
    P256.encode(&mut *out).ok()?;
    curve.encode(&mut *out).ok()?;
    point.encode(&mut *out).ok()?;
    padded.encode(&mut *out).ok()?;
    comment.encode(&mut *out).ok()?;
    // Padding bytes are 1, 2, 3, … up to the block size.
    let mut pad = 1u8;
    while out.len() % BLOCK != 0 {
        out.push(pad);
        pad += 1;
    }
    Some(out)
}
