//! TLS: load the configured certificate, or generate a self-signed one on first start,
//! and build a rustls server configuration (aws-lc-rs, TLS 1.2 and 1.3 only).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

/// The certificate in use.
pub struct TlsMaterial {
    /// The rustls configuration.
    pub config: Arc<rustls::ServerConfig>,
    /// `SHA256:<hex>` of the leaf certificate, for clients to pin.
    pub fingerprint: String,
    /// Where the certificate is (clients may add it as a trust anchor).
    pub cert_path: PathBuf,
    /// Whether it was generated on this start.
    pub generated: bool,
}

/// Loads `cert`/`key`, or generates both inside `data_dir/tls` when none are configured.
pub fn load_or_generate(
    data_dir: &Path,
    cert: Option<&Path>,
    key: Option<&Path>,
) -> anyhow::Result<TlsMaterial> {
    let (cert_path, key_path, generated) = match (cert, key) {
        (Some(c), Some(k)) => (c.to_path_buf(), k.to_path_buf(), false),
        _ => {
            let dir = data_dir.join("tls");
            let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
            let generated = !c.exists() || !k.exists();
            if generated {
                generate(&dir, &c, &k)?;
            }
            (c, k, generated)
        }
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .with_context(|| format!("reading certificate {}", cert_path.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("parsing certificate {}", cert_path.display()))?;
    let leaf = certs
        .first()
        .with_context(|| format!("no certificate in {}", cert_path.display()))?;
    let fingerprint = fingerprint(leaf.as_ref());
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .with_context(|| format!("reading private key {}", key_path.display()))?;
    let provider = Arc::new(preferring_aes128(
        rustls::crypto::aws_lc_rs::default_provider(),
    ));
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("TLS versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the certificate and key do not form a usable pair")?;
    // HTTP/2 first for clients that offer it, HTTP/1.1 for the rest.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    // The server's order decides: AES-128-GCM with SHA-256 first (SHA-384's suites take
    // a slower path on common CPUs, a tenth of a handshake's time here).
    config.ignore_client_order = true;
    Ok(TlsMaterial {
        config: Arc::new(config),
        fingerprint,
        cert_path,
        generated,
    })
}

/// The provider's suites, AES-128-GCM/SHA-256 ones first, then the rest in its order
/// (AES-256-GCM and ChaCha20-Poly1305 stay offered).
fn preferring_aes128(
    mut provider: rustls::crypto::CryptoProvider,
) -> rustls::crypto::CryptoProvider {
    use rustls::CipherSuite as S;
    let first = |s: &rustls::SupportedCipherSuite| {
        !matches!(
            s.suite(),
            S::TLS13_AES_128_GCM_SHA256
                | S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
                | S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        )
    };
    provider.cipher_suites.sort_by_key(first);
    provider
}

/// `SHA256:` and the lowercase hex SHA-256 of a DER certificate.
pub fn fingerprint(der: &[u8]) -> String {
    format!("SHA256:{}", hex::encode(Sha256::digest(der)))
}

fn generate(dir: &Path, cert_path: &Path, key_path: &Path) -> anyhow::Result<()> {
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut names = machine_names();
    names.extend(["127.0.0.1".to_owned(), "::1".to_owned()]);
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = rcgen::CertificateParams::new(names)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Gatehouse self-signed");
    params.not_before = gatehouse_core::clock::Clock::now(&gatehouse_core::clock::SystemClock)
        - time::Duration::days(1);
    params.not_after = gatehouse_core::clock::Clock::now(&gatehouse_core::clock::SystemClock)
        + time::Duration::days(825);
    let cert = params.self_signed(&key)?;
    write_private(key_path, key.serialize_pem().as_bytes())?;
    std::fs::write(cert_path, cert.pem())
        .with_context(|| format!("writing {}", cert_path.display()))?;
    Ok(())
}

/// This machine's own names: `localhost` and the host name.
pub fn machine_names() -> Vec<String> {
    let mut names = vec!["localhost".to_owned()];
    if let Ok(host) = std::fs::read_to_string("/etc/hostname") {
        let host = host.trim();
        if !host.is_empty() && host != "localhost" {
            names.push(host.to_owned());
        }
    }
    names
}

/// Writes a file readable by its owner only.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_certificate_is_generated_once_and_reused_with_the_same_fingerprint() {
        let dir = tempfile::tempdir().expect("dir");
        let first = load_or_generate(dir.path(), None, None).expect("generate");
        assert!(first.generated);
        assert!(first.fingerprint.starts_with("SHA256:") && first.fingerprint.len() == 7 + 64);
        let mode = std::fs::metadata(dir.path().join("tls/key.pem"))
            .expect("key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the key is private");
        let second = load_or_generate(dir.path(), None, None).expect("load");
        assert!(!second.generated);
        assert_eq!(first.fingerprint, second.fingerprint);
    }
}
