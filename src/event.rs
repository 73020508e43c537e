//! The CloudTrail record as it arrives (lenient, wire-shaped) and the normalised event the rules
//! see (decoded ARNs, resolved actor, typed change).
//!
//! Two stages, as in ripgrep's low/high args: [`RawRecord`] mirrors CloudTrail and tolerates
//! every field being absent or `null` (real records omit `userAgent`, failed calls carry
//! `responseElements: null`, `requestParameters` can be `null`); [`normalise`] turns it into an
//! [`AccessEvent`] once, so no rule ever decodes an ARN or digs in JSON.
//!
//! We own [`RawRecord`] instead of using `aws_lambda_events`' `AWSAPICall`: that struct makes
//! `userAgent`, `sourceIPAddress`, `eventVersion`, `requestID` and `userIdentity.sessionContext`
//! fields required, and real records (failed calls, AWS service callers) omit them.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::arn;
use crate::text::clean;

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
    pub identity_provider: Option<String>,
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
    #[serde(rename = "type")]
    pub issuer_type: Option<String>,
    pub arn: Option<String>,
    pub user_name: Option<String>,
}

/// Event sources we watch. Everything else is skipped before a full parse.
pub const EKS_SOURCE: &str = "eks.amazonaws.com";
pub const STS_SOURCE: &str = "sts.amazonaws.com";

/// The EKS calls that change who can reach a cluster, or how. One list: the rule catalogue,
/// the docs and the SAM event pattern are all derived from it.
pub const WATCHED_EKS_EVENTS: &[&str] = &[
    "CreateAccessEntry",
    "UpdateAccessEntry",
    "DeleteAccessEntry",
    "AssociateAccessPolicy",
    "DisassociateAccessPolicy",
    "UpdateClusterConfig",
    "CreateCluster",
    "DeleteCluster",
    "AssociateIdentityProviderConfig",
    "CreatePodIdentityAssociation",
    "UpdatePodIdentityAssociation",
];

/// STS calls that hand out a role's credentials: watched only for break-glass roles.
pub const WATCHED_STS_EVENTS: &[&str] = &[
    "AssumeRole",
    "AssumeRoleWithSAML",
    "AssumeRoleWithWebIdentity",
];

/// Access entry types (`CreateAccessEntry.type`). A closed set: an unknown value is kept as text
/// by the caller and reported, never guessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccessEntryType {
    Standard,
    Ec2,
    Ec2Linux,
    Ec2Windows,
    FargateLinux,
    HybridLinux,
    HyperpodLinux,
}

impl AccessEntryType {
    pub const ALL: &'static [AccessEntryType] = &[
        Self::Standard,
        Self::Ec2,
        Self::Ec2Linux,
        Self::Ec2Windows,
        Self::FargateLinux,
        Self::HybridLinux,
        Self::HyperpodLinux,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "STANDARD",
            Self::Ec2 => "EC2",
            Self::Ec2Linux => "EC2_LINUX",
            Self::Ec2Windows => "EC2_WINDOWS",
            Self::FargateLinux => "FARGATE_LINUX",
            Self::HybridLinux => "HYBRID_LINUX",
            Self::HyperpodLinux => "HYPERPOD_LINUX",
        }
    }

    /// Node and service identities: EKS maps them to `system:nodes`-style groups.
    pub fn is_node_identity(self) -> bool {
        self != Self::Standard
    }
}

/// Cluster authentication mode. One-way: CONFIG_MAP -> API_AND_CONFIG_MAP -> API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuthMode {
    ConfigMap,
    ApiAndConfigMap,
    Api,
}

impl AuthMode {
    pub const ALL: &'static [AuthMode] = &[Self::ConfigMap, Self::ApiAndConfigMap, Self::Api];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConfigMap => "CONFIG_MAP",
            Self::ApiAndConfigMap => "API_AND_CONFIG_MAP",
            Self::Api => "API",
        }
    }
}

/// A value outside a closed set; the message lists the valid ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{value}`; valid values: {valid}")]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: String,
    pub valid: String,
}

crate::closed_enum_text!(AccessEntryType, "access entry type");
crate::closed_enum_text!(AuthMode, "authentication mode");

