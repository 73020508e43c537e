//! The alert, and the audit's findings, as OCSF Detection Findings (`class_uid` 2004,
//! `category_uid` 2 Findings, schema [`OCSF_VERSION`]): what `replay --format ocsf`, `audit
//! --format ocsf` print (one JSON object per line) and what an OCSF data lake ingests.
//!
//! - `activity_id` is the alert's [`Activity`]: 1 Create for a new finding or the event that
//!   opened its incident, 2 Update for a later event of the same incident, 3 Close for a
//!   revert (the alert `resolves` a grant); `type_uid` = 200400 + `activity_id`.
//! - `finding_info.uid` is the incident id, else the event id ([`Alert::finding_uid`]), so a
//!   lake can follow one finding across its updates; `finding_info.types` are the rule ids.
//! - `severity_id` maps our scale onto OCSF's: info 1 Informational, low 2, medium 3,
//!   high 4, critical 5.
//! - `evidences` carry the CloudTrail `eventID` (or the Kubernetes audit record's `auditID`)
//!   of the event and, for an incident, of every event it lists.
//! - `remediation.desc` is the next steps, then the undo command when there is one.
//!
//! Everything OCSF has no attribute for (the incident, `resolves`, the access scope) is under
//! `unmapped`, as the schema intends.

use serde_json::{Map, Value, json};

use crate::alert::{Activity, Alert};
use crate::audit::AuditFinding;
use crate::severity::Severity;

/// The OCSF schema version the findings follow.
pub const OCSF_VERSION: &str = "1.1.0";
/// Detection Finding.
pub const CLASS_UID: u32 = 2004;
/// Findings.
pub const CATEGORY_UID: u32 = 2;

/// OCSF's `severity_id` and its caption for our severity.
pub fn severity_id(severity: Severity) -> (u8, &'static str) {
    match severity {
        Severity::Info => (1, "Informational"),
        Severity::Low => (2, "Low"),
        Severity::Medium => (3, "Medium"),
        Severity::High => (4, "High"),
        Severity::Critical => (5, "Critical"),
    }
}

/// An RFC 3339 time as OCSF's `timestamp_t` (epoch milliseconds).
fn millis(time: Option<&str>) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(time?)
        .ok()
        .map(|t| t.timestamp_millis())
}

fn metadata() -> Value {
    json!({
        "version": OCSF_VERSION,
        "product": {
            "name": "eks-access-watch",
            "vendor_name": "eks-access-watch",
            "version": env!("CARGO_PKG_VERSION"),
        },
    })
}

fn partition_of(arn: Option<&str>) -> &str {
    arn.and_then(|a| a.split(':').nth(1))
        .filter(|p| !p.is_empty())
        .unwrap_or("aws")
}

/// The cluster and the principal, as OCSF resources.
fn resources(
    partition: &str,
    account: &str,
    region: &str,
    cluster: Option<&str>,
    principal: Option<&str>,
) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(c) = cluster {
        out.push(json!({
            "uid": format!("arn:{partition}:eks:{region}:{account}:cluster/{c}"),
            "name": c,
            "type": "AWS::EKS::Cluster",
            "region": region,
            "cloud_partition": partition,
        }));
    }
    if let Some(p) = principal {
        let kind = if p.contains(":user/") {
            "AWS::IAM::User"
        } else if p.contains(":role/") || p.contains(":assumed-role/") {
            "AWS::IAM::Role"
        } else {
            "AWS::IAM::Principal"
        };
        out.push(json!({
            "uid": p,
            "name": p.rsplit('/').next().unwrap_or(p),
            "type": kind,
            "cloud_partition": partition,
        }));
    }
    out
}

fn evidence(event_id: &str, event_name: &str, time: Option<&str>) -> Value {
    let mut data = Map::new();
    data.insert("event_id".into(), json!(event_id));
    data.insert("event_name".into(), json!(event_name));
    if let Some(t) = time {
        data.insert("event_time".into(), json!(t));
    }
    json!({ "api": { "operation": event_name }, "data": Value::Object(data) })
}

