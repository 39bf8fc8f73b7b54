//! The access log: one line per request (time, request id, method, path without the
//! query, status, duration, client address; never headers, bodies or query strings),
//! written off the request's path.
//!
//! A request puts a fixed-size [`AccessRecord`] (no allocation: the path is copied into
//! an inline buffer) into a bounded channel and goes on; one thread formats the records
//! in batches and writes each batch to stderr under one lock, so a busy server makes one
//! `write` for many lines and no worker ever waits for the terminal or the pipe. The
//! thread polls the channel every 10 ms when it is empty, so that no request pays for
//! waking it. When
//! the channel is full (the log cannot keep up), records are counted and dropped rather
//! than slowing requests, and the next batch begins with a warning line saying how many.
//!
//! The lines have the shape of the tracing subscriber's (`json` or `pretty`), with the
//! target `gatehouse::access`; the log is on when that target is enabled at `info` when
//! the process starts ([`install`]). This is written by hand, not with `tracing`, because
//! a tracing event formats and writes on the worker that emits it, which at the default
//! level cost more than the rest of a request's middleware.

use std::io::Write;
use std::net::IpAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError};
use std::time::SystemTime;

use axum::http::Method;

use crate::context::RequestId;

/// Records queued at most (about 250 bytes each).
const QUEUE: usize = 16 * 1024;
/// Bytes of a path kept; a longer one is cut and ends in `…`.
const PATH_BYTES: usize = 120;
/// A batch is written once it holds this many bytes, or when the queue is empty.
const BATCH_BYTES: usize = 32 * 1024;
/// How long the writer sleeps when the queue is empty: a line appears at most this late.
const IDLE_POLL: std::time::Duration = std::time::Duration::from_millis(10);

/// One request, as logged.
pub struct AccessRecord {
    at: SystemTime,
    id: RequestId,
    method: Method,
    path: [u8; PATH_BYTES],
    path_len: u8,
    truncated: bool,
    status: u16,
    micros: u64,
    ip: Option<IpAddr>,
}

impl AccessRecord {
    /// A record of a request that is starting; [`AccessRecord::finished`] completes it.
    pub fn new(id: RequestId, method: &Method, path: &str, ip: Option<IpAddr>) -> Self {
        let mut buf = [0u8; PATH_BYTES];
        let mut len = path.len().min(PATH_BYTES);
        while !path.is_char_boundary(len) {
            len -= 1;
        }
        buf[..len].copy_from_slice(&path.as_bytes()[..len]);
        AccessRecord {
            at: wall_clock(),
            id,
            method: method.clone(),
            path: buf,
            path_len: len as u8,
            truncated: len < path.len(),
            status: 0,
            micros: 0,
            ip,
        }
    }

    /// The record with the request's answer and duration.
    pub fn finished(mut self, status: u16, took: std::time::Duration) -> Self {
        self.status = status;
        self.micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self
    }

    fn path(&self) -> &str {
        std::str::from_utf8(&self.path[..usize::from(self.path_len)]).unwrap_or("")
    }
}

/// How lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line.
    Json,
    /// Text for a terminal.
    Pretty,
}

static SINK: OnceLock<SyncSender<AccessRecord>> = OnceLock::new();
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Starts the writer thread; until then (and in in-process tests) nothing is logged.
/// Later calls change nothing.
pub fn install(format: Format) -> std::io::Result<()> {
    if SINK.get().is_some() {
        return Ok(());
    }
    let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE);
    std::thread::Builder::new()
        .name("access-log".into())
        .spawn(move || write_loop(&rx, format))?;
    let _ = SINK.set(tx);
    Ok(())
}

/// Whether the access log is on.
pub fn enabled() -> bool {
    SINK.get().is_some()
}

/// Queues a record; never waits.
pub fn log(record: AccessRecord) {
    if let Some(tx) = SINK.get()
        && let Err(TrySendError::Full(_)) = tx.try_send(record)
    {
        DROPPED.fetch_add(1, Ordering::Relaxed);
    }
}

/// Lines not written because the log could not keep up, since the start.
pub fn dropped() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

fn write_loop(rx: &Receiver<AccessRecord>, format: Format) {
    let mut buf: Vec<u8> = Vec::with_capacity(BATCH_BYTES + 1024);
    let mut reported = 0;
    loop {
        // The writer polls rather than blocks: a sender wakes a *blocked* receiver with a
        // system call, which at every request would cost more than the line itself.
        match rx.try_recv() {
            Ok(r) => {
                if buf.is_empty() {
                    let dropped = DROPPED.load(Ordering::Relaxed);
                    if dropped > reported {
                        warn_dropped(&mut buf, format, dropped - reported);
                        reported = dropped;
                    }
                }
                write_record(&mut buf, format, &r);
                if buf.len() >= BATCH_BYTES {
                    flush(&mut buf);
                }
            }
            Err(TryRecvError::Empty) => {
                flush(&mut buf);
                std::thread::sleep(IDLE_POLL);
            }
            Err(TryRecvError::Disconnected) => {
                flush(&mut buf);
                return;
            }
        }
    }
}

