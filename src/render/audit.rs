//! Renderings of an audit: the posture line (also the digest's subject), the terminal text
//! (one table per cluster, worst first), Markdown for a ticket or pull-request comment, and one
//! finding on its own (a drift alert's subject and e-mail text).

use std::fmt::Write;

use super::{SUBJECT_MAX, severity_cell};
use crate::arn;
use crate::audit::{AuditFinding, AuditReport};
use crate::sanitize::{ascii_line, clean};
use crate::severity::Severity;

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `EKS access posture: 14 clusters, 2 critical, 5 high` (`, 3 drift` when there is drift, `,
/// incomplete` when something could not be read): the digest's subject.
pub fn posture_line(report: &AuditReport) -> String {
    let mut line = format!(
        "EKS access posture: {}, {} critical, {} high",
        plural(report.clusters, "cluster", "clusters"),
        report.counts.critical,
        report.counts.high
    );
    if report.drift > 0 {
        let _ = write!(line, ", {} drift", report.drift);
    }
    if report.incomplete() {
        line.push_str(", incomplete");
    }
    ascii_line(&line, SUBJECT_MAX)
}

/// What was audited, when, and against what: the lines under the posture line.
pub fn scope_lines(report: &AuditReport) -> Vec<String> {
    let mut lines = vec![format!(
        "Audited {} in {} ({}) and {} ({}), taken {}.",
        plural(report.clusters, "cluster", "clusters"),
        plural(report.accounts.len(), "account", "accounts"),
        report.accounts.join(", "),
        plural(report.regions.len(), "region", "regions"),
        report.regions.join(", "),
        report.taken_at.as_deref().unwrap_or("at an unknown time")
    )];
    if report.baseline_taken_at.is_some() || report.drift > 0 {
        lines.push(format!(
            "Compared with the baseline{}: {}.",
            report
                .baseline_taken_at
                .as_deref()
                .map(|t| format!(" taken {t}"))
                .unwrap_or_default(),
            plural(report.drift, "drift finding", "drift findings")
        ));
    }
    lines.push(format!("Findings: {}.", report.counts.describe()));
    lines
}

/// `role/platform-admin`, or `-`.
fn principal(f: &AuditFinding) -> String {
    f.principal_arn
        .as_deref()
        .map(arn::short_name)
        .unwrap_or_else(|| "-".to_string())
}

/// `prod-eu (111122223333, eu-west-1)`, or `account 111122223333 eu-west-1`.
fn heading(f: &AuditFinding) -> String {
    match &f.cluster {
        Some(c) => format!("{c} ({}, {})", f.account, f.region),
        None => f.place(),
    }
}

/// The terminal rendering: the posture line, then one table per cluster, worst first.
pub fn text(report: &AuditReport, colour: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", posture_line(report));
    for line in scope_lines(report) {
        let _ = writeln!(out, "{line}");
    }
    for (head, findings) in report.by_place() {
        let worst = worst(&findings);
        let _ = writeln!(
            out,
            "\n{}  worst {}  ({})",
            heading(head),
            worst.upper(),
            counts_of(&findings)
        );
        let _ = writeln!(
            out,
            "  {:<9} {:<28} {:<32} SUMMARY",
            "SEVERITY", "RULE", "PRINCIPAL"
        );
        for f in findings {
            let _ = writeln!(
                out,
                "  {} {:<28} {:<32} {}",
                severity_cell(f.severity(), colour),
                f.finding.rule.id,
                clean(&principal(f), 64),
                summary_with_notes(f)
            );
        }
    }
    if !report.clusters_without_findings.is_empty() {
        let _ = writeln!(
            out,
            "\nNo findings: {}",
            report.clusters_without_findings.join(", ")
        );
    }
    out
}

/// The worst severity among the findings that count (suppressed ones do not).
fn worst(findings: &[&AuditFinding]) -> Severity {
    findings
        .iter()
        .filter(|f| f.counts())
        .map(|f| f.severity())
        .max()
        .unwrap_or(Severity::Info)
}

