//! SNS delivery: one message per alert, readable by people and filterable by machines.
//!
//! [`build_message`] is pure (tested without AWS): `MessageStructure=json` so e-mail gets the
//! text rendering while SQS/Lambda/HTTPS subscribers get the JSON alert; message attributes for
//! subscription filter policies; FIFO group and deduplication ids; the 256 KiB size limit, met by
//! trimming enrichment detail, never findings. [`publish`] only sends what it is given.

use serde_json::json;

use crate::alert::Alert;
use crate::text::clean;

/// SNS's limit for a whole message (body plus attributes).
pub const SNS_MAX_BYTES: usize = 262_144;

/// What subscribers get besides e-mail text and the JSON alert (`ALERT_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertFormat {
    /// JSON alert for machine subscribers, text for e-mail.
    Default,
    /// Additionally, HTTPS subscribers (AWS Chatbot / Amazon Q Developer in chat applications)
    /// get a custom-notification document, so one topic feeds Slack or Teams too.
    Chatbot,
}

impl AlertFormat {
    pub const ALL: &'static [AlertFormat] = &[Self::Default, Self::Chatbot];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Chatbot => "chatbot",
        }
    }
}

crate::closed_enum_text!(AlertFormat, "alert format");

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

/// True for FIFO topic ARNs.
pub fn is_fifo(topic_arn: &str) -> bool {
    topic_arn.ends_with(".fifo")
}

/// Build the SNS message for an alert, trimming enrichment detail until it fits `max_bytes`.
pub fn build_message(
    alert: &Alert,
    topic_arn: &str,
    format: AlertFormat,
    max_bytes: usize,
) -> SnsMessage {
    let mut alert = alert.clone();
    let mut msg = render(&alert, topic_arn, format);
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
                    e.effective_access = e.effective_access.as_deref().map(|s| clean(s, 1000));
                }
            }
        }
        step += 1;
        msg = render(&alert, topic_arn, format);
    }
    msg
}

fn render(alert: &Alert, topic_arn: &str, format: AlertFormat) -> SnsMessage {
    let json_alert = serde_json::to_string(alert).unwrap_or_default();
    let text = alert.text();
    let mut body = json!({
        "default": json_alert,
        "email": text,
        "email-json": json_alert,
        "sqs": json_alert,
        "lambda": json_alert,
        "https": json_alert,
        "http": json_alert,
        "firehose": json_alert,
    });
    if format == AlertFormat::Chatbot {
        let chat = chatbot_document(alert).to_string();
        body["https"] = json!(chat);
        body["http"] = json!(chat);
    }
    let mut attributes = vec![
        Attribute {
            name: "severity",
            data_type: "String",
            value: alert.severity.as_str().to_string(),
        },
        Attribute {
            name: "severity_rank",
            data_type: "Number",
            value: alert.severity.rank().to_string(),
        },
        Attribute {
            name: "rules",
            data_type: "String.Array",
            value: serde_json::to_string(&alert.rule_ids()).unwrap_or_else(|_| "[]".into()),
        },
        Attribute {
            name: "event_name",
            data_type: "String",
            value: alert.event_name.clone(),
        },
    ];
    // SNS rejects empty attribute values: absent values are left out, not sent empty.
    for (name, value) in [
        ("cluster", alert.cluster.as_deref()),
        ("account", Some(alert.account.as_str())),
        ("region", Some(alert.region.as_str())),
    ] {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            attributes.push(Attribute {
                name,
                data_type: "String",
                value: v.to_string(),
            });
        }
    }
    let (group_id, dedup_id) = if is_fifo(topic_arn) {
        let group = format!(
            "{}/{}/{}",
            alert.account,
            alert.region,
            alert.cluster.as_deref().unwrap_or("-")
        );
        (Some(fifo_id(&group)), Some(fifo_id(&dedup_source(alert))))
    } else {
        (None, None)
    };
    SnsMessage {
        subject: alert.subject(),
        message: body.to_string(),
        attributes,
        group_id,
        dedup_id,
    }
}

/// The eventID identifies a CloudTrail event across redeliveries; without one (hand-made
/// input), a stable hash of the alert stands in.
fn dedup_source(alert: &Alert) -> String {
    if !alert.event_id.is_empty() {
        return alert.event_id.clone();
    }
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(alert)
        .unwrap_or_default()
        .hash(&mut h);
    format!("{:016x}", h.finish())
}