/// Where an access policy applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum AccessScope {
    Cluster,
    Namespace { namespaces: Vec<String> },
}

impl AccessScope {
    /// A namespace scope of `*` alone grants every namespace: it is cluster-wide in effect.
    pub fn is_cluster_wide(&self) -> bool {
        match self {
            Self::Cluster => true,
            Self::Namespace { namespaces } => namespaces.iter().any(|n| n == "*"),
        }
    }

    /// True when the scope reaches namespace `ns` (cluster scope, exact name or wildcard match).
    pub fn covers(&self, ns: &str) -> bool {
        match self {
            Self::Cluster => true,
            Self::Namespace { namespaces } => namespaces.iter().any(|p| wildcard_match(p, ns)),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Cluster => "cluster-wide".to_string(),
            Self::Namespace { namespaces } if self.is_cluster_wide() => {
                format!("in namespaces [{}] (all namespaces)", namespaces.join(", "))
            }
            Self::Namespace { namespaces } => format!("in namespaces [{}]", namespaces.join(", ")),
        }
    }
}

/// `*` matches any run of characters (EKS namespace scopes allow `dev-*`).
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

/// Who made the call, resolved once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    /// `userIdentity.type` as CloudTrail wrote it (AssumedRole, IAMUser, Root, AWSService, ...).
    pub identity_type: String,
    /// The ARN rules compare: the role ARN (with path) for assumed roles, the user ARN for IAM
    /// users, the root ARN; `None` for AWS services and identities without one.
    pub arn: Option<String>,
    /// Session name of an assumed role, user name of SAML/web-identity callers.
    pub session_name: Option<String>,
    /// Readable: `role/platform-engineer (jdoe)`, `user/alice`, `root`, `service eks.amazonaws.com`.
    pub display: String,
    /// User agent family: terraform, aws-cli, console, cloudformation, eksctl, ...
    pub agent: String,
}

impl Actor {
    pub fn is_root(&self) -> bool {
        self.identity_type.eq_ignore_ascii_case("Root")
    }
}

/// A failed call (`errorCode` present): what was attempted, not what was granted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    pub code: String,
    pub message: Option<String>,
}

impl ApiError {
    /// AccessDenied*, Unauthorized*, *UnauthorizedOperation: the caller lacked permission.
    pub fn is_denied(&self) -> bool {
        let c = self.code.to_ascii_lowercase();
        c.contains("accessdenied") || c.contains("unauthorized")
    }
}

/// An access entry as requested (Create/UpdateAccessEntry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntrySpec {
    pub principal_arn: Option<String>,
    /// Raw type text; parse with [`AccessEntryType::from_str`]. `None`: STANDARD (the default).
    pub entry_type: Option<String>,
    pub kubernetes_groups: Vec<String>,
    pub username: Option<String>,
}

/// Public endpoint settings requested in a cluster config change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicEndpoint {
    pub enabled: bool,
    /// `None`: not given (EKS keeps or defaults to 0.0.0.0/0).
    pub cidrs: Option<Vec<String>>,
}

impl PublicEndpoint {
    pub fn open_to_world(&self) -> bool {
        self.enabled
            && match &self.cidrs {
                None => true,
                Some(c) => c.is_empty() || c.iter().any(|c| c == "0.0.0.0/0" || c == "::/0"),
            }
    }
}

/// Cluster settings in UpdateClusterConfig / CreateCluster that matter for access.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClusterSettings {
    pub authentication_mode: Option<String>,
    pub bootstrap_cluster_creator_admin: Option<bool>,
    pub logging_disabled: Vec<String>,
    pub logging_enabled: Vec<String>,
    pub public_endpoint: Option<PublicEndpoint>,
    pub deletion_protection: Option<bool>,
    /// Top-level request keys, for the summary of what an update touched.
    pub keys: Vec<String>,
}

