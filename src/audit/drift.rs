//! Drift: the current snapshot compared with a baseline (an earlier snapshot, or a hand-written
//! declaration in the same shape). Rule metadata and docs: [`crate::rules::drift`].
//!
//! - Fields the baseline omits are not checked; a cluster or entry list it omits is not
//!   checked either. What the current audit could not read is never reported as drift
//!   (`audit-incomplete` says it).
//! - A baseline with `taken_at` (a snapshot, or what `--write-baseline` writes) is complete:
//!   a cluster it does not list is new. Without `taken_at` (a declaration written by hand) only
//!   the clusters it lists are compared.
//! - Clusters match by name, and by account and region where the baseline gives them;
//!   entries match by principal (role paths and case do not matter, as for IAM); policies by
//!   name.
//! - Policy, group and setting differences are graded by the change rules (`grade.rs`, through the pipeline).

use std::collections::{BTreeMap, BTreeSet};

use super::AuditFinding;
use super::grade::{Grade, as_change};
use super::snapshot::{ClusterState, EntryState, Logging, PolicyState, Snapshot};
use crate::arn::{self, PrincipalKey};
use crate::config::RuleConfig;
use crate::model::{Change, ClusterSettings, EntrySpec, PublicEndpoint};
use crate::operation::Operation;
use crate::policy::{PolicyClass, classify_policy};
use crate::rules::Rule;
use crate::rules::drift::*;
use crate::severity::Severity::{self, High, Low, Medium};

/// Every drift finding, in no particular order.
pub fn findings(baseline: &Snapshot, current: &Snapshot, rules: &RuleConfig) -> Vec<AuditFinding> {
    let mut out = Vec::new();
    let mut matched = BTreeSet::new();
    for b in &baseline.clusters {
        let found = current
            .clusters
            .iter()
            .enumerate()
            .find(|(_, c)| same_cluster(b, c));
        match found {
            Some((i, c)) => {
                matched.insert(i);
                compare_cluster(b, c, rules, &mut out);
            }
            None if in_scope(b, current) && !unlisted(b, current) => out.push(AuditFinding {
                finding: crate::rules::Finding::new(
                    &DRIFT_CLUSTER_SETTING,
                    Medium,
                    format!(
                        "Cluster {} in the baseline was not found (deleted, or renamed)",
                        b.name
                    ),
                ),
                account: b.account().to_string(),
                region: b.region().to_string(),
                cluster: Some(b.name.clone()),
                principal_arn: None,
            }),
            None => {}
        }
    }
    if baseline.taken_at.is_some() {
        for (i, c) in current.clusters.iter().enumerate() {
            if !matched.contains(&i) {
                out.push(AuditFinding::on(
                    c,
                    None,
                    &DRIFT_CLUSTER_SETTING,
                    Low,
                    format!(
                        "Cluster {} is not in the baseline (new since it was taken); its access is not compared",
                        c.name
                    ),
                ));
            }
        }
    }
    out
}

fn same_cluster(baseline: &ClusterState, current: &ClusterState) -> bool {
    baseline.name == current.name
        && baseline
            .account
            .as_ref()
            .is_none_or(|a| Some(a) == current.account.as_ref())
        && baseline
            .region
            .as_ref()
            .is_none_or(|r| Some(r) == current.region.as_ref())
}

/// The audit looked where the baseline cluster should be: some cluster or failed read in the
/// current snapshot shares its account and region.
fn in_scope(b: &ClusterState, current: &Snapshot) -> bool {
    let covers = |account: &str, region: &str| {
        b.account.as_deref().is_none_or(|a| a == account)
            && b.region.as_deref().is_none_or(|r| r == region)
    };
    current
        .clusters
        .iter()
        .any(|c| covers(c.account(), c.region()))
        || current
            .unreadable
            .iter()
            .any(|u| covers(&u.account, &u.region))
}

/// The account and region could not be listed: the cluster may well still exist.
fn unlisted(b: &ClusterState, current: &Snapshot) -> bool {
    current.unreadable.iter().any(|u| {
        u.cluster.is_none()
            && b.account.as_deref().is_none_or(|a| a == u.account)
            && b.region.as_deref().is_none_or(|r| r == u.region)
    })
}

/// Push a graded drift finding about `cluster`.
struct Out<'a> {
    cluster: &'a ClusterState,
    rules: &'a RuleConfig,
    findings: &'a mut Vec<AuditFinding>,
}