/// FIFO ids: at most 128 characters from SNS's allowed set.
fn fifo_id(s: &str) -> String {
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

/// Escape text for Slack/Teams markdown.
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\`*_{}[]()#+-.!|<>~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The AWS Chatbot / Amazon Q Developer custom-notification document.
pub fn chatbot_document(alert: &Alert) -> serde_json::Value {
    let findings: Vec<String> = alert
        .findings
        .iter()
        .map(|f| {
            format!(
                "• *{}* `{}`: {}",
                f.severity.as_str().to_ascii_uppercase(),
                md(&f.rule),
                md(&f.summary)
            )
        })
        .collect();
    let mut description = findings.join("\n");
    description.push_str(&format!(
        "\n\nCaller: {}\nCluster: {} ({}, {})\nEvent: {} `{}`",
        md(&alert.actor),
        md(alert.cluster.as_deref().unwrap_or("-")),
        md(&alert.account),
        md(&alert.region),
        md(&alert.event_name),
        md(&alert.event_id)
    ));
    let next_steps: Vec<String> = alert
        .findings
        .iter()
        .filter_map(|f| crate::rules::find(&f.rule).map(|r| md(r.next_step)))
        .fold(Vec::new(), |mut acc, s| {
            if !acc.contains(&s) {
                acc.push(s);
            }
            acc
        });
    json!({
        "version": "1.0",
        "source": "custom",
        "id": alert.event_id,
        "content": {
            "textType": "client-markdown",
            "title": md(&alert.subject()),
            "description": clean(&description, 8000),
            "nextSteps": next_steps,
            "keywords": [alert.severity.as_str(), alert.cluster.as_deref().unwrap_or("no-cluster"), alert.event_name],
        },
        "metadata": {
            "threadId": format!("eks-access-watch/{}/{}", alert.account, alert.cluster.as_deref().unwrap_or("-")),
            "summary": alert.subject(),
            "eventType": alert.event_name,
            "relatedResources": alert.principal_arn.iter().collect::<Vec<_>>(),
            "additionalContext": {"severity": alert.severity.as_str(), "rules": alert.rule_ids().join(",")},
        }
    })
}

#[cfg(feature = "aws")]
pub use send::{PublishError, publish};

/// The one part that talks to SNS.
#[cfg(feature = "aws")]
mod send {
    use aws_sdk_sns::Client;
    use aws_sdk_sns::error::{ProvideErrorMetadata, SdkError};
    use aws_sdk_sns::types::MessageAttributeValue;

    use super::SnsMessage;

    /// Why a publish failed, after the SDK's own retries.
    #[derive(Debug, thiserror::Error)]
    #[error("SNS Publish to {topic_arn} failed: {detail}")]
    pub struct PublishError {
        pub topic_arn: String,
        pub detail: String,
    }

    /// Send one message. Returns the SNS message id.
    pub async fn publish(
        client: &Client,
        topic_arn: &str,
        msg: &SnsMessage,
    ) -> Result<String, PublishError> {
        let mut req = client
            .publish()
            .topic_arn(topic_arn)
            .subject(&msg.subject)
            .message(&msg.message)
            .message_structure("json");
        for a in &msg.attributes {
            let value = MessageAttributeValue::builder()
                .data_type(a.data_type)
                .string_value(&a.value)
                .build()
                .map_err(|e| PublishError {
                    topic_arn: topic_arn.to_string(),
                    detail: format!("attribute {}: {e}", a.name),
                })?;
            req = req.message_attributes(a.name, value);
        }
        if let Some(g) = &msg.group_id {
            req = req.message_group_id(g);
        }
        if let Some(d) = &msg.dedup_id {
            req = req.message_deduplication_id(d);
        }
        let out = req.send().await.map_err(|e| PublishError {
            topic_arn: topic_arn.to_string(),
            detail: match &e {
                SdkError::ServiceError(s) => format!(
                    "{}: {}",
                    s.err().code().unwrap_or("ServiceError"),
                    s.err().message().unwrap_or("no message")
                ),
                other => format!("{other}: {}", crate::enrich::root_cause(other)),
            },
        })?;
        Ok(out.message_id().unwrap_or_default().to_string())
    }
}
