//! Configuration the rules read, validated once.
//!
//! Both binaries build a [`RuleConfig`] from the same names (`APPROVED_CALLER_ARNS`,
//! `BREAK_GLASS_ROLE_ARNS`, or the CLI flags). Validation reports every bad value at once,
//! naming the variable or flag it came from.

use std::fmt;

use crate::arn::{self, PrincipalKey};

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

/// Role-name spellings that mark a break-glass role when none are configured.
const BREAK_GLASS_NAMES: &[&str] = &["break-glass", "breakglass", "break_glass"];

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

    /// True when `principal_arn` is a break-glass role. With no break-glass roles configured, a
    /// role whose name contains `break-glass`/`breakglass` counts (the common convention), so a
    /// fresh deployment still pages on them; configuring the list turns this fallback off.
    pub fn is_break_glass(&self, principal_arn: Option<&str>) -> bool {
        let Some(key) = principal_arn.and_then(PrincipalKey::from_arn) else {
            return false;
        };
        if key.kind != arn::PrincipalKind::Role {
            return false;
        }
        if self.break_glass_keys.is_empty() {
            return BREAK_GLASS_NAMES.iter().any(|n| key.name.contains(n));
        }
        self.break_glass_keys.contains(&key)
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

    #[test]
    fn lists_split_on_commas() {
        assert_eq!(RuleConfig::split_list(" a, ,b ,"), s(&["a", "b"]));
    }
}
