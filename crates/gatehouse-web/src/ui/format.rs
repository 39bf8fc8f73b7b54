//! How the pages write times and counts: one line per date, the full time in a tooltip,
//! and "1 permission" rather than "1 permission(s)".

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// A moment as a page shows it: `<time datetime="{iso}" title="{full}">{short}</time>`.
pub struct Stamp {
    /// RFC 3339, for `datetime=` (the scripts compute "3 min ago" from it).
    pub iso: String,
    /// `2026-12-01 19:47`: fits one table line.
    pub short: String,
    /// `2026-12-01 19:47:33 UTC`: the tooltip, so the zone is never a guess.
    pub full: String,
}

impl Stamp {
    /// The stamp of `t` (UTC).
    pub fn of(t: OffsetDateTime) -> Stamp {
        let t = t.to_offset(time::UtcOffset::UTC);
        let short = format_description!("[year]-[month]-[day] [hour]:[minute]");
        let full = format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
        Stamp {
            iso: t.format(&Rfc3339).unwrap_or_default(),
            short: t.format(&short).unwrap_or_default(),
            full: t.format(&full).unwrap_or_default(),
        }
    }

    /// The stamp of `t`, if there is one.
    pub fn of_opt(t: Option<OffsetDateTime>) -> Option<Stamp> {
        t.map(Stamp::of)
    }
}

/// `1 permission`, `2 permissions`, `0 scopes`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `1 hour`, `24 hours`.
pub fn hours(h: u32) -> String {
    count(h as usize, "hour")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_is_one_short_line_with_the_full_utc_time_beside_it() {
        let t = time::macros::datetime!(2026-12-01 19:47:33 +02:00);
        let s = Stamp::of(t);
        assert_eq!(s.short, "2026-12-01 17:47");
        assert_eq!(s.full, "2026-12-01 17:47:33 UTC");
        assert_eq!(s.iso, "2026-12-01T17:47:33Z");
    }

    #[test]
    fn counts_use_the_singular_for_one() {
        assert_eq!(count(1, "permission"), "1 permission");
        assert_eq!(count(0, "permission"), "0 permissions");
        assert_eq!(count(3, "scope"), "3 scopes");
        assert_eq!(hours(1), "1 hour");
        assert_eq!(hours(24), "24 hours");
    }
}
