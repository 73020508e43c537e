//! A finding: one rule that fired, graded, with its sentence; how a tuning file marked it
//! (overridden, suppressed by an exception, an exception expired); and [`grade`], the one
//! grading step the pipeline runs once per alert.

use serde::{Serialize, Serializer};

use crate::severity::Severity;

use super::Rule;

/// One rule that fired, with its graded severity and a sentence a human understands at 1:47 AM.
/// The last three fields are set only by a tuning file ([`crate::tuning`]) and left out of the
/// JSON when unset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Serialised as the rule's id.
    #[serde(serialize_with = "rule_id")]
    pub rule: &'static Rule,
    pub severity: Severity,
    pub summary: String,
    /// The severity the rule graded, when the tuning file overrides the rule's severity
    /// (`severity` is then the override's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_severity: Option<Severity>,
    /// The tuning-file exception that suppressed this finding: it is still reported, but
    /// counts towards nothing (the alert's severity, thresholds, the subject line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed_by: Option<ExceptionRef>,
    /// A tuning-file exception that matches this finding but has expired: the finding counts
    /// again, and says which acceptance lapsed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired_exception: Option<ExceptionRef>,
}

fn rule_id<S: Serializer>(rule: &&'static Rule, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(rule.id)
}

impl Finding {
    /// A finding of `rule`. Debug builds check that the rule declares `severity`.
    pub fn new(rule: &'static Rule, severity: Severity, summary: String) -> Self {
        debug_assert!(
            rule.severities.contains(&severity),
            "rule {} graded {severity} which it does not declare",
            rule.id
        );
        Self::graded(rule, severity, summary)
    }

    pub(super) fn graded(rule: &'static Rule, severity: Severity, summary: String) -> Self {
        Finding {
            rule,
            severity,
            summary,
            rule_severity: None,
            suppressed_by: None,
            expired_exception: None,
        }
    }

    pub fn is_qualifier(&self) -> bool {
        self.rule.qualifier.is_some()
    }

    /// False when a tuning-file exception suppressed the finding.
    pub fn counts(&self) -> bool {
        self.suppressed_by.is_none()
    }
}

/// Grade the qualifiers that raise the alert (`unapproved-caller`) over the other findings
/// that count, and return the alert's severity: the highest counted finding's, `info` when
/// none counts. A qualifier whose severity the tuning file overrides keeps the override.
/// The pipeline calls it once per alert, after the tuning file.
pub fn grade(findings: &mut [Finding]) -> Severity {
    raise_qualifiers(findings)
}

/// A raising qualifier's verdict is relative: one level over the other findings. Classification
/// sets it (so a tuning-file override records what the rule said), [`grade`] sets it again
/// over what still counts after tuning. Returns the highest severity that counts.
pub(super) fn raise_qualifiers(findings: &mut [Finding]) -> Severity {
    let mut severity = findings
        .iter()
        .filter(|f| f.counts() && !f.rule.raises_alert())
        .map(|f| f.severity)
        .max()
        .unwrap_or(Severity::Info);
    for f in findings.iter_mut().filter(|f| f.rule.raises_alert()) {
        if f.rule_severity.is_none() {
            f.severity = f.rule.raised_over(severity);
        }
        if f.counts() {
            severity = severity.max(f.severity);
        }
    }
    severity
}

/// The tuning-file exception a finding refers to, as the output shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExceptionRef {
    /// Its `id`, or `#<position>` in the file.
    pub exception: String,
    pub reason: String,
    /// `YYYY-MM-DD`: the last day it applies (or applied).
    pub expires: String,
}
