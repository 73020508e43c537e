//! Drift graded by the change rules: a difference from the baseline is graded exactly as the
//! watcher grades the API call that makes the same change (an AssociateAccessPolicy, an
//! UpdateClusterConfig ...), so the two never disagree about what a grant is worth.
//!
//! The call is rebuilt as an [`AccessEvent`] whose caller is unknown (drift is by definition
//! outside the pipeline, so nobody counts as approved), with the entry's type handed in as
//! enrichment (service policies on a person). The grade is the highest non-qualifier finding;
//! qualifiers describe a caller, and drift has none.

use chrono::NaiveDate;

use crate::config::RuleConfig;
use crate::context::Context;
use crate::model::{AccessEvent, Actor, Change, EntryType, IdentityType};
use crate::model::{Enrichment, EnrichmentStatus, EntryInfo};
use crate::operation::Operation;
use crate::pipeline::{self, Judged};
use crate::rules::Rule;
use crate::severity::Severity;

use super::snapshot::ClusterState;

/// The grade a change rule gives, and which rule decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grade {
    pub severity: Severity,
    pub rule: &'static Rule,
}

impl Grade {
    /// ` (graded as cluster-admin-granted)`
    pub fn note(&self) -> String {
        format!(" (graded as {})", self.rule.id)
    }
}

/// Grade `change` (made by `operation`) on `cluster` as the watcher would; `entry_type` is the
/// target entry's type when known. `None` when no change rule fires.
pub fn as_change(
    cluster: &ClusterState,
    operation: Operation,
    change: Change,
    entry_type: Option<&EntryType>,
    rules: &RuleConfig,
) -> Option<Grade> {
    let event = AccessEvent {
        operation,
        event_id: None,
        event_time: None,
        account: cluster.account().to_string(),
        region: cluster.region().to_string(),
        cluster: Some(cluster.name.clone()),
        actor: Actor::described(
            IdentityType::Unknown("drift".to_string()),
            "a caller outside the pipeline",
            "unknown",
        ),
        user_agent: None,
        source_ip: None,
        error: None,
        change,
    };
    let enrichment = entry_type.map(|t| Enrichment {
        status: EnrichmentStatus::Complete,
        errors: Vec::new(),
        access_entry: Some(EntryInfo {
            entry_type: Some(t.clone()),
            ..EntryInfo::default()
        }),
        associated_policies: None,
        cluster: None,
        remaining_admins: None,
        trimmed: false,
    });
    let context = Context::with_enrichment(enrichment);
    let Judged::Alert(alert) = pipeline::judge(&event, &context, rules, None, NaiveDate::MIN)
    else {
        return None;
    };
    let findings = alert.findings;
    // The first of the highest-graded findings, in catalogue order (as the alert headline).
    findings
        .iter()
        .filter(|f| !f.is_qualifier())
        .fold(None::<Grade>, |best, f| match best {
            Some(b) if b.severity >= f.severity => Some(b),
            _ => Some(Grade {
                severity: f.severity,
                rule: f.rule,
            }),
        })
}
