//! The Lambda's settings, from its environment: every variable parsed by a small typed parser,
//! every problem reported at once, each naming its variable.

use std::str::FromStr;
use std::time::Duration;

use super::{AuditSettings, ConfigError, RuleConfig, SinkSettings};
use crate::arn::{self, TopicArn};
use crate::closed::closed_enum;
use crate::severity::Severity;

closed_enum! {
    /// What subscribers get besides e-mail text and the JSON alert (`ALERT_FORMAT`).
    pub enum AlertFormat ("alert format") {
        /// JSON alert for machine subscribers, text for e-mail.
        Default = "default",
        /// Additionally, HTTPS subscribers (AWS Chatbot / Amazon Q Developer in chat
        /// applications) get a custom-notification document, so one topic feeds Slack or Teams.
        Chatbot = "chatbot",
    }
}

/// Everything the Lambda is configured with, validated once at init.
#[derive(Debug, Clone)]
pub struct LambdaSettings {
    /// `None`: dry run, alerts are logged instead of published.
    pub topic: Option<TopicArn>,
    pub rules: RuleConfig,
    pub min_severity: Severity,
    pub enrich: bool,
    pub enrich_timeout: Duration,
    pub format: AlertFormat,
    pub role_template: Option<String>,
    pub home_account: Option<String>,
    /// Where events that cannot succeed on a retry go at once, with the reason (the function's
    /// own on-failure queue). `None`: the invocation fails and Lambda's retries decide.
    pub failure_queue_url: Option<String>,
    /// The function's region (`AWS_REGION`, set by the Lambda runtime, not by the template):
    /// the region of the audit events its subscriptions deliver (they never cross regions).
    pub region: Option<String>,
    /// The SSM parameter holding the tuning file (`TUNING_PARAMETER_NAME`), read at init.
    pub tuning_parameter: Option<String>,
    /// The DynamoDB table of correlation state and delivered-once marks (`STATE_TABLE_NAME`);
    /// without it events are judged alone.
    pub state_table: Option<String>,
    /// The daily audit (`{"task": "audit"}`): where snapshots go, what to read, how to grade.
    pub audit: AuditSettings,
    /// Security Hub and PagerDuty (`SECURITY_HUB`, `PAGERDUTY_ROUTING_KEY_PARAMETER`, ...).
    pub sinks: SinkSettings,
    /// The organisation trail's bucket (`ORG_TRAIL_BUCKET`) and the queue its notifications
    /// should reach (`ORG_TRAIL_QUEUE_ARN`): the trail self-check asks the bucket.
    pub org_trail: Option<OrgTrail>,
}

/// The organisation trail's bucket path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgTrail {
    pub bucket: String,
    /// `None`: no queue configured, only EventBridge notifications count.
    pub queue_arn: Option<String>,
    /// Where the trail's files start in the bucket (`ORG_TRAIL_PREFIX`, default `AWSLogs/`;
    /// `PREFIX/AWSLogs/` for a trail with a key prefix): the daily `verify-trail` task reads
    /// the digests under it.
    pub prefix: String,
}

/// `ORG_TRAIL_PREFIX`'s default: a trail without a key prefix.
pub const DEFAULT_ORG_TRAIL_PREFIX: &str = "AWSLogs/";

/// The environment variables the Lambda reads, for docs, the template test and errors.
pub const LAMBDA_ENV_VARS: &[&str] = &[
    "ALERT_TOPIC_ARN",
    "APPROVED_CALLER_ARNS",
    "BREAK_GLASS_ROLE_ARNS",
    "MIN_SEVERITY",
    "ENRICH",
    "ENRICH_TIMEOUT_MS",
    "ALERT_FORMAT",
    "ENRICH_ROLE_ARN_TEMPLATE",
    "HOME_ACCOUNT_ID",
    "FAILURE_QUEUE_URL",
    "TUNING_PARAMETER_NAME",
    "STATE_TABLE_NAME",
    "WATCHER_STACK_NAME",
    "WATCHER_RESOURCES",
    // The finding-keeping sinks (`super::SINK_ENV_VARS`).
    "SECURITY_HUB",
    "SECURITY_HUB_MIN_SEVERITY",
    "PAGERDUTY_ROUTING_KEY_PARAMETER",
    "PAGERDUTY_MIN_SEVERITY",
    "PAGERDUTY_EVENTS_URL",
    "ORG_TRAIL_BUCKET",
    "ORG_TRAIL_QUEUE_ARN",
    "ORG_TRAIL_PREFIX",
];

