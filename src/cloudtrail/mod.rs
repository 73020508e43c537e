//! The CloudTrail record as it arrives (lenient, wire-shaped) and its normalisation into an
//! [`AccessEvent`].
//!
//! Two stages, as in ripgrep's low/high args: [`RawRecord`] mirrors CloudTrail and tolerates
//! every field being absent or `null` (real records omit `userAgent`, failed calls carry
//! `responseElements: null`, `requestParameters` can be `null`); [`normalise`] turns it into an
//! [`AccessEvent`] once, so no rule ever decodes an ARN or digs in JSON.
//!
//! We own [`RawRecord`] instead of using `aws_lambda_events`' `AWSAPICall`: that struct makes
//! `userAgent`, `sourceIPAddress`, `eventVersion`, `requestID` and `userIdentity.sessionContext`
//! required, and real records (failed calls, AWS service callers) omit them.

use serde::Deserialize;
use serde_json::Value;

use crate::arn;
use crate::model::{AccessEvent, Actor, ApiError, Change, IdentityType, agent_family};
use crate::operation::{CloudTrailCall, Detail, Source};
use crate::sanitize::clean;

mod change;

use change::{change, pod_identity_grants, str_at, tagged_cluster};

/// A CloudTrail record, as lenient as the wire format demands.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RawRecord {
    pub event_version: Option<String>,
    pub user_identity: Option<RawUserIdentity>,
    pub event_time: Option<String>,
    pub event_source: Option<String>,
    pub event_name: Option<String>,
    pub aws_region: Option<String>,
    #[serde(rename = "sourceIPAddress")]
    pub source_ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub request_parameters: Option<Value>,
    pub response_elements: Option<Value>,
    #[serde(rename = "eventID")]
    pub event_id: Option<String>,
    pub read_only: Option<Value>,
    pub recipient_account_id: Option<String>,
    pub resources: Option<Vec<RawResource>>,
}

/// `userIdentity`, every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RawUserIdentity {
    #[serde(rename = "type")]
    pub identity_type: Option<String>,
    pub principal_id: Option<String>,
    pub arn: Option<String>,
    pub account_id: Option<String>,
    pub user_name: Option<String>,
    pub invoked_by: Option<String>,
    pub access_key_id: Option<String>,
    pub session_context: Option<RawSessionContext>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RawSessionContext {
    pub session_issuer: Option<RawSessionIssuer>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RawSessionIssuer {
    pub arn: Option<String>,
}

/// One entry of `resources`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawResource {
    #[serde(rename = "ARN")]
    pub arn: Option<String>,
    #[serde(rename = "accountId")]
    pub account_id: Option<String>,
}

impl RawRecord {
    /// What [`crate::operation::watch`] may need from the request, as written.
    pub fn detail(&self) -> Detail<'_> {
        let req = self.request_parameters.as_ref().unwrap_or(&Value::Null);
        Detail {
            role_arn: str_at(req, &["roleArn"]),
            pod_identity_roles: pod_identity_grants(req)
                .iter()
                .any(|g| g.role_arn.is_some())
                || str_at(req, &["serviceAccountRoleArn"]).is_some(),
            resource_arn: str_at(req, &["resourceArn"]),
            request: Some(req),
            response: Some(self.response_elements.as_ref().unwrap_or(&Value::Null)),
        }
    }
}

const MAX_FIELD: usize = 256;
const MAX_ARN: usize = 2048;

/// Normalise a raw record of a watched `call` (decided by [`crate::operation::watch`]).
///
/// Never fails: a missing field becomes `None`/empty and the rules treat missing data as the
/// riskier case.
pub fn normalise(raw: &RawRecord, call: CloudTrailCall) -> AccessEvent {
    let empty = Value::Null;
    let req = raw.request_parameters.as_ref().unwrap_or(&empty);
    let resp = raw.response_elements.as_ref().unwrap_or(&empty);
    let cluster = match call.source() {
        Source::Sts
        | Source::CloudTrail
        | Source::Events
        | Source::Lambda
        | Source::Logs
        | Source::Sns
        | Source::Kms
        | Source::Ssm
        | Source::Sqs
        | Source::CloudFormation
        | Source::Watcher
        | Source::Kubernetes => None,
        Source::Eks => str_at(req, &["name"])
            .or_else(|| str_at(req, &["clusterName"]))
            .or_else(|| str_at(resp, &["cluster", "name"]))
            .map(str::to_string)
            .or_else(|| str_at(req, &["resourceArn"]).and_then(tagged_cluster))
            .map(|c| clean(&c, MAX_FIELD)),
    };
    AccessEvent {
        operation: call.operation(),
        event_id: optional(raw.event_id.as_deref()),
        event_time: optional(raw.event_time.as_deref()),
        account: clean(&account(raw, req, resp), MAX_FIELD),
        region: clean(raw.aws_region.as_deref().unwrap_or_default(), MAX_FIELD),
        cluster,
        actor: actor(
            raw.user_identity.as_ref(),
            raw.user_agent.as_deref(),
            raw.source_ip_address.as_deref(),
        ),
        user_agent: raw.user_agent.as_deref().map(|s| clean(s, 512)),
        source_ip: raw
            .source_ip_address
            .as_deref()
            .map(|s| clean(s, MAX_FIELD)),
        error: raw
            .error_code
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(|code| ApiError {
                code: clean(code, MAX_FIELD),
                message: raw.error_message.as_deref().map(|m| clean(m, 1024)),
            }),
        change: {
            let mut change = change(call, req, resp);
            if let Change::WatcherTampered(t) = &mut change {
                t.by_cloudformation = by_cloudformation(raw);
            }
            change
        },
    }
}

