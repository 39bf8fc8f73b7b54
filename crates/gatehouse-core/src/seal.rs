//! Envelope encryption for secrets Gatehouse must be able to read back (signing keys,
//! and later SSH private keys and TOTP seeds).
//!
//! Each record gets its own random 256-bit data key. The record is sealed with
//! AES-256-GCM under that data key, and the data key is wrapped (AES-256-GCM again) by a
//! master key that carries an id, so master keys can be rotated: new records use the
//! first (active) master key, and older ones stay readable as long as their master key is
//! still listed. The additional authenticated data binds every record to its purpose, id
//! and owner, so a sealed value copied onto another row fails to open.
//!
//! Sealed text: `gh1.<master key id>.<wrapped data key>.<ciphertext>`, the last two
//! base64url (nonce ‖ ciphertext ‖ tag).

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::secret::random_bytes;

const VERSION: &str = "gh1";

/// A master key: an id and 256 bits. `Debug` never shows the key.
pub struct MasterKey {
    id: String,
    key: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl MasterKey {
    /// A new random master key with a random id.
    pub fn generate() -> Self {
        MasterKey {
            id: format!("mk-{}", hex::encode(random_bytes::<4>())),
            key: Zeroizing::new(random_bytes::<32>()),
        }
    }

    /// The key's id (stored beside every record it wraps).
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// The master keys in use: the first seals, all of them open.
#[derive(Debug)]
pub struct Keyring {
    keys: Vec<MasterKey>,
}

impl Keyring {
    /// Parses the key file: one key per line, `<id> <base64 of 32 bytes>`; blank lines and
    /// `#` comments are ignored; the first key is the active one.
    pub fn parse(text: &str) -> Result<Self> {
        let mut keys = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = || Error::invalid("master_key_file", format!("line {} is malformed", n + 1));
            let (id, b64) = line.split_once(char::is_whitespace).ok_or_else(bad)?;
            let bytes = Zeroizing::new(
                base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|_| bad())?,
            );
            let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| bad())?;
            if id.is_empty() || id.contains('.') || keys.iter().any(|k: &MasterKey| k.id == id) {
                return Err(bad());
            }
            keys.push(MasterKey {
                id: id.to_owned(),
                key: Zeroizing::new(key),
            });
        }
        if keys.is_empty() {
            return Err(Error::invalid("master_key_file", "holds no key"));
        }
        Ok(Keyring { keys })
    }

    /// The key file text for one key.
    pub fn file_text(key: &MasterKey) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "# Gatehouse master key: it unwraps every sealed secret in the store.\n\
             # Keep it private and backed up; every node must hold the same file.\n\
             # To rotate, put a new key on the first line and keep the old one below it.\n\
             {} {}\n",
            key.id,
            base64::engine::general_purpose::STANDARD.encode(key.key.as_slice())
        ))
    }

    /// A keyring of one key (tests).
    pub fn single(key: MasterKey) -> Self {
        Keyring { keys: vec![key] }
    }

    /// The key file text for the whole ring, active key first.
    pub fn to_file_text(&self) -> Zeroizing<String> {
        let mut text = String::from(
            "# Gatehouse master keys: they unwrap every sealed secret in the store.\n\
             # Keep them private and backed up; every node must hold the same file.\n\
             # The first key seals; the others only open. `gatehouse admin rotate-master-key`\n\
             # adds and retires keys.\n",
        );
        for k in &self.keys {
            text.push_str(&k.id);
            text.push(' ');
            text.push_str(&base64::engine::general_purpose::STANDARD.encode(k.key.as_slice()));
            text.push('\n');
        }
        Zeroizing::new(text)
    }

    /// The ids of the keys, active first.
    pub fn ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }

    /// Whether a key with this id is listed.
    pub fn knows(&self, id: &str) -> bool {
        self.keys.iter().any(|k| k.id == id)
    }

    /// This ring with `key` added as the active one (the others still open).
    pub fn with_active(mut self, key: MasterKey) -> Self {
        self.keys.insert(0, key);
        self
    }

    /// This ring without the key `id`; refused for the active key and for an id that is
    /// not listed.
    pub fn without(mut self, id: &str) -> Result<Self> {
        match self.keys.iter().position(|k| k.id == id) {
            None => Err(Error::invalid(
                "master_key",
                format!("no master key {id} in the key file"),
            )),
            Some(0) => Err(Error::invalid(
                "master_key",
                format!("{id} is the active master key; rotate to a new one first"),
            )),
            Some(i) => {
                self.keys.remove(i);
                Ok(self)
            }
        }
    }

    /// Re-wraps a sealed value's data key under the active master key, leaving the
    /// sealed body as it is; `None` when it is wrapped by the active key already. The
    /// context must be the one the value was sealed with.
    pub fn rewrap(&self, sealed: &str, context: &str) -> Result<Option<String>> {
        let (id, wrapped, body) = split(sealed)?;
        let active = self
            .keys
            .first()
            .ok_or_else(|| Error::internal("no master key"))?;
        if id == active.id {
            return Ok(None);
        }
        let data_key = self.unwrap_data_key(id, wrapped, context)?;
        let rewrapped = encrypt(
            &active.key,
            data_key.as_slice(),
            &wrap_aad(&active.id, context),
        )?;
        Ok(Some(format!(
            "{VERSION}.{}.{}.{body}",
            active.id,
            B64.encode(rewrapped)
        )))
    }

    fn unwrap_data_key(
        &self,
        id: &str,
        wrapped: &str,
        context: &str,
    ) -> Result<Zeroizing<[u8; 32]>> {
        let master = self.keys.iter().find(|k| k.id == id).ok_or_else(|| {
            Error::internal(format!("master key {id} is not in the master key file"))
        })?;
        let wrapped = B64
            .decode(wrapped)
            .map_err(|_| Error::internal("sealed value cannot be opened"))?;
        let data_key = decrypt(&master.key, wrapped, &wrap_aad(id, context))?;
        Ok(Zeroizing::new(data_key.as_slice().try_into().map_err(
            |_| Error::internal("sealed value cannot be opened"),
        )?))
    }

    /// The active key's id.
    pub fn active_id(&self) -> &str {
        self.keys.first().map_or("", |k| k.id.as_str())
    }

    /// Seals `plaintext`; `context` is bound as additional data (purpose, record id, owner).
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Result<String> {
        let master = self
            .keys
            .first()
            .ok_or_else(|| Error::internal("no master key"))?;
        let data_key = Zeroizing::new(random_bytes::<32>());
        let body = encrypt(&data_key, plaintext, context.as_bytes())?;
        let wrapped = encrypt(
            &master.key,
            data_key.as_slice(),
            &wrap_aad(&master.id, context),
        )?;
        Ok(format!(
            "{VERSION}.{}.{}.{}",
            master.id,
            B64.encode(wrapped),
            B64.encode(body)
        ))
    }

    /// Opens a sealed value; fails if the context differs, the value was altered, or its
    /// master key is no longer listed.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Zeroizing<Vec<u8>>> {
        let (id, wrapped, body) = split(sealed)?;
        let data_key = self.unwrap_data_key(id, wrapped, context)?;
        let body = B64
            .decode(body)
            .map_err(|_| Error::internal("sealed value cannot be opened"))?;
        decrypt(&data_key, body, context.as_bytes())
    }
}

