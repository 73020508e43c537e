//! The Kubernetes plane: an EKS control-plane audit event (`audit.k8s.io/v1` `Event`) as it
//! arrives (lenient, wire-shaped) and its normalisation into the same [`AccessEvent`] the
//! CloudTrail side produces, so aws-auth and RBAC-binding changes get the same alert document,
//! rules, renderings and delivery.
//!
//! Two stages, like [`crate::cloudtrail`]: [`RawAuditEvent`] tolerates every field being absent
//! (a 403 carries no bodies, EKS logs a create of aws-auth at `Metadata` level) and keeps the
//! request and response objects unparsed until the event is known to be watched; [`normalise`]
//! reads them once, into [`crate::model::AwsAuthChange`], [`crate::model::BindingChange`] or
//! [`crate::model::RoleChange`].
//!
//! The caller is the IAM identity EKS's authenticator put in `user.extra` (`arn`,
//! `canonicalArn`, `sessionName`), so approved callers and break-glass roles compare exactly as
//! on the CloudTrail side; without one, the Kubernetes username. EKS's own controllers
//! (`eks:*`) and the control plane AWS runs (the API server, the controller manager and its
//! namespace and garbage collectors) count as AWS.
//!
//! An audit event names neither its cluster, account nor region: [`Origin`] carries what the
//! input says (the CloudWatch Logs group `/aws/eks/<cluster>/cluster`, the subscription's owner,
//! `replay --cluster`).
//!
//! An event without `apiVersion` (older clusters' logs, logs re-exported by tools that drop
//! it) is read like any other; one whose `apiVersion` names another group (`v1` and
//! `events.k8s.io/v1` are the cluster events `kubectl get events` prints, also `kind: Event`)
//! is not an audit event ([`is_audit_api_version`]).

mod objects;
mod patch;
mod roles;

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::arn::{self, PrincipalKey, PrincipalKind};
use crate::model::{AccessEvent, Actor, ApiError, Change, IdentityType, agent_family};
use crate::operation::{KubeObject, KubeRequest, Operation, Skip, watch_kubernetes};
use crate::sanitize::clean;

const MAX_FIELD: usize = 256;
const MAX_ARN: usize = 2048;

/// The API group of audit events, with the slash that ends it (`audit.k8s.io/v1`,
/// `audit.k8s.io/v1beta1`).
pub const AUDIT_API_GROUP: &str = "audit.k8s.io/";

/// True when an event's `apiVersion` is the audit API's (any version). An absent `apiVersion`
/// is decided by the caller: it is accepted.
pub fn is_audit_api_version(api_version: &str) -> bool {
    api_version.starts_with(AUDIT_API_GROUP)
}

/// Where an audit event comes from, which the event itself does not say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Origin<'a> {
    pub cluster: Option<&'a str>,
    /// The account of the cluster (a subscription payload's `owner`).
    pub account: Option<&'a str>,
    pub region: Option<&'a str>,
}

/// The cluster named by an EKS control-plane log group, `/aws/eks/<cluster>/cluster`.
pub fn cluster_of_log_group(group: &str) -> Option<&str> {
    group
        .strip_prefix("/aws/eks/")?
        .strip_suffix("/cluster")
        .filter(|c| !c.is_empty() && !c.contains('/'))
}

/// An audit event, as lenient as the wire format demands. Bodies stay raw until needed.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RawAuditEvent<'a> {
    pub kind: Option<String>,
    pub api_version: Option<String>,
    pub level: Option<String>,
    #[serde(rename = "auditID")]
    pub audit_id: Option<String>,
    pub stage: Option<String>,
    #[serde(rename = "requestURI")]
    pub request_uri: Option<String>,
    pub verb: Option<String>,
    pub user: Option<RawUser>,
    pub impersonated_user: Option<RawUser>,
    #[serde(rename = "sourceIPs")]
    pub source_ips: Option<Value>,
    pub user_agent: Option<String>,
    pub object_ref: Option<RawObjectRef>,
    pub response_status: Option<RawStatus>,
    #[serde(borrow)]
    pub request_object: Option<&'a RawValue>,
    #[serde(borrow)]
    pub response_object: Option<&'a RawValue>,
    pub request_received_timestamp: Option<String>,
    pub stage_timestamp: Option<String>,
}

/// `user` / `impersonatedUser`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawUser {
    pub username: Option<String>,
    pub uid: Option<String>,
    pub groups: Option<Value>,
    /// `arn`, `canonicalArn`, `sessionName`, `accessKeyId`, `principalId`: lists of strings.
    pub extra: Option<serde_json::Map<String, Value>>,
}

