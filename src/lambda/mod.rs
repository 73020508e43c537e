//! The Lambda handler: the same library path as `replay` (ingest -> enrich -> classify ->
//! tuning), then SNS delivery. The binary (`src/bin/lambda.rs`) only reads the environment,
//! reads the tuning file ([`load_tuning`]), builds the clients once and hands them here.
//!
//! It takes every payload the deployment sends it: EventBridge events (CloudTrail records),
//! SQS batches and its own failure records being redriven, and scheduled tasks
//! (`{"task": "trail-self-check"}`). The payload arrives as raw JSON: the runtime does not
//! parse it, so a record with a lone surrogate escape still reaches the rules.
//!
//! Nothing is lost. A publish that may succeed later (throttling, a 5xx, a timeout) fails the
//! invocation, so Lambda retries it and its failure destination keeps it. A publish SNS
//! refuses for good (authorization, a missing topic, an invalid parameter, a KMS key that
//! denies) and input that cannot be read cannot succeed on a retry: with a failure queue
//! configured, the event goes there at once with the reason; without one, the invocation
//! fails and Lambda's retries and destination decide. Skipped events are logged at WARN and
//! counted per reason.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::alert::Alert;
use crate::aws::AwsError;
use crate::closed::{UnknownValue, closed_enum};

pub mod budget;
pub mod daily_audit;
pub mod leftover;
// The organisation trail's log objects that S3 notifications announce (SQS batches).
mod s3;
pub use budget::Budget;
pub use s3::BatchItemFailure;
// The DynamoDB table as the state store (`impl Store for DynamoStore`).
mod store;
// Which sinks took each event and hold each finding (issue 19: one behaviour for every sink).
pub mod sinks;
mod tuning_file;
mod verify_trail;
use crate::config::{ConfigError, LambdaSettings};
use crate::context::eks::{EnrichSettings, Enricher, Remembered};
use futures::stream::{self, StreamExt};
use sinks::SinkState;
use std::sync::Arc;
pub use tuning_file::{load_tuning, sha256_hex, silenced_metric, tuning_invalid_event};
pub use verify_trail::VerifyTaskError;

impl From<VerifyTaskError> for HandlerError {
    fn from(e: VerifyTaskError) -> Self {
        HandlerError::VerifyTrail(Box::new(e))
    }
}

use crate::config::CorrelationSettings;
use crate::context::correlate::{self, Correlation, View};
use crate::context::state::{Commit, Store};
use crate::context::{Context, History};
use crate::ingest::{self, InputError, Options, Outcome};
use crate::model::AccessEvent;
use crate::operation::Skip;
use crate::pipeline::{self, Judged};
use crate::render;
use crate::severity::Severity;
use crate::sink::{Due, PagerDutySink, SecurityHubSink, Sink, SinkError, SnsSink, StdoutSink};
use crate::tuning::{self, Tuning};

/// The Lambda's configuration: the environment's settings and the tuning file they name.
#[derive(Debug, Clone)]
pub struct Setup {
    pub settings: LambdaSettings,
    /// The tuning file, once read ([`load_tuning`]).
    pub tuning: Option<Tuning>,
    /// Why the tuning file is not applied (it cannot be read or is invalid), each problem
    /// naming its line: published as `tuning-invalid` at the cold start.
    pub tuning_problems: Vec<String>,
    /// The SHA-256 of the tuning file's text, when one was read (logged at each cold start).
    pub tuning_sha256: Option<String>,
}

impl From<LambdaSettings> for Setup {
    fn from(settings: LambdaSettings) -> Self {
        Setup {
            settings,
            tuning: None,
            tuning_problems: Vec::new(),
            tuning_sha256: None,
        }
    }
}

/// Add the tuning file to the settings: its approved callers and break-glass roles join the
/// environment's.
///
/// Refused when the file names a break-glass role the environment does not: the EventBridge
/// rule that delivers role assumptions is built from `BREAK_GLASS_ROLE_ARNS` (the template's
/// `BreakGlassRoleArns`), or with it empty from the naming convention, so assumptions of any
/// other role would never reach the function.
pub fn with_tuning(mut settings: LambdaSettings, tuning: Tuning) -> Result<Setup, ConfigError> {
    let env = &settings.rules;
    let problems: Vec<String> = tuning
        .rules
        .break_glass_roles
        .iter()
        // With none configured, EventBridge delivers the roles named like break-glass
        // (BREAK_GLASS_SPELLINGS), exactly what `is_break_glass` then accepts.
        .filter(|role| !env.is_break_glass(Some(role)))
        .map(|role| {
            format!(
                "{}: break_glass_roles: `{role}` is not in BREAK_GLASS_ROLE_ARNS, so EventBridge never delivers its role assumptions; add it to that variable (the template's BreakGlassRoleArns parameter) too",
                tuning.source
            )
        })
        .collect();
    if !problems.is_empty() {
        return Err(ConfigError { problems });
    }
    settings.rules = settings.rules.merge(&tuning.rules);
    Ok(Setup {
        tuning: Some(tuning),
        ..Setup::from(settings)
    })
}

