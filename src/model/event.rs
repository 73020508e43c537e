//! The normalised event the rules see: decoded ARNs, a resolved actor, and a typed [`Change`]
//! whose closed and open sets (entry type, authentication mode, identity type, scope type) were
//! parsed once, at the boundary. No rule compares such strings or digs in JSON.

use std::borrow::Cow;

use serde::Serialize;

use super::kubernetes::{AwsAuthChange, BindingChange, RoleChange};
use crate::closed::{closed_enum, open_enum};
use crate::operation::Operation;
use crate::policy::{PolicyClass, classify_policy};
use crate::sanitize::clean;

open_enum! {
    /// Access entry types (`CreateAccessEntry.type`, `DescribeAccessEntry.type`).
    pub enum EntryType {
        Standard = "STANDARD",
        Ec2 = "EC2",
        Ec2Linux = "EC2_LINUX",
        Ec2Windows = "EC2_WINDOWS",
        FargateLinux = "FARGATE_LINUX",
        HybridLinux = "HYBRID_LINUX",
        HyperpodLinux = "HYPERPOD_LINUX",
    }
}

impl EntryType {
    /// Node and service identities: EKS maps them to `system:nodes`-style groups. A type this
    /// build does not know counts as one: it is not the plain STANDARD entry.
    pub fn is_node_identity(&self) -> bool {
        match self {
            EntryType::Standard => false,
            EntryType::Ec2
            | EntryType::Ec2Linux
            | EntryType::Ec2Windows
            | EntryType::FargateLinux
            | EntryType::HybridLinux
            | EntryType::HyperpodLinux
            | EntryType::Unknown(_) => true,
        }
    }
}

open_enum! {
    /// Cluster authentication mode. One-way: CONFIG_MAP -> API_AND_CONFIG_MAP -> API.
    pub enum AuthMode {
        ConfigMap = "CONFIG_MAP",
        ApiAndConfigMap = "API_AND_CONFIG_MAP",
        Api = "API",
    }
}

open_enum! {
    /// `userIdentity.type` in CloudTrail.
    pub enum IdentityType {
        Root = "Root",
        IamUser = "IAMUser",
        AssumedRole = "AssumedRole",
        Role = "Role",
        FederatedUser = "FederatedUser",
        AwsAccount = "AWSAccount",
        AwsService = "AWSService",
        SamlUser = "SAMLUser",
        WebIdentityUser = "WebIdentityUser",
        IdentityCenterUser = "IdentityCenterUser",
        /// A Kubernetes identity without an IAM ARN (service account, OIDC or certificate
        /// user), from the EKS audit log.
        Kubernetes = "Kubernetes",
    }
}

open_enum! {
    /// `accessScope.type`.
    pub enum ScopeType {
        Cluster = "cluster",
        Namespace = "namespace",
    }
}

/// Where an access policy applies. Missing, unknown or empty scopes are cluster scope: never
/// assume the smaller grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessScope {
    #[serde(rename = "type")]
    pub scope_type: ScopeType,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
}

impl AccessScope {
    pub fn cluster() -> Self {
        AccessScope {
            scope_type: ScopeType::Cluster,
            namespaces: Vec::new(),
        }
    }

    /// A scope as given: a namespace scope without namespaces grants nothing smaller than the
    /// cluster and is treated as cluster scope; other types are kept as written.
    pub fn new(scope_type: ScopeType, namespaces: Vec<String>) -> Self {
        match scope_type {
            ScopeType::Namespace if namespaces.is_empty() => Self::cluster(),
            ScopeType::Namespace => AccessScope {
                scope_type,
                namespaces,
            },
            ScopeType::Cluster | ScopeType::Unknown(_) => AccessScope {
                scope_type,
                namespaces: Vec::new(),
            },
        }
    }