/// What the call changes (or tried to).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    CreateAccessEntry(EntrySpec),
    UpdateAccessEntry(EntrySpec),
    DeleteAccessEntry {
        principal_arn: Option<String>,
    },
    AssociateAccessPolicy {
        principal_arn: Option<String>,
        policy_arn: Option<String>,
        /// Missing scope is treated as cluster scope: never assume the smaller grant.
        access_scope: AccessScope,
    },
    DisassociateAccessPolicy {
        principal_arn: Option<String>,
        policy_arn: Option<String>,
    },
    UpdateClusterConfig(ClusterSettings),
    CreateCluster(ClusterSettings),
    DeleteCluster,
    AssociateIdentityProviderConfig {
        config_name: Option<String>,
        issuer_url: Option<String>,
        client_id: Option<String>,
    },
    PodIdentityAssociation {
        update: bool,
        namespace: Option<String>,
        service_account: Option<String>,
        role_arn: Option<String>,
    },
    AssumeRole {
        role_arn: Option<String>,
        session_name: Option<String>,
    },
}

impl Change {
    /// The principal whose access changes (decoded), if the call names one.
    pub fn principal_arn(&self) -> Option<&str> {
        match self {
            Change::CreateAccessEntry(e) | Change::UpdateAccessEntry(e) => {
                e.principal_arn.as_deref()
            }
            Change::DeleteAccessEntry { principal_arn }
            | Change::AssociateAccessPolicy { principal_arn, .. }
            | Change::DisassociateAccessPolicy { principal_arn, .. } => principal_arn.as_deref(),
            Change::PodIdentityAssociation { role_arn, .. }
            | Change::AssumeRole { role_arn, .. } => role_arn.as_deref(),
            _ => None,
        }
    }

    pub fn policy_arn(&self) -> Option<&str> {
        match self {
            Change::AssociateAccessPolicy { policy_arn, .. }
            | Change::DisassociateAccessPolicy { policy_arn, .. } => policy_arn.as_deref(),
            _ => None,
        }
    }

    /// Access-entry and policy-association calls: the ones that grant or remove cluster access.
    pub fn is_access_change(&self) -> bool {
        matches!(
            self,
            Change::CreateAccessEntry(_)
                | Change::UpdateAccessEntry(_)
                | Change::DeleteAccessEntry { .. }
                | Change::AssociateAccessPolicy { .. }
                | Change::DisassociateAccessPolicy { .. }
        )
    }
}

/// A watched call, normalised. Everything here is decoded and sanitised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessEvent {
    pub event_id: String,
    pub event_name: String,
    pub event_source: String,
    pub event_time: String,
    /// The account the call was made in (owner of the cluster).
    pub account: String,
    pub region: String,
    pub cluster: Option<String>,
    pub actor: Actor,
    pub user_agent: Option<String>,
    pub source_ip: Option<String>,
    pub error: Option<ApiError>,
    pub change: Change,
}

/// Why a record produced no alert. Not an error: the record is simply not ours to judge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// Another service's event (`eventSource`).
    OtherService(String),
    /// A record without `eventSource`: nothing says which service it is from.
    NoEventSource,
    /// An EKS or STS call we do not watch (read-only calls, unrelated APIs).
    NotWatched(String),
    /// An STS role assumption of a role that is not break-glass.
    NotBreakGlass,
    /// An EventBridge event that does not carry a CloudTrail record.
    NotCloudTrail(String),
    /// A CloudTrail digest file (integrity validation, no events).
    DigestFile,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::OtherService(s) => write!(f, "event source `{s}` is not watched"),
            Skip::NoEventSource => f.write_str("the record has no eventSource"),
            Skip::NotWatched(n) => write!(f, "`{n}` does not change cluster access"),
            Skip::NotBreakGlass => f.write_str("role assumed is not a break-glass role"),
            Skip::NotCloudTrail(t) => write!(
                f,
                "EventBridge detail-type `{t}` is not a CloudTrail API call"
            ),
            Skip::DigestFile => f.write_str("CloudTrail digest file (no events)"),
        }
    }
}

const MAX_FIELD: usize = 256;
const MAX_ARN: usize = 2048;

