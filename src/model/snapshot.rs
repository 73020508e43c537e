//! The snapshot: who can reach each cluster, as the EKS API says now. It is what
//! `audit --write-snapshot` writes, what `audit --snapshot` reads back offline, what the daily
//! Lambda keeps in S3, and (in the same shape) the baseline drift is measured against.
//!
//! The shape is a contract (snake_case names of the EKS API's fields, stable order):
//! clusters sorted by account, region and name; entries by principal; policies by ARN; tags,
//! groups and namespaces sorted. Two additions to the EKS fields: the cluster's `created_at`
//! (how `creator-admin-present` recognises the creator's entry) and, only when something could
//! not be read, a top-level `unreadable` list (so a snapshot analysed elsewhere still reports
//! `audit-incomplete`).
//!
//! Every field but the names is optional: omitted (or `null`) means "not known" in a snapshot
//! and "not checked" in a baseline, so a hand-written declaration lists only what it means to
//! pin down. Unknown field names are an error naming the field, never silently ignored: a typo
//! in a declaration must not turn a check off.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::closed::closed_enum;
use crate::model::{AccessScope, AuthMode, EntryType, ScopeType};

/// The snapshot format this build reads and writes.
pub const SNAPSHOT_VERSION: u32 = 1;

/// Everything the audit read (or a baseline declares).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    pub version: u32,
    /// When it was taken (RFC 3339, UTC); omitted in a baseline written for review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_at: Option<String>,
    pub clusters: Vec<ClusterState>,
    /// What could not be read, and why (only present when something could not).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<Unreadable>,
    /// The watcher's own forwarding in each member account and region the daily audit read
    /// (absent offline, and for the central region, which forwards nothing).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forwarding: Vec<Forwarding>,
}

/// The names of the forwarding rules the member template creates in every member region
/// (templates/member-account.yaml; a template test keeps the two in step).
pub const FORWARD_RULES: &[&str] = &[
    "eks-access-watch-forward-access",
    "eks-access-watch-forward-addons",
    "eks-access-watch-forward-addon-roles",
    "eks-access-watch-forward-tags",
    "eks-access-watch-forward-trail",
    "eks-access-watch-forward-break-glass",
    "eks-access-watch-forward-alarms",
    "eks-access-watch-forward-tampered",
    "eks-access-watch-forward-tampered-delivery",
];

/// The member template's dead-letter queue for events it could not forward.
pub const FORWARD_DEAD_LETTER_QUEUE: &str = "eks-access-watch-forward-dead-letters";

/// One member region's forwarding, as the daily audit read it through the reader role.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Forwarding {
    pub account: String,
    pub region: String,
    /// Each forwarding rule found (`eks-access-watch-forward-*`) and its state (`ENABLED`,
    /// `DISABLED`, `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`); `None`: not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<BTreeMap<String, String>>,
    /// Messages waiting in the forwarding dead-letter queue (`None`: not read, or no queue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letters: Option<u64>,
    /// What could not be read, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<String>,
}

/// One cluster and its access.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_mode: Option<AuthMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_public_access: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_access_cidrs: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_private_access: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<Logging>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_protection: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// When the cluster was created (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// `None`: not read (or, in a baseline, not checked); `Some([])`: no entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_entries: Option<Vec<EntryState>>,
    /// Whether the cluster's audit log group (`/aws/eks/<name>/cluster`) has the watcher's
    /// subscription filter (`None`: not checked: offline, or not needed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_log_subscribed: Option<bool>,
}

/// Control-plane log types: `true` when enabled.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Logging {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller_manager: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<bool>,
}

impl Logging {
    /// Every log type with its state, in the order EKS lists them.
    pub fn types(&self) -> [(&'static str, Option<bool>); 5] {
        [
            ("api", self.api),
            ("audit", self.audit),
            ("authenticator", self.authenticator),
            ("controllerManager", self.controller_manager),
            ("scheduler", self.scheduler),
        ]
    }

    /// Set one log type by its EKS name (`controllerManager`); unknown names are ignored.
    pub fn set(&mut self, eks_name: &str, enabled: bool) {
        let slot = match eks_name {
            "api" => &mut self.api,
            "audit" => &mut self.audit,
            "authenticator" => &mut self.authenticator,
            "controllerManager" => &mut self.controller_manager,
            "scheduler" => &mut self.scheduler,
            _ => return,
        };
        *slot = Some(enabled);
    }

    /// Known-disabled types investigators depend on (`audit`, `authenticator`).
    pub fn investigation_logs_off(&self) -> Vec<&'static str> {
        let mut off = Vec::new();
        if self.audit == Some(false) {
            off.push("audit");
        }
        if self.authenticator == Some(false) {
            off.push("authenticator");
        }
        off
    }
}

