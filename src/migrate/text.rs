//! The plan for a person: each entry to create, the findings, the verdict, and the steps of the
//! migration in order. Every value from the ConfigMap or the API is cleaned of control
//! characters before it reaches the terminal.

use std::fmt::Write;

use super::{Plan, PlannedEntry, Status};
use crate::model::AuthMode;
use crate::render::{finding_line, shell_quote};
use crate::sanitize::clean;

pub(super) fn render(plan: &Plan) -> String {
    let mut out = String::new();
    let cluster = plan.cluster.as_deref().map(|c| clean(c, 100));
    let _ = writeln!(
        out,
        "Migration plan from aws-auth to access entries{}: {} entries",
        cluster
            .as_deref()
            .map(|c| format!(" for cluster {c}"))
            .unwrap_or_default(),
        plan.entries.len()
    );
    if let Some(mode) = &plan.authentication_mode {
        let _ = writeln!(out, "Authentication mode now: {mode}");
    }
    for (i, e) in plan.entries.iter().enumerate() {
        let _ = writeln!(out);
        entry(&mut out, i + 1, e);
    }
    let _ = writeln!(out, "\nFindings:");
    if plan.findings.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for f in &plan.findings {
        let _ = writeln!(out, "{}", finding_line(f));
    }
    let _ = writeln!(out, "\n{}", verdict(plan));
    let _ = writeln!(out, "\nSteps, in order:");
    for (i, step) in steps(plan).iter().enumerate() {
        let _ = writeln!(out, "  {}. {step}", i + 1);
    }
    out
}

fn entry(out: &mut String, n: usize, e: &PlannedEntry) {
    let status = e
        .status
        .map(|s| format!("  [{}]", s.as_str().to_ascii_uppercase()))
        .unwrap_or_default();
    let _ = writeln!(out, "{n}. {}{status}", clean(&e.principal_arn, 512));
    let _ = writeln!(out, "   type {}, from {}", e.entry_type, e.source.label());
    if let Some(u) = &e.username {
        let _ = writeln!(out, "   username: {}", clean(u, 256));
    }
    if !e.kubernetes_groups.is_empty() {
        let _ = writeln!(
            out,
            "   groups: {}",
            clean(&e.kubernetes_groups.join(", "), 512)
        );
    }
    for p in &e.policies {
        let _ = writeln!(out, "   policy: {}", clean(&p.describe(), 512));
    }
    for note in &e.notes {
        let _ = writeln!(out, "   note: {note}");
    }
    if let Some(live) = &e.live {
        let list = |g: &[String]| {
            if g.is_empty() {
                "none".to_string()
            } else {
                clean(&g.join(", "), 512)
            }
        };
        let entry_groups = live
            .access_entry
            .as_ref()
            .map_or("no entry".to_string(), |a| list(&a.kubernetes_groups));
        let _ = writeln!(
            out,
            "   groups now: aws-auth [{}], access entry [{}]; in effect: [{}]",
            list(&live.aws_auth_groups),
            entry_groups,
            list(&live.groups_in_effect)
        );
        if let Some(a) = &live.access_entry
            && !a.policies.is_empty()
        {
            let policies: Vec<String> = a.policies.iter().map(|p| p.describe()).collect();
            let _ = writeln!(
                out,
                "   entry policies: {}",
                clean(&policies.join(", "), 512)
            );
        }
        for d in &live.differences {
            let _ = writeln!(out, "   differs: {d}");
        }
    }
}

fn verdict(plan: &Plan) -> String {
    match plan.safe_to_switch {
        None => "Safe to switch to API: not checked (run with --live --cluster NAME)".to_string(),
        Some(true) => {
            "Safe to switch to API: yes, every principal mapped in aws-auth has an access entry"
                .to_string()
        }
        Some(false) => {
            let missing = plan
                .entries
                .iter()
                .filter(|e| e.status == Some(Status::Missing))
                .count();
            let accounts = plan
                .findings
                .iter()
                .filter(|f| f.rule.id == "migration-account-mapping")
                .count();
            let mut why = Vec::new();
            if missing > 0 {
                why.push(format!("{missing} principals have no access entry"));
            }
            if accounts > 0 {
                why.push(format!("mapAccounts admits {accounts} whole accounts"));
            }
            format!("Safe to switch to API: NO ({})", why.join("; "))
        }
    }
}

/// The migration, in order; commands name the cluster when it is known.
fn steps(plan: &Plan) -> Vec<String> {
    let name = plan
        .cluster
        .as_deref()
        .map(shell_quote)
        .unwrap_or_else(|| "CLUSTER".to_string());
    let already = |mode: AuthMode| plan.authentication_mode.as_ref() == Some(&mode);
    let mut steps = vec![
        "Back up aws-auth: kubectl get configmap aws-auth -n kube-system -o yaml > aws-auth-backup.yaml".to_string(),
    ];
    steps.push(if already(AuthMode::ApiAndConfigMap) || already(AuthMode::Api) {
        "Access entries are already enabled (API_AND_CONFIG_MAP): nothing to do for this step".to_string()
    } else {
        format!("Enable access entries beside aws-auth: aws eks update-cluster-config --name {name} --access-config authenticationMode=API_AND_CONFIG_MAP")
    });
    steps.extend([
        format!(
            "Create the entries: eks-access-watch migrate --cluster {name} --format terraform|cli|cloudformation aws-auth-backup.yaml; review the findings first. An entry takes over from its aws-auth row as soon as it exists, so create each admin's policy with its entry"
        ),
        format!(
            "Verify: eks-access-watch migrate --live --check --cluster {name} aws-auth-backup.yaml (exit 0 when every principal is covered)"
        ),
        "Remove the migrated rows from aws-auth: kubectl edit configmap aws-auth -n kube-system; verify again with the backup".to_string(),
        format!(
            "Switch, one-way: aws eks update-cluster-config --name {name} --access-config authenticationMode=API"
        ),
    ]);
    steps
}
