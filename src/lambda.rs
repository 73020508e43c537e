//! The Lambda handler: the same library path as `replay` (ingest -> enrich -> classify), then
//! SNS delivery. The binary (`src/bin/lambda.rs`) only reads the environment, builds the
//! clients once and hands them here.
//!
//! Nothing is lost. A publish that may succeed later (throttling, a 5xx, a timeout) fails the
//! invocation, so Lambda retries it and its failure destination keeps it. A publish SNS
//! refuses for good (authorization, a missing topic, an invalid parameter, a KMS key that
//! denies) and input that cannot be read cannot succeed on a retry: with a failure queue
//! configured, the event goes there at once with the reason; without one, the invocation
//! fails and Lambda's retries and destination decide.

use serde::Serialize;
use serde_json::Value;

use crate::alert::{Alert, classify};
use crate::config::LambdaSettings;
use crate::enrich::{EnrichSettings, Enricher};
use crate::event::AccessEvent;
use crate::ingest::{self, InputError, Options, Outcome};
use crate::publish::{self, SNS_MAX_BYTES};
use crate::render;
use crate::sdk::AwsError;
use crate::severity::Severity;

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The payload (or part of it) is not something we can read. Retrying cannot help.
    #[error("invalid input: {}", join(.0))]
    InvalidInput(Vec<InputError>),
    /// SNS did not take alerts (after the SDK's retries); the first error decides the type.
    #[error("{} alert(s) not delivered: {}", .0.len(), join(.0))]
    Publish(Vec<AwsError>),
    /// An event that cannot succeed on a retry could not be parked in the failure queue.
    #[error("could not send the event to the failure queue ({reason}): {error}")]
    FailureQueue { reason: String, error: AwsError },
    /// The scheduled audit (`{"task": "audit"}`) did not complete.
    #[error("audit: {0}")]
    Audit(#[from] crate::audit::daily::RunError),
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
            HandlerError::InvalidInput(_) => false,
            HandlerError::Publish(errors) => errors.iter().any(AwsError::retryable),
            HandlerError::FailureQueue { .. } => true,
            HandlerError::Audit(e) => e.retryable(),
        }
    }

    pub fn error_type(&self) -> &'static str {
        match self {
            HandlerError::InvalidInput(_) => "EksAccessWatch.InvalidInput",
            HandlerError::Publish(_) => "EksAccessWatch.PublishFailed",
            HandlerError::FailureQueue { .. } => "EksAccessWatch.FailureQueueUnavailable",
            HandlerError::Audit(_) => "EksAccessWatch.AuditFailed",
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
    pub rules: Vec<&'static str>,
    pub subject: String,
    /// `published <message id>`, `dry-run`, `below MIN_SEVERITY (<s>)`, `failed: <error>`.
    pub delivery: String,
}

/// The invocation's result, returned to the caller (and shown by `cargo lambda invoke`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Response {
    pub alerts: Vec<Delivery>,
    /// Records that are not watched, with the reason.
    pub skipped: Vec<String>,
    /// Set when the event was sent to the failure queue: why, and the SQS message id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_queue: Option<String>,
    /// What the scheduled audit did (`{"task": "audit"}` payloads only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit: Option<crate::audit::daily::AuditRun>,
}

/// The handler with its clients, built once per process.
pub struct Handler {
    pub settings: LambdaSettings,
    enricher: Option<Enricher>,
    sns: Option<aws_sdk_sns::Client>,
    sqs: Option<aws_sdk_sqs::Client>,
    audit: Option<crate::audit::daily::DailyAudit>,
}

impl Handler {
    /// `enricher` is ignored when `ENRICH` is off; `sns` is unused in a dry run, `sqs` without
    /// a failure queue.
    pub fn new(
        settings: LambdaSettings,
        enricher: Option<Enricher>,
        sns: Option<aws_sdk_sns::Client>,
        sqs: Option<aws_sdk_sqs::Client>,
    ) -> Self {
        let enricher = if settings.enrich { enricher } else { None };
        Handler {
            settings,
            enricher,
            sns,
            sqs,
            audit: None,
        }
    }

