//! Evaluating a resource policy our templates write (queue, bucket and key policies) for one
//! request, the way IAM's policy evaluation logic does, for exactly the elements and operators
//! those policies use: `Effect`, `Principal` (`"*"`, `AWS` as an ARN or an account's root,
//! `Service`), `Action` and `Resource` (with `*` and `?`), and `Condition` with `Bool`,
//! `BoolIfExists`, `Null`, `StringEquals`, `StringNotEquals`, `StringNotEqualsIfExists`,
//! `StringLike`, `ArnEquals`, `ArnNotEquals`, `ArnLike`. Following the IAM user guide
//! ("Condition operators", "Policy evaluation logic"): every operator and key of a condition
//! must hold; a key's values are alternatives (a negated operator holds when none equals); a key
//! absent from the request makes a positive operator false, a negated one true, an `...IfExists`
//! one true; `ArnEquals` and `ArnLike` are alike, comparing the six colon-separated parts one by
//! one, with wildcards. An explicit deny wins over any allow. Anything else panics, so a policy
//! that starts using more is noticed.
//!
//! `Fn::GetAtt` placeholders (`<WatcherRole.Arn>`) are compared as the text they are, so a
//! request names a principal or resource by the same placeholder.

use std::collections::BTreeMap;

use serde_yaml_ng::Value as Yaml;

/// What this policy alone decides for a request.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Decision {
    /// A statement allows it and none denies it.
    Allow,
    /// A statement denies it: nothing else can allow it.
    Deny,
    /// Neither: the principal needs an allow elsewhere (its identity policy, in its own account).
    NotAllowed,
}

/// Who makes a request.
#[derive(Debug, Clone)]
pub enum Caller {
    /// An IAM principal (a role session is named by its role's ARN) of `account`.
    Aws { arn: String, account: String },
    /// An AWS service principal, such as `events.amazonaws.com`.
    Service(String),
}

/// One request: who, what, on which resource, with which condition keys.
#[derive(Debug, Clone)]
pub struct Request {
    pub caller: Caller,
    pub action: String,
    pub resource: String,
    pub context: BTreeMap<String, String>,
}

