//! The alert as the JSON document subscribers and `replay --format json|ndjson` receive: the
//! alert's fields in order, and its enrichment with `effective_access`, the principal's
//! access after the change in words, rendered here from the enrichment's plain facts.

use serde::Serialize;

use crate::alert::Alert;
use crate::context::state::Incident;
use crate::model::{
    AccessScope, AdminCensus, ClusterInfo, Enrichment, EnrichmentStatus, EntryInfo, IdentityType,
    PolicyGrant,
};
use crate::rules::Finding;
use crate::severity::Severity;

/// The alert's JSON text.
pub fn to_string(alert: &Alert) -> String {
    serde_json::to_string(&document(alert)).unwrap_or_default()
}

/// The alert's JSON text, indented (the golden files).
pub fn to_string_pretty(alert: &Alert) -> String {
    serde_json::to_string_pretty(&document(alert)).unwrap_or_default()
}

/// The alert's JSON value.
pub fn to_value(alert: &Alert) -> serde_json::Value {
    serde_json::to_value(document(alert)).unwrap_or_default()
}

/// The document to serialise (with [`serde_json::to_writer`] and the like).
pub fn document(alert: &Alert) -> impl Serialize + '_ {
    document_with_access(alert, super::effective_access_of(alert))
}

/// [`document`] with the effective access given (the SNS rendering computes it before it trims
/// enrichment detail).
pub(crate) fn document_with_access(alert: &Alert, access: Option<String>) -> Document<'_> {
    Document {
        event_id: &alert.event_id,
        event_name: &alert.event_name,
        event_time: &alert.event_time,
        account: &alert.account,
        region: &alert.region,
        cluster: &alert.cluster,
        principal_arn: &alert.principal_arn,
        actor_arn: &alert.actor_arn,
        actor: &alert.actor,
        actor_type: &alert.actor_type,
        source_ip: &alert.source_ip,
        error_code: &alert.error_code,
        policy_arn: &alert.policy_arn,
        access_scope: &alert.access_scope,
        severity: alert.severity,
        findings: &alert.findings,
        enrichment: alert.enrichment.as_ref().map(|e| EnrichmentDocument {
            status: &e.status,
            errors: &e.errors,
            access_entry: &e.access_entry,
            associated_policies: &e.associated_policies,
            cluster: &e.cluster,
            remaining_admins: &e.remaining_admins,
            effective_access: access,
            trimmed: e.trimmed,
        }),
        incident: &alert.incident,
        resolves: &alert.resolves,
        correlation: &alert.correlation_unavailable,
    }
}

/// The JSON document of an alert (field order is the contract).
#[derive(Serialize)]
pub(crate) struct Document<'a> {
    event_id: &'a Option<String>,
    event_name: &'a str,
    event_time: &'a Option<String>,
    account: &'a str,
    region: &'a str,
    cluster: &'a Option<String>,
    principal_arn: &'a Option<String>,
    actor_arn: &'a Option<String>,
    actor: &'a str,
    actor_type: &'a IdentityType,
    source_ip: &'a Option<String>,
    error_code: &'a Option<String>,
    policy_arn: &'a Option<String>,
    access_scope: &'a Option<AccessScope>,
    severity: Severity,
    findings: &'a [Finding],
    /// `null` offline.
    enrichment: Option<EnrichmentDocument<'a>>,
    /// `null` unless a correlation rule touched the alert.
    incident: &'a Option<Incident>,
    /// `null` unless the alert is a `grant-reverted`.
    resolves: &'a Option<String>,
    /// Only when the state store did not answer: `correlation unavailable (<reason>)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    correlation: &'a Option<String>,
}

/// [`Enrichment`]'s facts, with the effective access rendered in their midst.
#[derive(Serialize)]
struct EnrichmentDocument<'a> {
    status: &'a EnrichmentStatus,
    errors: &'a [String],
    access_entry: &'a Option<EntryInfo>,
    associated_policies: &'a Option<Vec<PolicyGrant>>,
    cluster: &'a Option<ClusterInfo>,
    remaining_admins: &'a Option<AdminCensus>,
    effective_access: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    trimmed: bool,
}

#[allow(dead_code)]
fn every_enrichment_field_is_rendered(e: &Enrichment) {
    // Every field of Enrichment is rendered above: a new one fails to compile here until it
    // is added to the document.
    let Enrichment {
        status: _,
        errors: _,
        access_entry: _,
        associated_policies: _,
        cluster: _,
        remaining_admins: _,
        trimmed: _,
    } = e;
}