/// CloudFormation made the call on someone's behalf: AWS writes `invokedBy` and
/// `sourceIPAddress` as `cloudformation.amazonaws.com` (a client can set its user agent, not
/// these).
fn by_cloudformation(raw: &RawRecord) -> bool {
    const CFN: &str = "cloudformation.amazonaws.com";
    raw.user_identity
        .as_ref()
        .and_then(|u| u.invoked_by.as_deref())
        == Some(CFN)
        || raw.source_ip_address.as_deref() == Some(CFN)
}

/// The event for a watched record the full parse could not read, from what a byte search
/// found: `read(key)` gives the first occurrence of a key's string value, as written.
pub fn unparsed_event(
    call: CloudTrailCall,
    read: &dyn Fn(&str) -> Option<String>,
    error: &str,
) -> AccessEvent {
    let field = |key: &str| read(key).map(|v| clean(&v, MAX_FIELD));
    let arn_of = |key: &str| read(key).map(|v| clean(&arn::decode(&v), MAX_ARN));
    let user_agent = read("userAgent");
    let source_ip = field("sourceIPAddress");
    let arn = arn_of("arn");
    let display = arn
        .as_deref()
        .map(|a| format!("{} (read by byte search)", arn::short_name(a)))
        .unwrap_or_else(|| "unknown caller (record unreadable)".into());
    AccessEvent {
        operation: call.operation(),
        event_id: field("eventID"),
        event_time: field("eventTime"),
        account: field("recipientAccountId").unwrap_or_default(),
        region: field("awsRegion").unwrap_or_default(),
        cluster: match call.source() {
            Source::Eks => field("name").or_else(|| field("clusterName")),
            Source::Sts
            | Source::CloudTrail
            | Source::Events
            | Source::Lambda
            | Source::Logs
            | Source::Sns
            | Source::Kms
            | Source::Ssm
            | Source::Sqs
            | Source::CloudFormation
            | Source::Kubernetes
            | Source::Watcher => None,
        },
        actor: Actor {
            identity_type: IdentityType::parse(&field("type").unwrap_or_else(|| "Unknown".into())),
            arn,
            session_name: None,
            display: clean(&display, 300),
            agent: agent_family(user_agent.as_deref(), source_ip.as_deref()),
            access_key_id: field("accessKeyId"),
            session_arn: None,
        },
        user_agent: user_agent.map(|u| clean(&u, 512)),
        source_ip,
        error: field("errorCode").map(|code| ApiError {
            code,
            message: read("errorMessage").map(|m| clean(&m, 1024)),
        }),
        change: Change::Unparsed {
            principal_arn: arn_of("principalArn").or_else(|| arn_of("roleArn")),
            error: clean(error, 1024),
        },
    }
}

fn optional(value: Option<&str>) -> Option<String> {
    value
        .filter(|v| !v.trim().is_empty())
        .map(|v| clean(v, MAX_FIELD))
}

/// `recipientAccountId`; without it, the account of the resource acted on (`resources[]`, the
/// role assumed, the ARNs EKS answers with). Never the caller's: a cross-account caller's
/// account is not where the change happened.
fn account(raw: &RawRecord, req: &Value, resp: &Value) -> String {
    if let Some(a) = raw
        .recipient_account_id
        .as_deref()
        .filter(|a| !a.is_empty())
    {
        return a.to_string();
    }
    let from_resources = raw.resources.iter().flatten().find_map(|r| {
        r.account_id
            .clone()
            .filter(|a| !a.is_empty())
            .or_else(|| r.arn.as_deref().and_then(arn::account_of))
    });
    let resource_arns = [
        str_at(req, &["roleArn"]),
        str_at(resp, &["cluster", "arn"]),
        str_at(resp, &["accessEntry", "accessEntryArn"]),
        str_at(resp, &["association", "associationArn"]),
    ];
    from_resources
        .or_else(|| {
            resource_arns
                .into_iter()
                .flatten()
                .find_map(arn::account_of)
        })
        .unwrap_or_default()
}

