//! The context stage: what is known about an event besides the event itself, gathered before
//! the rules and handed to them as plain data ([`Context`]). Rules never do I/O and never see
//! rendered text; whatever they need from elsewhere is a field here.
//!
//! - [`History`]: what one input (a replayed file, a Lambda payload) has shown so far: the
//!   aws-auth content an update's audit event does not carry, the ClusterRoles written to
//!   grant everything. It completes each event of that input in order.
//! - EKS enrichment (the Lambda, `replay --enrich`): the affected access entry, its policies and
//!   the cluster, read under one deadline ([`eks`], with the `aws` feature).
//! - Correlation ([`correlate`]): what earlier events, kept in a state store ([`state`]), say
//!   about this one.
//!
//! Adding a fact: a field of [`Context`], the code that fills it here, and the rule that reads
//! it (`Case::context` in [`crate::rules`]).

pub mod correlate;
#[cfg(feature = "aws")]
pub mod eks;
mod history;
pub mod state;

pub use correlate::Correlation;
pub use history::History;

use crate::model::Enrichment;

/// The facts gathered for one event before the rules run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// What the EKS API says about the affected entry and cluster; `None` when enrichment was
    /// not attempted (offline replay, `ENRICH=false`).
    pub enrichment: Option<Enrichment>,
    /// What earlier events say about this one (a break-glass session, a grant undone, a
    /// fan-out, denied bursts); `None` where no state store is configured.
    pub correlation: Option<Correlation>,
    /// For a write of the tuning parameter: the old and new versions compared
    /// (`tuning-changed`); `None` when not read (offline replay, another event).
    pub tuning_change: Option<TuningChange>,
}

/// A tuning parameter's change, as read from its versions: what it does, in words.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TuningChange {
    /// The versions compared (`None`: not found).
    pub from_version: Option<i64>,
    pub to_version: Option<i64>,
    /// `rule cluster-created disabled`, `exception vendor-support added for ...`.
    pub changes: Vec<String>,
    /// Why the versions could not be compared, when they could not.
    pub unavailable: Option<String>,
}

impl Context {
    /// The context of an event with EKS enrichment (or none).
    pub fn with_enrichment(enrichment: Option<Enrichment>) -> Self {
        Context {
            enrichment,
            correlation: None,
            tuning_change: None,
        }
    }
}
