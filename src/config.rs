//! Every setting, validated at once: what the rules read ([`RuleConfig`], from flags or the
//! environment) and what the Lambda reads ([`LambdaSettings`], from its environment). The
//! tuning file ([`crate::tuning`]) adds to both: its approved callers and break-glass roles
//! join those of the flags or environment ([`RuleConfig::merge`]).
//!
//! Both binaries build a [`RuleConfig`] from the same names (`APPROVED_CALLER_ARNS`,
//! `BREAK_GLASS_ROLE_ARNS`, or the CLI flags). Validation reports every bad value at once,
//! naming the variable or flag it came from and what it expects; ARNs are checked by
//! [`crate::arn`], the only module that takes them apart.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::arn::{self, PrincipalKey, TopicArn};
use crate::closed::closed_enum;
use crate::severity::Severity;
use crate::tuning::Tuning;

/// Who may change access, and which roles are break-glass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleConfig {
    /// ARNs of the automation allowed to change access (e.g. the Terraform role). Roles or users.
    pub approved_callers: Vec<String>,
    /// ARNs of break-glass roles.
    pub break_glass_roles: Vec<String>,
    approved_keys: Vec<PrincipalKey>,
    break_glass_keys: Vec<PrincipalKey>,
}

/// Every problem found in the configuration, each naming its source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration:")?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

/// The spellings that mark a break-glass role when none are configured: anywhere after `role/`
/// in its ARN (path included), case-sensitive, exactly as the SAM templates' wildcard patterns
/// match them (a test compares the two), so the EventBridge rule and the code always agree.
pub const BREAK_GLASS_SPELLINGS: &[&str] = &[
    "break-glass",
    "Break-Glass",
    "BREAK-GLASS",
    "breakglass",
    "BreakGlass",
    "BREAKGLASS",
    "break_glass",
    "Break_Glass",
    "BREAK_GLASS",
];

impl RuleConfig {
    /// Validate and build. `approved_source` / `break_glass_source` name where the values came
    /// from (`APPROVED_CALLER_ARNS`, `--approved-caller`) for error messages.
    pub fn new(
        approved_callers: &[String],
        approved_source: &str,
        break_glass_roles: &[String],
        break_glass_source: &str,
    ) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();
        let mut check = |values: &[String], source: &str, allow_user: bool| -> Vec<String> {
            values
                .iter()
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
                .filter_map(|v| match arn::validate_principal(v, allow_user) {
                    Ok(arn) => Some(arn),
                    Err(e) => {
                        problems.push(format!("{source}: {e}"));
                        None
                    }
                })
                .collect()
        };
        let approved = check(approved_callers, approved_source, true);
        let break_glass = check(break_glass_roles, break_glass_source, false);
        if !problems.is_empty() {
            return Err(ConfigError { problems });
        }
        Ok(Self::from_valid(approved, break_glass))
    }

    fn from_valid(approved_callers: Vec<String>, break_glass_roles: Vec<String>) -> Self {
        RuleConfig {
            approved_keys: approved_callers
                .iter()
                .filter_map(|a| PrincipalKey::from_arn(a))
                .collect(),
            break_glass_keys: break_glass_roles
                .iter()
                .filter_map(|a| PrincipalKey::from_arn(a))
                .collect(),
            approved_callers,
            break_glass_roles,
        }
    }

    /// Both configurations' approved callers and break-glass roles, each principal once: how
    /// a tuning file combines with the flags or environment (it adds, never replaces).
    pub fn merge(&self, other: &RuleConfig) -> RuleConfig {
        let union = |a: &[String], b: &[String]| -> Vec<String> {
            let mut out = a.to_vec();
            for arn in b {
                if !out.iter().any(|o| arn::same_principal(o, arn)) {
                    out.push(arn.clone());
                }
            }
            out
        };
        Self::from_valid(
            union(&self.approved_callers, &other.approved_callers),
            union(&self.break_glass_roles, &other.break_glass_roles),
        )
    }

    /// Split a comma-separated list (the environment variable form).
    pub fn split_list(value: &str) -> Vec<String> {
        value
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// True when approved callers are configured and `actor_arn` is one of them.
    pub fn is_approved(&self, actor_arn: Option<&str>) -> bool {
        let Some(key) = actor_arn.and_then(PrincipalKey::from_arn) else {
            return false;
        };
        self.approved_keys.contains(&key)
    }

    pub fn has_approved_callers(&self) -> bool {
        !self.approved_keys.is_empty()
    }

    /// True when `principal_arn` is a break-glass role: one of the configured roles, compared
    /// by name ignoring path and case (and by account and partition). With none configured, a
    /// role whose ARN holds one of [`BREAK_GLASS_SPELLINGS`] after `role/` counts (the common
    /// convention), so a fresh deployment still pages on them; configuring the list turns this
    /// fallback off.
    pub fn is_break_glass(&self, principal_arn: Option<&str>) -> bool {
        let Some(text) = principal_arn else {
            return false;
        };
        let Some(key) = PrincipalKey::from_arn(text) else {
            return false;
        };
        if key.kind != arn::PrincipalKind::Role {
            return false;
        }
        if self.break_glass_keys.is_empty() {
            let decoded = arn::decode(text);
            return decoded
                .split_once(":role/")
                .is_some_and(|(_, after)| BREAK_GLASS_SPELLINGS.iter().any(|s| after.contains(s)));
        }
        self.break_glass_keys.contains(&key)
    }
}

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
    /// The tuning file, once read ([`LambdaSettings::with_tuning`]).
    pub tuning: Option<Tuning>,
    /// The daily audit (`{"task": "audit"}`): where snapshots go, what to read, how to grade.
    pub audit: AuditSettings,
}

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
];

