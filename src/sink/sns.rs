//! The alert topic: each alert, and each of the daily audit's messages, as one SNS message
//! (rendered by [`crate::render::sns`] and [`crate::render::digest`], sent by
//! [`crate::aws::sns`]).

use super::{AuditMessage, Delivering, Receipt, Sink, SinkError};
use crate::alert::Alert;
use crate::arn::TopicArn;
use crate::config::AlertFormat;
use crate::render::digest;
use crate::render::sns::{SNS_MAX_BYTES, SnsMessage, build_message};

/// The topic `ALERT_TOPIC_ARN` names.
pub struct SnsSink {
    client: aws_sdk_sns::Client,
    topic: TopicArn,
    format: AlertFormat,
}

impl SnsSink {
    pub fn new(client: aws_sdk_sns::Client, topic: TopicArn, format: AlertFormat) -> Self {
        SnsSink {
            client,
            topic,
            format,
        }
    }

    async fn send(&self, msg: &SnsMessage) -> Result<Receipt, SinkError> {
        let id = crate::aws::sns::publish(&self.client, &self.topic.arn, &wire(msg))
            .await
            .map_err(|e| SinkError::aws(self.name(), e))?;
        Ok(Receipt(format!("published {id}")))
    }
}

impl Sink for SnsSink {
    fn name(&self) -> &'static str {
        "sns"
    }

    fn deliver<'a>(&'a self, alert: &'a Alert) -> Delivering<'a> {
        Box::pin(async move {
            let msg = build_message(alert, self.topic.fifo, self.format, SNS_MAX_BYTES);
            self.send(&msg).await
        })
    }

    fn deliver_audit<'a>(&'a self, message: AuditMessage<'a>) -> Delivering<'a> {
        Box::pin(async move {
            let fifo = self.topic.fifo;
            let msg = match message {
                AuditMessage::Digest {
                    report,
                    snapshot,
                    notes,
                } => digest::digest_message(
                    report,
                    snapshot,
                    notes,
                    fifo,
                    self.format,
                    SNS_MAX_BYTES,
                ),
                AuditMessage::Drift { finding, report } => {
                    digest::drift_message(finding, report, fifo, self.format)
                }
            };
            self.send(&msg).await
        })
    }
}

/// The rendered message as SNS takes it.
pub fn wire(msg: &SnsMessage) -> crate::aws::sns::Message<'_> {
    crate::aws::sns::Message {
        subject: &msg.subject,
        message: &msg.message,
        attributes: msg
            .attributes
            .iter()
            .map(|a| (a.name, a.data_type, a.value.as_str()))
            .collect(),
        group_id: msg.group_id.as_deref(),
        dedup_id: msg.dedup_id.as_deref(),
    }
}
