//! The AWS Chatbot / Amazon Q Developer custom-notification document, so one SNS topic feeds
//! Slack or Teams.

use serde_json::{Value, json};

use super::{next_steps, subject};
use crate::alert::Alert;
use crate::text::clean;

/// Escape text for Slack/Teams markdown.
pub fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\`*_{}[]()#+-.!|<>~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// What a chat notification says, whatever produced it (an alert, an audit digest, a drift
/// finding).
pub struct Card<'a> {
    /// Message id (the CloudTrail event id, or none).
    pub id: Option<&'a str>,
    /// The subject line.
    pub subject: &'a str,
    /// Markdown body (already escaped).
    pub description: String,
    pub next_steps: Vec<&'a str>,
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
    let steps: Vec<String> = c.next_steps.iter().map(|s| md(s)).collect();
    json!({
        "version": "1.0",
        "source": "custom",
        "id": c.id,
        "content": {
            "textType": "client-markdown",
            "title": md(c.subject),
            "description": clean(&c.description, 8000),
            "nextSteps": steps,
            "keywords": c.keywords,
        },
        "metadata": {
            "threadId": c.thread_id,
            "summary": c.subject,
            "eventType": c.event_type,
            "relatedResources": c.related_resources,
            "additionalContext": {"severity": c.severity.as_str(), "rules": c.rules},
        }
    })
}

/// `• *HIGH* `rule-id`: summary`, one line per finding.
pub fn finding_lines<'a>(findings: impl Iterator<Item = &'a crate::rules::Finding>) -> String {
    findings
        .map(|f| {
            format!(
                "• *{}* `{}`: {}",
                f.severity.upper(),
                md(f.rule.id),
                md(&f.summary)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The custom-notification document for one alert.
pub fn document(alert: &Alert) -> Value {
    let mut description = finding_lines(alert.findings.iter());
    description.push_str(&format!(
        "\n\nCaller: {}\nCluster: {} ({}, {})\nEvent: {} `{}`",
        md(&alert.actor),
        md(alert.cluster.as_deref().unwrap_or("-")),
        md(&alert.account),
        md(&alert.region),
        md(&alert.event_name),
        md(alert.event_id.as_deref().unwrap_or("-"))
    ));
    let subject = subject(alert);
    card(&Card {
        id: alert.event_id.as_deref(),
        subject: &subject,
        description,
        next_steps: next_steps(alert),
        keywords: vec![
            alert.severity.as_str(),
            alert.cluster.as_deref().unwrap_or("no-cluster"),
            &alert.event_name,
        ],
        thread_id: format!(
            "eks-access-watch/{}/{}",
            alert.account,
            alert.cluster.as_deref().unwrap_or("-")
        ),
        event_type: &alert.event_name,
        related_resources: alert.principal_arn.iter().map(String::as_str).collect(),
        severity: alert.severity,
        rules: alert.rule_ids().join(","),
    })
}