impl RawUser {
    /// The first value of an `extra` key (a list of strings; a lone string is accepted).
    fn extra(&self, key: &str) -> Option<&str> {
        match self.extra.as_ref()?.get(key)? {
            Value::Array(items) => items.first()?.as_str(),
            Value::String(s) => Some(s.as_str()),
            _ => None,
        }
        .filter(|s| !s.is_empty())
    }
}

/// `objectRef`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RawObjectRef {
    pub resource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub api_group: Option<String>,
    pub api_version: Option<String>,
    pub subresource: Option<String>,
}

/// `responseStatus` (a `metav1.Status`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawStatus {
    pub code: Option<i64>,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub status: Option<String>,
}

impl RawAuditEvent<'_> {
    /// What the watch decision reads. A create's name may be only in its body (`objectRef` is
    /// completed from the object when the body is logged).
    pub fn request(&self) -> KubeRequest<'_> {
        let r = self.object_ref.as_ref();
        let field = |f: fn(&RawObjectRef) -> &Option<String>| {
            r.and_then(|r| f(r).as_deref()).unwrap_or_default()
        };
        KubeRequest {
            verb: self.verb.as_deref().unwrap_or_default(),
            api_group: field(|r| &r.api_group),
            resource: field(|r| &r.resource),
            subresource: field(|r| &r.subresource),
            namespace: field(|r| &r.namespace),
            name: field(|r| &r.name),
            stage: self.stage.as_deref().unwrap_or_default(),
            request_uri: self.request_uri.as_deref().unwrap_or_default(),
        }
    }

    /// The watch decision, with a create's name taken from its body when `objectRef` lacks it.
    pub fn watch(&self) -> Result<Operation, Skip> {
        let mut request = self.request();
        let body_name = (request.name.is_empty() && request.verb == "create")
            .then(|| self.request_object.and_then(object_name))
            .flatten();
        if let Some(name) = body_name.as_deref() {
            request.name = name;
        }
        watch_kubernetes(&request)
    }
}

/// `metadata.name` of a raw object.
fn object_name(raw: &RawValue) -> Option<String> {
    #[derive(Deserialize)]
    struct Meta {
        name: Option<String>,
    }
    #[derive(Deserialize)]
    struct Object {
        metadata: Option<Meta>,
    }
    serde_json::from_str::<Object>(raw.get())
        .ok()?
        .metadata?
        .name
}

/// Parse a body, leniently: a body that is not JSON we can read is treated as absent.
fn body(raw: Option<&RawValue>) -> Option<Value> {
    raw.and_then(|r| serde_json::from_str::<Value>(r.get()).ok())
        .filter(|v| !v.is_null())
}

/// Normalise an audit event of a watched `operation` (decided by [`RawAuditEvent::watch`]).
/// Never fails: missing fields become `None` and the alert says what the event lacked.
pub fn normalise(raw: &RawAuditEvent, operation: Operation, origin: &Origin) -> AccessEvent {
    let request = body(raw.request_object);
    let response = body(raw.response_object);
    let r = raw.request();
    let text = |v: &str| Some(clean(v, MAX_FIELD)).filter(|v| !v.is_empty());
    // The object's name: `objectRef.name`, or for a create that lacks it, the body's.
    let name = || {
        text(r.name).or_else(|| {
            raw.request_object
                .and_then(object_name)
                .map(|n| clean(&n, MAX_FIELD))
        })
    };
    let change = match operation.kubernetes_call().map(|c| c.object) {
        Some(KubeObject::ClusterRoleBinding | KubeObject::RoleBinding) => {
            Change::RoleBinding(Box::new(objects::binding(
                operation,
                text(r.namespace),
                name(),
                request.as_ref(),
                response.as_ref(),
            )))
        }
        Some(KubeObject::ClusterRole | KubeObject::KubeSystemRole) => {
            Change::Role(Box::new(roles::role(
                operation,
                text(r.namespace),
                name(),
                request.as_ref(),
                response.as_ref(),
            )))
        }
        Some(KubeObject::AwsAuth | KubeObject::KubeSystemConfigMaps) | None => {
            Change::AwsAuth(Box::new(objects::aws_auth(
                operation,
                request.as_ref(),
                response.as_ref(),
            )))
        }
    };
    let source_ip = match &raw.source_ips {
        Some(Value::Array(ips)) => ips.first().and_then(Value::as_str),
        Some(Value::String(ip)) => Some(ip.as_str()),
        _ => None,
    };
    AccessEvent {
        operation,
        event_id: raw.audit_id.as_deref().and_then(text),
        event_time: raw
            .request_received_timestamp
            .as_deref()
            .or(raw.stage_timestamp.as_deref())
            .map(to_seconds)
            .and_then(|t| text(&t)),
        account: clean(origin.account.unwrap_or_default(), MAX_FIELD),
        region: clean(origin.region.unwrap_or_default(), MAX_FIELD),
        cluster: origin.cluster.and_then(text),
        actor: actor(
            raw.user.as_ref(),
            raw.impersonated_user.as_ref(),
            raw.user_agent.as_deref(),
        ),
        user_agent: raw.user_agent.as_deref().map(|s| clean(s, 512)),
        source_ip: source_ip.and_then(text),
        error: error(raw.response_status.as_ref()),
        change,
    }
}

