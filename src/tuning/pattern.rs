//! Exception patterns: which principals, callers, clusters and accounts an exception covers.
//!
//! One syntax for every field: `*` matches any run of characters (as in EKS namespace scopes,
//! [`crate::model::wildcard_match`]); everything else is literal.
//! - `principal` / `caller`: an IAM role or user ARN. Without `*` it names one principal and
//!   matches it however it is spelled (with or without the role's path, any case of the name,
//!   the role's STS sessions: [`crate::arn::PrincipalKey`]). With `*` it is matched, ignoring
//!   case, against the ARN as the alert shows it (roles with their path):
//!   `arn:aws:iam::444455556666:role/vendor-*`, `arn:aws:iam::*:role/*/deploy-*`.
//! - `cluster`: an EKS cluster name (letters, digits, `-`, `_`), `*` allowed: `staging-*`.
//!   Case-sensitive, as cluster names are.
//! - `account`: a 12-digit account id, `*` allowed among the digits: `4444*`.
//!
//! A lone `*` is refused: it matches everything, which leaving the field out already says.

use crate::arn::{self, PrincipalKey};
use crate::closed::closed_enum;
use crate::model::wildcard_match;

closed_enum! {
    /// What an exception's pattern is matched against (its key in the tuning file).
    pub enum Field ("exception field") {
        /// The principal whose access the finding is about.
        Principal = "principal",
        /// Who made the change (alerts only: standing access has no caller).
        Caller = "caller",
        Cluster = "cluster",
        Account = "account",
    }
}

/// One validated pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// As written in the file.
    pub text: String,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// An ARN without `*`: one principal, compared by identity.
    Principal(PrincipalKey),
    /// An ARN with `*`, lower-cased: compared with the lower-cased ARN.
    ArnWildcard(String),
    /// A cluster name or account id, with or without `*`.
    Text,
}

impl Pattern {
    /// Validate `text` as a pattern for `field`; the error says what is expected.
    pub fn parse(field: Field, text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.chars().all(|c| c == '*') {
            return Err(format!(
                "`{text}` matches everything: leave `{field}` out instead"
            ));
        }
        let kind = match field {
            Field::Principal | Field::Caller if text.contains('*') => {
                arn::validate_principal_pattern(text).map_err(|e| e.to_string())?;
                Kind::ArnWildcard(text.to_ascii_lowercase())
            }
            Field::Principal | Field::Caller => {
                let arn = arn::validate_principal(text, true).map_err(|e| e.to_string())?;
                Kind::Principal(
                    PrincipalKey::from_arn(&arn)
                        .ok_or_else(|| format!("`{text}`: not an IAM role or user ARN"))?,
                )
            }
            Field::Cluster => {
                let valid = text.len() <= 100
                    && text
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '*'));
                if !valid {
                    return Err(format!(
                        "`{text}`: not a cluster name pattern (up to 100 letters, digits, - and _, with * for any run of characters)"
                    ));
                }
                Kind::Text
            }
            Field::Account => {
                let valid = if text.contains('*') {
                    text.len() <= 12 && text.bytes().all(|b| b.is_ascii_digit() || b == b'*')
                } else {
                    arn::is_account_id(text)
                };
                if !valid {
                    return Err(format!(
                        "`{text}`: not an account id pattern (12 digits, with * for any run of digits)"
                    ));
                }
                Kind::Text
            }
        };
        Ok(Pattern {
            text: text.to_string(),
            kind,
        })
    }

    /// True when `value` (an ARN, a cluster name or an account id, as the finding carries it)
    /// matches.
    pub fn matches(&self, value: &str) -> bool {
        match &self.kind {
            Kind::Principal(key) => PrincipalKey::from_arn(value).as_ref() == Some(key),
            Kind::ArnWildcard(pattern) => {
                wildcard_match(pattern, &arn::decode(value).to_ascii_lowercase())
            }
            Kind::Text => wildcard_match(&self.text, value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(field: Field, text: &str) -> Pattern {
        Pattern::parse(field, text).unwrap()
    }

    #[test]
    fn an_exact_principal_matches_its_sessions_paths_and_any_case() {
        let vendor = p(
            Field::Principal,
            "arn:aws:iam::444455556666:role/Vendor-Support",
        );
        assert!(vendor.matches("arn:aws:iam::444455556666:role/vendor-support"));
        assert!(vendor.matches("arn:aws:iam::444455556666:role/partners/vendor-support"));
        assert!(vendor.matches("arn:aws:sts::444455556666:assumed-role/vendor-support/s1"));
        assert!(vendor.matches("arn%3Aaws%3Aiam%3A%3A444455556666%3Arole%2Fvendor-support"));
        assert!(!vendor.matches("arn:aws:iam::111122223333:role/vendor-support"));
        assert!(!vendor.matches("arn:aws:iam::444455556666:user/vendor-support"));
    }

    #[test]
    fn an_arn_wildcard_matches_the_arn_as_shown_ignoring_case() {
        let any_vendor = p(Field::Principal, "arn:aws:iam::*:role/Vendor-*");
        assert!(any_vendor.matches("arn:aws:iam::444455556666:role/vendor-support"));
        assert!(any_vendor.matches("arn:aws:iam::777788889999:role/VENDOR-audit"));
        assert!(
            !any_vendor.matches("arn:aws:iam::444455556666:role/partners/vendor-support"),
            "the path is part of the ARN a wildcard sees"
        );
        assert!(!any_vendor.matches("arn:aws:iam::444455556666:user/vendor-x"));
    }

    #[test]
    fn cluster_and_account_patterns_are_literal_but_for_the_star() {
        let staging = p(Field::Cluster, "staging-*");
        assert!(staging.matches("staging-eu") && !staging.matches("prod-staging-eu"));
        assert!(
            !staging.matches("Staging-eu"),
            "cluster names are case-sensitive"
        );
        let exact = p(Field::Account, "444455556666");
        assert!(exact.matches("444455556666") && !exact.matches("444455556667"));
        assert!(p(Field::Account, "4444*").matches("444455556666"));
    }

    #[test]
    fn malformed_patterns_say_what_is_expected() {
        for (field, text, expected) in [
            (Field::Principal, "*", "matches everything"),
            (Field::Principal, "vendor-*", "not a principal ARN pattern"),
            (
                Field::Principal,
                "arn:aws:iam:444455556666:role/x-*",
                "not a principal ARN pattern",
            ),
            (
                Field::Caller,
                "arn:aws:sts::111122223333:assumed-role/ci/x",
                "STS session",
            ),
            (Field::Caller, "terraform", "not an ARN"),
            (Field::Cluster, "prod eu", "not a cluster name pattern"),
            (
                Field::Account,
                "4444-5555-6666",
                "not an account id pattern",
            ),
            (Field::Account, "44445555666", "not an account id pattern"),
        ] {
            let err = Pattern::parse(field, text).unwrap_err();
            assert!(err.contains(expected), "{field} `{text}`: {err}");
        }
    }
}
