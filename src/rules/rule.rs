//! What a rule is, as data: its id, topic, the severities it may emit, what a failed call does
//! to it, whether it qualifies other findings, its documentation, and how it decides ([`Eval`]).

use std::fmt;

use crate::closed::closed_enum;
use crate::severity::Severity;

use super::Case;

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
        Correlation = "correlation",
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
    /// A pure function of one watched change, run by [`super::findings`] for every alert.
    Change(fn(&Case) -> Option<Hit>),
    /// Findings made by another part of the library (the standing-access audit, the migration
    /// planner) through [`super::Finding::new`]; the rule is documented and graded here like any other.
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

    pub(super) fn raises_alert(&self) -> bool {
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

/// A rule's verdict: severity and the human sentence.
pub struct Hit {
    pub severity: Severity,
    pub summary: String,
}

pub(super) fn hit(severity: Severity, summary: String) -> Option<Hit> {
    Some(Hit { severity, summary })
}