/// `2026-11-20T01:47:12.412873Z` -> `2026-11-20T01:47:12Z`, CloudTrail's precision, so both
/// planes' alerts sort and line up alike. Anything else is kept as written.
fn to_seconds(time: &str) -> Cow<'_, str> {
    match (time.get(..19), time.as_bytes().get(19), time.ends_with('Z')) {
        (Some(seconds), Some(b'.'), true) => Cow::Owned(format!("{seconds}Z")),
        _ => Cow::Borrowed(time),
    }
}

/// A response code of 400 or more (or a `Failure` status): the request changed nothing. The
/// code is the status reason (`Forbidden`, `Conflict`), else `HTTP <code>`.
fn error(status: Option<&RawStatus>) -> Option<ApiError> {
    let s = status?;
    let failed = s.code.is_some_and(|c| c >= 400) || s.status.as_deref() == Some("Failure");
    if !failed {
        return None;
    }
    let code = match (s.reason.as_deref().filter(|r| !r.is_empty()), s.code) {
        (Some(reason), _) => clean(reason, 64),
        (None, Some(code)) => format!("HTTP {code}"),
        (None, None) => "Failure".to_string(),
    };
    Some(ApiError {
        code,
        message: s.message.as_deref().map(|m| clean(m, 1024)),
    })
}

/// The caller: the IAM identity behind the Kubernetes user when EKS's authenticator names one.
fn actor(
    user: Option<&RawUser>,
    impersonated: Option<&RawUser>,
    user_agent: Option<&str>,
) -> Actor {
    let agent = agent_family(user_agent, None);
    let Some(user) = user else {
        return Actor::described(
            IdentityType::Unknown("Unknown".into()),
            "unknown caller",
            &agent,
        );
    };
    let username = user.username.as_deref().unwrap_or_default();
    let session = user.extra("sessionName").map(|s| clean(s, MAX_FIELD));
    let iam = user
        .extra("canonicalArn")
        .or(user.extra("arn"))
        .map(|a| clean(&arn::decode(a), MAX_ARN));
    let (identity_type, arn, session_name, display) = match iam
        .as_deref()
        .and_then(PrincipalKey::from_arn)
    {
        Some(key) => {
            let arn = iam.clone();
            let session_arn = user.extra("arn").unwrap_or_default();
            let (kind, session) = match key.kind {
                PrincipalKind::Role if session_arn.contains(":assumed-role/") => (
                    IdentityType::AssumedRole,
                    session.or_else(|| session_arn.rsplit('/').next().map(|s| clean(s, MAX_FIELD))),
                ),
                PrincipalKind::Role => (IdentityType::Role, None),
                PrincipalKind::User => (IdentityType::IamUser, None),
                PrincipalKind::Root => (IdentityType::Root, None),
                PrincipalKind::FederatedUser => (IdentityType::FederatedUser, None),
            };
            let name = match key.kind {
                PrincipalKind::Root => "root".to_string(),
                _ => arn::short_name(iam.as_deref().unwrap_or_default()),
            };
            let display = match &session {
                Some(s) => format!("{name} ({s})"),
                None => name,
            };
            (kind, arn, session, display)
        }
        None => {
            let (kind, display) = kubernetes_identity(username);
            (kind, None, None, display)
        }
    };
    let display = match impersonated
        .and_then(|u| u.username.as_deref())
        .filter(|u| !u.is_empty())
    {
        Some(as_user) => format!("{display} as {}", kubernetes_identity(as_user).1),
        None => display,
    };
    let session_arn = user
        .extra("arn")
        .filter(|a| a.contains(":assumed-role/"))
        .map(|a| clean(&arn::decode(a), MAX_ARN));
    Actor {
        identity_type,
        arn,
        session_name,
        display: clean(&display, 300),
        agent,
        access_key_id: user.extra("accessKeyId").map(|k| clean(k, MAX_FIELD)),
        session_arn,
    }
}

