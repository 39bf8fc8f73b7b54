//! Failed-attempt throttling: per-account backoff whose counters live in the store,
//! a per-IP window kept in memory on each node, and the per-minute tally of failed
//! API-key and bearer attempts that the audit trail records.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::RwLock;

use time::{Duration, OffsetDateTime};

/// Consecutive failures recorded against one sign-in subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureState {
    /// Failures since the last success.
    pub failures: u32,
    /// When the latest one happened.
    pub last_failure_at: OffsetDateTime,
}

/// How failures turn into waiting time.
#[derive(Debug, Clone, Copy)]
pub struct LockoutPolicy {
    /// Failures allowed before any delay.
    pub free_failures: u32,
    /// The first delay; it doubles with each further failure.
    pub base_delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
    /// After this many consecutive failures the account stays locked until an operator
    /// resets it (`gatehouse admin set-password`).
    pub hard_limit: u32,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            free_failures: 5,
            base_delay: Duration::seconds(30),
            max_delay: Duration::hours(1),
            hard_limit: 100,
        }
    }
}

/// Why an attempt must wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lockout {
    /// Wait this many seconds.
    Backoff(u64),
    /// Locked until an operator resets the account.
    Locked,
}

impl LockoutPolicy {
    /// Whether a new attempt must wait, given the recorded failures.
    pub fn check(&self, state: Option<&FailureState>, now: OffsetDateTime) -> Option<Lockout> {
        let s = state?;
        if s.failures >= self.hard_limit {
            return Some(Lockout::Locked);
        }
        if s.failures < self.free_failures {
            return None;
        }
        let doublings = (s.failures - self.free_failures).min(20);
        let delay = (self.base_delay * (1i32 << doublings)).min(self.max_delay);
        let until = s.last_failure_at + delay;
        (until > now).then(|| Lockout::Backoff((until - now).whole_seconds().max(1) as u64))
    }
}

/// Failed authentications per client address, in fixed windows.
pub struct IpLimiter {
    max_failures: u32,
    window: Duration,
    /// Read on every authentication, written only on failures.
    slots: RwLock<HashMap<IpAddr, (i64, u32)>>,
}

impl IpLimiter {
    /// Allows `max_failures` failures per address per `window`.
    pub fn new(max_failures: u32, window: Duration) -> Self {
        IpLimiter {
            max_failures,
            window,
            slots: RwLock::new(HashMap::new()),
        }
    }

    /// Seconds the address must wait, if it is over its limit.
    pub fn check(&self, ip: IpAddr, now: OffsetDateTime) -> Option<u64> {
        let slots = self.slots.read().unwrap_or_else(|e| e.into_inner());
        let (start, count) = *slots.get(&ip)?;
        let end = start + self.window.whole_seconds();
        let now = now.unix_timestamp();
        (count >= self.max_failures && now < end).then(|| (end - now).max(1) as u64)
    }

    /// Records one failure from the address.
    pub fn record_failure(&self, ip: IpAddr, now: OffsetDateTime) {
        let now = now.unix_timestamp();
        let mut slots = self.slots.write().unwrap_or_else(|e| e.into_inner());
        if slots.len() > 100_000 {
            let w = self.window.whole_seconds();
            slots.retain(|_, (start, _)| *start + w > now);
        }
        let slot = slots.entry(ip).or_insert((now, 0));
        if slot.0 + self.window.whole_seconds() <= now {
            *slot = (now, 0);
        }
        slot.1 = slot.1.saturating_add(1);
    }
}

/// Failed API-key and bearer attempts, counted per (kind, key prefix, address, minute)
/// in memory and written to the audit trail as one row per group, so a flood of junk
/// credentials costs one row per minute per group, not one per request.
#[derive(Default)]
pub struct FailureTally {
    groups: std::sync::Mutex<HashMap<FailureGroup, u64>>,
}

/// One group of the tally.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FailureGroup {
    /// `api_key` or `token`.
    pub kind: &'static str,
    /// The non-secret start of the presented credential (`gwk_` and six characters,
    /// the display prefix the key list shows), or `malformed`.
    pub prefix: String,
    /// The client address.
    pub ip: Option<IpAddr>,
    /// The minute, in Unix seconds at its start.
    pub minute: i64,
}

/// Groups kept at most; past this, new groups fold into one `overflow` group per
/// minute, so memory and audit rows stay bounded under any flood.
const MAX_GROUPS: usize = 10_000;

impl FailureTally {
    /// Counts one failure.
    pub fn record(
        &self,
        kind: &'static str,
        prefix: String,
        ip: Option<IpAddr>,
        at: OffsetDateTime,
    ) {
        let minute = at.unix_timestamp().div_euclid(60) * 60;
        let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        let mut group = FailureGroup {
            kind,
            prefix,
            ip,
            minute,
        };
        if groups.len() >= MAX_GROUPS && !groups.contains_key(&group) {
            group = FailureGroup {
                kind,
                prefix: "overflow".into(),
                ip: None,
                minute,
            };
        }
        *groups.entry(group).or_insert(0) += 1;
    }

