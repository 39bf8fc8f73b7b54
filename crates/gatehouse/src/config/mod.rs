//! Typed configuration, loaded in increasing precedence from defaults, a TOML file,
//! `GATEHOUSE_<SECTION>__<KEY>` environment variables, then command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use gatehouse_core::CoreSettings;
use gatehouse_core::api_key::KeyRate;
use gatehouse_core::password::HashParams;
use gatehouse_core::scope::ScopeCatalog;
use gatehouse_core::service::{ConnectionTests, CredentialLimits};
use gatehouse_core::session::SessionPolicy;
use gatehouse_core::throttle::LockoutPolicy;
use gatehouse_core::token::TokenSettings;
use gatehouse_web::ip_net::IpNet;
use serde::{Deserialize, Serialize};
use time::Duration;

mod sections;

pub use sections::*;

/// The whole configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Listeners, TLS and proxies.
    pub server: ServerConfig,
    /// Where data lives.
    pub database: DatabaseConfig,
    /// Session lifetimes.
    pub session: SessionConfig,
    /// Throttling of failed sign-ins.
    pub rate_limit: RateLimitConfig,
    /// Password hashing.
    pub password: PasswordConfig,
    /// API keys.
    pub api_keys: ApiKeysConfig,
    /// Bearer tokens.
    pub tokens: TokensConfig,
    /// SSH public keys.
    pub ssh_keys: SshKeysConfig,
    /// Stored SSH private keys.
    pub ssh_private_keys: SshPrivateKeysConfig,
    /// 2-step verification.
    pub mfa: MfaConfig,
    /// Encryption of stored secrets.
    pub secrets: SecretsConfig,
    /// Logging.
    pub log: LogConfig,
}

/// Overrides from flags (highest precedence); `None` leaves the value alone.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--listen`
    pub listen: Option<String>,
    /// `--http-listen`
    pub http_listen: Option<String>,
    /// `--data-dir`
    pub data_dir: Option<PathBuf>,
    /// `--database-url`
    pub database_url: Option<DatabaseUrl>,
}

