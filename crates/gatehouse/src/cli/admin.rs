//! `gatehouse admin …`: operator commands that work directly on the store, so they
//! work with the server stopped (and are the recovery path when locked out).

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use gatehouse_core::Core;
use gatehouse_core::clock::SystemClock;
use gatehouse_core::secrecy::{ExposeSecret, SecretString};
use gatehouse_core::service::NewAccount;

use serde_json::json;

use crate::cli::StoreArgs;
use crate::cli::out::outln;
use crate::cli::output::{OutputArgs, Table, print_json};
use crate::cli::prompt::read_secret;
use crate::cli::serve::read_secret_file;
use crate::cli::term::safe;
use crate::config::Config;

/// Operator commands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an account.
    CreateUser {
        /// Username (2–32 of a-z 0-9 . _ -).
        username: String,
        /// Email address.
        #[arg(long)]
        email: String,
        /// Display name (defaults to the username).
        #[arg(long)]
        display_name: Option<String>,
        /// The account's role in its organisation: owner, admin or member.
        #[arg(long, default_value = "member", value_parser = parse_role)]
        role: gatehouse_core::org::Role,
        /// The organisation to create it in (default: the default organisation).
        #[arg(long, value_name = "NAME")]
        org: Option<String>,
        /// Where the password comes from.
        #[command(flatten)]
        password: PasswordSource,
    },
    /// Set an account's password, reset its lockout and end its sessions.
    SetPassword {
        /// Username.
        username: String,
        /// Where the password comes from.
        #[command(flatten)]
        password: PasswordSource,
    },
    /// List accounts.
    ListUsers,
    /// Disable an account: it can no longer authenticate, and its sessions end (on
    /// running servers within a few seconds).
    DisableUser {
        /// Username.
        username: String,
    },
    /// Re-enable a disabled account.
    EnableUser {
        /// Username.
        username: String,
    },
    /// Remove every 2-step verification factor and recovery code of an account (a lost
    /// phone and lost codes), end its sessions and tokens; audited with the reason.
    ResetMfa {
        /// Username.
        username: String,
        /// Why (recorded in the audit trail), for example "lost phone, identity checked
        /// by video call".
        #[arg(long)]
        reason: String,
    },
    /// Show or change an organisation's credential policy.
    Policy(PolicyArgs),
    /// Organisations: create, list, members, roles, editions, moving accounts.
    #[command(subcommand)]
    Org(crate::cli::admin_org::OrgCommand),
    /// Create many API keys for a user at once (bulk provisioning, load tests); the keys
    /// are written to a private file, one per line.
    SeedApiKeys {
        /// Owner.
        #[arg(long)]
        user: String,
        /// How many.
        #[arg(long)]
        count: usize,
        /// File to write the keys to (created with mode 0600).
        #[arg(long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Add a new token signing key. The old key keeps verifying until every token it
    /// signed has expired; running servers switch within a few seconds.
    RotateSigningKey,
    /// Rotate the master key without downtime: add a new active key to the master key
    /// file (the older keys stay listed, so everything stays readable) and re-wrap every
    /// sealed value's data key under it. A running server re-reads the file when it
    /// meets the new key id. With several nodes, copy the new file to every node and
    /// run `--rewrap-only` once more; retire the old key when nothing uses it.
    RotateMasterKey {
        /// Add no key: re-wrap every sealed value under the file's active key.
        #[arg(long, conflicts_with = "retire")]
        rewrap_only: bool,
        /// Remove this old key from the file; refused while a sealed value still uses it.
        #[arg(long, value_name = "KEY_ID")]
        retire: Option<String>,
    },
    /// Write an online backup of the SQLite store to a new file (mode 0600) and check
    /// it; the server may keep running. For PostgreSQL it points to `pg_dump`.
    Backup {
        /// The file to create (it must not exist).
        #[arg(long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Show the newest audit records.
    Audit {
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

/// A password is never taken from the command line (it would show in `ps`).
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct PasswordSource {
    /// Read the password from this file.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// Read the password from standard input (at a terminal: asked for twice, not
    /// echoed).
    #[arg(long)]
    password_stdin: bool,
}

impl PasswordSource {
    fn read(&self) -> anyhow::Result<SecretString> {
        if let Some(p) = &self.password_file {
            return read_secret_file(p);
        }
        if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            // Typed by the operator: not echoed, and asked twice so a typo is caught.
            let first = read_secret("New password: ", "password")?;
            let again = read_secret("The same password again: ", "password")?;
            if first.expose_secret() != again.expose_secret() {
                bail!("the two passwords differ; nothing was changed");
            }
            return Ok(first);
        }
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading the password from stdin")?;
        Ok(SecretString::from(
            s.trim_end_matches(['\r', '\n']).to_owned(),
        ))
    }
}

/// Refuses to go on when there is no store where the configuration points, unless
/// `--create` asked for one: a mistyped `--data-dir` (or running in the wrong folder)
/// would otherwise create an empty store, with a new master key, and act on it.
fn check_store_exists(config: &Config, create: bool) -> anyhow::Result<()> {
    if create {
        return Ok(());
    }
    let dir = &config.server.data_dir;
    let shown = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
    if !dir.is_dir() {
        bail!(
            "no Gatehouse data folder at {}: pass --data-dir with the folder the server uses \
             (or set server.data_dir in --config), or add --create to make a new, empty store there",
            shown.display()
        );
    }
    let url = config.database_url();
    if let Some(db) = url
        .strip_prefix("sqlite://")
        .map(|rest| rest.split('?').next().unwrap_or_default())
        .filter(|p| !p.is_empty() && !p.starts_with(":memory:"))
        && !std::path::Path::new(db).exists()
    {
        bail!(
            "no Gatehouse database at {db} (data folder {}): pass --data-dir or --database-url \
             for the server's store, or add --create to make a new, empty store",
            shown.display()
        );
    }
    Ok(())
}

/// Runs an admin command.
pub async fn run(
    config_file: Option<&std::path::Path>,
    store_args: &StoreArgs,
    output: &OutputArgs,
    cmd: &AdminCommand,
) -> anyhow::Result<()> {
    let config = Config::load(config_file, &store_args.overrides())?;
    check_store_exists(&config, store_args.create)?;
    let json_out = output.is_json();
    if let AdminCommand::Backup { output } = cmd {
        return crate::cli::admin_backup::run(&config, output, json_out).await;
    }
    crate::data_dir::restrict_umask();
    // The same checks as the server's: admin commands read and write the same files.
    let store = crate::data_dir::open_store(&config).await?;
    let key_file = config.master_key_path();
    let master = crate::secrets::load_or_generate(&key_file)?;
    let core = Core::new(store, Arc::new(SystemClock), config.core_settings())?
        .with_reloadable_master_keys(crate::secrets::reloading(&key_file, master));
    // Every audit record an operator command writes says the operator did it.
    gatehouse_core::audit::with_origin(
        gatehouse_core::audit::Origin::operator(),
        dispatch(&core, &key_file, cmd, json_out),
    )
    .await
}

async fn dispatch(
    core: &Core,
    key_file: &std::path::Path,
    cmd: &AdminCommand,
    json_out: bool,
) -> anyhow::Result<()> {
    match cmd {
        AdminCommand::CreateUser {
            username,
            email,
            display_name,
            role,
            org,
            password,
        } => {
            let pw = password.read()?;
            let user = core
                .create_account(NewAccount {
                    username,
                    email,
                    display_name: display_name.as_deref(),
                    password: pw.expose_secret(),
                    role: *role,
                    org: org.as_deref(),
                })
                .await
                .map_err(describe)?;
            if json_out {
                print_json(&serde_json::to_value(&user)?)?;
            } else {
                outln!("created user {} ({})", safe(&user.username), user.id)?;
            }
        }
        AdminCommand::SetPassword { username, password } => {
            let pw = password.read()?;
            core.set_password(username, pw.expose_secret())
                .await
                .map_err(describe)?;
            if json_out {
                print_json(&json!({"username": username, "password_set": true}))?;
            } else {
                outln!(
                    "password set for {}; its sessions were ended",
                    safe(username)
                )?;
            }
        }
        AdminCommand::ListUsers => {
            let users = core.list_accounts().await.map_err(describe)?;
            if json_out {
                print_json(&serde_json::to_value(&users)?)?;
            } else {
                let mut table =
                    Table::new(&["ID", "USERNAME", "EMAIL", "ROLE", "STATUS", "CREATED"])
                        .shorten(&["EMAIL"]);
                for u in &users {
                    table.row(&[
                        u.id.to_string(),
                        u.username.clone(),
                        u.email.clone(),
                        u.role.as_str().to_owned(),
                        (if u.disabled { "disabled" } else { "active" }).to_owned(),
                        u.created_at.date().to_string(),
                    ]);
                }
                table.print()?;
            }
        }
        AdminCommand::DisableUser { username } => {
            core.set_account_disabled(username, true)
                .await
                .map_err(describe)?;
            if json_out {
                print_json(&json!({"username": username, "disabled": true}))?;
            } else {
                outln!("disabled {}; its sessions were ended", safe(username))?;
            }
        }
        AdminCommand::EnableUser { username } => {
            core.set_account_disabled(username, false)
                .await
                .map_err(describe)?;
            if json_out {
                print_json(&json!({"username": username, "disabled": false}))?;
            } else {
                outln!("enabled {}", safe(username))?;
            }
        }
        AdminCommand::ResetMfa { username, reason } => {
            let removed = core.reset_mfa(username, reason).await.map_err(describe)?;
            if json_out {
                print_json(&json!({"username": username, "factors_removed": removed}))?;
            } else {
                outln!(
                    "2-step verification reset for {}: {removed} factor(s) and the recovery \
                     codes removed, sessions and tokens ended",
                    safe(username)
                )?;
            }
        }
        AdminCommand::Policy(args) => policy(core, args, json_out).await?,
        AdminCommand::Org(cmd) => crate::cli::admin_org::run(core, cmd, json_out).await?,
        AdminCommand::SeedApiKeys {
            user,
            count,
            output,
        } => {
            let keys = core.seed_api_keys(user, *count).await.map_err(describe)?;
            let mut text = String::with_capacity(keys.len() * 43);
            for k in &keys {
                text.push_str(k.expose());
                text.push('\n');
            }
            crate::tls::write_private(output, text.as_bytes())?;
            if json_out {
                print_json(&json!({"user": user, "created": keys.len(), "file": output}))?;
            } else {
                outln!(
                    "created {} keys for {}; written to {}",
                    keys.len(),
                    safe(user),
                    output.display()
                )?;
            }
        }
        AdminCommand::RotateSigningKey => {
            core.init_signing_keys().await.map_err(describe)?;
            let key = core.rotate_signing_key().await.map_err(describe)?;
            if json_out {
                print_json(&json!({"kid": key.kid}))?;
            } else {
                outln!(
                    "new signing key {}; earlier keys verify until their tokens expire",
                    key.kid
                )?;
            }
        }
        AdminCommand::RotateMasterKey {
            rewrap_only,
            retire,
        } => rotate_master_key(core, key_file, *rewrap_only, retire.as_deref(), json_out).await?,
        // Handled in `run`, before a core (and its caches) is built for nothing.
        AdminCommand::Backup { .. } => bail!("a backup runs without opening the core"),
        AdminCommand::Audit { limit } => {
            let events = core.recent_audit(None, *limit).await.map_err(describe)?;
            if json_out {
                print_json(&serde_json::to_value(&events)?)?;
            } else {
                let mut table =
                    Table::new(&["TIME", "ACTION", "USER", "NAME", "FACTOR", "IP", "DETAIL"])
                        .shorten(&["NAME", "DETAIL"]);
                for e in &events {
                    table.row(&[
                        e.at.to_string(),
                        e.action.clone(),
                        e.user_id
                            .as_ref()
                            .map(|u| u.0.clone())
                            .unwrap_or_else(|| "-".into()),
                        e.username.clone().unwrap_or_else(|| "-".into()),
                        e.factor.clone().unwrap_or_else(|| "-".into()),
                        e.ip.clone().unwrap_or_else(|| "-".into()),
                        e.detail.clone().unwrap_or_else(|| "-".into()),
                    ]);
                }
                table.print()?;
            }
        }
    }
    Ok(())
}

/// `gatehouse admin policy`: flags given change the policy; with none it is shown.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// The organisation (default: the default organisation).
    #[arg(long, value_name = "NAME")]
    org: Option<String>,
    /// Expirations members may choose for API keys, comma-separated (none,7,30,60,90).
    #[arg(long, value_name = "LIST")]
    api_key_expirations: Option<String>,
    /// The expiration applied when none is chosen (none, 7, 30, 60 or 90).
    #[arg(long, value_name = "EXP")]
    api_key_default_expiration: Option<String>,
    /// Whether members may choose the expiration (true/false).
    #[arg(long, value_name = "BOOL")]
    api_key_user_choice: Option<bool>,
    /// Whether an enabled key must be disabled before deletion (true/false).
    #[arg(long, value_name = "BOOL")]
    require_disable_before_delete: Option<bool>,
    /// The longest token lifetime members may choose, in hours (1–24).
    #[arg(long, value_name = "HOURS")]
    token_max_hours: Option<u32>,
    /// The token lifetime applied when none is chosen, in hours.
    #[arg(long, value_name = "HOURS")]
    token_default_hours: Option<u32>,
    /// Whether members may choose a token's lifetime (true/false).
    #[arg(long, value_name = "BOOL")]
    token_user_choice: Option<bool>,
    /// Whether members must use 2-step verification (true/false): one without it is
    /// sent to set it up at sign-in and can do nothing else until it is done.
    #[arg(long, value_name = "BOOL")]
    require_mfa: Option<bool>,
    /// "Enforce Security Key MFA" (true/false): members must finish every sign-in with a
    /// security key or passkey; one without a key must register one first.
    #[arg(long, value_name = "BOOL")]
    enforce_security_key: Option<bool>,
    /// Whether members may sign in with a passkey alone, without a password (true/false).
    #[arg(long, value_name = "BOOL")]
    passkey_sign_in: Option<bool>,
    /// Approved security key models: AAGUIDs, comma-separated, or `any`. New keys must
    /// then prove their model by attestation (needs mfa.attestation_roots_file).
    #[arg(long, value_name = "AAGUIDS")]
    security_key_models: Option<String>,
}

async fn policy(core: &Core, args: &PolicyArgs, json_out: bool) -> anyhow::Result<()> {
    use gatehouse_core::org::KeyExpiration;
    let org = match &args.org {
        Some(name) => core.org_named(name).await.map_err(describe)?,
        None => core.default_org().await.map_err(describe)?,
    };
    let mut p = core.org_policy_of(&org.id).await.map_err(describe)?;
    let mut changed = false;
    if let Some(list) = &args.api_key_expirations {
        p.api_key_expirations = list
            .split(',')
            .map(KeyExpiration::parse_code)
            .collect::<Result<_, _>>()
            .map_err(describe)?;
        changed = true;
    }
    if let Some(d) = &args.api_key_default_expiration {
        p.api_key_default_expiration = KeyExpiration::parse_code(d).map_err(describe)?;
        changed = true;
    }
    if let Some(v) = args.api_key_user_choice {
        p.api_key_user_choice = v;
        changed = true;
    }
    if let Some(v) = args.require_disable_before_delete {
        p.require_disable_before_delete = v;
        changed = true;
    }
    if let Some(v) = args.token_max_hours {
        p.token_max_hours = v;
        changed = true;
    }
    if let Some(v) = args.token_default_hours {
        p.token_default_hours = v;
        changed = true;
    }
    if let Some(v) = args.token_user_choice {
        p.token_user_choice = v;
        changed = true;
    }
    if let Some(v) = args.require_mfa {
        p.require_mfa = v;
        changed = true;
    }
    if let Some(v) = args.enforce_security_key {
        p.enforce_security_key = v;
        changed = true;
    }
    if let Some(v) = args.passkey_sign_in {
        p.passkey_sign_in = v;
        changed = true;
    }
    if let Some(list) = &args.security_key_models {
        p.security_key_models =
            gatehouse_core::org::OrgPolicy::parse_models(list).map_err(describe)?;
        changed = true;
    }
    if changed {
        core.set_org_policy(&org.id, &p).await.map_err(describe)?;
        if !json_out {
            outln!("policy updated for organisation {}", safe(&org.name))?;
        }
    }
    let list: Vec<String> = p
        .api_key_expirations
        .iter()
        .map(KeyExpiration::as_code)
        .collect();
    if json_out {
        return print_json(&json!({
            "organisation": org.name,
            "api_key_expirations": list,
            "api_key_default_expiration": p.api_key_default_expiration.as_code(),
            "api_key_user_choice": p.api_key_user_choice,
            "require_disable_before_delete": p.require_disable_before_delete,
            "token_max_hours": p.token_max_hours,
            "token_default_hours": p.token_default_hours,
            "token_user_choice": p.token_user_choice,
            "require_mfa": p.require_mfa,
            "enforce_security_key": p.enforce_security_key,
            "passkey_sign_in": p.passkey_sign_in,
            "security_key_models": p.security_key_models.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }));
    }
    outln!("api_key_expirations           = {}", list.join(","))?;
    outln!(
        "api_key_default_expiration    = {}",
        p.api_key_default_expiration.as_code()
    )?;
    outln!("api_key_user_choice           = {}", p.api_key_user_choice)?;
    outln!(
        "require_disable_before_delete = {}",
        p.require_disable_before_delete
    )?;
    outln!("token_max_hours               = {}", p.token_max_hours)?;
    outln!("token_default_hours           = {}", p.token_default_hours)?;
    outln!("token_user_choice             = {}", p.token_user_choice)?;
    outln!("require_mfa                   = {}", p.require_mfa)?;
    outln!("enforce_security_key          = {}", p.enforce_security_key)?;
    outln!("passkey_sign_in               = {}", p.passkey_sign_in)?;
    let models = p.models_text();
    outln!(
        "security_key_models           = {}",
        if models.is_empty() { "any" } else { &models }
    )
}

/// Turns a domain error into an operator-facing message.
/// Parses `--role`.
pub(crate) fn parse_role(s: &str) -> Result<gatehouse_core::org::Role, String> {
    gatehouse_core::org::Role::parse(s).map_err(|e| e.to_string())
}

pub(crate) fn describe(e: gatehouse_core::Error) -> anyhow::Error {
    match e {
        gatehouse_core::Error::NotFound => anyhow::anyhow!("no such user"),
        other => anyhow::anyhow!("{other}"),
    }
}

/// `gatehouse admin rotate-master-key`.
async fn rotate_master_key(
    core: &Core,
    key_file: &std::path::Path,
    rewrap_only: bool,
    retire: Option<&str>,
    json_out: bool,
) -> anyhow::Result<()> {
    let ring = crate::secrets::load(key_file)?;
    if let Some(id) = retire {
        // The active key and unknown ids are refused before anything is counted.
        let ring = ring.without(id).map_err(describe)?;
        let in_use = core
            .sealed_values_by_master_key()
            .await
            .map_err(describe)?
            .get(id)
            .copied()
            .unwrap_or(0);
        if in_use > 0 {
            anyhow::bail!(
                "master key {id} still wraps {in_use} sealed values; run \
                 \"gatehouse admin rotate-master-key --rewrap-only\" first"
            );
        }
        crate::secrets::save(key_file, &ring)?;
        if json_out {
            print_json(&json!({"retired": id, "keys": ring.ids()}))?;
        } else {
            outln!(
                "master key {id} removed from {}; copy the file to every node",
                key_file.display()
            )?;
        }
        return Ok(());
    }
    let ring = if rewrap_only {
        ring
    } else {
        let ring = ring.with_active(gatehouse_core::seal::MasterKey::generate());
        crate::secrets::save(key_file, &ring)?;
        ring
    };
    let report = core.rewrap_sealed_values(&ring).await.map_err(describe)?;
    let counts = core.sealed_values_by_master_key().await.map_err(describe)?;
    if json_out {
        print_json(&json!({
            "active": ring.active_id(),
            "rewrapped": report.rewrapped,
            "already_current": report.current,
            "changed_meanwhile": report.skipped,
            "values_by_master_key": counts,
        }))?;
    } else {
        if !rewrap_only {
            outln!(
                "new master key {} is active in {}",
                ring.active_id(),
                key_file.display()
            )?;
        }
        for (kind, n) in &report.rewrapped {
            outln!("re-wrapped {n} {kind}")?;
        }
        outln!(
            "{} values were under {} already",
            report.current,
            ring.active_id()
        )?;
        if report.skipped > 0 {
            outln!(
                "{} values changed meanwhile; run --rewrap-only again to cover them",
                report.skipped
            )?;
        }
        for id in ring.ids().iter().skip(1) {
            let n = counts.get(*id).copied().unwrap_or(0);
            if n == 0 {
                outln!("{id} wraps nothing now: retire it with --retire {id}")?;
            } else {
                outln!("{id} still wraps {n} values")?;
            }
        }
    }
    Ok(())
}
