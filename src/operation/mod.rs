//! The closed set of watched operations, and the one decision "watched, or skipped and why"
//! per plane, which the fast byte-level path and the full parse both take: [`watch`] for a
//! CloudTrail record (it yields a [`CloudTrailCall`], the CloudTrail subset of [`Operation`],
//! which is all the CloudTrail normaliser handles) and [`watch_kubernetes`] for an audit event.
//!
//! Adding a watched call starts here: a variant of [`Operation`] (with its row in
//! [`Operation::facts`]) and, for a CloudTrail call, of [`CloudTrailCall`]. Every match over
//! operations is exhaustive, so the compiler then names each place that must decide what the
//! new call means (normalisation, enrichment, undo, rules); the SAM event patterns are checked
//! against [`Operation::ALL`] by the template tests.

use std::fmt;

use crate::closed::closed_enum;
use crate::config::RuleConfig;
use crate::sanitize::clean;

mod kubernetes;
pub mod watcher;

pub use kubernetes::{KubeCall, KubeObject, KubeRequest, Verb, watch_kubernetes};
pub use watcher::WatcherPart;

closed_enum! {
    /// Where a watched operation comes from: a CloudTrail event source, the cluster's own
    /// Kubernetes audit log (`audit.k8s.io` events, which CloudTrail never sees), or the watcher
    /// itself (its scheduled checks).
    pub enum Source ("event source") {
        Eks = "eks.amazonaws.com",
        Sts = "sts.amazonaws.com",
        CloudTrail = "cloudtrail.amazonaws.com",
        // The deployment's own parts (`watcher-tampered`).
        Events = "events.amazonaws.com",
        Lambda = "lambda.amazonaws.com",
        Logs = "logs.amazonaws.com",
        Sns = "sns.amazonaws.com",
        Kms = "kms.amazonaws.com",
        Ssm = "ssm.amazonaws.com",
        Sqs = "sqs.amazonaws.com",
        CloudFormation = "cloudformation.amazonaws.com",
        Kubernetes = "audit.k8s.io",
        Watcher = "eks-access-watch",
    }
}

impl Source {
    /// The `source` EventBridge gives this service's CloudTrail events; `None` for the
    /// Kubernetes audit log, which reaches us through CloudWatch Logs instead, and for the
    /// watcher's own checks, which no CloudTrail record can name.
    pub fn eventbridge_source(self) -> Option<&'static str> {
        match self {
            Source::Eks => Some("aws.eks"),
            Source::Sts => Some("aws.sts"),
            Source::CloudTrail => Some("aws.cloudtrail"),
            Source::Events => Some("aws.events"),
            Source::Lambda => Some("aws.lambda"),
            Source::Logs => Some("aws.logs"),
            Source::Sns => Some("aws.sns"),
            Source::Kms => Some("aws.kms"),
            Source::Ssm => Some("aws.ssm"),
            Source::Sqs => Some("aws.sqs"),
            Source::CloudFormation => Some("aws.cloudformation"),
            Source::Kubernetes | Source::Watcher => None,
        }
    }

    /// Recorded by CloudTrail (an `eventSource`), as opposed to the Kubernetes audit log.
    pub fn is_cloudtrail(self) -> bool {
        self.eventbridge_source().is_some()
    }

    /// The operations recorded under this source, in catalogue order.
    pub fn operations(self) -> impl Iterator<Item = Operation> {
        Operation::ALL
            .iter()
            .copied()
            .filter(move |o| o.source() == self)
    }
}