/// The alert as one OCSF Detection Finding.
pub fn alert(alert: &Alert) -> Value {
    let activity = alert.activity();
    let (sev_id, sev) = severity_id(alert.severity);
    let partition = partition_of(
        alert
            .actor_arn
            .as_deref()
            .or(alert.principal_arn.as_deref()),
    );
    let time = millis(alert.event_time.as_deref()).unwrap_or(0);
    let headline = super::headline(alert).sentence(&alert.event_name);

    let mut finding_info = Map::new();
    finding_info.insert("uid".into(), json!(alert.finding_uid()));
    finding_info.insert("title".into(), json!(super::subject_within(alert, 256)));
    finding_info.insert("desc".into(), json!(headline));
    finding_info.insert("types".into(), json!(alert.rule_ids()));
    if let Some(i) = &alert.incident {
        if let Some(t) = millis(i.opened_at.as_deref()) {
            finding_info.insert("created_time".into(), json!(t));
            finding_info.insert("first_seen_time".into(), json!(t));
        }
    } else {
        finding_info.insert("created_time".into(), json!(time));
        finding_info.insert("first_seen_time".into(), json!(time));
    }
    finding_info.insert("last_seen_time".into(), json!(time));

    let mut evidences = Vec::new();
    if let Some(id) = &alert.event_id {
        evidences.push(evidence(id, &alert.event_name, alert.event_time.as_deref()));
    }
    if let Some(i) = &alert.incident {
        for e in &i.events {
            if let Some(id) = &e.event_id
                && Some(id) != alert.event_id.as_ref()
            {
                evidences.push(evidence(id, &e.event_name, e.event_time.as_deref()));
            }
        }
    }

    let mut user = Map::new();
    user.insert("name".into(), json!(alert.actor));
    user.insert("type".into(), json!(alert.actor_type.to_string()));
    if let Some(arn) = &alert.actor_arn {
        user.insert("uid".into(), json!(arn));
    }
    if !alert.account.is_empty() {
        user.insert(
            "account".into(),
            json!({"uid": alert.account, "type": "AWS Account", "type_id": 10}),
        );
    }
    let mut actor = Map::new();
    actor.insert("user".into(), Value::Object(user));

    let mut remediation = super::next_steps(alert).join(" ");
    if let Some(undo) = super::undo_command(alert) {
        if !remediation.is_empty() {
            remediation.push(' ');
        }
        remediation.push_str(&format!("To undo: {undo}"));
    }
    if remediation.is_empty() {
        remediation = "No action needed.".to_string();
    }

    let (status_id, status) = match activity {
        Activity::Close => (4, "Resolved"),
        _ => (1, "New"),
    };
    let mut out = Map::new();
    out.insert("activity_id".into(), json!(activity.ocsf_id()));
    out.insert("activity_name".into(), json!(activity.name()));
    out.insert("category_uid".into(), json!(CATEGORY_UID));
    out.insert("category_name".into(), json!("Findings"));
    out.insert("class_uid".into(), json!(CLASS_UID));
    out.insert("class_name".into(), json!("Detection Finding"));
    out.insert(
        "type_uid".into(),
        json!(CLASS_UID * 100 + u32::from(activity.ocsf_id())),
    );
    out.insert(
        "type_name".into(),
        json!(format!("Detection Finding: {}", activity.name())),
    );
    out.insert("severity_id".into(), json!(sev_id));
    out.insert("severity".into(), json!(sev));
    out.insert("status_id".into(), json!(status_id));
    out.insert("status".into(), json!(status));
    out.insert("time".into(), json!(time));
    out.insert("message".into(), json!(headline));
    out.insert("metadata".into(), metadata());
    out.insert("finding_info".into(), Value::Object(finding_info));
    out.insert(
        "cloud".into(),
        json!({"provider": "AWS", "region": alert.region, "account": {"uid": alert.account, "type": "AWS Account", "type_id": 10}}),
    );
    out.insert("actor".into(), Value::Object(actor));
    if let Some(ip) = &alert.source_ip {
        out.insert("src_endpoint".into(), json!({"ip": ip}));
    }
    out.insert(
        "resources".into(),
        json!(resources(
            partition,
            &alert.account,
            &alert.region,
            alert.cluster.as_deref(),
            alert.principal_arn.as_deref()
        )),
    );
    out.insert("evidences".into(), json!(evidences));
    out.insert("remediation".into(), json!({"desc": remediation}));
    let mut unmapped = Map::new();
    unmapped.insert("event_name".into(), json!(alert.event_name));
    if let Some(i) = &alert.incident {
        unmapped.insert("incident_id".into(), json!(i.id));
        unmapped.insert("incident_rule".into(), json!(i.rule));
    }
    if let Some(r) = &alert.resolves {
        unmapped.insert("resolves".into(), json!(r));
    }
    if let Some(p) = &alert.policy_arn {
        unmapped.insert("policy_arn".into(), json!(p));
    }
    if let Some(c) = &alert.error_code {
        unmapped.insert("error_code".into(), json!(c));
    }
    out.insert("unmapped".into(), Value::Object(unmapped));
    Value::Object(out)
}

/// A stable id for an audit finding (it has no event): the rule and the place it is about.
fn audit_uid(f: &AuditFinding) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [
        f.finding.rule.id,
        f.account.as_str(),
        f.region.as_str(),
        f.cluster.as_deref().unwrap_or(""),
        f.principal_arn.as_deref().unwrap_or(""),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let digest = h.finalize();
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("eaw-audit-{hex}")
}

/// One of the audit's findings as an OCSF Detection Finding (activity Create; `time` is when
/// the audited state was taken, in epoch milliseconds, 0 when unknown).
pub fn audit_finding(f: &AuditFinding, taken_at: Option<&str>) -> Value {
    let (sev_id, sev) = severity_id(f.severity());
    let time = millis(taken_at).unwrap_or(0);
    let partition = partition_of(f.principal_arn.as_deref());
    json!({
        "activity_id": 1,
        "activity_name": "Create",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Detection Finding",
        "type_uid": CLASS_UID * 100 + 1,
        "type_name": "Detection Finding: Create",
        "severity_id": sev_id,
        "severity": sev,
        "status_id": if f.counts() { 1 } else { 3 },
        "status": if f.counts() { "New" } else { "Suppressed" },
        "time": time,
        "message": f.finding.summary,
        "metadata": metadata(),
        "finding_info": {
            "uid": audit_uid(f),
            "title": f.finding.summary,
            "types": [f.finding.rule.id],
            "created_time": time,
            "last_seen_time": time,
        },
        "cloud": {"provider": "AWS", "region": f.region, "account": {"uid": f.account, "type": "AWS Account", "type_id": 10}},
        "resources": resources(partition, &f.account, &f.region, f.cluster.as_deref(), f.principal_arn.as_deref()),
        "remediation": {"desc": f.finding.rule.next_step},
        "unmapped": {"rule": f.finding.rule.id},
    })
}

/// The alert's OCSF line (no newline).
pub fn to_string(a: &Alert) -> String {
    alert(a).to_string()
}
