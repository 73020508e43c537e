//! The daily audit's SNS messages, pure like [`crate::render::sns::build_message`]: one digest per
//! run (subject `EKS access posture: 14 clusters, 2 critical, 5 high`, the text tables for
//! e-mail, the report as JSON for machines) and one alert per drift finding. Both carry the
//! alerts' message attributes (`severity`, `severity_rank`, `rules`, `event_name`, `cluster`,
//! `account`, `region`), so subscription filter policies written for alerts keep working;
//! `event_name` is `AuditDigest` or `AuditDrift`.

use serde::Serialize;

use crate::audit::{AuditFinding, AuditReport};
use crate::config::AlertFormat;
use crate::render::audit::{finding_subject, finding_text, posture_line, scope_lines, text};
use crate::render::chat::{Card, card, finding_lines, prose};
use crate::render::sns::{SnsMessage, attributes, fifo_id, protocol_bodies, stable_hash};

/// `event_name` of the digest message.
pub const DIGEST_EVENT: &str = "AuditDigest";
/// `event_name` of a drift alert.
pub const DRIFT_EVENT: &str = "AuditDrift";

/// The digest's JSON body: the report (findings worst first, cut to fit SNS's size limit).
#[derive(Serialize)]
struct Digest<'a> {
    kind: &'static str,
    subject: &'a str,
    /// Where the snapshot is kept (`s3://bucket/key`), when it was stored.
    snapshot: Option<&'a str>,
    /// What the reader should know about this run (e.g. why there is no drift comparison).
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    notes: &'a [String],
    #[serde(flatten)]
    report: &'a AuditReport,
    /// Findings left out of this message to fit SNS's limit (the worst are kept).
    omitted_findings: usize,
}

/// The digest for one run, with `notes` for the reader (why there is no drift comparison).
/// Findings are cut (the least severe first) until the message fits `max_bytes`; the counts
/// always describe every finding.
pub fn digest_message(
    report: &AuditReport,
    snapshot: Option<&str>,
    notes: &[String],
    fifo: bool,
    format: AlertFormat,
    max_bytes: usize,
) -> SnsMessage {
    let mut shown = report.findings.len();
    loop {
        let msg = compose_digest(report, shown, snapshot, notes, fifo, format);
        if msg.size() <= max_bytes || shown == 0 {
            return msg;
        }
        shown /= 2;
    }
}

fn compose_digest(
    full: &AuditReport,
    shown: usize,
    snapshot: Option<&str>,
    notes: &[String],
    fifo: bool,
    format: AlertFormat,
) -> SnsMessage {
    let mut report = full.clone();
    report.findings.truncate(shown);
    let omitted = full.findings.len() - shown;
    let subject = posture_line(full);
    let mut email = text(&report, false);
    if omitted > 0 {
        email.push_str(&format!(
            "\n{omitted} less severe findings are not shown here (SNS size limit); run `eks-access-watch audit --snapshot FILE` on the stored snapshot for all of them.\n"
        ));
    }
    if let Some(s) = snapshot {
        email.push_str(&format!("\nSnapshot: {s}\n"));
    }
    for note in notes {
        email.push_str(&format!("Note: {note}\n"));
    }
    let default = serde_json::to_string(&Digest {
        kind: "audit-digest",
        subject: &subject,
        snapshot,
        notes,
        report: &report,
        omitted_findings: omitted,
    })
    .unwrap_or_default();
    let rules = rule_ids(full.findings.iter());
    let chat = || {
        let mut lines: Vec<String> = scope_lines(full).iter().map(|l| prose(l, 600)).collect();
        lines.push(String::new());
        lines.extend(finding_lines(
            report.findings.iter().take(20).map(|f| &f.finding),
        ));
        card(&Card {
            id: None,
            subject: &subject,
            summary: &subject,
            lines,
            next_steps: vec![
                "Review the critical and high findings, worst cluster first.".to_string(),
            ],
            keywords: vec![full.severity.as_str(), "audit"],
            thread_id: "eks-access-watch/audit".to_string(),
            event_type: DIGEST_EVENT,
            related_resources: Vec::new(),
            severity: full.severity,
            rules: rules.join(","),
        })
    };
    let body = protocol_bodies(default, email, format, chat);
    let single = |list: &[String]| match list {
        [one] => Some(one.clone()),
        _ => None,
    };
    let (account, region) = (single(&full.accounts), single(&full.regions));
    SnsMessage {
        subject: subject.clone(),
        attributes: attributes(
            full.severity,
            &rules,
            DIGEST_EVENT,
            None,
            account.as_deref(),
            region.as_deref(),
        ),
        group_id: fifo.then(|| fifo_id("eks-access-watch/audit")),
        dedup_id: fifo.then(|| stable_hash(&body)),
        message: body,
    }
}

/// Distinct rule ids, in order of first appearance.
fn rule_ids<'a>(findings: impl Iterator<Item = &'a AuditFinding>) -> Vec<&'static str> {
    let mut ids = Vec::new();
    for f in findings {
        if !ids.contains(&f.finding.rule.id) {
            ids.push(f.finding.rule.id);
        }
    }
    ids
}

/// A drift alert's JSON body.
#[derive(Serialize)]
struct DriftAlert<'a> {
    kind: &'static str,
    #[serde(flatten)]
    finding: &'a AuditFinding,
    taken_at: Option<&'a str>,
    baseline_taken_at: Option<&'a str>,
    why: &'static str,
    next_step: &'static str,
}

/// The alert for one drift finding of `report`.
pub fn drift_message(
    f: &AuditFinding,
    report: &AuditReport,
    fifo: bool,
    format: AlertFormat,
) -> SnsMessage {
    let (taken_at, baseline) = (
        report.taken_at.as_deref(),
        report.baseline_taken_at.as_deref(),
    );
    let default = serde_json::to_string(&DriftAlert {
        kind: "audit-drift",
        finding: f,
        taken_at,
        baseline_taken_at: baseline,
        why: f.finding.rule.why,
        next_step: f.finding.rule.next_step,
    })
    .unwrap_or_default();
    let subject = finding_subject(f);
    let chat = || {
        card(&Card {
            id: None,
            subject: &subject,
            summary: &f.finding.summary,
            lines: finding_lines(std::iter::once(&f.finding)),
            next_steps: vec![f.finding.rule.next_step.to_string()],
            keywords: vec![
                f.severity().as_str(),
                f.cluster.as_deref().unwrap_or("no-cluster"),
                DRIFT_EVENT,
            ],
            thread_id: format!(
                "eks-access-watch/{}/{}",
                f.account,
                f.cluster.as_deref().unwrap_or("-")
            ),
            event_type: DRIFT_EVENT,
            related_resources: f.principal_arn.iter().map(String::as_str).collect(),
            severity: f.severity(),
            rules: f.finding.rule.id.to_string(),
        })
    };
    let body = protocol_bodies(default, finding_text(f, taken_at, baseline), format, chat);
    SnsMessage {
        subject: subject.clone(),
        attributes: attributes(
            f.severity(),
            &[f.finding.rule.id],
            DRIFT_EVENT,
            f.cluster.as_deref(),
            Some(&f.account),
            Some(&f.region),
        ),
        group_id: fifo.then(|| {
            fifo_id(&format!(
                "{}/{}/{}",
                f.account,
                f.region,
                f.cluster.as_deref().unwrap_or("-")
            ))
        }),
        dedup_id: fifo.then(|| stable_hash(&body)),
        message: body,
    }
}
