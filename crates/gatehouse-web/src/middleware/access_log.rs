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
        // SECURITY: a key in the path is replaced before the path is kept (see
        // `LoggedPath`); only such a path costs an allocation.
        let redacted;
        let path = if LoggedPath::needs_redaction(path) {
            redacted = LoggedPath(path).to_string();
            redacted.as_str()
        } else {
            path
        };
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

/// Displays a request path with any path segment that holds an API key replaced by
/// `<redacted>`. SECURITY: a key pasted into a URL by mistake (or by a client that reuses
/// the value it authenticates with) never reaches the log; other paths are written as
/// they are, without allocating.
pub struct LoggedPath<'a>(pub &'a str);

impl LoggedPath<'_> {
    fn holds_key(segment: &str) -> bool {
        use gatehouse_core::api_key::{KEY_LEN, PREFIX, is_well_formed};
        segment.len() >= KEY_LEN
            && segment
                .match_indices(PREFIX)
                .any(|(i, _)| segment.get(i..i + KEY_LEN).is_some_and(is_well_formed))
    }

    /// Whether any segment of `path` holds a key.
    pub fn needs_redaction(path: &str) -> bool {
        path.split('/').any(Self::holds_key)
    }
}

impl std::fmt::Display for LoggedPath<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !Self::needs_redaction(self.0) {
            return f.write_str(self.0);
        }
        for (n, segment) in self.0.split('/').enumerate() {
            if n > 0 {
                f.write_str("/")?;
            }
            f.write_str(if Self::holds_key(segment) {
                "<redacted>"
            } else {
                segment
            })?;
        }
        Ok(())
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

/// Writes `at` as RFC 3339 in UTC with microseconds. The date and time of day are made
/// once per second and reused: a busy second formats them once, not per line.
fn timestamp(buf: &mut Vec<u8>, at: SystemTime) {
    thread_local! {
        static SECOND: std::cell::RefCell<(u64, Vec<u8>)> =
            const { std::cell::RefCell::new((u64::MAX, Vec::new())) };
    }
    let since = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    SECOND.with_borrow_mut(|(cached, text)| {
        if *cached != secs {
            text.clear();
            let t = time::OffsetDateTime::UNIX_EPOCH
                + time::Duration::seconds(i64::try_from(secs).unwrap_or(0));
            let _ = write!(
                text,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            );
            *cached = secs;
        }
        buf.extend_from_slice(text);
    });
    let _ = write!(buf, ".{:06}Z", since.subsec_micros());
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
        let at = v["timestamp"].as_str().expect("timestamp");
        let parsed =
            time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                .expect("RFC 3339");
        let now = time::OffsetDateTime::from(wall_clock());
        assert!((now - parsed).abs() < time::Duration::seconds(5), "{at}");
        assert!(
            at.ends_with('Z') && at.len() == "2026-12-04T02:40:01.123456Z".len(),
            "{at}"
        );
    }

    #[test]
    fn a_path_segment_holding_an_api_key_is_redacted_in_the_log() {
        let key = gatehouse_core::api_key::ApiKeySecret::generate();
        let key = key.expose();
        let path = format!("/api/ssh-keys/{key}");
        assert_eq!(LoggedPath(&path).to_string(), "/api/ssh-keys/<redacted>");
        let path = format!("/api/x/a{key}b/disable");
        assert_eq!(LoggedPath(&path).to_string(), "/api/x/<redacted>/disable");
        let v: serde_json::Value =
            serde_json::from_str(&line(Format::Json, &path, None)).expect("json");
        assert_eq!(v["path"], "/api/x/<redacted>/disable");
        // Ids, and strings that merely look like a key, stay as they are.
        for plain in [
            "/api/api-keys/key_0123/disable",
            "/healthz",
            "/api/x/gwk_short",
            "/",
        ] {
            assert_eq!(LoggedPath(plain).to_string(), plain);
        }
        let wrong_check = format!("/api/x/{}0", &key[..key.len() - 1]);
        if !gatehouse_core::api_key::is_well_formed(&wrong_check[7..]) {
            assert_eq!(LoggedPath(&wrong_check).to_string(), wrong_check);
        }
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
