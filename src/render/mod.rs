//! Every human rendering of alerts: the headline and subject line, the single-alert text (also
//! the e-mail body), the terminal table, the undo command, the next steps, the enrichment
//! context; the chat document in [`chat`]; the rule catalogue's docs in [`docs`]; the OCSF
//! Detection Finding every sink and `--format ocsf` share in [`ocsf`].
//!
//! **The headline says what changed and for whom**: it is the highest-graded finding that
//! describes the change. Findings that describe *how* it was made (qualifiers: unapproved
//! caller, root credentials, a denied attempt) are tags in front of it, never a replacement.
//!
//! Findings a tuning-file exception suppressed are listed, marked, in the text and chat
//! renderings, but never make the headline, the tags or the next steps, unless nothing else is
//! left: then the headline is the suppressed finding, tagged `suppressed`.

pub mod audit;
pub mod chat;
pub mod digest;
pub mod docs;
pub mod json;
pub mod ocsf;
pub mod sns;

use std::fmt::Write;

use crate::alert::Alert;
use crate::model::Enrichment;
use crate::model::ScopeType;
use crate::model::{EntryInfo, PolicyGrant};
use crate::operation::{Source, Undo};
use crate::policy::{PolicyClass, classify_policy};
use crate::rules::Finding;
use crate::sanitize::ascii_line;
use crate::severity::Severity;

/// The subject line limit SNS imposes (and e-mail clients show).
pub const SUBJECT_MAX: usize = 100;

/// The finding that says what changed, and the qualifier tags that say how.
pub struct Headline<'a> {
    /// The highest-graded non-qualifier finding (the first among equals); `None` only when
    /// every finding is a qualifier.
    pub lead: Option<&'a Finding>,
    pub tags: Vec<&'static str>,
}

impl Headline<'_> {
    /// `(unapproved caller) ClusterAdmin granted cluster-wide to role/x by ...`
    pub fn sentence(&self, fallback: &str) -> String {
        let lead = self.lead.map(|f| f.summary.as_str()).unwrap_or(fallback);
        if self.tags.is_empty() {
            lead.to_string()
        } else {
            format!("({}) {lead}", self.tags.join(", "))
        }
    }
}

pub fn headline(alert: &Alert) -> Headline<'_> {
    let changes = alert.findings.iter().filter(|f| !f.is_qualifier());
    let highest = |only_counted: bool| {
        let pool = changes.clone().filter(move |f| f.counts() || !only_counted);
        let top = pool.clone().map(|f| f.severity).max();
        pool.clone().find(|f| Some(f.severity) == top)
    };
    // The change that counts; when an exception suppressed every change, still say what
    // changed, tagged as suppressed.
    let counted = highest(true);
    let lead = counted.or_else(|| highest(false));
    let all_suppressed = alert.findings.iter().all(|f| !f.counts());
    let mut tags: Vec<&'static str> = Vec::new();
    if (counted.is_none() && lead.is_some()) || (all_suppressed && !alert.findings.is_empty()) {
        tags.push("suppressed");
    }
    tags.extend(
        alert
            .findings
            .iter()
            .filter(|f| f.counts() || all_suppressed)
            .filter_map(|f| f.rule.qualifier.map(|q| q.tag)),
    );
    Headline { lead, tags }
}

/// `[CRITICAL] prod-eu: ClusterAdmin granted cluster-wide to role/ci-deployer by ...`, at most
/// 100 printable ASCII characters, no newlines.
pub fn subject(alert: &Alert) -> String {
    subject_within(alert, SUBJECT_MAX)
}

/// [`subject`] with another limit: PagerDuty's summary (1,024), Security Hub's title (256).
pub fn subject_within(alert: &Alert, max: usize) -> String {
    let account = Some(alert.account.as_str()).filter(|a| !a.is_empty());
    let place = alert
        .cluster
        .as_deref()
        .or(account)
        .unwrap_or("unknown cluster");
    ascii_line(
        &format!(
            "[{}] {}: {}",
            alert.severity.upper(),
            place,
            headline(alert).sentence(&alert.event_name)
        ),
        max,
    )
}

/// What the on-call engineer should do, one line per rule that fired and counts, without
/// repeats.
pub fn next_steps(alert: &Alert) -> Vec<&'static str> {
    let mut steps: Vec<&'static str> = Vec::new();
    for f in alert.findings.iter().filter(|f| f.counts()) {
        if !steps.contains(&f.rule.next_step) {
            steps.push(f.rule.next_step);
        }
    }
    steps
}

