//! The bare reference of `bench/hot-path.sh`: axum on axum-server with rustls, answering
//!
//! - `GET /ok` with `ok` (the framework's own limit on this machine), and
//! - `GET /key` with an API-key check as small as one can write it: decode HTTP Basic,
//!   SHA-256 the key, look it up in a read-locked map, answer about 300 bytes of JSON.
//!
//! Usage: `gatehouse-bench-reference [KEYS_FILE]` (one key per line; every key is
//! accepted by `/key`). It binds 127.0.0.1:0 and prints `listening on https://…`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use sha2::{Digest, Sha256};

type Keys = Arc<RwLock<HashMap<[u8; 32], Arc<Principal>>>>;

struct Principal {
    key_id: String,
    username: String,
}

async fn ok() -> &'static str {
    "ok"
}

async fn key(State(keys): State<Keys>, headers: HeaderMap) -> Response {
    let refused = || (StatusCode::UNAUTHORIZED, "{\"error\":\"unauthorized\"}").into_response();
    let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    else {
        return refused();
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(basic) else {
        return refused();
    };
    let key = decoded.strip_suffix(b":").unwrap_or(&decoded);
    let hash: [u8; 32] = Sha256::digest(key).into();
    let found = keys
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(&hash)
        .cloned();
    let Some(p) = found else {
        return refused();
    };
    let body = serde_json::json!({
        "authenticated": true,
        "method": "api_key",
        "user": {"id": p.key_id, "username": p.username, "display_name": "Reference User",
                 "email": "reference@example.org", "role": "member"},
        "api_key": {"id": p.key_id, "name": "reference", "permissions": ["read", "write"],
                    "expires_at": null, "created_by": p.username},
        "organisation": {"id": "org_reference", "name": "Reference"},
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(&body).unwrap_or_default(),
    )
        .into_response()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut map = HashMap::new();
    if let Some(path) = std::env::args().nth(1) {
        for (i, line) in std::fs::read_to_string(path)?.lines().enumerate() {
            let hash: [u8; 32] = Sha256::digest(line.trim().as_bytes()).into();
            let p = Principal {
                key_id: format!("key_{i:026}"),
                username: "reference".to_owned(),
            };
            map.insert(hash, Arc::new(p));
        }
    }
    let keys: Keys = Arc::new(RwLock::new(map));
    let app = Router::new()
        .route("/ok", get(ok))
        .route("/key", get(key))
        .with_state(keys);

    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into()),
        )?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    println!("listening on https://{}", listener.local_addr()?);
    let tls = axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(config));
    axum_server::from_tcp_rustls(listener, tls)?
        .serve(app.into_make_service())
        .await?;
    Ok(())
}