fn counts_of(findings: &[&AuditFinding]) -> String {
    let mut counts = crate::audit::Counts::default();
    for f in findings.iter().filter(|f| f.counts()) {
        counts.add(f.severity());
    }
    let suppressed = findings.iter().filter(|f| !f.counts()).count();
    match suppressed {
        0 => counts.describe(),
        n => format!("{}; {n} suppressed", counts.describe()),
    }
}

/// The summary, then what the tuning file did to the finding (suppressed, re-graded, an
/// exception that expired).
fn summary_with_notes(f: &AuditFinding) -> String {
    let mut text = clean(&f.finding.summary, 1000);
    for note in super::tuning_notes(&f.finding) {
        text.push(' ');
        text.push_str(&clean(&note, 600));
    }
    text
}

/// Escape a Markdown table cell.
fn cell(text: &str) -> String {
    clean(text, 1000).replace('|', "\\|")
}

/// Markdown for a ticket or a pull-request comment: the posture, a summary table of clusters,
/// then one table per cluster, worst first.
pub fn markdown(report: &AuditReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### {}\n", cell(&posture_line(report)));
    for line in scope_lines(report) {
        let _ = writeln!(out, "{}  ", cell(&line));
    }
    let groups = report.by_place();
    if !groups.is_empty() {
        let _ = writeln!(out, "\n| cluster | account | region | worst | findings |");
        let _ = writeln!(out, "|---|---|---|---|---|");
        for (head, findings) in &groups {
            let worst = worst(findings);
            let _ = writeln!(
                out,
                "| {} | {} | {} | **{}** | {} |",
                cell(
                    head.cluster
                        .as_deref()
                        .unwrap_or(if head.account.is_empty() {
                            "(tuning file)"
                        } else {
                            "(not listed)"
                        })
                ),
                cell(&head.account),
                cell(&head.region),
                worst.upper(),
                counts_of(findings)
            );
        }
    }
    for (head, findings) in &groups {
        let _ = writeln!(out, "\n#### {}\n", cell(&heading(head)));
        let _ = writeln!(out, "| severity | rule | principal | summary |");
        let _ = writeln!(out, "|---|---|---|---|");
        for f in findings {
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {} |",
                f.severity().upper(),
                f.finding.rule.id,
                cell(&principal(f)),
                cell(&summary_with_notes(f))
            );
        }
    }
    if !report.clusters_without_findings.is_empty() {
        let _ = writeln!(
            out,
            "\nNo findings: {}",
            cell(&report.clusters_without_findings.join(", "))
        );
    }
    out
}

/// `[HIGH] prod-eu: ClusterAdmin cluster-wide associated to role/x ...`, at most 100 printable
/// ASCII characters: a drift alert's subject.
pub fn finding_subject(f: &AuditFinding) -> String {
    ascii_line(
        &format!(
            "[{}] {}: {}",
            f.severity().upper(),
            f.place(),
            f.finding.summary
        ),
        SUBJECT_MAX,
    )
}

/// One finding on its own, for e-mail: what, where, why it matters, what to do.
pub fn finding_text(f: &AuditFinding, taken_at: Option<&str>, baseline: Option<&str>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", finding_subject(f));
    let _ = writeln!(out, "Severity:  {}", f.severity().upper());
    let _ = writeln!(out, "Rule:      {}", f.finding.rule.id);
    let _ = writeln!(out, "Where:     {}", heading(f));
    if let Some(p) = &f.principal_arn {
        let _ = writeln!(out, "Principal: {}", clean(p, 512));
    }
    let _ = writeln!(
        out,
        "Found:     by the audit of {}{}",
        taken_at.unwrap_or("an unknown time"),
        baseline
            .map(|b| format!(", against the snapshot of {b}"))
            .unwrap_or_default()
    );
    let _ = writeln!(out, "\n{}", clean(&f.finding.summary, 2000));
    let _ = writeln!(out, "\nWhy it matters:\n  {}", f.finding.rule.why);
    let _ = writeln!(out, "\nWhat to do:\n  - {}", f.finding.rule.next_step);
    out
}
