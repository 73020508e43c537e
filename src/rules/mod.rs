//! The rule catalogue: each rule's description is data ([`Rule`]: id, the severities it may
//! emit, what a failed call does to it, whether it qualifies other findings, its docs) and its
//! condition is one named, pure function in the file of its topic:
//! [`identity`] (who called, and how), [`grants`] (access policy associations), [`entries`]
//! (access entries), [`cluster`] (cluster settings and other ways in), [`kubernetes`] (the
//! aws-auth ConfigMap and RBAC bindings, from the EKS audit log), [`integrity`] (whether the
//! watcher can still see: the trail, unreadable records), [`tuning`] (the tuning file itself);
//! and the rules whose findings commands make: [`standing`] (access that exists now) and
//! [`drift`] (what changed against a baseline), from the audit; [`migration`], from the
//! aws-auth migration planner.
//!
//! **All matching rules fire** (not first-match): an alert carries every finding that applies
//! and takes the highest finding's severity. Two adjustments, both declared per rule:
//! - a *failed* call (CloudTrail `errorCode`) changed nothing: [`OnFailure`] says whether the
//!   finding is capped at `high`, kept as graded, or not reported;
//! - a [`Qualifier`] that raises the alert (`unapproved-caller`) is graded last, one level above
//!   the other findings, at most the highest severity it declares.
//!
//! Qualifiers describe *how* a change was made (unapproved caller, root credentials, a denied
//! attempt): renderings show them as tags on the headline, which always names what changed.
//!
//! Rules never call AWS: enrichment is handed in as plain data ([`Enrichment`]), so every rule
//! is testable with a JSON fixture. The tuning file ([`crate::tuning`]) is applied to the
//! findings afterwards, as a separate step: it never reaches a rule function.

mod cluster;
pub mod drift;
mod entries;
mod grants;
mod identity;
mod integrity;
mod kubernetes;
mod migration;
pub mod standing;
mod tuning;

pub use tuning::EXCEPTION_EXPIRED;

use std::fmt;

use serde::{Serialize, Serializer};

use crate::arn;
use crate::closed::closed_enum;
use crate::config::RuleConfig;
use crate::model::Enrichment;
use crate::model::{AccessEvent, EntryType};
use crate::policy::{PolicyClass, PolicyInfo, classify_policy};
use crate::severity::Severity;
use crate::tuning::ExceptionRef;

closed_enum! {
    /// The file a rule lives in, and its heading in the docs.
    pub enum Topic ("rule topic") {
        Caller = "caller",
        Grants = "grants",
        Entries = "entries",
        Cluster = "cluster",
        Integrity = "integrity",
        Kubernetes = "kubernetes",
        Tuning = "tuning",
        Standing = "standing",
        Drift = "drift",
        Migration = "migration",
    }
}

/// What a failed call (CloudTrail `errorCode`) does to a rule's finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Capped at `high`: the call changed nothing, the attempt still matters.
    CapAtHigh,
    /// Kept as graded: the attempt itself is the finding (root credentials in use, a request
    /// for a `system:` identity, a denied probe).
    Keep,
    /// Not reported: the finding is about the state after a change that did not happen.
    Silent,
}

/// A rule about how a change was made rather than what changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Qualifier {
    /// Shown before the headline: `[HIGH] prod: (unapproved caller) ClusterAdmin granted ...`.
    pub tag: &'static str,
    /// Graded from the other findings: one level above them, at most the rule's highest
    /// declared severity. Otherwise the rule grades itself like any other.
    pub raises_alert: bool,
}

/// How a rule decides.
#[derive(Clone, Copy)]
pub enum Eval {
    /// A pure function of one watched change, run by [`evaluate`] for every alert.
    Change(fn(&Ctx) -> Option<Hit>),
    /// Findings made by another part of the library (the standing-access audit, the migration
    /// planner) through [`Finding::new`]; the rule is documented and graded here like any other.
    External,
}

