//! The alert document: one per watched event, with every finding that applies, and its
//! renderings (subject line, text body for e-mail and terminals, JSON).

use serde::{Deserialize, Serialize};

use crate::enrichment::Enrichment;
use crate::event::AccessScope;
use crate::text::ascii_line;

/// How urgently a human should look. Ordered: `info < low < medium < high < critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: &'static [Severity] = &[
        Self::Info,
        Self::Low,
        Self::Medium,
        Self::High,
        Self::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }

    /// 0 (info) to 4 (critical): for numeric SNS filter policies.
    pub fn rank(self) -> u8 {
        self as u8
    }

    /// One level up, saturating at critical.
    pub fn raised(self) -> Self {
        Self::ALL[(self.rank() as usize + 1).min(Self::ALL.len() - 1)]
    }
}

crate::closed_enum_text!(Severity, "severity");

/// One rule that fired, with its graded severity and a sentence a human understands at 1:47 AM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: String,
    pub severity: Severity,
    pub summary: String,
}

/// The alert for one watched event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    pub event_id: String,
    pub event_name: String,
    pub event_time: String,
    pub account: String,
    pub region: String,
    pub cluster: Option<String>,
    /// The principal whose access changed (decoded), if any.
    pub principal_arn: Option<String>,
    /// The caller: the role ARN (with path) for assumed roles, the user ARN for IAM users.
    pub actor_arn: Option<String>,
    /// Readable caller: `role/platform-engineer (jdoe) via aws-cli`.
    pub actor: String,
    pub actor_type: String,
    pub source_ip: Option<String>,
    /// Set when the call failed: the alert reports an attempt.
    pub error_code: Option<String>,
    pub policy_arn: Option<String>,
    pub access_scope: Option<AccessScope>,
    /// The highest severity among the findings.
    pub severity: Severity,
    pub findings: Vec<Finding>,
    /// Filled by enrichment (EKS lookups); `null` offline.
    pub enrichment: Option<Enrichment>,
}

/// The subject line limit SNS imposes (and e-mail clients show).
pub const SUBJECT_MAX: usize = 100;

impl Alert {
    /// `[CRITICAL] prod-eu: ClusterAdmin granted cluster-wide to role/ci-deployer by ...`, at most
    /// 100 printable ASCII characters, no newlines.
    pub fn subject(&self) -> String {
        let lead = self
            .findings
            .iter()
            .find(|f| f.severity == self.severity)
            .map(|f| f.summary.as_str())
            .unwrap_or(self.event_name.as_str());
        let place = self.cluster.as_deref().unwrap_or(self.account.as_str());
        ascii_line(
            &format!(
                "[{}] {}: {}",
                self.severity.as_str().to_ascii_uppercase(),
                place,
                lead
            ),
            SUBJECT_MAX,
        )
    }

    /// The AWS CLI command that reverses a successful grant (association or new entry), with
    /// every value shell-quoted. `None` for failed calls and for changes without a simple undo.
    pub fn undo_command(&self) -> Option<String> {
        if self.error_code.is_some() {
            return None;
        }
        let cluster = self.cluster.as_deref()?;
        let principal = self.principal_arn.as_deref()?;
        let base = format!(
            "--region {} --cluster-name {} --principal-arn {}",
            shell_quote(&self.region),
            shell_quote(cluster),
            shell_quote(principal)
        );
        match self.event_name.as_str() {
            "AssociateAccessPolicy" => Some(format!(
                "aws eks disassociate-access-policy {base} --policy-arn {}",
                shell_quote(self.policy_arn.as_deref()?)
            )),
            "CreateAccessEntry" => Some(format!("aws eks delete-access-entry {base}")),
            _ => None,
        }
    }

    /// The names of the rules that fired, in order.
    pub fn rule_ids(&self) -> Vec<&str> {
        self.findings.iter().map(|f| f.rule.as_str()).collect()
    }

    /// A readable body for e-mail and terminals.
    pub fn text(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let na = "-";
        let _ = writeln!(out, "{}", self.subject());
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Severity:  {}",
            self.severity.as_str().to_ascii_uppercase()
        );
        let _ = writeln!(out, "Event:     {} at {}", self.event_name, self.event_time);
        let _ = writeln!(
            out,
            "Cluster:   {} (account {}, {})",
            self.cluster.as_deref().unwrap_or(na),
            self.account,
            self.region
        );
        let _ = writeln!(out, "Caller:    {}", self.actor);
        if let Some(arn) = &self.actor_arn {
            let _ = writeln!(out, "Caller ARN: {arn}");
        }
        if let Some(ip) = &self.source_ip {
            let _ = writeln!(out, "Source IP: {ip}");
        }
        if let Some(p) = &self.principal_arn {
            let _ = writeln!(out, "Target:    {p}");
        }
        if let Some(p) = &self.policy_arn {
            let scope = self
                .access_scope
                .as_ref()
                .map(|s| format!(" ({})", s.describe()))
                .unwrap_or_default();
            let _ = writeln!(out, "Policy:    {p}{scope}");
        }
        if let Some(code) = &self.error_code {
            let _ = writeln!(
                out,
                "Result:    FAILED with {code}: this reports an attempt, nothing was changed"
            );
        }
        let _ = writeln!(out, "\nFindings (all rules that matched):");
        for f in &self.findings {
            let _ = writeln!(
                out,
                "  {:<8} {}: {}",
                f.severity.as_str().to_ascii_uppercase(),
                f.rule,
                f.summary
            );
        }
        let steps: Vec<&str> = self
            .findings
            .iter()
            .filter_map(|f| crate::rules::find(&f.rule).map(|r| r.next_step))
            .collect();
        if !steps.is_empty() {
            let _ = writeln!(out, "\nWhat to do:");
            let mut seen = Vec::new();
            for s in steps {
                if !seen.contains(&s) {
                    seen.push(s);
                    let _ = writeln!(out, "  - {s}");
                }
            }
        }
        if let Some(cmd) = self.undo_command() {
            let _ = writeln!(
                out,
                "\nTo undo this change, if it was not expected:\n  {cmd}"
            );
        }
        if let Some(e) = &self.enrichment {
            let _ = writeln!(out, "\nContext from the EKS API ({}):", e.status);
            for line in e.describe() {
                let _ = writeln!(out, "  {line}");
            }
        }
        let _ = writeln!(out, "\nCloudTrail event ID: {}", self.event_id);
        out
    }
}

/// Quote a value for a POSIX shell unless it is plainly safe.
fn shell_quote(value: &str) -> String {
    let safe = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":/_.@+=,-".contains(c));
    if safe {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_are_ordered_and_parse() {
        assert!(Severity::Info < Severity::Low && Severity::High < Severity::Critical);
        assert_eq!("HIGH".parse::<Severity>().unwrap(), Severity::High);
        let err = "urgent".parse::<Severity>().unwrap_err().to_string();
        assert!(err.contains("info, low, medium, high, critical"), "{err}");
        assert_eq!(Severity::Critical.raised(), Severity::Critical);
        assert_eq!(Severity::Low.raised(), Severity::Medium);
        assert_eq!(Severity::Critical.rank(), 4);
    }

    #[test]
    fn shell_quoting_neutralises_odd_values() {
        assert_eq!(
            shell_quote("arn:aws:iam::1:role/x"),
            "arn:aws:iam::1:role/x"
        );
        assert_eq!(shell_quote("a b;rm -rf"), "'a b;rm -rf'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }
}