    /// Takes the groups of minutes that ended before `now` (all of them when `all`).
    pub fn take(&self, now: OffsetDateTime, all: bool) -> Vec<(FailureGroup, u64)> {
        let current = now.unix_timestamp().div_euclid(60) * 60;
        let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        if all {
            return groups.drain().collect();
        }
        let done: Vec<FailureGroup> = groups
            .keys()
            .filter(|g| g.minute < current)
            .cloned()
            .collect();
        done.into_iter()
            .filter_map(|g| groups.remove(&g).map(|n| (g, n)))
            .collect()
    }
}

/// The non-secret start of a presented API key for the failure tally: its display
/// prefix when it has the key alphabet, otherwise `malformed` (attacker-controlled text
/// never reaches the audit trail).
pub fn presented_prefix(key: &str) -> String {
    let head: String = key.chars().take(crate::api_key::DISPLAY_LEN).collect();
    let plausible = head.len() == crate::api_key::DISPLAY_LEN
        && head.starts_with(crate::api_key::PREFIX)
        && head.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plausible { head } else { "malformed".into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(secs).expect("valid")
    }

    #[test]
    fn the_first_failures_cost_nothing_then_backoff_doubles_up_to_an_hour() {
        let p = LockoutPolicy::default();
        let s = |failures| FailureState {
            failures,
            last_failure_at: at(1000),
        };
        assert_eq!(p.check(None, at(1000)), None);
        assert_eq!(p.check(Some(&s(4)), at(1000)), None);
        assert_eq!(p.check(Some(&s(5)), at(1000)), Some(Lockout::Backoff(30)));
        assert_eq!(p.check(Some(&s(6)), at(1000)), Some(Lockout::Backoff(60)));
        assert_eq!(p.check(Some(&s(6)), at(1059)), Some(Lockout::Backoff(1)));
        assert_eq!(p.check(Some(&s(6)), at(1060)), None);
        assert_eq!(
            p.check(Some(&s(40)), at(1000)),
            Some(Lockout::Backoff(3600))
        );
    }

    #[test]
    fn a_hundred_consecutive_failures_lock_the_account_for_good() {
        let p = LockoutPolicy::default();
        let s = FailureState {
            failures: 100,
            last_failure_at: at(0),
        };
        assert_eq!(p.check(Some(&s), at(1_000_000)), Some(Lockout::Locked));
    }

    #[test]
    fn an_address_over_its_limit_waits_for_the_window_to_end() {
        let l = IpLimiter::new(3, Duration::seconds(60));
        let ip: IpAddr = [10, 0, 0, 1].into();
        let other: IpAddr = [10, 0, 0, 2].into();
        for _ in 0..3 {
            assert_eq!(l.check(ip, at(100)), None);
            l.record_failure(ip, at(100));
        }
        assert_eq!(l.check(ip, at(110)), Some(50));
        assert_eq!(l.check(other, at(110)), None);
        assert_eq!(l.check(ip, at(160)), None);
        l.record_failure(ip, at(160));
        assert_eq!(l.check(ip, at(161)), None, "a new window starts from zero");
    }

    #[test]
    fn failed_attempts_are_tallied_per_group_and_minute_with_bounded_groups() {
        let t = FailureTally::default();
        let ip: IpAddr = [10, 0, 0, 1].into();
        for _ in 0..500 {
            t.record("api_key", "malformed".into(), Some(ip), at(120));
        }
        t.record("api_key", "gwk_abcdef".into(), Some(ip), at(130));
        t.record("token", "jwt".into(), Some(ip), at(185));
        assert!(
            t.take(at(150), false).is_empty(),
            "the minute is not over yet"
        );
        let mut done = t.take(at(181), false);
        done.sort_by_key(|(_, n)| *n);
        assert_eq!(done.len(), 2);
        assert_eq!(done[1].1, 500, "one group, not 500 rows");
        assert_eq!(done[0].0.prefix, "gwk_abcdef");
        assert_eq!(t.take(at(190), true).len(), 1, "the rest at shutdown");
        for i in 0..(MAX_GROUPS as u32 + 50) {
            t.record(
                "api_key",
                "x".into(),
                Some(IpAddr::from(i.to_be_bytes())),
                at(0),
            );
        }
        let groups = t.take(at(60), false);
        assert_eq!(
            groups.len(),
            MAX_GROUPS + 1,
            "flood folds into one overflow group"
        );
    }

    #[test]
    fn only_a_plausible_display_prefix_of_a_presented_key_is_kept() {
        assert_eq!(presented_prefix("gwk_abcdef0123456789"), "gwk_abcdef");
        assert_eq!(presented_prefix("gwk_bad"), "malformed");
        assert_eq!(presented_prefix("gwk_\u{202e}abcdefgh"), "malformed");
        assert_eq!(presented_prefix("' OR 1=1 --"), "malformed");
    }
}