/// One entry in the catalogue.
pub struct Rule {
    /// Stable kebab-case id (subscribers filter on it).
    pub id: &'static str,
    pub topic: Topic,
    /// Every severity the rule may grade a finding with, lowest first; a test fails when it
    /// emits another.
    pub severities: &'static [Severity],
    pub on_failure: OnFailure,
    pub qualifier: Option<Qualifier>,
    /// When it fires and how it grades, for the docs.
    pub fires_on: &'static str,
    /// Why the rule exists: the risk, the pitfall, the attack.
    pub why: &'static str,
    /// What the on-call engineer should do first.
    pub next_step: &'static str,
    pub eval: Eval,
}

impl Rule {
    /// A rule whose findings another part of the library makes ([`Eval::External`]: the
    /// audit, the migration planner): no CloudTrail call, so no qualifier, and a failed call
    /// never applies (`on_failure` is unused).
    pub const fn external(
        id: &'static str,
        topic: Topic,
        severities: &'static [Severity],
        fires_on: &'static str,
        why: &'static str,
        next_step: &'static str,
    ) -> Rule {
        Rule {
            id,
            topic,
            severities,
            on_failure: OnFailure::Keep,
            qualifier: None,
            fires_on,
            why,
            next_step,
            eval: Eval::External,
        }
    }

    /// True when a finding of this rule may carry `severity` (for a failed call, also the cap).
    pub fn may_emit(&self, severity: Severity, failed: bool) -> bool {
        self.severities.contains(&severity)
            || (failed
                && self.on_failure == OnFailure::CapAtHigh
                && severity == Severity::High
                && self.highest() > Severity::High)
    }

    pub fn highest(&self) -> Severity {
        self.severities
            .iter()
            .copied()
            .max()
            .unwrap_or(Severity::Info)
    }

    pub fn lowest(&self) -> Severity {
        self.severities
            .iter()
            .copied()
            .min()
            .unwrap_or(Severity::Info)
    }

    /// The grade of a qualifier that raises the alert, over the other findings' highest
    /// severity: one level above, within the severities the rule declares.
    pub fn raised_over(&self, others: Severity) -> Severity {
        others.raised().min(self.highest()).max(self.lowest())
    }

    fn raises_alert(&self) -> bool {
        self.qualifier.is_some_and(|q| q.raises_alert)
    }
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rule({})", self.id)
    }
}