closed_enum! {
    /// A scheduled task: the template's schedules invoke the function with `{"task": "<name>"}`.
    pub enum Task ("scheduled task") {
        /// Confirm that a trail logs management write events in this region.
        TrailSelfCheck = "trail-self-check",
        /// Audit standing access and drift, publish the digest, store the snapshot (the audit
        /// function's daily schedule).
        Audit = "audit",
        /// Say the function runs (the hourly schedule): the dead man's switch's metric, whose
        /// absence alarms.
        Heartbeat = "heartbeat",
        /// Prove yesterday's organisation trail from its digests (`verify-trail`'s daily run).
        VerifyTrail = "verify-trail",
    }
}

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The payload (or part of it) is not something we can read. Retrying cannot help.
    #[error("invalid input: {}", join(.0))]
    InvalidInput(Vec<InputError>),
    /// A schedule named a task this build does not run.
    #[error("invalid input: {0}")]
    UnknownTask(UnknownValue),
    /// A sink did not take alerts (after its own retries).
    #[error("{} alert(s) not delivered: {}", .0.len(), join(.0))]
    Publish(Vec<SinkError>),
    /// An event that cannot succeed on a retry could not be parked in the failure queue.
    #[error("could not send the event to the failure queue ({reason}): {error}")]
    FailureQueue { reason: String, error: AwsError },
    /// The time budget ended before these events were handled (without a failure queue to
    /// park them in).
    #[error("{0} event(s) not handled before the invocation's time budget ended")]
    OutOfTime(usize),
    /// An object an S3 notification announced (outside an SQS batch, which reports it as
    /// the message's failure instead) could not be read.
    #[error("{0}")]
    Object(s3::ObjectError),
    /// The scheduled audit (`{"task": "audit"}`) did not complete.
    #[error("audit: {0}")]
    Audit(#[from] crate::lambda::daily_audit::RunError),
    /// The daily trail verification (`{"task": "verify-trail"}`) did not complete.
    #[error("verify-trail: {0}")]
    VerifyTrail(Box<VerifyTaskError>),
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

impl HandlerError {
    /// True when trying the same event again may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            HandlerError::InvalidInput(_) | HandlerError::UnknownTask(_) => false,
            HandlerError::Publish(errors) => errors.iter().any(SinkError::retryable),
            HandlerError::FailureQueue { .. } | HandlerError::OutOfTime(_) => true,
            HandlerError::Object(e) => e.retryable(),
            HandlerError::Audit(e) => e.retryable(),
            HandlerError::VerifyTrail(e) => e.retryable(),
        }
    }

    pub fn error_type(&self) -> &'static str {
        match self {
            HandlerError::InvalidInput(_) | HandlerError::UnknownTask(_) => {
                "EksAccessWatch.InvalidInput"
            }
            HandlerError::Publish(_) => "EksAccessWatch.PublishFailed",
            HandlerError::FailureQueue { .. } => "EksAccessWatch.FailureQueueUnavailable",
            HandlerError::OutOfTime(_) => "EksAccessWatch.OutOfTime",
            HandlerError::Object(_) => "EksAccessWatch.ObjectUnreadable",
            HandlerError::Audit(_) => "EksAccessWatch.AuditFailed",
            HandlerError::VerifyTrail(_) => "EksAccessWatch.VerifyTrailFailed",
        }
    }
}

/// Lambda's error report: the type names the failure and the message says whether a retry
/// can help (it shows in the failure destination's record).
impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(e: HandlerError) -> Self {
        let retry = if e.retryable() {
            "retryable"
        } else {
            "not retryable"
        };
        lambda_runtime::Diagnostic {
            error_type: e.error_type().to_string(),
            error_message: format!("{e} ({retry})"),
        }
    }
}

/// What happened to one alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub event_id: Option<String>,
    pub severity: Severity,
    /// The rules that count (see [`Alert::rule_ids`]).
    pub rules: Vec<&'static str>,
    /// Rules whose findings a tuning-file exception suppressed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suppressed: Vec<&'static str>,
    pub subject: String,
    /// `published <message id>`, `dry-run`, `below MIN_SEVERITY (<s>)`, `failed: <error>`.
    pub delivery: String,
}

/// The invocation's result, returned to the caller (and shown by `cargo lambda invoke`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Response {
    pub alerts: Vec<Delivery>,
    /// Records that are not watched, and events whose every finding the tuning file disables,
    /// with the reason.
    pub skipped: Vec<String>,
    /// Set when the event was sent to the failure queue: why, and the SQS message id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_queue: Option<String>,
    /// Set for a scheduled task: which, and what it found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// What the scheduled audit did (`{"task": "audit"}` payloads only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit: Option<crate::lambda::daily_audit::AuditRun>,
    /// The log objects S3 notifications announced, and what became of each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<String>,
    /// What the daily trail verification found, one line per finding and what became of it
    /// (`{"task": "verify-trail"}` payloads only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<String>,
    /// The SQS messages to receive again (`ReportBatchItemFailures`): an object that could not
    /// be read, or not reached before the time budget ran out. The others are deleted.
    #[serde(rename = "batchItemFailures", skip_serializing_if = "Vec::is_empty")]
    pub batch_item_failures: Vec<BatchItemFailure>,
}

/// The AWS clients the handler may use, built once per process; `None` where a setting turns
/// the use off (no topic: dry run; no failure queue; `ENRICH=false`).
#[derive(Default)]
pub struct Clients {
    pub enricher: Option<Enricher>,
    pub sns: Option<aws_sdk_sns::Client>,
    pub sqs: Option<aws_sdk_sqs::Client>,
    pub cloudtrail: Option<aws_sdk_cloudtrail::Client>,
    /// Reads the log objects S3 notifications announce (the organisation trail's bucket);
    /// without it such a notification is a failure.
    pub s3: Option<aws_sdk_s3::Client>,
    /// The correlation state and delivered-once marks (`STATE_TABLE_NAME`: DynamoDB); without
    /// it events are judged alone and a redelivered event alerts again.
    pub state: Option<Arc<dyn Store>>,
    /// `SECURITY_HUB=true`: the Security Hub client.
    pub securityhub: Option<aws_sdk_securityhub::Client>,
    /// `PAGERDUTY_ROUTING_KEY_PARAMETER`: the PagerDuty sink, its key read at init.
    pub pagerduty: Option<PagerDutySink>,
}

/// What a payload holds: watched events, skips (where, and why), problems, and the log
/// objects S3 notifications announce.
type Read = (
    Vec<AccessEvent>,
    Vec<(String, Skip)>,
    Vec<InputError>,
    Vec<ingest::ObjectRef>,
);

/// What became of one event.
enum Handled {
    /// Its alert and how delivery went (the sinks that failed, if any).
    Alert(Delivery, Vec<SinkError>),
    /// The tuning file disables every rule that matched: why, for `skipped`.
    Disabled(String),
}

