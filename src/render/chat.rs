//! The AWS Chatbot / Amazon Q Developer custom-notification document, so one SNS topic feeds
//! Slack or Teams.

use serde_json::{Value, json};

use super::{next_steps, subject};
use crate::alert::Alert;
use crate::text::clean;

/// Escape text for Slack/Teams markdown.
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\`*_{}[]()#+-.!|<>~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The custom-notification document for one alert.
pub fn document(alert: &Alert) -> Value {
    let findings: Vec<String> = alert
        .findings
        .iter()
        .map(|f| {
            let mut line = format!(
                "• *{}* `{}`: {}",
                f.severity.upper(),
                md(f.rule.id),
                md(&f.summary)
            );
            for note in super::tuning_notes(f) {
                line.push(' ');
                line.push_str(&md(&note));
            }
            line
        })
        .collect();
    let mut description = findings.join("\n");
    description.push_str(&format!(
        "\n\nCaller: {}\nCluster: {} ({}, {})\nEvent: {} `{}`",
        md(&alert.actor),
        md(alert.cluster.as_deref().unwrap_or("-")),
        md(&alert.account),
        md(&alert.region),
        md(&alert.event_name),
        md(alert.event_id.as_deref().unwrap_or("-"))
    ));
    let steps: Vec<String> = next_steps(alert).into_iter().map(md).collect();
    let subject = subject(alert);
    json!({
        "version": "1.0",
        "source": "custom",
        "id": alert.event_id,
        "content": {
            "textType": "client-markdown",
            "title": md(&subject),
            "description": clean(&description, 8000),
            "nextSteps": steps,
            "keywords": [alert.severity.as_str(), alert.cluster.as_deref().unwrap_or("no-cluster"), alert.event_name],
        },
        "metadata": {
            "threadId": format!("eks-access-watch/{}/{}", alert.account, alert.cluster.as_deref().unwrap_or("-")),
            "summary": subject,
            "eventType": alert.event_name,
            "relatedResources": alert.principal_arn.iter().collect::<Vec<_>>(),
            "additionalContext": {"severity": alert.severity.as_str(), "rules": alert.rule_ids().join(",")},
        }
    })
}