impl PartialEq for Rule {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for Rule {}

/// The catalogue, in the order findings are listed.
pub static CATALOGUE: &[&Rule] = &[
    &identity::ROOT_CALLER,
    &identity::BREAK_GLASS_ASSUMED,
    &identity::SELF_GRANT,
    &grants::CLUSTER_ADMIN_GRANTED,
    &grants::ADMIN_GRANTED,
    &grants::SECRET_READ_GRANTED,
    &grants::SYSTEM_NAMESPACE_WRITE,
    &grants::WILDCARD_NAMESPACE_SCOPE,
    &grants::SERVICE_POLICY_GRANTED,
    &grants::UNKNOWN_ACCESS_POLICY,
    &grants::ACCESS_POLICY_ASSOCIATED,
    &grants::ADMIN_ACCESS_REMOVED,
    &grants::ACCESS_POLICY_DISASSOCIATED,
    &entries::LOCKOUT_RISK,
    &entries::BREAK_GLASS_MODIFIED,
    &identity::CROSS_ACCOUNT_PRINCIPAL,
    &entries::SYSTEM_GROUP_REQUESTED,
    &entries::PRIVILEGED_GROUP_NAME,
    &entries::NODE_IDENTITY_GRANTED,
    &entries::SESSION_PRINCIPAL_ENTRY,
    &entries::ACCESS_ENTRY_CREATED,
    &entries::ACCESS_ENTRY_UPDATED,
    &entries::ACCESS_ENTRY_DELETED,
    &cluster::AUTH_MODE_CHANGED,
    &cluster::AUDIT_LOGGING_DISABLED,
    &cluster::PUBLIC_ENDPOINT_OPENED,
    &cluster::DELETION_PROTECTION_DISABLED,
    &cluster::CLUSTER_CONFIG_UPDATED,
    &cluster::BOOTSTRAP_CREATOR_ADMIN,
    &cluster::LEGACY_AUTH_MODE,
    &cluster::CLUSTER_CREATED,
    &cluster::CLUSTER_DELETED,
    &cluster::OIDC_PROVIDER_ASSOCIATED,
    &cluster::OIDC_PROVIDER_DISASSOCIATED,
    &cluster::POD_IDENTITY_ASSOCIATION,
    &cluster::ADDON_POD_IDENTITY,
    &cluster::ACCESS_TAGS_CHANGED,
    &integrity::TRAIL_LOGGING_STOPPED,
    &integrity::TRAIL_MODIFIED,
    &integrity::NO_TRAIL_LOGGING,
    &integrity::UNPARSEABLE_WATCHED_EVENT,
    &kubernetes::AWS_AUTH_DELETED,
    &kubernetes::AWS_AUTH_CREATED,
    &kubernetes::AWS_AUTH_SYSTEM_MASTERS,
    &kubernetes::AWS_AUTH_ACCOUNT_MAPPED,
    &kubernetes::AWS_AUTH_MODIFIED,
    &kubernetes::AWS_AUTH_SESSION_ARN,
    &kubernetes::AWS_AUTH_ROLE_PATH,
    &kubernetes::RBAC_ANONYMOUS_BOUND,
    &kubernetes::RBAC_CLUSTER_ADMIN_BOUND,
    &kubernetes::RBAC_BINDING_CHANGED,
    &kubernetes::RBAC_WILDCARD_ROLE,
    &identity::DENIED_ATTEMPT,
    &identity::UNAPPROVED_CALLER,
    &tuning::EXCEPTION_EXPIRED,
    &standing::STANDING_CLUSTER_ADMIN,
    &standing::CREATOR_ADMIN_PRESENT,
    &standing::NO_WORKING_BREAK_GLASS,
    &standing::TOO_MANY_ADMINS,
    &standing::STANDING_SESSION_PRINCIPAL,
    &standing::STANDING_CROSS_ACCOUNT,
    &standing::STANDING_WILDCARD_SCOPE,
    &standing::STANDING_SECRET_READER,
    &standing::UNTAGGED_ENTRY,
    &standing::CONFIG_MAP_AUTH_MODE,
    &standing::AUDIT_LOGGING_OFF,
    &standing::PUBLIC_ENDPOINT_OPEN,
    &standing::DELETION_PROTECTION_OFF,
    &standing::AUDIT_INCOMPLETE,
    &drift::DRIFT_ENTRY_ADDED,
    &drift::DRIFT_ENTRY_REMOVED,
    &drift::DRIFT_POLICY_CHANGED,
    &drift::DRIFT_CLUSTER_SETTING,
    &migration::PRINCIPAL_MISSING,
    &migration::ACCOUNT_MAPPING,
    &migration::SYSTEM_MASTERS,
    &migration::ROLE_PATH,
    &migration::SESSION_ARN,
    &migration::DUPLICATE_PRINCIPAL,
    &migration::CREATOR_ADMIN,
    &migration::UNSUPPORTED_GROUP,
    &migration::PATHS_UNVERIFIED,
];

/// A catalogue entry by id.
pub fn find(id: &str) -> Option<&'static Rule> {
    CATALOGUE.iter().copied().find(|r| r.id == id)
}

