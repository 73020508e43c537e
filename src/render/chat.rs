//! The AWS Chatbot / Amazon Q Developer custom-notification document, so one SNS topic feeds
//! Slack or Teams.
//!
//! Most of an alert's text comes from the caller (session names, usernames, groups, issuer
//! URLs, user agents), so the document treats every value as hostile: each value is cleaned on
//! its own (no control, format or separator characters: no forged lines) and the lines are
//! joined afterwards; prose gets the entities both Slack and CommonMark understand for `&`,
//! `<` and `>` (no backslash escapes, which Slack shows literally), `@` becomes a fullwidth
//! `＠` (no `@channel`, `@here`, e-mail links), `](` is split (no Markdown links) and `://` is
//! defanged (no clickable scheme links); identifiers go into code spans, where nothing is
//! interpreted: only backticks are removed, and `@`, `<`, `>` become fullwidth, so no
//! renderer can find a mention there either.

use serde_json::{Value, json};

use super::{headline, next_steps, subject};
use crate::alert::Alert;
use crate::text::clean;

/// The description's size limit (Chatbot's).
const DESCRIPTION_MAX: usize = 8000;

/// Prose from an untrusted value: cleaned, then neutralised for chat Markdown.
fn text(value: &str, max: usize) -> String {
    clean(value, max)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('@', "\u{FF20}")
        .replace("](", "] (")
        .replace("://", ": //")
}

/// An untrusted identifier as a code span: cleaned, backticks removed, and the characters that
/// could form a mention replaced by their fullwidth forms (no identifier AWS or Kubernetes
/// accepts contains them); nothing is escaped, since nothing is interpreted there.
fn code(value: &str) -> String {
    let inner = clean(value, 300)
        .replace('`', "'")
        .replace('@', "\u{FF20}")
        .replace('<', "\u{FF1C}")
        .replace('>', "\u{FF1E}");
    if inner.trim().is_empty() {
        "`-`".to_string()
    } else {
        format!("`{inner}`")
    }
}

/// The custom-notification document for one alert.
pub fn document(alert: &Alert) -> Value {
    let mut lines: Vec<String> = alert
        .findings
        .iter()
        .map(|f| {
            let mut line = format!(
                "• *{}* `{}`: {}",
                f.severity.upper(),
                f.rule.id,
                text(&f.summary, 600)
            );
            for note in super::tuning_notes(f) {
                line.push(' ');
                line.push_str(&text(&note, 600));
            }
            line
        })
        .collect();
    lines.push(String::new());
    lines.push(format!("Caller: {}", code(&alert.actor)));
    lines.push(format!(
        "Cluster: {} (account {}, {})",
        code(alert.cluster.as_deref().unwrap_or("-")),
        code(&alert.account),
        code(&alert.region)
    ));
    if let Some(target) = &alert.principal_arn {
        lines.push(format!("Target: {}", code(target)));
    }
    lines.push(format!(
        "Event: {} {}",
        code(&alert.event_name),
        code(alert.event_id.as_deref().unwrap_or("-"))
    ));
    let subject = subject(alert);
    let head = headline(alert);
    json!({
        "version": "1.0",
        "source": "custom",
        "id": alert.event_id,
        "content": {
            "textType": "client-markdown",
            "title": text(&subject, 200),
            "description": bounded(&lines, DESCRIPTION_MAX),
            // Our own text, with its code spans.
            "nextSteps": next_steps(alert),
            "keywords": [
                alert.severity.as_str(),
                clean(alert.cluster.as_deref().unwrap_or("no-cluster"), 100),
                alert.event_name,
            ],
        },
        "metadata": {
            "threadId": format!("eks-access-watch/{}/{}", clean(&alert.account, 20), clean(alert.cluster.as_deref().unwrap_or("-"), 100)),
            "summary": text(&head.sentence(&alert.event_name), 300),
            "eventType": alert.event_name,
            "relatedResources": alert.principal_arn.iter().map(|p| clean(p, 2048)).collect::<Vec<_>>(),
            "additionalContext": {"severity": alert.severity.as_str(), "rules": alert.rule_ids().join(",")},
        }
    })
}

/// Whole lines joined with newlines, dropping the last ones (with a marker) past `max` bytes.
fn bounded(lines: &[String], max: usize) -> String {
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        if out.len() + line.len() + 1 > max.saturating_sub(24) {
            out.push_str(&format!("… ({} more lines)", lines.len() - i));
            break;
        }
        if i > 0 {
            out.push('\n');
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_is_neutralised_without_backslashes() {
        let got = text("a&b <!here> @channel [x](https://evil.example) *y*", 200);
        assert_eq!(
            got,
            "a&amp;b &lt;!here&gt; \u{FF20}channel [x] (https: //evil.example) *y*"
        );
        assert!(!got.contains('\\'));
    }

    #[test]
    fn code_spans_lose_only_backticks_and_unsafe_characters() {
        assert_eq!(code("a`b <c> & @d"), "`a'b ＜c＞ & ＠d`");
        assert_eq!(code("x\ny\u{2028}z"), "`x y z`");
        assert_eq!(code(""), "`-`");
    }

    #[test]
    fn long_descriptions_keep_whole_lines() {
        let lines: Vec<String> = (0..1000).map(|i| format!("line {i}")).collect();
        let got = bounded(&lines, 200);
        assert!(got.len() <= 200, "{}", got.len());
        assert!(got.ends_with("more lines)"), "{got}");
        assert!(
            got.lines()
                .all(|l| l.starts_with("line ") || l.starts_with('…'))
        );
    }
}
