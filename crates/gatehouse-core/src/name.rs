//! The labels people give their credentials (API keys, tokens, SSH keys): one rule set
//! and one set of messages, so a name refused for one kind is refused for all of them.
//!
//! A label is shown back in lists, audit trails and terminals, so it must read the way
//! it is. Besides the length and control-character rules this refuses, anywhere in the
//! name: bidirectional controls (which reorder what is displayed, so `key\u{202E}gpj.exe`
//! reads as `keyexe.jpg`), line and paragraph separators (which break a line where no
//! newline is seen), the byte order mark, and invisible characters that have no place in
//! a label (zero-width space, word joiner, soft hyphen, Hangul fillers, …). Joiners and
//! variation selectors, which emoji and several scripts need, are allowed beside visible
//! text, but a name made only of invisible characters and spaces is refused.

use crate::error::{Error, Result};

/// Most characters a label may have.
pub const MAX_CHARS: usize = 64;

/// Validates and trims a required label; `field` names it in the error.
pub fn parse(field: &'static str, raw: &str) -> Result<String> {
    let s = check(field, raw)?;
    if s.is_empty() {
        return Err(length_error(field));
    }
    Ok(s.to_owned())
}

/// Validates and trims an optional label; absent or blank gives `default`.
pub fn parse_or(field: &'static str, raw: Option<&str>, default: &str) -> Result<String> {
    let s = check(field, raw.unwrap_or(""))?;
    Ok(if s.is_empty() { default } else { s }.to_owned())
}

/// Most characters a description may have.
pub const MAX_DESCRIPTION_CHARS: usize = 500;

/// Validates and trims an optional description: the label rules (no control, bidi or
/// invisible characters: it is printed in lists and terminals too) with a longer limit
/// of [`MAX_DESCRIPTION_CHARS`]. Absent or blank gives `None`.
pub fn parse_description(field: &'static str, raw: Option<&str>) -> Result<Option<String>> {
    let s = check_len(field, raw.unwrap_or(""), MAX_DESCRIPTION_CHARS, |f| {
        Error::invalid(
            f,
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
        )
    })?;
    Ok((!s.is_empty()).then(|| s.to_owned()))
}

/// The rules shared by both entry points; returns the trimmed text, possibly empty.
fn check<'a>(field: &'static str, raw: &'a str) -> Result<&'a str> {
    check_len(field, raw, MAX_CHARS, length_error)
}

/// [`check`] with a given limit of characters.
fn check_len<'a>(
    field: &'static str,
    raw: &'a str,
    max: usize,
    too_long: fn(&'static str) -> Error,
) -> Result<&'a str> {
    // SECURITY: look at the raw text before trimming, because `trim` silently drops a
    // trailing U+2028 or U+0085, and a name that was sent with one should be refused
    // with a reason rather than stored as something else.
    if let Some((c, what)) = raw.chars().find_map(|c| refused(c).map(|what| (c, what))) {
        return Err(Error::invalid(
            field,
            format!("must not contain {what} (found {})", code_point(c)),
        ));
    }
    let s = raw.trim();
    if s.chars().count() > max {
        return Err(too_long(field));
    }
    if !s.is_empty() && s.chars().all(|c| c.is_whitespace() || is_invisible(c)) {
        return Err(Error::invalid(
            field,
            "must contain at least one visible character (it is only spaces or invisible characters)",
        ));
    }
    Ok(s)
}

fn length_error(field: &'static str) -> Error {
    Error::invalid(field, format!("must be 1 to {MAX_CHARS} characters"))
}

/// `U+202E`, the way Unicode charts name a character.
fn code_point(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// Why `c` is never allowed in a label, if it is not.
fn refused(c: char) -> Option<&'static str> {
    if c.is_control() {
        Some("control characters such as newlines or tabs")
    } else if is_bidi_control(c) {
        Some("bidirectional text controls, which change how the name is displayed")
    } else if matches!(c, '\u{2028}' | '\u{2029}') {
        Some("line or paragraph separators")
    } else if c == '\u{FEFF}' {
        Some("a byte order mark")
    } else if is_hidden_filler(c) {
        Some("invisible characters such as zero-width spaces")
    } else {
        None
    }
}

/// The explicit bidirectional formatting characters (UAX #9) and the implicit marks.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// Invisible characters with no use in a label: they only make two names look alike.
fn is_hidden_filler(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{200B}'
            | '\u{2060}'..='\u{2064}'
            | '\u{206A}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
    )
}

