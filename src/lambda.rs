//! The Lambda handler: the same library path as `replay` (ingest -> evaluate -> enrich ->
//! classify), then SNS delivery. The binary (`src/bin/lambda.rs`) only reads the environment,
//! builds the clients once and hands them here.
//!
//! Nothing is lost: an input that cannot be understood and a publish that fails (after the
//! SDK's retries) both end the invocation with an error, so Lambda's retries and the failure
//! destination keep the event. [`HandlerError::retryable`] tells the two apart.

use std::time::Duration;

use serde::Serialize;

use crate::alert::{Alert, Severity};
use crate::config::{ConfigError, RuleConfig};
use crate::enrich::{EnrichSettings, Enricher};
use crate::event::AccessEvent;
use crate::pipeline::{self, Scanned};
use crate::publish::{self, AlertFormat, SNS_MAX_BYTES};
use crate::rules::classify;

/// Everything the function is configured with, validated once at init.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `None`: dry run, alerts are logged instead of published.
    pub topic_arn: Option<String>,
    pub rules: RuleConfig,
    pub min_severity: Severity,
    pub enrich: bool,
    pub enrich_timeout: Duration,
    pub format: AlertFormat,
    pub role_template: Option<String>,
    pub home_account: Option<String>,
}

/// The environment variables read, for docs and error messages.
pub const ENV_VARS: &[&str] = &[
    "ALERT_TOPIC_ARN",
    "APPROVED_CALLER_ARNS",
    "BREAK_GLASS_ROLE_ARNS",
    "MIN_SEVERITY",
    "ENRICH",
    "ENRICH_TIMEOUT_MS",
    "ALERT_FORMAT",
    "ENRICH_ROLE_ARN_TEMPLATE",
    "HOME_ACCOUNT_ID",
];

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

impl Settings {
    /// Read and validate every variable through `get`; every problem is reported at once,
    /// each naming its variable and what is expected.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut problems = Vec::new();

        let topic_arn = var("ALERT_TOPIC_ARN");
        if let Some(t) = &topic_arn {
            let parts: Vec<&str> = t.split(':').collect();
            let ok = parts.len() == 6
                && parts[0] == "arn"
                && parts[1].starts_with("aws")
                && parts[2] == "sns"
                && !parts[3].is_empty()
                && is_account(parts[4])
                && !parts[5].is_empty();
            if !ok {
                problems.push(format!(
                    "ALERT_TOPIC_ARN: `{t}` is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>); unset it for a dry run"
                ));
            }
        }
        let rules = RuleConfig::new(
            &RuleConfig::split_list(&var("APPROVED_CALLER_ARNS").unwrap_or_default()),
            "APPROVED_CALLER_ARNS",
            &RuleConfig::split_list(&var("BREAK_GLASS_ROLE_ARNS").unwrap_or_default()),
            "BREAK_GLASS_ROLE_ARNS",
        )
        .unwrap_or_else(|e| {
            problems.extend(e.problems);
            RuleConfig::default()
        });
        let min_severity = match var("MIN_SEVERITY").map(|v| v.parse::<Severity>()) {
            None => Severity::Low,
            Some(Ok(s)) => s,
            Some(Err(e)) => {
                problems.push(format!("MIN_SEVERITY: {e}"));
                Severity::Low
            }
        };
        let enrich = match var("ENRICH").map(|v| v.to_ascii_lowercase()) {
            None => true,
            Some(v) if ["1", "true", "on", "yes"].contains(&v.as_str()) => true,
            Some(v) if ["0", "false", "off", "no"].contains(&v.as_str()) => false,
            Some(v) => {
                problems.push(format!("ENRICH: `{v}` is not a switch; use true or false"));
                true
            }
        };
        let enrich_timeout = match var("ENRICH_TIMEOUT_MS").map(|v| (v.parse::<u64>(), v)) {
            None => Duration::from_millis(3000),
            Some((Ok(ms), _)) if (1..=60_000).contains(&ms) => Duration::from_millis(ms),
            Some((_, v)) => {
                problems.push(format!(
                    "ENRICH_TIMEOUT_MS: `{v}` is not a whole number of milliseconds from 1 to 60000"
                ));
                Duration::from_millis(3000)
            }
        };
        let format = match var("ALERT_FORMAT").map(|v| v.parse::<AlertFormat>()) {
            None => AlertFormat::Default,
            Some(Ok(f)) => f,
            Some(Err(e)) => {
                problems.push(format!("ALERT_FORMAT: {e}"));
                AlertFormat::Default
            }
        };
        let role_template = var("ENRICH_ROLE_ARN_TEMPLATE");
        if let Some(t) = &role_template {
            let probe = t.replace("{account}", "111122223333");
            if !t.contains("{account}") || crate::arn::validate_principal(&probe, false).is_err() {
                problems.push(format!(
                    "ENRICH_ROLE_ARN_TEMPLATE: `{t}` must be a role ARN with an {{account}} placeholder, e.g. arn:aws:iam::{{account}}:role/eks-access-watch-reader"
                ));
            }
        }
        let home_account = match var("HOME_ACCOUNT_ID") {
            Some(a) if is_account(&a) => Some(a),
            Some(a) => {
                problems.push(format!(
                    "HOME_ACCOUNT_ID: `{a}` is not a 12-digit account id"
                ));
                None
            }
            // The topic lives in the function's account in every supported deployment.
            None => topic_arn
                .as_deref()
                .and_then(|t| t.split(':').nth(4))
                .filter(|a| is_account(a))
                .map(str::to_string),
        };
        if !problems.is_empty() {
            return Err(ConfigError { problems });
        }
        Ok(Settings {
            topic_arn,
            rules,
            min_severity,
            enrich,
            enrich_timeout,
            format,
            role_template,
            home_account,
        })
    }

    pub fn enrich_settings(&self) -> EnrichSettings {
        EnrichSettings {
            timeout: self.enrich_timeout,
            home_account: self.home_account.clone(),
            role_template: self.role_template.clone(),
            ..EnrichSettings::default()
        }
    }
}

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The payload (or part of it) is not something we can read. Retrying cannot help; the
    /// event lands in the failure destination with this message.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// SNS did not take an alert after the SDK's retries. Retrying later may succeed.
    #[error("{failed} alert(s) not delivered: {first}")]
    Publish { failed: usize, first: String },
}