/// Reads variables through a lookup function and collects every problem, each naming its
/// variable.
pub(super) struct Env<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
    pub(super) problems: Vec<String>,
}

impl<'a> Env<'a> {
    pub(super) fn new(get: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Env {
            get,
            problems: Vec::new(),
        }
    }

    /// The trimmed value; unset and blank are the same.
    pub(super) fn text(&self, name: &str) -> Option<String> {
        (self.get)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// Parse a set variable with `parse`; a failure is recorded and `default` stands in.
    pub(super) fn parse<T>(
        &mut self,
        name: &str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> T {
        match self.text(name) {
            None => default,
            Some(v) => parse(&v).unwrap_or_else(|e| {
                self.problems.push(format!("{name}: {e}"));
                default
            }),
        }
    }

    pub(super) fn optional<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        self.parse(name, None, |v| parse(v).map(Some))
    }
}

/// A closed set's value (its error lists the valid values).
fn one_of<T: FromStr<Err = crate::closed::UnknownValue>>(v: &str) -> Result<T, String> {
    v.parse()
        .map_err(|e: crate::closed::UnknownValue| e.to_string())
}

pub(super) fn switch(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "on" | "yes" => Ok(true),
        "0" | "false" | "off" | "no" => Ok(false),
        _ => Err(format!("`{v}` is not a switch; use true or false")),
    }
}

fn millis(v: &str, max: u64) -> Result<Duration, String> {
    match v.parse::<u64>() {
        Ok(ms) if (1..=max).contains(&ms) => Ok(Duration::from_millis(ms)),
        _ => Err(format!(
            "`{v}` is not a whole number of milliseconds from 1 to {max}"
        )),
    }
}