/// The id of the master key a sealed value is wrapped by (`None`: not a sealed value).
pub fn master_key_id(sealed: &str) -> Option<&str> {
    split(sealed).ok().map(|(id, _, _)| id)
}

/// A sealed value's parts: master key id, wrapped data key, body.
fn split(sealed: &str) -> Result<(&str, &str, &str)> {
    let mut parts = sealed.split('.');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some(VERSION), Some(id), Some(wrapped), Some(body), None) => Ok((id, wrapped, body)),
        _ => Err(Error::internal("sealed value cannot be opened")),
    }
}

/// The master keys a running node holds, re-read from their file when a sealed value
/// names a key this node does not know yet (another node, or `gatehouse admin
/// rotate-master-key`, added it): rotation needs no restart.
pub struct MasterKeys {
    ring: std::sync::RwLock<std::sync::Arc<Keyring>>,
    reload: Option<Box<dyn Fn() -> Result<Keyring> + Send + Sync>>,
    /// When the file was last re-read, so a value naming a key nobody has cannot make
    /// every request read the file.
    reloaded: std::sync::Mutex<Option<std::time::Instant>>,
}

impl fmt::Debug for MasterKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKeys")
            .field("active", &self.current().active_id())
            .finish_non_exhaustive()
    }
}

impl MasterKeys {
    /// Fixed keys (no file to re-read).
    pub fn fixed(ring: std::sync::Arc<Keyring>) -> Self {
        MasterKeys {
            ring: std::sync::RwLock::new(ring),
            reload: None,
            reloaded: std::sync::Mutex::new(None),
        }
    }

    /// Keys re-read with `reload` when a value names an unknown key (at most once a
    /// second).
    pub fn reloading(
        ring: Keyring,
        reload: impl Fn() -> Result<Keyring> + Send + Sync + 'static,
    ) -> Self {
        MasterKeys {
            ring: std::sync::RwLock::new(std::sync::Arc::new(ring)),
            reload: Some(Box::new(reload)),
            reloaded: std::sync::Mutex::new(None),
        }
    }

    /// The keys as they are now.
    pub fn current(&self) -> std::sync::Arc<Keyring> {
        match self.ring.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Seals with the active key.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Result<String> {
        self.current().seal(plaintext, context)
    }

    /// Opens a sealed value, re-reading the key file first if it names a key not held.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Zeroizing<Vec<u8>>> {
        self.ring_for(sealed).open(sealed, context)
    }

