//! The HTTPS client of the user CLI: trusts a pinned certificate fingerprint (as printed
//! by `gatehouse serve`), a CA file, or the system roots, and never "insecure".

use std::sync::Arc;

use anyhow::{Context, bail};
use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

/// How the client decides to trust the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// Exactly the certificate with this `SHA256:<hex>` fingerprint.
    Fingerprint(String),
    /// Certificates issued by the CA in this PEM file.
    CaFile(std::path::PathBuf),
    /// The operating system's roots.
    System,
}

/// Builds a reqwest client for `trust` (30 s per request).
pub fn http_client(trust: &Trust) -> anyhow::Result<reqwest::Client> {
    http_client_with_timeout(trust, std::time::Duration::from_secs(30))
}

/// Builds a reqwest client for `trust` whose requests, connection included, give up after
/// `timeout`.
pub fn http_client_with_timeout(
    trust: &Trust,
    timeout: std::time::Duration,
) -> anyhow::Result<reqwest::Client> {
    build(trust, timeout, reqwest::redirect::Policy::default())
}

/// Like [`http_client_with_timeout`], but a redirect is returned as the answer rather
/// than followed.
pub fn http_client_without_redirects(
    trust: &Trust,
    timeout: std::time::Duration,
) -> anyhow::Result<reqwest::Client> {
    // SECURITY: Gatehouse's API never redirects; following one would send the machine
    // credential's request, and take its answer, from wherever the redirect points.
    build(trust, timeout, reqwest::redirect::Policy::none())
}

fn build(
    trust: &Trust,
    timeout: std::time::Duration,
    redirect: reqwest::redirect::Policy,
) -> anyhow::Result<reqwest::Client> {
    let builder = reqwest::Client::builder()
        .user_agent(concat!("gatehouse-cli/", env!("CARGO_PKG_VERSION")))
        .redirect(redirect)
        .connect_timeout(timeout)
        .timeout(timeout);
    let builder = match trust {
        Trust::System => builder,
        Trust::CaFile(path) => {
            let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| format!("parsing {}", path.display()))?;
            builder.tls_certs_only(certs)
        }
        Trust::Fingerprint(fp) => {
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let verifier = Arc::new(PinnedVerifier {
                fingerprint: normalize_fingerprint(fp)?,
                provider: provider.clone(),
            });
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
                .dangerous()
                .with_custom_certificate_verifier(verifier)
                .with_no_client_auth();
            builder.tls_backend_preconfigured(config)
        }
    };
    builder.build().context("building the HTTPS client")
}

/// Accepts `SHA256:<64 hex>` (colons inside the hex are ignored); returns the lowercase form.
pub fn normalize_fingerprint(fp: &str) -> anyhow::Result<String> {
    let Some(hex_part) = fp.trim().strip_prefix("SHA256:") else {
        bail!("a fingerprint looks like SHA256:<64 hex digits>, as printed by \"gatehouse serve\"");
    };
    let hex_part: String = hex_part
        .chars()
        .filter(|c| *c != ':')
        .collect::<String>()
        .to_lowercase();
    if hex_part.len() != 64 || !hex_part.chars().all(|c| c.is_ascii_hexdigit()) {
        bail!("a fingerprint looks like SHA256:<64 hex digits>, as printed by \"gatehouse serve\"");
    }
    Ok(format!("SHA256:{hex_part}"))
}

/// Trusts one certificate, by fingerprint, and still checks the handshake signatures.
#[derive(Debug)]
struct PinnedVerifier {
    fingerprint: String,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let seen = crate::tls::fingerprint(end_entity.as_ref());
        if gatehouse_core::secret::constant_time_eq(seen.as_bytes(), self.fingerprint.as_bytes()) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "the server's certificate fingerprint {seen} does not match the pinned {}",
                self.fingerprint
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Whether a request failed because the server's certificate was not trusted (unknown
/// issuer, wrong name, expired…), as opposed to a pinned fingerprint that did not match.
pub fn is_untrusted_certificate(e: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        // The TLS error sits inside one or more io::Errors (whose `source` skips it).
        let mut inner: &(dyn std::error::Error + 'static) = s;
        while let Some(wrapped) = inner
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            inner = wrapped;
        }
        if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
            return matches!(
                tls,
                rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
            );
        }
        source = s.source();
    }
    false
}

/// The `SHA256:<hex>` fingerprint of the certificate the server at `base` presents, for
/// the message that tells a newcomer how to trust it.
///
/// SECURITY: this probing connection records the certificate and then refuses it, so
/// the handshake never completes and nothing is sent over it; it only learns what a
/// network attacker could also have shown. The user must still compare the fingerprint
/// with the one `gatehouse serve` printed before pinning it.
pub async fn presented_fingerprint(base: &str) -> Option<String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let recorder = Arc::new(RecordAndRefuse {
        seen: std::sync::Mutex::new(None),
        provider: provider.clone(),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .ok()?
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .ok()?;
    // Refused by our own verifier: this request always fails.
    let _ = client.get(format!("{base}/healthz")).send().await;
    recorder.seen.lock().ok()?.clone()
}

/// Records the server's certificate and refuses it (see [`presented_fingerprint`]).
#[derive(Debug)]
struct RecordAndRefuse {
    seen: std::sync::Mutex<Option<String>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for RecordAndRefuse {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(crate::tls::fingerprint(end_entity.as_ref()));
        }
        Err(rustls::Error::General(
            "probe only: certificate recorded, not trusted".into(),
        ))
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("probe only".into()))
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("probe only".into()))
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_normalised_and_malformed_ones_refused() {
        let hex = "AB".repeat(32);
        assert_eq!(
            normalize_fingerprint(&format!("SHA256:{hex}")).expect("ok"),
            format!("SHA256:{}", "ab".repeat(32))
        );
        let colons: Vec<String> = (0..32).map(|_| "ab".to_owned()).collect();
        assert!(normalize_fingerprint(&format!("SHA256:{}", colons.join(":"))).is_ok());
        assert!(normalize_fingerprint("MD5:abc").is_err());
        assert!(normalize_fingerprint("SHA256:abc").is_err());
    }
}