/// One event judged: its alert, the reason every finding is disabled, or left for later
/// (the time budget ended first).
enum Judgement {
    Alert(Box<Alert>),
    Disabled(String),
    Left,
}

/// How many events are enriched, and how many alerts published, at once.
const CONCURRENCY: usize = 8;

/// The payload's alerts in the order they go out: alerts that share a finding (its uid, or
/// the grant a revert resolves) form one group in payload order; groups are ordered by their
/// most severe alert, then by their first alert's place in the payload.
fn lifecycle_groups(alerts: Vec<(usize, Alert)>) -> Vec<Vec<(usize, Alert)>> {
    let mut groups: Vec<Vec<(usize, Alert)>> = Vec::new();
    let mut by_uid: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (i, alert) in alerts {
        let uids = alert.lifecycle_uids();
        let g = match uids.iter().find_map(|u| by_uid.get(u).copied()) {
            Some(g) => g,
            None => {
                groups.push(Vec::new());
                groups.len() - 1
            }
        };
        for u in uids {
            by_uid.entry(u).or_insert(g);
        }
        groups[g].push((i, alert));
    }
    for g in &mut groups {
        g.sort_by_key(|(i, _)| *i);
    }
    groups.sort_by(|a, b| {
        let worst = |g: &[(usize, Alert)]| g.iter().map(|(_, a)| a.severity).max();
        worst(b)
            .cmp(&worst(a))
            .then(a.first().map(|x| x.0).cmp(&b.first().map(|x| x.0)))
    });
    groups
}

/// The handler with its clients, built once per process.
pub struct Handler {
    pub settings: LambdaSettings,
    tuning: Option<Tuning>,
    clients: Clients,
    /// Where alerts go, built once ([`sinks`]).
    sinks: Vec<Box<dyn Sink>>,
    /// Today's date (UTC), for tuning-file exception expiry: read per event, as a function
    /// outlives midnight.
    today: fn() -> NaiveDate,
    audit: Option<crate::lambda::daily_audit::DailyAudit>,
    /// Reads the tuning parameter's versions when it is written ([`Handler::with_ssm`]).
    ssm: Option<aws_sdk_ssm::Client>,
}

impl Handler {
    /// The enricher is dropped when `ENRICH` is off.
    pub fn new(setup: impl Into<Setup>, mut clients: Clients) -> Self {
        let Setup {
            settings, tuning, ..
        } = setup.into();
        if !settings.enrich {
            clients.enricher = None;
        }
        Handler {
            sinks: sinks(&settings, &clients),
            settings,
            tuning,
            clients,
            today: tuning::today_utc,
            audit: None,
            ssm: None,
        }
    }

    /// The correlation rules' windows and thresholds: the tuning file's, else the defaults.
    fn correlation_settings(&self) -> CorrelationSettings {
        self.tuning
            .as_ref()
            .and_then(|t| t.correlation)
            .unwrap_or_default()
    }

    /// Run the daily audit on `{"task": "audit"}` payloads.
    pub fn with_audit(mut self, audit: crate::lambda::daily_audit::DailyAudit) -> Self {
        self.audit = Some(audit);
        self
    }

    /// Judge exception expiry by this clock instead of the system's (for tests).
    pub fn with_clock(mut self, today: fn() -> NaiveDate) -> Self {
        self.today = today;
        self
    }

    /// The enrichment settings the environment asks for.
    pub fn enrich_settings(settings: &LambdaSettings) -> EnrichSettings {
        EnrichSettings {
            timeout: settings.enrich_timeout,
            home_account: settings.home_account.clone(),
            role_template: settings.role_template.clone(),
            ..EnrichSettings::default()
        }
    }

    /// Handle one invocation payload (see the module docs for what it may be), with no
    /// deadline ([`Handler::handle_within`] with [`Budget::unlimited`]).
    pub async fn handle(&self, payload: &RawValue) -> Result<Response, HandlerError> {
        self.handle_within(payload, Budget::unlimited()).await
    }

    /// Handle one invocation payload within `budget`: work not started when the budget is
    /// spent is handed back (parked or reported as failed) instead of timing out.
    pub async fn handle_within(
        &self,
        payload: &RawValue,
        budget: Budget,
    ) -> Result<Response, HandlerError> {
        if let Some(task) = task_of(payload)? {
            return self.run_task(task, budget).await;
        }
        let (events, skipped, invalid, objects) = self.read(payload.get().as_bytes());
        report_skips(&skipped);
        let mut response = Response {
            skipped: skipped.into_iter().map(|(at, _)| at).collect(),
            ..Response::default()
        };
        let (mut failures, left) = self.deliver_all(events, budget, &mut response).await;
        // What the budget left undone is parked, one message per event.
        let indices: Vec<usize> = (0..left.len()).collect();
        if let Some(said) = self.park_left(payload, &left, &indices).await? {
            response.failure_queue = Some(said);
        }
        // The log objects S3 notifications announce: each read, judged and delivered like
        // the payload's own events; `budget` is checked between objects.
        if !objects.is_empty() {
            failures.extend(self.read_objects(objects, budget, &mut response).await?);
        }
        let error = if !failures.is_empty() {
            HandlerError::Publish(failures)
        } else if !invalid.is_empty() {
            HandlerError::InvalidInput(invalid)
        } else {
            return Ok(response);
        };
        // Without a queue, the error stands and Lambda's own retries and destination take over.
        let (Some(url), Some(sqs)) = (&self.settings.failure_queue_url, &self.clients.sqs) else {
            return Err(error);
        };
        if error.retryable() {
            return Err(error);
        }
        let said = park(sqs, url, payload, &error).await?;
        response.failure_queue = Some(match response.failure_queue.take() {
            Some(before) => format!("{before}; {said}"),
            None => said,
        });
        Ok(response)
    }

