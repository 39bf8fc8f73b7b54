//! `gatehouse admin backup`: an online, checked copy of the SQLite store (the server may
//! keep running), or for PostgreSQL the pointer to its own tools. The restore is the
//! README's "Backup and restore" section, followed step by step by the e2e test.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, bail};
use gatehouse_store::Backend;
use serde_json::json;

use crate::cli::out::outln;
use crate::cli::output::print_json;
use crate::config::Config;

/// Writes the backup to `output` (a new file, mode 0600) and says what it holds.
pub async fn run(config: &Config, output: &Path, json_out: bool) -> anyhow::Result<()> {
    let url = config.database_url();
    let key_file = config.master_key_path();
    if Backend::of_url(&url)? == Backend::Postgres {
        bail!(
            "this store is PostgreSQL: back it up with PostgreSQL's own tools, for example \
             `pg_dump --format=custom --file=gatehouse.dump DBNAME` (online, consistent) and \
             restore into an empty database with `pg_restore --dbname=DBNAME gatehouse.dump`. \
             Keep a copy of the master key file ({}) as well: without it the sealed values \
             in the dump cannot be read",
            key_file.display()
        );
    }
    crate::data_dir::restrict_umask();
    let summary = gatehouse_store::backup::backup_sqlite(&url, output)
        .await
        .context("backing up the store")?;
    // SECURITY: the copy holds every hash and sealed value; only its owner reads it.
    std::fs::set_permissions(output, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("making {} private", output.display()))?;
    if json_out {
        print_json(&json!({
            "output": output.display().to_string(),
            "bytes": summary.bytes,
            "schema_version": summary.schema_version,
            "accounts": summary.accounts,
            "integrity_check": "ok",
            "master_key_file": key_file.display().to_string(),
        }))?;
    } else {
        outln!(
            "backup written to {} ({} bytes, {} accounts, schema version {}); its integrity \
             check passed",
            output.display(),
            summary.bytes,
            summary.accounts,
            summary.schema_version
        )?;
        outln!(
            "the master key ({}) is not in the backup: keep a copy of it somewhere safe and \
             apart from the backup; without it the sealed values (SSH private keys, 2-step \
             seeds, signing keys) cannot be read",
            key_file.display()
        )?;
    }
    Ok(())
}