closed_enum! {
    /// Every call that changes who can reach a cluster, or how; the text is the CloudTrail
    /// `eventName`.
    pub enum Operation ("watched operation") {
        CreateAccessEntry = "CreateAccessEntry",
        UpdateAccessEntry = "UpdateAccessEntry",
        DeleteAccessEntry = "DeleteAccessEntry",
        AssociateAccessPolicy = "AssociateAccessPolicy",
        DisassociateAccessPolicy = "DisassociateAccessPolicy",
        UpdateClusterConfig = "UpdateClusterConfig",
        CreateCluster = "CreateCluster",
        DeleteCluster = "DeleteCluster",
        AssociateIdentityProviderConfig = "AssociateIdentityProviderConfig",
        DisassociateIdentityProviderConfig = "DisassociateIdentityProviderConfig",
        CreatePodIdentityAssociation = "CreatePodIdentityAssociation",
        UpdatePodIdentityAssociation = "UpdatePodIdentityAssociation",
        DeletePodIdentityAssociation = "DeletePodIdentityAssociation",
        CreateAddon = "CreateAddon",
        UpdateAddon = "UpdateAddon",
        /// EKS creates an access entry (type EC2_LINUX, `system:nodes`) for the node group's
        /// `nodeRole`.
        CreateNodegroup = "CreateNodegroup",
        /// EKS creates an access entry (type FARGATE_LINUX) for the profile's
        /// `podExecutionRoleArn`.
        CreateFargateProfile = "CreateFargateProfile",
        TagResource = "TagResource",
        UntagResource = "UntagResource",
        AssumeRole = "AssumeRole",
        AssumeRoleWithSaml = "AssumeRoleWithSAML",
        AssumeRoleWithWebIdentity = "AssumeRoleWithWebIdentity",
        StopLogging = "StopLogging",
        DeleteTrail = "DeleteTrail",
        UpdateTrail = "UpdateTrail",
        PutEventSelectors = "PutEventSelectors",
        // Calls that disable, remove or redirect a part of this deployment (`watcher-tampered`):
        // EventBridge, Lambda (CloudTrail writes some under versioned names such as
        // `UpdateFunctionConfiguration20150331v2`: [`Operation::from_cloudtrail`]), CloudWatch
        // Logs, SNS, KMS, SSM, SQS, CloudFormation.
        DisableRule = "DisableRule",
        DeleteRule = "DeleteRule",
        RemoveTargets = "RemoveTargets",
        PutRule = "PutRule",
        PutTargets = "PutTargets",
        UpdateFunctionConfiguration = "UpdateFunctionConfiguration",
        UpdateFunctionCode = "UpdateFunctionCode",
        DeleteFunction = "DeleteFunction",
        PutFunctionConcurrency = "PutFunctionConcurrency",
        DeleteFunctionConcurrency = "DeleteFunctionConcurrency",
        UpdateEventSourceMapping = "UpdateEventSourceMapping",
        DeleteEventSourceMapping = "DeleteEventSourceMapping",
        RemovePermission = "RemovePermission",
        DeleteSubscriptionFilter = "DeleteSubscriptionFilter",
        PutSubscriptionFilter = "PutSubscriptionFilter",
        Unsubscribe = "Unsubscribe",
        SetSubscriptionAttributes = "SetSubscriptionAttributes",
        SetTopicAttributes = "SetTopicAttributes",
        DeleteTopic = "DeleteTopic",
        DisableKey = "DisableKey",
        ScheduleKeyDeletion = "ScheduleKeyDeletion",
        PutKeyPolicy = "PutKeyPolicy",
        PutParameter = "PutParameter",
        DeleteParameter = "DeleteParameter",
        SetQueueAttributes = "SetQueueAttributes",
        PurgeQueue = "PurgeQueue",
        DeleteQueue = "DeleteQueue",
        DeleteStack = "DeleteStack",
        UpdateStack = "UpdateStack",
        DeleteStackInstances = "DeleteStackInstances",
        /// The scheduled check that a trail still logs management write events.
        TrailSelfCheck = "TrailSelfCheck",
        /// The tuning file read at a cold start (and found invalid: `tuning-invalid`).
        TuningCheck = "TuningCheck",
        // The Kubernetes plane (EKS audit log): the text is the start of the alert's
        // `event_name`, the verb and the object (`patch configmaps/aws-auth`); a binding's
        // or a ClusterRole's name follows (`create clusterrolebindings/ops-admin`).
        AwsAuthCreate = "create configmaps/aws-auth",
        AwsAuthUpdate = "update configmaps/aws-auth",
        AwsAuthPatch = "patch configmaps/aws-auth",
        AwsAuthDelete = "delete configmaps/aws-auth",
        /// Every ConfigMap of kube-system deleted at once: aws-auth goes with them.
        KubeSystemConfigMapsDeleteCollection = "deletecollection configmaps",
        ClusterRoleBindingCreate = "create clusterrolebindings",
        ClusterRoleBindingUpdate = "update clusterrolebindings",
        ClusterRoleBindingPatch = "patch clusterrolebindings",
        ClusterRoleBindingDelete = "delete clusterrolebindings",
        ClusterRoleBindingDeleteCollection = "deletecollection clusterrolebindings",
        RoleBindingCreate = "create rolebindings",
        RoleBindingUpdate = "update rolebindings",
        RoleBindingPatch = "patch rolebindings",
        RoleBindingDelete = "delete rolebindings",
        RoleBindingDeleteCollection = "deletecollection rolebindings",
        /// A ClusterRole written: watched to learn which roles grant `*` verbs on `*`
        /// resources, so that a binding to one is graded like a binding to `cluster-admin`.
        ClusterRoleCreate = "create clusterroles",
        ClusterRoleUpdate = "update clusterroles",
        ClusterRolePatch = "patch clusterroles",
        /// A Role of kube-system written: watched to learn which grant an escalation primitive
        /// there (the namespace whose service accounts run the cluster's own controllers), so
        /// that the role is alerted and a binding to it graded high. Roles of other namespaces
        /// are not watched.
        KubeSystemRoleCreate = "create roles",
        KubeSystemRoleUpdate = "update roles",
        KubeSystemRolePatch = "patch roles",
    }
}

closed_enum! {
    /// The watched calls that CloudTrail records (sources `eks`, `sts`, `cloudtrail`): what
    /// [`watch`] returns and the CloudTrail normaliser reads, so it never handles the Kubernetes
    /// plane's operations nor the watcher's own check. Each is one [`Operation`]
    /// ([`CloudTrailCall::operation`], [`Operation::cloudtrail_call`]; both matches are
    /// exhaustive, so a new CloudTrail operation is added to both sets).
    pub enum CloudTrailCall ("CloudTrail call") {
        CreateAccessEntry = "CreateAccessEntry",
        UpdateAccessEntry = "UpdateAccessEntry",
        DeleteAccessEntry = "DeleteAccessEntry",
        AssociateAccessPolicy = "AssociateAccessPolicy",
        DisassociateAccessPolicy = "DisassociateAccessPolicy",
        UpdateClusterConfig = "UpdateClusterConfig",
        CreateCluster = "CreateCluster",
        DeleteCluster = "DeleteCluster",
        AssociateIdentityProviderConfig = "AssociateIdentityProviderConfig",
        DisassociateIdentityProviderConfig = "DisassociateIdentityProviderConfig",
        CreatePodIdentityAssociation = "CreatePodIdentityAssociation",
        UpdatePodIdentityAssociation = "UpdatePodIdentityAssociation",
        DeletePodIdentityAssociation = "DeletePodIdentityAssociation",
        CreateAddon = "CreateAddon",
        UpdateAddon = "UpdateAddon",
        /// EKS creates an access entry (type EC2_LINUX, `system:nodes`) for the node group's
        /// `nodeRole`.
        CreateNodegroup = "CreateNodegroup",
        /// EKS creates an access entry (type FARGATE_LINUX) for the profile's
        /// `podExecutionRoleArn`.
        CreateFargateProfile = "CreateFargateProfile",
        TagResource = "TagResource",
        UntagResource = "UntagResource",
        AssumeRole = "AssumeRole",
        AssumeRoleWithSaml = "AssumeRoleWithSAML",
        AssumeRoleWithWebIdentity = "AssumeRoleWithWebIdentity",
        StopLogging = "StopLogging",
        DeleteTrail = "DeleteTrail",
        UpdateTrail = "UpdateTrail",
        PutEventSelectors = "PutEventSelectors",
        DisableRule = "DisableRule",
        DeleteRule = "DeleteRule",
        RemoveTargets = "RemoveTargets",
        PutRule = "PutRule",
        PutTargets = "PutTargets",
        UpdateFunctionConfiguration = "UpdateFunctionConfiguration",
        UpdateFunctionCode = "UpdateFunctionCode",
        DeleteFunction = "DeleteFunction",
        PutFunctionConcurrency = "PutFunctionConcurrency",
        DeleteFunctionConcurrency = "DeleteFunctionConcurrency",
        UpdateEventSourceMapping = "UpdateEventSourceMapping",
        DeleteEventSourceMapping = "DeleteEventSourceMapping",
        RemovePermission = "RemovePermission",
        DeleteSubscriptionFilter = "DeleteSubscriptionFilter",
        PutSubscriptionFilter = "PutSubscriptionFilter",
        Unsubscribe = "Unsubscribe",
        SetSubscriptionAttributes = "SetSubscriptionAttributes",
        SetTopicAttributes = "SetTopicAttributes",
        DeleteTopic = "DeleteTopic",
        DisableKey = "DisableKey",
        ScheduleKeyDeletion = "ScheduleKeyDeletion",
        PutKeyPolicy = "PutKeyPolicy",
        PutParameter = "PutParameter",
        DeleteParameter = "DeleteParameter",
        SetQueueAttributes = "SetQueueAttributes",
        PurgeQueue = "PurgeQueue",
        DeleteQueue = "DeleteQueue",
        DeleteStack = "DeleteStack",
        UpdateStack = "UpdateStack",
        DeleteStackInstances = "DeleteStackInstances",
    }
}

