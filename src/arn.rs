//! ARN parsing, decoding and comparison: the one place where principal identity is decided.
//!
//! CloudTrail hands us principals in several spellings of the same identity:
//! - EKS path parameters URL-encoded (`arn%3Aaws%3Aiam%3A%3A1111%3Arole%2Fci`), plain elsewhere;
//! - an IAM role with its path (`role/teams/payments/oncall`, from `sessionIssuer.arn` or an
//!   access entry) or without it (the `assumed-role/oncall/asmith` session ARN drops the path);
//! - partitions other than `aws` (`aws-cn`, `aws-us-gov`).
//!
//! IAM role and user names are unique per account whatever their path, and unique
//! case-insensitively, so two ARNs name the same principal when partition, account, kind and
//! lower-cased name agree. [`PrincipalKey`] is that identity; every rule compares keys, never
//! strings.

use std::fmt;

use percent_encoding::percent_decode_str;

/// Decode a URL-encoded ARN (CloudTrail's spelling of EKS path parameters).
///
/// Decodes repeatedly (at most three times) while the text still holds `%XX` escapes: a
/// double-encoded value must not slip past a comparison. A valid ARN never contains `%`, so
/// decoding an already-plain ARN is a no-op. Invalid UTF-8 after decoding is replaced, never
/// an error: the value is still shown and compared.
pub fn decode(raw: &str) -> String {
    let mut text = raw.trim().to_string();
    for _ in 0..3 {
        if !has_escape(&text) {
            break;
        }
        text = percent_decode_str(&text).decode_utf8_lossy().into_owned();
    }
    text
}

fn has_escape(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes
        .windows(3)
        .any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit())
}

/// A parsed ARN: `arn:partition:service:region:account:resource`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// Parse an already-decoded ARN. `None` when it does not have the six ARN fields.
    pub fn parse(text: &'a str) -> Option<Self> {
        let mut parts = text.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let arn = Arn {
            partition: parts.next()?,
            service: parts.next()?,
            region: parts.next()?,
            account: parts.next()?,
            resource: parts.next()?,
        };
        if arn.partition.is_empty() || arn.service.is_empty() || arn.resource.is_empty() {
            return None;
        }
        Some(arn)
    }
}

/// What kind of principal an ARN names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PrincipalKind {
    Role,
    User,
    Root,
    FederatedUser,
}

/// The identity of an IAM principal, independent of path, encoding and case of the name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PrincipalKey {
    pub partition: String,
    pub account: String,
    pub kind: PrincipalKind,
    /// Lower-cased name without path (`oncall` for `role/teams/payments/oncall`).
    pub name: String,
}

impl PrincipalKey {
    /// The identity named by an ARN: IAM roles (with or without path), users, the root, STS
    /// assumed-role sessions (which name their role) and federated users. `None` for anything
    /// else (service principals, policy ARNs, malformed text).
    pub fn from_arn(text: &str) -> Option<Self> {
        let decoded = decode(text);
        let arn = Arn::parse(&decoded)?;
        let (kind, name) = match (arn.service, arn.resource) {
            ("iam", "root") => (PrincipalKind::Root, ""),
            ("iam", res) => {
                let (kind, rest) = if let Some(rest) = res.strip_prefix("role/") {
                    (PrincipalKind::Role, rest)
                } else if let Some(rest) = res.strip_prefix("user/") {
                    (PrincipalKind::User, rest)
                } else {
                    return None;
                };
                (kind, rest.rsplit('/').next().unwrap_or(rest))
            }
            ("sts", res) => {
                if let Some(rest) = res.strip_prefix("assumed-role/") {
                    (PrincipalKind::Role, rest.split('/').next().unwrap_or(rest))
                } else if let Some(rest) = res.strip_prefix("federated-user/") {
                    (PrincipalKind::FederatedUser, rest)
                } else {
                    return None;
                }
            }
            _ => return None,
        };
        if name.is_empty() && kind != PrincipalKind::Root {
            return None;
        }
        Some(PrincipalKey {
            partition: arn.partition.to_string(),
            account: arn.account.to_string(),
            kind,
            name: name.to_ascii_lowercase(),
        })
    }
}