/// The variables only the daily audit reads (the template sets them on the audit function).
pub const AUDIT_ENV_VARS: &[&str] = &[
    "AUDIT_BUCKET",
    "AUDIT_ACCOUNTS",
    "AUDIT_REGIONS",
    "AUDIT_REQUIRE_TAGS",
    "AUDIT_MAX_ADMINS",
    "AUDIT_CONCURRENCY",
];

/// Reads variables through a lookup function and collects every problem, each naming its
/// variable.
struct Env<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<String>,
}

impl Env<'_> {
    /// The trimmed value; unset and blank are the same.
    fn text(&self, name: &str) -> Option<String> {
        (self.get)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// Parse a set variable with `parse`; a failure is recorded and `default` stands in.
    fn parse<T>(
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

    fn optional<T>(
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

fn switch(v: &str) -> Result<bool, String> {
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
        });
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
        let audit = AuditSettings::from_env(&mut env, role_template.is_some());
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
            tuning: None,
            audit,
        })
    }

    /// Add the tuning file: its approved callers and break-glass roles join the environment's.
    ///
    /// Refused when the file names a break-glass role the environment does not: the
    /// EventBridge rule that delivers role assumptions is built from `BREAK_GLASS_ROLE_ARNS`
    /// (the template's `BreakGlassRoleArns`), or with it empty from the naming convention, so
    /// assumptions of any other role would never reach the function.
    pub fn with_tuning(mut self, tuning: Tuning) -> Result<Self, ConfigError> {
        let env = &self.rules;
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
        self.rules = self.rules.merge(&tuning.rules);
        self.tuning = Some(tuning);
        Ok(self)
    }
}

/// What the audit grades with besides the [`RuleConfig`] (`--require-tag`, `--max-admins`, or
/// `AUDIT_REQUIRE_TAGS`, `AUDIT_MAX_ADMINS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    /// Tag keys every access entry must carry (`untagged-entry`); none by default.
    pub require_tags: Vec<String>,
    /// More ClusterAdmin/Admin holders than this on one cluster is `too-many-admins`.
    pub max_admins: usize,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            require_tags: Vec::new(),
            max_admins: 5,
        }
    }
}

impl AuditConfig {
    /// Validate tag keys (1 to 128 characters, as AWS allows); `source` names the flag or
    /// variable in errors.
    pub fn new(
        require_tags: &[String],
        source: &str,
        max_admins: usize,
    ) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();
        let mut tags: Vec<String> = Vec::new();
        for t in require_tags {
            let key = t.trim();
            if key.is_empty() || key.chars().count() > 128 {
                problems.push(format!(
                    "{source}: `{t}` is not a tag key (1 to 128 characters)"
                ));
            } else if !tags.iter().any(|k| k == key) {
                tags.push(key.to_string());
            }
        }
        if !problems.is_empty() {
            return Err(ConfigError { problems });
        }
        Ok(AuditConfig {
            require_tags: tags,
            max_admins,
        })
    }
}

/// An AWS region name (`eu-west-1`, `us-gov-west-1`, `cn-north-1`).
pub fn is_region(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
}

