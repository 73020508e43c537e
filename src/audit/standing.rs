//! The standing-access rules: pure functions of a snapshot and the configuration. Their
//! metadata and docs are in [`crate::rules::standing`]; all matching rules fire.
//!
//! What the snapshot does not say (an entry whose policies could not be read, a cluster whose
//! settings are unknown) is never read as "safe" and never as "bad": the rule that needs it
//! stays silent and `audit-incomplete` names what might be hidden, at the highest severity
//! of the rules it silenced.

use chrono::DateTime;

use super::AuditFinding;
use super::snapshot::{ClusterState, EntryState, PolicyState, ReadStep, Snapshot, Unreadable};
use crate::arn;
use crate::config::{AuditConfig, RuleConfig};
use crate::model::{AuthMode, EntryType, PublicEndpoint};
use crate::policy::{PolicyClass, classify_policy};
use crate::rules::Rule;
use crate::rules::standing::*;
use crate::severity::Severity::{High, Info, Low, Medium};

/// Every standing finding for the snapshot, in no particular order.
pub fn findings(
    snapshot: &Snapshot,
    rules: &RuleConfig,
    config: &AuditConfig,
) -> Vec<AuditFinding> {
    let mut out = Vec::new();
    for c in &snapshot.clusters {
        cluster_settings(c, &mut out);
        if let Some(entries) = &c.access_entries {
            access(c, entries, rules, config, &mut out);
        }
    }
    out.extend(snapshot.unreadable.iter().map(incomplete));
    coverage(snapshot, &mut out);
    out
}

/// The classes of an entry's policies; `None` when they could not be read.
fn classes(e: &EntryState) -> Option<Vec<PolicyClass>> {
    e.policies.as_ref().map(|ps| {
        ps.iter()
            .map(|p| classify_policy(&p.policy_arn).class)
            .collect()
    })
}

fn holds(e: &EntryState, class: PolicyClass) -> bool {
    classes(e).is_some_and(|cs| cs.contains(&class))
}

fn holds_admin(e: &EntryState) -> bool {
    holds(e, PolicyClass::ClusterAdmin) || holds(e, PolicyClass::Admin)
}

/// The entry is (or may be, when its type is unknown) a plain STANDARD entry.
fn maybe_standard(e: &EntryState) -> bool {
    e.entry_type
        .as_ref()
        .is_none_or(|t| !EntryType::is_node_identity(t))
}

/// AWS itself: service-linked roles get entries from EKS and other services.
fn service_linked(principal: &str) -> bool {
    principal.contains(":role/aws-service-role/")
}

fn name(principal: &str) -> String {
    arn::short_name(principal)
}

fn cluster_settings(c: &ClusterState, out: &mut Vec<AuditFinding>) {
    let mut add = |rule: &'static Rule, severity, summary: String| {
        out.push(AuditFinding::on(c, None, rule, severity, summary))
    };
    if let Some(mode) = &c.authentication_mode {
        let graded = match mode {
            AuthMode::ConfigMap => Some((High, "only the aws-auth ConfigMap grants access")),
            AuthMode::ApiAndConfigMap => Some((
                Medium,
                "the aws-auth ConfigMap still grants access beside access entries",
            )),
            AuthMode::Unknown(_) => Some((
                Medium,
                "a mode this build does not know; check whether aws-auth is honoured",
            )),
            AuthMode::Api => None,
        };
        if let Some((severity, note)) = graded {
            add(
                &CONFIG_MAP_AUTH_MODE,
                severity,
                format!("Cluster {} runs in {mode} mode: {note}", c.name),
            );
        }
    }
    if let Some(logging) = &c.logging {
        let off = logging.investigation_logs_off();
        if !off.is_empty() {
            add(
                &AUDIT_LOGGING_OFF,
                Medium,
                format!(
                    "Control-plane logging [{}] is off on cluster {}",
                    off.join(", "),
                    c.name
                ),
            );
        }
    }
    if c.endpoint_public_access == Some(true) {
        let endpoint = PublicEndpoint {
            enabled: true,
            cidrs: c.public_access_cidrs.clone(),
        };
        let cidrs = match &c.public_access_cidrs {
            Some(list) if !list.is_empty() => list.join(", "),
            _ => "no CIDRs listed (0.0.0.0/0)".to_string(),
        };
        add(
            &PUBLIC_ENDPOINT_OPEN,
            if endpoint.open_to_world() { High } else { Low },
            format!(
                "Public API endpoint of cluster {} is open to {cidrs}",
                c.name
            ),
        );
    }
    if c.deletion_protection == Some(false) {
        add(
            &DELETION_PROTECTION_OFF,
            Low,
            format!("Deletion protection is off on cluster {}", c.name),
        );
    }
}

