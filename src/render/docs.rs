//! The rule catalogue as documentation (`eks-access-watch rules`): the rule table in docs/rules.md is
//! this output, and a test keeps them equal.

use std::fmt::Write;

use crate::rules::{CATALOGUE, Eval, OnFailure, Rule, Topic};

fn severities(rule: &Rule) -> String {
    rule.severities
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn on_failure(rule: &Rule) -> &'static str {
    if let Eval::External = rule.eval {
        // Findings made by the audit or the migration planner never come from a failed call.
        return "n/a";
    }
    match rule.on_failure {
        OnFailure::CapAtHigh => "capped at high",
        OnFailure::Keep => "kept",
        OnFailure::Silent => "not reported",
    }
}

fn kind(rule: &Rule) -> String {
    if matches!(rule.eval, Eval::External) {
        return "command finding (not per event)".to_string();
    }
    match rule.qualifier {
        Some(q) if q.raises_alert => format!(
            "qualifier `({})`: one level above the other findings",
            q.tag
        ),
        Some(q) => format!("qualifier `({})`", q.tag),
        None => match (rule.eval, rule.topic) {
            (Eval::External, Topic::Standing | Topic::Drift) => "`audit`".to_string(),
            _ => "change".to_string(),
        },
    }
}

/// One line per rule: id, severities, what it fires on.
pub fn catalogue_text() -> String {
    let mut out = String::new();
    for r in CATALOGUE {
        let _ = writeln!(out, "{:<28} {:<24} {}", r.id, severities(r), r.fires_on);
    }
    out
}

/// A Markdown table per topic: id, severities, failed-call behaviour, kind, when, why.
pub fn catalogue_markdown() -> String {
    let cell = |s: &str| s.replace('|', "\\|");
    let mut out = String::new();
    for (i, topic) in Topic::ALL.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "**{}**\n", topic_title(*topic));
        let _ = writeln!(
            out,
            "| rule | severities | on a failed call | kind | fires on | why |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        for r in CATALOGUE.iter().filter(|r| r.topic == *topic) {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} | {} |",
                r.id,
                severities(r),
                on_failure(r),
                kind(r),
                cell(r.fires_on),
                cell(r.why)
            );
        }
    }
    out
}

fn topic_title(topic: Topic) -> &'static str {
    match topic {
        Topic::Caller => "Caller and identity",
        Topic::Grants => "Access policy grants",
        Topic::Entries => "Access entries",
        Topic::Cluster => "Cluster settings and other ways in",
        Topic::Integrity => "Watcher integrity: the trail, unreadable records",
        Topic::Migration => "Migrating from aws-auth (`eks-access-watch migrate`)",
        Topic::Kubernetes => "aws-auth ConfigMap and RBAC bindings (EKS audit log)",
        Topic::Tuning => "The tuning file",
        Topic::Correlation => "Sequences (correlation with state)",
        Topic::Standing => "Standing access (`eks-access-watch audit`)",
        Topic::Drift => "Drift against a baseline (`eks-access-watch audit --baseline`)",
    }
}