impl Request {
    /// A request by an IAM principal over TLS, with the keys IAM sets for it.
    pub fn by(arn: &str, account: &str, action: &str, resource: &str) -> Request {
        let context = [
            ("aws:PrincipalArn", arn),
            ("aws:PrincipalAccount", account),
            ("aws:PrincipalIsAWSService", "false"),
            ("aws:SecureTransport", "true"),
        ];
        Request {
            caller: Caller::Aws {
                arn: arn.to_string(),
                account: account.to_string(),
            },
            action: action.to_string(),
            resource: resource.to_string(),
            context: context
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// A request by an AWS service principal over TLS: no principal ARN or account.
    pub fn by_service(service: &str, action: &str, resource: &str) -> Request {
        let context = [
            ("aws:PrincipalIsAWSService", "true"),
            ("aws:PrincipalServiceName", service),
            ("aws:SecureTransport", "true"),
        ];
        Request {
            caller: Caller::Service(service.to_string()),
            action: action.to_string(),
            resource: resource.to_string(),
            context: context
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// The same request with a condition key set (or replaced).
    pub fn with(mut self, key: &str, value: &str) -> Request {
        self.context.insert(key.to_string(), value.to_string());
        self
    }

    /// The same request over plain HTTP.
    pub fn insecure(self) -> Request {
        self.with("aws:SecureTransport", "false")
    }
}

/// What a resolved policy document decides for `request`.
pub fn decide(policy: &Yaml, request: &Request) -> Decision {
    let mut allowed = false;
    for s in statements(policy).filter(|s| applies(s, request)) {
        match s["Effect"].as_str() {
            Some("Deny") => return Decision::Deny,
            Some("Allow") => allowed = true,
            other => panic!("Effect {other:?}"),
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::NotAllowed
    }
}

/// The Sid of every statement that applies to `request` (for messages).
pub fn applying(policy: &Yaml, request: &Request) -> Vec<String> {
    statements(policy)
        .filter(|s| applies(s, request))
        .map(|s| s["Sid"].as_str().unwrap_or("(no Sid)").to_string())
        .collect()
}

fn statements(policy: &Yaml) -> impl Iterator<Item = &Yaml> {
    policy["Statement"]
        .as_sequence()
        .expect("a policy has a list of statements")
        .iter()
}

/// The statement's principal, action, resource and condition all match the request.
fn applies(s: &Yaml, request: &Request) -> bool {
    for unknown in ["NotPrincipal", "NotAction", "NotResource"] {
        assert!(s.get(unknown).is_none(), "{unknown} not understood here");
    }
    principal_matches(&s["Principal"], &request.caller)
        && any(&s["Action"], |a| glob_ignore_case(a, &request.action))
        && any(&s["Resource"], |r| glob(r, &request.resource))
        && conditions_hold(&s["Condition"], &request.context)
}

/// A string or a list of strings.
fn values(v: &Yaml) -> Vec<String> {
    match v {
        Yaml::String(s) => vec![s.clone()],
        Yaml::Bool(b) => vec![b.to_string()],
        Yaml::Number(n) => vec![n.to_string()],
        Yaml::Sequence(items) => items.iter().flat_map(values).collect(),
        other => panic!("not a value or list of values: {other:?}"),
    }
}

fn any(v: &Yaml, test: impl Fn(&str) -> bool) -> bool {
    values(v).iter().any(|v| test(v))
}

fn principal_matches(principal: &Yaml, caller: &Caller) -> bool {
    if principal.as_str() == Some("*") {
        return true;
    }
    let map = principal.as_mapping().expect("Principal is \"*\" or a map");
    map.iter().any(|(kind, who)| {
        let who = values(who);
        match (kind.as_str().unwrap(), caller) {
            ("AWS", Caller::Aws { arn, account }) => who.iter().any(|w| {
                w == "*"
                    || w == arn
                    || w == account
                    || w.ends_with(&format!(":iam::{account}:root"))
            }),
            ("Service", Caller::Service(name)) => who.contains(name),
            ("AWS", Caller::Service(_)) | ("Service", Caller::Aws { .. }) => false,
            (other, _) => panic!("Principal {other} not understood here"),
        }
    })
}

fn conditions_hold(condition: &Yaml, context: &BTreeMap<String, String>) -> bool {
    let Some(operators) = condition.as_mapping() else {
        assert!(condition.is_null(), "Condition is a map: {condition:?}");
        return true;
    };
    operators.iter().all(|(operator, keys)| {
        let operator = operator.as_str().unwrap();
        keys.as_mapping()
            .expect("an operator maps keys to values")
            .iter()
            .all(|(key, wanted)| {
                let got = context.get(key.as_str().unwrap()).map(String::as_str);
                holds(operator, got, &values(wanted))
            })
    })
}

fn holds(operator: &str, got: Option<&str>, wanted: &[String]) -> bool {
    let (base, if_exists) = match operator.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (operator, false),
    };
    if base == "Null" {
        let absent = got.is_none();
        return wanted.iter().any(|w| (w == "true") == absent);
    }
    let Some(got) = got else {
        // Absent: an ...IfExists operator holds; so does a negated one; a positive one does not.
        return if_exists || base.contains("Not");
    };
    let equal = |w: &String| w == got;
    match base {
        "StringEquals" => wanted.iter().any(equal),
        "StringNotEquals" => !wanted.iter().any(equal),
        "StringLike" => wanted.iter().any(|w| glob(w, got)),
        "Bool" => wanted.iter().any(|w| w.eq_ignore_ascii_case(got)),
        "ArnEquals" | "ArnLike" => wanted.iter().any(|w| arn_like(w, got)),
        "ArnNotEquals" | "ArnNotLike" => !wanted.iter().any(|w| arn_like(w, got)),
        other => panic!("condition operator {other} not understood here"),
    }
}

/// `ArnLike`: the six colon-separated parts compared one by one, each with wildcards.
fn arn_like(pattern: &str, arn: &str) -> bool {
    let (p, a): (Vec<&str>, Vec<&str>) = (
        pattern.splitn(6, ':').collect(),
        arn.splitn(6, ':').collect(),
    );
    p.len() == a.len() && p.iter().zip(&a).all(|(p, a)| glob(p, a))
}

/// `*` any run of characters (none included), `?` one character; case-sensitive.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // matches[j]: pattern so far matches text[..j].
    let mut matches = vec![false; t.len() + 1];
    matches[0] = true;
    for c in &p {
        let mut next = vec![false; t.len() + 1];
        for j in 0..=t.len() {
            next[j] = match c {
                '*' => matches[j] || (j > 0 && next[j - 1]),
                '?' => j > 0 && matches[j - 1],
                c => j > 0 && matches[j - 1] && t[j - 1] == *c,
            };
        }
        matches = next;
    }
    matches[t.len()]
}

fn glob_ignore_case(pattern: &str, text: &str) -> bool {
    glob(&pattern.to_lowercase(), &text.to_lowercase())
}

/// The documented rules this evaluator follows, on small policies.
#[cfg(test)]
mod rules {
    use super::*;

    fn policy(text: &str) -> Yaml {
        serde_yaml_ng::from_str(text).unwrap()
    }

    const ROLE: &str = "arn:aws:iam::111122223333:role/r";

    #[test]
    fn an_explicit_deny_wins_over_an_allow_and_no_statement_is_not_an_allow() {
        let p = policy(
            "Statement:
              - {Effect: Allow, Principal: {AWS: 'arn:aws:iam::111122223333:root'}, Action: 'sqs:*', Resource: '*'}
              - {Effect: Deny, Principal: '*', Action: sqs:PurgeQueue, Resource: q}",
        );
        assert_eq!(
            decide(
                &p,
                &Request::by(ROLE, "111122223333", "SQS:SendMessage", "q")
            ),
            Decision::Allow
        );
        assert_eq!(
            decide(
                &p,
                &Request::by(ROLE, "111122223333", "sqs:PurgeQueue", "q")
            ),
            Decision::Deny
        );
        let other = Request::by(
            "arn:aws:iam::999988887777:role/r",
            "999988887777",
            "sqs:SendMessage",
            "q",
        );
        assert_eq!(decide(&p, &other), Decision::NotAllowed);
    }

    #[test]
    fn a_missing_key_fails_a_positive_operator_and_satisfies_a_negated_or_if_exists_one() {
        let deny = |condition: &str| {
            policy(&format!(
                "Statement: [{{Effect: Deny, Principal: '*', Action: '*', Resource: '*', Condition: {condition}}}]"
            ))
        };
        let service = Request::by_service("events.amazonaws.com", "sqs:SendMessage", "q");
        let denied = |c: &str| decide(&deny(c), &service) == Decision::Deny;
        assert!(!denied("{StringEquals: {aws:PrincipalAccount: '1'}}"));
        assert!(denied("{StringNotEquals: {aws:PrincipalAccount: '1'}}"));
        assert!(denied(
            "{StringNotEqualsIfExists: {aws:PrincipalAccount: '1'}}"
        ));
        assert!(denied(
            "{ArnNotEquals: {aws:PrincipalArn: 'arn:aws:iam::1:role/r'}}"
        ));
        assert!(denied("{'Null': {aws:PrincipalArn: 'true'}}"));
        assert!(!denied("{'Null': {aws:PrincipalArn: 'false'}}"));
        // Every operator must hold: the service exemption of the data-perimeter form.
        assert!(!denied(
            "{StringNotEqualsIfExists: {aws:PrincipalAccount: '1'}, BoolIfExists: {aws:PrincipalIsAWSService: 'false'}}"
        ));
    }

    #[test]
    fn arn_like_compares_part_by_part_and_a_key_s_values_are_alternatives() {
        assert!(arn_like(
            "arn:aws:sns:*:*:stack-AlarmTopic-*",
            "arn:aws:sns:eu-west-1:1:stack-AlarmTopic-AB12"
        ));
        assert!(!arn_like(
            "arn:aws:sns:*:*:stack-AlarmTopic-*",
            "arn:aws:sns:eu-west-1:1:stack-AlertTopic-AB12"
        ));
        assert!(!arn_like(
            "arn:aws:iam::*:role/r",
            "arn:aws:iam::1:role/r/x:y"
        ));
        assert!(holds("StringLike", Some("b"), &["a".into(), "b*".into()]));
        assert!(!holds(
            "StringNotEquals",
            Some("b"),
            &["a".into(), "b".into()]
        ));
        assert!(glob("a*c?", "abbcd") && !glob("a*c?", "abbc") && glob("*", ""));
    }
}