fn access(
    c: &ClusterState,
    entries: &[EntryState],
    rules: &RuleConfig,
    config: &AuditConfig,
    out: &mut Vec<AuditFinding>,
) {
    for e in entries {
        entry(c, e, rules, config, out);
    }
    if let Some(creator) = creator_entry(c, entries) {
        out.push(AuditFinding::on(
            c,
            Some(&creator.principal_arn),
            &CREATOR_ADMIN_PRESENT,
            Medium,
            format!(
                "{} still holds the cluster creator's bootstrap ClusterAdmin entry on {} (entry created {}, cluster created {})",
                name(&creator.principal_arn),
                c.name,
                creator.created_at.as_deref().unwrap_or("?"),
                c.created_at.as_deref().unwrap_or("?")
            ),
        ));
    }
    if let Some(summary) = no_working_break_glass(c, entries, rules) {
        out.push(AuditFinding::on(
            c,
            None,
            &NO_WORKING_BREAK_GLASS,
            High,
            summary,
        ));
    }
    let admins: Vec<&str> = entries
        .iter()
        .filter(|e| holds_admin(e))
        .map(|e| e.principal_arn.as_str())
        .collect();
    if admins.len() > config.max_admins {
        let mut names: Vec<String> = admins.iter().take(10).map(|a| name(a)).collect();
        if admins.len() > 10 {
            names.push(format!("and {} more", admins.len() - 10));
        }
        out.push(AuditFinding::on(
            c,
            None,
            &TOO_MANY_ADMINS,
            Medium,
            format!(
                "{} principals hold ClusterAdmin or Admin on cluster {} (more than {}): {}",
                admins.len(),
                c.name,
                config.max_admins,
                names.join(", ")
            ),
        ));
    }
}

fn entry(
    c: &ClusterState,
    e: &EntryState,
    rules: &RuleConfig,
    config: &AuditConfig,
    out: &mut Vec<AuditFinding>,
) {
    let principal = e.principal_arn.as_str();
    let who = name(principal);
    let mut add = |rule: &'static Rule, severity, summary: String| {
        out.push(AuditFinding::on(
            c,
            Some(principal),
            rule,
            severity,
            summary,
        ))
    };
    let session = arn::is_sts_session(principal);
    if session {
        add(
            &STANDING_SESSION_PRINCIPAL,
            Medium,
            format!(
                "Access entry on cluster {} names the session {principal}, which never matches anyone",
                c.name
            ),
        );
    }
    // Known identities: the break-glass roles and the pipeline are meant to hold admin, and
    // reach across accounts by design (reporting them every day would only teach people to
    // ignore the rules).
    let known = rules.is_break_glass(Some(principal)) || rules.is_approved(Some(principal));
    if holds(e, PolicyClass::ClusterAdmin) && !session && !known && !service_linked(principal) {
        add(
            &STANDING_CLUSTER_ADMIN,
            High,
            format!(
                "{who} holds ClusterAdmin on cluster {} and is neither a break-glass role nor approved automation",
                c.name
            ),
        );
    }
    if let Some(account) = arn::account_of(principal)
        && !c.account().is_empty()
        && account != c.account()
        && !known
    {
        add(
            &STANDING_CROSS_ACCOUNT,
            Medium,
            format!(
                "{who} from account {account} has an access entry on cluster {} (account {})",
                c.name,
                c.account()
            ),
        );
    }
    for p in e.policies.iter().flatten() {
        policy(c, &who, p, &mut add);
    }
    if let Some(tags) = &e.tags {
        let missing: Vec<&str> = config
            .require_tags
            .iter()
            .filter(|k| !tags.contains_key(k.as_str()))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            add(
                &UNTAGGED_ENTRY,
                Low,
                format!(
                    "Access entry for {who} on cluster {} lacks required tag{} {}",
                    c.name,
                    if missing.len() == 1 { "" } else { "s" },
                    missing.join(", ")
                ),
            );
        }
    }
}

