//! The audit's settings: from `audit`'s flags ([`AuditConfig`], [`check_targets`]) and from the
//! audit function's environment ([`AuditSettings`]).

use super::lambda::Env;
use super::{ConfigError, RuleConfig};
use crate::arn;

/// The variables only the daily audit reads (the template sets them on the audit function).
pub const AUDIT_ENV_VARS: &[&str] = &[
    "AUDIT_BUCKET",
    "AUDIT_ACCOUNTS",
    "AUDIT_REGIONS",
    "AUDIT_REQUIRE_TAGS",
    "AUDIT_MAX_ADMINS",
    "AUDIT_CONCURRENCY",
];

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
    pub(super) fn from_env(env: &mut Env, has_role_template: bool) -> Self {
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
