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

use crate::arn::{self, PrincipalKey};

mod audit;
mod lambda;
mod sinks;
mod watcher;

pub use audit::{AUDIT_ENV_VARS, AuditConfig, AuditSettings, check_targets, is_region};
pub use lambda::{
    AlertFormat, DEFAULT_ORG_TRAIL_PREFIX, LAMBDA_ENV_VARS, LambdaSettings, OrgTrail,
};
pub use sinks::{DEFAULT_PAGERDUTY_EVENTS_URL, SINK_ENV_VARS, SinkSettings};
pub use watcher::{DEFAULT_STACK_NAME, WATCHER_ENV_VARS, WatcherResources, resource_name};

/// Windows and thresholds of the correlation rules (the tuning file's `[correlation]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorrelationSettings {
    /// `access-entry-created-then-deleted`: a grant removed within this long of being made.
    pub created_then_deleted: std::time::Duration,
    /// `principal-granted-on-many-clusters`: this many distinct clusters ...
    pub many_clusters: usize,
    /// ... within this window.
    pub many_clusters_window: std::time::Duration,
    /// `repeated-denied-attempts`: this many denied calls ...
    pub denied_attempts: usize,
    /// ... within this window.
    pub denied_window: std::time::Duration,
}

impl Default for CorrelationSettings {
    fn default() -> Self {
        let minutes = |m: u64| std::time::Duration::from_secs(m * 60);
        CorrelationSettings {
            created_then_deleted: minutes(60),
            many_clusters: 3,
            many_clusters_window: minutes(60),
            denied_attempts: 5,
            denied_window: minutes(10),
        }
    }
}

/// Who may change access, and which roles are break-glass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleConfig {
    /// ARNs of the automation allowed to change access (e.g. the Terraform role). Roles or users.
    pub approved_callers: Vec<String>,
    /// ARNs of break-glass roles.
    pub break_glass_roles: Vec<String>,
    approved_keys: Vec<PrincipalKey>,
    break_glass_keys: Vec<PrincipalKey>,
    /// The deployment's own resources (`watcher-tampered`).
    pub watcher: WatcherResources,
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
            watcher: WatcherResources::default(),
        }
    }

    /// The same configuration, knowing the deployment's own resources.
    pub fn with_watcher(mut self, watcher: WatcherResources) -> Self {
        self.watcher = watcher;
        self
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
        .with_watcher(self.watcher.clone())
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::severity::Severity;

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