/// True when both ARNs name the same IAM principal (see the module docs for what "same" means).
pub fn same_principal(a: &str, b: &str) -> bool {
    match (PrincipalKey::from_arn(a), PrincipalKey::from_arn(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// The account id in an ARN, if it has one.
pub fn account_of(text: &str) -> Option<String> {
    let decoded = decode(text);
    Arn::parse(&decoded)
        .map(|a| a.account.to_string())
        .filter(|a| !a.is_empty())
}

/// True for an STS session ARN (`arn:aws:sts::1111:assumed-role/Role/session`). EKS access
/// entries must name the role, never a session: an entry for a session never matches anyone.
pub fn is_sts_session(text: &str) -> bool {
    let decoded = decode(text);
    Arn::parse(&decoded)
        .is_some_and(|a| a.service == "sts" && a.resource.starts_with("assumed-role/"))
}

/// True for an IAM user ARN.
pub fn is_iam_user(text: &str) -> bool {
    PrincipalKey::from_arn(text).is_some_and(|k| k.kind == PrincipalKind::User)
}

/// A short human name for a principal ARN: `role/teams/payments/oncall`, `user/alice`, `root`,
/// `assumed-role/oncall/asmith`. Falls back to the whole text.
pub fn short_name(text: &str) -> String {
    let decoded = decode(text);
    match Arn::parse(&decoded) {
        Some(arn) if arn.resource == "root" => format!("root ({})", arn.account),
        Some(arn) => match arn
            .resource
            .strip_prefix("role/aws-reserved/sso.amazonaws.com/")
        {
            // IAM Identity Center roles: the path (and its region) is noise; the name says it all.
            Some(rest) => format!("role/{}", rest.rsplit('/').next().unwrap_or(rest)),
            None => arn.resource.to_string(),
        },
        None => decoded,
    }
}

/// The name of an EKS access policy from its ARN
/// (`arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy` -> `AmazonEKSViewPolicy`).
/// `None` when the ARN is not an EKS access policy ARN.
pub fn access_policy_name(text: &str) -> Option<String> {
    let decoded = decode(text);
    let arn = Arn::parse(&decoded)?;
    if arn.service != "eks" {
        return None;
    }
    let name = arn.resource.strip_prefix("cluster-access-policy/")?;
    if name.is_empty() || name.contains('/') {
        return None;
    }
    Some(name.to_string())
}

/// Why a configured ARN was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidArn {
    pub value: String,
    pub reason: &'static str,
}

impl fmt::Display for InvalidArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.value, self.reason)
    }
}

/// Validate an ARN given in configuration as an IAM role (or, when `allow_user`, an IAM user).
pub fn validate_principal(value: &str, allow_user: bool) -> Result<String, InvalidArn> {
    let decoded = decode(value);
    let err = |reason| InvalidArn {
        value: value.to_string(),
        reason,
    };
    let arn = Arn::parse(&decoded).ok_or(err(
        "not an ARN (expected arn:aws:iam::<account>:role/<name>)",
    ))?;
    if arn.service == "sts" {
        return Err(err(
            "an STS session ARN; give the role ARN (arn:<partition>:iam::<account>:role/<name>)",
        ));
    }
    if arn.service != "iam" || !is_account_id(arn.account) {
        return Err(err(
            "not an IAM ARN with a 12-digit account (expected arn:aws:iam::<account>:role/<name>)",
        ));
    }
    match PrincipalKey::from_arn(&decoded).map(|k| k.kind) {
        Some(PrincipalKind::Role) => Ok(decoded),
        Some(PrincipalKind::User) if allow_user => Ok(decoded),
        _ if allow_user => Err(err("not an IAM role or user ARN")),
        _ => Err(err("not an IAM role ARN")),
    }
}

