//! Text from the network made safe to show: what every name, chat line and message another
//! machine sends goes through before it reaches a terminal or the window.
//!
//! Owns one rule: control characters (C0, DEL, C1: a terminal's escape sequences, bells,
//! carriage returns that overwrite a line) and the invisible formatting characters that reorder
//! or hide text (bidirectional overrides and isolates, zero-width marks) are removed. Everything
//! else, any script, stays.

use std::borrow::Cow;

/// Whether `c` is removed from text shown to people.
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200B}'..='\u{200F}' // zero-width space, joiners, LTR/RTL marks
            | '\u{202A}'..='\u{202E}' // bidi embeddings and overrides
            | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}' // bidi isolates
            | '\u{FEFF}' // zero-width no-break space
        )
}

/// `s` without the characters [`is_hidden`] names (borrowed when there are none).
pub fn displayable(s: &str) -> Cow<'_, str> {
    if s.chars().any(is_hidden) {
        Cow::Owned(s.chars().filter(|c| !is_hidden(*c)).collect())
    } else {
        Cow::Borrowed(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_bells_overrides_and_invisible_marks_are_removed() {
        assert_eq!(
            displayable("ev\x1b[2Jil\x07 \u{202E}eman\u{2066}\u{200B}\r\n\u{9b}31m"),
            "ev[2Jil eman31m"
        );
        assert_eq!(displayable("\x00\x7f\u{85}"), "");
    }

    #[test]
    fn other_scripts_and_symbols_stay_untouched() {
        for s in ["Doomguy", "Дум", "毁灭战士", "لاعب", "🙂 <3 & \"x\"", ""] {
            assert!(matches!(displayable(s), Cow::Borrowed(b) if b == s), "{s}");
        }
    }
}