impl LambdaSettings {
    /// Read and validate every variable through `get`; every problem is reported at once,
    /// each naming its variable and what is expected.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut env = Env {
            get: &get,
            problems: Vec::new(),
        };
        let topic = env.optional("ALERT_TOPIC_ARN", |v| {
            arn::parse_topic(v).map_err(|e| format!("{e}; unset it for a dry run"))
        });
        let rules = RuleConfig::new(
            &RuleConfig::split_list(&env.text("APPROVED_CALLER_ARNS").unwrap_or_default()),
            "APPROVED_CALLER_ARNS",
            &RuleConfig::split_list(&env.text("BREAK_GLASS_ROLE_ARNS").unwrap_or_default()),
            "BREAK_GLASS_ROLE_ARNS",
        )
        .unwrap_or_else(|e| {
            env.problems.extend(e.problems);
            RuleConfig::default()
        })
        .with_watcher(super::WatcherResources::from_env(None, &get));
        let min_severity = env.parse("MIN_SEVERITY", Severity::Low, one_of);
        let enrich = env.parse("ENRICH", true, switch);
        let enrich_timeout = env.parse("ENRICH_TIMEOUT_MS", Duration::from_millis(3000), |v| {
            millis(v, 60_000)
        });
        let format = env.parse("ALERT_FORMAT", AlertFormat::Default, one_of);
        let role_template = env.optional("ENRICH_ROLE_ARN_TEMPLATE", |v| {
            arn::validate_role_template(v).map_err(|e| e.to_string())
        });
        let home_account = env.optional("HOME_ACCOUNT_ID", |v| {
            if arn::is_account_id(v) {
                Ok(v.to_string())
            } else {
                Err(format!("`{v}` is not a 12-digit account id"))
            }
        });
        let failure_queue_url = env.optional("FAILURE_QUEUE_URL", |v| {
            if v.starts_with("https://") && v.contains("/") {
                Ok(v.to_string())
            } else {
                Err(format!(
                    "`{v}` is not an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>)"
                ))
            }
        });
        let tuning_parameter = env.optional("TUNING_PARAMETER_NAME", |v| {
            let valid = v.len() <= 2048
                && v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-/:".contains(c));
            if valid {
                Ok(v.to_string())
            } else {
                Err(format!(
                    "`{v}` is not an SSM parameter name (letters, digits and _ . - /, e.g. /eks-access-watch/tuning)"
                ))
            }
        });
        let state_table = env.optional("STATE_TABLE_NAME", |v| {
            let valid = (3..=255).contains(&v.len())
                && v.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
            if valid {
                Ok(v.to_string())
            } else {
                Err(format!(
                    "`{v}` is not a DynamoDB table name (3 to 255 letters, digits, _ . -); the template sets it to its StateTable"
                ))
            }
        });
        let bucket = env.optional("ORG_TRAIL_BUCKET", |v| {
            let valid = (3..=63).contains(&v.len())
                && v.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-".contains(c));
            if valid {
                Ok(v.to_string())
            } else {
                Err(format!(
                    "`{v}` is not an S3 bucket name (3 to 63 lowercase letters, digits, . -); the template sets it to OrgTrailBucketName"
                ))
            }
        });
        let queue_arn = env.optional("ORG_TRAIL_QUEUE_ARN", |v| {
            if v.starts_with("arn:") && v.split(':').nth(2) == Some("sqs") {
                Ok(v.to_string())
            } else {
                Err(format!(
                    "`{v}` is not an SQS queue ARN (arn:aws:sqs:REGION:ACCOUNT:NAME)"
                ))
            }
        });
        if queue_arn.is_some() && bucket.is_none() {
            env.problems.push(
                "ORG_TRAIL_QUEUE_ARN: set without ORG_TRAIL_BUCKET; set both or neither".into(),
            );
        }
        let prefix = env.optional("ORG_TRAIL_PREFIX", |v| {
            if v.starts_with('/') || v.contains("://") || !v.contains("AWSLogs/") {
                Err(format!(
                    "`{v}` is not a key prefix of the trail's files: it should be AWSLogs/ (the default), AWSLogs/o-ORG/, or KEYPREFIX/AWSLogs/ for a trail with a key prefix, without s3:// or a leading /"
                ))
            } else {
                Ok(v.to_string())
            }
        });
        if prefix.is_some() && bucket.is_none() {
            env.problems
                .push("ORG_TRAIL_PREFIX: set without ORG_TRAIL_BUCKET; set both or neither".into());
        }
        let org_trail = bucket.map(|bucket| OrgTrail {
            bucket,
            queue_arn,
            prefix: prefix.unwrap_or_else(|| DEFAULT_ORG_TRAIL_PREFIX.to_string()),
        });
        let audit = AuditSettings::from_env(&mut env, role_template.is_some());
        let sinks = SinkSettings::read(&mut env);
        if sinks.security_hub && home_account.is_none() && topic.is_none() {
            env.problems.push("SECURITY_HUB: Security Hub imports findings under the function's own account, which nothing names: set HOME_ACCOUNT_ID (the template sets it to AWS::AccountId)".to_string());
        }
        if sinks.security_hub && env.text("AWS_REGION").is_none() {
            env.problems.push("SECURITY_HUB: Security Hub imports into the function's region, which AWS_REGION names (the Lambda runtime sets it); set it when running the function elsewhere".to_string());
        }
        if !env.problems.is_empty() {
            return Err(ConfigError {
                problems: env.problems,
            });
        }
        Ok(LambdaSettings {
            // The topic lives in the function's account in every supported deployment.
            home_account: home_account.or_else(|| topic.as_ref().map(|t| t.account.clone())),
            topic,
            rules,
            min_severity,
            enrich,
            enrich_timeout,
            format,
            role_template,
            failure_queue_url,
            region: env.text("AWS_REGION"),
            tuning_parameter,
            state_table,
            audit,
            sinks,
            org_trail,
        })
    }
}
