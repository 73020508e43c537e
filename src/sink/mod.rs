//! Where alerts go: every destination behind one trait, [`Sink`]. The Lambda builds its sinks
//! once ([`crate::lambda::Handler::new`]: one line per sink) and hands each alert, and each of
//! the daily audit's messages, to every one of them; a sink that fails does not stop the
//! others, and says whether a retry can help ([`SinkError::retryable`]).
//!
//! - [`SnsSink`]: the alert topic (`ALERT_TOPIC_ARN`), messages rendered by
//!   [`crate::render::sns`] and [`crate::render::digest`];
//! - [`StdoutSink`]: the dry run (no topic): each alert is logged as one line, not sent;
//! - [`SecurityHubSink`]: ASFF findings (`SECURITY_HUB=true`), one per incident, updated and
//!   resolved as it moves;
//! - [`PagerDutySink`]: Events API v2 (`PAGERDUTY_ROUTING_KEY_PARAMETER`), trigger and resolve
//!   with the incident as `dedup_key`.
//!
//! Which sink receives which alert is [`due`]: at or above the sink's minimum, or a lifecycle
//! event (an update, a revert) of a finding the sink already holds, whatever the minimum.
//!
//! Adding a sink: one file here implementing [`Sink`], and its line where sinks are built.

mod pagerduty;
mod securityhub;
mod sns;
mod stdout;

pub use pagerduty::{
    DEFAULT_EVENTS_URL, PagerDutySettings, PagerDutySink, pagerduty_event, pagerduty_severity,
};
pub use securityhub::{Importer, SecurityHubSink, asff_finding, partition_of_region};
pub use sns::{SnsSink, wire};
pub use stdout::StdoutSink;

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::alert::Alert;
pub use crate::alert::{Due, due};
use crate::audit::{AuditFinding, AuditReport};
use crate::aws::AwsError;
use crate::severity::Severity;

/// A delivery under way.
pub type Delivering<'a> = Pin<Box<dyn Future<Output = Result<Receipt, SinkError>> + Send + 'a>>;

/// Several deliveries under way (a backfill): one result per alert, in order.
pub type DeliveringAll<'a> =
    Pin<Box<dyn Future<Output = Vec<Result<Receipt, SinkError>>> + Send + 'a>>;

/// A destination for alerts.
pub trait Sink: Send + Sync {
    /// Its name in logs and receipts (`sns`, `stdout`).
    fn name(&self) -> &'static str;

    /// Deliver one alert.
    fn deliver<'a>(&'a self, alert: &'a Alert) -> Delivering<'a>;

    /// Deliver several alerts (`replay --sink`): one result per alert, in order. One at a
    /// time unless the sink batches (Security Hub: 100 findings a call).
    fn deliver_all<'a>(&'a self, alerts: &'a [&'a Alert]) -> DeliveringAll<'a> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(alerts.len());
            for a in alerts {
                out.push(self.deliver(a).await);
            }
            out
        })
    }

    /// The lowest severity this sink takes for a new finding (its own `*_MIN_SEVERITY`);
    /// updates and reverts of what it holds come whatever it says ([`due`]).
    fn min_severity(&self) -> Severity {
        Severity::Info
    }

    /// True when the sink keeps findings that later events update or close (Security Hub,
    /// PagerDuty): the Lambda then remembers which findings it holds.
    fn keeps_findings(&self) -> bool {
        false
    }

    /// Deliver one of the daily audit's messages. A sink that has no use for them says so in
    /// its receipt.
    fn deliver_audit<'a>(&'a self, message: AuditMessage<'a>) -> Delivering<'a> {
        let _ = message;
        Box::pin(async { Ok(Receipt(format!("not for the {} sink", self.name()))) })
    }
}

/// What the daily audit sends: one digest per run, one message per drift finding.
#[derive(Debug, Clone, Copy)]
pub enum AuditMessage<'a> {
    Digest {
        report: &'a AuditReport,
        /// Where the snapshot is kept (`s3://bucket/key`).
        snapshot: Option<&'a str>,
        /// What the reader should know about this run.
        notes: &'a [String],
    },
    Drift {
        finding: &'a AuditFinding,
        report: &'a AuditReport,
    },
}

/// What a sink says it did: `published <message id>`, `dry-run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt(pub String);

impl fmt::Display for Receipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a sink did not deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkError {
    /// The sink's name.
    pub sink: &'static str,
    /// The service's error code, when it answered with one.
    pub code: Option<String>,
    /// What went wrong, naming the operation.
    pub message: String,
    retryable: bool,
}

impl SinkError {
    /// True when delivering the same alert again may succeed (throttling, a 5xx, a timeout);
    /// false when the sink refused it for good (authorization, a missing destination, an
    /// invalid request).
    pub fn retryable(&self) -> bool {
        self.retryable
    }

    /// A failure the sink describes itself.
    pub fn new(
        sink: &'static str,
        code: Option<String>,
        message: impl Into<String>,
        retryable: bool,
    ) -> Self {
        SinkError {
            sink,
            code,
            message: message.into(),
            retryable,
        }
    }

    /// An AWS call's failure, with its operation and code.
    pub fn aws(sink: &'static str, error: AwsError) -> Self {
        SinkError {
            sink,
            code: error.code.clone(),
            message: error.to_string(),
            retryable: error.retryable(),
        }
    }
}

impl fmt::Display for SinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SinkError {}