/// One access entry and its policies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryState {
    pub principal_arn: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub entry_type: Option<EntryType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_groups: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_at: Option<String>,
    /// `None`: not read (or not checked); `Some([])`: no policies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<PolicyState>>,
}

/// One associated access policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyState {
    pub policy_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_scope: Option<ScopeState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub associated_at: Option<String>,
}

/// An access scope as the EKS API writes it (`namespaces` always present).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeState {
    #[serde(rename = "type")]
    pub scope_type: ScopeType,
    #[serde(default)]
    pub namespaces: Vec<String>,
}

impl ScopeState {
    /// The scope the rules grade (a namespace scope without namespaces is cluster scope).
    pub fn scope(&self) -> AccessScope {
        AccessScope::new(self.scope_type.clone(), self.namespaces.clone())
    }

    pub fn from_scope(scope: &AccessScope) -> Self {
        ScopeState {
            scope_type: scope.scope_type.clone(),
            namespaces: scope.namespaces.clone(),
        }
    }
}

impl PolicyState {
    /// The scope to grade: a policy whose scope is not known is graded at cluster scope (never
    /// the smaller grant).
    pub fn scope(&self) -> AccessScope {
        self.access_scope
            .as_ref()
            .map(ScopeState::scope)
            .unwrap_or_else(AccessScope::cluster)
    }
}

closed_enum! {
    /// The read calls the audit makes, in the order it makes them.
    pub enum ReadStep ("read step") {
        ListClusters = "ListClusters",
        DescribeCluster = "DescribeCluster",
        ListAccessEntries = "ListAccessEntries",
        DescribeAccessEntry = "DescribeAccessEntry",
        ListAssociatedAccessPolicies = "ListAssociatedAccessPolicies",
    }
}

/// Something the audit could not read, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unreadable {
    pub account: String,
    pub region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_arn: Option<String>,
    /// The call that failed.
    pub operation: ReadStep,
    /// The AWS error code, when AWS answered with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub message: String,
}

impl Unreadable {
    /// The thing was deleted while the audit ran: nothing is hidden.
    pub fn gone(&self) -> bool {
        matches!(
            self.code.as_deref(),
            Some("ResourceNotFoundException" | "NotFoundException")
        )
    }
}

impl ClusterState {
    pub fn account(&self) -> &str {
        self.account.as_deref().unwrap_or_default()
    }

    pub fn region(&self) -> &str {
        self.region.as_deref().unwrap_or_default()
    }

    /// `prod-eu (111122223333, eu-west-1)`
    pub fn label(&self) -> String {
        format!("{} ({}, {})", self.name, self.account(), self.region())
    }

    /// Sort every list so equal states serialise identically (the snapshot's stable order).
    pub fn normalise(&mut self) {
        if let Some(cidrs) = &mut self.public_access_cidrs {
            cidrs.sort();
        }
        if let Some(entries) = &mut self.access_entries {
            for e in entries.iter_mut() {
                if let Some(groups) = &mut e.kubernetes_groups {
                    groups.sort();
                }
                if let Some(policies) = &mut e.policies {
                    for p in policies.iter_mut() {
                        if let Some(s) = &mut p.access_scope {
                            s.namespaces.sort();
                        }
                    }
                    policies.sort_by(|a, b| a.policy_arn.cmp(&b.policy_arn));
                }
            }
            entries.sort_by(|a, b| a.principal_arn.cmp(&b.principal_arn));
        }
    }
}