/// The control plane, which AWS runs in EKS: the API server and the controller manager, and
/// the controller-manager service accounts that change bindings (emptying a namespace being
/// deleted, collecting garbage).
const CONTROL_PLANE: &[&str] = &[
    "system:apiserver",
    "system:kube-controller-manager",
    "system:serviceaccount:kube-system:namespace-controller",
    "system:serviceaccount:kube-system:generic-garbage-collector",
];

/// A Kubernetes username without an IAM identity: EKS itself, a service account, a node, or
/// a user of another authenticator.
fn kubernetes_identity(username: &str) -> (IdentityType, String) {
    let name = clean(username, MAX_FIELD);
    if name.is_empty() {
        return (
            IdentityType::Unknown("Unknown".into()),
            "unknown caller".into(),
        );
    }
    if name.starts_with("eks:") {
        return (IdentityType::AwsService, format!("EKS ({name})"));
    }
    if CONTROL_PLANE.contains(&name.as_str()) {
        return (IdentityType::AwsService, format!("control plane ({name})"));
    }
    let display: Cow<str> = match name.strip_prefix("system:serviceaccount:") {
        Some(sa) => Cow::Owned(format!("serviceaccount {}", sa.replacen(':', "/", 1))),
        None => Cow::Owned(format!("kubernetes user {name}")),
    };
    (IdentityType::Kubernetes, display.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> RawAuditEvent<'_> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn the_cluster_comes_from_the_control_plane_log_group() {
        assert_eq!(
            cluster_of_log_group("/aws/eks/prod-eu/cluster"),
            Some("prod-eu")
        );
        assert_eq!(cluster_of_log_group("/aws/lambda/x"), None);
        assert_eq!(cluster_of_log_group("/aws/eks//cluster"), None);
    }

    #[test]
    fn iam_callers_are_named_by_their_role_and_session() {
        let e = raw(r#"{"user":{"username":"kubernetes-admin","extra":{
            "arn":["arn:aws:sts::111122223333:assumed-role/platform-engineer/jdoe"],
            "canonicalArn":["arn:aws:iam::111122223333:role/platform-engineer"],
            "sessionName":["jdoe"]}},"userAgent":"kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46"}"#);
        let a = actor(e.user.as_ref(), None, e.user_agent.as_deref());
        assert_eq!(a.identity_type, IdentityType::AssumedRole);
        assert_eq!(
            a.arn.as_deref(),
            Some("arn:aws:iam::111122223333:role/platform-engineer")
        );
        assert_eq!(a.display, "role/platform-engineer (jdoe)");
        assert_eq!(a.agent, "kubectl");
    }

    #[test]
    fn eks_itself_service_accounts_and_impersonation_are_named() {
        let eks = raw(r#"{"user":{"username":"eks:node-manager"}}"#);
        let a = actor(eks.user.as_ref(), None, None);
        assert!(a.is_aws_service(), "{a:?}");
        let sa = raw(
            r#"{"user":{"username":"system:serviceaccount:argocd:argocd-application-controller"},
            "impersonatedUser":{"username":"system:serviceaccount:kube-system:x"}}"#,
        );
        let a = actor(sa.user.as_ref(), sa.impersonated_user.as_ref(), None);
        assert_eq!(a.identity_type, IdentityType::Kubernetes);
        assert_eq!(
            a.display,
            "serviceaccount argocd/argocd-application-controller as serviceaccount kube-system/x"
        );
    }

    #[test]
    fn a_403_is_a_denied_call() {
        let e = error(Some(&RawStatus {
            code: Some(403),
            reason: Some("Forbidden".into()),
            ..RawStatus::default()
        }))
        .unwrap();
        assert!(e.is_denied());
        assert!(
            error(Some(&RawStatus {
                code: Some(200),
                ..RawStatus::default()
            }))
            .is_none()
        );
        assert_eq!(
            error(Some(&RawStatus {
                code: Some(409),
                ..RawStatus::default()
            }))
            .unwrap()
            .code,
            "HTTP 409"
        );
    }

    #[test]
    fn a_create_without_a_name_in_its_object_ref_is_named_by_its_body() {
        let e = raw(
            r#"{"verb":"create","stage":"ResponseComplete","objectRef":{"resource":"configmaps","namespace":"kube-system"},
            "requestObject":{"metadata":{"name":"aws-auth","namespace":"kube-system"}}}"#,
        );
        assert_eq!(e.watch(), Ok(Operation::AwsAuthCreate));
    }
}
