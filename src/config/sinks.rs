//! The sinks beyond the alert topic, from the environment (the Lambda's, and `replay --sink`'s):
//! Security Hub (`SECURITY_HUB`, `SECURITY_HUB_MIN_SEVERITY`) and PagerDuty
//! (`PAGERDUTY_ROUTING_KEY_PARAMETER`, `PAGERDUTY_MIN_SEVERITY`, `PAGERDUTY_EVENTS_URL`).
//! Every problem is reported at once, each naming its variable.

use super::ConfigError;
use super::lambda::Env;
use crate::severity::Severity;

/// The variables read here, for docs, the template test and errors.
pub const SINK_ENV_VARS: &[&str] = &[
    "SECURITY_HUB",
    "SECURITY_HUB_MIN_SEVERITY",
    "PAGERDUTY_ROUTING_KEY_PARAMETER",
    "PAGERDUTY_MIN_SEVERITY",
    "PAGERDUTY_EVENTS_URL",
];

/// PagerDuty's Events API v2 endpoint unless `PAGERDUTY_EVENTS_URL` says otherwise.
pub const DEFAULT_PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// Which of the finding-keeping sinks are on, and their own minimums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkSettings {
    /// `SECURITY_HUB=true`: alerts become Security Hub findings.
    pub security_hub: bool,
    /// `SECURITY_HUB_MIN_SEVERITY` (default `medium`).
    pub security_hub_min_severity: Severity,
    /// `PAGERDUTY_ROUTING_KEY_PARAMETER`: the SSM SecureString holding the routing key;
    /// `None`: no PagerDuty.
    pub pagerduty_routing_key_parameter: Option<String>,
    /// `PAGERDUTY_MIN_SEVERITY` (default `high`).
    pub pagerduty_min_severity: Severity,
    /// `PAGERDUTY_EVENTS_URL` (default [`DEFAULT_PAGERDUTY_EVENTS_URL`]).
    pub pagerduty_events_url: String,
}

impl Default for SinkSettings {
    fn default() -> Self {
        SinkSettings {
            security_hub: false,
            security_hub_min_severity: Severity::Medium,
            pagerduty_routing_key_parameter: None,
            pagerduty_min_severity: Severity::High,
            pagerduty_events_url: DEFAULT_PAGERDUTY_EVENTS_URL.to_string(),
        }
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host == "[::1]" || host.starts_with("127.")
}

/// An https URL, or http to a loopback address (a local stand-in).
fn events_url(v: &str) -> Result<String, String> {
    let rest = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"));
    let host = rest
        .map(|r| r.split(['/', '?']).next().unwrap_or(""))
        .map(|h| match h.rsplit_once(':') {
            Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
            _ => h,
        })
        .unwrap_or("");
    if host.is_empty() || v.chars().any(char::is_whitespace) {
        return Err(format!(
            "`{v}` is not a URL; use https://events.pagerduty.com/v2/enqueue (the default) or your PagerDuty region's endpoint"
        ));
    }
    if v.starts_with("http://") && !is_loopback(host) {
        return Err(format!(
            "`{v}`: the routing key would travel in plain text; use https (http only to a loopback address)"
        ));
    }
    Ok(v.to_string())
}

fn parameter_name(v: &str) -> Result<String, String> {
    let valid = v.len() <= 2048
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-/:".contains(c));
    if valid {
        Ok(v.to_string())
    } else {
        Err(format!(
            "`{v}` is not an SSM parameter name (letters, digits and _ . - /, e.g. /eks-access-watch/pagerduty-routing-key); name the SecureString that holds the key, never the key itself"
        ))
    }
}

impl SinkSettings {
    /// Read through the Lambda's environment reader (problems join the others).
    pub(super) fn read(env: &mut Env<'_>) -> SinkSettings {
        let d = SinkSettings::default();
        let severity = |v: &str| v.parse::<Severity>().map_err(|e| e.to_string());
        SinkSettings {
            security_hub: env.parse("SECURITY_HUB", d.security_hub, super::lambda::switch),
            security_hub_min_severity: env.parse(
                "SECURITY_HUB_MIN_SEVERITY",
                d.security_hub_min_severity,
                severity,
            ),
            pagerduty_routing_key_parameter: env
                .optional("PAGERDUTY_ROUTING_KEY_PARAMETER", parameter_name),
            pagerduty_min_severity: env.parse(
                "PAGERDUTY_MIN_SEVERITY",
                d.pagerduty_min_severity,
                severity,
            ),
            pagerduty_events_url: env.parse(
                "PAGERDUTY_EVENTS_URL",
                d.pagerduty_events_url,
                events_url,
            ),
        }
    }

    /// Read and validate the sink variables alone (`replay --sink`), every problem at once.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut env = Env::new(&get);
        let settings = Self::read(&mut env);
        if env.problems.is_empty() {
            Ok(settings)
        } else {
            Err(ConfigError {
                problems: env.problems,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<SinkSettings, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        SinkSettings::from_env(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults_are_off_with_medium_and_high_minimums() {
        let s = from(&[]).unwrap();
        assert_eq!(s, SinkSettings::default());
        assert!(!s.security_hub);
        assert_eq!(s.security_hub_min_severity, Severity::Medium);
        assert_eq!(s.pagerduty_min_severity, Severity::High);
        assert_eq!(s.pagerduty_events_url, DEFAULT_PAGERDUTY_EVENTS_URL);
    }

    #[test]
    fn every_bad_variable_is_named_at_once() {
        let e = from(&[
            ("SECURITY_HUB", "maybe"),
            ("SECURITY_HUB_MIN_SEVERITY", "urgent"),
            ("PAGERDUTY_ROUTING_KEY_PARAMETER", "R0UT1NG KEY"),
            ("PAGERDUTY_MIN_SEVERITY", "loud"),
            (
                "PAGERDUTY_EVENTS_URL",
                "http://events.example.com/v2/enqueue",
            ),
        ])
        .unwrap_err();
        let text = e.problems.join("\n");
        for var in SINK_ENV_VARS {
            assert!(
                text.contains(&format!("{var}:")),
                "{var} not named in {text}"
            );
        }
        assert!(text.contains("valid values"), "{text}");
        assert!(text.contains("plain text"), "{text}");
    }

    #[test]
    fn loopback_http_is_accepted_for_a_stand_in() {
        let s = from(&[
            ("SECURITY_HUB", "true"),
            (
                "PAGERDUTY_ROUTING_KEY_PARAMETER",
                "/eks-access-watch/pagerduty",
            ),
            ("PAGERDUTY_EVENTS_URL", "http://127.0.0.1:8080/v2/enqueue"),
            ("PAGERDUTY_MIN_SEVERITY", "critical"),
        ])
        .unwrap();
        assert!(s.security_hub);
        assert_eq!(s.pagerduty_min_severity, Severity::Critical);
        assert_eq!(
            s.pagerduty_routing_key_parameter.as_deref(),
            Some("/eks-access-watch/pagerduty")
        );
    }
}
