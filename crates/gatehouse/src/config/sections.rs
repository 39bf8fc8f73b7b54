//! The configuration's sections, one struct per TOML table, with their defaults.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[server]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// HTTPS listen address.
    pub listen: String,
    /// Optional plain-HTTP listener that never authenticates ("" = off).
    pub http_listen: String,
    /// Optional plain-HTTP listener serving Prometheus metrics at `/metrics` ("" = off).
    pub metrics_listen: String,
    /// Folder for the SQLite database and the generated certificate.
    pub data_dir: PathBuf,
    /// PEM certificate chain; empty means `<data_dir>/tls/cert.pem`, generated if missing.
    pub tls_cert: String,
    /// PEM private key; empty means `<data_dir>/tls/key.pem`.
    pub tls_key: String,
    /// Externally visible origin, e.g. `https://sso.example.org`. When "", the Host header
    /// defines the same-origin check, and the plain listener redirects to the HTTPS
    /// listener's own address (for a wildcard bind: to the Host name only if it is this
    /// machine's name, else to the address the client reached).
    pub public_origin: String,
    /// Proxies (addresses or CIDR ranges) whose X-Forwarded-For/-Proto are believed.
    pub trusted_proxies: Vec<String>,
    /// How long a SIGTERM waits for requests in flight.
    pub shutdown_grace_seconds: u64,
    /// A client must finish sending a request's headers (and, on a new connection, its
    /// first request line) within this long, or the connection is closed. It also ends
    /// idle keep-alive connections.
    pub header_read_timeout_seconds: u64,
    /// How long a request body may take to arrive once its headers have (408 after).
    pub body_read_timeout_seconds: u64,
    /// A TLS handshake must complete within this long.
    pub handshake_timeout_seconds: u64,
    /// Connections open at once, over both listeners; further ones are closed at once
    /// (keep the process's open-file limit above this).
    pub max_connections: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8443".into(),
            http_listen: String::new(),
            metrics_listen: String::new(),
            data_dir: PathBuf::from("./gatehouse-data"),
            tls_cert: String::new(),
            tls_key: String::new(),
            public_origin: String::new(),
            trusted_proxies: Vec::new(),
            shutdown_grace_seconds: 30,
            header_read_timeout_seconds: 30,
            body_read_timeout_seconds: 30,
            handshake_timeout_seconds: 10,
            max_connections: 4096,
        }
    }
}

/// `[database]`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://…` or `postgres://…`; empty means `sqlite://<data_dir>/gatehouse.db`.
    pub url: DatabaseUrl,
}

/// A database URL. It may carry a password, so its `Debug` shows it with the password
/// replaced: a derived `Debug` of the configuration (or of the flags) can never print it.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The URL itself, for opening the store.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for DatabaseUrl {
    fn from(url: String) -> Self {
        DatabaseUrl(url)
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({:?})", redact_url(&self.0))
    }
}

/// A URL with the password of its user-info (if any) replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    match (rest.find('@'), rest.find(':')) {
        (Some(at), Some(colon)) if colon < at => {
            format!(
                "{}{}:***{}",
                &url[..scheme_end],
                &rest[..colon],
                &rest[at..]
            )
        }
        _ => url.to_owned(),
    }
}

/// `[session]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// A session unused this long ends.
    pub idle_timeout_minutes: u32,
    /// A session ends this long after sign-in.
    pub absolute_lifetime_hours: u32,
    /// How long a node trusts its cached copy of a session before re-reading the store.
    pub cache_ttl_seconds: u32,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            idle_timeout_minutes: 30,
            absolute_lifetime_hours: 12,
            cache_ttl_seconds: 30,
        }
    }
}

/// `[rate_limit]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Failed sign-ins to an account before backoff starts.
    pub login_free_failures: u32,
    /// First backoff; doubles per further failure.
    pub login_base_delay_seconds: u32,
    /// Longest backoff.
    pub login_max_delay_seconds: u32,
    /// Consecutive failures that lock an account until an operator resets it.
    pub login_hard_limit: u32,
    /// Failed authentications allowed per client address per window.
    pub ip_max_failures: u32,
    /// The per-address window.
    pub ip_window_seconds: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            login_free_failures: 5,
            login_base_delay_seconds: 30,
            login_max_delay_seconds: 3600,
            login_hard_limit: 100,
            ip_max_failures: 50,
            ip_window_seconds: 300,
        }
    }
}

/// `[password]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordConfig {
    /// argon2id memory (KiB); at least 19456.
    pub argon2_memory_kib: u32,
    /// argon2id iterations; at least 2.
    pub argon2_iterations: u32,
    /// argon2id lanes.
    pub argon2_parallelism: u32,
    /// Hashes at once (0 = one fewer than the CPU count, at least 1).
    pub hash_concurrency: usize,
    /// Sign-ins waiting for a hash before new ones get 503.
    pub hash_queue: usize,
}

