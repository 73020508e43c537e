//! What a new version of the tuning file changes against the old, in words: the rules it
//! disables or lowers (and the reverse), the exceptions and approved callers it adds (and
//! removes). The Lambda reads both versions of the parameter when it is written and
//! `tuning-changed` lists these.

use super::{Exception, Field, Tuning};
use crate::rules::CATALOGUE;
use crate::severity::Severity;

/// Every difference from `old` (`None`: there was no file) to `new`, most silencing first
/// (rules disabled, severities lowered, exceptions and approved callers added), then the rest.
pub fn differences(old: Option<&Tuning>, new: &Tuning) -> Vec<String> {
    let empty = Tuning::default();
    let old = old.unwrap_or(&empty);
    let (mut silencing, mut other) = (Vec::new(), Vec::new());
    for &rule in CATALOGUE {
        let (was, now) = (old.override_for(rule), new.override_for(rule));
        let enabled = |o: Option<&super::Override>| o.is_none_or(|o| o.enabled);
        match (enabled(was), enabled(now)) {
            (true, false) => silencing.push(format!("rule {} disabled", rule.id)),
            (false, true) => other.push(format!("rule {} enabled again", rule.id)),
            _ => {}
        }
        let grade = |o: Option<&super::Override>| o.and_then(|o| o.severity);
        let (from, to) = (grade(was), grade(now));
        if from != to {
            let shown = |s: Option<Severity>| match s {
                Some(s) => s.to_string(),
                None => format!("its own grade, up to {}", rule.highest()),
            };
            let effective = |s: Option<Severity>| s.unwrap_or(rule.highest());
            let line = |verb: &str| {
                format!(
                    "rule {} {verb} to {} (was {})",
                    rule.id,
                    shown(to),
                    shown(from)
                )
            };
            if effective(to) < effective(from) {
                silencing.push(line("lowered"));
            } else {
                other.push(line("raised"));
            }
        }
    }
    let described: Vec<(String, &Exception)> =
        new.exceptions.iter().map(|e| (describe(e), e)).collect();
    let before: Vec<(String, &Exception)> =
        old.exceptions.iter().map(|e| (describe(e), e)).collect();
    for (d, e) in &described {
        if !before.iter().any(|(b, _)| b == d) {
            silencing.push(format!("exception {} added: {d}", e.label()));
        }
    }
    for (d, e) in &before {
        if !described.iter().any(|(n, _)| n == d) {
            other.push(format!("exception {} removed: {d}", e.label()));
        }
    }
    let listed = |what: &str,
                  from: &[String],
                  to: &[String],
                  into_added: &mut Vec<String>,
                  into_removed: &mut Vec<String>| {
        for arn in to.iter().filter(|a| !from.contains(a)) {
            into_added.push(format!("{what} {arn} added"));
        }
        for arn in from.iter().filter(|a| !to.contains(a)) {
            into_removed.push(format!("{what} {arn} removed"));
        }
    };
    let (mut added, mut removed) = (Vec::new(), Vec::new());
    listed(
        "approved caller",
        &old.rules.approved_callers,
        &new.rules.approved_callers,
        &mut added,
        &mut removed,
    );
    silencing.append(&mut added);
    other.append(&mut removed);
    // A break-glass role removed is no longer paged on; one added pages more.
    listed(
        "break-glass role",
        &old.rules.break_glass_roles,
        &new.rules.break_glass_roles,
        &mut other,
        &mut silencing,
    );
    let mut tags_removed = Vec::new();
    listed(
        "required tag",
        &old.required_tags,
        &new.required_tags,
        &mut other,
        &mut tags_removed,
    );
    other.append(&mut tags_removed);
    if old.correlation != new.correlation {
        other.push("correlation windows or thresholds changed".to_string());
    }
    silencing.append(&mut other);
    silencing
}

/// An exception as a sentence fragment: its rule, what it covers, until when, why.
fn describe(e: &Exception) -> String {
    let covers: Vec<String> = Field::ALL
        .iter()
        .filter(|f| !e.patterns(**f).is_empty())
        .map(|f| {
            let texts: Vec<&str> = e.patterns(*f).iter().map(|p| p.text.as_str()).collect();
            format!("{f} {}", texts.join(" or "))
        })
        .collect();
    format!(
        "suppresses {} for {} until {} ({})",
        e.rule.id,
        covers.join(", "),
        e.expires,
        e.reason
    )
}
