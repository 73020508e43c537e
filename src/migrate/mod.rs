//! `eks-access-watch migrate`: the plan that moves a cluster from the aws-auth ConfigMap to
//! access entries, the pitfalls of that move as findings, and, against the live cluster, whether
//! switching to `API` mode is safe now.
//!
//! ```text
//! aws-auth ConfigMap -> awsauth::AwsAuth -> plan() -> Plan (entries, findings, verdict) -> emit
//!                                 LiveFacts (EKS + IAM, read by `read`) --^
//! ```
//! Everything here is pure: [`plan`] takes the parsed ConfigMap, the rule configuration and,
//! with `--live`, the plain facts the AWS adapters read ([`live::LiveFacts`]); the emitters
//! ([`render`]) write the plan as text, JSON, Terraform, a shell script or CloudFormation.
//!
//! Facts the plan is built on (EKS user guide, "Create access entries" and "Migrating existing
//! aws-auth ConfigMap entries to access entries"):
//! - EKS rejects `system:` groups and usernames, STS session ARNs as principals, and
//!   service-linked roles;
//! - aws-auth matches roles by their path-less ARN; an access entry needs the real ARN;
//! - node types (`EC2_LINUX`, `EC2_WINDOWS`, `FARGATE_LINUX`) take no username, groups or access
//!   policies: EKS sets them;
//! - in `API_AND_CONFIG_MAP` mode both sources apply, and a principal gets the union of the
//!   groups its access entry and its aws-auth rows give (issue 11's contract; the EKS user
//!   guide words this as "access entries take precedence", so the union shown is the most a
//!   principal can hold, the safe side for a reviewer);
//! - the switch to `API` is one-way.

mod entry;
mod iac;
pub mod live;
#[cfg(feature = "aws")]
pub mod read;
mod text;

use serde::Serialize;

use crate::arn::{self, PrincipalKey, PrincipalKind};
use crate::awsauth::{AwsAuth, AwsAuthError, MapKind, Mapping};
use crate::closed::closed_enum;
use crate::config::RuleConfig;
use crate::model::{AuthMode, EntryType, ScopeType};
use crate::rules::{CATALOGUE, Finding, Rule, find};
use crate::sanitize::clean;
use crate::severity::Severity;

pub use live::{Identity, LiveEntry, LiveFacts};

closed_enum! {
    /// What `migrate --format` writes.
    pub enum Format ("migrate output format") {
        /// The plan, findings and steps for a person.
        Text = "text",
        /// The plan as one JSON document (the shape in docs/migrate.md).
        Json = "json",
        /// `aws_eks_access_entry` and `aws_eks_access_policy_association` resources.
        Terraform = "terraform",
        /// A shell script of `aws eks create-access-entry` / `associate-access-policy` calls.
        Cli = "cli",
        /// A CloudFormation template of `AWS::EKS::AccessEntry` resources.
        CloudFormation = "cloudformation",
    }
}

closed_enum! {
    /// How the live cluster stands for one planned entry.
    pub enum Status ("entry status") {
        /// An access entry exists and gives what the plan gives.
        Covered = "covered",
        /// No access entry: switching to `API` locks the principal out.
        Missing = "missing",
        /// An access entry exists, with other policies, groups or type than the plan.
        Different = "different",
    }
}

/// The migration plan: one access entry per principal mapped in aws-auth, the findings, and
/// (with `--live`) how the cluster stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub cluster: Option<String>,
    pub entries: Vec<PlannedEntry>,
    pub findings: Vec<Finding>,
    /// `None` without `--live`; `Some(true)` only when no principal is missing and no account
    /// mapping would be lost.
    pub safe_to_switch: Option<bool>,
    /// The cluster's authentication mode, with `--live`.
    pub authentication_mode: Option<AuthMode>,
}

/// One access entry to create.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedEntry {
    /// The principal's real ARN (the role ARN for a session row; with its path once IAM said so).
    pub principal_arn: String,
    #[serde(rename = "type")]
    pub entry_type: EntryType,
    /// Only where EKS accepts one (STANDARD); `None` lets EKS set its default.
    pub username: Option<String>,
    pub kubernetes_groups: Vec<String>,
    pub policies: Vec<PlannedPolicy>,
    /// The aws-auth row it comes from (the first, when the principal is mapped twice).
    pub source: Source,
    /// `None` without `--live`.
    pub status: Option<Status>,
    /// What the translation changed or could not carry, in words.
    pub notes: Vec<String>,
    /// With `--live`: the access entry EKS has and the groups the principal gets now.
    pub live: Option<live::LiveView>,
    #[serde(skip)]
    pub key: PrincipalKey,
    /// The groups the aws-auth rows give (merged, as written).
    #[serde(skip)]
    pub aws_auth_groups: Vec<String>,
    /// IAM said the principal does not exist (`--live`): nothing to create.
    #[serde(skip)]
    pub absent: bool,
}