/// One rule that fired, with its graded severity and a sentence a human understands at 1:47 AM.
/// The last three fields are set only by a tuning file ([`crate::tuning`]) and left out of the
/// JSON when unset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Serialised as the rule's id.
    #[serde(serialize_with = "rule_id")]
    pub rule: &'static Rule,
    pub severity: Severity,
    pub summary: String,
    /// The severity the rule graded, when the tuning file overrides the rule's severity
    /// (`severity` is then the override's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_severity: Option<Severity>,
    /// The tuning-file exception that suppressed this finding: it is still reported, but
    /// counts towards nothing (the alert's severity, thresholds, the subject line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed_by: Option<ExceptionRef>,
    /// A tuning-file exception that matches this finding but has expired: the finding counts
    /// again, and says which acceptance lapsed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired_exception: Option<ExceptionRef>,
}

fn rule_id<S: Serializer>(rule: &&'static Rule, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(rule.id)
}

impl Finding {
    /// A finding of `rule`. Debug builds check that the rule declares `severity`.
    pub fn new(rule: &'static Rule, severity: Severity, summary: String) -> Self {
        debug_assert!(
            rule.severities.contains(&severity),
            "rule {} graded {severity} which it does not declare",
            rule.id
        );
        Self::graded(rule, severity, summary)
    }

    fn graded(rule: &'static Rule, severity: Severity, summary: String) -> Self {
        Finding {
            rule,
            severity,
            summary,
            rule_severity: None,
            suppressed_by: None,
            expired_exception: None,
        }
    }

    pub fn is_qualifier(&self) -> bool {
        self.rule.qualifier.is_some()
    }

    /// False when a tuning-file exception suppressed the finding.
    pub fn counts(&self) -> bool {
        self.suppressed_by.is_none()
    }
}

/// Grade the qualifiers that raise the alert (`unapproved-caller`) over the other findings
/// that count, and return the alert's severity: the highest counted finding's, `info` when
/// none counts. A qualifier whose severity the tuning file overrides keeps the override.
pub fn grade(findings: &mut [Finding]) -> Severity {
    let mut severity = findings
        .iter()
        .filter(|f| f.counts() && !f.rule.raises_alert())
        .map(|f| f.severity)
        .max()
        .unwrap_or(Severity::Info);
    for f in findings.iter_mut().filter(|f| f.rule.raises_alert()) {
        if f.rule_severity.is_none() {
            f.severity = f.rule.raised_over(severity);
        }
        if f.counts() {
            severity = severity.max(f.severity);
        }
    }
    severity
}

/// A rule's verdict: severity and the human sentence.
pub struct Hit {
    pub severity: Severity,
    pub summary: String,
}

fn hit(severity: Severity, summary: String) -> Option<Hit> {
    Some(Hit { severity, summary })
}

/// What a rule sees: the event, the configuration, the enrichment, and facts derived once.
pub struct Ctx<'a> {
    pub event: &'a AccessEvent,
    pub config: &'a RuleConfig,
    pub enrichment: Option<&'a Enrichment>,
    /// The caller is a configured approved caller, or AWS itself.
    pub approved: bool,
    pub target: Option<&'a str>,
    /// The target principal is a break-glass role (configured, by name, or tagged).
    pub target_break_glass: bool,
    /// The caller changes its own access.
    pub self_target: bool,
    pub policy: Option<PolicyInfo>,
}

impl<'a> Ctx<'a> {
    pub fn new(
        event: &'a AccessEvent,
        config: &'a RuleConfig,
        enrichment: Option<&'a Enrichment>,
    ) -> Self {
        let target = event.change.principal_arn();
        Ctx {
            event,
            config,
            enrichment,
            approved: event.actor.is_aws_service()
                || config.is_approved(event.actor.arn.as_deref()),
            target,
            target_break_glass: config.is_break_glass(target)
                || enrichment.is_some_and(Enrichment::tagged_break_glass),
            self_target: match (event.actor.arn.as_deref(), target) {
                (Some(a), Some(t)) => arn::same_principal(a, t),
                _ => false,
            },
            policy: event.change.policy_arn().map(classify_policy),
        }
    }