    /// Cluster scope, an unknown scope type, or a namespace scope holding `*`.
    pub fn is_cluster_wide(&self) -> bool {
        match &self.scope_type {
            ScopeType::Namespace => self.namespaces.iter().any(|n| n == "*"),
            ScopeType::Cluster | ScopeType::Unknown(_) => true,
        }
    }

    /// A namespace pattern with a wildcard (`dev-*`, `*`): it also covers namespaces created
    /// later.
    pub fn has_wildcard(&self) -> bool {
        self.namespaces.iter().any(|n| n.contains('*'))
    }

    /// True when the scope reaches namespace `ns` (cluster-wide, exact name or wildcard match).
    pub fn covers(&self, ns: &str) -> bool {
        match &self.scope_type {
            ScopeType::Namespace => self.namespaces.iter().any(|p| wildcard_match(p, ns)),
            ScopeType::Cluster | ScopeType::Unknown(_) => true,
        }
    }

    pub fn describe(&self) -> String {
        match &self.scope_type {
            ScopeType::Cluster => "cluster-wide".to_string(),
            ScopeType::Unknown(t) => format!("with scope type {t} (treated as cluster-wide)"),
            ScopeType::Namespace if self.is_cluster_wide() => format!(
                "in namespaces [{}] (all namespaces)",
                crate::sanitize::capped(&self.namespaces, crate::sanitize::LIST_CAP)
            ),
            ScopeType::Namespace => format!(
                "in namespaces [{}]",
                crate::sanitize::capped(&self.namespaces, crate::sanitize::LIST_CAP)
            ),
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub identity_type: IdentityType,
    /// The ARN rules compare: the role ARN (with path) for assumed roles, the user ARN for IAM
    /// users, the root ARN; `None` for AWS services and identities without one.
    pub arn: Option<String>,
    /// Session name of an assumed role, user name of SAML/web-identity callers.
    pub session_name: Option<String>,
    /// Readable: `role/platform-engineer (jdoe)`, `user/alice`, `root`, `service eks.amazonaws.com`.
    pub display: String,
    /// User agent family: terraform, aws-cli, console, cloudformation, eksctl, ...
    pub agent: String,
    /// The temporary credentials the call was made with (CloudTrail `userIdentity.accessKeyId`,
    /// the audit event's `user.extra.accessKeyId`): one STS session across both planes.
    pub access_key_id: Option<String>,
    /// The STS session's own ARN (`arn:aws:sts::<account>:assumed-role/<role>/<session>`), for
    /// matching a session where the key is absent.
    pub session_arn: Option<String>,
}

impl Actor {
    /// An actor known only by what it is and how it is shown (no ARN, no session).
    pub fn described(identity_type: IdentityType, display: &str, agent: &str) -> Actor {
        Actor {
            identity_type,
            arn: None,
            session_name: None,
            display: display.to_string(),
            agent: agent.to_string(),
            access_key_id: None,
            session_arn: None,
        }
    }

    /// The watcher itself, as the actor of its own scheduled checks.
    pub fn watcher() -> Actor {
        Actor::described(
            IdentityType::Unknown("eks-access-watch".into()),
            "eks-access-watch (scheduled check)",
            "eks-access-watch",
        )
    }

    /// `role/platform-engineer (jdoe), user agent says terraform`: the tool family comes from
    /// the user agent, which the caller chooses, so it is never presented as proof.
    pub fn describe(&self) -> String {
        format!("{}, user agent says {}", self.display, self.agent)
    }

    pub fn is_root(&self) -> bool {
        self.identity_type == IdentityType::Root
    }

    /// AWS itself: `AWSService` identities and service-linked roles (EKS creates node entries
    /// for managed node groups).
    pub fn is_aws_service(&self) -> bool {
        self.identity_type == IdentityType::AwsService
            || self
                .arn
                .as_deref()
                .is_some_and(|a| a.contains(":role/aws-service-role/"))
    }
}

/// The tool family behind a user agent: what an on-call engineer needs to know ("was this our
/// Terraform pipeline or a person at a console?").
pub fn agent_family(user_agent: Option<&str>, source_ip: Option<&str>) -> String {
    let ua = user_agent.unwrap_or_default();
    let lower = ua.to_ascii_lowercase();
    let family = if lower.starts_with("aws-internal/") {
        // The console's backend calls AWS with its own Java SDK: `aws-internal/3 aws-sdk-java/...`.
        "console"
    } else if lower.contains("terraform") {
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

/// A failed call (`errorCode` present): what was attempted, not what was granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: String,
    pub message: Option<String>,
}

impl ApiError {
    /// AccessDenied*, Unauthorized*, *UnauthorizedOperation, and Kubernetes' Forbidden (HTTP
    /// 403): the caller lacked permission.
    pub fn is_denied(&self) -> bool {
        let c = self.code.to_ascii_lowercase();
        c.contains("accessdenied") || c.contains("unauthorized") || c.contains("forbidden")
    }
}

/// An access entry as requested (Create/UpdateAccessEntry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntrySpec {
    pub principal_arn: Option<String>,
    /// `None`: not given (STANDARD on create, unchanged on update).
    pub entry_type: Option<EntryType>,
    pub kubernetes_groups: Vec<String>,
    pub username: Option<String>,
}

/// Public endpoint settings requested in a cluster config change.
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterSettings {
    pub authentication_mode: Option<AuthMode>,
    pub bootstrap_cluster_creator_admin: Option<bool>,
    pub logging_disabled: Vec<String>,
    pub logging_enabled: Vec<String>,
    pub public_endpoint: Option<PublicEndpoint>,
    pub deletion_protection: Option<bool>,
    /// Top-level request keys, for the summary of what an update touched.
    pub keys: Vec<String>,
}

impl ClusterSettings {
    /// Log types turned off that investigators depend on (`audit`, `authenticator`).
    pub fn investigation_logs_disabled(&self) -> Vec<&str> {
        self.logging_disabled
            .iter()
            .map(String::as_str)
            .filter(|t| t.eq_ignore_ascii_case("audit") || t.eq_ignore_ascii_case("authenticator"))
            .collect()
    }
}

closed_enum! {
    /// What a Pod Identity call does to an association.
    pub enum PodIdentityAction ("pod identity action") {
        Create = "create",
        Update = "update",
        Delete = "delete",
    }
}

/// One `podIdentityAssociations` entry of an add-on call: an IAM role for a service account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodIdentityGrant {
    pub service_account: Option<String>,
    pub role_arn: Option<String>,
}

/// A trail as the self-check found it, in the region it checked.
/// What an AssumeRole answered with: the key that every call of the session carries
/// (CloudTrail's `userIdentity.accessKeyId`, the audit log's `user.extra.accessKeyId`), and
/// how long the session lasts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCredentials {
    /// `responseElements.credentials.accessKeyId` (`ASIA...`).
    pub access_key_id: Option<String>,
    /// `responseElements.credentials.expiration`, as written.
    pub expiration: Option<String>,
    /// `responseElements.assumedRoleUser.arn`: the session's own ARN.
    pub session_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailState {
    pub name: String,
    /// `GetTrailStatus.IsLogging`.
    pub logging: bool,
    /// The trail records events of the checked region (home region, or multi-region).
    pub covers_region: bool,
    /// Its event selectors log management write events.
    pub logs_management_writes: bool,
}

/// A call that disables, removes or redirects a part of this deployment (`watcher-tampered`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tampering {
    pub part: crate::operation::WatcherPart,
    /// The resource as the record names it best (a name, an ARN, a URL); `None` when it names
    /// none (only a record the parse could not read).
    pub name: Option<String>,
    /// What the call does to it, in words: `disabled`, `deleted`, `environment changed`.
    pub what: String,
    /// Made by CloudFormation on a caller's behalf (`userIdentity.invokedBy` or
    /// `sourceIPAddress` `cloudformation.amazonaws.com`, which AWS writes and no client can
    /// set): a stack update or deletion, itself alerted by its own UpdateStack or DeleteStack
    /// call, graded lower.
    pub by_cloudformation: bool,
    /// The parameter version a PutParameter wrote (its answer's `version`).
    pub version: Option<i64>,
}