impl CloudTrailCall {
    /// The operation this call is.
    pub fn operation(self) -> Operation {
        match self {
            CloudTrailCall::CreateAccessEntry => Operation::CreateAccessEntry,
            CloudTrailCall::UpdateAccessEntry => Operation::UpdateAccessEntry,
            CloudTrailCall::DeleteAccessEntry => Operation::DeleteAccessEntry,
            CloudTrailCall::AssociateAccessPolicy => Operation::AssociateAccessPolicy,
            CloudTrailCall::DisassociateAccessPolicy => Operation::DisassociateAccessPolicy,
            CloudTrailCall::UpdateClusterConfig => Operation::UpdateClusterConfig,
            CloudTrailCall::CreateCluster => Operation::CreateCluster,
            CloudTrailCall::DeleteCluster => Operation::DeleteCluster,
            CloudTrailCall::AssociateIdentityProviderConfig => {
                Operation::AssociateIdentityProviderConfig
            }
            CloudTrailCall::DisassociateIdentityProviderConfig => {
                Operation::DisassociateIdentityProviderConfig
            }
            CloudTrailCall::CreatePodIdentityAssociation => Operation::CreatePodIdentityAssociation,
            CloudTrailCall::UpdatePodIdentityAssociation => Operation::UpdatePodIdentityAssociation,
            CloudTrailCall::DeletePodIdentityAssociation => Operation::DeletePodIdentityAssociation,
            CloudTrailCall::CreateAddon => Operation::CreateAddon,
            CloudTrailCall::UpdateAddon => Operation::UpdateAddon,
            CloudTrailCall::CreateNodegroup => Operation::CreateNodegroup,
            CloudTrailCall::CreateFargateProfile => Operation::CreateFargateProfile,
            CloudTrailCall::TagResource => Operation::TagResource,
            CloudTrailCall::UntagResource => Operation::UntagResource,
            CloudTrailCall::AssumeRole => Operation::AssumeRole,
            CloudTrailCall::AssumeRoleWithSaml => Operation::AssumeRoleWithSaml,
            CloudTrailCall::AssumeRoleWithWebIdentity => Operation::AssumeRoleWithWebIdentity,
            CloudTrailCall::StopLogging => Operation::StopLogging,
            CloudTrailCall::DeleteTrail => Operation::DeleteTrail,
            CloudTrailCall::UpdateTrail => Operation::UpdateTrail,
            CloudTrailCall::PutEventSelectors => Operation::PutEventSelectors,
            CloudTrailCall::DisableRule => Operation::DisableRule,
            CloudTrailCall::DeleteRule => Operation::DeleteRule,
            CloudTrailCall::RemoveTargets => Operation::RemoveTargets,
            CloudTrailCall::PutRule => Operation::PutRule,
            CloudTrailCall::PutTargets => Operation::PutTargets,
            CloudTrailCall::UpdateFunctionConfiguration => Operation::UpdateFunctionConfiguration,
            CloudTrailCall::UpdateFunctionCode => Operation::UpdateFunctionCode,
            CloudTrailCall::DeleteFunction => Operation::DeleteFunction,
            CloudTrailCall::PutFunctionConcurrency => Operation::PutFunctionConcurrency,
            CloudTrailCall::DeleteFunctionConcurrency => Operation::DeleteFunctionConcurrency,
            CloudTrailCall::UpdateEventSourceMapping => Operation::UpdateEventSourceMapping,
            CloudTrailCall::DeleteEventSourceMapping => Operation::DeleteEventSourceMapping,
            CloudTrailCall::RemovePermission => Operation::RemovePermission,
            CloudTrailCall::DeleteSubscriptionFilter => Operation::DeleteSubscriptionFilter,
            CloudTrailCall::PutSubscriptionFilter => Operation::PutSubscriptionFilter,
            CloudTrailCall::Unsubscribe => Operation::Unsubscribe,
            CloudTrailCall::SetSubscriptionAttributes => Operation::SetSubscriptionAttributes,
            CloudTrailCall::SetTopicAttributes => Operation::SetTopicAttributes,
            CloudTrailCall::DeleteTopic => Operation::DeleteTopic,
            CloudTrailCall::DisableKey => Operation::DisableKey,
            CloudTrailCall::ScheduleKeyDeletion => Operation::ScheduleKeyDeletion,
            CloudTrailCall::PutKeyPolicy => Operation::PutKeyPolicy,
            CloudTrailCall::PutParameter => Operation::PutParameter,
            CloudTrailCall::DeleteParameter => Operation::DeleteParameter,
            CloudTrailCall::SetQueueAttributes => Operation::SetQueueAttributes,
            CloudTrailCall::PurgeQueue => Operation::PurgeQueue,
            CloudTrailCall::DeleteQueue => Operation::DeleteQueue,
            CloudTrailCall::DeleteStack => Operation::DeleteStack,
            CloudTrailCall::UpdateStack => Operation::UpdateStack,
            CloudTrailCall::DeleteStackInstances => Operation::DeleteStackInstances,
        }
    }