    /// "granted" for a successful call, "grant attempted (failed: AccessDeniedException)" otherwise.
    fn did(&self, done: &str, attempt: &str) -> String {
        match &self.event.error {
            None => done.to_string(),
            Some(e) => format!("{attempt} attempted (failed: {})", e.code),
        }
    }

    fn target_name(&self) -> String {
        self.target
            .map(arn::short_name)
            .unwrap_or_else(|| "an unnamed principal".into())
    }

    /// " by role/platform-engineer (jdoe), user agent says aws-cli": the tool comes from the
    /// user agent, which the caller chooses, so the text never presents it as proof.
    fn by(&self) -> String {
        format!(" by {}", self.event.actor.describe())
    }

    fn on_cluster(&self) -> String {
        match &self.event.cluster {
            Some(c) => format!(" on cluster {c}"),
            None => String::new(),
        }
    }

    fn policy_class(&self) -> Option<PolicyClass> {
        self.policy.as_ref().map(|p| p.class)
    }

    /// `ClusterAdmin`, `View`, or the full name of an unknown policy; empty when none.
    fn policy_short(&self) -> &str {
        self.policy
            .as_ref()
            .map(|p| p.short_name())
            .unwrap_or_default()
    }

    /// The target is a person's identity (IAM user, IAM Identity Center role, or an entry the
    /// EKS API reports as STANDARD), as opposed to a node or service role.
    fn target_is_person(&self) -> bool {
        let Some(t) = self.target else { return false };
        let standard_entry = self
            .enrichment
            .and_then(|e| e.access_entry.as_ref())
            .and_then(|e| e.entry_type.as_ref())
            == Some(&EntryType::Standard);
        arn::is_iam_user(t) || t.contains("AWSReservedSSO_") || standard_entry
    }
}

/// The findings for one watched event, graded, in catalogue order, and the alert's severity.
pub fn evaluate(ctx: &Ctx) -> (Severity, Vec<Finding>) {
    let failed = ctx.event.failed();
    let mut findings: Vec<Finding> = Vec::new();
    let mut raising: Vec<Finding> = Vec::new();
    for &rule in CATALOGUE {
        let Eval::Change(eval) = rule.eval else {
            continue;
        };
        let Some(mut h) = eval(ctx) else { continue };
        debug_assert!(
            rule.severities.contains(&h.severity),
            "rule {} graded {} which it does not declare",
            rule.id,
            h.severity
        );
        if failed {
            match rule.on_failure {
                OnFailure::CapAtHigh => h.severity = h.severity.min(Severity::High),
                OnFailure::Keep => {}
                OnFailure::Silent => continue,
            }
        }
        let finding = Finding::graded(rule, h.severity, h.summary);
        if rule.raises_alert() {
            raising.push(finding);
        } else {
            findings.push(finding);
        }
    }
    // Qualifiers that raise the alert come last, graded over the others.
    findings.append(&mut raising);
    let severity = grade(&mut findings);
    (severity, findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_unique_kebab_case_documented_and_graded() {
        let mut seen = std::collections::HashSet::new();
        for r in CATALOGUE {
            assert!(seen.insert(r.id), "duplicate rule id {}", r.id);
            assert!(
                r.id.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{}",
                r.id
            );
            assert!(
                !r.why.is_empty() && !r.next_step.is_empty() && !r.fires_on.is_empty(),
                "{}",
                r.id
            );
            assert!(!r.severities.is_empty(), "{} declares no severity", r.id);
            assert!(
                r.severities.windows(2).all(|w| w[0] < w[1]),
                "{}: severities lowest first, once each",
                r.id
            );
        }
    }

    #[test]
    fn a_capped_failure_may_emit_high_only_for_rules_that_grade_above_it() {
        let root = find("root-caller").unwrap();
        assert!(root.may_emit(Severity::Critical, true));
        let admin = find("cluster-admin-granted").unwrap();
        assert!(admin.may_emit(Severity::High, true));
        assert!(!admin.may_emit(Severity::High, false));
        assert!(!admin.may_emit(Severity::Low, true));
    }
}