/// The AWS CLI command that reverses a successful grant (association or new entry), with
/// every value shell-quoted. `None` for failed calls and for changes without a simple undo.
pub fn undo_command(alert: &Alert) -> Option<String> {
    if alert.error_code.is_some() {
        return None;
    }
    let cluster = alert.cluster.as_deref()?;
    let principal = alert.principal_arn.as_deref()?;
    let base = format!(
        "--region {} --cluster-name {} --principal-arn {}",
        shell_quote(&alert.region),
        shell_quote(cluster),
        shell_quote(principal)
    );
    match alert.operation.facts().undo? {
        Undo::DisassociateAccessPolicy => Some(format!(
            "aws eks disassociate-access-policy {base} --policy-arn {}",
            shell_quote(alert.policy_arn.as_deref()?)
        )),
        Undo::DeleteAccessEntry => Some(format!("aws eks delete-access-entry {base}")),
    }
}

/// The readable body for e-mail and terminals.
pub fn text(alert: &Alert) -> String {
    text_with_access(alert, effective_access_of(alert).as_deref())
}

/// [`text`] with the effective-access line given (the SNS rendering computes it once, before
/// trimming enrichment detail to fit the size limit).
pub(crate) fn text_with_access(alert: &Alert, access: Option<&str>) -> String {
    let mut out = String::new();
    let na = "-";
    let _ = writeln!(out, "{}", subject(alert));
    let _ = writeln!(out);
    let _ = writeln!(out, "Severity:  {}", alert.severity.upper());
    let _ = writeln!(
        out,
        "Event:     {} at {}",
        alert.event_name,
        alert.event_time.as_deref().unwrap_or(na)
    );
    // An audit log names neither account nor region unless its input does.
    let whereabouts: Vec<String> = [
        Some(format!("account {}", alert.account)).filter(|_| !alert.account.is_empty()),
        Some(alert.region.clone()).filter(|r| !r.is_empty()),
    ]
    .into_iter()
    .flatten()
    .collect();
    let _ = writeln!(
        out,
        "Cluster:   {}{}",
        alert.cluster.as_deref().unwrap_or(na),
        if whereabouts.is_empty() {
            String::new()
        } else {
            format!(" ({})", whereabouts.join(", "))
        }
    );
    let _ = writeln!(out, "Caller:    {}", alert.actor);
    if let Some(arn) = &alert.actor_arn {
        let _ = writeln!(out, "Caller ARN: {arn}");
    }
    if let Some(ip) = &alert.source_ip {
        let _ = writeln!(out, "Source IP: {ip}");
    }
    if let Some(p) = &alert.principal_arn {
        let _ = writeln!(out, "Target:    {p}");
    }
    if let Some(p) = &alert.policy_arn {
        let scope = alert
            .access_scope
            .as_ref()
            .map(|s| format!(" ({})", s.describe()))
            .unwrap_or_default();
        let _ = writeln!(out, "Policy:    {p}{scope}");
    }
    if let Some(code) = &alert.error_code {
        let _ = writeln!(
            out,
            "Result:    FAILED with {code}: this reports an attempt, nothing was changed"
        );
    }
    let _ = writeln!(out, "\nFindings (all rules that matched):");
    for f in &alert.findings {
        let _ = writeln!(out, "{}", finding_line(f));
        for note in tuning_notes(f) {
            let _ = writeln!(out, "           {note}");
        }
    }
    if let Some(i) = &alert.incident {
        let _ = writeln!(out, "\n{}:", incident_heading(i));
        for line in incident_lines(i) {
            let _ = writeln!(out, "  {line}");
        }
    }
    if let Some(grant) = &alert.resolves {
        let _ = writeln!(out, "\nResolves the grant of event {grant}.");
    }
    if let Some(why) = &alert.correlation_unavailable {
        let _ = writeln!(out, "\nNote: {why}: this alert was judged alone.");
    }
    let steps = next_steps(alert);
    if !steps.is_empty() {
        let _ = writeln!(out, "\nWhat to do:");
        for s in steps {
            let _ = writeln!(out, "  - {s}");
        }
    }
    if let Some(cmd) = undo_command(alert) {
        let _ = writeln!(
            out,
            "\nTo undo this change, if it was not expected:\n  {cmd}"
        );
    }
    if let Some(e) = &alert.enrichment {
        let _ = writeln!(out, "\nContext from the EKS API ({}):", e.status);
        for line in enrichment_lines(e, access) {
            let _ = writeln!(out, "  {line}");
        }
    }
    let id = match alert.operation.source() {
        Source::Kubernetes => "Kubernetes audit ID",
        Source::Eks
        | Source::Sts
        | Source::CloudTrail
        | Source::Events
        | Source::Lambda
        | Source::Logs
        | Source::Sns
        | Source::Kms
        | Source::Ssm
        | Source::Sqs
        | Source::CloudFormation => "CloudTrail event ID",
        Source::Watcher => "Check ID",
    };
    let _ = writeln!(out, "\n{id}: {}", alert.event_id.as_deref().unwrap_or(na));
    out
}