impl Out<'_> {
    fn push(
        &mut self,
        principal: Option<&str>,
        rule: &'static Rule,
        severity: Severity,
        summary: String,
    ) {
        self.findings.push(AuditFinding::on(
            self.cluster,
            principal,
            rule,
            severity,
            summary,
        ));
    }

    /// A change graded by the change rules; `None` from them (nothing fires) is info for
    /// settings and low for access, the lowest each drift rule declares.
    fn graded(
        &mut self,
        principal: Option<&str>,
        rule: &'static Rule,
        grade: Option<Grade>,
        summary: String,
    ) {
        let (severity, note) = match grade {
            Some(g) => (g.severity.clamp(rule.lowest(), rule.highest()), g.note()),
            None => (rule.lowest(), String::new()),
        };
        self.push(principal, rule, severity, format!("{summary}{note}"));
    }

    /// A cluster setting that differs, graded as the UpdateClusterConfig that sets it.
    fn setting(&mut self, key: &str, settings: ClusterSettings, summary: String) {
        let change = Change::UpdateClusterConfig(ClusterSettings {
            keys: vec![key.to_string()],
            ..settings
        });
        let grade = self.grade(Operation::UpdateClusterConfig, change, None);
        self.graded(None, &DRIFT_CLUSTER_SETTING, grade, summary);
    }

    fn grade(
        &self,
        operation: Operation,
        change: Change,
        entry: Option<&EntryState>,
    ) -> Option<Grade> {
        let entry_type = entry.and_then(|e| e.entry_type.as_ref());
        as_change(self.cluster, operation, change, entry_type, self.rules)
    }
}

fn compare_cluster(
    b: &ClusterState,
    c: &ClusterState,
    rules: &RuleConfig,
    findings: &mut Vec<AuditFinding>,
) {
    let mut out = Out {
        cluster: c,
        rules,
        findings,
    };
    settings(b, c, &mut out);
    if let (Some(want), Some(have)) = (&b.access_entries, &c.access_entries) {
        entries(want, have, &mut out);
    }
}

/// Both sides say, and they differ.
fn changed<T: PartialEq>(baseline: &Option<T>, current: &Option<T>) -> bool {
    matches!((baseline, current), (Some(b), Some(c)) if b != c)
}

fn on_off(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "on",
        Some(false) => "off",
        None => "unknown",
    }
}

fn settings(b: &ClusterState, c: &ClusterState, out: &mut Out) {
    if changed(&b.authentication_mode, &c.authentication_mode) {
        let mode =
            |m: &Option<crate::model::AuthMode>| m.as_ref().map_or("?", |m| m.as_str()).to_string();
        out.setting(
            "accessConfig",
            ClusterSettings {
                authentication_mode: c.authentication_mode.clone(),
                ..ClusterSettings::default()
            },
            format!(
                "Authentication mode of cluster {} is {}; the baseline says {}",
                c.name,
                mode(&c.authentication_mode),
                mode(&b.authentication_mode)
            ),
        );
    }
    endpoint(b, c, out);
    if let (Some(want), Some(have)) = (&b.logging, &c.logging) {
        logging(want, have, out);
    }
    if changed(&b.deletion_protection, &c.deletion_protection) {
        out.setting(
            "deletionProtection",
            ClusterSettings {
                deletion_protection: c.deletion_protection,
                ..ClusterSettings::default()
            },
            format!(
                "Deletion protection of cluster {} is {}; the baseline says {}",
                c.name,
                on_off(c.deletion_protection),
                on_off(b.deletion_protection)
            ),
        );
    }
}

/// `public access on (baseline off)`
fn differs(what: &str, now: impl std::fmt::Display, was: impl std::fmt::Display) -> String {
    format!("{what} {now} (baseline {was})")
}

/// `a, b`, or nothing when not known.
fn list(l: &Option<Vec<String>>) -> String {
    l.as_ref().map(|l| l.join(", ")).unwrap_or_default()
}

fn sorted(list: &Option<Vec<String>>) -> Option<BTreeSet<&str>> {
    list.as_ref()
        .map(|l| l.iter().map(String::as_str).collect())
}

