//! The live comparison, pure: what the EKS and IAM APIs said ([`LiveFacts`], read by
//! [`super::read`] or built from a fixture) against the plan: each principal `covered`,
//! `missing` or `different`, the groups it gets now, the cluster-creator entry, and whether
//! switching to `API` is safe.

use serde::Serialize;

use super::{Plan, PlannedEntry, PlannedPolicy, Status, rule};
use crate::arn::{self, PrincipalKey};
use crate::model::{AuthMode, EntryType};
use crate::policy::{PolicyClass, classify_policy};
use crate::rules::Finding;
use crate::sanitize::clean;
use crate::severity::Severity;

/// What IAM said about a principal named in aws-auth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// It exists; its real ARN (with its path).
    Found(String),
    /// IAM has no such role or user (`NoSuchEntity`).
    NotFound,
    /// Not looked up: it is in another account than the cluster's (GetRole reads only the
    /// caller's account).
    NotChecked,
}

/// An access entry as EKS reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveEntry {
    pub principal_arn: String,
    #[serde(rename = "type")]
    pub entry_type: Option<EntryType>,
    pub username: Option<String>,
    pub kubernetes_groups: Vec<String>,
    pub policies: Vec<PlannedPolicy>,
    /// RFC 3339, as EKS gives it.
    pub created_at: Option<String>,
    /// The same instant in seconds since the epoch, for comparisons.
    #[serde(skip)]
    pub created_epoch: Option<i64>,
}

/// Everything the live comparison needs, as plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveFacts {
    pub authentication_mode: AuthMode,
    /// The cluster's creation, in seconds since the epoch.
    pub cluster_created_epoch: Option<i64>,
    /// IAM's answer for each principal of the ConfigMap.
    pub identities: Vec<(PrincipalKey, Identity)>,
    /// Every access entry of the cluster (none in `CONFIG_MAP` mode).
    pub entries: Vec<LiveEntry>,
}

impl LiveFacts {
    /// IAM's answer for a principal; one that was not asked about counts as not checked.
    pub fn identity(&self, key: &PrincipalKey) -> &Identity {
        self.identities
            .iter()
            .find(|(k, _)| k == key)
            .map_or(&Identity::NotChecked, |(_, i)| i)
    }

    fn entry_for(&self, key: &PrincipalKey) -> Option<&LiveEntry> {
        self.entries
            .iter()
            .find(|e| PrincipalKey::from_arn(&e.principal_arn).as_ref() == Some(key))
    }
}

/// How one planned entry stands on the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveView {
    /// The access entry EKS has for the principal; `None` when it has none.
    pub access_entry: Option<LiveEntry>,
    /// The groups the aws-auth rows give (while the mode reads aws-auth).
    pub aws_auth_groups: Vec<String>,
    /// What the principal gets now: in `API_AND_CONFIG_MAP`, where both apply, the union of the
    /// entry's groups and aws-auth's; in `API` the entry's alone; in `CONFIG_MAP` aws-auth's.
    pub groups_in_effect: Vec<String>,
    /// How the entry differs from the plan, in words.
    pub differences: Vec<String>,
}

/// The groups a principal gets in `mode` from its access entry (if any) and its aws-auth rows:
/// in `API_AND_CONFIG_MAP` both sources apply, so the union (entry's first, in order, no
/// repeats).
fn groups_in_effect(
    mode: &AuthMode,
    entry: Option<Vec<String>>,
    aws_auth: &[String],
) -> Vec<String> {
    let mut groups = match mode {
        AuthMode::ConfigMap => Vec::new(),
        _ => entry.unwrap_or_default(),
    };
    if !matches!(mode, AuthMode::Api) {
        for g in aws_auth {
            if !groups.contains(g) {
                groups.push(g.clone());
            }
        }
    }
    groups
}

/// Compare each planned entry with the cluster; add the live findings and the verdict.
pub(super) fn compare(plan: &mut Plan, facts: &LiveFacts, account_mappings: bool) {
    let mode = &facts.authentication_mode;
    let mut missing = 0usize;
    for entry in &mut plan.entries {
        let live = facts.entry_for(&entry.key);
        let differences = live.map(|l| differences(entry, l)).unwrap_or_default();
        let status = match live {
            None => Status::Missing,
            Some(_) if differences.is_empty() => Status::Covered,
            Some(_) => Status::Different,
        };
        let entry_groups = live.map(|l| {
            // EKS gives a node entry its groups itself, whether or not it reports them.
            if l.kubernetes_groups.is_empty() && entry.entry_type.is_node_identity() {
                super::entry::node_groups(&entry.entry_type)
            } else {
                l.kubernetes_groups.clone()
            }
        });
        let groups_in_effect = groups_in_effect(mode, entry_groups, &entry.aws_auth_groups);
        if status == Status::Missing {
            missing += 1;
            plan.findings.push(missing_finding(entry, mode));
        }
        entry.status = Some(status);
        entry.live = Some(LiveView {
            access_entry: live.cloned(),
            aws_auth_groups: entry.aws_auth_groups.clone(),
            groups_in_effect,
            differences,
        });
    }
    let creator = crate::policy::creator_entry(
        facts.cluster_created_epoch,
        &facts.entries,
        |e| {
            e.entry_type.as_ref().is_none_or(|t| !t.is_node_identity())
                && e.policies.iter().any(|p| {
                    classify_policy(&p.policy_arn).class == PolicyClass::ClusterAdmin
                        && p.access_scope.scope_type == crate::model::ScopeType::Cluster
                })
        },
        |e| e.created_epoch,
    );
    plan.findings.extend(creator.map(creator_finding));
    plan.authentication_mode = Some(mode.clone());
    plan.safe_to_switch = Some(missing == 0 && !account_mappings);
}

