//! Text for the terminal, in every build (the errors of `ship` too).

use std::borrow::Cow;

/// Whether a character must not reach a terminal as it is: C0 and C1 control characters and
/// DEL (escape sequences can set the window title, clear the screen, move the cursor or
/// write to the clipboard) and the bidirectional overrides and isolates (they reorder what
/// is shown after them, "Trojan Source").
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Text from a log made safe to show on a terminal: each character of [`is_unsafe_char`]
/// becomes U+FFFD (`�`), so the cell keeps its width and the reader sees that something was
/// there. Every path that prints log text (tables, `sql`, reports, alerts, the live view,
/// messages) goes through this one function.
pub fn clean(s: &str) -> Cow<'_, str> {
    if s.chars().any(is_unsafe_char) {
        Cow::Owned(
            s.chars()
                .map(|c| if is_unsafe_char(c) { '\u{FFFD}' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(s)
    }
}

/// [`clean`] for whole rendered text that keeps its own line breaks: every line is cleaned,
/// the newlines between them stay.
#[cfg_attr(not(feature = "full"), allow(dead_code))]
pub fn clean_lines(s: &str) -> Cow<'_, str> {
    if s.chars().any(|c| c != '\n' && is_unsafe_char(c)) {
        Cow::Owned(
            s.chars()
                .map(|c| {
                    if c != '\n' && is_unsafe_char(c) {
                        '\u{FFFD}'
                    } else {
                        c
                    }
                })
                .collect(),
        )
    } else {
        Cow::Borrowed(s)
    }
}