fn policy(
    c: &ClusterState,
    who: &str,
    p: &PolicyState,
    add: &mut impl FnMut(&'static Rule, crate::severity::Severity, String),
) {
    let info = classify_policy(&p.policy_arn);
    let scope = p.scope();
    if scope.has_wildcard() {
        add(
            &STANDING_WILDCARD_SCOPE,
            Medium,
            format!(
                "{} {} held by {who} on cluster {} (a wildcard also covers namespaces created later)",
                info.short_name(),
                scope.describe(),
                c.name
            ),
        );
    }
    if info.class == PolicyClass::SecretRead {
        add(
            &STANDING_SECRET_READER,
            Medium,
            format!(
                "{} (reads Secrets) {} held by {who} on cluster {}",
                info.short_name(),
                scope.describe(),
                c.name
            ),
        );
    }
}

/// The creator's bootstrap entry ([`crate::policy::creator_entry`]).
fn creator_entry<'a>(c: &ClusterState, entries: &'a [EntryState]) -> Option<&'a EntryState> {
    crate::policy::creator_entry(
        timestamp(c.created_at.as_deref()).map(|t| t.timestamp()),
        entries,
        |e| maybe_standard(e) && holds(e, PolicyClass::ClusterAdmin),
        |e| timestamp(e.created_at.as_deref()).map(|t| t.timestamp()),
    )
}

fn timestamp(text: Option<&str>) -> Option<DateTime<chrono::FixedOffset>> {
    DateTime::parse_from_rfc3339(text?.trim()).ok()
}

/// Why the emergency path does not work on this cluster, or `None` when it does (or when that
/// cannot be known: no break-glass roles configured, a CONFIG_MAP cluster, or a break-glass
/// entry whose policies could not be read).
fn no_working_break_glass(
    c: &ClusterState,
    entries: &[EntryState],
    rules: &RuleConfig,
) -> Option<String> {
    if rules.break_glass_roles.is_empty() {
        return None;
    }
    match c.authentication_mode.as_ref() {
        Some(AuthMode::ConfigMap) => return None,
        Some(AuthMode::Api | AuthMode::ApiAndConfigMap | AuthMode::Unknown(_)) | None => {}
    }
    let candidates: Vec<&EntryState> = entries
        .iter()
        .filter(|e| !arn::is_sts_session(&e.principal_arn))
        .filter(|e| rules.is_break_glass(Some(&e.principal_arn)))
        .collect();
    if candidates.iter().any(|e| e.policies.is_none()) {
        return None;
    }
    let working = candidates
        .iter()
        .any(|e| maybe_standard(e) && holds(e, PolicyClass::ClusterAdmin));
    if working {
        return None;
    }
    let roles: Vec<String> = rules.break_glass_roles.iter().map(|r| name(r)).collect();
    Some(format!(
        "No break-glass role ({}) has an entry holding ClusterAdmin on cluster {}{}",
        roles.join(", "),
        c.name,
        match c.authentication_mode {
            Some(AuthMode::ApiAndConfigMap) =>
                " (aws-auth may still map one; the EKS API cannot show it)",
            _ => "",
        }
    ))
}

/// The rules whose input a failed read leaves unknown.
fn hidden_by(step: ReadStep) -> &'static [&'static Rule] {
    static WHOLE_REGION: &[&Rule] = &[
        &STANDING_CLUSTER_ADMIN,
        &CONFIG_MAP_AUTH_MODE,
        &PUBLIC_ENDPOINT_OPEN,
        &NO_WORKING_BREAK_GLASS,
    ];
    static SETTINGS: &[&Rule] = &[
        &CONFIG_MAP_AUTH_MODE,
        &PUBLIC_ENDPOINT_OPEN,
        &AUDIT_LOGGING_OFF,
        &DELETION_PROTECTION_OFF,
        &CREATOR_ADMIN_PRESENT,
    ];
    static POLICIES: &[&Rule] = &[
        &STANDING_CLUSTER_ADMIN,
        &NO_WORKING_BREAK_GLASS,
        &TOO_MANY_ADMINS,
        &STANDING_SECRET_READER,
    ];
    static ENTRY: &[&Rule] = &[&CREATOR_ADMIN_PRESENT, &UNTAGGED_ENTRY];
    match step {
        ReadStep::ListClusters => WHOLE_REGION,
        ReadStep::DescribeCluster => SETTINGS,
        ReadStep::ListAccessEntries | ReadStep::ListAssociatedAccessPolicies => POLICIES,
        ReadStep::DescribeAccessEntry => ENTRY,
    }
}