    /// Run the daily audit on `{"task": "audit"}` payloads.
    pub fn with_audit(mut self, audit: crate::audit::daily::DailyAudit) -> Self {
        self.audit = Some(audit);
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

    /// Handle one invocation payload: an EventBridge event, or any shape `replay` accepts.
    pub async fn handle(&self, payload: &Value) -> Result<Response, HandlerError> {
        if payload.get("task").and_then(Value::as_str) == Some("audit") {
            return self.audit().await;
        }
        let bytes = serde_json::to_vec(payload).unwrap_or_default();
        let (events, skipped, invalid) = self.read(&bytes);
        let mut response = Response {
            skipped,
            ..Response::default()
        };
        let mut failures = Vec::new();
        for event in events {
            let enrichment = match &self.enricher {
                Some(e) => e.enrich(&event).await,
                None => None,
            };
            let alert = classify(&event, &self.settings.rules, enrichment.as_ref());
            let delivery = match self.deliver(&alert).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(event_id = ?alert.event_id, error = %e, retryable = e.retryable(), "alert not delivered");
                    let text = format!("failed: {e}");
                    failures.push(e);
                    text
                }
            };
            tracing::info!(
                event_id = ?alert.event_id,
                event_name = %alert.event_name,
                severity = %alert.severity,
                rules = %alert.rule_ids().join(","),
                delivery = %delivery,
                "alert"
            );
            response.alerts.push(Delivery {
                event_id: alert.event_id.clone(),
                severity: alert.severity,
                rules: alert.rule_ids(),
                subject: render::subject(&alert),
                delivery,
            });
        }
        for s in &response.skipped {
            tracing::debug!(reason = %s, "skipped");
        }
        let error = if !failures.is_empty() {
            HandlerError::Publish(failures)
        } else if !invalid.is_empty() {
            HandlerError::InvalidInput(invalid)
        } else {
            return Ok(response);
        };
        // Without a queue, the error stands and Lambda's own retries and destination take over.
        let (Some(url), Some(sqs)) = (&self.settings.failure_queue_url, &self.sqs) else {
            return Err(error);
        };
        if error.retryable() {
            return Err(error);
        }
        response.failure_queue = Some(park(sqs, url, payload, &error).await?);
        Ok(response)
    }

    /// The scheduled audit; its failures are retried by Lambda (the schedule's own retries).
    async fn audit(&self) -> Result<Response, HandlerError> {
        use crate::audit::daily::{RunError, Sink};
        let audit = self.audit.as_ref().ok_or(RunError::NotConfigured)?;
        let sink = Sink {
            sns: self.sns.as_ref(),
            topic: self.settings.topic.as_ref(),
            format: self.settings.format,
            min_severity: self.settings.min_severity,
        };
        let run = audit.run(&self.settings.rules, &sink).await?;
        Ok(Response {
            audit: Some(run),
            ..Response::default()
        })
    }

    /// The pure half: payload bytes -> watched events, skip reasons, problems.
    fn read(&self, bytes: &[u8]) -> (Vec<AccessEvent>, Vec<String>, Vec<InputError>) {
        let (mut events, mut skipped, mut invalid) = (Vec::new(), Vec::new(), Vec::new());
        let options = Options::new(&self.settings.rules);
        let read = ingest::scan_slice("event", bytes, &options, &mut |outcome| match outcome {
            Outcome::Watched { event, .. } => events.push(*event),
            Outcome::Skipped { location, reason } => skipped.push(format!("{location}: {reason}")),
            Outcome::Invalid(e) => invalid.push(e),
        });
        if let Err(e) = read {
            invalid.push(e);
        }
        (events, skipped, invalid)
    }

    async fn deliver(&self, alert: &Alert) -> Result<String, AwsError> {
        if alert.severity < self.settings.min_severity {
            return Ok(format!(
                "below MIN_SEVERITY ({})",
                self.settings.min_severity
            ));
        }
        let (Some(topic), Some(sns)) = (&self.settings.topic, &self.sns) else {
            tracing::info!(
                subject = %render::subject(alert),
                alert = %serde_json::to_string(alert).unwrap_or_default(),
                "dry run (ALERT_TOPIC_ARN not set): alert logged, not published"
            );
            return Ok("dry-run".to_string());
        };
        let msg = publish::build_message(alert, topic.fifo, self.settings.format, SNS_MAX_BYTES);
        let id = publish::publish(sns, &topic.arn, &msg).await?;
        Ok(format!("published {id}"))
    }
}

/// Send an event that cannot succeed on a retry to the failure queue, with the reason.
async fn park(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    payload: &Value,
    error: &HandlerError,
) -> Result<String, HandlerError> {
    let reason = format!("{}: {error}", error.error_type());
    let now = crate::sdk::now();
    let record =
        crate::queue::failure_record(payload, error.error_type(), &error.to_string(), &now);
    match crate::queue::park(sqs, url, &record).await {
        Ok(id) => {
            tracing::error!(reason = %reason, message_id = %id, "not retryable: event sent to the failure queue");
            Ok(format!("{reason} (message {id})"))
        }
        Err(e) => Err(HandlerError::FailureQueue { reason, error: e }),
    }
}
