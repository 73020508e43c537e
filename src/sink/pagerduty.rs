//! PagerDuty's Events API v2 (`PAGERDUTY_ROUTING_KEY_PARAMETER` names the SSM SecureString
//! that holds the integration's routing key; the key itself never sits in the environment).
//!
//! - An alert at or above `PAGERDUTY_MIN_SEVERITY` (default `high`) is a `trigger` with
//!   `dedup_key` = the incident id, or the event id when the alert has no incident
//!   ([`Alert::finding_uid`]): a later event of the incident triggers the same key, which
//!   PagerDuty adds to the open alert instead of paging again.
//! - A revert (`grant-reverted`) sends `resolve` for its incident and for the grant it undoes
//!   ([`Alert::lifecycle_uids`]).
//! - `summary` is the subject line (at most 1,024 characters); `custom_details` carry the
//!   findings, the next steps and the undo command.
//! - 429 and 5xx are retried with exponential backoff; another 4xx is refused for good (the
//!   event is parked with PagerDuty's reason); no answer at all is retryable.
//!
//! The HTTP client is hyper with rustls (ring) and the system's roots, already in the tree
//! through the AWS SDK's own client.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use super::{Delivering, Receipt, Sink, SinkError};
use crate::alert::{Activity, Alert};
use crate::severity::Severity;

const NAME: &str = "pagerduty";
/// The Events API's limit on `payload.summary`.
pub const SUMMARY_MAX: usize = 1024;
/// The default endpoint (`PAGERDUTY_EVENTS_URL`).
pub const DEFAULT_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// PagerDuty's severity for ours.
pub fn pagerduty_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "critical",
        Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "info",
    }
}

/// The Events API v2 bodies of one alert: one `trigger`, or for a revert one `resolve` per
/// finding it closes.
pub fn pagerduty_event(alert: &Alert, routing_key: &str) -> Vec<Value> {
    if alert.activity() == Activity::Close {
        return alert
            .lifecycle_uids()
            .into_iter()
            .map(|key| {
                json!({
                    "routing_key": routing_key,
                    "event_action": "resolve",
                    "dedup_key": key,
                })
            })
            .collect();
    }
    let findings: Vec<Value> = alert
        .findings
        .iter()
        .filter(|f| f.counts())
        .map(|f| json!({"rule": f.rule.id, "severity": f.severity, "summary": f.summary}))
        .collect();
    let mut details = serde_json::Map::new();
    details.insert("findings".into(), json!(findings));
    details.insert("next_steps".into(), json!(crate::render::next_steps(alert)));
    if let Some(undo) = crate::render::undo_command(alert) {
        details.insert("undo".into(), json!(undo));
    }
    details.insert("event_id".into(), json!(alert.event_id));
    details.insert("event_name".into(), json!(alert.event_name));
    details.insert("actor".into(), json!(alert.actor));
    details.insert("principal_arn".into(), json!(alert.principal_arn));
    details.insert("account".into(), json!(alert.account));
    details.insert("region".into(), json!(alert.region));
    if let Some(i) = &alert.incident {
        details.insert("incident".into(), json!(i.id));
    }
    let mut payload = serde_json::Map::new();
    payload.insert(
        "summary".into(),
        json!(crate::render::subject_within(alert, SUMMARY_MAX)),
    );
    payload.insert(
        "source".into(),
        json!(
            alert
                .cluster
                .clone()
                .unwrap_or_else(|| alert.account.clone())
        ),
    );
    payload.insert("severity".into(), json!(pagerduty_severity(alert.severity)));
    if let Some(t) = &alert.event_time {
        payload.insert("timestamp".into(), json!(t));
    }
    if let Some(c) = &alert.cluster {
        payload.insert("component".into(), json!(c));
    }
    payload.insert(
        "group".into(),
        json!(format!("{}/{}", alert.account, alert.region)),
    );
    if let Some(rule) = alert.rule_ids().first() {
        payload.insert("class".into(), json!(rule));
    }
    payload.insert("custom_details".into(), Value::Object(details));
    vec![json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": alert.finding_uid(),
        "payload": Value::Object(payload),
        "client": "eks-access-watch",
    })]
}

/// How the sink talks to PagerDuty.
#[derive(Debug, Clone)]
pub struct PagerDutySettings {
    pub events_url: String,
    pub routing_key: String,
    pub min_severity: Severity,
    /// Attempts per event on 429 and 5xx (first included).
    pub attempts: u32,
    /// The first wait; doubled after each retry.
    pub backoff: Duration,
    /// Per request.
    pub timeout: Duration,
}