/// Characters that draw nothing by themselves: joiners, variation selectors, tags and
/// the like (Unicode's Default_Ignorable_Code_Point), plus the ones refused outright.
pub fn is_invisible(c: char) -> bool {
    is_hidden_filler(c)
        || is_bidi_control(c)
        || matches!(
            c,
            '\u{034F}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200C}'
                | '\u{200D}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFF0}'..='\u{FFF8}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

/// Whether `c` must not reach a terminal as it is: controls, bidirectional controls,
/// separators and invisible characters (see the CLI's output escaping).
pub fn is_unsafe_for_display(c: char) -> bool {
    c.is_control() || is_invisible(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(r: Result<String>) -> String {
        match r {
            Err(Error::Invalid { reason, field }) => {
                assert_eq!(field, "name");
                reason
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn ordinary_names_are_trimmed_and_kept() {
        assert_eq!(
            parse("name", "  ci deploy ").ok().as_deref(),
            Some("ci deploy")
        );
        assert_eq!(
            parse("name", "Zürich laptop").ok().as_deref(),
            Some("Zürich laptop")
        );
        assert_eq!(
            parse("name", "ノートパソコン").ok().as_deref(),
            Some("ノートパソコン")
        );
        assert_eq!(
            parse("name", &"x".repeat(64)).ok().map(|s| s.len()),
            Some(64)
        );
    }

    #[test]
    fn joiners_and_variation_selectors_are_allowed_beside_visible_text() {
        // A family emoji (ZWJ sequence), a heart with VS16, and Persian with a ZWNJ.
        for ok in [
            "👨\u{200D}👩\u{200D}👧 shared",
            "love \u{2764}\u{FE0F}",
            "می\u{200C}خواهم",
        ] {
            assert!(parse("name", ok).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn descriptions_are_optional_trimmed_and_held_to_the_label_rules() {
        assert_eq!(parse_description("description", None).expect("none"), None);
        assert_eq!(
            parse_description("description", Some("  ")).expect("blank"),
            None
        );
        assert_eq!(
            parse_description("description", Some(" deploys to prod ")).expect("ok"),
            Some("deploys to prod".to_owned())
        );
        let long = "é".repeat(MAX_DESCRIPTION_CHARS);
        assert!(parse_description("description", Some(&long)).is_ok());
        let e = reason(parse_description("name", Some(&format!("{long}x"))).map(|_| String::new()));
        assert!(e.contains("at most 500"), "{e}");
        let e = reason(parse_description("name", Some("a\u{202E}b")).map(|_| String::new()));
        assert!(e.contains("bidirectional"), "{e}");
    }

    #[test]
    fn empty_and_overlong_names_are_refused() {
        assert!(reason(parse("name", "")).contains("1 to 64"));
        assert!(reason(parse("name", "   ")).contains("1 to 64"));
        assert!(reason(parse("name", &"x".repeat(65))).contains("1 to 64"));
    }

    #[test]
    fn control_characters_are_refused() {
        assert!(reason(parse("name", "a\nb")).contains("control characters"));
        assert!(reason(parse("name", "a\tb")).contains("control characters"));
        assert!(reason(parse("name", "a\u{85}")).contains("control characters"));
    }

    #[test]
    fn every_bidirectional_control_is_refused_and_named() {
        let controls = ('\u{202A}'..='\u{202E}')
            .chain('\u{2066}'..='\u{2069}')
            .chain(['\u{200E}', '\u{200F}', '\u{061C}']);
        for c in controls {
            let r = reason(parse("name", &format!("key{c}gpj.exe")));
            assert!(r.contains("bidirectional"), "{c:?}: {r}");
            assert!(r.contains(&code_point(c)), "{c:?}: {r}");
        }
        assert!(reason(parse("name", "a\u{202E}b")).contains("U+202E"));
    }

    #[test]
    fn separators_and_byte_order_marks_are_refused_even_at_the_ends() {
        assert!(reason(parse("name", "laptop\u{2028}")).contains("line or paragraph"));
        assert!(reason(parse("name", "a\u{2029}b")).contains("U+2029"));
        assert!(reason(parse("name", "\u{FEFF}laptop")).contains("byte order mark"));
        assert!(reason(parse("name", "lap\u{FEFF}top")).contains("U+FEFF"));
    }

    #[test]
    fn zero_width_and_invisible_only_names_are_refused() {
        assert!(reason(parse("name", "\u{200B}\u{200B}")).contains("invisible"));
        assert!(reason(parse("name", "ad\u{200B}min")).contains("U+200B"));
        assert!(reason(parse("name", "\u{2060}")).contains("invisible"));
        assert!(reason(parse("name", "\u{00AD}")).contains("invisible"));
        for only in [
            "\u{200D}",
            "\u{200C}\u{200D}",
            "\u{FE0F}",
            " \u{FE0F} ",
            "\u{E0041}",
        ] {
            assert!(
                reason(parse("name", only)).contains("visible character"),
                "{only:?}"
            );
        }
    }

    #[test]
    fn an_optional_name_defaults_when_absent_or_blank_but_obeys_the_same_rules() {
        assert_eq!(
            parse_or("name", None, "token").ok().as_deref(),
            Some("token")
        );
        assert_eq!(
            parse_or("name", Some("  "), "token").ok().as_deref(),
            Some("token")
        );
        assert_eq!(
            parse_or("name", Some(" ci "), "token").ok().as_deref(),
            Some("ci")
        );
        assert!(reason(parse_or("name", Some("a\u{202E}b"), "token")).contains("U+202E"));
        assert!(reason(parse_or("name", Some("\u{200B}"), "token")).contains("invisible"));
        assert!(reason(parse_or("name", Some(&"x".repeat(65)), "token")).contains("1 to 64"));
    }

    #[test]
    fn display_escaping_covers_every_refused_character() {
        for c in [
            '\n', '\u{202E}', '\u{2066}', '\u{200B}', '\u{200D}', '\u{FEFF}', '\u{2028}',
        ] {
            assert!(is_unsafe_for_display(c), "{c:?}");
        }
        for c in ['a', 'é', 'ノ', ' ', '👍'] {
            assert!(!is_unsafe_for_display(c), "{c:?}");
        }
    }
}
