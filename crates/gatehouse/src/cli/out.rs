//! Standard output and standard error for every command, so that a closed pipe
//! (`gatehouse api-keys list | head -1`) ends the command quietly instead of panicking.
//!
//! Rust ignores SIGPIPE, so a write to a pipe whose reader has gone fails with
//! `BrokenPipe`, and `println!` turns that failure into a panic (exit 101). Resetting
//! SIGPIPE to its default would need `unsafe` (forbidden here) and would end the process
//! by signal (status 141) rather than with a status scripts read as success. So every
//! line goes through [`outln!`], which returns the write error: a `BrokenPipe` becomes
//! [`StdoutClosed`], which `main` turns into a silent exit 0, and any other failure is an
//! ordinary error. The `cli` module denies `clippy::print_stdout` and
//! `clippy::print_stderr`, so no `println!`/`eprintln!` can slip back in. Messages for
//! the person ([`note!`]) go to standard error and ignore a failure there: nobody is left
//! to read it.

use std::fmt;
use std::io::Write;

/// Standard output was closed by its reader: the command stops, and exits 0 quietly.
#[derive(Debug)]
pub struct StdoutClosed;

impl fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("standard output was closed")
    }
}

impl std::error::Error for StdoutClosed {}

/// Whether `e` means only that standard output was closed by its reader.
pub fn is_stdout_closed(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<StdoutClosed>())
}

/// Writes to standard output (locked, flushed), mapping a closed pipe to [`StdoutClosed`].
pub fn write_out(args: fmt::Arguments<'_>) -> anyhow::Result<()> {
    to_stdout(|out| out.write_fmt(args))
}

/// Runs `write` on locked standard output and flushes, mapping a closed pipe to
/// [`StdoutClosed`].
fn to_stdout(
    write: impl FnOnce(&mut std::io::StdoutLock<'_>) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    write(&mut out)
        .and_then(|()| out.flush())
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::BrokenPipe => anyhow::Error::new(StdoutClosed),
            _ => anyhow::Error::new(e).context("writing to standard output"),
        })
}

/// Writes raw bytes to standard output (a download), like [`write_out`].
pub fn write_bytes(bytes: &[u8]) -> anyhow::Result<()> {
    to_stdout(|out| out.write_all(bytes))
}

/// Writes to standard error, ignoring failure (there is nobody left to tell).
pub fn write_err(args: fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args);
    let _ = err.flush();
}

/// `println!` that returns `anyhow::Result<()>` (use with `?`).
macro_rules! outln {
    () => {
        $crate::cli::out::write_out(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::out::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` that returns `anyhow::Result<()>`.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::out::write_out(format_args!($($arg)*))
    };
}

/// `eprintln!` that never panics.
macro_rules! note {
    () => {
        $crate::cli::out::write_err(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::out::write_err(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {note, out, outln};