fn actor(
    identity: Option<&RawUserIdentity>,
    user_agent: Option<&str>,
    source_ip: Option<&str>,
) -> Actor {
    let agent = agent_family(user_agent, source_ip);
    let Some(id) = identity else {
        return Actor::described(
            IdentityType::Unknown("Unknown".into()),
            "unknown caller",
            &agent,
        );
    };
    let identity_type =
        IdentityType::parse(&clean(id.identity_type.as_deref().unwrap_or("Unknown"), 64));
    let own_arn = id.arn.as_deref().map(|a| clean(&arn::decode(a), MAX_ARN));
    let own_arn_session = own_arn.clone().filter(|a| a.contains(":assumed-role/"));
    let issuer_arn = id
        .session_context
        .as_ref()
        .and_then(|c| c.session_issuer.as_ref())
        .and_then(|i| i.arn.as_deref())
        .filter(|a| !a.is_empty())
        .map(|a| clean(&arn::decode(a), MAX_ARN));
    let field = |v: Option<&str>| v.filter(|s| !s.is_empty()).map(|s| clean(s, MAX_FIELD));
    let (arn, session_name, display) = match &identity_type {
        IdentityType::AssumedRole => {
            // The role ARN (with path) from the session issuer; the assumed-role ARN drops the
            // path but still names the role, so it is the fallback.
            let session = field(own_arn.as_deref().and_then(|a| a.rsplit('/').next()));
            let role = issuer_arn.or(own_arn);
            let name = role
                .as_deref()
                .map(arn::short_name)
                .unwrap_or_else(|| "unknown role".into());
            let display = match &session {
                Some(s) => format!("{name} ({s})"),
                None => name,
            };
            (role, session, display)
        }
        IdentityType::Root => (own_arn, None, "root".to_string()),
        IdentityType::AwsService => {
            let by = field(id.invoked_by.as_deref())
                .or_else(|| field(id.account_id.as_deref()))
                .unwrap_or_else(|| "unknown".into());
            (None, None, format!("service {by}"))
        }
        // A call from another account, as recorded in the account that owns the resource.
        IdentityType::AwsAccount => {
            let account = field(id.account_id.as_deref())
                .or_else(|| field(id.principal_id.as_deref()))
                .unwrap_or_else(|| "unknown".into());
            (None, None, format!("account {account}"))
        }
        IdentityType::FederatedUser => {
            let name = own_arn
                .as_deref()
                .map(arn::short_name)
                .unwrap_or_else(|| "federated user".into());
            // Compare as the IAM user that issued the federation token, when known.
            (issuer_arn.or(own_arn), None, name)
        }
        IdentityType::SamlUser | IdentityType::WebIdentityUser => {
            let user = field(id.user_name.as_deref()).or_else(|| field(id.principal_id.as_deref()));
            let kind = if identity_type == IdentityType::SamlUser {
                "SAML user"
            } else {
                "web identity user"
            };
            let display = format!("{kind} {}", user.as_deref().unwrap_or("unknown"));
            (None, user, display)
        }
        IdentityType::IamUser
        | IdentityType::Role
        | IdentityType::IdentityCenterUser
        | IdentityType::Kubernetes
        | IdentityType::Unknown(_) => {
            let display = own_arn
                .as_deref()
                .map(arn::short_name)
                .or_else(|| field(id.user_name.as_deref()))
                .or_else(|| field(id.principal_id.as_deref()))
                .unwrap_or_else(|| format!("{identity_type} caller"));
            (own_arn, None, display)
        }
    };
    let session_arn = match identity_type {
        IdentityType::AssumedRole => own_arn_session,
        _ => None,
    };
    Actor {
        identity_type,
        arn,
        session_name,
        display: clean(&display, 300),
        agent,
        access_key_id: field(id.access_key_id.as_deref()),
        session_arn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AccessScope, EntryType};
    use crate::operation::Operation;

    fn event(json: &str) -> AccessEvent {
        let raw: RawRecord = serde_json::from_str(json).unwrap();
        let op = Operation::from_cloudtrail(
            raw.event_source.as_deref().unwrap_or_default(),
            raw.event_name.as_deref().unwrap_or_default(),
        )
        .unwrap();
        normalise(&raw, op)
    }

    #[test]
    fn agent_families_are_recognised() {
        let tf = "APN/1.0 HashiCorp/1.0 Terraform/1.9.8 terraform-provider-aws/5.80.0";
        assert_eq!(agent_family(Some(tf), None), "terraform");
        assert_eq!(
            agent_family(Some("aws-cli/2.22.10 md/awscrt#0.22.0"), None),
            "aws-cli"
        );
        assert_eq!(
            agent_family(Some("Mozilla/5.0 (Macintosh)"), None),
            "console"
        );
        assert_eq!(
            agent_family(
                Some("aws-internal/3 aws-sdk-java/1.12.358 Linux/5.4 OpenJDK_64-Bit_Server_VM"),
                None
            ),
            "console"
        );
        assert_eq!(agent_family(None, None), "unknown");
        assert_eq!(agent_family(Some("eks.amazonaws.com"), None), "aws-service");
    }

    #[test]
    fn assumed_role_actor_keeps_role_path_from_session_issuer() {
        let e = event(
            r#"{"eventSource":"eks.amazonaws.com","eventName":"DeleteCluster",
                "userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/oncall/asmith",
                  "sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/teams/payments/oncall"}}}}"#,
        );
        assert_eq!(
            e.actor.arn.as_deref(),
            Some("arn:aws:iam::111122223333:role/teams/payments/oncall")
        );
        assert_eq!(e.actor.display, "role/teams/payments/oncall (asmith)");
        assert_eq!(e.actor.session_name.as_deref(), Some("asmith"));
    }

    #[test]
    fn another_account_is_named_as_an_account_and_the_event_belongs_to_the_resource_owner() {
        let e = event(
            r#"{"eventSource":"sts.amazonaws.com","eventName":"AssumeRole",
                "userIdentity":{"type":"AWSAccount","principalId":"AIDAEXAMPLE","accountId":"777788889999"},
                "requestParameters":{"roleArn":"arn:aws:iam::111122223333:role/eks-break-glass","roleSessionName":"x"}}"#,
        );
        assert_eq!(e.actor.display, "account 777788889999");
        assert_eq!(e.actor.identity_type, IdentityType::AwsAccount);
        assert_eq!(
            e.account, "111122223333",
            "the role's account, not the caller's"
        );
        let e = event(
            r#"{"eventSource":"eks.amazonaws.com","eventName":"DeleteCluster",
                "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::777788889999:user/x","accountId":"777788889999"},
                "resources":[{"ARN":"arn:aws:eks:eu-west-1:111122223333:cluster/prod"}]}"#,
        );
        assert_eq!(e.account, "111122223333");
    }

    #[test]
    fn missing_ids_and_times_are_none_not_empty() {
        let e = event(
            r#"{"eventSource":"eks.amazonaws.com","eventName":"DeleteCluster","eventID":"","eventTime":null}"#,
        );
        assert_eq!((e.event_id, e.event_time), (None, None));
        assert_eq!(e.account, "", "never the caller's account");
    }

    #[test]
    fn null_and_missing_fields_are_not_failures() {
        let e = event(
            r#"{"eventSource":"eks.amazonaws.com","eventName":"AssociateAccessPolicy","userIdentity":null,
                "requestParameters":null,"responseElements":null,"userAgent":null}"#,
        );
        assert_eq!(e.change.principal_arn(), None);
        assert_eq!(e.change.access_scope(), Some(&AccessScope::cluster()));
        assert_eq!(e.actor.display, "unknown caller");
    }

    #[test]
    fn encoded_path_parameters_are_decoded_once_here() {
        let e = event(
            r#"{"eventSource":"eks.amazonaws.com","eventName":"DisassociateAccessPolicy",
                "requestParameters":{"name":"prod","principalArn":"arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fci",
                "policyArn":"arn%3Aaws%3Aeks%3A%3Aaws%3Acluster-access-policy%2FAmazonEKSViewPolicy"}}"#,
        );
        assert_eq!(
            e.change.principal_arn(),
            Some("arn:aws:iam::111122223333:role/ci")
        );
        assert_eq!(
            e.change.policy_arn(),
            Some("arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy")
        );
        assert_eq!(e.cluster.as_deref(), Some("prod"));
    }

    #[test]
    fn kubernetes_groups_as_a_string_is_one_group() {
        let e = event(
            r#"{"eventSource":"eks.amazonaws.com","eventName":"CreateAccessEntry",
                "requestParameters":{"kubernetesGroups":"system:masters","type":"ec2_linux"}}"#,
        );
        let spec = e.change.entry().unwrap();
        assert_eq!(spec.kubernetes_groups, vec!["system:masters"]);
        assert_eq!(spec.entry_type, Some(EntryType::Ec2Linux));
    }
}