    /// The context stage's state (claims, correlation), the pipeline and the sinks for a list
    /// of events: what each became goes into `response`; returns the sinks' failures and the
    /// events `budget` left unhandled (in payload order), for the caller to park.
    async fn deliver_all(
        &self,
        events: Vec<AccessEvent>,
        budget: Budget,
        response: &mut Response,
    ) -> (Vec<SinkError>, Vec<AccessEvent>) {
        let mut batch = match &self.clients.state {
            Some(store) => {
                Correlated::start(
                    store.as_ref(),
                    events,
                    &self.settings.rules,
                    self.correlation_settings(),
                )
                .await
            }
            None => Correlated::alone(events),
        };
        for (event, id) in &batch.already {
            response.skipped.push(format!(
                "{event} {id}: already delivered (delivered-once store)"
            ));
        }
        // Judge every event (enrichment with bounded concurrency, a cluster that failed once
        // not asked again), then deliver the most severe first, with bounded concurrency;
        // what the budget leaves undone is parked, one message per event.
        let memo = Remembered::default();
        // Delivery runs several alerts at once: the sinks' state is shared behind a lock held
        // only between awaits.
        let sink_state = std::sync::Mutex::new(self.sink_state(&batch).await);
        let correlations = std::mem::take(&mut batch.correlations);
        let events = &batch.events;
        let mut judged: Vec<(usize, Judgement)> =
            stream::iter(correlations.into_iter().enumerate())
                .map(|(i, correlation)| {
                    let memo = &memo;
                    async move {
                        if budget.is_spent() {
                            return (i, Judgement::Left);
                        }
                        (i, self.judge(&events[i], correlation, memo).await)
                    }
                })
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
        let mut left: Vec<usize> = Vec::new();
        let mut alerts: Vec<(usize, Alert)> = Vec::new();
        for (i, judgement) in judged.drain(..) {
            match judgement {
                Judgement::Alert(alert) => alerts.push((i, *alert)),
                Judgement::Disabled(reason) => {
                    batch.settled(i, true);
                    response.skipped.push(reason);
                }
                Judgement::Left => left.push(i),
            }
        }
        // Alerts about one finding (a grant and its revert) go out one after the other, in the
        // payload's order, so a sink sees a finding opened before it moves or closes; the
        // groups go out most severe first, several at once.
        let groups = lifecycle_groups(alerts);
        let delivered: Vec<Vec<(usize, Option<Handled>)>> = stream::iter(groups)
            .map(|group| {
                let sink_state = &sink_state;
                async move {
                    let mut out = Vec::with_capacity(group.len());
                    for (i, alert) in group {
                        if budget.is_spent() {
                            out.push((i, None));
                            continue;
                        }
                        out.push((i, Some(self.send(&alert, sink_state).await)));
                    }
                    out
                }
            })
            .buffered(CONCURRENCY)
            .collect()
            .await;
        let delivered = delivered.into_iter().flatten();
        let mut failures = Vec::new();
        for (i, handled) in delivered {
            match handled {
                Some(Handled::Alert(delivery, failed)) => {
                    batch.settled(i, failed.is_empty());
                    failures.extend(failed);
                    response.alerts.push(delivery);
                }
                Some(Handled::Disabled(reason)) => {
                    batch.settled(i, true);
                    response.skipped.push(reason)
                }
                None => left.push(i),
            }
        }
        if !memo.is_empty() {
            tracing::warn!(
                clusters = memo.len(),
                "enrichment failed for some clusters: their other events in this payload were not looked up again"
            );
        }
        left.sort_unstable();
        for &i in &left {
            batch.settled(i, false);
        }
        let sink_state = sink_state.into_inner().unwrap_or_else(|e| e.into_inner());
        if let Some(store) = &self.clients.state {
            let sink_writes = sink_state.writes(wall_clock(), DELIVERED_FOR);
            batch.commit(store.as_ref(), sink_writes).await;
        }
        let left = left.iter().map(|&i| batch.events[i].clone()).collect();
        (failures, left)
    }

    /// Park the events at `left` (the budget ended before they were handled): one failure
    /// record per event, each carrying a payload of that event alone ([`leftover::per_event`]);
    /// an event that cannot be cut out of the payload is parked with the whole payload (once).
    /// `Ok(None)` when nothing is left; without a failure queue, the invocation fails as
    /// retryable ([`HandlerError::OutOfTime`]) and Lambda delivers the payload again.
    async fn park_left(
        &self,
        payload: &RawValue,
        events: &[AccessEvent],
        left: &[usize],
    ) -> Result<Option<String>, HandlerError> {
        if left.is_empty() {
            return Ok(None);
        }
        let error = HandlerError::OutOfTime(left.len());
        tracing::error!(left = left.len(), "time budget spent: parking what is left");
        let (Some(url), Some(sqs)) = (&self.settings.failure_queue_url, &self.clients.sqs) else {
            return Err(error);
        };
        let mut parts: std::collections::HashMap<String, String> =
            leftover::per_event(payload.get())
                .into_iter()
                .filter_map(|(id, text)| id.map(|id| (id, text)))
                .collect();
        let mut whole = false;
        let mut bodies = Vec::new();
        let reason = HandlerError::OutOfTime(1);
        let now = crate::aws::now();
        for &i in left {
            let event = &events[i];
            let one = event.event_id.as_deref().and_then(|id| parts.remove(id));
            let raw = match one.map(RawValue::from_string) {
                Some(Ok(raw)) => raw,
                _ if whole => continue,
                _ => {
                    whole = true;
                    payload.to_owned()
                }
            };
            bodies.push(crate::aws::failure_queue::failure_record(
                &raw,
                reason.error_type(),
                &reason.to_string(),
                &now,
            ));
        }
        let ids = crate::aws::failure_queue::park_many(sqs, url, &bodies)
            .await
            .map_err(|e| HandlerError::FailureQueue {
                reason: format!("{}: {error}", error.error_type()),
                error: e,
            })?;
        tracing::error!(
            parked = ids.len(),
            "time budget spent: events parked in the failure queue"
        );
        println!("{}", parked_metric(left.len() as u64, wall_clock() * 1000));
        Ok(Some(format!(
            "{} event(s) parked, one message each: {}",
            left.len(),
            ids.join(", ")
        )))
    }