/// Normalise a raw record into an [`AccessEvent`], or say why it is not watched.
///
/// Never fails on a watched record: a missing field becomes `None`/empty and the rules treat
/// missing data as the riskier case.
pub fn normalise(raw: &RawRecord) -> Result<AccessEvent, Skip> {
    let source = raw.event_source.as_deref().unwrap_or_default();
    let name = raw.event_name.as_deref().unwrap_or_default();
    if source.is_empty() {
        return Err(Skip::NoEventSource);
    }
    let watched = match source {
        EKS_SOURCE => WATCHED_EKS_EVENTS.contains(&name),
        STS_SOURCE => WATCHED_STS_EVENTS.contains(&name),
        other => return Err(Skip::OtherService(clean(other, MAX_FIELD))),
    };
    if !watched {
        return Err(Skip::NotWatched(clean(name, MAX_FIELD)));
    }
    let empty = Value::Null;
    let req = raw.request_parameters.as_ref().unwrap_or(&empty);
    let resp = raw.response_elements.as_ref().unwrap_or(&empty);
    let identity = raw.user_identity.as_ref();

    let account = raw
        .recipient_account_id
        .as_deref()
        .or_else(|| identity.and_then(|i| i.account_id.as_deref()))
        .unwrap_or_default();

    let cluster = match source {
        STS_SOURCE => None,
        _ => str_at(req, &["name"])
            .or_else(|| str_at(req, &["clusterName"]))
            .or_else(|| str_at(resp, &["cluster", "name"]))
            .map(|c| clean(c, MAX_FIELD)),
    };

    let change = match name {
        "CreateAccessEntry" => Change::CreateAccessEntry(entry_spec(req)),
        "UpdateAccessEntry" => Change::UpdateAccessEntry(entry_spec(req)),
        "DeleteAccessEntry" => Change::DeleteAccessEntry {
            principal_arn: arn_at(req, &["principalArn"]),
        },
        "AssociateAccessPolicy" => Change::AssociateAccessPolicy {
            principal_arn: arn_at(req, &["principalArn"]),
            policy_arn: arn_at(req, &["policyArn"]),
            access_scope: access_scope(req.get("accessScope")),
        },
        "DisassociateAccessPolicy" => Change::DisassociateAccessPolicy {
            principal_arn: arn_at(req, &["principalArn"]),
            policy_arn: arn_at(req, &["policyArn"]),
        },
        "UpdateClusterConfig" => Change::UpdateClusterConfig(cluster_settings(req)),
        "CreateCluster" => Change::CreateCluster(cluster_settings(req)),
        "DeleteCluster" => Change::DeleteCluster,
        "AssociateIdentityProviderConfig" => Change::AssociateIdentityProviderConfig {
            config_name: str_at(req, &["oidc", "identityProviderConfigName"])
                .map(|s| clean(s, MAX_FIELD)),
            issuer_url: str_at(req, &["oidc", "issuerUrl"]).map(|s| clean(s, MAX_FIELD)),
            client_id: str_at(req, &["oidc", "clientId"]).map(|s| clean(s, MAX_FIELD)),
        },
        "CreatePodIdentityAssociation" | "UpdatePodIdentityAssociation" => {
            Change::PodIdentityAssociation {
                update: name == "UpdatePodIdentityAssociation",
                namespace: str_at(req, &["namespace"])
                    .or_else(|| str_at(resp, &["association", "namespace"]))
                    .map(|s| clean(s, MAX_FIELD)),
                service_account: str_at(req, &["serviceAccount"])
                    .or_else(|| str_at(resp, &["association", "serviceAccount"]))
                    .map(|s| clean(s, MAX_FIELD)),
                role_arn: arn_at(req, &["roleArn"])
                    .or_else(|| arn_at(resp, &["association", "roleArn"])),
            }
        }
        _ => Change::AssumeRole {
            role_arn: arn_at(req, &["roleArn"]),
            session_name: str_at(req, &["roleSessionName"]).map(|s| clean(s, MAX_FIELD)),
        },
    };

    Ok(AccessEvent {
        event_id: clean(raw.event_id.as_deref().unwrap_or_default(), MAX_FIELD),
        event_name: name.to_string(),
        event_source: source.to_string(),
        event_time: clean(raw.event_time.as_deref().unwrap_or_default(), MAX_FIELD),
        account: clean(account, MAX_FIELD),
        region: clean(raw.aws_region.as_deref().unwrap_or_default(), MAX_FIELD),
        cluster,
        actor: actor(
            identity,
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
        change,
    })
}

fn value_at<'v>(v: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(v, |v, key| v.get(key))
}

