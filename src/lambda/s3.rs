//! The organisation trail's log objects, announced by S3 notifications (through SQS, SNS or
//! EventBridge): each object is read from S3 as a stream, through gzip, into the same Records
//! splitter `replay` uses (flat memory whatever its size), and every watched record is judged
//! and delivered exactly as if EventBridge had delivered it (same pipeline, same delivered-once
//! store: with both paths on, an event alerts once).
//!
//! An SQS batch reports partial failures (`ReportBatchItemFailures`): an object that cannot be
//! read, or whose alerts a sink did not take, is its message's failure and the message comes
//! back (then goes to the queue's dead-letter queue); the other messages succeed. Objects are
//! read one after another and the time budget is checked before each: when it is spent, the
//! messages not reached are returned as failures, so a large batch never times out as a whole.

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufReader;

use serde::Serialize;

use super::{Handler, HandlerError, Response};
use crate::aws::AwsError;
use crate::context::History;
use crate::ingest::{self, InputError, ObjectRef, Options, Outcome, Stats};
use crate::model::AccessEvent;
use crate::sink::SinkError;

/// One message to receive again, as Lambda's SQS event source mapping reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// Why an object could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("{object}: no S3 client (this deployment does not read the trail's bucket)")]
    NoClient { object: String },
    #[error("{object}: {error}")]
    Get { object: String, error: AwsError },
    #[error("{0}")]
    Read(InputError),
    #[error("{object}: the reader stopped: {message}")]
    Stopped { object: String, message: String },
}

impl ObjectError {
    /// Trying again may help: S3 throttled or failed, the stream broke, a KMS key refused for
    /// now. A corrupt object or a missing client cannot succeed on a retry (the dead-letter
    /// queue, or the failure destination, keeps it).
    pub fn retryable(&self) -> bool {
        match self {
            ObjectError::NoClient { .. } => false,
            ObjectError::Get { error, .. } => error.retryable(),
            ObjectError::Read(InputError::Io { .. }) => true,
            ObjectError::Read(_) => false,
            ObjectError::Stopped { .. } => true,
        }
    }
}

/// What one object held.
#[derive(Debug, Default)]
pub(super) struct ObjectRead {
    pub events: Vec<AccessEvent>,
    /// Skips counted by reason (slug): a log file is mostly other services' records, so
    /// they are counted, not listed.
    pub skips: BTreeMap<&'static str, u64>,
    /// Records that could not be read; the rest of the object was.
    pub problems: Vec<InputError>,
    pub stats: Stats,
}

/// Read one log object: GetObject, the body streamed through gzip into the ingest (the
/// `Records` splitter), on a blocking thread so the runtime stays free.
pub(super) async fn read_object(
    client: &aws_sdk_s3::Client,
    object: &ObjectRef,
    config: crate::config::RuleConfig,
    region: Option<String>,
) -> Result<ObjectRead, ObjectError> {
    let name = object.to_string();
    let body = crate::aws::s3::open_in(
        client,
        object.region.as_deref(),
        &object.bucket,
        &object.key,
    )
    .await
    .map_err(|error| ObjectError::Get {
        object: name.clone(),
        error,
    })?;
    let job = tokio::task::spawn_blocking(move || {
        let reader = BufReader::with_capacity(
            256 * 1024,
            tokio_util::io::SyncIoBridge::new(tokio::io::BufReader::new(body)),
        );
        let reader = ingest::decompress(reader, &name).map_err(ObjectError::Read)?;
        let options = Options::new(&config).region(region.as_deref());
        scan_object(&name, reader, &options)
    });
    match job.await {
        Ok(result) => result,
        Err(e) => Err(ObjectError::Stopped {
            object: object.to_string(),
            message: e.to_string(),
        }),
    }
}

/// The pure half of [`read_object`]: an object's (decompressed) bytes -> its watched events,
/// completed by the object's own history, and its skips counted by reason.
pub(super) fn scan_object(
    name: &str,
    reader: impl std::io::BufRead,
    options: &Options,
) -> Result<ObjectRead, ObjectError> {
    let mut read = ObjectRead::default();
    let mut history = History::default();
    let mut nested = 0u64;
    let stats = ingest::scan(name, reader, options, &mut |outcome| match outcome {
        Outcome::Watched {
            location,
            mut event,
        } => match history.observe(&mut event) {
            Some(reason) => {
                tracing::info!(at = %location, reason = reason.slug(), "skipped: {reason}");
                *read.skips.entry(reason.slug()).or_insert(0) += 1;
            }
            None => read.events.push(*event),
        },
        Outcome::Skipped { reason, .. } => *read.skips.entry(reason.slug()).or_insert(0) += 1,
        // A log file does not announce other objects: counted, never fetched (no loops).
        Outcome::Object { .. } => nested += 1,
        Outcome::Invalid(e) => read.problems.push(e),
    })
    .map_err(ObjectError::Read)?;
    if nested > 0 {
        *read.skips.entry("notification-in-object").or_insert(0) += nested;
    }
    read.stats = stats;
    Ok(read)
}