/// Writes a batch to stderr under one lock.
fn flush(buf: &mut Vec<u8>) {
    if buf.is_empty() {
        return;
    }
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(buf);
    let _ = err.flush();
    buf.clear();
}

/// The time a log line shows: the machine's wall clock, as the tracing subscriber's lines
/// show it (the core's clock is for what Gatehouse decides, not for what it logs).
#[allow(clippy::disallowed_methods)]
fn wall_clock() -> SystemTime {
    SystemTime::now()
}

fn timestamp(buf: &mut Vec<u8>, at: SystemTime) {
    let at = time::OffsetDateTime::from(at);
    let _ = at.format_into(buf, &time::format_description::well_known::Rfc3339);
}

fn warn_dropped(buf: &mut Vec<u8>, format: Format, n: u64) {
    let now = wall_clock();
    match format {
        Format::Json => {
            buf.extend_from_slice(b"{\"timestamp\":\"");
            timestamp(buf, now);
            let _ = writeln!(
                buf,
                "\",\"level\":\"WARN\",\"message\":\"access log lines dropped: the log could not keep up\",\"dropped\":{n},\"target\":\"gatehouse::access\"}}"
            );
        }
        Format::Pretty => {
            timestamp(buf, now);
            let _ = writeln!(
                buf,
                "  WARN gatehouse::access: {n} access log lines dropped: the log could not keep up"
            );
        }
    }
}

fn write_record(buf: &mut Vec<u8>, format: Format, r: &AccessRecord) {
    let ms = r.micros as f64 / 1000.0;
    let ellipsis = if r.truncated { "…" } else { "" };
    match format {
        Format::Json => {
            buf.extend_from_slice(b"{\"timestamp\":\"");
            timestamp(buf, r.at);
            let _ = write!(
                buf,
                "\",\"level\":\"INFO\",\"message\":\"request\",\"request_id\":\"{}\",\"method\":",
                r.id
            );
            let _ = serde_json::to_writer(&mut *buf, r.method.as_str());
            buf.extend_from_slice(b",\"path\":");
            if r.truncated {
                let _ = serde_json::to_writer(&mut *buf, &format!("{}{ellipsis}", r.path()));
            } else {
                let _ = serde_json::to_writer(&mut *buf, r.path());
            }
            let _ = write!(buf, ",\"status\":{},\"duration_ms\":{ms:.3}", r.status);
            if let Some(ip) = r.ip {
                let _ = write!(buf, ",\"client_ip\":\"{ip}\"");
            }
            buf.extend_from_slice(b",\"target\":\"gatehouse::access\"}\n");
        }
        Format::Pretty => {
            timestamp(buf, r.at);
            let _ = write!(
                buf,
                "  INFO gatehouse::access: {} {:?}{ellipsis} {} {ms:.3}ms request_id={}",
                r.method,
                r.path(),
                r.status,
                r.id
            );
            if let Some(ip) = r.ip {
                let _ = write!(buf, " client_ip={ip}");
            }
            buf.push(b'\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(format: Format, path: &str, ip: Option<IpAddr>) -> String {
        let r = AccessRecord::new(RequestId::next(), &Method::GET, path, ip)
            .finished(404, std::time::Duration::from_micros(1234));
        let mut buf = Vec::new();
        write_record(&mut buf, format, &r);
        String::from_utf8(buf).expect("utf-8")
    }

    #[test]
    fn a_json_line_is_one_object_with_the_fields_and_nothing_else() {
        let text = line(
            Format::Json,
            "/api/x\"y",
            Some("192.0.2.1".parse().expect("ip")),
        );
        assert!(text.ends_with('\n') && text.matches('\n').count() == 1);
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["message"], "request");
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["path"], "/api/x\"y");
        assert_eq!(v["status"], 404);
        assert_eq!(v["duration_ms"], 1.234);
        assert_eq!(v["client_ip"], "192.0.2.1");
        assert_eq!(v["request_id"].as_str().map(str::len), Some(16));
        assert!(v["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    }

    #[test]
    fn a_long_path_is_cut_on_a_character_boundary_and_marked() {
        let long = format!("/{}", "é".repeat(200));
        let v: serde_json::Value =
            serde_json::from_str(&line(Format::Json, &long, None)).expect("json");
        let path = v["path"].as_str().expect("path");
        assert!(
            path.ends_with('…') && path.len() <= PATH_BYTES + 3,
            "{path}"
        );
        assert!(v.get("client_ip").is_none());
        let pretty = line(Format::Pretty, "/healthz", None);
        assert!(
            pretty.contains("GET \"/healthz\" 404 1.234ms request_id="),
            "{pretty}"
        );
    }
}