fn incomplete(u: &Unreadable) -> AuditFinding {
    let what = match (&u.cluster, &u.principal_arn) {
        (Some(c), Some(p)) => format!("entry {} on cluster {c}", name(p)),
        (Some(c), None) => format!("cluster {c}"),
        (None, _) if u.account.is_empty() => format!("clusters of this account in {}", u.region),
        (None, _) => format!("clusters of account {} in {}", u.account, u.region),
    };
    let error = match &u.code {
        Some(code) => format!("{}: {code}: {}", u.operation, u.message),
        None => format!("{}: {}", u.operation, u.message),
    };
    let (severity, summary) = if u.gone() {
        (
            Info,
            format!("The {what} was deleted while the audit ran ({error})"),
        )
    } else {
        let hidden = hidden_by(u.operation);
        let severity = hidden
            .iter()
            .map(|r| r.highest())
            .max()
            .unwrap_or(Low)
            .max(Low);
        let ids: Vec<&str> = hidden.iter().map(|r| r.id).collect();
        (
            severity,
            format!(
                "Could not read the {what} ({error}); this may hide {}",
                ids.join(", ")
            ),
        )
    };
    AuditFinding {
        finding: crate::rules::Finding::new(&AUDIT_INCOMPLETE, severity, summary),
        account: u.account.clone(),
        region: u.region.clone(),
        cluster: u.cluster.clone(),
        principal_arn: u.principal_arn.clone(),
    }
}

/// The watcher's own reach: `forwarding-broken` for a member region whose forwarding the
/// audit could not confirm, `watch-coverage-missing` for a region with clusters and no
/// forwarding at all, and for a cluster whose aws-auth is live but whose audit log is not
/// watched.
fn coverage(snapshot: &Snapshot, out: &mut Vec<AuditFinding>) {
    for f in &snapshot.forwarding {
        let place = |rule: &'static Rule, severity, summary| AuditFinding {
            finding: crate::rules::Finding::new(rule, severity, summary),
            account: f.account.clone(),
            region: f.region.clone(),
            cluster: None,
            principal_arn: None,
        };
        let clusters = snapshot
            .clusters
            .iter()
            .filter(|c| c.account() == f.account && c.region() == f.region)
            .count();
        let mut broken = f.unreadable.clone();
        match &f.rules {
            Some(rules) if rules.is_empty() && clusters > 0 => {
                out.push(place(
                    &WATCH_COVERAGE_MISSING,
                    Medium,
                    format!(
                        "No eks-access-watch forwarding rule in account {} {}, which has {clusters} cluster(s): their access changes never reach the watcher",
                        f.account, f.region
                    ),
                ));
            }
            Some(rules) if rules.is_empty() => {}
            Some(rules) => {
                for name in crate::model::snapshot::FORWARD_RULES {
                    match rules.get(*name).map(String::as_str) {
                        None => broken.push(format!("rule {name} is missing")),
                        Some(state) if state.starts_with("ENABLED") => {}
                        Some(state) => broken.push(format!("rule {name} is {state}")),
                    }
                }
            }
            None => {}
        }
        if let Some(n) = f.dead_letters.filter(|n| *n > 0) {
            broken.push(format!(
                "{n} event(s) wait in {} (forwards that failed)",
                crate::model::snapshot::FORWARD_DEAD_LETTER_QUEUE
            ));
        }
        if !broken.is_empty() {
            out.push(place(
                &FORWARDING_BROKEN,
                High,
                format!(
                    "Forwarding to the watcher from account {} {} is broken: {}",
                    f.account,
                    f.region,
                    crate::sanitize::capped(&broken, crate::sanitize::LIST_CAP)
                ),
            ));
        }
    }
    for c in &snapshot.clusters {
        let live = matches!(
            c.authentication_mode,
            Some(AuthMode::ConfigMap | AuthMode::ApiAndConfigMap)
        );
        if !live {
            continue;
        }
        let audit_off = c.logging.as_ref().and_then(|l| l.audit) == Some(false);
        let why = if audit_off {
            "its audit log is off"
        } else if c.audit_log_subscribed == Some(false) {
            "its audit log group has no eks-access-watch subscription"
        } else {
            continue;
        };
        out.push(AuditFinding::on(
            c,
            None,
            &WATCH_COVERAGE_MISSING,
            Medium,
            format!(
                "aws-auth is live on cluster {} (mode {}) but {why} (/aws/eks/{}/cluster): aws-auth and RBAC changes there go unseen",
                c.name,
                c.authentication_mode.as_ref().map(|m| m.as_str()).unwrap_or("?"),
                c.name
            ),
        ));
    }
}