fn missing_finding(entry: &PlannedEntry, mode: &AuthMode) -> Finding {
    let name = clean(&arn::short_name(&entry.principal_arn), 200);
    let what = format!(
        "{name} ({}, {}{})",
        entry.source.label(),
        entry.entry_type,
        if entry.aws_auth_groups.is_empty() {
            String::new()
        } else {
            format!(
                ", groups [{}]",
                clean(&entry.aws_auth_groups.join(", "), 256)
            )
        }
    );
    let summary = if entry.absent {
        format!("{what} has no access entry and does not exist in IAM: remove its aws-auth row")
    } else {
        match mode {
            AuthMode::Api => format!(
                "{what} has no access entry and the cluster is already in API mode: it is locked out now"
            ),
            AuthMode::ConfigMap => format!(
                "{what} has no access entry (the cluster is in CONFIG_MAP mode: switch to API_AND_CONFIG_MAP and create it); switching to API now would lock it out"
            ),
            AuthMode::ApiAndConfigMap | AuthMode::Unknown(_) => {
                format!("{what} has no access entry: switching to API now locks it out")
            }
        }
    };
    Finding::new(
        rule("migration-principal-missing"),
        Severity::Critical,
        summary,
    )
}

/// What differs between the plan and the entry EKS has. Node entries are compared by type only:
/// EKS sets their username and groups.
fn differences(plan: &PlannedEntry, live: &LiveEntry) -> Vec<String> {
    let mut out = Vec::new();
    if live.entry_type.as_ref() != Some(&plan.entry_type) {
        out.push(format!(
            "type {} on the cluster, {} planned",
            live.entry_type.as_ref().map_or("unknown", |t| t.as_str()),
            plan.entry_type
        ));
    }
    if plan.entry_type.is_node_identity() {
        return out;
    }
    let missing_groups = not_in(&plan.kubernetes_groups, &live.kubernetes_groups);
    let extra_groups = not_in(&live.kubernetes_groups, &plan.kubernetes_groups);
    if !missing_groups.is_empty() {
        out.push(format!(
            "groups missing: {}",
            clean(&missing_groups.join(", "), 512)
        ));
    }
    if !extra_groups.is_empty() {
        out.push(format!(
            "groups not in aws-auth: {}",
            clean(&extra_groups.join(", "), 512)
        ));
    }
    for p in &plan.policies {
        if !live.policies.iter().any(|l| same_policy(l, p)) {
            out.push(format!("policy missing: {}", p.describe()));
        }
    }
    for l in &live.policies {
        if !plan.policies.iter().any(|p| same_policy(l, p)) {
            out.push(format!(
                "policy not from aws-auth: {}",
                clean(&l.describe(), 512)
            ));
        }
    }
    if let Some(u) = &plan.username
        && live.username.as_ref() != Some(u)
    {
        out.push(format!(
            "username {} on the cluster, {} planned",
            clean(live.username.as_deref().unwrap_or("(default)"), 256),
            clean(u, 256)
        ));
    }
    out
}

/// The items of `a` that `b` lacks.
fn not_in<'a>(a: &'a [String], b: &[String]) -> Vec<&'a str> {
    a.iter()
        .filter(|x| !b.contains(x))
        .map(String::as_str)
        .collect()
}

fn same_policy(a: &PlannedPolicy, b: &PlannedPolicy) -> bool {
    let mut x = a.access_scope.namespaces.clone();
    let mut y = b.access_scope.namespaces.clone();
    x.sort();
    y.sort();
    a.policy_arn == b.policy_arn && a.access_scope.scope_type == b.access_scope.scope_type && x == y
}

/// The bootstrap cluster-creator entry: it holds ClusterAdmin at cluster scope and was created
/// with the cluster ([`crate::policy::creator_entry`]).
fn creator_finding(e: &LiveEntry) -> Finding {
    Finding::new(
        rule("migration-creator-admin"),
        Severity::Medium,
        format!(
            "{} holds ClusterAdmin through the bootstrap cluster-creator entry (created {} with the cluster), which lives outside infrastructure code: import it or delete it once the planned admin entries exist",
            clean(&arn::short_name(&e.principal_arn), 200),
            clean(e.created_at.as_deref().unwrap_or("?"), 64)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn groups_in_effect_follow_the_mode() {
        let entry = Some(v(&["admins", "viewers"]));
        let aws_auth = v(&["viewers", "ops"]);
        assert_eq!(
            groups_in_effect(&AuthMode::ApiAndConfigMap, entry.clone(), &aws_auth),
            v(&["admins", "viewers", "ops"])
        );
        assert_eq!(
            groups_in_effect(&AuthMode::Api, entry.clone(), &aws_auth),
            v(&["admins", "viewers"])
        );
        assert_eq!(
            groups_in_effect(&AuthMode::ConfigMap, entry, &aws_auth),
            v(&["viewers", "ops"])
        );
        assert_eq!(
            groups_in_effect(&AuthMode::Api, None, &aws_auth),
            Vec::<String>::new()
        );
        assert_eq!(
            groups_in_effect(&AuthMode::ApiAndConfigMap, None, &aws_auth),
            aws_auth
        );
    }
}
