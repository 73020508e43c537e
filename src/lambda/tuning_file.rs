//! The tuning file in the Lambda: read once per cold start from its SSM parameter, logged by
//! its SHA-256, and never a reason to stop alerting. A file that cannot be read or is invalid
//! leaves the function on its environment's settings and is published as `tuning-invalid`
//! with every problem; a write of the parameter is compared version against version for
//! `tuning-changed`; an alert the file silences entirely leaves a log line and a metric.

use sha2::{Digest, Sha256};

use super::{Handled, Handler, Setup, with_tuning};
use crate::config::LambdaSettings;
use crate::context::TuningChange;
use crate::model::{AccessEvent, Actor, Change};
use crate::operation::{Operation, WatcherPart};
use crate::tuning::{self, Tuning};

/// The SHA-256 of a tuning file's text, as hex.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Read the tuning file from the SSM parameter `TUNING_PARAMETER_NAME` names (once, at init)
/// and add it to the settings ([`with_tuning`]). Without the variable the settings are
/// returned unchanged and `ssm` is not called. Never fails: a parameter that cannot be read,
/// or a file that is invalid, leaves the environment's settings alone and its problems in
/// [`Setup::tuning_problems`] (published as `tuning-invalid`,
/// [`Handler::report_tuning_problems`]). The file's hash is logged either way.
pub async fn load_tuning(settings: LambdaSettings, ssm: &aws_sdk_ssm::Client) -> Setup {
    let Some(name) = settings.tuning_parameter.clone() else {
        tracing::info!("no tuning file (TUNING_PARAMETER_NAME unset)");
        return settings.into();
    };
    let source = format!("SSM parameter {name}");
    let fallback = |settings: LambdaSettings, problems: Vec<String>, sha256: Option<String>| {
        tracing::error!(
            parameter = %name,
            sha256 = sha256.as_deref(),
            problems = problems.len(),
            "the tuning file is not applied; running on the environment's settings alone: {}",
            problems.join("; ")
        );
        Setup {
            tuning_problems: problems,
            tuning_sha256: sha256,
            ..Setup::from(settings)
        }
    };
    let text = match crate::aws::ssm::get_text(ssm, &name).await {
        Ok(text) => text,
        Err(error) => {
            return fallback(
                settings,
                vec![format!(
                    "cannot read the tuning file from {source}: {error}"
                )],
                None,
            );
        }
    };
    let sha256 = sha256_hex(&text);
    let tuning = match Tuning::parse(&text, &source) {
        Ok(t) => t,
        Err(e) => return fallback(settings, e.problems, Some(sha256)),
    };
    match with_tuning(settings.clone(), tuning) {
        Ok(mut setup) => {
            tracing::info!(parameter = %name, sha256 = %sha256, "tuning file loaded");
            setup.tuning_sha256 = Some(sha256);
            setup
        }
        Err(e) => fallback(settings, e.problems, Some(sha256)),
    }
}

/// The cold start's finding that the tuning file is not applied, as an event of the
/// watcher's own operation, for the pipeline.
pub fn tuning_invalid_event(
    source: &str,
    problems: &[String],
    account: &str,
    region: &str,
    now: &str,
) -> AccessEvent {
    AccessEvent {
        operation: Operation::TuningCheck,
        event_id: Some(format!("tuning-invalid/{account}/{region}/{now}")),
        event_time: Some(now.to_string()),
        account: account.to_string(),
        region: region.to_string(),
        cluster: None,
        actor: Actor::watcher(),
        user_agent: None,
        source_ip: None,
        error: None,
        change: Change::TuningInvalid {
            source: source.to_string(),
            problems: problems.to_vec(),
        },
    }
}

/// The embedded-metric-format line that counts alerts the tuning file silenced entirely
/// (`EksAccessWatch/SilencedAlerts`, by `Reason`: `disabled` when every finding's rule is
/// off, `suppressed` when exceptions cover every finding).
pub fn silenced_metric(reason: &str, count: u64, timestamp_ms: i64) -> String {
    serde_json::json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": "EksAccessWatch",
                "Dimensions": [["Reason"]],
                "Metrics": [{"Name": "SilencedAlerts", "Unit": "Count"}],
            }],
        },
        "Reason": reason,
        "SilencedAlerts": count,
    })
    .to_string()
}

