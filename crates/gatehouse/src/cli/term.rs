//! Text from the server or the store, made safe to print on a terminal.
//!
//! Names, emails, user agents and error messages are typed by other people. Printed raw,
//! a control character can drive the terminal (escape sequences), a bidirectional
//! control can reorder the rest of the line, and invisible characters can make two names
//! look the same. [`safe`] writes each such character as a visible `\u{…}` escape and
//! leaves every other character (accents, CJK, emoji) as it is.

use std::borrow::Cow;
use std::fmt::Write as _;

use gatehouse_core::name::is_unsafe_for_display;

/// `text`, with control, bidirectional-control and invisible characters escaped as
/// `\u{202e}`.
pub fn safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe_for_display) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe_for_display(c) {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_text_is_left_alone_and_not_copied() {
        for t in ["laptop", "Zürich ノート 👍", "a b-c_d.e", ""] {
            assert!(matches!(safe(t), Cow::Borrowed(s) if s == t), "{t:?}");
        }
    }

    #[test]
    fn controls_bidi_and_invisible_characters_are_escaped() {
        assert_eq!(safe("key\u{202E}gpj.exe"), "key\\u{202e}gpj.exe");
        assert_eq!(safe("\u{200B}\u{200B}"), "\\u{200b}\\u{200b}");
        assert_eq!(safe("\u{FEFF}x"), "\\u{feff}x");
        assert_eq!(safe("a\u{2028}b\u{2066}"), "a\\u{2028}b\\u{2066}");
        assert_eq!(safe("\x1b[31mred\n"), "\\u{1b}[31mred\\u{a}");
        assert_eq!(safe("a\u{85}b\u{7f}"), "a\\u{85}b\\u{7f}");
    }

    #[test]
    fn the_escaped_form_contains_nothing_a_terminal_would_act_on() {
        let hostile: String = ('\u{0}'..='\u{3000}')
            .chain(['\u{FEFF}', '\u{E0041}'])
            .collect();
        assert!(!safe(&hostile).chars().any(is_unsafe_for_display));
    }
}
