//! `eks-access-watch audit`: who can reach each cluster now, and what changed against a
//! baseline. The flow is one-way and the core is pure:
//! ```text
//! EKS API (read) or a saved snapshot -> Snapshot -> standing rules + drift vs baseline
//!   -> AuditFinding (the finding model, with its account, region, cluster, principal)
//!   -> finalise -> AuditReport -> render (text, JSON, NDJSON, Markdown, digest)
//! ```
//! [`snapshot`] is the model (and the file format); [`standing`] the standing-access rules;
//! [`drift`] the comparison with a baseline, graded through the change rules (`grade`, through [`crate::pipeline::judge`]);
//! The audit itself does no I/O: [`read`] is the EKS adapter that takes a snapshot; the digest's SNS
//! messages are rendered by [`crate::render::digest`] and the Lambda's daily run lives in
//! [`crate::lambda::daily_audit`].

pub mod drift;
mod grade;
pub mod standing;
pub mod trail;

/// The EKS reader that takes a snapshot (an adapter: [`crate::aws::eks_reader`]).
#[cfg(feature = "aws")]
pub use crate::aws::eks_reader as read;
/// The snapshot model and file format (it lives with the model: the EKS reader in
/// [`crate::aws`] builds it).
pub use crate::model::snapshot;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use chrono::NaiveDate;

use crate::config::{AuditConfig, RuleConfig};
use crate::model::snapshot::{ClusterState, Snapshot};
use crate::rules::{CATALOGUE, Finding, Rule, Topic};
use crate::severity::Severity;
use crate::tuning::{Scope, Tuning};

/// A finding with where it applies: the finding model, wrapped (serialised as the finding's
/// `rule`, `severity`, `summary`, then its context).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditFinding {
    #[serde(flatten)]
    pub finding: Finding,
    pub account: String,
    pub region: String,
    /// `None` for what applies to a whole account and region (it could not be listed).
    pub cluster: Option<String>,
    /// The access entry's principal, for findings about one entry.
    pub principal_arn: Option<String>,
}

impl AuditFinding {
    /// A finding about `cluster` (and, when given, one of its entries).
    pub fn on(
        cluster: &ClusterState,
        principal_arn: Option<&str>,
        rule: &'static Rule,
        severity: Severity,
        summary: String,
    ) -> Self {
        AuditFinding {
            finding: Finding::new(rule, severity, summary),
            account: cluster.account().to_string(),
            region: cluster.region().to_string(),
            cluster: Some(cluster.name.clone()),
            principal_arn: principal_arn.map(str::to_string),
        }
    }

    pub fn severity(&self) -> Severity {
        self.finding.severity
    }

    pub fn is_drift(&self) -> bool {
        self.finding.rule.topic == Topic::Drift
    }

    /// False when a tuning-file exception suppressed the finding: it stays in the report,
    /// marked, and counts towards nothing (severity, counts, `--fail-on`, drift alerts).
    pub fn counts(&self) -> bool {
        self.finding.suppressed_by.is_none()
    }

    /// `prod-eu`, `account 111122223333 eu-west-1` for findings about no one cluster, or `the
    /// tuning file` for what the tuning file itself says (an expired exception).
    pub fn place(&self) -> String {
        match &self.cluster {
            Some(c) => c.clone(),
            None if self.account.is_empty() => "the tuning file".to_string(),
            None => format!("account {} {}", self.account, self.region),
        }
    }
}

/// Findings counted by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub info: usize,
}

impl Counts {
    pub fn add(&mut self, severity: Severity) {
        let slot = match severity {
            Severity::Critical => &mut self.critical,
            Severity::High => &mut self.high,
            Severity::Medium => &mut self.medium,
            Severity::Low => &mut self.low,
            Severity::Info => &mut self.info,
        };
        *slot += 1;
    }

    /// `2 high, 1 medium` (zero counts left out; `no findings` when all are zero).
    pub fn describe(&self) -> String {
        let parts: Vec<String> = [
            (self.critical, "critical"),
            (self.high, "high"),
            (self.medium, "medium"),
            (self.low, "low"),
            (self.info, "info"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, s)| format!("{n} {s}"))
        .collect();
        if parts.is_empty() {
            "no findings".to_string()
        } else {
            parts.join(", ")
        }
    }
}

/// The audit's result: every finding, ordered for reading, and the counts a digest needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// When the audited state was taken.
    pub taken_at: Option<String>,
    /// When the baseline was taken (`null` without a baseline, or for a hand-written one).
    pub baseline_taken_at: Option<String>,
    /// Accounts and regions audited (read, or listed in the snapshot), sorted.
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    /// Clusters audited.
    pub clusters: usize,
    /// Clusters without any finding (`name (account, region)`).
    pub clusters_without_findings: Vec<String>,
    /// The highest finding's severity (`info` with no findings).
    pub severity: Severity,
    pub counts: Counts,
    /// Drift findings among `findings` that count (none suppressed).
    pub drift: usize,
    /// Clusters worst first; within a cluster, worst first, then catalogue order.
    pub findings: Vec<AuditFinding>,
}

impl AuditReport {
    /// The findings grouped by place (cluster, or account and region), worst place first.
    pub fn by_place(&self) -> Vec<(&AuditFinding, Vec<&AuditFinding>)> {
        let mut groups: Vec<(&AuditFinding, Vec<&AuditFinding>)> = Vec::new();
        for f in &self.findings {
            match groups.last_mut() {
                Some((head, members)) if same_place(head, f) => members.push(f),
                _ => groups.push((f, vec![f])),
            }
        }
        groups
    }