/// An event the tuning file silenced entirely: a warning naming it and the metric line, so a
/// silenced alert is never nothing.
pub(super) fn report_silenced(event: &AccessEvent, reason: &str, rules: &[&str]) {
    tracing::warn!(
        event_id = ?event.event_id,
        event_name = %event.event_name(),
        reason,
        rules = %rules.join(","),
        "alert silenced by the tuning file ({reason}): every finding"
    );
    println!("{}", silenced_metric(reason, 1, super::wall_clock() * 1000));
}

impl Handler {
    /// The SSM client that reads the tuning parameter's versions when it is written
    /// (`tuning-changed`); without it the finding says the versions were not read.
    pub fn with_ssm(mut self, ssm: aws_sdk_ssm::Client) -> Self {
        self.ssm = Some(ssm);
        self
    }

    /// Publish `tuning-invalid` for the problems the cold start found (none: nothing to do):
    /// the delivery, or why there is none.
    pub async fn report_tuning_problems(&self, problems: &[String]) -> Option<String> {
        if problems.is_empty() {
            return None;
        }
        let source = self
            .settings
            .tuning_parameter
            .as_deref()
            .map(|n| format!("SSM parameter {n}"))
            .unwrap_or_else(|| "the tuning file".to_string());
        let event = tuning_invalid_event(
            &source,
            problems,
            self.settings.home_account.as_deref().unwrap_or_default(),
            self.settings.region.as_deref().unwrap_or_default(),
            &crate::aws::now(),
        );
        Some(
            match self
                .alert(&event, None, &mut super::sinks::SinkState::off())
                .await
            {
                Handled::Alert(delivery, failed) => {
                    for e in &failed {
                        tracing::error!(sink = e.sink, error = %e, "tuning-invalid not delivered");
                    }
                    delivery.delivery
                }
                Handled::Disabled(reason) => reason,
            },
        )
    }

    /// For a write of the tuning parameter: its previous and new versions, compared.
    pub(super) async fn tuning_change(&self, event: &AccessEvent) -> Option<TuningChange> {
        let Change::WatcherTampered(t) = &event.change else {
            return None;
        };
        let name = t.name.as_deref()?;
        if t.part != WatcherPart::SsmParameter
            || event.error.is_some()
            || !self.settings.rules.watcher.is_tuning_parameter(name)
        {
            return None;
        }
        let Some(ssm) = &self.ssm else {
            return None;
        };
        let unavailable = |why: String| TuningChange {
            unavailable: Some(why),
            ..TuningChange::default()
        };
        if event.operation == Operation::DeleteParameter {
            return Some(unavailable("the parameter is deleted".into()));
        }
        let Some(version) = t.version else {
            return Some(unavailable(
                "the record does not say which version was written".into(),
            ));
        };
        let read = |v: i64| crate::aws::ssm::get_version(ssm, name, v);
        let new_text = match read(version).await {
            Ok(t) => t,
            Err(e) => return Some(unavailable(format!("version {version}: {e}"))),
        };
        let old_text = match version {
            v if v > 1 => match read(v - 1).await {
                Ok(t) => Some(t),
                Err(e) => return Some(unavailable(format!("version {}: {e}", v - 1))),
            },
            _ => None,
        };
        let source = |v: i64| format!("SSM parameter {name} version {v}");
        let new = match Tuning::parse(&new_text, &source(version)) {
            Ok(t) => t,
            Err(e) => {
                return Some(TuningChange {
                    from_version: old_text.as_ref().map(|_| version - 1),
                    to_version: Some(version),
                    changes: vec![format!(
                        "the new version is invalid, so the next cold start runs on the environment's settings alone: {}",
                        e.problems.join("; ")
                    )],
                    unavailable: None,
                });
            }
        };
        // An old version that no longer parses (an exception since expired past the limit)
        // compares as no file.
        let old = old_text.and_then(|t| Tuning::parse(&t, &source(version - 1)).ok());
        Some(TuningChange {
            from_version: (version > 1).then_some(version - 1),
            to_version: Some(version),
            changes: tuning::differences(old.as_ref(), &new),
            unavailable: None,
        })
    }
}