/// What the call changes (or tried to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    CreateAccessEntry(EntrySpec),
    UpdateAccessEntry(EntrySpec),
    DeleteAccessEntry {
        principal_arn: Option<String>,
    },
    AssociateAccessPolicy {
        principal_arn: Option<String>,
        policy_arn: Option<String>,
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
    DisassociateIdentityProviderConfig {
        config_name: Option<String>,
    },
    PodIdentityAssociation {
        action: PodIdentityAction,
        namespace: Option<String>,
        service_account: Option<String>,
        role_arn: Option<String>,
    },
    /// Create/UpdateAddon handing IAM roles to the add-on's service accounts.
    Addon {
        update: bool,
        addon_name: Option<String>,
        /// `namespaceConfig.namespace`; `None`: the add-on's default (kube-system for most).
        namespace: Option<String>,
        grants: Vec<PodIdentityGrant>,
        /// `serviceAccountRoleArn` (decoded): the IAM role for the add-on's service account
        /// through IRSA (the cluster's OIDC provider).
        service_account_role: Option<String>,
    },
    /// CreateNodegroup or CreateFargateProfile: EKS gives the role node access (an
    /// EC2_LINUX or FARGATE_LINUX access entry, the `system:nodes` group).
    NodeRole {
        /// `nodegroup` or `Fargate profile`.
        kind: &'static str,
        /// `nodegroupName` / `fargateProfileName`.
        name: Option<String>,
        /// `nodeRole` / `podExecutionRoleArn` (decoded).
        role_arn: Option<String>,
    },
    /// Tag/UntagResource on a cluster or an access entry.
    Tags {
        /// The decoded resource ARN.
        resource_arn: Option<String>,
        removed: bool,
        keys: Vec<String>,
    },
    AssumeRole {
        role_arn: Option<String>,
        session_name: Option<String>,
        /// `sourceIdentity`, when the caller set one (it follows the session).
        source_identity: Option<String>,
        /// The credentials STS issued (absent for a failed call).
        issued: Option<IssuedCredentials>,
    },
    /// StopLogging, DeleteTrail.
    TrailStopped {
        deleted: bool,
        trail: Option<String>,
    },
    /// UpdateTrail, PutEventSelectors.
    TrailModified {
        trail: Option<String>,
        /// From the selectors in the request; `None` when the call sets none.
        logs_management_writes: Option<bool>,
        /// Top-level request keys, for the summary.
        keys: Vec<String>,
    },
    /// A part of this deployment disabled, removed or redirected.
    WatcherTampered(Box<Tampering>),
    /// The tuning file read at a cold start is invalid (or could not be read): the function
    /// runs on its environment's settings alone.
    TuningInvalid {
        /// Where it was read from (`SSM parameter /eks-access-watch/tuning`).
        source: String,
        /// Every problem, each naming its line.
        problems: Vec<String>,
    },
    /// The scheduled check: every trail it could read in the region, and what it could not.
    TrailStatus {
        trails: Vec<TrailState>,
        errors: Vec<String>,
    },
    /// The scheduled check of the organisation trail's bucket: whether it sends its object
    /// notifications to the function's queue (GetBucketNotificationConfiguration).
    TrailNotifications {
        bucket: String,
        queue_arn: Option<String>,
        /// A QueueConfiguration targets the queue with `s3:ObjectCreated:*` (or a subset).
        to_queue: bool,
        /// EventBridge notifications are on for the bucket.
        eventbridge: bool,
        /// The configuration could not be read (then neither is assumed).
        error: Option<String>,
    },
    /// A watched record the full parse could not read: what a byte search found, and why.
    Unparsed {
        principal_arn: Option<String>,
        error: String,
    },
    /// The aws-auth ConfigMap created, changed or deleted (EKS audit log).
    AwsAuth(Box<AwsAuthChange>),
    /// A ClusterRoleBinding or RoleBinding created, changed or deleted (EKS audit log).
    RoleBinding(Box<BindingChange>),
    /// A ClusterRole, or a Role of kube-system, created, replaced or patched (EKS audit log):
    /// what it and bindings to it grant.
    Role(Box<RoleChange>),
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
            | Change::NodeRole { role_arn, .. }
            | Change::AssumeRole { role_arn, .. } => role_arn.as_deref(),
            Change::Unparsed { principal_arn, .. } => principal_arn.as_deref(),
            Change::AwsAuth(a) => a.principal_arn(),
            Change::UpdateClusterConfig(_)
            | Change::CreateCluster(_)
            | Change::DeleteCluster
            | Change::AssociateIdentityProviderConfig { .. }
            | Change::DisassociateIdentityProviderConfig { .. }
            | Change::Addon { .. }
            | Change::Tags { .. }
            | Change::TrailStopped { .. }
            | Change::TrailModified { .. }
            | Change::WatcherTampered(_)
            | Change::TuningInvalid { .. }
            | Change::TrailStatus { .. }
            | Change::TrailNotifications { .. }
            | Change::RoleBinding(_)
            | Change::Role(_) => None,
        }
    }

    pub fn policy_arn(&self) -> Option<&str> {
        match self {
            Change::AssociateAccessPolicy { policy_arn, .. }
            | Change::DisassociateAccessPolicy { policy_arn, .. } => policy_arn.as_deref(),
            _ => None,
        }
    }

    pub fn access_scope(&self) -> Option<&AccessScope> {
        match self {
            Change::AssociateAccessPolicy { access_scope, .. } => Some(access_scope),
            _ => None,
        }
    }

    /// The entry as requested, for Create/UpdateAccessEntry.
    pub fn entry(&self) -> Option<&EntrySpec> {
        match self {
            Change::CreateAccessEntry(e) | Change::UpdateAccessEntry(e) => Some(e),
            _ => None,
        }
    }

    /// Access-entry and policy-association calls: the ones that grant or remove cluster access.
    pub fn is_access_change(&self) -> bool {
        match self {
            Change::CreateAccessEntry(_)
            | Change::UpdateAccessEntry(_)
            | Change::DeleteAccessEntry { .. }
            | Change::AssociateAccessPolicy { .. }
            | Change::DisassociateAccessPolicy { .. } => true,
            Change::UpdateClusterConfig(_)
            | Change::CreateCluster(_)
            | Change::DeleteCluster
            | Change::AssociateIdentityProviderConfig { .. }
            | Change::DisassociateIdentityProviderConfig { .. }
            | Change::PodIdentityAssociation { .. }
            | Change::Addon { .. }
            | Change::NodeRole { .. }
            | Change::Tags { .. }
            | Change::AssumeRole { .. }
            | Change::TrailStopped { .. }
            | Change::TrailModified { .. }
            | Change::WatcherTampered(_)
            | Change::TuningInvalid { .. }
            | Change::TrailStatus { .. }
            | Change::TrailNotifications { .. }
            | Change::Unparsed { .. }
            | Change::AwsAuth(_)
            | Change::RoleBinding(_)
            | Change::Role(_) => false,
        }
    }

    /// A change that aims at admin inside the cluster: a `system:masters` mapping in aws-auth,
    /// a binding to cluster-admin (or to a role that grants as much), or a ClusterRole made to
    /// grant `*` verbs on `*` resources (a denied attempt at one is graded higher).
    pub fn aims_at_admin(&self) -> bool {
        match self {
            Change::AwsAuth(a) => a.maps_system_masters(),
            Change::RoleBinding(b) => b.binds_cluster_admin(),
            Change::Role(r) => r.grants_everything().is_some(),
            _ => false,
        }
    }

    /// Calls that give the target access (create/update entry, associate policy, an aws-auth
    /// change that maps one new principal).
    pub fn grants(&self) -> bool {
        match self {
            Change::AwsAuth(a) => a.grants(),
            _ => matches!(
                self,
                Change::CreateAccessEntry(_)
                    | Change::UpdateAccessEntry(_)
                    | Change::AssociateAccessPolicy { .. }
            ),
        }
    }

    /// Changes after which nobody may hold admin any more: a switch to API mode (aws-auth
    /// stops counting), an entry deletion, an Admin/ClusterAdmin disassociation. Enrichment
    /// takes the admin census for exactly these and `lockout-risk` reads it for exactly these.
    pub fn may_leave_no_admin(&self) -> bool {
        match self {
            Change::UpdateClusterConfig(s) => s.authentication_mode == Some(AuthMode::Api),
            Change::DeleteAccessEntry { .. } => true,
            Change::DisassociateAccessPolicy { policy_arn, .. } => {
                policy_arn.as_deref().is_some_and(|p| {
                    matches!(
                        classify_policy(p).class,
                        PolicyClass::ClusterAdmin | PolicyClass::Admin
                    )
                })
            }
            _ => false,
        }
    }
}

