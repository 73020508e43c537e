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
use crate::rules::Finding;
use crate::sanitize::clean;

/// The description's size limit (Chatbot's).
const DESCRIPTION_MAX: usize = 8000;

/// Prose from an untrusted value: cleaned, then neutralised for chat Markdown.
pub fn prose(value: &str, max: usize) -> String {
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
pub fn code(value: &str) -> String {
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

/// What a chat notification says, whatever produced it (an alert, an audit digest, a drift
/// finding). Every text is neutralised here: callers hand in plain values.
pub struct Card<'a> {
    /// Message id (the CloudTrail event id, or none).
    pub id: Option<&'a str>,
    /// The subject line.
    pub subject: &'a str,
    /// One sentence for the notification's summary.
    pub summary: &'a str,
    /// The description's lines, already built with [`prose`] and [`code`] (see
    /// [`finding_lines`]); whole lines are dropped past Chatbot's limit.
    pub lines: Vec<String>,
    /// Our own text (it may hold code spans).
    pub next_steps: Vec<String>,
    pub keywords: Vec<&'a str>,
    /// Messages with the same thread id are grouped in one chat thread.
    pub thread_id: String,
    pub event_type: &'a str,
    pub related_resources: Vec<&'a str>,
    pub severity: crate::severity::Severity,
    pub rules: String,
}

/// The custom-notification document for a card.
pub fn card(c: &Card) -> Value {
    json!({
        "version": "1.0",
        "source": "custom",
        "id": c.id.map(|i| clean(i, 200)),
        "content": {
            "textType": "client-markdown",
            "title": prose(c.subject, 200),
            "description": bounded(&c.lines, DESCRIPTION_MAX),
            "nextSteps": c.next_steps,
            "keywords": c.keywords.iter().map(|k| clean(k, 100)).collect::<Vec<_>>(),
        },
        "metadata": {
            "threadId": clean(&c.thread_id, 256),
            "summary": prose(c.summary, 300),
            "eventType": clean(c.event_type, 100),
            "relatedResources": c.related_resources.iter().map(|p| clean(p, 2048)).collect::<Vec<_>>(),
            "additionalContext": {"severity": c.severity.as_str(), "rules": c.rules},
        }
    })
}

/// `• *HIGH* `rule-id`: summary`, one line per finding, with what the tuning file did to it.
pub fn finding_lines<'a>(findings: impl Iterator<Item = &'a Finding>) -> Vec<String> {
    findings
        .map(|f| {
            let mut line = format!(
                "• *{}* `{}`: {}",
                f.severity.upper(),
                f.rule.id,
                prose(&f.summary, 600)
            );
            for note in super::tuning_notes(f) {
                line.push(' ');
                line.push_str(&prose(&note, 600));
            }
            line
        })
        .collect()
}

/// The custom-notification document for one alert.
pub fn document(alert: &Alert) -> Value {
    let mut lines = finding_lines(alert.findings.iter());
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
    if let Some(i) = &alert.incident {
        lines.push(String::new());
        lines.push(prose(&super::incident_heading(i), 300));
        for line in super::incident_lines(i) {
            lines.push(prose(&line, 600));
        }
    }
    if let Some(grant) = &alert.resolves {
        lines.push(format!("Resolves the grant of event {}", code(grant)));
    }
    let subject = subject(alert);
    let summary = headline(alert).sentence(&alert.event_name);
    card(&Card {
        id: alert.event_id.as_deref(),
        subject: &subject,
        summary: &summary,
        lines,
        next_steps: next_steps(alert).into_iter().map(String::from).collect(),
        keywords: vec![
            alert.severity.as_str(),
            alert.cluster.as_deref().unwrap_or("no-cluster"),
            &alert.event_name,
        ],
        thread_id: format!(
            "eks-access-watch/{}/{}",
            clean(&alert.account, 20),
            clean(alert.cluster.as_deref().unwrap_or("-"), 100)
        ),
        event_type: &alert.event_name,
        related_resources: alert.principal_arn.iter().map(String::as_str).collect(),
        severity: alert.severity,
        rules: alert.rule_ids().join(","),
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
        let got = prose("a&b <!here> @channel [x](https://evil.example) *y*", 200);
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
