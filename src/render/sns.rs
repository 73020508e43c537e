//! SNS delivery: one message per alert, readable by people and filterable by machines.
//!
//! [`build_message`] is pure (tested without AWS): `MessageStructure=json` with a `default`
//! body (the JSON alert, which SNS gives every protocol without a key of its own: SQS, Lambda,
//! HTTPS, Firehose, e-mail-json) and an `email` body (the text rendering), plus the chat
//! document for HTTPS subscribers only when `ALERT_FORMAT=chatbot`; message attributes for
//! subscription filter policies; FIFO group and deduplication ids; the 256 KiB size limit, met
//! by trimming enrichment detail, never findings. [`crate::aws::sns::publish`] only sends what
//! it is given.

use serde_json::json;

use crate::alert::Alert;
use crate::config::AlertFormat;
use crate::render;
use crate::sanitize::clean;

/// SNS's limit for a whole message (body plus attributes).
pub const SNS_MAX_BYTES: usize = 262_144;

/// A message attribute: name, SNS data type, value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: &'static str,
    pub data_type: &'static str,
    pub value: String,
}

/// Everything `Publish` needs, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsMessage {
    pub subject: String,
    /// A JSON object keyed by protocol (`MessageStructure=json`).
    pub message: String,
    pub attributes: Vec<Attribute>,
    /// FIFO topics only: account/region/cluster, so one cluster's alerts stay in order.
    pub group_id: Option<String>,
    /// FIFO topics only: the CloudTrail eventID, so a redelivered event is not alerted twice.
    pub dedup_id: Option<String>,
}

impl SnsMessage {
    /// Bytes SNS counts against its limit.
    pub fn size(&self) -> usize {
        self.message.len()
            + self
                .attributes
                .iter()
                .map(|a| a.name.len() + a.data_type.len() + a.value.len())
                .sum::<usize>()
    }
}

/// Build the SNS message for an alert, trimming enrichment detail until it fits `max_bytes`.
/// `fifo`: the topic is a FIFO topic (group and deduplication ids are set).
pub fn build_message(
    alert: &Alert,
    fifo: bool,
    format: AlertFormat,
    max_bytes: usize,
) -> SnsMessage {
    let mut alert = alert.clone();
    // Rendered from the whole enrichment, before any of it is trimmed.
    let mut access = render::effective_access_of(&alert);
    let mut msg = compose(&alert, access.as_deref(), fifo, format);
    // Step by step: the bulky parts of enrichment first, then all of it except its status.
    let mut step = 0;
    while msg.size() > max_bytes && step < 3 {
        if let Some(e) = alert.enrichment.as_mut() {
            e.trimmed = true;
            match step {
                0 => {
                    e.associated_policies = None;
                    if let Some(c) = e.cluster.as_mut() {
                        c.tags.clear();
                    }
                    if let Some(a) = e.access_entry.as_mut() {
                        a.tags.clear();
                    }
                }
                1 => {
                    e.remaining_admins = e.remaining_admins.take().map(|mut c| {
                        c.admins.truncate(10);
                        c
                    });
                    e.errors.truncate(3);
                }
                _ => {
                    e.access_entry = None;
                    e.cluster = None;
                    e.remaining_admins = None;
                    access = access.as_deref().map(|s| clean(s, 1000));
                }
            }
        }
        step += 1;
        msg = compose(&alert, access.as_deref(), fifo, format);
    }
    // Last: the minimal form, which always fits, instead of a publish SNS refuses.
    if msg.size() > max_bytes {
        msg = minimal(&alert, msg.size(), fifo);
    }
    msg
}

/// Where the record behind an alert can be read in full.
pub fn record_location(alert: &Alert) -> String {
    let id = alert.event_id.as_deref().unwrap_or("(no event id)");
    let time = alert.event_time.as_deref().unwrap_or("an unknown time");
    if alert.operation.kubernetes_call().is_some() {
        format!(
            "Kubernetes audit event {id} at {time} in CloudWatch Logs log group /aws/eks/{}/cluster, account {}, region {}",
            alert.cluster.as_deref().unwrap_or("(unknown cluster)"),
            alert.account,
            alert.region
        )
    } else {
        format!(
            "CloudTrail event {id} at {time} in account {}, region {}: CloudTrail Event history (90 days) or the trail's S3 bucket",
            alert.account, alert.region
        )
    }
}

