//! The `gatehouse` command: server, operator tool and user CLI in one binary.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use clap::Parser;
use gatehouse::cli::out::{is_stdout_closed, write_err};
use gatehouse::cli::prompt::Interrupted;
use gatehouse::cli::{Cli, Command};

/// jemalloc rather than the system allocator: the request path allocates a few dozen
/// small blocks per request on every worker thread, which jemalloc's per-thread caches
/// serve faster, and glibc's arenas fragment under that load over hours (measured in
/// docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            write_err(format_args!("error: cannot start the async runtime: {e}\n"));
            return ExitCode::FAILURE;
        }
    };
    let config = cli.config.as_deref();
    let result = runtime.block_on(async {
        match &cli.command {
            Command::Serve(args) => gatehouse::cli::serve::run(config, args).await,
            Command::Admin {
                store,
                output,
                command,
            } => gatehouse::cli::admin::run(config, store, output, command).await,
            Command::Config { command } => gatehouse::cli::config_command(config, command),
            Command::Login(args) => gatehouse::cli::user::login(args).await,
            Command::Logout => gatehouse::cli::user::logout().await,
            Command::Auth {
                server,
                output,
                command: gatehouse::cli::AuthCommand::Session,
            } => gatehouse::cli::user::auth_session(server, output).await,
            Command::Mfa {
                server,
                output,
                command: gatehouse::cli::MfaCommand::Status,
            } => gatehouse::cli::user::mfa_status(server, output).await,
            Command::ApiKeys {
                server,
                output,
                command,
            } => gatehouse::cli::user::api_keys(server, output, command).await,
            Command::Org {
                server,
                output,
                command,
            } => gatehouse::cli::user::org(server, output, command).await,
            Command::Tokens {
                server,
                output,
                command,
            } => gatehouse::cli::user::tokens(server, output, command).await,
            Command::SshKeys {
                server,
                output,
                command,
            } => gatehouse::cli::user::ssh_keys(server, output, command).await,
            Command::SshPrivateKeys {
                server,
                output,
                command,
            } => gatehouse::cli::user::ssh_private_keys(server, output, command).await,
            Command::Ssh { command } => gatehouse::cli::ssh::run(command).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `… | head` closed the pipe: the reader has what it wanted.
        Err(e) if is_stdout_closed(&e) => ExitCode::SUCCESS,
        Err(e) if e.is::<Interrupted>() => ExitCode::from(130),
        Err(e) => {
            write_err(format_args!("error: {e:#}\n"));
            ExitCode::FAILURE
        }
    }
}
