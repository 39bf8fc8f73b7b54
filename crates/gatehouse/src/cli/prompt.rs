//! Reading a secret (password, token, API key) from standard input: hidden at a
//! terminal, one line from a pipe or file.
//!
//! At a terminal this does what `getpass` does, with `rustix::termios` (a safe wrapper the
//! workspace already uses; `rpassword` was the alternative, but it leaves echo off when
//! Ctrl-C kills the process). Echo, canonical mode and signal keys are switched off for
//! the read, so the secret never appears on the screen and Ctrl-C arrives as a byte that
//! we handle: the terminal's settings are restored by a guard on every path out (Enter,
//! Ctrl-C, Ctrl-D, a read error, a panic). Backspace and Ctrl-U edit the line as usual.
//! The prompt goes to standard error, never standard output.

use std::io::{IsTerminal, Read};
use std::os::fd::AsFd;

use anyhow::{Context, bail};
use rustix::termios::{LocalModes, OptionalActions, SpecialCodeIndex, Termios};
use secrecy::SecretString;
use zeroize::Zeroizing;

use crate::cli::out::note;

/// Ctrl-C at a prompt: the command stops (exit 130, as a shell reports SIGINT).
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// Asks a yes/no question at the terminal; only "yes" (or "y") is yes.
pub fn confirm(question: &str) -> anyhow::Result<bool> {
    use std::io::Write;
    let mut err = std::io::stderr();
    err.write_all(question.as_bytes())?;
    err.flush()?;
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "yes" | "y"
    ))
}

/// Reads one secret line. At a terminal, `prompt` is shown on standard error and what is
/// typed is not echoed; from a pipe, one line is read as it is (only the line ending is
/// removed: a password may begin or end with spaces). `what` names it in errors.
pub fn read_secret(prompt: &str, what: &str) -> anyhow::Result<SecretString> {
    let stdin = std::io::stdin();
    let line = if stdin.is_terminal() {
        let line = read_hidden(&stdin, prompt);
        // Enter was not echoed either: end the prompt's line.
        note!();
        line?
    } else {
        read_piped_line(&stdin, what)?
    };
    if line.is_empty() {
        bail!("no {what} on standard input");
    }
    let text =
        String::from_utf8(line.to_vec()).with_context(|| format!("the {what} is not UTF-8"))?;
    Ok(SecretString::from(text))
}

fn read_piped_line(stdin: &std::io::Stdin, what: &str) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    // One line, so a secret piped with `echo` or a here-string needs no Ctrl-D.
    let mut line = Zeroizing::new(Vec::new());
    let mut byte = [0u8; 1];
    let mut input = stdin.lock();
    loop {
        match input.read(&mut byte) {
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => line.push(byte[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).with_context(|| format!("reading the {what} from stdin")),
        }
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(line)
}

/// Puts the terminal back as it was when dropped.
struct Restore<'a> {
    stdin: &'a std::io::Stdin,
    saved: Termios,
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(self.stdin.as_fd(), OptionalActions::Now, &self.saved);
    }
}

/// What one typed byte does to the line being read.
#[derive(Debug, PartialEq, Eq)]
enum Key {
    Byte(u8),
    Erase,
    Kill,
    Enter,
    Interrupt,
    EndOfFile,
    Ignore,
}

fn key(b: u8) -> Key {
    match b {
        b'\r' | b'\n' => Key::Enter,
        0x03 => Key::Interrupt,
        0x04 => Key::EndOfFile,
        0x08 | 0x7f => Key::Erase,
        0x15 => Key::Kill,
        // Other control keys (Ctrl-Z, Ctrl-\, Escape…) are not part of a secret.
        0x00..=0x1f => Key::Ignore,
        _ => Key::Byte(b),
    }
}

/// Applies `b` to `line`; `Some(result)` once the line is finished.
fn edit(line: &mut Vec<u8>, b: u8) -> Option<Result<(), Interrupted>> {
    match key(b) {
        Key::Byte(b) => line.push(b),
        Key::Erase => {
            // One character, which may be several UTF-8 bytes.
            while let Some(last) = line.pop() {
                if last & 0xC0 != 0x80 {
                    break;
                }
            }
        }
        Key::Kill => line.clear(),
        Key::Enter => return Some(Ok(())),
        Key::EndOfFile if line.is_empty() => return Some(Ok(())),
        Key::Interrupt => return Some(Err(Interrupted)),
        Key::EndOfFile | Key::Ignore => {}
    }
    None
}

fn read_hidden(stdin: &std::io::Stdin, prompt: &str) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let fd = stdin.as_fd();
    let saved = rustix::termios::tcgetattr(fd).context("reading the terminal settings")?;
    let mut quiet = saved.clone();
    // SECURITY: no echo, so the secret is never on the screen (or in a recording of it).
    // Without ICANON and ISIG, Ctrl-C is a byte we see, so the settings are restored
    // before the command stops; with ISIG it would kill us with echo still off.
    quiet.local_modes.remove(
        LocalModes::ECHO
            | LocalModes::ECHONL
            | LocalModes::ICANON
            | LocalModes::ISIG
            | LocalModes::IEXTEN,
    );
    quiet.special_codes[SpecialCodeIndex::VMIN] = 1;
    quiet.special_codes[SpecialCodeIndex::VTIME] = 0;
    let _restore = Restore { stdin, saved };
    // As getpass does: echo goes off (and what was typed ahead is dropped) before the
    // prompt is shown, so nothing typed after the prompt can be echoed.
    rustix::termios::tcsetattr(fd, OptionalActions::Flush, &quiet)
        .context("switching terminal echo off")?;
    crate::cli::out::write_err(format_args!("{prompt}"));
    let mut line = Zeroizing::new(Vec::new());
    let mut buf = Zeroizing::new([0u8; 256]);
    loop {
        let n = match rustix::io::read(fd, &mut buf[..]) {
            Ok(0) => return Ok(line),
            Ok(n) => n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(std::io::Error::from(e)).context("reading from the terminal"),
        };
        for &b in &buf[..n] {
            match edit(&mut line, b) {
                None => {}
                Some(Ok(())) => return Ok(line),
                Some(Err(i)) => return Err(i.into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(bytes: &[u8]) -> (Vec<u8>, Option<Result<(), Interrupted>>) {
        let mut line = Vec::new();
        for &b in bytes {
            if let Some(done) = edit(&mut line, b) {
                return (line, Some(done));
            }
        }
        (line, None)
    }

    #[test]
    fn enter_ends_the_line_and_backspace_removes_a_whole_character() {
        let (line, done) = typed("pässx\x7f\x7f\x7fs\r".as_bytes());
        assert!(matches!(done, Some(Ok(()))));
        assert_eq!(line, "päs".as_bytes());
        let (line, _) = typed(b"wrong\x15right\n");
        assert_eq!(line, b"right");
    }

    #[test]
    fn ctrl_c_interrupts_and_control_keys_are_not_part_of_the_secret() {
        assert!(matches!(typed(b"abc\x03").1, Some(Err(Interrupted))));
        let (line, done) = typed(b"a\x1a\x1bb\x04c\r");
        assert!(matches!(done, Some(Ok(()))));
        assert_eq!(line, b"abc", "Ctrl-D inside a line is ignored");
        assert!(
            matches!(typed(b"\x04").1, Some(Ok(()))),
            "Ctrl-D on an empty line ends it"
        );
    }
}