    pub fn source(self) -> Source {
        self.operation().source()
    }
}

impl From<CloudTrailCall> for Operation {
    fn from(call: CloudTrailCall) -> Operation {
        call.operation()
    }
}

/// What an operation does to a cluster: enrichment reads the cluster fresh after a settings
/// change and from a short-lived cache otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touches {
    /// Access entries and their policies, Pod Identity, the aws-auth ConfigMap and RBAC
    /// bindings: the cluster's settings are unchanged.
    Access,
    /// The cluster's own settings (authentication mode, endpoint, logging, identity providers).
    Settings,
    /// The cluster goes away: nothing to describe.
    Deletion,
    /// No cluster: a role assumption.
    Nothing,
}

/// The one-command reversal of a successful call, when there is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undo {
    /// `aws eks disassociate-access-policy`
    DisassociateAccessPolicy,
    /// `aws eks delete-access-entry`
    DeleteAccessEntry,
}

/// What the watch decision needs from a record besides its source and name (the EventBridge
/// patterns filter on the same field, so both sides decide the same way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Source and name decide.
    Nothing,
    /// `requestParameters.roleArn` must be a break-glass role.
    BreakGlassRole,
    /// `requestParameters.podIdentityAssociations` or `serviceAccountRoleArn` must hand out
    /// a role (an add-on call without either grants nothing).
    PodIdentityAssociations,
    /// `requestParameters.resourceArn` must be a cluster or an access entry (tags on node
    /// groups, add-ons and the rest change no access).
    AccessResource,
    /// The resource the call acts on must be one of this deployment's
    /// ([`watcher::is_watchers`]): another team's rule or queue is none of our business.
    WatcherResource,
}

/// Every fact about an operation that something downstream decides on, in one row per
/// operation: adding a watched call is a variant, its row here, and its parsing in
/// [`crate::cloudtrail`] (the compiler asks for both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    pub source: Source,
    pub touches: Touches,
    /// `None`: removals and settings changes have no one-command undo (the previous state is
    /// not in the event).
    pub undo: Option<Undo>,
    pub needs: Needs,
}