fn endpoint(b: &ClusterState, c: &ClusterState, out: &mut Out) {
    let public = changed(&b.endpoint_public_access, &c.endpoint_public_access);
    let cidrs = changed(
        &sorted(&b.public_access_cidrs),
        &sorted(&c.public_access_cidrs),
    );
    let private = changed(&b.endpoint_private_access, &c.endpoint_private_access);
    let mut parts = Vec::new();
    if public {
        parts.push(differs(
            "public access",
            on_off(c.endpoint_public_access),
            on_off(b.endpoint_public_access),
        ));
    }
    if cidrs {
        parts.push(differs(
            "public CIDRs",
            format!("[{}]", list(&c.public_access_cidrs)),
            format!("[{}]", list(&b.public_access_cidrs)),
        ));
    }
    if private {
        parts.push(differs(
            "private access",
            on_off(c.endpoint_private_access),
            on_off(b.endpoint_private_access),
        ));
    }
    if parts.is_empty() {
        return;
    }
    let public_endpoint = (public || cidrs).then(|| PublicEndpoint {
        enabled: c.endpoint_public_access.unwrap_or(true),
        cidrs: c.public_access_cidrs.clone(),
    });
    let summary = format!(
        "Endpoint of cluster {} changed: {}",
        out.cluster.name,
        parts.join("; ")
    );
    out.setting(
        "resourcesVpcConfig",
        ClusterSettings {
            public_endpoint,
            ..ClusterSettings::default()
        },
        summary,
    );
}

fn logging(b: &Logging, c: &Logging, out: &mut Out) {
    let (mut enabled, mut disabled) = (Vec::new(), Vec::new());
    for ((name, want), (_, have)) in b.types().into_iter().zip(c.types()) {
        match (want, have) {
            (Some(false), Some(true)) => enabled.push(name.to_string()),
            (Some(true), Some(false)) => disabled.push(name.to_string()),
            _ => {}
        }
    }
    if enabled.is_empty() && disabled.is_empty() {
        return;
    }
    let mut parts = Vec::new();
    if !disabled.is_empty() {
        parts.push(format!("[{}] off", disabled.join(", ")));
    }
    if !enabled.is_empty() {
        parts.push(format!("[{}] on", enabled.join(", ")));
    }
    let summary = format!(
        "Control-plane logging of cluster {}: {}, unlike the baseline",
        out.cluster.name,
        parts.join(", ")
    );
    out.setting(
        "logging",
        ClusterSettings {
            logging_disabled: disabled,
            logging_enabled: enabled,
            ..ClusterSettings::default()
        },
        summary,
    );
}

/// How entries match: by IAM identity (path- and case-insensitive) for roles and users; an STS
/// session ARN is its own entry, distinct from its role's.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Principal(PrincipalKey),
    Text(String),
}

fn who(principal: &str) -> Who {
    match PrincipalKey::from_arn(principal) {
        Some(k) if !arn::is_sts_session(principal) => Who::Principal(k),
        _ => Who::Text(principal.to_string()),
    }
}

fn holds_admin(e: &EntryState) -> bool {
    e.policies.iter().flatten().any(|p| {
        matches!(
            classify_policy(&p.policy_arn).class,
            PolicyClass::ClusterAdmin | PolicyClass::Admin
        )
    })
}

/// `ClusterAdmin (cluster-wide), View (in namespaces [a])`
fn grants(e: &EntryState) -> String {
    let list: Vec<String> = e
        .policies
        .iter()
        .flatten()
        .map(|p| {
            format!(
                "{} ({})",
                classify_policy(&p.policy_arn).short_name(),
                p.scope().describe()
            )
        })
        .collect();
    if list.is_empty() {
        "no access policies".to_string()
    } else {
        list.join(", ")
    }
}

fn entries(baseline: &[EntryState], current: &[EntryState], out: &mut Out) {
    let want: BTreeMap<Who, &EntryState> = baseline
        .iter()
        .map(|e| (who(&e.principal_arn), e))
        .collect();
    let have: BTreeMap<Who, &EntryState> =
        current.iter().map(|e| (who(&e.principal_arn), e)).collect();
    let name = |e: &EntryState| arn::short_name(&e.principal_arn);
    for (key, e) in &have {
        match want.get(key) {
            Some(b) => entry(b, e, out),
            None => {
                let admin = holds_admin(e);
                let summary = format!(
                    "{} has an access entry on cluster {} that the baseline does not list (holds {})",
                    name(e),
                    out.cluster.name,
                    grants(e)
                );
                out.push(
                    Some(&e.principal_arn),
                    &DRIFT_ENTRY_ADDED,
                    if admin { High } else { Medium },
                    summary,
                );
            }
        }
    }
    for (key, b) in &want {
        if !have.contains_key(key) {
            let break_glass = out.rules.is_break_glass(Some(&b.principal_arn));
            let summary = format!(
                "{}{} has no access entry on cluster {} any more; the baseline lists one",
                if break_glass { "Break-glass role " } else { "" },
                name(b),
                out.cluster.name
            );
            out.push(
                Some(&b.principal_arn),
                &DRIFT_ENTRY_REMOVED,
                if break_glass { High } else { Medium },
                summary,
            );
        }
    }
}

