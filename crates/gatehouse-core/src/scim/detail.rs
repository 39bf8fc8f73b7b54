//! The `detail` of a SCIM audit record read back (the admin panel's page and its JSON
//! API both list recent operations): `Core::scim_audit` writes `key=value` words, the
//! values that may hold spaces quoted as Rust strings (`name="Gatehouse Admins"
//! target=grp_… result=ok`, `reason="the userName \"x\" is taken"`).

/// The `key=value` pairs of a record's detail, in order, quoted values unescaped. A word
/// without `=` is skipped.
pub fn fields(detail: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = detail.trim_start();
    while !rest.is_empty() {
        let word_end = rest.find([' ', '=']).unwrap_or(rest.len());
        if !rest[word_end..].starts_with('=') {
            rest = rest[word_end..].trim_start();
            continue;
        }
        let key = rest[..word_end].to_owned();
        let after = &rest[word_end + 1..];
        let (value, tail) = match after.strip_prefix('"') {
            Some(quoted) => unquote(quoted),
            None => {
                let end = after.find(' ').unwrap_or(after.len());
                (after[..end].to_owned(), &after[end..])
            }
        };
        out.push((key, value));
        rest = tail.trim_start();
    }
    out
}

/// The value of `key` in parsed `fields`.
pub fn value<'a>(fields: &'a [(String, String)], key: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// A Rust-quoted string's text (after its opening quote) and what follows its closing one.
fn unquote(s: &str) -> (String, &str) {
    let mut value = String::new();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (value, &s[i + 1..]),
            '\\' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, 't')) => value.push('\t'),
                Some((_, 'r')) => value.push('\r'),
                Some((_, '0')) => value.push('\0'),
                Some((_, 'u')) if chars.peek().is_some_and(|(_, c)| *c == '{') => {
                    chars.next();
                    let mut hex = String::new();
                    for (_, h) in chars.by_ref() {
                        if h == '}' {
                            break;
                        }
                        hex.push(h);
                    }
                    let c = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                    value.push(c.unwrap_or(char::REPLACEMENT_CHARACTER));
                }
                Some((_, other)) => value.push(other),
                None => {}
            },
            other => value.push(other),
        }
    }
    (value, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_detail_reads_back_with_its_quoted_values() {
        let f = fields(
            r#"name="Gatehouse \"Admins\"" target=grp_1 result=refused reason="the userName \"jdoe\" is taken""#,
        );
        assert_eq!(value(&f, "name"), Some(r#"Gatehouse "Admins""#));
        assert_eq!(value(&f, "target"), Some("grp_1"));
        assert_eq!(value(&f, "reason"), Some(r#"the userName "jdoe" is taken"#));
        let f = fields(r#"junk mappings="a=b, c\\d=e\u{e9}" x="#);
        assert_eq!(value(&f, "mappings"), Some(r"a=b, c\d=eé"));
        assert_eq!(value(&f, "x"), Some(""));
        assert!(fields("").is_empty());
        assert_eq!(
            value(&fields(r#"name="unterminated"#), "name"),
            Some("unterminated")
        );
    }
}