impl Handler {
    /// Read, judge and deliver each object in turn while the budget lasts. Objects an SQS
    /// message announced fail as that message (`batchItemFailures`); an object outside a
    /// batch (EventBridge straight to the function) fails the invocation. Returns the sinks'
    /// failures for objects outside a batch (the caller decides as for any event).
    pub(super) async fn read_objects(
        &self,
        objects: Vec<ObjectRef>,
        budget: super::Budget,
        response: &mut Response,
    ) -> Result<Vec<SinkError>, HandlerError> {
        let mut failed: BTreeSet<String> = BTreeSet::new();
        let mut unbatched_failures = Vec::new();
        let mut skips: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut spent = false;
        for object in objects {
            let message = object.message_id.clone();
            if message.as_ref().is_some_and(|m| failed.contains(m)) {
                // Its message comes back whole: reading the rest now would only repeat it.
                continue;
            }
            if spent || budget.is_spent() {
                spent = true;
                response
                    .objects
                    .push(format!("{object}: not read (time budget spent)"));
                match message {
                    Some(id) => {
                        failed.insert(id);
                        continue;
                    }
                    None => {
                        return Err(HandlerError::Object(ObjectError::Stopped {
                            object: object.to_string(),
                            message: "the invocation's time budget is spent".into(),
                        }));
                    }
                }
            }
            let read = match &self.clients.s3 {
                Some(client) => {
                    read_object(
                        client,
                        &object,
                        self.settings.rules.clone(),
                        self.settings.region.clone(),
                    )
                    .await
                }
                None => Err(ObjectError::NoClient {
                    object: object.to_string(),
                }),
            };
            let read = match read {
                Ok(read) => read,
                Err(e) => {
                    tracing::error!(object = %object, error = %e, retryable = e.retryable(), "object not read");
                    response.objects.push(format!("{object}: failed: {e}"));
                    match message {
                        Some(id) => {
                            failed.insert(id);
                            continue;
                        }
                        None => return Err(HandlerError::Object(e)),
                    }
                }
            };
            for problem in &read.problems {
                // The object was read; a record in it that cannot be is named, never hidden
                // (a retry would read it the same way).
                tracing::error!(object = %object, error = %problem, "record not read");
                response.skipped.push(problem.to_string());
            }
            for (reason, n) in &read.skips {
                *skips.entry(reason).or_insert(0) += n;
            }
            response.objects.push(format!(
                "{object}: {} records, {} watched, {} problems",
                read.stats.records,
                read.events.len(),
                read.problems.len()
            ));
            // The budget is checked between objects: an object once read is delivered whole.
            let (sinks_failed, _) = self
                .deliver_all(read.events, super::Budget::unlimited(), response)
                .await;
            if !sinks_failed.is_empty() {
                match message {
                    // The message comes back; what was delivered is marked delivered-once.
                    Some(id) => {
                        for e in &sinks_failed {
                            response
                                .objects
                                .push(format!("{object}: not delivered: {e}"));
                        }
                        failed.insert(id);
                    }
                    None => unbatched_failures.extend(sinks_failed),
                }
            }
        }
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        let counts: BTreeMap<&str, u64> = skips.into_iter().collect();
        for line in super::skipped_metric_lines(&counts, millis) {
            println!("{line}");
        }
        response.batch_item_failures = failed
            .into_iter()
            .map(|item_identifier| BatchItemFailure { item_identifier })
            .collect();
        Ok(unbatched_failures)
    }

    /// The trail self-check's bucket half: with `ORG_TRAIL_BUCKET` set, ask the bucket whether
    /// it sends its notifications to the queue; `no-trail-notifications` goes out like any
    /// alert. Returns how many findings it made.
    pub(super) async fn check_trail_notifications(
        &self,
        response: &mut Response,
    ) -> Result<usize, HandlerError> {
        let (Some(trail), Some(s3)) = (&self.settings.org_trail, &self.clients.s3) else {
            return Ok(0);
        };
        let change =
            crate::aws::s3::notification_status(s3, &trail.bucket, trail.queue_arn.as_deref())
                .await;
        let account = self.settings.home_account.clone().unwrap_or_default();
        let region = self.settings.region.clone().unwrap_or_default();
        let event = crate::trail::selfcheck::notifications_event(
            change,
            &account,
            &region,
            &crate::aws::now(),
        );
        let findings = match crate::pipeline::judge(
            &event,
            &crate::context::Context::default(),
            &self.settings.rules,
            None,
            (self.today)(),
        ) {
            crate::pipeline::Judged::Alert(alert) => alert.findings.len(),
            crate::pipeline::Judged::Disabled { .. } => 0,
        };
        if findings > 0 {
            match self
                .alert(&event, None, &mut super::sinks::SinkState::off())
                .await
            {
                super::Handled::Alert(delivery, failed) => {
                    response.alerts.push(delivery);
                    if !failed.is_empty() {
                        return Err(HandlerError::Publish(failed));
                    }
                }
                super::Handled::Disabled(reason) => response.skipped.push(reason),
            }
        }
        Ok(findings)
    }
}