/// `Incident eaw-1a2b3c4d5e6f7a8b (break-glass-session-activity), opened 2026-11-20T01:40:00Z`.
pub fn incident_heading(i: &crate::context::state::Incident) -> String {
    format!(
        "Incident {} ({}), opened {}",
        i.id,
        i.rule,
        i.opened_at.as_deref().unwrap_or("at an unknown time")
    )
}

/// The incident's chain, oldest first, one line per event:
/// `1. AssumeRole 2026-11-20T01:40:00Z (cloudtrail) 3c5e...`.
pub fn incident_lines(i: &crate::context::state::Incident) -> Vec<String> {
    let mut lines = Vec::new();
    if i.more > 0 {
        lines.push(format!("({} earlier events not listed)", i.more));
    }
    for (n, e) in i.events.iter().enumerate() {
        lines.push(format!(
            "{}. {} {}{} ({}) {}",
            n + 1 + i.more,
            e.event_name,
            e.event_time.as_deref().unwrap_or("-"),
            e.cluster
                .as_deref()
                .map(|c| format!(" on {c}"))
                .unwrap_or_default(),
            e.plane,
            e.event_id.as_deref().unwrap_or("-")
        ));
    }
    lines
}

/// `  HIGH     rule-id: summary`: one finding in a text rendering.
pub fn finding_line(f: &Finding) -> String {
    format!("  {:<8} {}: {}", f.severity.upper(), f.rule.id, f.summary)
}

/// What the tuning file did to a finding, one line each: its override, the exception that
/// suppressed it, or the exception that would have and has expired.
pub fn tuning_notes(f: &Finding) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(graded) = f.rule_severity {
        notes.push(format!(
            "(severity set by the tuning file; the rule graded it {graded})"
        ));
    }
    if let Some(e) = &f.suppressed_by {
        notes.push(format!(
            "(suppressed by exception {} until {}: {}; counts towards nothing)",
            e.exception, e.expires, e.reason
        ));
    }
    if let Some(e) = &f.expired_exception {
        notes.push(format!(
            "(exception {} expired on {}: renew or remove it; it said: {})",
            e.exception, e.expires, e.reason
        ));
    }
    notes
}

/// The terminal table's header line.
pub fn table_header() -> String {
    format!(
        "{:<9} {:<20} {:<12} {:<26} FINDINGS",
        "SEVERITY", "TIME", "CLUSTER", "EVENT"
    )
}

/// One alert in the terminal table: a line of columns (the severity coloured when `colour`),
/// then the headline, then any other change finding graded as high as the headline.
pub fn table_row(alert: &Alert, colour: bool) -> String {
    let sev = severity_cell(alert.severity, colour);
    let suppressed = alert.suppressed_rule_ids();
    let suppressed = if suppressed.is_empty() {
        String::new()
    } else {
        format!(" (suppressed: {})", suppressed.join(","))
    };
    let mut out = format!(
        "{} {:<20} {:<12} {:<26} {}{suppressed}\n",
        sev,
        alert.event_time.as_deref().unwrap_or("-"),
        alert.cluster.as_deref().unwrap_or("-"),
        alert.event_name,
        alert.rule_ids().join(",")
    );
    let head = headline(alert);
    let _ = writeln!(out, "{:<9} {}", "", head.sentence(&alert.event_name));
    if let Some(lead) = head.lead {
        for f in alert.findings.iter().filter(|f| {
            !f.is_qualifier()
                && f.counts() == lead.counts()
                && f.severity == lead.severity
                && !std::ptr::eq(*f, lead)
        }) {
            let _ = writeln!(out, "{:<9} {}", "", f.summary);
        }
    }
    out
}

