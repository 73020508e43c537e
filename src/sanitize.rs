//! Sanitising attacker-controlled text before it reaches an alert.
//!
//! Usernames, groups, tags, session names, user agents and error messages are chosen by
//! whoever made the call. Before they are shown to a human (email, chat, terminal) they lose
//! every character that can change how the text around them reads: control characters
//! (terminal escapes, forged extra lines), Unicode format characters (zero-width characters,
//! the byte-order mark, bidirectional overrides: category Cf), line and paragraph separators
//! (Zl, Zp) and noncharacters; and they are bounded in length.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// At most this many items of a list taken from a record (groups, namespaces, subjects,
/// rows) are named in an alert; the rest are counted ([`capped`]).
pub const LIST_CAP: usize = 20;

/// `a, b, c and 4 more`: the first `cap` items joined with `, `, then how many are left
/// unnamed. A record can carry thousands of items; an alert names a readable few.
pub fn capped<S: AsRef<str>>(items: &[S], cap: usize) -> String {
    let shown: Vec<&str> = items.iter().take(cap).map(AsRef::as_ref).collect();
    let text = shown.join(", ");
    match items.len().saturating_sub(cap) {
        0 => text,
        more => format!("{text} and {more} more"),
    }
}

/// Replace control characters with a space, collapse the result's ends, and cut to at most
/// `max` characters (an ellipsis marks the cut).
pub fn clean(text: &str, max: usize) -> String {
    // Most text (event sources, names, ARNs) is short printable ASCII: nothing to replace.
    if text.len() <= max && text.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        return text.trim_end().to_string();
    }
    let mut out = String::with_capacity(text.len().min(max + 3));
    let mut chars = text.chars();
    for ch in chars.by_ref().take(max) {
        out.push(if is_unsafe(ch) { ' ' } else { ch });
    }
    let cut = chars.next().is_some();
    let trimmed_len = out.trim_end().len();
    out.truncate(trimmed_len);
    if cut {
        out.push('…');
    }
    out
}

/// Characters that change how surrounding text reads rather than adding to it.
fn is_unsafe(ch: char) -> bool {
    if ch.is_ascii() {
        // No ASCII character is a format character, a separator or a noncharacter.
        return ch.is_ascii_control();
    }
    ch.is_control()
        || matches!(
            ch.general_category(),
            GeneralCategory::Format
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
        )
        || is_noncharacter(ch)
}

/// U+FDD0..U+FDEF and the last two code points of every plane.
fn is_noncharacter(ch: char) -> bool {
    let c = ch as u32;
    (0xFDD0..=0xFDEF).contains(&c) || c & 0xFFFE == 0xFFFE
}

/// Printable ASCII only, at most `max` bytes, no newlines: what an SNS `Subject` accepts.
pub fn ascii_line(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .map(|c| {
            if (' '..='~').contains(&c) {
                c
            } else if c == '…' {
                '.'
            } else {
                '?'
            }
        })
        .collect();
    if out.len() > max {
        out.truncate(max.saturating_sub(3));
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lists_name_a_few_and_count_the_rest() {
        let items: Vec<String> = (0..25).map(|i| format!("g{i}")).collect();
        let text = capped(&items, LIST_CAP);
        assert!(text.starts_with("g0, g1, "), "{text}");
        assert!(text.ends_with("g19 and 5 more"), "{text}");
        assert_eq!(capped(&items[..2], LIST_CAP), "g0, g1");
        assert_eq!(capped::<String>(&[], LIST_CAP), "");
    }

    #[test]
    fn control_characters_and_bidi_overrides_are_removed() {
        assert_eq!(
            clean("jdoe\n[CRITICAL] fake\x1b[31m", 100),
            "jdoe [CRITICAL] fake [31m"
        );
        assert_eq!(clean("a\u{202E}b", 100), "a b");
    }

    #[test]
    fn format_characters_separators_and_noncharacters_are_removed() {
        // A forged line through line separators, zero-width characters and a BOM.
        let forged = "jdoe\u{2028}\u{2028}Severity: INFO\u{2029}x\u{200B}y\u{FEFF}z\u{2060}";
        let got = clean(forged, 100);
        assert_eq!(got, "jdoe  Severity: INFO x y z");
        assert!(
            !got.chars()
                .any(|c| c as u32 >= 0x2000 && c as u32 <= 0x206F)
        );
        assert_eq!(clean("a\u{FDD0}b\u{FFFE}c\u{1FFFF}d", 100), "a b c d");
        assert_eq!(
            clean("café ünïcødé 日本", 100),
            "café ünïcødé 日本",
            "letters stay"
        );
    }

    #[test]
    fn plain_ascii_takes_the_short_path_with_the_same_result() {
        assert_eq!(clean("eks.amazonaws.com", 64), "eks.amazonaws.com");
        assert_eq!(clean("trailing   ", 64), "trailing");
        assert_eq!(clean("tab\there", 64), "tab here");
        assert_eq!(clean("abcdef", 3), "abc…");
    }

    #[test]
    fn long_text_is_cut_with_a_marker() {
        assert_eq!(clean("abcdef", 3), "abc…");
        assert_eq!(clean("abc", 3), "abc");
    }

    #[test]
    fn subject_lines_are_printable_ascii_and_bounded() {
        let s = ascii_line(&"é".repeat(200), 100);
        assert!(s.len() <= 100 && s.chars().all(|c| (' '..='~').contains(&c)));
    }
}