    /// The scheduled audit; its failures are retried by Lambda (the schedule's own retries).
    async fn audit(&self) -> Result<Response, HandlerError> {
        use crate::lambda::daily_audit::RunError;
        let audit = self.audit.as_ref().ok_or(RunError::NotConfigured)?;
        let tuned = self.tuning.as_ref().map(|tuning| crate::audit::Tuned {
            tuning,
            today: (self.today)(),
        });
        let run = audit
            .run(
                &self.settings.rules,
                tuned,
                &self.sinks,
                self.settings.min_severity,
            )
            .await?;
        Ok(Response {
            audit: Some(run),
            ..Response::default()
        })
    }

    /// The pure half: payload bytes -> watched events (completed by the payload's history),
    /// skips (where, and why), problems.
    fn read(&self, bytes: &[u8]) -> Read {
        let (mut events, mut skipped, mut invalid) = (Vec::new(), Vec::new(), Vec::new());
        let mut objects = Vec::new();
        let options = Options::new(&self.settings.rules).region(self.settings.region.as_deref());
        // The context stage's per-input part: what this payload's earlier events showed.
        let mut history = History::default();
        let read = ingest::scan_slice("event", bytes, &options, &mut |outcome| match outcome {
            Outcome::Watched {
                location,
                mut event,
            } => match history.observe(&mut event) {
                Some(reason) => skipped.push((format!("{location}: {reason}"), reason)),
                None => events.push(*event),
            },
            Outcome::Skipped { location, reason } => {
                skipped.push((format!("{location}: {reason}"), reason))
            }
            Outcome::Object { object, .. } => objects.push(object),
            Outcome::Invalid(e) => invalid.push(e),
        });
        if let Err(e) = read {
            invalid.push(e);
        }
        (events, skipped, invalid, objects)
    }

    /// The context stage (EKS enrichment), the pipeline's judgement, delivery: what happened
    /// to one event, and the publish error if SNS did not take it.
    async fn alert(
        &self,
        event: &AccessEvent,
        correlation: Option<Correlation>,
        sink_state: &mut SinkState,
    ) -> Handled {
        let state = std::sync::Mutex::new(std::mem::replace(sink_state, SinkState::off()));
        let handled = match self.judge(event, correlation, &Remembered::default()).await {
            Judgement::Alert(alert) => self.send(&alert, &state).await,
            Judgement::Disabled(reason) => Handled::Disabled(reason),
            Judgement::Left => unreachable!("judge never leaves an event"),
        };
        *sink_state = state.into_inner().unwrap_or_else(|e| e.into_inner());
        handled
    }

    /// The context stage (EKS enrichment, remembering failures for the payload in `memo`)
    /// and the pipeline's judgement.
    async fn judge(
        &self,
        event: &AccessEvent,
        correlation: Option<Correlation>,
        memo: &Remembered,
    ) -> Judgement {
        let enrichment = match &self.clients.enricher {
            Some(e) => e.enrich_remembering(event, memo).await,
            None => None,
        };
        let context = Context {
            enrichment,
            correlation,
            tuning_change: self.tuning_change(event).await,
        };
        let today = (self.today)();
        match pipeline::judge(
            event,
            &context,
            &self.settings.rules,
            self.tuning.as_ref(),
            today,
        ) {
            Judged::Alert(alert) => {
                if alert.rule_ids().is_empty() {
                    tuning_file::report_silenced(event, "suppressed", &alert.suppressed_rule_ids());
                }
                Judgement::Alert(alert)
            }
            Judged::Disabled { tuning } => {
                tuning_file::report_silenced(event, "disabled", &[]);
                Judgement::Disabled(format!(
                    "{} {}: every finding's rule is disabled in {tuning}",
                    event.event_name(),
                    event.event_id.as_deref().unwrap_or("(no event id)"),
                ))
            }
        }
    }

    /// Deliver one judged alert: what happened, and the sinks that failed.
    async fn send(&self, alert: &Alert, sink_state: &std::sync::Mutex<SinkState>) -> Handled {
        let (delivery, failed) = self.deliver(alert, sink_state).await;
        for e in &failed {
            tracing::error!(event_id = ?alert.event_id, sink = e.sink, error = %e, retryable = e.retryable(), "alert not delivered");
        }
        tracing::info!(
            event_id = ?alert.event_id,
            event_name = %alert.event_name,
            severity = %alert.severity,
            rules = %alert.rule_ids().join(","),
            delivery = %delivery,
            "alert"
        );
        let delivery = Delivery {
            event_id: alert.event_id.clone(),
            severity: alert.severity,
            rules: alert.rule_ids(),
            suppressed: alert.suppressed_rule_ids(),
            subject: render::subject(alert),
            delivery,
        };
        Handled::Alert(delivery, failed)
    }

    /// Hand the alert to every sink that is due it ([`crate::sink::due`]: at or above
    /// `MIN_SEVERITY` and the sink's own minimum, or an update or revert of a finding the sink
    /// holds), except the sinks that already took it: what each did, in words, and the sinks
    /// that failed. One sink's failure does not keep the alert from the others.
    async fn deliver(
        &self,
        alert: &Alert,
        state: &std::sync::Mutex<SinkState>,
    ) -> (String, Vec<SinkError>) {
        let lock = || state.lock().unwrap_or_else(|e| e.into_inner());
        let global = self.settings.min_severity;
        let uids = alert.lifecycle_uids();
        let due: Vec<Due> = self
            .sinks
            .iter()
            .map(|sink| {
                let holds = lock().holds(&uids, sink.name());
                crate::sink::due(alert, global, sink.min_severity(), holds)
            })
            .collect();
        if alert.severity < global && due.iter().all(|d| matches!(d, Due::Below(_))) {
            let below = format!("below MIN_SEVERITY ({global})");
            return (below, Vec::new());
        }
        let mut said = Vec::new();
        let mut failed = Vec::new();
        for (sink, due) in self.sinks.iter().zip(due) {
            let name = sink.name();
            if let Due::Below(threshold) = due {
                said.push(format!("{name}: below {threshold}"));
                continue;
            }
            if lock().sent(alert.event_id.as_deref(), name) {
                said.push(format!("{name}: already delivered"));
                continue;
            }
            match sink.deliver(alert).await {
                Ok(receipt) => {
                    lock().delivered(alert.event_id.as_deref(), &uids, name);
                    said.push(receipt.0);
                }
                Err(e) => {
                    said.push(format!("failed: {e}"));
                    failed.push(e);
                }
            }
        }
        (said.join("; "), failed)
    }