/// The alert in its minimal form, for one whose full rendering does not fit SNS's limit even
/// with the enrichment trimmed: the rules, the severity, the event id and where the record
/// is, every text bounded. Subscribers tell it by `"minimal": true`.
fn minimal(alert: &Alert, full_size: usize, fifo: bool) -> SnsMessage {
    let rules = alert.rule_ids();
    let event_name = clean(&alert.event_name, 256);
    let cluster = alert.cluster.as_deref().map(|c| clean(c, 256));
    let record = clean(&record_location(alert), 2048);
    let why = format!(
        "the full alert is {full_size} bytes, over SNS's {SNS_MAX_BYTES}-byte limit: read the record for the rest"
    );
    let document = json!({
        "minimal": true,
        "why": why,
        "event_id": alert.event_id.as_deref().map(|i| clean(i, 256)),
        "event_name": event_name,
        "event_time": alert.event_time.as_deref().map(|t| clean(t, 64)),
        "account": clean(&alert.account, 64),
        "region": clean(&alert.region, 64),
        "cluster": cluster,
        "severity": alert.severity,
        "rules": rules,
        "record": record,
    });
    let email = format!(
        "{}\n\nSeverity:  {}\nRules:     {}\nEvent:     {} {}\nRecord:    {record}\n\n(minimal form: {why})\n",
        render::subject(alert),
        alert.severity.upper(),
        rules.join(", "),
        event_name,
        alert
            .event_id
            .as_deref()
            .map(|i| clean(i, 256))
            .unwrap_or_default(),
    );
    let json = document.to_string();
    let body = json!({"default": json, "email": email}).to_string();
    let attributes = attributes(
        alert.severity,
        &rules,
        &event_name,
        cluster.as_deref(),
        Some(alert.account.as_str()),
        Some(alert.region.as_str()),
    );
    let (group_id, dedup_id) = if fifo {
        let group = format!(
            "{}/{}/{}",
            alert.account,
            alert.region,
            alert.cluster.as_deref().unwrap_or("-")
        );
        (
            Some(fifo_id(&group)),
            Some(fifo_id(&dedup_source(alert, &json))),
        )
    } else {
        (None, None)
    };
    SnsMessage {
        subject: render::subject(alert),
        message: body,
        attributes,
        group_id,
        dedup_id,
    }
}

fn compose(alert: &Alert, access: Option<&str>, fifo: bool, format: AlertFormat) -> SnsMessage {
    let document = render::json::document_with_access(alert, access.map(str::to_string));
    let json = serde_json::to_string(&document).unwrap_or_default();
    let body = protocol_bodies(
        json.clone(),
        render::text_with_access(alert, access),
        format,
        || render::chat::document(alert),
    );
    let mut attributes = attributes(
        alert.severity,
        &alert.rule_ids(),
        &alert.event_name,
        alert.cluster.as_deref(),
        Some(alert.account.as_str()),
        Some(alert.region.as_str()),
    );
    // Only with a tuning file: the rules whose findings an exception suppressed (they are not
    // in `rules`, so a filter on `rules` never routes them).
    let suppressed = alert.suppressed_rule_ids();
    if !suppressed.is_empty() {
        attributes.push(Attribute {
            name: "suppressed_rules",
            data_type: "String.Array",
            value: serde_json::to_string(&suppressed).unwrap_or_else(|_| "[]".into()),
        });
    }
    // Subscribers filter or group by incident.
    if let Some(i) = &alert.incident {
        attributes.push(Attribute {
            name: "incident",
            data_type: "String",
            value: i.id.clone(),
        });
    }
    let (group_id, dedup_id) = if fifo {
        let group = format!(
            "{}/{}/{}",
            alert.account,
            alert.region,
            alert.cluster.as_deref().unwrap_or("-")
        );
        (
            Some(fifo_id(&group)),
            Some(fifo_id(&dedup_source(alert, &json))),
        )
    } else {
        (None, None)
    };
    SnsMessage {
        subject: render::subject(alert),
        message: body,
        attributes,
        group_id,
        dedup_id,
    }
}

/// The `MessageStructure=json` body: `default` (JSON for machines: SQS, Lambda, HTTPS,
/// Firehose, e-mail-json), `email` (the text), and with `ALERT_FORMAT=chatbot` the chat
/// document for HTTPS subscribers.
pub fn protocol_bodies(
    default: String,
    email: String,
    format: AlertFormat,
    chat: impl FnOnce() -> serde_json::Value,
) -> String {
    let mut body = json!({"default": default, "email": email});
    match format {
        AlertFormat::Default => {}
        AlertFormat::Chatbot => {
            let chat = chat().to_string();
            body["https"] = json!(chat);
            body["http"] = json!(chat);
        }
    }
    body.to_string()
}

/// The message attributes subscription filter policies use; absent or empty values are left
/// out (SNS rejects empty attribute values).
pub fn attributes(
    severity: crate::severity::Severity,
    rules: &[&str],
    event_name: &str,
    cluster: Option<&str>,
    account: Option<&str>,
    region: Option<&str>,
) -> Vec<Attribute> {
    let mut attributes = vec![
        Attribute {
            name: "severity",
            data_type: "String",
            value: severity.as_str().to_string(),
        },
        Attribute {
            name: "severity_rank",
            data_type: "Number",
            value: severity.rank().to_string(),
        },
        Attribute {
            name: "rules",
            data_type: "String.Array",
            value: serde_json::to_string(rules).unwrap_or_else(|_| "[]".into()),
        },
        Attribute {
            name: "event_name",
            data_type: "String",
            value: event_name.to_string(),
        },
    ];
    for (name, value) in [
        ("cluster", cluster),
        ("account", account),
        ("region", region),
    ] {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            attributes.push(Attribute {
                name,
                data_type: "String",
                value: v.to_string(),
            });
        }
    }
    attributes
}

/// The eventID identifies a CloudTrail event across redeliveries; without one (hand-made
/// input), a stable hash of the alert stands in.
fn dedup_source(alert: &Alert, json: &str) -> String {
    if let Some(id) = alert.event_id.as_deref() {
        return id.to_string();
    }
    stable_hash(json)
}

/// A hash of `text` that stays the same across runs of one build (FIFO deduplication ids).
pub fn stable_hash(text: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    format!("{:016x}", h.finish())
}

/// FIFO ids: at most 128 characters from SNS's allowed set.
pub fn fifo_id(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(128)
        .collect()
}