impl Config {
    /// Loads defaults < `file` < environment < `overrides`, then validates.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Config> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(file, &env, overrides)
    }

    /// As [`Config::load`], with the environment given explicitly (for tests).
    pub fn load_from(
        file: Option<&Path>,
        env: &[(String, String)],
        overrides: &Overrides,
    ) -> anyhow::Result<Config> {
        let mut tree = toml::Value::try_from(Config::default())?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading config file {}", path.display()))?;
            let from_file: toml::Value = toml::from_str(&text)
                .with_context(|| format!("parsing config file {}", path.display()))?;
            merge(&mut tree, from_file);
        }
        for (name, value) in env {
            let Some(rest) = name.strip_prefix("GATEHOUSE_") else {
                continue;
            };
            let Some((section, key)) = rest.split_once("__") else {
                continue;
            };
            let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
            let table = tree
                .as_table_mut()
                .and_then(|t| t.get_mut(&section))
                .and_then(toml::Value::as_table_mut)
                .with_context(|| format!("{name}: unknown configuration section [{section}]"))?;
            let Some(existing) = table.get(&key) else {
                bail!("{name}: unknown configuration key {section}.{key}");
            };
            let parsed = parse_env_value(existing, value)
                .with_context(|| format!("{name}: cannot parse the value"))?;
            table.insert(key, parsed);
        }
        let mut config: Config = tree.try_into().context("invalid configuration")?;
        if let Some(v) = &overrides.listen {
            config.server.listen = v.clone();
        }
        if let Some(v) = &overrides.http_listen {
            config.server.http_listen = v.clone();
        }
        if let Some(v) = &overrides.data_dir {
            config.server.data_dir = v.clone();
        }
        if let Some(v) = &overrides.database_url {
            config.database.url = v.clone();
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks values that types alone cannot.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.listen_addr()?;
        self.http_listen_addr()?;
        self.metrics_listen_addr()?;
        self.trusted_proxies()?;
        self.connection_tests()?;
        gatehouse_store::Backend::of_url(&self.database_url())
            .map_err(|e| anyhow::anyhow!("database.url: {e}"))?;
        let p = &self.password;
        if p.argon2_memory_kib < 19_456 || p.argon2_iterations < 2 || p.argon2_parallelism < 1 {
            bail!("password: argon2id parameters must be at least m=19456 KiB, t=2, p=1");
        }
        let s = &self.session;
        if s.idle_timeout_minutes == 0 || s.absolute_lifetime_hours == 0 {
            bail!("session: lifetimes must be positive");
        }
        self.webauthn_relying_party()?;
        let issuer = self.mfa.issuer.trim();
        if issuer.is_empty() || issuer.chars().count() > 64 || issuer.contains(':') {
            bail!("mfa.issuer must be 1 to 64 characters, without a colon");
        }
        if self.api_keys.cache_ttl_seconds == 0 {
            bail!("api_keys.cache_ttl_seconds must be positive");
        }
        if self.api_keys.cache_capacity == 0 {
            bail!("api_keys.cache_capacity must be positive");
        }
        if self.tokens.cache_ttl_seconds == 0 {
            bail!("tokens.cache_ttl_seconds must be positive");
        }
        if self.api_keys.max_per_account == 0 || self.tokens.max_per_account == 0 {
            bail!("api_keys.max_per_account and tokens.max_per_account must be positive");
        }
        if self.ssh_private_keys.max_per_account == 0 {
            bail!("ssh_private_keys.max_per_account must be positive");
        }
        let ssh_cap = self.ssh_keys.max_per_account;
        if ssh_cap == 0 || ssh_cap > gatehouse_core::page::MAX_LIMIT {
            bail!(
                "ssh_keys.max_per_account must be from 1 to {}",
                gatehouse_core::page::MAX_LIMIT
            );
        }
        ScopeCatalog::new(&self.api_keys.platform_scopes)
            .map_err(|e| anyhow::anyhow!("api_keys.{e}"))?;
        if self.tokens.audience.trim().is_empty() {
            bail!("tokens.audience must not be empty");
        }
        if !matches!(self.log.format.as_str(), "json" | "pretty") {
            bail!("log.format must be \"json\" or \"pretty\"");
        }
        if !self.server.public_origin.is_empty()
            && !self.server.public_origin.starts_with("https://")
        {
            bail!("server.public_origin must start with https://");
        }
        let srv = &self.server;
        if srv.header_read_timeout_seconds == 0
            || srv.handshake_timeout_seconds == 0
            || srv.body_read_timeout_seconds == 0
        {
            bail!(
                "server.header_read_timeout_seconds, handshake_timeout_seconds and body_read_timeout_seconds must be positive"
            );
        }
        if srv.max_connections == 0 {
            bail!("server.max_connections must be positive");
        }
        if self.server.tls_cert.is_empty() != self.server.tls_key.is_empty() {
            bail!("server.tls_cert and server.tls_key must be set together");
        }
        Ok(())
    }

    /// The HTTPS address.
    pub fn listen_addr(&self) -> anyhow::Result<SocketAddr> {
        self.server.listen.parse().with_context(|| {
            format!(
                "server.listen {:?} is not an address:port",
                self.server.listen
            )
        })
    }

    /// The plain-HTTP address, if enabled.
    pub fn http_listen_addr(&self) -> anyhow::Result<Option<SocketAddr>> {
        if self.server.http_listen.is_empty() {
            return Ok(None);
        }
        self.server.http_listen.parse().map(Some).with_context(|| {
            format!(
                "server.http_listen {:?} is not an address:port",
                self.server.http_listen
            )
        })
    }

    /// The metrics address, if enabled.
    pub fn metrics_listen_addr(&self) -> anyhow::Result<Option<SocketAddr>> {
        if self.server.metrics_listen.is_empty() {
            return Ok(None);
        }
        self.server
            .metrics_listen
            .parse()
            .map(Some)
            .with_context(|| {
                format!(
                    "server.metrics_listen {:?} is not an address:port",
                    self.server.metrics_listen
                )
            })
    }

    /// The connection test's limits.
    pub fn connection_tests(&self) -> anyhow::Result<ConnectionTests> {
        let c = &self.ssh_private_keys;
        if !(1..=120).contains(&c.test_timeout_seconds) {
            bail!("ssh_private_keys.test_timeout_seconds must be between 1 and 120");
        }
        Ok(ConnectionTests {
            denied_networks: c
                .test_denied_networks
                .iter()
                .map(|s| {
                    s.parse().map_err(|e: String| {
                        anyhow::anyhow!("ssh_private_keys.test_denied_networks: {e}")
                    })
                })
                .collect::<anyhow::Result<_>>()?,
            timeout: std::time::Duration::from_secs(c.test_timeout_seconds.into()),
        })
    }

    /// The trusted proxy ranges.
    pub fn trusted_proxies(&self) -> anyhow::Result<Vec<IpNet>> {
        self.server
            .trusted_proxies
            .iter()
            .map(|s| {
                s.parse()
                    .map_err(|e: String| anyhow::anyhow!("server.trusted_proxies: {e}"))
            })
            .collect()
    }

    /// The database URL, defaulting to SQLite inside the data folder.
    pub fn database_url(&self) -> String {
        if self.database.url.expose().is_empty() {
            format!(
                "sqlite://{}",
                self.server.data_dir.join("gatehouse.db").display()
            )
        } else {
            self.database.url.expose().to_owned()
        }
    }

    /// The core's settings.
    pub fn core_settings(&self) -> CoreSettings {
        let r = &self.rate_limit;
        let p = &self.password;
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        CoreSettings {
            session: SessionPolicy {
                idle_timeout: Duration::minutes(self.session.idle_timeout_minutes.into()),
                absolute_lifetime: Duration::hours(self.session.absolute_lifetime_hours.into()),
                cache_ttl: Duration::seconds(self.session.cache_ttl_seconds.into()),
            },
            hash_params: HashParams {
                m_cost: p.argon2_memory_kib,
                t_cost: p.argon2_iterations,
                p_cost: p.argon2_parallelism,
            },
            hash_concurrency: if p.hash_concurrency == 0 {
                cpus.saturating_sub(1).max(1)
            } else {
                p.hash_concurrency
            },
            hash_queue: p.hash_queue,
            lockout: LockoutPolicy {
                free_failures: r.login_free_failures,
                base_delay: Duration::seconds(r.login_base_delay_seconds.into()),
                max_delay: Duration::seconds(r.login_max_delay_seconds.into()),
                hard_limit: r.login_hard_limit,
            },
            ip_max_failures: r.ip_max_failures,
            ip_window: Duration::seconds(r.ip_window_seconds.into()),
            platform_scopes: self.api_keys.platform_scopes.clone(),
            key_rate: KeyRate {
                per_minute: self.api_keys.rate_limit_per_minute,
                burst: self.api_keys.rate_limit_burst,
            },
            key_cache_ttl: Duration::seconds(self.api_keys.cache_ttl_seconds.into()),
            key_cache_capacity: self.api_keys.cache_capacity,
            tokens: TokenSettings {
                issuer: self.token_issuer(),
                audience: self.tokens.audience.clone(),
                cache_capacity: self.tokens.cache_capacity,
                cache_ttl: Duration::seconds(self.tokens.cache_ttl_seconds.into()),
            },
            limits: CredentialLimits {
                api_keys: self.api_keys.max_per_account.into(),
                tokens: self.tokens.max_per_account.into(),
                ssh_keys: self.ssh_keys.max_per_account.into(),
                ssh_private_keys: self.ssh_private_keys.max_per_account.into(),
            },
            mfa_issuer: self.mfa.issuer.clone(),
            // Checked by `validate`.
            connection_tests: self.connection_tests().unwrap_or_default(),
        }
    }

    /// The WebAuthn relying party, when security keys are on: `server.public_origin`
    /// (refused unless https://), or `https://localhost` on any port when no public origin
    /// is set.
    pub fn webauthn_relying_party(
        &self,
    ) -> anyhow::Result<Option<gatehouse_core::mfa::webauthn::RelyingParty>> {
        use gatehouse_core::mfa::webauthn::RelyingParty;
        if !self.mfa.webauthn_preview {
            return Ok(None);
        }
        let origin = self.server.public_origin.trim();
        let rp = if origin.is_empty() {
            RelyingParty::new("https://localhost", &self.mfa.issuer, true)
        } else {
            RelyingParty::new(origin, &self.mfa.issuer, false)
        };
        let rp = rp.map_err(|e| {
            anyhow::anyhow!("{e} (or set mfa.webauthn_preview = false to turn security keys off)")
        })?;
        let file = self.mfa.attestation_roots_file.trim();
        if file.is_empty() {
            return Ok(Some(rp));
        }
        let bytes = std::fs::read(file)
            .map_err(|e| anyhow::anyhow!("mfa.attestation_roots_file {file}: {e}"))?;
        let pem = String::from_utf8(bytes).map_err(|_| {
            anyhow::anyhow!(
                "mfa.attestation_roots_file {file}: is not PEM text (a DER file? convert it \
                 with: openssl x509 -inform der -in FILE -out FILE.pem)"
            )
        })?;
        Ok(Some(
            rp.with_attestation_roots(&pem)
                .map_err(|e| anyhow::anyhow!("{e} ({file})"))?,
        ))
    }

    /// The `iss` claim: the configured issuer, else the public origin, else `gatehouse`.
    pub fn token_issuer(&self) -> String {
        [&self.tokens.issuer, &self.server.public_origin]
            .into_iter()
            .find(|s| !s.is_empty())
            .map_or_else(
                || "gatehouse".into(),
                |s| s.trim_end_matches('/').to_owned(),
            )
    }

    /// The master key file.
    pub fn master_key_path(&self) -> PathBuf {
        if self.secrets.master_key_file.is_empty() {
            self.server.data_dir.join("master.key")
        } else {
            PathBuf::from(&self.secrets.master_key_file)
        }
    }

    /// An example file with every key at its default.
    pub fn example_toml() -> String {
        let body = toml::to_string_pretty(&Config::default()).unwrap_or_default();
        format!(
            "# Gatehouse configuration. Every key is optional; shown are the defaults.\n\
             # Precedence: defaults < this file < GATEHOUSE_<SECTION>__<KEY> env < flags.\n\n{body}"
        )
    }
}

fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) if existing.is_table() && v.is_table() => merge(existing, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Interprets an environment value with the type of the key's default.
fn parse_env_value(existing: &toml::Value, raw: &str) -> anyhow::Result<toml::Value> {
    Ok(match existing {
        toml::Value::String(_) => toml::Value::String(raw.to_owned()),
        toml::Value::Integer(_) => toml::Value::Integer(raw.trim().parse()?),
        toml::Value::Boolean(_) => toml::Value::Boolean(raw.trim().parse()?),
        toml::Value::Array(_) => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_owned()))
                .collect(),
        ),
        _ => bail!("unsupported type"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_serve_https_on_8443_with_sqlite_in_the_data_folder() {
        let c = Config::load_from(None, &[], &Overrides::default()).expect("config");
        assert_eq!(c.server.listen, "127.0.0.1:8443");
        assert_eq!(c.database_url(), "sqlite://./gatehouse-data/gatehouse.db");
        assert!(c.http_listen_addr().expect("ok").is_none());
    }

    #[test]
    fn file_then_env_then_flags_each_win_over_the_previous() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("g.toml");
        std::fs::write(
            &path,
            "[server]\nlisten = \"127.0.0.1:1111\"\nhttp_listen = \"127.0.0.1:2222\"\n[session]\nidle_timeout_minutes = 5\n",
        )
        .expect("write");
        let e = env(&[
            ("GATEHOUSE_SERVER__HTTP_LISTEN", "127.0.0.1:3333"),
            ("GATEHOUSE_SESSION__ABSOLUTE_LIFETIME_HOURS", "2"),
            ("GATEHOUSE_SERVER__TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1"),
            ("GATEHOUSE_TOKEN", "not configuration"),
        ]);
        let flags = Overrides {
            listen: Some("127.0.0.1:4444".into()),
            ..Overrides::default()
        };
        let c = Config::load_from(Some(&path), &e, &flags).expect("config");
        assert_eq!(c.server.listen, "127.0.0.1:4444", "flag beats file");
        assert_eq!(c.server.http_listen, "127.0.0.1:3333", "env beats file");
        assert_eq!(c.session.idle_timeout_minutes, 5, "file beats default");
        assert_eq!(c.session.absolute_lifetime_hours, 2);
        assert_eq!(c.trusted_proxies().expect("nets").len(), 2);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_with_their_name() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("g.toml");
        std::fs::write(&path, "[server]\nlisten_port = 1\n").expect("write");
        let err = Config::load_from(Some(&path), &[], &Overrides::default()).expect_err("unknown");
        assert!(format!("{err:#}").contains("listen_port"), "{err:#}");

        let err = Config::load_from(
            None,
            &env(&[("GATEHOUSE_SERVER__NOPE", "1")]),
            &Overrides::default(),
        )
        .expect_err("unknown env");
        assert!(format!("{err:#}").contains("server.nope"));

        let err = Config::load_from(
            None,
            &env(&[("GATEHOUSE_SESSION__IDLE_TIMEOUT_MINUTES", "soon")]),
            &Overrides::default(),
        )
        .expect_err("bad number");
        assert!(format!("{err:#}").contains("IDLE_TIMEOUT"));

        for zero in [
            "GATEHOUSE_SERVER__MAX_CONNECTIONS",
            "GATEHOUSE_SERVER__HEADER_READ_TIMEOUT_SECONDS",
            "GATEHOUSE_SERVER__HANDSHAKE_TIMEOUT_SECONDS",
        ] {
            let err = Config::load_from(None, &env(&[(zero, "0")]), &Overrides::default())
                .expect_err("zero");
            assert!(format!("{err:#}").contains("server."), "{zero}: {err:#}");
        }
        let weak = env(&[("GATEHOUSE_PASSWORD__ARGON2_MEMORY_KIB", "1024")]);
        assert!(Config::load_from(None, &weak, &Overrides::default()).is_err());
        let bad_db = Overrides {
            database_url: Some(String::from("mysql://x").into()),
            ..Overrides::default()
        };
        assert!(Config::load_from(None, &[], &bad_db).is_err());
    }

    #[test]
    fn the_example_file_parses_back_to_the_defaults() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("example.toml");
        std::fs::write(&path, Config::example_toml()).expect("write");
        let c = Config::load_from(Some(&path), &[], &Overrides::default()).expect("config");
        assert_eq!(c.server.listen, Config::default().server.listen);
    }

    #[test]
    fn no_debug_output_of_the_configuration_shows_the_database_password() {
        let env = vec![(
            "GATEHOUSE_DATABASE__URL".to_owned(),
            "postgres://gh:s3cret-pw@db:5432/gh".to_owned(),
        )];
        let c = Config::load_from(None, &env, &Overrides::default()).expect("config");
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cret-pw"), "{shown}");
        assert!(shown.contains("postgres://gh:***@db:5432/gh"), "{shown}");
        assert_eq!(c.database_url(), "postgres://gh:s3cret-pw@db:5432/gh");
        let o = Overrides {
            database_url: Some(String::from("postgres://u:hunter2hunter2@h/d").into()),
            ..Overrides::default()
        };
        assert!(!format!("{o:?}").contains("hunter2"));
    }
}