impl Default for PasswordConfig {
    fn default() -> Self {
        PasswordConfig {
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            hash_concurrency: 0,
            hash_queue: 64,
        }
    }
}

/// `[api_keys]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiKeysConfig {
    /// Sustained requests per minute per key (0 = unlimited).
    pub rate_limit_per_minute: u32,
    /// Requests a key may make at once above the sustained rate.
    pub rate_limit_burst: u32,
    /// How long a node trusts a cached key before reading it again. Disabling or
    /// deleting a key on any node reaches every node within one invalidation poll (5 s);
    /// this only bounds how long a missed invalidation could last.
    pub cache_ttl_seconds: u32,
    /// Keys kept in memory at most (at least 1); past this the least recently used are
    /// evicted and read from the store again at their next use. About 450 bytes each.
    pub cache_capacity: usize,
    /// Platform permissions keys and tokens may carry, beyond Gatehouse's own
    /// (names like `compute:submit`).
    pub platform_scopes: Vec<String>,
    /// API keys one account may hold that are neither revoked nor expired.
    pub max_per_account: u32,
}

impl Default for ApiKeysConfig {
    fn default() -> Self {
        ApiKeysConfig {
            rate_limit_per_minute: 6000,
            rate_limit_burst: 200,
            cache_ttl_seconds: 900,
            cache_capacity: 200_000,
            platform_scopes: Vec::new(),
            max_per_account: 100,
        }
    }
}

/// `[tokens]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokensConfig {
    /// The `iss` of issued tokens; empty means `server.public_origin`, or `gatehouse`
    /// when that is unset too.
    pub issuer: String,
    /// The `aud` of issued tokens, required on presented ones.
    pub audience: String,
    /// Verified tokens kept in memory (0 verifies every request in full).
    pub cache_capacity: usize,
    /// How long a verified token is trusted before it is verified again (if it has not
    /// expired first). Revocations reach every node within 5 s through the polls; this
    /// only bounds how long a missed one could last.
    pub cache_ttl_seconds: u32,
    /// Tokens one account may hold that are neither revoked nor expired.
    pub max_per_account: u32,
}

impl Default for TokensConfig {
    fn default() -> Self {
        TokensConfig {
            issuer: String::new(),
            audience: "gatehouse".into(),
            cache_capacity: 100_000,
            cache_ttl_seconds: 900,
            max_per_account: 100,
        }
    }
}

/// `[ssh_keys]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SshKeysConfig {
    /// SSH public keys one account may hold (at most 200, so the authorized-keys
    /// answer for a user stays one page).
    pub max_per_account: u32,
}

impl Default for SshKeysConfig {
    fn default() -> Self {
        SshKeysConfig {
            max_per_account: 50,
        }
    }
}

/// `[ssh_private_keys]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SshPrivateKeysConfig {
    /// SSH private keys one account may store.
    pub max_per_account: u32,
    /// Networks the connection test may not dial (CIDR ranges or addresses). The
    /// default refuses loopback, "this network", and link-local addresses (which hold
    /// cloud metadata services); set `[]` only where the server's own loopback hosts
    /// are meant to be tested.
    pub test_denied_networks: Vec<String>,
    /// Seconds a connection test may take in all (connect, key exchange, sign-in).
    pub test_timeout_seconds: u32,
}

impl Default for SshPrivateKeysConfig {
    fn default() -> Self {
        let tests = gatehouse_core::service::ConnectionTests::default();
        SshPrivateKeysConfig {
            max_per_account: 20,
            test_denied_networks: tests
                .denied_networks
                .iter()
                .map(ToString::to_string)
                .collect(),
            test_timeout_seconds: tests.timeout.as_secs().try_into().unwrap_or(u32::MAX),
        }
    }
}

/// `[mfa]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MfaConfig {
    /// The issuer authenticator apps show beside the account name
    /// (`otpauth://totp/<issuer>:<username>`).
    pub issuer: String,
    /// Security keys and passkeys (WebAuthn), a Feature Preview. The relying party is
    /// `server.public_origin` (which must then be https://); without one, `localhost` on
    /// any port.
    pub webauthn_preview: bool,
    /// PEM file of root certificates that attest approved security key models (from the
    /// vendors or the FIDO Metadata Service); needed when an organisation lists approved
    /// models. Empty: none.
    pub attestation_roots_file: String,
}

impl Default for MfaConfig {
    fn default() -> Self {
        MfaConfig {
            issuer: "Gatehouse".into(),
            webauthn_preview: true,
            attestation_roots_file: String::new(),
        }
    }
}

/// `[secrets]`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretsConfig {
    /// The master key file (created with mode 0600 on first start); empty means
    /// `master.key` in the data folder. Every node must share the same file.
    pub master_key_file: String,
}

/// `[log]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `json` or `pretty`.
    pub format: String,
    /// A tracing filter, e.g. `info` or `info,gatehouse_web=debug`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: "json".into(),
            level: "info".into(),
        }
    }
}