fn entry(b: &EntryState, c: &EntryState, out: &mut Out) {
    let principal = c.principal_arn.as_str();
    let who = arn::short_name(principal);
    let spec = |entry_type| EntrySpec {
        principal_arn: Some(principal.to_string()),
        entry_type,
        kubernetes_groups: c.kubernetes_groups.clone().unwrap_or_default(),
        username: c.username.clone(),
    };
    if changed(&b.entry_type, &c.entry_type) {
        let change = Change::CreateAccessEntry(spec(c.entry_type.clone()));
        let grade = out.grade(Operation::CreateAccessEntry, change, Some(c));
        out.graded(
            Some(principal),
            &DRIFT_POLICY_CHANGED,
            grade,
            format!(
                "Access entry for {who} on cluster {} is of type {} (the baseline says {}): it was recreated",
                out.cluster.name,
                c.entry_type.as_ref().map_or("?", |t| t.as_str()),
                b.entry_type.as_ref().map_or("?", |t| t.as_str())
            ),
        );
    }
    let groups = changed(&sorted(&b.kubernetes_groups), &sorted(&c.kubernetes_groups));
    let username = changed(&b.username, &c.username);
    if groups || username {
        let mut parts = Vec::new();
        if groups {
            parts.push(differs(
                "Kubernetes groups",
                format!("[{}]", list(&c.kubernetes_groups)),
                format!("[{}]", list(&b.kubernetes_groups)),
            ));
        }
        if username {
            parts.push(differs(
                "username",
                c.username.as_deref().unwrap_or("-"),
                b.username.as_deref().unwrap_or("-"),
            ));
        }
        let change = Change::UpdateAccessEntry(spec(None));
        let grade = out.grade(Operation::UpdateAccessEntry, change, Some(c));
        out.graded(
            Some(principal),
            &DRIFT_POLICY_CHANGED,
            grade,
            format!(
                "Access entry for {who} on cluster {} changed: {}",
                out.cluster.name,
                parts.join("; ")
            ),
        );
    }
    if let (Some(want), Some(have)) = (&b.policies, &c.policies) {
        policies(want, have, c, out);
    }
}

fn policy_name(p: &PolicyState) -> String {
    classify_policy(&p.policy_arn).name
}

fn policies(baseline: &[PolicyState], current: &[PolicyState], entry: &EntryState, out: &mut Out) {
    let principal = entry.principal_arn.as_str();
    let who = arn::short_name(principal);
    let cluster = out.cluster.name.clone();
    let want: BTreeMap<String, &PolicyState> =
        baseline.iter().map(|p| (policy_name(p), p)).collect();
    let have: BTreeMap<String, &PolicyState> =
        current.iter().map(|p| (policy_name(p), p)).collect();
    let associate = |p: &PolicyState| Change::AssociateAccessPolicy {
        principal_arn: Some(principal.to_string()),
        policy_arn: Some(p.policy_arn.clone()),
        access_scope: p.scope(),
    };
    for (name, p) in &have {
        let short = classify_policy(&p.policy_arn).short_name().to_string();
        let summary = match want.get(name) {
            None => format!(
                "{short} {} associated to {who} on cluster {cluster}, not in the baseline",
                p.scope().describe()
            ),
            Some(b) if b.access_scope.is_some() && !same_scope(b, p) => format!(
                "{short} of {who} on cluster {cluster} is now {} (the baseline says {})",
                p.scope().describe(),
                b.scope().describe()
            ),
            Some(_) => continue,
        };
        let grade = out.grade(Operation::AssociateAccessPolicy, associate(p), Some(entry));
        out.graded(Some(principal), &DRIFT_POLICY_CHANGED, grade, summary);
    }
    for (name, b) in &want {
        if have.contains_key(name) {
            continue;
        }
        let change = Change::DisassociateAccessPolicy {
            principal_arn: Some(principal.to_string()),
            policy_arn: Some(b.policy_arn.clone()),
        };
        let grade = out.grade(Operation::DisassociateAccessPolicy, change, Some(entry));
        out.graded(
            Some(principal),
            &DRIFT_POLICY_CHANGED,
            grade,
            format!(
                "{} no longer associated to {who} on cluster {cluster}; the baseline lists it",
                classify_policy(&b.policy_arn).short_name()
            ),
        );
    }
}

fn same_scope(a: &PolicyState, b: &PolicyState) -> bool {
    let (a, b) = (a.scope(), b.scope());
    let set = |ns: &[String]| ns.iter().cloned().collect::<BTreeSet<_>>();
    a.scope_type == b.scope_type && set(&a.namespaces) == set(&b.namespaces)
}