impl Operation {
    pub fn facts(self) -> Facts {
        use Needs::{AccessResource, BreakGlassRole, PodIdentityAssociations};
        use Source::{CloudTrail, Eks, Kubernetes, Sts, Watcher};
        use Touches::{Access, Deletion, Nothing, Settings};
        let plain = Needs::Nothing;
        let (source, touches, undo, needs) = match self {
            Operation::CreateAccessEntry => (Eks, Access, Some(Undo::DeleteAccessEntry), plain),
            Operation::UpdateAccessEntry => (Eks, Access, None, plain),
            Operation::DeleteAccessEntry => (Eks, Access, None, plain),
            Operation::AssociateAccessPolicy => {
                (Eks, Access, Some(Undo::DisassociateAccessPolicy), plain)
            }
            Operation::DisassociateAccessPolicy => (Eks, Access, None, plain),
            Operation::UpdateClusterConfig => (Eks, Settings, None, plain),
            Operation::CreateCluster => (Eks, Settings, None, plain),
            Operation::DeleteCluster => (Eks, Deletion, None, plain),
            Operation::AssociateIdentityProviderConfig => (Eks, Settings, None, plain),
            Operation::DisassociateIdentityProviderConfig => (Eks, Settings, None, plain),
            Operation::CreatePodIdentityAssociation => (Eks, Access, None, plain),
            Operation::UpdatePodIdentityAssociation => (Eks, Access, None, plain),
            Operation::DeletePodIdentityAssociation => (Eks, Access, None, plain),
            Operation::CreateAddon => (Eks, Access, None, PodIdentityAssociations),
            Operation::UpdateAddon => (Eks, Access, None, PodIdentityAssociations),
            Operation::CreateNodegroup => (Eks, Access, None, plain),
            Operation::CreateFargateProfile => (Eks, Access, None, plain),
            Operation::TagResource => (Eks, Access, None, AccessResource),
            Operation::UntagResource => (Eks, Access, None, AccessResource),
            Operation::AssumeRole => (Sts, Nothing, None, BreakGlassRole),
            Operation::AssumeRoleWithSaml => (Sts, Nothing, None, BreakGlassRole),
            Operation::AssumeRoleWithWebIdentity => (Sts, Nothing, None, BreakGlassRole),
            Operation::StopLogging => (CloudTrail, Nothing, None, plain),
            Operation::DeleteTrail => (CloudTrail, Nothing, None, plain),
            Operation::UpdateTrail => (CloudTrail, Nothing, None, plain),
            Operation::PutEventSelectors => (CloudTrail, Nothing, None, plain),
            Operation::DisableRule
            | Operation::DeleteRule
            | Operation::RemoveTargets
            | Operation::PutRule
            | Operation::PutTargets => (Source::Events, Nothing, None, Needs::WatcherResource),
            Operation::UpdateFunctionConfiguration
            | Operation::UpdateFunctionCode
            | Operation::DeleteFunction
            | Operation::PutFunctionConcurrency
            | Operation::DeleteFunctionConcurrency
            | Operation::UpdateEventSourceMapping
            | Operation::DeleteEventSourceMapping
            | Operation::RemovePermission => {
                (Source::Lambda, Nothing, None, Needs::WatcherResource)
            }
            Operation::DeleteSubscriptionFilter | Operation::PutSubscriptionFilter => {
                (Source::Logs, Nothing, None, Needs::WatcherResource)
            }
            Operation::Unsubscribe
            | Operation::SetSubscriptionAttributes
            | Operation::SetTopicAttributes
            | Operation::DeleteTopic => (Source::Sns, Nothing, None, Needs::WatcherResource),
            Operation::DisableKey | Operation::ScheduleKeyDeletion | Operation::PutKeyPolicy => {
                (Source::Kms, Nothing, None, Needs::WatcherResource)
            }
            Operation::PutParameter | Operation::DeleteParameter => {
                (Source::Ssm, Nothing, None, Needs::WatcherResource)
            }
            Operation::SetQueueAttributes | Operation::PurgeQueue | Operation::DeleteQueue => {
                (Source::Sqs, Nothing, None, Needs::WatcherResource)
            }
            Operation::DeleteStack | Operation::UpdateStack | Operation::DeleteStackInstances => (
                Source::CloudFormation,
                Nothing,
                None,
                Needs::WatcherResource,
            ),
            Operation::TrailSelfCheck => (Watcher, Nothing, None, plain),
            Operation::TuningCheck => (Watcher, Nothing, None, plain),
            // Kubernetes objects: the previous content is rarely in the audit event, so no
            // one-command undo.
            Operation::AwsAuthCreate
            | Operation::AwsAuthUpdate
            | Operation::AwsAuthPatch
            | Operation::AwsAuthDelete
            | Operation::KubeSystemConfigMapsDeleteCollection
            | Operation::ClusterRoleBindingCreate
            | Operation::ClusterRoleBindingUpdate
            | Operation::ClusterRoleBindingPatch
            | Operation::ClusterRoleBindingDelete
            | Operation::ClusterRoleBindingDeleteCollection
            | Operation::RoleBindingCreate
            | Operation::RoleBindingUpdate
            | Operation::RoleBindingPatch
            | Operation::RoleBindingDelete
            | Operation::RoleBindingDeleteCollection
            | Operation::ClusterRoleCreate
            | Operation::ClusterRoleUpdate
            | Operation::ClusterRolePatch
            | Operation::KubeSystemRoleCreate
            | Operation::KubeSystemRoleUpdate
            | Operation::KubeSystemRolePatch => (Kubernetes, Access, None, plain),
        };
        Facts {
            source,
            touches,
            undo,
            needs,
        }
    }

    pub fn source(self) -> Source {
        self.facts().source
    }