/// Where a planned entry comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Source {
    pub map: MapKind,
    pub index: usize,
}

impl Source {
    /// `mapRoles[3]`.
    pub fn label(self) -> String {
        format!("{}[{}]", self.map, self.index)
    }
}

/// An access policy association of a planned entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedPolicy {
    pub policy_arn: String,
    pub access_scope: PlannedScope,
}

/// `{type, namespaces}`, namespaces always present (empty at cluster scope).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedScope {
    #[serde(rename = "type")]
    pub scope_type: ScopeType,
    pub namespaces: Vec<String>,
}

/// The cluster-admin access policy `system:masters` becomes.
pub const CLUSTER_ADMIN_POLICY: &str =
    "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy";

impl PlannedPolicy {
    pub fn cluster_admin(partition: &str) -> Self {
        PlannedPolicy {
            policy_arn: CLUSTER_ADMIN_POLICY.replacen("arn:aws:", &format!("arn:{partition}:"), 1),
            access_scope: PlannedScope {
                scope_type: ScopeType::Cluster,
                namespaces: Vec::new(),
            },
        }
    }

    /// `AmazonEKSClusterAdminPolicy (cluster)`, `AmazonEKSViewPolicy (namespaces a, b)`.
    pub fn describe(&self) -> String {
        let name = arn::access_policy_name(&self.policy_arn).unwrap_or(self.policy_arn.clone());
        match self.access_scope.scope_type {
            ScopeType::Namespace => {
                format!(
                    "{name} (namespaces {})",
                    self.access_scope.namespaces.join(", ")
                )
            }
            _ => format!("{name} ({})", self.access_scope.scope_type),
        }
    }
}

/// What the plan needs besides the ConfigMap.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    /// The cluster the entries are for (named in the outputs; required with `--live`).
    pub cluster: Option<&'a str>,
    /// Approved callers and break-glass roles: they keep cluster-admin without advice.
    pub config: &'a RuleConfig,
}

/// A principal named by an aws-auth row, as the plan will name it.
struct Principal {
    key: PrincipalKey,
    /// The ARN the entry uses.
    arn: String,
}

/// Read a row's ARN: an IAM role or user (any path) or an STS assumed-role session (which
/// becomes its role). Anything else cannot be migrated.
fn principal_of(m: &Mapping) -> Result<Principal, String> {
    let bad = |why: &str| {
        format!(
            "{}[{}]: `{}` `{}` {why}",
            m.kind,
            m.index,
            m.kind.arn_key(),
            clean(&m.arn, 200)
        )
    };
    // Before the ARN is read: `arn:aws:iam::*:role/x` is a wildcard first, not a bad account.
    // (IAM paths may hold `*`, but aws-auth never matches a role with a path, and a user so
    // named is not worth the ambiguity: the row is refused either way.)
    if m.arn.contains('*') {
        return Err(bad(
            "contains `*`: EKS accepts no wildcard principal in an access entry, and aws-auth compares ARNs literally, so the row gives no access today; write one row per role or user (or remove the row)",
        ));
    }
    let parsed = arn::Arn::parse(&m.arn)
        .ok_or_else(|| bad("is not an ARN (expected arn:aws:iam::<account>:role/<name>)"))?;
    if !arn::is_account_id(parsed.account) {
        return Err(bad("has no 12-digit account id"));
    }
    let key = PrincipalKey::from_arn(&m.arn)
        .filter(|k| matches!(k.kind, PrincipalKind::Role | PrincipalKind::User))
        .ok_or_else(|| {
            bad("is not an IAM role, IAM user or assumed-role session ARN (access entries take only those)")
        })?;
    let session = arn::is_sts_session(&m.arn);
    let arn = if session {
        let role = parsed
            .resource
            .trim_start_matches("assumed-role/")
            .split('/')
            .next()
            .unwrap_or_default();
        format!(
            "arn:{}:iam::{}:role/{role}",
            parsed.partition, parsed.account
        )
    } else {
        m.arn.clone()
    };
    Ok(Principal { key, arn })
}

