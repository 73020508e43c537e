//! `verify-trail`'s findings in the audit's finding model: each problem the digest check
//! found ([`crate::trail::digest::check`]) becomes a `trail-gap` (high) or `trail-log-altered`
//! (critical) finding for its account and region, in an [`AuditReport`] that renders and
//! exits like the audit's.

use std::collections::BTreeSet;

use super::{AuditFinding, AuditReport, Counts};
use crate::rules::Finding;
use crate::rules::integrity::{TRAIL_GAP, TRAIL_LOG_ALTERED};
use crate::severity::Severity;
use crate::trail::digest::{ProblemKind, Verified};

/// The report of one verification, as of `taken_at`.
pub fn report(verified: &Verified, taken_at: &str) -> AuditReport {
    let mut findings: Vec<AuditFinding> = verified
        .problems
        .iter()
        .map(|p| {
            let (rule, severity) = match p.kind {
                ProblemKind::Gap => (&TRAIL_GAP, Severity::High),
                ProblemKind::Altered => (&TRAIL_LOG_ALTERED, Severity::Critical),
            };
            AuditFinding {
                finding: Finding::new(rule, severity, p.message.clone()),
                account: p.account.clone(),
                region: p.region.clone(),
                cluster: None,
                principal_arn: None,
            }
        })
        .collect();
    findings.sort_by(|a, b| {
        b.severity()
            .cmp(&a.severity())
            .then_with(|| (&a.account, &a.region).cmp(&(&b.account, &b.region)))
            .then_with(|| a.finding.summary.cmp(&b.finding.summary))
    });
    let mut counts = Counts::default();
    for f in &findings {
        counts.add(f.severity());
    }
    let (accounts, regions): (BTreeSet<String>, BTreeSet<String>) = verified
        .places
        .iter()
        .cloned()
        .chain(
            findings
                .iter()
                .filter(|f| !f.account.is_empty())
                .map(|f| (f.account.clone(), f.region.clone())),
        )
        .unzip();
    AuditReport {
        taken_at: Some(taken_at.to_string()),
        baseline_taken_at: None,
        accounts: accounts.into_iter().collect(),
        regions: regions.into_iter().collect(),
        clusters: 0,
        clusters_without_findings: Vec::new(),
        severity: findings
            .iter()
            .map(AuditFinding::severity)
            .max()
            .unwrap_or(Severity::Info),
        counts,
        drift: 0,
        findings,
    }
}
