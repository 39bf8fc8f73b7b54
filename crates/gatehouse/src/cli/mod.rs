//! The command line: `serve`, `admin …`, `config …`, `ssh …` and the user commands.
//!
//! Everything printed goes through `out.rs` (a closed pipe ends a command quietly; the
//! lints below keep `println!` out), secrets are read through `prompt.rs` (no echo at a
//! terminal), and data is printed as a table or `--json` by `output.rs`.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod admin;
pub mod admin_backup;
pub mod admin_org;
pub mod out;
pub mod output;
pub mod prompt;
pub mod serve;
pub mod ssh;
pub mod term;
pub mod user;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::cli::out::{out, outln};
use crate::cli::output::OutputArgs;
use crate::config::{Config, Overrides};

/// Gatehouse: account authentication and credentials for the compute platform.
#[derive(Debug, Parser)]
#[command(name = "gatehouse", version, about)]
pub struct Cli {
    /// TOML configuration file.
    #[arg(long, global = true, env = "GATEHOUSE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(serve::ServeArgs),
    /// Operator commands, run directly on the store.
    Admin {
        /// Where the store is.
        #[command(flatten)]
        store: StoreArgs,
        /// Output format.
        #[command(flatten)]
        output: OutputArgs,
        /// The operation.
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
    /// Sign in to a Gatehouse server and store the credential: a token (from --token,
    /// GATEHOUSE_TOKEN or standard input), a password sign-in, or an API key.
    Login(user::LoginArgs),
    /// Forget the stored credential (a password sign-in's session is also ended).
    Logout,
    /// Show who you are.
    Auth {
        /// Server flags.
        #[command(flatten)]
        server: user::ServerArgs,
        /// Output format.
        #[command(flatten)]
        output: OutputArgs,
        /// The operation.
        #[command(subcommand)]
        command: AuthCommand,
    },
    /// Your 2-step verification (set it up in the web UI: Account → Authentication →
    /// 2-Step Verification).
    Mfa {
        /// Server flags.
        #[command(flatten)]
        server: user::ServerArgs,
        /// Output format.
        #[command(flatten)]
        output: OutputArgs,
        /// The operation.
        #[command(subcommand)]
        command: MfaCommand,
    },
    /// Manage your API keys.
    ApiKeys {
        /// Server flags.
        #[command(flatten)]
        server: user::ServerArgs,
        /// Output format.
        #[command(flatten)]
        output: OutputArgs,
        /// The operation.
        #[command(subcommand)]
        command: user::ApiKeysCommand,
    },
    /// Make, list and revoke bearer tokens.
    Tokens {
        /// Server flags.
        #[command(flatten)]
        server: user::ServerArgs,
        /// Output format.
        #[command(flatten)]
        output: OutputArgs,
        /// The operation.
        #[command(subcommand)]
        command: user::TokensCommand,
    },
    /// Manage your SSH public keys (cluster login).
    SshKeys {
        /// Server flags.
        #[command(flatten)]
        server: user::ServerArgs,
        /// Output format.
        #[command(flatten)]
        output: OutputArgs,
        /// The operation.
        #[command(subcommand)]
        command: user::SshKeysCommand,
    },
    /// Manage the SSH private keys the platform signs with for you (stored sealed;
    /// never shown again).
    SshPrivateKeys {
        /// Server flags.
        #[command(flatten)]
        server: user::ServerArgs,
        /// Output format.
        #[command(flatten)]
        output: OutputArgs,
        /// The operation.
        #[command(subcommand)]
        command: user::SshPrivateKeysCommand,
    },
    /// Your organisation's admin panel: its keys, members, policy and audit log
    /// (owners and admins, or an organisation key with the org permissions).
    Org {
        /// Server flags.
        #[command(flatten)]
        server: user::ServerArgs,
        /// Output format.
        #[command(flatten)]
        output: OutputArgs,
        /// The operation.
        #[command(subcommand)]
        command: user::OrgCommand,
    },
    /// Cluster integration: the sshd AuthorizedKeysCommand.
    Ssh {
        /// The operation.
        #[command(subcommand)]
        command: ssh::SshCommand,
    },
    /// Inspect configuration.
    Config {
        /// The operation.
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

/// Flags that locate the store (accepted before or after the admin subcommand).
#[derive(Debug, Args, Clone, Default)]
pub struct StoreArgs {
    /// Data folder (SQLite database, master key, generated certificate).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL (sqlite://… or postgres://…).
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Create the data folder and an empty store if there is none (without it, a
    /// missing one is an error, so that a mistyped path cannot start a new empty store).
    #[arg(long, global = true)]
    pub create: bool,
}

/// `gatehouse auth …`
#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Show the account and credential in use.
    Session,
}

/// `gatehouse mfa …`
#[derive(Debug, Subcommand)]
pub enum MfaCommand {
    /// Whether 2-step verification is on, your authenticator app, and how many recovery
    /// codes are left.
    Status,
}

/// `gatehouse config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print an example configuration file with every default.
    Example,
    /// Load the configuration (file, environment) and report problems.
    Check,
}

impl StoreArgs {
    /// As configuration overrides.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone().map(Into::into),
            ..Overrides::default()
        }
    }
}

/// Runs `gatehouse config …`.
pub fn config_command(
    cli_config: Option<&std::path::Path>,
    cmd: &ConfigCommand,
) -> anyhow::Result<()> {
    match cmd {
        ConfigCommand::Example => {
            out!("{}", Config::example_toml())
        }
        ConfigCommand::Check => {
            let c = Config::load(cli_config, &Overrides::default())?;
            outln!("configuration OK")?;
            outln!("  listen:   https://{}", c.server.listen)?;
            if !c.server.http_listen.is_empty() {
                outln!(
                    "  http:     http://{} (never authenticates)",
                    c.server.http_listen
                )?;
            }
            outln!(
                "  database: {}",
                crate::config::redact_url(&c.database_url())
            )
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_definition_is_consistent() {
        // Catches clashing names (a global flag shadowing a subcommand's) at test time
        // rather than as a panic when the command runs.
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }

    #[test]
    fn database_passwords_are_hidden_when_printed() {
        assert_eq!(
            crate::config::redact_url("postgres://gh:s3cret@db:5432/gh"),
            "postgres://gh:***@db:5432/gh"
        );
        assert_eq!(
            crate::config::redact_url("sqlite://./x.db"),
            "sqlite://./x.db"
        );
    }
}