/// The role or user name with its path (`teams/ci` for `role/teams/ci`).
fn path_and_name(arn: &str) -> &str {
    arn.split_once(":role/")
        .or_else(|| arn.split_once(":user/"))
        .map(|(_, rest)| rest)
        .unwrap_or(arn)
}

/// Every row of one principal, merged.
struct Merged<'a> {
    principal: Principal,
    rows: Vec<&'a Mapping>,
    groups: Vec<String>,
}

/// Whether every row can be planned: an ARN that cannot be an access-entry principal (not an
/// IAM role, user or session; a wildcard; no 12-digit account) and a `mapAccounts` entry that
/// is not a 12-digit account id are errors naming their row, every one at once. [`plan`] checks
/// this too; call it first to refuse the input before reading the live cluster.
///
/// This is `migrate`'s check, not the parser's: the watcher reads the same rows from a live
/// aws-auth change and alerts on them whatever they hold.
pub fn check(auth: &AwsAuth) -> Result<(), AwsAuthError> {
    let mut problems: Vec<String> = auth
        .mappings()
        .filter_map(|m| principal_of(m).err())
        .collect();
    for (index, account) in auth.accounts.iter().enumerate() {
        if !arn::is_account_id(account) {
            problems.push(format!(
                "mapAccounts[{index}]: `{}` is not a 12-digit account id: write the account's id, 12 digits with no separators, quoted (`- \"444455556666\"`)",
                clean(account, 64)
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(AwsAuthError { problems })
    }
}

/// Build the plan. With `live`, IAM's answers replace path-less ARNs, and each entry is compared
/// with the cluster's. A row that cannot be planned is an error naming it ([`check`], every
/// such row at once): a plan that skipped it would look complete and lock it out.
pub fn plan(
    auth: &AwsAuth,
    options: &Options,
    live: Option<&LiveFacts>,
) -> Result<Plan, AwsAuthError> {
    check(auth)?;
    let mut merged: Vec<Merged> = Vec::new();
    // `check` refused every row `principal_of` refuses.
    for (m, p) in auth
        .mappings()
        .filter_map(|m| principal_of(m).ok().map(|p| (m, p)))
    {
        match merged.iter_mut().find(|x| x.principal.key == p.key) {
            Some(x) => {
                x.rows.push(m);
                for g in &m.groups {
                    if !x.groups.contains(g) {
                        x.groups.push(g.clone());
                    }
                }
            }
            None => merged.push(Merged {
                principal: p,
                rows: vec![m],
                groups: dedup(&m.groups),
            }),
        }
    }

    let mut findings = Vec::new();
    let mut unverified: Vec<String> = Vec::new();
    let mut entries = Vec::new();
    for m in merged {
        entries.push(plan_entry(m, options, live, &mut findings, &mut unverified));
    }
    for account in &auth.accounts {
        findings.push(Finding::new(
            rule("migration-account-mapping"),
            Severity::High,
            format!(
                "mapAccounts admits every IAM principal of account {}: each authenticates as its own ARN with no groups; access entries have no equivalent, so after the switch only principals with their own entry get in",
                clean(account, 64)
            ),
        ));
    }
    if !entries.is_empty() {
        let summary = match live {
            None => Some(format!(
                "Role and user paths were not checked ({} principals; run with --live): aws-auth names roles without their path, and an entry for an ARN missing its path matches nobody",
                entries.len()
            )),
            Some(_) if !unverified.is_empty() => Some(format!(
                "Paths not checked for principals outside the cluster's account (IAM is read only there): {}",
                unverified.join(", ")
            )),
            Some(_) => None,
        };
        if let Some(summary) = summary {
            findings.push(Finding::new(
                rule("migration-paths-unverified"),
                Severity::Info,
                summary,
            ));
        }
    }
    let mut plan = Plan {
        cluster: options.cluster.map(str::to_string),
        entries,
        findings,
        safe_to_switch: None,
        authentication_mode: None,
    };
    if let Some(facts) = live {
        live::compare(&mut plan, facts, !auth.accounts.is_empty());
    }
    sort_findings(&mut plan.findings);
    Ok(plan)
}

fn plan_entry(
    m: Merged,
    options: &Options,
    live: Option<&LiveFacts>,
    findings: &mut Vec<Finding>,
    unverified: &mut Vec<String>,
) -> PlannedEntry {
    let first = m.rows[0];
    let source = Source {
        map: first.kind,
        index: first.index,
    };
    let rows: Vec<String> = m
        .rows
        .iter()
        .map(|r| format!("{}[{}]", r.kind, r.index))
        .collect();
    let mut arn = m.principal.arn.clone();
    let name = arn::short_name(&arn);
    let mut notes = Vec::new();
    let mut absent = false;

    // Each row on its own: a merged principal may be spelled as a session in one row and with a
    // path in another.
    let mut written_path = false;
    for r in &m.rows {
        let label = format!("{}[{}]", r.kind, r.index);
        if arn::is_sts_session(&r.arn) {
            let role = principal_of(r).map(|p| p.arn).unwrap_or_default();
            findings.push(Finding::new(
                rule("migration-session-arn"),
                Severity::Medium,
                format!(
                    "{label} names the session {}, which EKS rejects as a principal and aws-auth never matched; the plan uses the role {role}",
                    clean(&r.arn, 200)
                ),
            ));
        } else if m.principal.key.kind == PrincipalKind::Role && path_and_name(&r.arn).contains('/')
        {
            written_path = true;
            findings.push(Finding::new(
                rule("migration-role-path"),
                Severity::Medium,
                format!(
                    "{label} names {} with a path, which aws-auth never matches (it compares path-less role ARNs): the row gave no access, and the planned entry would grant it",
                    clean(&arn::short_name(&r.arn), 200)
                ),
            ));
        }
    }
    match live.map(|f| f.identity(&m.principal.key)) {
        Some(Identity::Found(real)) if real != &arn => {
            let real = clean(real, 512);
            let summary = match m.principal.key.kind {
                PrincipalKind::User => format!(
                    "{name}'s real ARN is {real} (IAM GetUser); aws-auth compares user ARNs whole, so the row without the path never matched; the plan uses the real ARN"
                ),
                _ => format!(
                    "{name}'s real ARN is {real} (IAM GetRole); aws-auth names it without the path, which an access entry does not match; the plan uses the real ARN"
                ),
            };
            if !written_path {
                findings.push(Finding::new(
                    rule("migration-role-path"),
                    Severity::Medium,
                    summary,
                ));
            }
            arn = real;
        }
        Some(Identity::Found(_)) => {}
        Some(Identity::NotFound) => {
            absent = true;
            notes.push(format!(
                "IAM has no such {} (NoSuchEntity): the row maps nobody; remove it from aws-auth instead of creating an entry",
                kind_word(m.principal.key.kind)
            ));
        }
        Some(Identity::NotChecked) => unverified.push(clean(&arn, 512)),
        None => {}
    }
    if m.rows.len() > 1 {
        findings.push(Finding::new(
            rule("migration-duplicate-principal"),
            Severity::Medium,
            format!(
                "{} is mapped {} times ({}); aws-auth applies only one of the rows; the plan merges their groups: [{}]",
                clean(&name, 200),
                m.rows.len(),
                rows.join(", "),
                clean(&m.groups.join(", "), 512)
            ),
        ));
        let names: Vec<&str> = m
            .rows
            .iter()
            .filter_map(|r| r.username.as_deref())
            .collect();
        if names.windows(2).any(|w| w[0] != w[1]) {
            notes.push(format!(
                "the rows give different usernames ({}); the plan keeps the first",
                clean(&names.join(", "), 512)
            ));
        }
    }
    let username = m.rows.iter().find_map(|r| r.username.as_deref());
    let partition = arn::Arn::parse(&arn)
        .map_or("aws", |a| a.partition)
        .to_string();
    let t = entry::translate(&m.principal.key, &arn, username, &m.groups);
    notes.extend(t.notes);
    for r in &m.rows {
        malformed_groups(r, &name, &t.entry_type, m.principal.key.kind, findings);
    }
    if t.masters {
        let who = if options.config.is_break_glass(Some(&arn)) {
            Some("the break-glass role")
        } else if options.config.is_approved(Some(&arn)) {
            Some("the approved automation")
        } else {
            None
        };
        let summary = match (&t.entry_type, who) {
            (ty, _) if ty.is_node_identity() => format!(
                "{name} ({ty} node role, {}) holds system:masters: whatever can use the node role is cluster-admin today; a node entry cannot carry it, so the plan drops it",
                source.label()
            ),
            (_, Some(who)) => format!(
                "{name} ({}) holds system:masters; the plan gives it AmazonEKSClusterAdminPolicy at cluster scope: as {who} it keeps cluster-admin",
                source.label()
            ),
            (_, None) => format!(
                "{name} ({}) holds system:masters; the plan gives it AmazonEKSClusterAdminPolicy at cluster scope (the same power); consider AmazonEKSAdminPolicy instead and keep ClusterAdmin for break-glass and the approved automation",
                source.label()
            ),
        };
        findings.push(Finding::new(
            rule("migration-system-masters"),
            Severity::High,
            summary,
        ));
    }
    if !t.unsupported.is_empty() {
        findings.push(Finding::new(
            rule("migration-unsupported-group"),
            Severity::Low,
            format!(
                "{name} ({}) holds [{}], which EKS rejects in an access entry; the plan drops it: bind its RBAC role to a group without the system: prefix",
                source.label(),
                clean(&t.unsupported.join(", "), 512)
            ),
        ));
    }
    let policies = if t.masters && !t.entry_type.is_node_identity() {
        vec![PlannedPolicy::cluster_admin(&partition)]
    } else {
        Vec::new()
    };
    PlannedEntry {
        principal_arn: arn,
        entry_type: t.entry_type,
        username: t.username,
        kubernetes_groups: t.groups,
        policies,
        source,
        status: None,
        notes,
        live: None,
        key: m.principal.key,
        aws_auth_groups: m.groups,
        absent,
    }
}

/// `migration-malformed-groups` for a row whose groups are written other than they can be
/// meant (`<system:nodes>`). The plan takes the row as written: it cannot know what was meant,
/// and a guessed node entry would grant what the row does not give today.
fn malformed_groups(
    row: &Mapping,
    name: &str,
    entry_type: &EntryType,
    kind: PrincipalKind,
    findings: &mut Vec<Finding>,
) {
    let malformed: Vec<(&str, String)> = row
        .groups
        .iter()
        .filter_map(|g| entry::intended_group(g).map(|meant| (g.as_str(), meant)))
        .collect();
    if malformed.is_empty() {
        return;
    }
    let label = format!("{}[{}]", row.kind, row.index);
    let written: Vec<String> = malformed
        .iter()
        .map(|(g, _)| format!("`{}`", clean(g, 128)))
        .collect();
    let meant: Vec<String> = malformed
        .iter()
        .map(|(_, m)| match m.as_str() {
            "" => "(an empty group)".to_string(),
            m => clean(m, 128),
        })
        .collect();
    let (written, meant) = (written.join(", "), meant.join(", "));
    let (severity, summary) = if entry::meant_as_node(kind, row.username.as_deref(), &row.groups) {
        let planned = if entry_type.is_node_identity() {
            format!("a {entry_type} entry from the groups written right")
        } else {
            format!("a {entry_type} entry, not a node entry")
        };
        (
            Severity::Medium,
            format!(
                "{name} ({label}) is a node role whose groups are written [{written}], meant as [{meant}]: the authenticator passes groups on as written and no binding names these, so nodes using the role do not get what the row was meant to give; the plan takes the groups as written: {planned}"
            ),
        )
    } else {
        (
            Severity::Low,
            format!(
                "{name} ({label}) lists groups written [{written}], meant as [{meant}]: the authenticator passes groups on as written, so no binding for the groups meant applies; the plan takes them as written"
            ),
        )
    };
    findings.push(Finding::new(
        rule("migration-malformed-groups"),
        severity,
        clean(&summary, 1024),
    ));
}

fn kind_word(kind: PrincipalKind) -> &'static str {
    match kind {
        PrincipalKind::User => "user",
        PrincipalKind::Role | PrincipalKind::Root | PrincipalKind::FederatedUser => "role",
    }
}

fn dedup(groups: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for g in groups {
        if !out.contains(g) {
            out.push(g.clone());
        }
    }
    out
}

/// A catalogued migration rule (the ids are fixed in `rules::migration`).
fn rule(id: &str) -> &'static Rule {
    find(id).unwrap_or_else(|| panic!("rule {id} is not in the catalogue"))
}

/// Catalogue order, then the order they were made in (the rows' order).
fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by_key(|f| CATALOGUE.iter().position(|r| *r == f.rule));
}

/// The plan in the chosen format.
pub fn render(plan: &Plan, format: Format, region: Option<&str>) -> String {
    match format {
        Format::Text => text::render(plan),
        Format::Json => {
            let mut s = serde_json::to_string_pretty(plan).expect("a plan serialises");
            s.push('\n');
            s
        }
        Format::Terraform => iac::terraform(plan),
        Format::Cli => iac::cli(plan, region),
        Format::CloudFormation => iac::cloudformation(plan),
    }
}