    /// What could not be read (`audit-incomplete` findings above info: not the things deleted
    /// while the audit ran).
    pub fn unread(&self) -> impl Iterator<Item = &AuditFinding> {
        self.findings.iter().filter(|f| {
            *f.finding.rule == crate::rules::standing::AUDIT_INCOMPLETE
                && f.severity() > Severity::Info
        })
    }

    /// True when something could not be read.
    pub fn incomplete(&self) -> bool {
        self.unread().next().is_some()
    }
}

fn same_place(a: &AuditFinding, b: &AuditFinding) -> bool {
    (&a.account, &a.region, &a.cluster) == (&b.account, &b.region, &b.cluster)
}

/// The tuning file an audit applies, and the date its exceptions are judged on.
#[derive(Debug, Clone, Copy)]
pub struct Tuned<'a> {
    pub tuning: &'a Tuning,
    pub today: NaiveDate,
}

/// Audit `current` (and compare it with `baseline`, when given), applying the tuning file
/// when given: its required tags join `config`'s, its overrides and exceptions apply to every
/// finding, and each expired exception is an `exception-expired` finding. Pure.
pub fn audit(
    current: &Snapshot,
    baseline: Option<&Snapshot>,
    rules: &RuleConfig,
    config: &AuditConfig,
    tuned: Option<Tuned>,
) -> AuditReport {
    let mut config = config.clone();
    if let Some(t) = tuned {
        for tag in &t.tuning.required_tags {
            if !config.require_tags.contains(tag) {
                config.require_tags.push(tag.clone());
            }
        }
    }
    let mut findings = standing::findings(current, rules, &config);
    if let Some(baseline) = baseline {
        findings.extend(drift::findings(baseline, current, rules));
    }
    if let Some(t) = tuned {
        findings = tune(findings, t);
    }
    finalise(current, baseline, findings)
}

/// The tuning file's step: overrides and exceptions per finding, each in its own context (an
/// audit finding has no caller), then the expired exceptions as findings of their own.
fn tune(findings: Vec<AuditFinding>, t: Tuned) -> Vec<AuditFinding> {
    let mut out: Vec<AuditFinding> = findings
        .into_iter()
        .filter_map(|f| {
            let scope = Scope {
                cluster: f.cluster.as_deref(),
                account: Some(f.account.as_str()),
                principal: f.principal_arn.as_deref(),
                caller: None,
                failed: false,
            };
            let finding = t.tuning.tune(f.finding.clone(), &scope, t.today)?;
            Some(AuditFinding { finding, ..f })
        })
        .collect();
    out.extend(
        t.tuning
            .expired_findings(t.today)
            .into_iter()
            .map(|finding| AuditFinding {
                finding,
                account: String::new(),
                region: String::new(),
                cluster: None,
                principal_arn: None,
            }),
    );
    out
}

/// The one place audit findings are finalised, after every finding is made (and tuned) and
/// before anything is counted, ordered or rendered. Suppressed findings are kept and ordered
/// with the rest, but count towards nothing.
pub fn finalise(
    current: &Snapshot,
    baseline: Option<&Snapshot>,
    mut findings: Vec<AuditFinding>,
) -> AuditReport {
    type Place = (String, String, Option<String>);
    let place =
        |f: &AuditFinding| -> Place { (f.account.clone(), f.region.clone(), f.cluster.clone()) };
    let mut worst: BTreeMap<Place, Severity> = BTreeMap::new();
    for f in findings.iter().filter(|f| f.counts()) {
        let w = worst.entry(place(f)).or_insert(Severity::Info);
        *w = (*w).max(f.severity());
    }
    let rank = |rule: &Rule| CATALOGUE.iter().position(|r| *r == rule);
    findings.sort_by(|a, b| {
        let (pa, pb) = (place(a), place(b));
        let level = |p: &Place| worst.get(p).copied();
        level(&pb)
            .cmp(&level(&pa))
            .then_with(|| pa.cmp(&pb))
            .then_with(|| b.severity().cmp(&a.severity()))
            .then_with(|| rank(a.finding.rule).cmp(&rank(b.finding.rule)))
            .then_with(|| a.principal_arn.cmp(&b.principal_arn))
            .then_with(|| a.finding.summary.cmp(&b.finding.summary))
    });
    let mut counts = Counts::default();
    for f in findings.iter().filter(|f| f.counts()) {
        counts.add(f.severity());
    }
    let targets = current
        .clusters
        .iter()
        .map(|c| (c.account().to_string(), c.region().to_string()))
        .chain(
            current
                .unreadable
                .iter()
                .map(|u| (u.account.clone(), u.region.clone())),
        );
    let (accounts, regions): (BTreeSet<String>, BTreeSet<String>) = targets.unzip();
    AuditReport {
        taken_at: current.taken_at.clone(),
        baseline_taken_at: baseline.and_then(|b| b.taken_at.clone()),
        accounts: accounts.into_iter().filter(|a| !a.is_empty()).collect(),
        regions: regions.into_iter().filter(|r| !r.is_empty()).collect(),
        clusters: current.clusters.len(),
        clusters_without_findings: current
            .clusters
            .iter()
            .filter(|c| {
                !worst.contains_key(&(
                    c.account().to_string(),
                    c.region().to_string(),
                    Some(c.name.clone()),
                ))
            })
            .map(ClusterState::label)
            .collect(),
        severity: findings
            .iter()
            .filter(|f| f.counts())
            .map(AuditFinding::severity)
            .max()
            .unwrap_or(Severity::Info),
        counts,
        drift: findings
            .iter()
            .filter(|f| f.is_drift() && f.counts())
            .count(),
        findings,
    }
}