    /// The CloudTrail call this operation is; `None` for the Kubernetes plane's operations and
    /// the watcher's own check, which no CloudTrail record carries.
    pub fn cloudtrail_call(self) -> Option<CloudTrailCall> {
        Some(match self {
            Operation::CreateAccessEntry => CloudTrailCall::CreateAccessEntry,
            Operation::UpdateAccessEntry => CloudTrailCall::UpdateAccessEntry,
            Operation::DeleteAccessEntry => CloudTrailCall::DeleteAccessEntry,
            Operation::AssociateAccessPolicy => CloudTrailCall::AssociateAccessPolicy,
            Operation::DisassociateAccessPolicy => CloudTrailCall::DisassociateAccessPolicy,
            Operation::UpdateClusterConfig => CloudTrailCall::UpdateClusterConfig,
            Operation::CreateCluster => CloudTrailCall::CreateCluster,
            Operation::DeleteCluster => CloudTrailCall::DeleteCluster,
            Operation::AssociateIdentityProviderConfig => {
                CloudTrailCall::AssociateIdentityProviderConfig
            }
            Operation::DisassociateIdentityProviderConfig => {
                CloudTrailCall::DisassociateIdentityProviderConfig
            }
            Operation::CreatePodIdentityAssociation => CloudTrailCall::CreatePodIdentityAssociation,
            Operation::UpdatePodIdentityAssociation => CloudTrailCall::UpdatePodIdentityAssociation,
            Operation::DeletePodIdentityAssociation => CloudTrailCall::DeletePodIdentityAssociation,
            Operation::CreateAddon => CloudTrailCall::CreateAddon,
            Operation::UpdateAddon => CloudTrailCall::UpdateAddon,
            Operation::CreateNodegroup => CloudTrailCall::CreateNodegroup,
            Operation::CreateFargateProfile => CloudTrailCall::CreateFargateProfile,
            Operation::TagResource => CloudTrailCall::TagResource,
            Operation::UntagResource => CloudTrailCall::UntagResource,
            Operation::AssumeRole => CloudTrailCall::AssumeRole,
            Operation::AssumeRoleWithSaml => CloudTrailCall::AssumeRoleWithSaml,
            Operation::AssumeRoleWithWebIdentity => CloudTrailCall::AssumeRoleWithWebIdentity,
            Operation::StopLogging => CloudTrailCall::StopLogging,
            Operation::DeleteTrail => CloudTrailCall::DeleteTrail,
            Operation::UpdateTrail => CloudTrailCall::UpdateTrail,
            Operation::PutEventSelectors => CloudTrailCall::PutEventSelectors,
            Operation::DisableRule => CloudTrailCall::DisableRule,
            Operation::DeleteRule => CloudTrailCall::DeleteRule,
            Operation::RemoveTargets => CloudTrailCall::RemoveTargets,
            Operation::PutRule => CloudTrailCall::PutRule,
            Operation::PutTargets => CloudTrailCall::PutTargets,
            Operation::UpdateFunctionConfiguration => CloudTrailCall::UpdateFunctionConfiguration,
            Operation::UpdateFunctionCode => CloudTrailCall::UpdateFunctionCode,
            Operation::DeleteFunction => CloudTrailCall::DeleteFunction,
            Operation::PutFunctionConcurrency => CloudTrailCall::PutFunctionConcurrency,
            Operation::DeleteFunctionConcurrency => CloudTrailCall::DeleteFunctionConcurrency,
            Operation::UpdateEventSourceMapping => CloudTrailCall::UpdateEventSourceMapping,
            Operation::DeleteEventSourceMapping => CloudTrailCall::DeleteEventSourceMapping,
            Operation::RemovePermission => CloudTrailCall::RemovePermission,
            Operation::DeleteSubscriptionFilter => CloudTrailCall::DeleteSubscriptionFilter,
            Operation::PutSubscriptionFilter => CloudTrailCall::PutSubscriptionFilter,
            Operation::Unsubscribe => CloudTrailCall::Unsubscribe,
            Operation::SetSubscriptionAttributes => CloudTrailCall::SetSubscriptionAttributes,
            Operation::SetTopicAttributes => CloudTrailCall::SetTopicAttributes,
            Operation::DeleteTopic => CloudTrailCall::DeleteTopic,
            Operation::DisableKey => CloudTrailCall::DisableKey,
            Operation::ScheduleKeyDeletion => CloudTrailCall::ScheduleKeyDeletion,
            Operation::PutKeyPolicy => CloudTrailCall::PutKeyPolicy,
            Operation::PutParameter => CloudTrailCall::PutParameter,
            Operation::DeleteParameter => CloudTrailCall::DeleteParameter,
            Operation::SetQueueAttributes => CloudTrailCall::SetQueueAttributes,
            Operation::PurgeQueue => CloudTrailCall::PurgeQueue,
            Operation::DeleteQueue => CloudTrailCall::DeleteQueue,
            Operation::DeleteStack => CloudTrailCall::DeleteStack,
            Operation::UpdateStack => CloudTrailCall::UpdateStack,
            Operation::DeleteStackInstances => CloudTrailCall::DeleteStackInstances,
            Operation::TrailSelfCheck
            | Operation::TuningCheck
            | Operation::AwsAuthCreate
            | Operation::AwsAuthUpdate
            | Operation::AwsAuthPatch
            | Operation::AwsAuthDelete
            | Operation::KubeSystemConfigMapsDeleteCollection
            | Operation::ClusterRoleBindingCreate
            | Operation::ClusterRoleBindingUpdate
            | Operation::ClusterRoleBindingPatch
            | Operation::ClusterRoleBindingDelete
            | Operation::ClusterRoleBindingDeleteCollection
            | Operation::RoleBindingCreate
            | Operation::RoleBindingUpdate
            | Operation::RoleBindingPatch
            | Operation::RoleBindingDelete
            | Operation::RoleBindingDeleteCollection
            | Operation::ClusterRoleCreate
            | Operation::ClusterRoleUpdate
            | Operation::ClusterRolePatch
            | Operation::KubeSystemRoleCreate
            | Operation::KubeSystemRoleUpdate
            | Operation::KubeSystemRolePatch => return None,
        })
    }

    /// The watched call a CloudTrail record names, or why the record is not watched (before
    /// any look at its parameters). Names compare exactly, as CloudTrail and EventBridge do;
    /// the watcher's own operations are never read from a record.
    pub fn from_cloudtrail(source: &str, name: &str) -> Result<CloudTrailCall, Skip> {
        if source.is_empty() {
            return Err(Skip::NoEventSource);
        }
        let Some(source) = Source::ALL
            .iter()
            .find(|s| s.is_cloudtrail() && s.as_str() == source)
        else {
            return Err(Skip::OtherService(clean(source, 256)));
        };
        CloudTrailCall::ALL
            .iter()
            .copied()
            .find(|c| {
                c.source() == *source
                    && match source {
                        // Lambda's CloudTrail names carry the API version they were made with.
                        Source::Lambda => watcher::is_versioned_name(name, c.as_str()),
                        _ => c.as_str() == name,
                    }
            })
            .ok_or_else(|| Skip::NotWatched(clean(name, 256)))
    }
}

/// The parts of a record beyond source and name that [`watch`] may need ([`Needs`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Detail<'a> {
    /// `requestParameters.roleArn`.
    pub role_arn: Option<&'a str>,
    /// `requestParameters.podIdentityAssociations` holds an association with a `roleArn`, or
    /// `requestParameters.serviceAccountRoleArn` is set: the call hands out an IAM role.
    pub pod_identity_roles: bool,
    /// `requestParameters.resourceArn`, as written (URL-encoded or not).
    pub resource_arn: Option<&'a str>,
    /// `requestParameters` (`null` when the record has none) and `responseElements`, for
    /// [`Needs::WatcherResource`]; `None` when the record could not be parsed (then the call
    /// counts as the watcher's: the riskier case).
    pub request: Option<&'a serde_json::Value>,
    pub response: Option<&'a serde_json::Value>,
}