    /// The sinks' delivery state for this batch (at most one read; see [`sinks`]). A lone
    /// sink that keeps no findings (the alert topic) reads only what the batch may update or
    /// close.
    async fn sink_state(&self, batch: &Correlated) -> SinkState {
        let Some(store) = self
            .clients
            .state
            .as_ref()
            .filter(|_| !self.sinks.is_empty() && batch.write_back)
        else {
            return SinkState::off();
        };
        let lone = self.sinks.len() == 1 && !self.sinks[0].keeps_findings();
        let keys: Vec<String> = batch
            .events
            .iter()
            .zip(&batch.correlations)
            .flat_map(|(e, c)| {
                if lone {
                    SinkState::lifecycle_keys_for(c.as_ref())
                } else {
                    SinkState::keys_for(e, c.as_ref())
                }
            })
            .collect();
        // As of the time the correlation state was read (the batch's earliest event): a store
        // that drops what has expired by the time it is given (the embedded stores do, like
        // DynamoDB's TTL) must not drop, at wall-clock time, the records of older events that
        // this batch's commit is about to update.
        let state = SinkState::load(store.as_ref(), &keys, batch.read_at).await;
        if lone { state.lone() } else { state }
    }

    /// Run a scheduled task; what it finds goes out like any alert. Each task that completes
    /// prints its `EksAccessWatch/TaskSucceeded` metric ([`task_metric`]): the template's
    /// dead man's switch alarms when it stops.
    async fn run_task(&self, task: Task, budget: Budget) -> Result<Response, HandlerError> {
        let response = match task {
            Task::TrailSelfCheck => self.trail_self_check().await,
            Task::Audit => self.audit().await,
            Task::VerifyTrail => self.verify_trail(budget).await,
            Task::Heartbeat => Ok(Response {
                task: Some(format!("{task}: alive")),
                ..Response::default()
            }),
        }?;
        println!("{}", task_metric(task, wall_clock() * 1000));
        Ok(response)
    }

    /// Confirm, through read-only CloudTrail calls, that a trail logs management write
    /// events in this region; otherwise alert `no-trail-logging`.
    async fn trail_self_check(&self) -> Result<Response, HandlerError> {
        let task = Task::TrailSelfCheck;
        let Some(client) = &self.clients.cloudtrail else {
            let mut response = Response::default();
            let found = self.check_trail_notifications(&mut response).await?;
            response.task = Some(format!(
                "{task}: trails not checked (no CloudTrail client); {found} finding(s)"
            ));
            return Ok(response);
        };
        let region = client
            .config()
            .region()
            .map(|r| r.to_string())
            .unwrap_or_default();
        let change = crate::aws::cloudtrail::trail_status(client, &region).await;
        let account = self.settings.home_account.clone().unwrap_or_default();
        let event =
            crate::trail::selfcheck::check_event(change, &account, &region, &crate::aws::now());
        let findings = match pipeline::judge(
            &event,
            &Context::default(),
            &self.settings.rules,
            None,
            (self.today)(),
        ) {
            Judged::Alert(alert) => alert.findings.len(),
            Judged::Disabled { .. } => 0,
        };
        let mut response = Response::default();
        // The organisation trail's bucket: does it send its notifications to the queue?
        let notification_findings = self.check_trail_notifications(&mut response).await?;
        tracing::info!(task = %task, findings = findings + notification_findings, "scheduled task done");
        response.task = Some(format!(
            "{task}: {} finding(s)",
            findings + notification_findings
        ));
        if findings > 0 {
            match self.alert(&event, None, &mut SinkState::off()).await {
                Handled::Alert(delivery, failed) => {
                    response.alerts.push(delivery);
                    if !failed.is_empty() {
                        return Err(HandlerError::Publish(failed));
                    }
                }
                Handled::Disabled(reason) => response.skipped.push(reason),
            }
        }
        Ok(response)
    }
}

/// How long a claim holds before another invocation may take the event over: longer than the
/// function's timeout (30 s), shorter than the delay before Lambda retries a failed
/// invocation, so a claim its invocation could not settle (the store failed after the claim)
/// never keeps a retry from delivering.
const CLAIM_LEASE: i64 = 60;
/// How long a delivered event is remembered: a second path (the organisation trail's bucket,
/// a backfill) that delivers it within this time does not alert again.
pub const DELIVERED_FOR: i64 = 7 * 24 * 3600;

fn wall_clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// One payload's events with what the state store said about them: the events not already
/// delivered, each one's correlation (observed in event-time order), and what to write back.
struct Correlated {
    events: Vec<AccessEvent>,
    correlations: Vec<Option<Correlation>>,
    /// (event name, event id) of events another invocation already delivered.
    already: Vec<(String, String)>,
    view: View,
    delivered: Vec<String>,
    failed: Vec<String>,
    /// The claims went through: they are settled after delivery.
    claimed: bool,
    /// The time the state was read as of (the earliest event's): records expired by then are
    /// absent for the commit too.
    read_at: i64,
    /// The state was read: what observing changed is written back.
    write_back: bool,
}

impl Correlated {
    /// No store: every event, judged alone.
    fn alone(events: Vec<AccessEvent>) -> Self {
        let correlations = events.iter().map(|_| None).collect();
        Correlated {
            events,
            correlations,
            already: Vec::new(),
            view: View::default(),
            delivered: Vec::new(),
            failed: Vec::new(),
            claimed: false,
            read_at: 0,
            write_back: false,
        }
    }

