//! Sanitising attacker-controlled text before it reaches an alert.
//!
//! Usernames, groups, tags, session names and error messages are chosen by whoever made the
//! call. Before they are shown to a human (email, chat, terminal) they lose control characters
//! (no terminal escapes, no forged extra lines) and are bounded in length.

/// Replace control characters with a space, collapse the result's ends, and cut to at most
/// `max` characters (an ellipsis marks the cut).
pub fn clean(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max + 3));
    let mut chars = text.chars();
    for ch in chars.by_ref().take(max) {
        out.push(if ch.is_control() || is_bidi_control(ch) {
            ' '
        } else {
            ch
        });
    }
    let cut = chars.next().is_some();
    let trimmed_len = out.trim_end().len();
    out.truncate(trimmed_len);
    if cut {
        out.push('…');
    }
    out
}

/// Unicode bidirectional overrides can make a terminal show text in another order than it is.
fn is_bidi_control(ch: char) -> bool {
    matches!(ch, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
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
    fn control_characters_and_bidi_overrides_are_removed() {
        assert_eq!(
            clean("jdoe\n[CRITICAL] fake\x1b[31m", 100),
            "jdoe [CRITICAL] fake [31m"
        );
        assert_eq!(clean("a\u{202E}b", 100), "a b");
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