impl HandlerError {
    pub fn retryable(&self) -> bool {
        matches!(self, HandlerError::Publish { .. })
    }

    pub fn error_type(&self) -> &'static str {
        match self {
            HandlerError::InvalidInput(_) => "EksAccessWatch.InvalidInput",
            HandlerError::Publish { .. } => "EksAccessWatch.PublishFailed",
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
    pub event_id: String,
    pub severity: Severity,
    pub rules: Vec<String>,
    pub subject: String,
    /// `published <message id>`, `dry-run`, `below MIN_SEVERITY (<s>)`.
    pub delivery: String,
}

/// The invocation's result, returned to the caller (and shown by `cargo lambda invoke`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Response {
    pub alerts: Vec<Delivery>,
    /// Records that are not watched, with the reason.
    pub skipped: Vec<String>,
}

/// The handler with its clients, built once per process.
pub struct Handler {
    pub settings: Settings,
    enricher: Option<Enricher>,
    sns: Option<aws_sdk_sns::Client>,
}

impl Handler {
    /// `enricher` is ignored when `ENRICH` is off; `sns` is unused in a dry run.
    pub fn new(
        settings: Settings,
        enricher: Option<Enricher>,
        sns: Option<aws_sdk_sns::Client>,
    ) -> Self {
        let enricher = if settings.enrich { enricher } else { None };
        Handler {
            settings,
            enricher,
            sns,
        }
    }