impl PagerDutySettings {
    pub fn new(events_url: String, routing_key: String, min_severity: Severity) -> Self {
        PagerDutySettings {
            events_url,
            routing_key,
            min_severity,
            // At worst 3 x 3 s and 0.75 s of waiting: within the function's 30 s with room
            // for the other sinks.
            attempts: 3,
            backoff: Duration::from_millis(250),
            timeout: Duration::from_secs(3),
        }
    }
}

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// The PagerDuty sink.
#[derive(Clone)]
pub struct PagerDutySink {
    settings: PagerDutySettings,
    uri: hyper::Uri,
    client: Client<Https, Full<Bytes>>,
}

impl std::fmt::Debug for PagerDutySink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the routing key.
        f.debug_struct("PagerDutySink")
            .field("events_url", &self.settings.events_url)
            .field("min_severity", &self.settings.min_severity)
            .finish()
    }
}

impl PagerDutySink {
    /// The client for `settings.events_url` (https, or http for a loopback stand-in).
    pub fn new(settings: PagerDutySettings) -> Result<Self, String> {
        let uri: hyper::Uri = settings
            .events_url
            .parse()
            .map_err(|e| format!("PAGERDUTY_EVENTS_URL `{}`: {e}", settings.events_url))?;
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| format!("PagerDuty client: no TLS roots: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(https);
        Ok(PagerDutySink {
            settings,
            uri,
            client,
        })
    }

    /// One event, retried on 429 and 5xx: PagerDuty's answer (`dedup_key`, `message`).
    async fn send(&self, body: &Value) -> Result<String, SinkError> {
        let text = body.to_string();
        let mut wait = self.settings.backoff;
        let mut last = String::new();
        for attempt in 1..=self.settings.attempts.max(1) {
            let req = hyper::Request::post(self.uri.clone())
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(text.clone())))
                .map_err(|e| {
                    SinkError::new(NAME, None, format!("PagerDuty request: {e}"), false)
                })?;
            let answer = tokio::time::timeout(self.settings.timeout, async {
                let resp = self.client.request(req).await?;
                let status = resp.status().as_u16();
                let body = resp.into_body().collect().await?.to_bytes();
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>((status, body))
            })
            .await;
            let (status, body) = match answer {
                Ok(Ok(a)) => a,
                Ok(Err(e)) => {
                    last = format!("PagerDuty Events API: no answer: {e}");
                    if attempt < self.settings.attempts {
                        tokio::time::sleep(wait).await;
                        wait *= 2;
                    }
                    continue;
                }
                Err(_) => {
                    last = format!(
                        "PagerDuty Events API: no answer within {:?}",
                        self.settings.timeout
                    );
                    if attempt < self.settings.attempts {
                        tokio::time::sleep(wait).await;
                        wait *= 2;
                    }
                    continue;
                }
            };
            let said: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let reason = || {
                let message = said["message"].as_str().unwrap_or("");
                let errors = said["errors"]
                    .as_array()
                    .map(|e| {
                        e.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join("; ")
                    })
                    .unwrap_or_default();
                let text = [message, errors.as_str()]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join(": ");
                if text.is_empty() {
                    String::from_utf8_lossy(&body).chars().take(300).collect()
                } else {
                    text
                }
            };
            match status {
                200..=299 => {
                    return Ok(said["dedup_key"].as_str().unwrap_or_default().to_string());
                }
                429 | 500..=599 => {
                    last = format!("PagerDuty Events API: HTTP {status}: {}", reason());
                    if attempt < self.settings.attempts {
                        tokio::time::sleep(wait).await;
                        wait *= 2;
                    }
                }
                _ => {
                    return Err(SinkError::new(
                        NAME,
                        Some(status.to_string()),
                        format!(
                            "PagerDuty Events API refused the event: HTTP {status}: {}",
                            reason()
                        ),
                        false,
                    ));
                }
            }
        }
        Err(SinkError::new(
            NAME,
            None,
            format!("{last} (after {} attempts)", self.settings.attempts),
            true,
        ))
    }
}

impl Sink for PagerDutySink {
    fn name(&self) -> &'static str {
        NAME
    }

    fn min_severity(&self) -> Severity {
        self.settings.min_severity
    }

    fn keeps_findings(&self) -> bool {
        true
    }

    fn deliver<'a>(&'a self, alert: &'a Alert) -> Delivering<'a> {
        Box::pin(async move {
            let mut keys = Vec::new();
            let events = pagerduty_event(alert, &self.settings.routing_key);
            let action = events
                .first()
                .and_then(|e| e["event_action"].as_str())
                .unwrap_or("trigger")
                .to_string();
            for event in &events {
                let key = self.send(event).await?;
                keys.push(if key.is_empty() {
                    event["dedup_key"].as_str().unwrap_or_default().to_string()
                } else {
                    key
                });
            }
            Ok(Receipt(format!("pagerduty: {action} {}", keys.join(", "))))
        })
    }
}
