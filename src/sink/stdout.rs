//! The dry run: with no alert topic, each alert (and each audit message) is logged as one line
//! on standard output, where the function's log group keeps it, and nothing is sent.

use super::{AuditMessage, Delivering, Receipt, Sink};
use crate::alert::Alert;
use crate::config::AlertFormat;
use crate::render;
use crate::render::digest;
use crate::render::sns::SNS_MAX_BYTES;

/// Logs what would have been published (audit messages rendered in `format`, as SNS would
/// have received them).
pub struct StdoutSink {
    pub format: AlertFormat,
}

impl Sink for StdoutSink {
    fn name(&self) -> &'static str {
        "stdout"
    }

    fn deliver<'a>(&'a self, alert: &'a Alert) -> Delivering<'a> {
        Box::pin(async move {
            tracing::info!(
                subject = %render::subject(alert),
                alert = %render::json::to_string(alert),
                "dry run (ALERT_TOPIC_ARN not set): alert logged, not published"
            );
            Ok(Receipt("dry-run".to_string()))
        })
    }

    fn deliver_audit<'a>(&'a self, message: AuditMessage<'a>) -> Delivering<'a> {
        Box::pin(async move {
            let format = self.format;
            let msg = match message {
                AuditMessage::Digest {
                    report,
                    snapshot,
                    notes,
                } => digest::digest_message(report, snapshot, notes, false, format, SNS_MAX_BYTES),
                AuditMessage::Drift { finding, report } => {
                    digest::drift_message(finding, report, false, format)
                }
            };
            tracing::info!(subject = %msg.subject, message = %msg.message, "dry run (ALERT_TOPIC_ARN not set): audit message logged, not published");
            Ok(Receipt("dry-run".to_string()))
        })
    }
}