    /// The keys to open `sealed` with: the current ones, re-read when they do not
    /// list its master key.
    fn ring_for(&self, sealed: &str) -> std::sync::Arc<Keyring> {
        let ring = self.current();
        let Some(id) = master_key_id(sealed) else {
            return ring;
        };
        if ring.knows(id) {
            return ring;
        }
        let Some(reload) = &self.reload else {
            return ring;
        };
        {
            let Ok(mut last) = self.reloaded.lock() else {
                return ring;
            };
            if last.is_some_and(|t| t.elapsed() < std::time::Duration::from_secs(1)) {
                return ring;
            }
            *last = Some(std::time::Instant::now());
        }
        match reload() {
            Ok(fresh) => {
                let fresh = std::sync::Arc::new(fresh);
                tracing::info!(active = fresh.active_id(), "master key file re-read");
                if let Ok(mut w) = self.ring.write() {
                    *w = fresh.clone();
                }
                fresh
            }
            Err(e) => {
                tracing::warn!(error = %e, "master key file could not be re-read");
                ring
            }
        }
    }
}

fn wrap_aad(master_id: &str, context: &str) -> Vec<u8> {
    format!("gatehouse-data-key|{master_id}|{context}").into_bytes()
}

fn encrypt(key: &[u8; 32], plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
    let key = LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, key).map_err(|_| Error::internal("bad AEAD key"))?,
    );
    // Each key seals exactly one value (data keys are fresh per record; master keys wrap
    // 32-byte data keys under random 96-bit nonces), so random nonces are safe here.
    let nonce_bytes = random_bytes::<NONCE_LEN>();
    let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + 16);
    out.extend_from_slice(&nonce_bytes);
    let mut body = Zeroizing::new(plaintext.to_vec());
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce_bytes),
        Aad::from(aad),
        &mut *body,
    )
    .map_err(|_| Error::internal("sealing failed"))?;
    out.extend_from_slice(&body);
    Ok(out)
}

fn decrypt(key: &[u8; 32], sealed: Vec<u8>, aad: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let broken = || Error::internal("sealed value cannot be opened");
    if sealed.len() < NONCE_LEN + 16 {
        return Err(broken());
    }
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).map_err(|_| broken())?);
    let mut sealed = Zeroizing::new(sealed);
    let (nonce, _) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| broken())?;
    let mut body = Zeroizing::new(sealed.split_off(NONCE_LEN));
    let plain_len = key
        .open_in_place(nonce, Aad::from(aad), &mut body)
        .map_err(|_| broken())?
        .len();
    body.truncate(plain_len);
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_with_its_context_and_unaltered() {
        let ring = Keyring::single(MasterKey::generate());
        let sealed = ring
            .seal(b"secret bytes", "signing_key|k1|system")
            .expect("seal");
        assert!(sealed.starts_with("gh1.mk-"));
        assert!(!sealed.contains("secret"));
        let opened = ring.open(&sealed, "signing_key|k1|system").expect("open");
        assert_eq!(opened.as_slice(), b"secret bytes");
        assert!(
            ring.open(&sealed, "signing_key|k2|system").is_err(),
            "another record"
        );
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).expect("utf8");
        assert!(ring.open(&tampered, "signing_key|k1|system").is_err());
        assert_ne!(
            ring.seal(b"secret bytes", "signing_key|k1|system")
                .expect("seal"),
            sealed,
            "fresh data key and nonce each time"
        );
    }

    #[test]
    fn old_master_keys_still_open_after_rotation() {
        let old = MasterKey::generate();
        let old_text = Keyring::file_text(&old);
        let old_ring = Keyring::parse(&old_text).expect("parse");
        let sealed = old_ring.seal(b"x", "c").expect("seal");
        let new = MasterKey::generate();
        let rotated = format!("{}{}", Keyring::file_text(&new).as_str(), old_text.as_str());
        let ring = Keyring::parse(&rotated).expect("parse");
        assert_eq!(ring.active_id(), new.id());
        assert_eq!(ring.open(&sealed, "c").expect("open").as_slice(), b"x");
        assert!(ring.seal(b"y", "c").expect("seal").contains(new.id()));
        let other = Keyring::single(MasterKey::generate());
        let err = other.open(&sealed, "c").expect_err("unknown master key");
        assert!(err.to_string().contains(old.id()), "{err}");
    }

    #[test]
    fn malformed_key_files_are_refused_and_debug_hides_keys() {
        assert!(Keyring::parse("").is_err());
        assert!(Keyring::parse("mk-1 notbase64!").is_err());
        assert!(Keyring::parse("mk-1 AAAA").is_err(), "too short");
        let k = MasterKey::generate();
        let text = Keyring::file_text(&k);
        let twice = format!("{}{}", text.as_str(), text.as_str());
        assert!(Keyring::parse(&twice).is_err(), "duplicate id");
        let shown = format!("{:?}", Keyring::parse(&text).expect("parse"));
        assert!(shown.contains("redacted") && !shown.contains(text.lines().last().unwrap_or("")));
    }
}