/// A watched call, normalised. Everything here is decoded and sanitised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessEvent {
    pub operation: Operation,
    /// CloudTrail `eventID`; `None` when the record has none.
    pub event_id: Option<String>,
    pub event_time: Option<String>,
    /// The account the change happened in: `recipientAccountId`, else the resource's account;
    /// never the caller's. Empty when nothing says.
    pub account: String,
    pub region: String,
    pub cluster: Option<String>,
    pub actor: Actor,
    pub user_agent: Option<String>,
    pub source_ip: Option<String>,
    pub error: Option<ApiError>,
    pub change: Change,
}

impl AccessEvent {
    /// The CloudTrail `eventName`; for the Kubernetes audit log the verb and the object
    /// (`patch configmaps/aws-auth`, `create clusterrolebindings/ops-admin`).
    pub fn event_name(&self) -> Cow<'static, str> {
        let name = match &self.change {
            Change::RoleBinding(b) => b.name.as_deref(),
            Change::Role(r) => r.name.as_deref(),
            _ => None,
        };
        match name {
            Some(name) => Cow::Owned(format!("{}/{name}", self.operation.as_str())),
            None => Cow::Borrowed(self.operation.as_str()),
        }
    }

    pub fn failed(&self) -> bool {
        self.error.is_some()
    }
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
    fn unknown_values_are_kept_and_graded_as_the_larger_case() {
        assert_eq!(EntryType::parse("ec2_linux"), EntryType::Ec2Linux);
        let future = EntryType::parse("QUANTUM_LINUX");
        assert_eq!(future.as_str(), "QUANTUM_LINUX");
        assert!(future.is_node_identity());
        let scope = AccessScope::new(ScopeType::parse("account"), vec!["x".into()]);
        assert!(scope.is_cluster_wide() && scope.covers("kube-system"));
        assert_eq!(
            AccessScope::new(ScopeType::Namespace, vec![]),
            AccessScope::cluster()
        );
    }

    #[test]
    fn scopes_serialise_as_eks_writes_them() {
        let ns = AccessScope::new(ScopeType::Namespace, vec!["a".into()]);
        assert_eq!(
            serde_json::to_string(&ns).unwrap(),
            r#"{"type":"namespace","namespaces":["a"]}"#
        );
        assert_eq!(
            serde_json::to_string(&AccessScope::cluster()).unwrap(),
            r#"{"type":"cluster"}"#
        );
    }
}