/// A snapshot or baseline file that cannot be used, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SnapshotError {
    /// The file (or `-`).
    pub input: String,
    pub problems: Vec<String>,
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problems.as_slice() {
            [one] => write!(f, "{}: {one}", self.input),
            many => {
                write!(f, "{}: {} problems:", self.input, many.len())?;
                for p in many {
                    write!(f, "\n  - {p}")?;
                }
                Ok(())
            }
        }
    }
}

impl Snapshot {
    /// An empty snapshot taken at `taken_at`.
    pub fn new(taken_at: Option<String>) -> Self {
        Snapshot {
            version: SNAPSHOT_VERSION,
            taken_at,
            clusters: Vec::new(),
            unreadable: Vec::new(),
            forwarding: Vec::new(),
        }
    }

    /// Read a snapshot or baseline. `source` names the input in errors. Every problem found
    /// after parsing (version, duplicate clusters or principals) is reported at once.
    pub fn from_json(source: &str, text: &str) -> Result<Self, SnapshotError> {
        let fail = |problems: Vec<String>| SnapshotError {
            input: source.to_string(),
            problems,
        };
        let snapshot: Snapshot = serde_json::from_str(text).map_err(|e| {
            fail(vec![format!(
                "line {} column {}: {e}; expected an eks-access-watch snapshot ({{\"version\": 1, \"clusters\": [...]}}, as `audit --write-snapshot` writes it)",
                e.line(),
                e.column()
            )])
        })?;
        let problems = snapshot.problems();
        if problems.is_empty() {
            Ok(snapshot)
        } else {
            Err(fail(problems))
        }
    }

    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.version != SNAPSHOT_VERSION {
            problems.push(format!(
                "version {} is not supported; this build reads version {SNAPSHOT_VERSION}",
                self.version
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, c) in self.clusters.iter().enumerate() {
            if c.name.trim().is_empty() {
                problems.push(format!("clusters[{i}]: `name` is empty"));
            }
            if !seen.insert((&c.account, &c.region, &c.name)) {
                problems.push(format!(
                    "clusters[{i}]: cluster {} is listed twice",
                    c.label()
                ));
            }
            let mut principals = std::collections::HashSet::new();
            for (j, e) in c.access_entries.iter().flatten().enumerate() {
                if !principals.insert(e.principal_arn.as_str()) {
                    problems.push(format!(
                        "clusters[{i}].access_entries[{j}]: principal {} is listed twice for cluster {}",
                        e.principal_arn, c.name
                    ));
                }
            }
        }
        problems
    }

    /// Put clusters and everything in them in the snapshot's stable order.
    pub fn normalise(&mut self) {
        for c in &mut self.clusters {
            c.normalise();
        }
        self.clusters.sort_by(|a, b| {
            (a.account(), a.region(), &a.name).cmp(&(b.account(), b.region(), &b.name))
        });
        self.unreadable.sort_by(|a, b| {
            (
                &a.account,
                &a.region,
                &a.cluster,
                &a.principal_arn,
                a.operation,
            )
                .cmp(&(
                    &b.account,
                    &b.region,
                    &b.cluster,
                    &b.principal_arn,
                    b.operation,
                ))
        });
    }

    /// Pretty JSON with a final newline, as written to files and S3.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// The state drift compares, without what changes on every run (timestamps, tags, the
    /// Kubernetes version, ARNs, what could not be read): `audit --write-baseline` writes this,
    /// so a baseline kept in git changes only when access does.
    pub fn baseline(&self) -> Snapshot {
        let clusters = self
            .clusters
            .iter()
            .map(|c| ClusterState {
                arn: None,
                version: None,
                tags: None,
                created_at: None,
                audit_log_subscribed: None,
                access_entries: c.access_entries.as_ref().map(|entries| {
                    entries
                        .iter()
                        .map(|e| EntryState {
                            tags: None,
                            created_at: None,
                            modified_at: None,
                            policies: e.policies.as_ref().map(|ps| {
                                ps.iter()
                                    .map(|p| PolicyState {
                                        associated_at: None,
                                        ..p.clone()
                                    })
                                    .collect()
                            }),
                            ..e.clone()
                        })
                        .collect()
                }),
                ..c.clone()
            })
            .collect();
        Snapshot {
            version: SNAPSHOT_VERSION,
            taken_at: None,
            clusters,
            unreadable: Vec::new(),
            forwarding: Vec::new(),
        }
    }
}