    /// Claim the events (one conditional write), read every key they need (one read), observe
    /// them in event-time order. A store that fails leaves every event to be delivered, each
    /// saying `correlation unavailable (<reason>)`, and counts it.
    async fn start(
        store: &dyn Store,
        events: Vec<AccessEvent>,
        config: &crate::config::RuleConfig,
        settings: CorrelationSettings,
    ) -> Self {
        let mut batch = Correlated::alone(events);
        if batch.events.is_empty() {
            return batch;
        }
        // The same event twice in one payload (an SQS batch, a redrive) alerts once.
        let mut seen = std::collections::HashSet::new();
        let (unique, repeated): (Vec<AccessEvent>, Vec<AccessEvent>) =
            batch.events.drain(..).partition(|e| {
                e.event_id
                    .as_deref()
                    .is_none_or(|id| seen.insert(id.to_string()))
            });
        batch.already = repeated.iter().map(named).collect();
        batch.events = unique;
        batch.correlations = batch.events.iter().map(|_| None).collect();
        let now = wall_clock();
        let ids: Vec<String> = batch
            .events
            .iter()
            .filter_map(|e| {
                e.event_id
                    .as_deref()
                    .map(crate::context::state::Key::delivered)
            })
            .collect();
        let already = match store.claim(&ids, now, now + CLAIM_LEASE).await {
            Ok(already) => already,
            Err(e) => return batch.without_store(&e),
        };
        batch.claimed = true;
        if !already.is_empty() {
            let (keep, gone): (Vec<AccessEvent>, Vec<AccessEvent>) =
                batch.events.drain(..).partition(|e| {
                    e.event_id.as_deref().is_none_or(|id| {
                        !already.contains(&crate::context::state::Key::delivered(id))
                    })
                });
            batch.already.extend(gone.iter().map(named));
            batch.events = keep;
            batch.correlations = batch.events.iter().map(|_| None).collect();
        }
        let mut keys: Vec<String> = batch.events.iter().flat_map(correlate::keys_for).collect();
        keys.sort();
        keys.dedup();
        let earliest = batch
            .events
            .iter()
            .filter_map(correlate::epoch)
            .min()
            .unwrap_or(now);
        batch.read_at = earliest;
        let stored = if keys.is_empty() {
            Ok(Default::default())
        } else {
            store.read(&keys, earliest).await
        };
        let view = match stored.and_then(View::new) {
            Ok(v) => v,
            Err(e) => return batch.without_store(&e),
        };
        batch.view = view;
        batch.write_back = true;
        let mut order: Vec<(i64, usize)> = batch
            .events
            .iter()
            .enumerate()
            .map(|(i, e)| (correlate::epoch(e).unwrap_or(i64::MAX), i))
            .collect();
        order.sort_unstable();
        for (_, i) in order {
            let c = correlate::observe(&batch.events[i], config, &settings, &mut batch.view);
            batch.correlations[i] = Some(c);
        }
        batch
    }

    fn without_store(mut self, e: &crate::context::state::StoreError) -> Self {
        tracing::error!(error = %e, "state store unavailable: events judged without correlation");
        println!(
            "{}",
            correlation_unavailable_metric(self.events.len() as u64, wall_clock() * 1000)
        );
        self.correlations = self
            .events
            .iter()
            .map(|_| Some(Correlation::unavailable(e)))
            .collect();
        self.write_back = false;
        self
    }

    /// What became of event `i`'s delivery.
    fn settled(&mut self, i: usize, delivered: bool) {
        if let Some(id) = self.events[i].event_id.as_deref() {
            let key = crate::context::state::Key::delivered(id);
            if delivered {
                self.delivered.push(key);
            } else {
                self.failed.push(key);
            }
        }
    }

    /// After delivery, one write: the state the events changed, the events delivered, the
    /// claims of those that failed released. A conflict (another invocation wrote a record
    /// first) or a failure loses correlation state, never an alert: it is logged and counted.
    async fn commit(&mut self, store: &dyn Store, sink_writes: Vec<crate::context::state::Write>) {
        if !self.claimed {
            return;
        }
        let batch = Commit {
            now: self.read_at,
            // Without the state read, only the claims are settled.
            writes: if self.write_back {
                let mut writes = self.view.writes();
                writes.extend(sink_writes);
                writes
            } else {
                Vec::new()
            },
            delivered: std::mem::take(&mut self.delivered),
            failed: std::mem::take(&mut self.failed),
            keep_until: wall_clock() + DELIVERED_FOR,
        };
        match store.commit(&batch).await {
            Ok(w) if w.conflicts.is_empty() => {}
            Ok(w) => {
                tracing::warn!(keys = ?w.conflicts, "correlation state changed under this invocation: those records keep the other's version");
                println!(
                    "{}",
                    correlation_unavailable_metric(w.conflicts.len() as u64, wall_clock() * 1000)
                );
            }
            Err(e) => {
                tracing::error!(error = %e, "correlation state not written");
                println!(
                    "{}",
                    correlation_unavailable_metric(self.events.len() as u64, wall_clock() * 1000)
                );
            }
        }
    }
}

/// (event name, event id) of an event not delivered again.
fn named(e: &AccessEvent) -> (String, String) {
    (
        e.event_name().to_string(),
        e.event_id.clone().unwrap_or_default(),
    )
}

/// The embedded-metric-format line that counts events judged without correlation
/// (`EksAccessWatch/CorrelationUnavailable`, which the template alarms on).
pub fn correlation_unavailable_metric(count: u64, timestamp_ms: i64) -> String {
    serde_json::json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": "EksAccessWatch",
                "Dimensions": [[]],
                "Metrics": [{"Name": "CorrelationUnavailable", "Unit": "Count"}],
            }],
        },
        "CorrelationUnavailable": count,
    })
    .to_string()
}

