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
pub mod correlation;
pub mod drift;
mod entries;
mod grants;
pub mod identity;
pub mod integrity;
mod kubernetes;
mod migration;
pub mod standing;
mod tuning;

mod catalogue;
mod finding;
mod rule;

pub use catalogue::{CATALOGUE, LOCKED, find, is_locked};
pub use finding::{ExceptionRef, Finding, grade};
pub use rule::{Eval, Hit, OnFailure, Qualifier, Rule, Topic};
pub use tuning::EXCEPTION_EXPIRED;

use rule::hit;

use crate::arn;
use crate::config::RuleConfig;
use crate::context::Context;
use crate::model::Enrichment;
use crate::model::{AccessEvent, EntryType};
use crate::policy::{PolicyClass, PolicyInfo, classify_policy};
use crate::severity::Severity;

/// The case a rule judges: the event, the rule configuration, the context gathered before the
/// rules (as plain data), and facts derived from them once.
pub struct Case<'a> {
    pub event: &'a AccessEvent,
    pub config: &'a RuleConfig,
    /// Everything the context stage gathered (new facts are read from here).
    pub context: &'a Context,
    /// The EKS enrichment, when there is one (`context.enrichment`).
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

impl<'a> Case<'a> {
    pub fn new(event: &'a AccessEvent, config: &'a RuleConfig, context: &'a Context) -> Self {
        let enrichment = context.enrichment.as_ref();
        let target = event.change.principal_arn();
        Case {
            event,
            config,
            context,
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

/// Every rule's finding for one watched event, in catalogue order, qualifiers that raise the
/// alert last and set one level over the others (that is their verdict: see [`Qualifier`]).
/// The alert's grade is not decided here: the pipeline tunes the findings, then
/// [`grade`]s them once.
pub fn findings(ctx: &Case) -> Vec<Finding> {
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
    // Qualifiers that raise the alert come last, set over the others.
    findings.append(&mut raising);
    finding::raise_qualifiers(&mut findings);
    findings
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