/// Validate a wildcard pattern for IAM principal ARNs from configuration (`*` matches any run
/// of characters): it keeps the six ARN fields, names the `iam` or `sts` service, has no
/// region, and its account is 12 digits wherever it is not a wildcard. A pattern without `*` is
/// an ARN: check it with [`validate_principal`].
pub fn validate_principal_pattern(value: &str) -> Result<String, InvalidArn> {
    let fields: Vec<&str> = value.splitn(6, ':').collect();
    let ok = fields.len() == 6
        && fields[0] == "arn"
        && !fields[1].is_empty()
        && (matches!(fields[2], "iam" | "sts") || fields[2] == "*")
        && (fields[3].is_empty() || fields[3] == "*")
        && (is_account_id(fields[4])
            || (fields[4].contains('*')
                && fields[4].len() <= 12
                && fields[4].bytes().all(|b| b.is_ascii_digit() || b == b'*')))
        && !fields[5].is_empty();
    if !ok {
        return Err(InvalidArn {
            value: value.to_string(),
            reason: "not a principal ARN pattern (expected e.g. arn:aws:iam::444455556666:role/vendor-*, where * matches any run of characters)",
        });
    }
    Ok(value.to_string())
}

/// A 12-digit AWS account id.
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// An SNS topic ARN, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicArn {
    pub arn: String,
    pub account: String,
    /// FIFO topics (`.fifo`) take a group and a deduplication id with every message.
    pub fifo: bool,
}

/// Parse `arn:<partition>:sns:<region>:<account>:<name>`.
pub fn parse_topic(value: &str) -> Result<TopicArn, InvalidArn> {
    let err = || InvalidArn {
        value: value.to_string(),
        reason: "not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)",
    };
    let arn = Arn::parse(value).ok_or_else(err)?;
    let ok = arn.partition.starts_with("aws")
        && arn.service == "sns"
        && !arn.region.is_empty()
        && is_account_id(arn.account)
        && !arn.resource.is_empty()
        && !arn.resource.contains(':');
    if !ok {
        return Err(err());
    }
    Ok(TopicArn {
        arn: value.to_string(),
        account: arn.account.to_string(),
        fifo: arn.resource.ends_with(".fifo"),
    })
}