/// Decide whether a CloudTrail record is watched under `config`, from its `eventSource`,
/// `eventName` and the [`Detail`] its operation needs.
///
/// The fast path calls this with values read by byte search, the full parse with parsed
/// values; a record without the detail its operation needs is not watched (a role
/// assumption naming no role, an add-on call handing out no role, a tag call on no cluster).
pub fn watch(
    source: &str,
    name: &str,
    detail: &Detail,
    config: &RuleConfig,
) -> Result<CloudTrailCall, Skip> {
    let call = Operation::from_cloudtrail(source, name)?;
    let operation = call.operation();
    match operation.facts().needs {
        Needs::Nothing => Ok(call),
        Needs::BreakGlassRole if config.is_break_glass(detail.role_arn) => Ok(call),
        Needs::BreakGlassRole => Err(Skip::NotBreakGlass),
        Needs::PodIdentityAssociations if detail.pod_identity_roles => Ok(call),
        Needs::PodIdentityAssociations => Err(Skip::NoPodIdentity(operation)),
        Needs::AccessResource if detail.resource_arn.is_some_and(is_access_resource) => Ok(call),
        Needs::AccessResource => Err(Skip::NotAccessResource(operation)),
        Needs::WatcherResource => match detail.request {
            None => Ok(call),
            Some(request) => {
                let response = detail.response.unwrap_or(&serde_json::Value::Null);
                if watcher::is_watchers(call, request, response, &config.watcher) {
                    Ok(call)
                } else {
                    Err(Skip::NotWatcherResource(operation))
                }
            }
        },
    }
}

/// An EKS cluster or access entry ARN (decoded or URL-encoded).
pub fn is_access_resource(resource_arn: &str) -> bool {
    let decoded = crate::arn::decode(resource_arn);
    crate::arn::Arn::parse(&decoded).is_some_and(|a| {
        a.service == "eks"
            && (a.resource.starts_with("cluster/") || a.resource.starts_with("access-entry/"))
    })
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
    /// An add-on call that hands out no IAM role (no `podIdentityAssociations`, no
    /// `serviceAccountRoleArn`).
    NoPodIdentity(Operation),
    /// A tag call on a resource other than a cluster or an access entry.
    NotAccessResource(Operation),
    /// A call on an EventBridge rule, function, topic, key, parameter, queue or stack that is
    /// not this deployment's.
    NotWatcherResource(Operation),
    /// An EventBridge event that does not carry a CloudTrail record.
    NotCloudTrail(String),
    /// A CloudTrail digest file (integrity validation, no events).
    DigestFile,
    /// An object under `CloudTrail-Insight/` (Insights events, not API calls).
    InsightFile,
    /// An object whose key is not a CloudTrail log file (why, and the key).
    NotLogFile(String),
    /// An S3 notification of another event than `ObjectCreated:*` (the event name).
    NotObjectCreated(String),
    /// The `s3:TestEvent` S3 sends when notifications are configured: acknowledged.
    S3TestEvent,
    /// A Kubernetes audit event of a request that changes neither aws-auth nor an RBAC
    /// binding (the reads, watches and other objects that are ~99% of the audit log).
    KubernetesNotWatched,
    /// An audit event of a watched request at another stage than `ResponseComplete` (the
    /// same request is logged again when it completes).
    AuditStage(String),
    /// A dry run (`dryRun=All`): the API server changed nothing (`kubectl diff`, GitOps tools).
    DryRun,
    /// A CloudWatch Logs control message (sent when a subscription is created), no log events.
    LogsControlMessage,
    /// A line that is not a Kubernetes audit event: another control-plane log (authenticator,
    /// scheduler, ...), named by its log stream or its first characters.
    NotAuditLog(String),
    /// A ClusterRole (or a Role of kube-system) written that grants neither `*` verbs on `*`
    /// resources nor an escalation primitive; watched only so that bindings to roles that do
    /// are graded as they deserve.
    RoleGrantsLess {
        /// `ClusterRole` or `Role`.
        kind: &'static str,
        /// The event does not carry the resulting role (a patch without a response body).
        unknown: bool,
    },
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::OtherService(s) => write!(f, "event source `{s}` is not watched"),
            Skip::NoEventSource => f.write_str("the record has no eventSource"),
            Skip::NotWatched(n) => write!(f, "`{n}` does not change cluster access"),
            Skip::NotBreakGlass => f.write_str("role assumed is not a break-glass role"),
            Skip::NoPodIdentity(o) => {
                write!(
                    f,
                    "`{o}` hands out no IAM role (no podIdentityAssociations or serviceAccountRoleArn)"
                )
            }
            Skip::NotAccessResource(o) => {
                write!(f, "`{o}` is not on a cluster or an access entry")
            }
            Skip::NotWatcherResource(o) => {
                write!(f, "`{o}` is not on a resource of this deployment")
            }
            Skip::NotCloudTrail(t) => write!(
                f,
                "EventBridge detail-type `{t}` is not a CloudTrail API call"
            ),
            Skip::DigestFile => f.write_str("CloudTrail digest file (no events)"),
            Skip::InsightFile => f.write_str("CloudTrail Insights file (not API calls)"),
            Skip::NotLogFile(why) => write!(f, "not a CloudTrail log file: {why}"),
            Skip::NotObjectCreated(e) => {
                write!(f, "S3 notification `{e}` is not ObjectCreated:*")
            }
            Skip::S3TestEvent => f.write_str("s3:TestEvent (notifications configured)"),
            Skip::KubernetesNotWatched => {
                f.write_str("Kubernetes request that changes neither aws-auth nor an RBAC binding")
            }
            Skip::AuditStage(s) => write!(
                f,
                "audit stage `{s}` (only ResponseComplete, the request's outcome, is graded)"
            ),
            Skip::DryRun => f.write_str("dry run (dryRun=All): the API server changed nothing"),
            Skip::LogsControlMessage => {
                f.write_str("CloudWatch Logs control message (subscription check, no log events)")
            }
            Skip::NotAuditLog(s) => write!(
                f,
                "`{s}` is not a Kubernetes audit event (another control-plane log)"
            ),
            Skip::RoleGrantsLess {
                kind: "ClusterRole",
                unknown: false,
            } => f.write_str(
                "the ClusterRole grants neither `*` verbs on `*` resources nor an escalation primitive",
            ),
            Skip::RoleGrantsLess {
                kind,
                unknown: false,
            } => write!(f, "the {kind} grants no escalation primitive"),
            Skip::RoleGrantsLess {
                kind,
                unknown: true,
            } => write!(
                f,
                "the audit event does not carry the {kind} as patched (no response body)"
            ),
        }
    }
}

