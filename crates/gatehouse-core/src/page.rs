//! Cursor pagination for the list use cases: a page request (`limit` and an opaque
//! `cursor`) and the page it yields.
//!
//! A cursor names the last row of the previous page by its sort key (creation time
//! and id), so a page never repeats or skips a row when rows are added or deleted
//! between requests, and the store answers it from an index without an `OFFSET` scan.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{Error, Result};

/// Rows per page when the request names no limit.
pub const DEFAULT_LIMIT: u32 = 50;
/// The largest page a request may ask for.
pub const MAX_LIMIT: u32 = 200;

/// The sort key of the row a page starts after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct After {
    /// The row's creation time, in Unix seconds.
    pub created_at: i64,
    /// The row's id (the tie-breaker for rows created in the same second).
    pub id: String,
}

impl After {
    /// The opaque form handed to clients.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}.{}", self.created_at, self.id))
    }

    /// Reads a cursor back; anything this server did not hand out is refused.
    pub fn decode(cursor: &str) -> Result<Self> {
        let bad = || Error::invalid("cursor", "is not a cursor this server handed out");
        if cursor.len() > 128 {
            return Err(bad());
        }
        let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
        let text = String::from_utf8(raw).map_err(|_| bad())?;
        let (secs, id) = text.split_once('.').ok_or_else(bad)?;
        let created_at = secs.parse::<i64>().map_err(|_| bad())?;
        let id_ok = !id.is_empty()
            && id.len() <= 64
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !id_ok {
            return Err(bad());
        }
        Ok(After {
            created_at,
            id: id.to_owned(),
        })
    }
}

/// Which page of a list to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Rows wanted, 1 to [`MAX_LIMIT`].
    pub limit: u32,
    /// Start after this row; `None` for the first page.
    pub after: Option<After>,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            limit: DEFAULT_LIMIT,
            after: None,
        }
    }
}

impl PageRequest {
    /// Validates the `limit` and `cursor` a client sent (both optional).
    pub fn parse(limit: Option<&str>, cursor: Option<&str>) -> Result<Self> {
        let limit = match limit.map(str::trim) {
            None | Some("") => DEFAULT_LIMIT,
            Some(s) => s
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    Error::invalid(
                        "limit",
                        format!("must be a whole number from 1 to {MAX_LIMIT}"),
                    )
                })?,
        };
        let after = match cursor.map(str::trim) {
            None | Some("") => None,
            Some(c) => Some(After::decode(c)?),
        };
        Ok(PageRequest { limit, after })
    }

    /// The first page of `limit` rows.
    pub fn first(limit: u32) -> Self {
        PageRequest {
            limit: limit.clamp(1, MAX_LIMIT),
            after: None,
        }
    }

    /// Rows the store should fetch: one more than the limit, to learn whether a next
    /// page exists without counting.
    pub fn fetch_limit(&self) -> i64 {
        i64::from(self.limit) + 1
    }

    /// The cursor's creation time, for binding (`None` on the first page).
    pub fn after_created_at(&self) -> Option<i64> {
        self.after.as_ref().map(|a| a.created_at)
    }

    /// The cursor's id, for binding (`None` on the first page).
    pub fn after_id(&self) -> Option<&str> {
        self.after.as_ref().map(|a| a.id.as_str())
    }
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The rows, at most the requested limit.
    pub items: Vec<T>,
    /// The cursor of the next page, when there is one.
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// Cuts the store's `limit + 1` rows down to a page, with the cursor of the last
    /// row kept when a further row showed that more exist.
    pub fn from_rows(mut rows: Vec<T>, req: &PageRequest, key: impl Fn(&T) -> After) -> Self {
        let limit = req.limit as usize;
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|r| key(r).encode())
        } else {
            None
        };
        Page { items: rows, next }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_forged_ones_are_refused() {
        let a = After {
            created_at: 1_700_000_000,
            id: "key_0123abcd".into(),
        };
        assert_eq!(After::decode(&a.encode()).expect("decodes"), a);
        for bad in ["", "!!", "bm9kb3Q", "MTIzLg", "eC5rZXk", "MTIzLmtleS8uLg"] {
            let err = After::decode(bad).expect_err("refused");
            assert!(err.to_string().contains("cursor"), "{bad}: {err}");
        }
        assert!(After::decode(&"A".repeat(200)).is_err());
    }

    #[test]
    fn limits_default_to_fifty_and_stay_between_1_and_200() {
        assert_eq!(PageRequest::parse(None, None).expect("ok").limit, 50);
        assert_eq!(
            PageRequest::parse(Some("200"), None).expect("ok").limit,
            200
        );
        for bad in ["0", "201", "-1", "1.5", "ten", "99999999999"] {
            let err = PageRequest::parse(Some(bad), None).expect_err("refused");
            assert!(err.to_string().contains("1 to 200"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_page_keeps_the_cursor_only_when_more_rows_exist() {
        let req = PageRequest::first(2);
        let key = |n: &i64| After {
            created_at: *n,
            id: format!("row_{n}"),
        };
        let page = Page::from_rows(vec![1, 2, 3], &req, key);
        assert_eq!(page.items, vec![1, 2]);
        let next = After::decode(page.next.as_deref().expect("next")).expect("cursor");
        assert_eq!(next.created_at, 2);
        let last = Page::from_rows(vec![1, 2], &req, key);
        assert!(last.next.is_none());
    }
}