fn str_at<'v>(v: &'v Value, path: &[&str]) -> Option<&'v str> {
    value_at(v, path)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn arn_at(v: &Value, path: &[&str]) -> Option<String> {
    str_at(v, path).map(|s| clean(&arn::decode(s), MAX_ARN))
}

/// A list of strings, leniently: an array (non-strings are shown as JSON) or a lone string.
fn strings_at(v: &Value, path: &[&str]) -> Vec<String> {
    match value_at(v, path) {
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => clean(s, MAX_FIELD),
                other => clean(&other.to_string(), MAX_FIELD),
            })
            .collect(),
        Some(Value::String(s)) => vec![clean(s, MAX_FIELD)],
        _ => Vec::new(),
    }
}

fn bool_at(v: &Value, path: &[&str]) -> Option<bool> {
    match value_at(v, path)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn entry_spec(req: &Value) -> EntrySpec {
    EntrySpec {
        principal_arn: arn_at(req, &["principalArn"]),
        entry_type: str_at(req, &["type"]).map(|s| clean(s, MAX_FIELD)),
        kubernetes_groups: strings_at(req, &["kubernetesGroups"]),
        username: str_at(req, &["username"]).map(|s| clean(s, MAX_FIELD)),
    }
}

fn access_scope(scope: Option<&Value>) -> AccessScope {
    let Some(scope) = scope else {
        return AccessScope::Cluster;
    };
    let namespaces = strings_at(scope, &["namespaces"]);
    match str_at(scope, &["type"]) {
        Some(t) if t.eq_ignore_ascii_case("namespace") && !namespaces.is_empty() => {
            AccessScope::Namespace { namespaces }
        }
        // "cluster", unknown types and a namespace scope without namespaces: assume the larger grant.
        _ => AccessScope::Cluster,
    }
}

fn cluster_settings(req: &Value) -> ClusterSettings {
    let mut settings = ClusterSettings {
        authentication_mode: str_at(req, &["accessConfig", "authenticationMode"])
            .map(|s| clean(s, MAX_FIELD)),
        bootstrap_cluster_creator_admin: bool_at(
            req,
            &["accessConfig", "bootstrapClusterCreatorAdminPermissions"],
        ),
        deletion_protection: bool_at(req, &["deletionProtection"]),
        keys: req
            .as_object()
            .map(|o| {
                o.keys()
                    .filter(|k| !matches!(k.as_str(), "name" | "clientRequestToken"))
                    .map(|k| clean(k, 64))
                    .collect()
            })
            .unwrap_or_default(),
        ..ClusterSettings::default()
    };
    if let Some(Value::Array(entries)) = value_at(req, &["logging", "clusterLogging"]) {
        for entry in entries {
            let types = strings_at(entry, &["types"]);
            match bool_at(entry, &["enabled"]) {
                Some(false) => settings.logging_disabled.extend(types),
                Some(true) => settings.logging_enabled.extend(types),
                None => {}
            }
        }
    }
    if let Some(vpc) = req.get("resourcesVpcConfig")
        && let Some(enabled) = bool_at(vpc, &["endpointPublicAccess"])
    {
        settings.public_endpoint = Some(PublicEndpoint {
            enabled,
            cidrs: value_at(vpc, &["publicAccessCidrs"])
                .map(|_| strings_at(vpc, &["publicAccessCidrs"])),
        });
    }
    settings
}

fn actor(
    identity: Option<&RawUserIdentity>,
    user_agent: Option<&str>,
    source_ip: Option<&str>,
) -> Actor {
    let agent = agent_family(user_agent, source_ip);
    let Some(id) = identity else {
        return Actor {
            identity_type: "Unknown".into(),
            arn: None,
            session_name: None,
            display: "unknown caller".into(),
            agent,
        };
    };
    let identity_type = clean(id.identity_type.as_deref().unwrap_or("Unknown"), 64);
    let own_arn = id.arn.as_deref().map(|a| clean(&arn::decode(a), MAX_ARN));
    let issuer_arn = id
        .session_context
        .as_ref()
        .and_then(|c| c.session_issuer.as_ref())
        .and_then(|i| i.arn.as_deref())
        .filter(|a| !a.is_empty())
        .map(|a| clean(&arn::decode(a), MAX_ARN));
    let (arn, session_name, display) = match identity_type.as_str() {
        "AssumedRole" => {
            // The role ARN (with path) from the session issuer; the assumed-role ARN drops the
            // path but still names the role, so it is the fallback.
            let session = own_arn
                .as_deref()
                .and_then(|a| a.rsplit('/').next())
                .map(|s| clean(s, MAX_FIELD));
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
        "Root" => (own_arn, None, "root".to_string()),
        "AWSService" | "AWSAccount" => {
            let by = id
                .invoked_by
                .as_deref()
                .or(id.account_id.as_deref())
                .map(|s| clean(s, MAX_FIELD))
                .unwrap_or_else(|| "unknown".into());
            (None, None, format!("service {by}"))
        }
        "FederatedUser" => {
            let name = own_arn
                .as_deref()
                .map(arn::short_name)
                .unwrap_or_else(|| "federated user".into());
            // Compare as the IAM user that issued the federation token, when known.
            (issuer_arn.or(own_arn), None, name)
        }
        "SAMLUser" | "WebIdentityUser" => {
            let user = id
                .user_name
                .as_deref()
                .or(id.principal_id.as_deref())
                .map(|s| clean(s, MAX_FIELD));
            let display = format!(
                "{} {}",
                if identity_type == "SAMLUser" {
                    "SAML user"
                } else {
                    "web identity user"
                },
                user.as_deref().unwrap_or("unknown")
            );
            (None, user, display)
        }
        _ => {
            let display = own_arn
                .as_deref()
                .map(arn::short_name)
                .or_else(|| id.user_name.as_deref().map(|s| clean(s, MAX_FIELD)))
                .or_else(|| id.principal_id.as_deref().map(|s| clean(s, MAX_FIELD)))
                .unwrap_or_else(|| format!("{identity_type} caller"));
            (own_arn, None, display)
        }
    };
    Actor {
        identity_type,
        arn,
        session_name,
        display: clean(&display, 300),
        agent,
    }
}

/// The tool family behind a user agent: what an on-call engineer needs to know ("was this our
/// Terraform pipeline or a person at a console?").
pub fn agent_family(user_agent: Option<&str>, source_ip: Option<&str>) -> String {
    let ua = user_agent.unwrap_or_default();
    let lower = ua.to_ascii_lowercase();
    let family = if lower.contains("terraform") {
        "terraform"
    } else if lower.contains("pulumi") {
        "pulumi"
    } else if lower.contains("eksctl") {
        "eksctl"
    } else if lower.contains("cloudformation") || lower.contains("aws-cdk") {
        "cloudformation"
    } else if lower.contains("crossplane") {
        "crossplane"
    } else if lower.starts_with("aws-cli/") || lower.contains(" aws-cli/") {
        "aws-cli"
    } else if lower.contains("console.amazonaws.com")
        || lower.contains("console.aws.amazon.com")
        || lower.starts_with("mozilla/")
        || (lower == "aws internal" && source_ip == Some("AWS Internal"))
    {
        "console"
    } else if lower.contains("boto3/") || lower.contains("botocore/") {
        "boto3"
    } else if lower.contains("aws-sdk-go") {
        "aws-sdk-go"
    } else if lower.contains("aws-sdk-java") {
        "aws-sdk-java"
    } else if lower.contains("aws-sdk-js") {
        "aws-sdk-js"
    } else if lower.contains("aws-sdk-rust") {
        "aws-sdk-rust"
    } else if lower.contains(".amazonaws.com") || lower == "aws internal" {
        "aws-service"
    } else if ua.is_empty() {
        "unknown"
    } else {
        return clean(ua.split(['/', ' ']).next().unwrap_or(ua), 40);
    };
    family.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_eks_namespace_scopes() {
        assert!(wildcard_match("dev-*", "dev-payments"));
        assert!(!wildcard_match("dev-*", "prod"));
        assert!(wildcard_match("*", "kube-system"));
        assert!(wildcard_match("kube-*", "kube-system"));
        assert!(wildcard_match("*-system", "kube-system"));
        assert!(wildcard_match("k*s*m", "kube-system"));
        assert!(!wildcard_match("kube-system-*", "kube-system"));
        assert!(wildcard_match("kube-system", "kube-system"));
    }

    #[test]
    fn closed_enums_list_valid_values_on_error() {
        assert_eq!(
            "ec2_linux".parse::<AccessEntryType>().unwrap(),
            AccessEntryType::Ec2Linux
        );
        let err = "API_ONLY".parse::<AuthMode>().unwrap_err().to_string();
        assert!(err.contains("CONFIG_MAP, API_AND_CONFIG_MAP, API"), "{err}");
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
        assert_eq!(agent_family(None, None), "unknown");
        assert_eq!(agent_family(Some("eks.amazonaws.com"), None), "aws-service");
    }

    #[test]
    fn assumed_role_actor_keeps_role_path_from_session_issuer() {
        let raw: RawRecord = serde_json::from_str(
            r#"{"eventSource":"eks.amazonaws.com","eventName":"DeleteCluster",
                "userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/oncall/asmith",
                  "sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/teams/payments/oncall"}}}}"#,
        )
        .unwrap();
        let event = normalise(&raw).unwrap();
        assert_eq!(
            event.actor.arn.as_deref(),
            Some("arn:aws:iam::111122223333:role/teams/payments/oncall")
        );
        assert_eq!(event.actor.display, "role/teams/payments/oncall (asmith)");
        assert_eq!(event.actor.session_name.as_deref(), Some("asmith"));
    }

    #[test]
    fn null_and_missing_fields_are_not_failures() {
        let raw: RawRecord = serde_json::from_str(
            r#"{"eventSource":"eks.amazonaws.com","eventName":"AssociateAccessPolicy","userIdentity":null,
                "requestParameters":null,"responseElements":null,"userAgent":null}"#,
        )
        .unwrap();
        let event = normalise(&raw).unwrap();
        assert_eq!(event.change.principal_arn(), None);
        assert!(matches!(
            event.change,
            Change::AssociateAccessPolicy {
                access_scope: AccessScope::Cluster,
                ..
            }
        ));
        assert_eq!(event.actor.display, "unknown caller");
    }

    #[test]
    fn encoded_path_parameters_are_decoded_once_here() {
        let raw: RawRecord = serde_json::from_str(
            r#"{"eventSource":"eks.amazonaws.com","eventName":"DisassociateAccessPolicy",
                "requestParameters":{"name":"prod","principalArn":"arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fci",
                "policyArn":"arn%3Aaws%3Aeks%3A%3Aaws%3Acluster-access-policy%2FAmazonEKSViewPolicy"}}"#,
        )
        .unwrap();
        let event = normalise(&raw).unwrap();
        assert_eq!(
            event.change.principal_arn(),
            Some("arn:aws:iam::111122223333:role/ci")
        );
        assert_eq!(
            event.change.policy_arn(),
            Some("arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy")
        );
        assert_eq!(event.cluster.as_deref(), Some("prod"));
    }

    #[test]
    fn unwatched_records_say_why() {
        let raw: RawRecord = serde_json::from_str(
            r#"{"eventSource":"eks.amazonaws.com","eventName":"DescribeCluster"}"#,
        )
        .unwrap();
        assert_eq!(
            normalise(&raw).unwrap_err(),
            Skip::NotWatched("DescribeCluster".into())
        );
        let raw: RawRecord =
            serde_json::from_str(r#"{"eventSource":"s3.amazonaws.com","eventName":"GetObject"}"#)
                .unwrap();
        assert!(matches!(
            normalise(&raw).unwrap_err(),
            Skip::OtherService(_)
        ));
        let raw = RawRecord::default();
        assert_eq!(normalise(&raw).unwrap_err(), Skip::NoEventSource);
    }

    #[test]
    fn kubernetes_groups_as_a_string_is_one_group() {
        let raw: RawRecord = serde_json::from_str(
            r#"{"eventSource":"eks.amazonaws.com","eventName":"CreateAccessEntry",
                "requestParameters":{"kubernetesGroups":"system:masters"}}"#,
        )
        .unwrap();
        let Change::CreateAccessEntry(spec) = normalise(&raw).unwrap().change else {
            panic!()
        };
        assert_eq!(spec.kubernetes_groups, vec!["system:masters"]);
    }
}