impl Skip {
    /// A short, stable name for the reason: the dimension of the skipped-events metric.
    pub fn slug(&self) -> &'static str {
        match self {
            Skip::OtherService(_) => "other-service",
            Skip::NoEventSource => "no-event-source",
            Skip::NotWatched(_) => "not-watched",
            Skip::NotBreakGlass => "not-break-glass",
            Skip::NoPodIdentity(_) => "no-pod-identity",
            Skip::NotAccessResource(_) => "not-access-resource",
            Skip::NotWatcherResource(_) => "not-watcher-resource",
            Skip::NotCloudTrail(_) => "not-cloudtrail",
            Skip::DigestFile => "digest-file",
            Skip::InsightFile => "insight-file",
            Skip::NotLogFile(_) => "not-log-file",
            Skip::NotObjectCreated(_) => "not-object-created",
            Skip::S3TestEvent => "s3-test-event",
            Skip::KubernetesNotWatched => "kubernetes-not-watched",
            Skip::AuditStage(_) => "audit-stage",
            Skip::DryRun => "dry-run",
            Skip::LogsControlMessage => "logs-control-message",
            Skip::NotAuditLog(_) => "not-audit-log",
            Skip::RoleGrantsLess { .. } => "role-grants-less",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cloudtrail_operation_round_trips_through_its_name() {
        for op in Operation::ALL {
            let got = Operation::from_cloudtrail(op.source().as_str(), op.as_str());
            match op.source().eventbridge_source() {
                Some(_) => assert_eq!(got.map(CloudTrailCall::operation), Ok(*op)),
                None => assert!(got.is_err(), "{op} is never read from a record"),
            }
        }
    }

    #[test]
    fn every_cloudtrail_call_is_one_operation_of_a_cloudtrail_source_and_back() {
        for call in CloudTrailCall::ALL {
            let op = call.operation();
            assert_eq!(op.as_str(), call.as_str());
            assert!(op.source().is_cloudtrail(), "{call}");
            assert_eq!(op.cloudtrail_call(), Some(*call));
        }
        let recorded = Operation::ALL
            .iter()
            .filter(|o| o.source().is_cloudtrail())
            .count();
        assert_eq!(recorded, CloudTrailCall::ALL.len());
        for op in Operation::ALL {
            assert_eq!(
                op.cloudtrail_call().is_some(),
                op.source().is_cloudtrail(),
                "{op}"
            );
        }
    }

    #[test]
    fn unwatched_records_say_why() {
        assert_eq!(
            Operation::from_cloudtrail("eks.amazonaws.com", "DescribeCluster"),
            Err(Skip::NotWatched("DescribeCluster".into()))
        );
        assert_eq!(
            Operation::from_cloudtrail("s3.amazonaws.com", "GetObject"),
            Err(Skip::OtherService("s3.amazonaws.com".into()))
        );
        assert_eq!(
            Operation::from_cloudtrail("", "GetObject"),
            Err(Skip::NoEventSource)
        );
        // Names compare exactly, as the EventBridge pattern does.
        assert!(Operation::from_cloudtrail("eks.amazonaws.com", "createaccessentry").is_err());
        assert!(Operation::from_cloudtrail("sts.amazonaws.com", "CreateAccessEntry").is_err());
        // The watcher's own checks cannot be forged by a record.
        assert!(Operation::from_cloudtrail("eks-access-watch", "TrailSelfCheck").is_err());
    }

    #[test]
    fn role_assumptions_are_watched_only_for_break_glass_roles() {
        let config = RuleConfig::default();
        let role = |r| Detail {
            role_arn: r,
            ..Detail::default()
        };
        let bg = Some("arn:aws:iam::111122223333:role/eks-break-glass");
        let other = Some("arn:aws:iam::111122223333:role/ci");
        assert_eq!(
            watch("sts.amazonaws.com", "AssumeRole", &role(bg), &config),
            Ok(CloudTrailCall::AssumeRole)
        );
        assert_eq!(
            watch("sts.amazonaws.com", "AssumeRole", &role(other), &config),
            Err(Skip::NotBreakGlass)
        );
        assert_eq!(
            watch("sts.amazonaws.com", "AssumeRole", &role(None), &config),
            Err(Skip::NotBreakGlass)
        );
        assert_eq!(
            watch("eks.amazonaws.com", "DeleteCluster", &role(None), &config),
            Ok(CloudTrailCall::DeleteCluster)
        );
    }

    #[test]
    fn add_on_and_tag_calls_are_watched_only_when_they_touch_access() {
        let config = RuleConfig::default();
        let none = Detail::default();
        assert_eq!(
            watch("eks.amazonaws.com", "CreateAddon", &none, &config),
            Err(Skip::NoPodIdentity(Operation::CreateAddon))
        );
        let pod = Detail {
            pod_identity_roles: true,
            ..none
        };
        assert!(watch("eks.amazonaws.com", "UpdateAddon", &pod, &config).is_ok());
        for (arn, watched) in [
            ("arn:aws:eks:eu-west-1:111122223333:cluster/prod", true),
            (
                "arn%3Aaws%3Aeks%3Aeu-west-1%3A111122223333%3Aaccess-entry%2Fprod%2Frole%2F111122223333%2Fci%2Fa1b2",
                true,
            ),
            (
                "arn:aws:eks:eu-west-1:111122223333:nodegroup/prod/ng/x",
                false,
            ),
            ("arn:aws:s3:::bucket", false),
        ] {
            let d = Detail {
                resource_arn: Some(arn),
                ..none
            };
            assert_eq!(
                watch("eks.amazonaws.com", "TagResource", &d, &config).is_ok(),
                watched,
                "{arn}"
            );
        }
    }
}