/// The embedded-metric-format line a scheduled task prints when it completes
/// (`EksAccessWatch/TaskSucceeded`, dimension `Task`): the template alarms when it is missing
/// (26 hours for the daily trail self-check and audit, 2 hours for the hourly heartbeat).
pub fn task_metric(task: Task, timestamp_ms: i64) -> String {
    serde_json::json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": "EksAccessWatch",
                "Dimensions": [["Task"]],
                "Metrics": [{"Name": "TaskSucceeded", "Unit": "Count"}],
            }],
        },
        "Task": task.as_str(),
        "TaskSucceeded": 1,
    })
    .to_string()
}

/// The embedded-metric-format line that counts events parked because the time budget ended
/// (`EksAccessWatch/ParkedOutOfTime`).
pub fn parked_metric(count: u64, timestamp_ms: i64) -> String {
    serde_json::json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": "EksAccessWatch",
                "Dimensions": [[]],
                "Metrics": [{"Name": "ParkedOutOfTime", "Unit": "Count"}],
            }],
        },
        "ParkedOutOfTime": count,
    })
    .to_string()
}

/// Where alerts go, from the settings and the clients built for them: one line per sink.
fn sinks(settings: &LambdaSettings, clients: &Clients) -> Vec<Box<dyn Sink>> {
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    match (&settings.topic, &clients.sns) {
        (Some(topic), Some(sns)) => sinks.push(Box::new(SnsSink::new(
            sns.clone(),
            topic.clone(),
            settings.format,
        ))),
        // No topic: a dry run, each alert logged.
        _ => sinks.push(Box::new(StdoutSink {
            format: settings.format,
        })),
    }
    if let (true, Some(client)) = (settings.sinks.security_hub, &clients.securityhub) {
        sinks.push(Box::new(SecurityHubSink::new(
            client.clone(),
            security_hub_importer(settings),
            settings.sinks.security_hub_min_severity,
        )));
    }
    if let Some(pagerduty) = &clients.pagerduty {
        sinks.push(Box::new(pagerduty.clone()));
    }
    sinks
}

/// Where the Security Hub sink imports: the function's own account (`HOME_ACCOUNT_ID`, which
/// the settings require with `SECURITY_HUB=true`), region and partition.
pub fn security_hub_importer(settings: &LambdaSettings) -> crate::sink::Importer {
    let region = settings.region.clone().unwrap_or_default();
    crate::sink::Importer {
        account: settings.home_account.clone().unwrap_or_default(),
        partition: crate::sink::partition_of_region(&region).to_string(),
        region,
    }
}

/// The task a schedule asks for (`{"task": "..."}`); `None` for every other payload.
fn task_of(payload: &RawValue) -> Result<Option<Task>, HandlerError> {
    #[derive(Deserialize)]
    struct Scheduled {
        task: Option<String>,
    }
    match serde_json::from_str::<Scheduled>(payload.get()) {
        Ok(Scheduled { task: Some(name) }) => {
            name.parse().map(Some).map_err(HandlerError::UnknownTask)
        }
        _ => Ok(None),
    }
}

/// Every skip is logged at WARN with its reason (an event that reached the function was sent
/// for a reason, so a skip may mean the patterns and the code disagree), and counted per
/// reason in an embedded-metric-format line, which CloudWatch turns into the
/// `EksAccessWatch/SkippedEvents` metric without an API call.
fn report_skips(skipped: &[(String, Skip)]) {
    let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
    for (at, reason) in skipped {
        tracing::warn!(at = %at, reason = reason.slug(), "skipped: {reason}");
        *counts.entry(reason.slug()).or_insert(0) += 1;
    }
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    for line in skipped_metric_lines(&counts, millis) {
        println!("{line}");
    }
}

/// One embedded-metric-format log line per skip reason.
pub fn skipped_metric_lines(counts: &BTreeMap<&str, u64>, timestamp_ms: u64) -> Vec<String> {
    counts
        .iter()
        .map(|(reason, n)| {
            serde_json::json!({
                "_aws": {
                    "Timestamp": timestamp_ms,
                    "CloudWatchMetrics": [{
                        "Namespace": "EksAccessWatch",
                        "Dimensions": [["Reason"]],
                        "Metrics": [{"Name": "SkippedEvents", "Unit": "Count"}],
                    }],
                },
                "Reason": reason,
                "SkippedEvents": n,
            })
            .to_string()
        })
        .collect()
}

/// Send an event that cannot succeed on a retry to the failure queue, with the reason.
async fn park(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    payload: &RawValue,
    error: &HandlerError,
) -> Result<String, HandlerError> {
    let reason = format!("{}: {error}", error.error_type());
    let record = crate::aws::failure_queue::failure_record(
        payload,
        error.error_type(),
        &error.to_string(),
        &crate::aws::now(),
    );
    match crate::aws::failure_queue::park(sqs, url, &record).await {
        Ok(id) => {
            tracing::error!(reason = %reason, message_id = %id, "not retryable: event sent to the failure queue");
            Ok(format!("{reason} (message {id})"))
        }
        Err(e) => Err(HandlerError::FailureQueue { reason, error: e }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_become_one_metric_line_per_reason() {
        let counts = BTreeMap::from([("not-watched", 2), ("other-service", 5)]);
        let lines = skipped_metric_lines(&counts, 1_700_000_000_000);
        assert_eq!(lines.len(), 2);
        let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(first["Reason"], "not-watched");
        assert_eq!(first["SkippedEvents"], 2);
        assert_eq!(
            first["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
            "SkippedEvents"
        );
        assert_eq!(first["_aws"]["Timestamp"], 1_700_000_000_000u64);
    }

    #[test]
    fn a_schedule_names_a_task_and_an_unknown_task_is_invalid_input() {
        let raw = |s: &str| RawValue::from_string(s.to_string()).unwrap();
        assert_eq!(
            task_of(&raw(r#"{"task":"trail-self-check"}"#)).unwrap(),
            Some(Task::TrailSelfCheck)
        );
        assert!(task_of(&raw(r#"{"detail":{}}"#)).unwrap().is_none());
        let err = task_of(&raw(r#"{"task":"audit-everything"}"#)).unwrap_err();
        assert!(!err.retryable());
        assert!(
            err.to_string().contains("valid values: trail-self-check"),
            "{err}"
        );
    }
}