    /// Handle one invocation payload: an EventBridge event, or any shape `replay` accepts.
    pub async fn handle(&self, payload: &serde_json::Value) -> Result<Response, HandlerError> {
        let bytes =
            serde_json::to_vec(payload).map_err(|e| HandlerError::InvalidInput(e.to_string()))?;
        let (events, skipped, invalid) = self.evaluate_payload(&bytes);
        let mut response = Response {
            alerts: Vec::new(),
            skipped,
        };
        let mut publish_failures = Vec::new();
        for event in events {
            let enrichment = match &self.enricher {
                Some(e) => e.enrich(&event).await,
                None => None,
            };
            let alert = classify(&event, &self.settings.rules, enrichment.as_ref());
            let delivery = match self.deliver(&alert).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(event_id = %alert.event_id, error = %e, "alert not delivered");
                    publish_failures.push(e.to_string());
                    format!("failed: {e}")
                }
            };
            tracing::info!(
                event_id = %alert.event_id,
                event_name = %alert.event_name,
                severity = %alert.severity,
                rules = %alert.rule_ids().join(","),
                delivery = %delivery,
                "alert"
            );
            response.alerts.push(Delivery {
                event_id: alert.event_id.clone(),
                severity: alert.severity,
                rules: alert.rule_ids().iter().map(|r| r.to_string()).collect(),
                subject: alert.subject(),
                delivery,
            });
        }
        if let Some(first) = publish_failures.first() {
            return Err(HandlerError::Publish {
                failed: publish_failures.len(),
                first: first.clone(),
            });
        }
        if !invalid.is_empty() {
            return Err(HandlerError::InvalidInput(invalid.join("; ")));
        }
        for s in &response.skipped {
            tracing::debug!(reason = %s, "skipped");
        }
        Ok(response)
    }

    /// The pure half: payload bytes -> watched events, skip reasons, problems.
    fn evaluate_payload(&self, bytes: &[u8]) -> (Vec<AccessEvent>, Vec<String>, Vec<String>) {
        let (mut events, mut skipped, mut invalid) = (Vec::new(), Vec::new(), Vec::new());
        let read = pipeline::scan(
            "event",
            bytes,
            &self.settings.rules,
            &mut |scanned| match scanned {
                Scanned::Watched { event, .. } => events.push(*event),
                Scanned::Skipped { location, reason } => {
                    skipped.push(format!("{location}: {reason}"))
                }
                Scanned::Invalid(message) => invalid.push(message),
            },
        );
        if let Err(e) = read {
            invalid.push(e.to_string());
        }
        (events, skipped, invalid)
    }

    async fn deliver(&self, alert: &Alert) -> Result<String, publish::PublishError> {
        if alert.severity < self.settings.min_severity {
            return Ok(format!(
                "below MIN_SEVERITY ({})",
                self.settings.min_severity
            ));
        }
        let (Some(topic), Some(sns)) = (&self.settings.topic_arn, &self.sns) else {
            tracing::info!(
                subject = %alert.subject(),
                alert = %serde_json::to_string(alert).unwrap_or_default(),
                "dry run (ALERT_TOPIC_ARN not set): alert logged, not published"
            );
            return Ok("dry-run".to_string());
        };
        let msg = publish::build_message(alert, topic, self.settings.format, SNS_MAX_BYTES);
        let id = publish::publish(sns, topic, &msg).await?;
        Ok(format!("published {id}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_are_a_dry_run_with_enrichment_on() {
        let s = Settings::from_env(env(&[])).unwrap();
        assert!(s.topic_arn.is_none() && s.enrich);
        assert_eq!(s.min_severity, Severity::Low);
        assert_eq!(s.enrich_timeout, Duration::from_millis(3000));
        assert_eq!(s.format, AlertFormat::Default);
    }

    #[test]
    fn every_bad_variable_is_named() {
        let err = Settings::from_env(env(&[
            ("ALERT_TOPIC_ARN", "my-topic"),
            ("MIN_SEVERITY", "urgent"),
            ("ENRICH", "maybe"),
            ("ENRICH_TIMEOUT_MS", "0"),
            ("ALERT_FORMAT", "slack"),
            (
                "ENRICH_ROLE_ARN_TEMPLATE",
                "arn:aws:iam::111122223333:role/reader",
            ),
            ("APPROVED_CALLER_ARNS", "terraform"),
        ]))
        .unwrap_err();
        let text = err.to_string();
        for v in [
            "ALERT_TOPIC_ARN",
            "MIN_SEVERITY",
            "ENRICH:",
            "ENRICH_TIMEOUT_MS",
            "ALERT_FORMAT",
            "ENRICH_ROLE_ARN_TEMPLATE",
            "APPROVED_CALLER_ARNS",
        ] {
            assert!(text.contains(v), "{v} missing from: {text}");
        }
        assert_eq!(err.problems.len(), 7);
    }

    #[test]
    fn home_account_defaults_to_the_topic_account() {
        let s = Settings::from_env(env(&[(
            "ALERT_TOPIC_ARN",
            "arn:aws:sns:eu-west-1:111122223333:alerts.fifo",
        )]))
        .unwrap();
        assert_eq!(s.home_account.as_deref(), Some("111122223333"));
    }
}
