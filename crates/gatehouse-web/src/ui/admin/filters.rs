//! The filter bars of the admin lists: the options of their selects, and the query a
//! list's "More" link keeps so that the next page is of the same filtered list.

use super::super::Choice;
use super::super::page::query_value;

/// A select's options: "All" (the empty value) first, then `options` as `(value, label)`,
/// with `selected` marked.
pub fn choices(all: &str, options: &[(&str, &str)], selected: &str) -> Vec<Choice> {
    std::iter::once(("", all))
        .chain(options.iter().copied())
        .map(|(value, label)| Choice {
            value: value.to_owned(),
            label: label.to_owned(),
            selected: value == selected,
        })
        .collect()
}

/// `role=admin&status=active&`: the non-empty filters, each percent-encoded, ready to have
/// `cursor=…` appended.
pub fn keep(filters: &[(&str, &str)]) -> String {
    filters
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}&", query_value(v)))
        .collect()
}

/// A filter's value as the list takes it: trimmed, and empty when it is not one of the
/// offered values (so a hand-edited URL shows the whole list, with "All" selected).
pub fn offered<'a>(value: Option<&'a str>, options: &[(&str, &str)]) -> &'a str {
    let v = value.unwrap_or("").trim();
    if options.iter().any(|(o, _)| *o == v) {
        v
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pager_keeps_only_the_filters_that_are_set_and_encodes_them() {
        assert_eq!(keep(&[("role", "admin"), ("status", "")]), "role=admin&");
        assert_eq!(keep(&[("owner", "a b&c")]), "owner=a%20b%26c&");
        assert_eq!(keep(&[]), "");
    }

    #[test]
    fn a_filter_outside_the_offered_values_reads_as_all() {
        let opts = [("owner", "Owner"), ("admin", "Admin")];
        assert_eq!(offered(Some(" admin "), &opts), "admin");
        assert_eq!(offered(Some("boss"), &opts), "");
        assert_eq!(offered(None, &opts), "");
        let c = choices("All roles", &opts, "admin");
        assert_eq!(c.len(), 3);
        assert!(c[0].value.is_empty() && !c[0].selected);
        assert!(c[2].selected);
    }
}