/// Check regions and account ids; every bad one is a problem naming `source`.
pub fn check_targets(
    regions: &[String],
    regions_source: &str,
    accounts: &[String],
    accounts_source: &str,
) -> Vec<String> {
    let mut problems = Vec::new();
    for r in regions.iter().filter(|r| !is_region(r)) {
        problems.push(format!(
            "{regions_source}: `{r}` is not an AWS region (e.g. eu-west-1)"
        ));
    }
    for a in accounts.iter().filter(|a| !arn::is_account_id(a)) {
        problems.push(format!(
            "{accounts_source}: `{a}` is not a 12-digit account id"
        ));
    }
    problems
}

/// The daily audit's settings in the Lambda.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSettings {
    /// The bucket holding the latest snapshot (`AUDIT_BUCKET`, set by the template). `None`:
    /// the audit task is refused, naming the variable.
    pub bucket: Option<String>,
    /// Other accounts to audit through `ENRICH_ROLE_ARN_TEMPLATE` (`AUDIT_ACCOUNTS`); the
    /// function's own account is always audited.
    pub accounts: Vec<String>,
    /// Regions to audit (`AUDIT_REGIONS`); empty: the function's region (`AWS_REGION`).
    pub regions: Vec<String>,
    pub config: AuditConfig,
    /// At most this many EKS calls in flight (`AUDIT_CONCURRENCY`, default 16).
    pub concurrency: usize,
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings {
            bucket: None,
            accounts: Vec::new(),
            regions: Vec::new(),
            config: AuditConfig::default(),
            concurrency: 16,
        }
    }
}

