//! The `gatehouse` command: server, operator tool and user CLI in one binary.

use std::process::ExitCode;

use clap::Parser;
use gatehouse::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = cli.config.as_deref();
    let result = runtime.block_on(async {
        match &cli.command {
            Command::Serve(args) => gatehouse::cli::serve::run(config, args).await,
            Command::Admin { store, command } => {
                gatehouse::cli::admin::run(config, &store.overrides(), command).await
            }
            Command::Config { command } => gatehouse::cli::config_command(config, command),
            Command::Login(args) => gatehouse::cli::user::login(args).await,
            Command::Logout => gatehouse::cli::user::logout().await,
            Command::Auth {
                server,
                command: gatehouse::cli::AuthCommand::Session,
            } => gatehouse::cli::user::auth_session(server).await,
            Command::ApiKeys { server, command } => {
                gatehouse::cli::user::api_keys(server, command).await
            }
            Command::Tokens { server, command } => {
                gatehouse::cli::user::tokens(server, command).await
            }
            Command::SshKeys { server, command } => {
                gatehouse::cli::user::ssh_keys(server, command).await
            }
            Command::Ssh { command } => gatehouse::cli::ssh::run(command).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