/// A role ARN template with an `{account}` placeholder
/// (`arn:aws:iam::{account}:role/eks-access-watch-reader`).
pub fn validate_role_template(value: &str) -> Result<String, InvalidArn> {
    let probe = value.replace("{account}", "111122223333");
    if !value.contains("{account}") || validate_principal(&probe, false).is_err() {
        return Err(InvalidArn {
            value: value.to_string(),
            reason: "must be a role ARN with an {account} placeholder, e.g. arn:aws:iam::{account}:role/eks-access-watch-reader",
        });
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_cloudtrail_encoded_principal() {
        assert_eq!(
            decode("arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fci-deployer"),
            "arn:aws:iam::111122223333:role/ci-deployer"
        );
    }

    #[test]
    fn decoding_a_plain_arn_changes_nothing() {
        let plain = "arn:aws:iam::111122223333:role/teams/payments/oncall";
        assert_eq!(decode(plain), plain);
    }

    #[test]
    fn double_encoding_is_decoded_fully() {
        assert_eq!(
            decode("arn%253Aaws%253Aiam%253A%253A111122223333%253Arole%252Fx"),
            "arn:aws:iam::111122223333:role/x"
        );
    }

    #[test]
    fn role_with_path_is_the_same_principal_as_its_session() {
        assert!(same_principal(
            "arn:aws:iam::111122223333:role/teams/payments/oncall",
            "arn:aws:sts::111122223333:assumed-role/oncall/asmith"
        ));
        assert!(same_principal(
            "arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fteams%2Fpayments%2Foncall",
            "arn:aws:iam::111122223333:role/teams/payments/oncall"
        ));
    }

    #[test]
    fn role_names_compare_case_insensitively() {
        assert!(same_principal(
            "arn:aws:iam::111122223333:role/CI-Deployer",
            "arn:aws:iam::111122223333:role/ci-deployer"
        ));
    }

    #[test]
    fn different_partition_or_account_or_kind_is_a_different_principal() {
        let role = "arn:aws:iam::111122223333:role/ops";
        assert!(!same_principal(
            role,
            "arn:aws-cn:iam::111122223333:role/ops"
        ));
        assert!(!same_principal(
            role,
            "arn:aws-us-gov:iam::111122223333:role/ops"
        ));
        assert!(!same_principal(role, "arn:aws:iam::444455556666:role/ops"));
        assert!(!same_principal(role, "arn:aws:iam::111122223333:user/ops"));
    }

    #[test]
    fn partitions_are_parsed() {
        let key = PrincipalKey::from_arn("arn:aws-us-gov:iam::111122223333:role/a/b/c").unwrap();
        assert_eq!(key.partition, "aws-us-gov");
        assert_eq!(key.name, "c");
        assert_eq!(
            account_of("arn:aws-cn:iam::999988887777:user/bob").as_deref(),
            Some("999988887777")
        );
    }

    #[test]
    fn non_principals_have_no_key() {
        assert!(
            PrincipalKey::from_arn("arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy")
                .is_none()
        );
        assert!(PrincipalKey::from_arn("not an arn").is_none());
        assert!(PrincipalKey::from_arn("arn:aws:iam::111122223333:role/").is_none());
        assert!(!same_principal("garbage", "garbage"));
    }

    #[test]
    fn session_arns_are_recognised() {
        assert!(is_sts_session("arn:aws:sts::111122223333:assumed-role/x/y"));
        assert!(!is_sts_session("arn:aws:iam::111122223333:role/x"));
    }

    #[test]
    fn policy_names_come_from_encoded_and_plain_arns() {
        assert_eq!(
            access_policy_name(
                "arn%3Aaws%3Aeks%3A%3Aaws%3Acluster-access-policy%2FAmazonEKSClusterAdminPolicy"
            )
            .as_deref(),
            Some("AmazonEKSClusterAdminPolicy")
        );
        assert_eq!(
            access_policy_name("arn:aws-cn:eks::aws:cluster-access-policy/AmazonEKSViewPolicy")
                .as_deref(),
            Some("AmazonEKSViewPolicy")
        );
        assert_eq!(
            access_policy_name("arn:aws:iam::aws:policy/AdministratorAccess"),
            None
        );
    }

    #[test]
    fn configured_principals_are_validated() {
        assert!(validate_principal("arn:aws:iam::111122223333:role/tf", false).is_ok());
        assert!(validate_principal("arn:aws:iam::111122223333:user/tf", true).is_ok());
        assert!(validate_principal("arn:aws:iam::111122223333:user/tf", false).is_err());
        let err =
            validate_principal("arn:aws:sts::111122223333:assumed-role/tf/s", true).unwrap_err();
        assert!(err.reason.contains("STS session"));
        assert!(validate_principal("tf-role", true).is_err());
        assert!(validate_principal("arn:aws:iam::1234:role/tf", true).is_err());
    }

    #[test]
    fn topic_arns_are_parsed_by_their_fields() {
        let t = parse_topic("arn:aws:sns:eu-west-1:111122223333:alerts.fifo").unwrap();
        assert_eq!((t.account.as_str(), t.fifo), ("111122223333", true));
        assert!(
            !parse_topic("arn:aws-cn:sns:cn-north-1:111122223333:a")
                .unwrap()
                .fifo
        );
        for bad in [
            "my-topic",
            "arn:aws:sqs:eu-west-1:111122223333:q",
            "arn:aws:sns:eu-west-1:1111:t",
            "arn:aws:sns::111122223333:t",
            "arn:aws:sns:eu-west-1:111122223333:",
        ] {
            assert!(parse_topic(bad).is_err(), "{bad}");
        }
    }
}