/// `HIGH     `: the severity in upper case, padded to 9 columns, coloured when `colour`.
pub fn severity_cell(severity: Severity, colour: bool) -> String {
    let sev = severity.upper();
    if colour {
        let code = match severity {
            Severity::Critical => "1;31",
            Severity::High => "31",
            Severity::Medium => "33",
            Severity::Low => "36",
            Severity::Info => "2",
        };
        format!("\x1b[{code}m{sev:<9}\x1b[0m")
    } else {
        format!("{sev:<9}")
    }
}

/// What the principal holds after the change, in words:
/// "after this change role/ci-deployer holds: ClusterAdmin (cluster), View (cluster); groups: team:payments".
pub fn effective_access(
    principal: &str,
    entry: Option<&EntryInfo>,
    policies: Option<&[PolicyGrant]>,
) -> Option<String> {
    if entry.is_none() && policies.is_none() {
        return None;
    }
    let mut parts = Vec::new();
    if let Some(policies) = policies {
        let grants: Vec<String> = policies
            .iter()
            .map(|p| {
                let info = classify_policy(&p.policy_arn);
                let scope = match &p.access_scope.scope_type {
                    ScopeType::Namespace => {
                        format!(
                            "namespaces {}",
                            crate::sanitize::capped(
                                &p.access_scope.namespaces,
                                crate::sanitize::LIST_CAP
                            )
                        )
                    }
                    ScopeType::Cluster => "cluster".to_string(),
                    ScopeType::Unknown(t) => t.clone(),
                };
                format!("{} ({scope})", info.short_name())
            })
            .collect();
        parts.push(if grants.is_empty() {
            "no access policies".to_string()
        } else {
            grants.join(", ")
        });
        let cluster_admin = policies.iter().any(|p| {
            classify_policy(&p.policy_arn).class == PolicyClass::ClusterAdmin
                && p.access_scope.is_cluster_wide()
        });
        if cluster_admin && policies.len() > 1 {
            parts.push("(ClusterAdmin at cluster scope supersedes the other grants)".to_string());
        }
    }
    if let Some(entry) = entry {
        if !entry.kubernetes_groups.is_empty() {
            parts.push(format!(
                "groups: {}",
                crate::sanitize::capped(&entry.kubernetes_groups, crate::sanitize::LIST_CAP)
            ));
        }
        if let Some(t) = &entry.entry_type {
            parts.push(format!("type: {t}"));
        }
    }
    Some(format!(
        "after this change {} holds: {}",
        crate::arn::short_name(principal),
        parts.join("; ")
    ))
}

/// What the alert's principal holds after the change, in words, from the enrichment's entry
/// and policies ([`effective_access`]); `None` offline or when neither was read.
pub fn effective_access_of(alert: &Alert) -> Option<String> {
    let e = alert.enrichment.as_ref()?;
    effective_access(
        alert.principal_arn.as_deref()?,
        e.access_entry.as_ref(),
        e.associated_policies.as_deref(),
    )
}

/// The enrichment context, one line per fact (the effective access first, when known), for
/// the text rendering.
pub fn enrichment_lines(e: &Enrichment, access: Option<&str>) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(a) = access {
        lines.push(a.to_string());
    }
    if let Some(c) = &e.cluster {
        lines.push(format!(
            "cluster: auth mode {}, version {}, public endpoint {}",
            c.authentication_mode.as_ref().map_or("?", |m| m.as_str()),
            c.version.as_deref().unwrap_or("?"),
            match c.endpoint_public_access {
                Some(true) => format!("on ({})", c.public_access_cidrs.join(", ")),
                Some(false) => "off".into(),
                None => "?".into(),
            }
        ));
    }
    if let Some(census) = &e.remaining_admins {
        lines.push(if census.admins.is_empty() {
            format!(
                "admins left: none found among {} entries",
                census.entries_checked
            )
        } else {
            format!("admins left: {}", census.admins.join(", "))
        });
    }
    for err in &e.errors {
        lines.push(format!("note: {err}"));
    }
    lines
}

/// Quote a value for a POSIX shell unless it is plainly safe.
pub fn shell_quote(value: &str) -> String {
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
    fn shell_quoting_neutralises_odd_values() {
        assert_eq!(
            shell_quote("arn:aws:iam::1:role/x"),
            "arn:aws:iam::1:role/x"
        );
        assert_eq!(shell_quote("a b;rm -rf"), "'a b;rm -rf'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }
}