impl AuditSettings {
    fn from_env(env: &mut Env, has_role_template: bool) -> Self {
        let list =
            |env: &Env, name: &str| RuleConfig::split_list(&env.text(name).unwrap_or_default());
        let bucket = env.optional("AUDIT_BUCKET", |v| {
            let ok = (3..=63).contains(&v.len())
                && v.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'
                });
            if ok {
                Ok(v.to_string())
            } else {
                Err(format!("`{v}` is not an S3 bucket name"))
            }
        });
        let accounts = list(env, "AUDIT_ACCOUNTS");
        let mut regions = list(env, "AUDIT_REGIONS");
        if regions.is_empty() {
            regions.extend(env.text("AWS_REGION"));
        }
        env.problems.extend(check_targets(
            &regions,
            "AUDIT_REGIONS",
            &accounts,
            "AUDIT_ACCOUNTS",
        ));
        if !accounts.is_empty() && !has_role_template {
            env.problems.push(
                "AUDIT_ACCOUNTS: reading other accounts needs ENRICH_ROLE_ARN_TEMPLATE (the template's EnrichRoleName)"
                    .to_string(),
            );
        }
        let max_admins = env.parse("AUDIT_MAX_ADMINS", 5, |v| {
            v.parse::<usize>()
                .map_err(|_| format!("`{v}` is not a whole number"))
        });
        let concurrency = env.parse("AUDIT_CONCURRENCY", 16, |v| match v.parse::<usize>() {
            Ok(n) if (1..=256).contains(&n) => Ok(n),
            _ => Err(format!("`{v}` is not a whole number from 1 to 256")),
        });
        let config = AuditConfig::new(
            &list(env, "AUDIT_REQUIRE_TAGS"),
            "AUDIT_REQUIRE_TAGS",
            max_admins,
        )
        .unwrap_or_else(|e| {
            env.problems.extend(e.problems);
            AuditConfig::default()
        });
        AuditSettings {
            bucket,
            accounts,
            regions,
            config,
            concurrency,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_bad_value_is_reported_with_its_source() {
        let err = RuleConfig::new(
            &s(&["arn:aws:iam::111122223333:role/tf", "terraform"]),
            "APPROVED_CALLER_ARNS",
            &s(&[
                "arn:aws:sts::111122223333:assumed-role/bg/x",
                "arn:aws:iam::111122223333:user/bob",
            ]),
            "BREAK_GLASS_ROLE_ARNS",
        )
        .unwrap_err();
        assert_eq!(err.problems.len(), 3, "{err}");
        assert!(err.problems[0].starts_with("APPROVED_CALLER_ARNS: `terraform`"));
        assert!(
            err.to_string()
                .contains("BREAK_GLASS_ROLE_ARNS: `arn:aws:sts")
        );
    }

    #[test]
    fn approval_compares_principals_not_strings() {
        let c = RuleConfig::new(
            &s(&["arn:aws:iam::111122223333:role/automation/terraform"]),
            "x",
            &[],
            "y",
        )
        .unwrap();
        assert!(c.is_approved(Some(
            "arn:aws:sts::111122223333:assumed-role/terraform/run-1"
        )));
        assert!(c.is_approved(Some("arn:aws:iam::111122223333:role/automation/terraform")));
        assert!(!c.is_approved(Some("arn:aws:iam::444455556666:role/automation/terraform")));
        assert!(!c.is_approved(None));
    }

    #[test]
    fn break_glass_by_name_only_when_none_configured() {
        let none = RuleConfig::default();
        assert!(none.is_break_glass(Some("arn:aws:iam::111122223333:role/eks-break-glass")));
        assert!(none.is_break_glass(Some("arn:aws:iam::111122223333:role/EKS-Break-Glass")));
        assert!(
            none.is_break_glass(Some("arn:aws:iam::111122223333:role/break-glass/ops-admin")),
            "the path counts, as in the EventBridge wildcard"
        );
        assert!(
            !none.is_break_glass(Some("arn:aws:iam::111122223333:role/eks-Break-glass")),
            "mixed casings are not listed (configure the role)"
        );
        assert!(!none.is_break_glass(Some("arn:aws:iam::111122223333:role/ci")));
        let c = RuleConfig::new(
            &[],
            "x",
            &s(&["arn:aws:iam::111122223333:role/emergency"]),
            "y",
        )
        .unwrap();
        assert!(c.is_break_glass(Some("arn:aws:iam::111122223333:role/Emergency")));
        assert!(!c.is_break_glass(Some("arn:aws:iam::111122223333:role/eks-break-glass")));
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn lambda_defaults_are_a_dry_run_with_enrichment_on() {
        let s = LambdaSettings::from_env(env(&[])).unwrap();
        assert!(s.topic.is_none() && s.enrich && s.failure_queue_url.is_none());
        assert_eq!(s.region, None);
        let s = LambdaSettings::from_env(env(&[("AWS_REGION", "eu-west-1")])).unwrap();
        assert_eq!(
            s.region.as_deref(),
            Some("eu-west-1"),
            "the runtime's region"
        );
        assert_eq!(s.min_severity, Severity::Low);
        assert_eq!(s.enrich_timeout, Duration::from_millis(3000));
        assert_eq!(s.format, AlertFormat::Default);
    }

    #[test]
    fn every_bad_lambda_variable_is_named() {
        let err = LambdaSettings::from_env(env(&[
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
            ("HOME_ACCOUNT_ID", "12"),
            ("FAILURE_QUEUE_URL", "queue"),
            ("AUDIT_REGIONS", "europe"),
            ("AUDIT_ACCOUNTS", "12"),
            ("AUDIT_MAX_ADMINS", "many"),
            ("AUDIT_BUCKET", "Snapshots!"),
        ]))
        .unwrap_err();
        let text = err.to_string();
        for v in [
            "ALERT_TOPIC_ARN",
            "MIN_SEVERITY: unknown severity `urgent`; valid values: info, low, medium, high, critical",
            "ENRICH:",
            "ENRICH_TIMEOUT_MS",
            "ALERT_FORMAT",
            "ENRICH_ROLE_ARN_TEMPLATE",
            "APPROVED_CALLER_ARNS",
            "HOME_ACCOUNT_ID",
            "FAILURE_QUEUE_URL",
            "AUDIT_REGIONS: `europe` is not an AWS region",
            "AUDIT_ACCOUNTS: `12` is not a 12-digit account id",
            "AUDIT_ACCOUNTS: reading other accounts needs ENRICH_ROLE_ARN_TEMPLATE",
            "AUDIT_MAX_ADMINS",
            "AUDIT_BUCKET",
        ] {
            assert!(text.contains(v), "{v} missing from: {text}");
        }
        assert_eq!(err.problems.len(), 14);
    }

    #[test]
    fn home_account_defaults_to_the_topic_account() {
        let s = LambdaSettings::from_env(env(&[(
            "ALERT_TOPIC_ARN",
            "arn:aws:sns:eu-west-1:111122223333:alerts.fifo",
        )]))
        .unwrap();
        assert_eq!(s.home_account.as_deref(), Some("111122223333"));
        assert!(s.topic.unwrap().fifo);
    }

    #[test]
    fn lists_split_on_commas() {
        assert_eq!(RuleConfig::split_list(" a, ,b ,"), s(&["a", "b"]));
    }
}
