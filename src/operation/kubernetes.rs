//! The Kubernetes plane's operations: which audit events change the aws-auth ConfigMap, an
//! RBAC binding, a ClusterRole or a Role of kube-system, decided from the event's verb and
//! object ([`watch_kubernetes`]), the counterpart of [`super::watch`] for CloudTrail.

use super::{Operation, Skip, Source};
use crate::closed::closed_enum;
use crate::sanitize::clean;

/// The Kubernetes object a watched Kubernetes call changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KubeObject {
    /// The `aws-auth` ConfigMap of `kube-system`: IAM principals mapped to Kubernetes users.
    AwsAuth,
    /// The ConfigMaps of `kube-system` as a collection (`deletecollection`: aws-auth goes too).
    KubeSystemConfigMaps,
    /// A ClusterRoleBinding (`rbac.authorization.k8s.io`).
    ClusterRoleBinding,
    /// A RoleBinding (`rbac.authorization.k8s.io`).
    RoleBinding,
    /// A ClusterRole (`rbac.authorization.k8s.io`): what a binding to it grants.
    ClusterRole,
    /// A Role of `kube-system` (`rbac.authorization.k8s.io`): what a RoleBinding there grants.
    KubeSystemRole,
}

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

impl KubeObject {
    /// True when the request's `objectRef` names this object (exact, as the API server
    /// writes it: lower-case resource, core group empty).
    fn matches(self, r: &KubeRequest) -> bool {
        let (group, resource) = match self {
            KubeObject::AwsAuth | KubeObject::KubeSystemConfigMaps => ("", "configmaps"),
            KubeObject::ClusterRoleBinding => (RBAC_GROUP, "clusterrolebindings"),
            KubeObject::RoleBinding => (RBAC_GROUP, "rolebindings"),
            KubeObject::ClusterRole => (RBAC_GROUP, "clusterroles"),
            KubeObject::KubeSystemRole => (RBAC_GROUP, "roles"),
        };
        let named = match self {
            KubeObject::AwsAuth => r.namespace == "kube-system" && r.name == "aws-auth",
            KubeObject::KubeSystemConfigMaps => r.namespace == "kube-system" && r.name.is_empty(),
            KubeObject::KubeSystemRole => r.namespace == "kube-system",
            KubeObject::ClusterRoleBinding | KubeObject::RoleBinding | KubeObject::ClusterRole => {
                true
            }
        };
        r.api_group == group && r.resource == resource && r.subresource.is_empty() && named
    }

    /// Text that occurs literally in every audit line about this object (unless the line
    /// spells it with `\u` escapes, which the API server never writes): the byte pre-filter
    /// searches for it before anything is parsed.
    pub fn needle(self) -> &'static str {
        match self {
            KubeObject::AwsAuth => "aws-auth",
            KubeObject::KubeSystemConfigMaps => "deletecollection",
            KubeObject::ClusterRoleBinding => "clusterrolebindings",
            KubeObject::RoleBinding => "rolebindings",
            KubeObject::ClusterRole => "clusterroles",
            // Also in `clusterroles`: the pre-filter keeps the shorter needle only.
            KubeObject::KubeSystemRole => "roles",
        }
    }
}

closed_enum! {
    /// The Kubernetes verbs that change an object (the audit event's `verb`).
    pub enum Verb ("Kubernetes verb") {
        Create = "create",
        Update = "update",
        Patch = "patch",
        Delete = "delete",
        DeleteCollection = "deletecollection",
    }
}

/// A watched Kubernetes call: the verb and the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KubeCall {
    pub verb: Verb,
    pub object: KubeObject,
}

impl Operation {
    /// The Kubernetes call of an operation of the Kubernetes audit log; `None` for CloudTrail.
    pub fn kubernetes_call(self) -> Option<KubeCall> {
        use KubeObject::{
            AwsAuth, ClusterRole, ClusterRoleBinding, KubeSystemConfigMaps, KubeSystemRole,
            RoleBinding,
        };
        use Verb::{Create, Delete, DeleteCollection, Patch, Update};
        let (verb, object) = match self {
            Operation::CreateAccessEntry
            | Operation::UpdateAccessEntry
            | Operation::DeleteAccessEntry
            | Operation::AssociateAccessPolicy
            | Operation::DisassociateAccessPolicy
            | Operation::UpdateClusterConfig
            | Operation::CreateCluster
            | Operation::DeleteCluster
            | Operation::AssociateIdentityProviderConfig
            | Operation::CreatePodIdentityAssociation
            | Operation::UpdatePodIdentityAssociation
            | Operation::AssumeRole
            | Operation::AssumeRoleWithSaml
            | Operation::AssumeRoleWithWebIdentity
            | Operation::DisassociateIdentityProviderConfig
            | Operation::DeletePodIdentityAssociation
            | Operation::CreateAddon
            | Operation::UpdateAddon
            | Operation::CreateNodegroup
            | Operation::CreateFargateProfile
            | Operation::TagResource
            | Operation::UntagResource
            | Operation::StopLogging
            | Operation::DeleteTrail
            | Operation::UpdateTrail
            | Operation::PutEventSelectors
            | Operation::DisableRule
            | Operation::DeleteRule
            | Operation::RemoveTargets
            | Operation::PutRule
            | Operation::PutTargets
            | Operation::UpdateFunctionConfiguration
            | Operation::UpdateFunctionCode
            | Operation::DeleteFunction
            | Operation::PutFunctionConcurrency
            | Operation::DeleteFunctionConcurrency
            | Operation::UpdateEventSourceMapping
            | Operation::DeleteEventSourceMapping
            | Operation::RemovePermission
            | Operation::DeleteSubscriptionFilter
            | Operation::PutSubscriptionFilter
            | Operation::Unsubscribe
            | Operation::SetSubscriptionAttributes
            | Operation::SetTopicAttributes
            | Operation::DeleteTopic
            | Operation::DisableKey
            | Operation::ScheduleKeyDeletion
            | Operation::PutKeyPolicy
            | Operation::PutParameter
            | Operation::DeleteParameter
            | Operation::SetQueueAttributes
            | Operation::PurgeQueue
            | Operation::DeleteQueue
            | Operation::DeleteStack
            | Operation::UpdateStack
            | Operation::DeleteStackInstances
            | Operation::TrailSelfCheck
            | Operation::TuningCheck => return None,
            Operation::AwsAuthCreate => (Create, AwsAuth),
            Operation::AwsAuthUpdate => (Update, AwsAuth),
            Operation::AwsAuthPatch => (Patch, AwsAuth),
            Operation::AwsAuthDelete => (Delete, AwsAuth),
            Operation::KubeSystemConfigMapsDeleteCollection => {
                (DeleteCollection, KubeSystemConfigMaps)
            }
            Operation::ClusterRoleBindingCreate => (Create, ClusterRoleBinding),
            Operation::ClusterRoleBindingUpdate => (Update, ClusterRoleBinding),
            Operation::ClusterRoleBindingPatch => (Patch, ClusterRoleBinding),
            Operation::ClusterRoleBindingDelete => (Delete, ClusterRoleBinding),
            Operation::ClusterRoleBindingDeleteCollection => (DeleteCollection, ClusterRoleBinding),
            Operation::RoleBindingCreate => (Create, RoleBinding),
            Operation::RoleBindingUpdate => (Update, RoleBinding),
            Operation::RoleBindingPatch => (Patch, RoleBinding),
            Operation::RoleBindingDelete => (Delete, RoleBinding),
            Operation::RoleBindingDeleteCollection => (DeleteCollection, RoleBinding),
            Operation::ClusterRoleCreate => (Create, ClusterRole),
            Operation::ClusterRoleUpdate => (Update, ClusterRole),
            Operation::ClusterRolePatch => (Patch, ClusterRole),
            Operation::KubeSystemRoleCreate => (Create, KubeSystemRole),
            Operation::KubeSystemRoleUpdate => (Update, KubeSystemRole),
            Operation::KubeSystemRolePatch => (Patch, KubeSystemRole),
        };
        Some(KubeCall { verb, object })
    }
}

/// What an audit event says about its request, for [`watch_kubernetes`]: `verb`,
/// `objectRef` (empty strings for absent fields), `stage` and `requestURI`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KubeRequest<'a> {
    pub verb: &'a str,
    pub api_group: &'a str,
    pub resource: &'a str,
    pub subresource: &'a str,
    pub namespace: &'a str,
    /// `objectRef.name`; for a create that lacks it, the object's `metadata.name`.
    pub name: &'a str,
    pub stage: &'a str,
    pub request_uri: &'a str,
}

/// Decide whether a Kubernetes audit event is watched: the Kubernetes counterpart of
/// [`super::watch`]. Watched are creates, updates, patches and deletions of the aws-auth ConfigMap
/// and of RBAC bindings, and creates, updates and patches of ClusterRoles and of kube-system's
/// Roles, once (at `ResponseComplete`; a missing stage counts as complete) and not as dry runs.
///
/// The byte pre-filter never calls this: it only proves that a line cannot name any object
/// of [`KubeObject::needle`]; every line that may is parsed and decided here.
pub fn watch_kubernetes(request: &KubeRequest) -> Result<Operation, Skip> {
    let operation = Source::Kubernetes
        .operations()
        .find(|op| {
            op.kubernetes_call()
                .is_some_and(|c| c.verb.as_str() == request.verb && c.object.matches(request))
        })
        .ok_or(Skip::KubernetesNotWatched)?;
    if !request.stage.is_empty() && request.stage != "ResponseComplete" {
        return Err(Skip::AuditStage(clean(request.stage, 64)));
    }
    let query = request.request_uri.split_once('?').map(|(_, q)| q);
    if query.is_some_and(|q| q.split('&').any(|p| p == "dryRun=All")) {
        return Err(Skip::DryRun);
    }
    Ok(operation)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aws_auth(verb: &'static str) -> KubeRequest<'static> {
        KubeRequest {
            verb,
            resource: "configmaps",
            namespace: "kube-system",
            name: "aws-auth",
            stage: "ResponseComplete",
            ..KubeRequest::default()
        }
    }

    #[test]
    fn kubernetes_changes_of_aws_auth_and_bindings_are_watched_once() {
        assert_eq!(
            watch_kubernetes(&aws_auth("patch")),
            Ok(Operation::AwsAuthPatch)
        );
        assert_eq!(
            watch_kubernetes(&aws_auth("get")),
            Err(Skip::KubernetesNotWatched)
        );
        let other = KubeRequest {
            name: "coredns",
            ..aws_auth("patch")
        };
        assert_eq!(watch_kubernetes(&other), Err(Skip::KubernetesNotWatched));
        let elsewhere = KubeRequest {
            namespace: "default",
            ..aws_auth("update")
        };
        assert_eq!(
            watch_kubernetes(&elsewhere),
            Err(Skip::KubernetesNotWatched)
        );
        let received = KubeRequest {
            stage: "RequestReceived",
            ..aws_auth("delete")
        };
        assert_eq!(
            watch_kubernetes(&received),
            Err(Skip::AuditStage("RequestReceived".into()))
        );
        let dry = KubeRequest {
            request_uri: "/api/v1/namespaces/kube-system/configmaps/aws-auth?dryRun=All&fieldManager=kubectl",
            ..aws_auth("patch")
        };
        assert_eq!(watch_kubernetes(&dry), Err(Skip::DryRun));
        let binding = KubeRequest {
            verb: "create",
            api_group: "rbac.authorization.k8s.io",
            resource: "clusterrolebindings",
            name: "ops-admin",
            ..KubeRequest::default()
        };
        assert_eq!(
            watch_kubernetes(&binding),
            Ok(Operation::ClusterRoleBindingCreate)
        );
        let crd = KubeRequest {
            api_group: "example.com",
            ..binding
        };
        assert_eq!(watch_kubernetes(&crd), Err(Skip::KubernetesNotWatched));
        let all = KubeRequest {
            verb: "deletecollection",
            resource: "configmaps",
            namespace: "kube-system",
            ..KubeRequest::default()
        };
        assert_eq!(
            watch_kubernetes(&all),
            Ok(Operation::KubeSystemConfigMapsDeleteCollection)
        );
    }

    #[test]
    fn roles_are_watched_in_kube_system_only_and_never_deleted_or_read() {
        let role = |verb, namespace| KubeRequest {
            verb,
            api_group: "rbac.authorization.k8s.io",
            resource: "roles",
            namespace,
            name: "x",
            stage: "ResponseComplete",
            ..KubeRequest::default()
        };
        assert_eq!(
            watch_kubernetes(&role("patch", "kube-system")),
            Ok(Operation::KubeSystemRolePatch)
        );
        for (verb, namespace) in [
            ("create", "payments"),
            ("delete", "kube-system"),
            ("get", "kube-system"),
        ] {
            assert_eq!(
                watch_kubernetes(&role(verb, namespace)),
                Err(Skip::KubernetesNotWatched),
                "{verb} in {namespace}"
            );
        }
    }

    #[test]
    fn every_kubernetes_operation_has_a_call_and_no_cloudtrail_record_names_one() {
        for op in Operation::ALL {
            assert_eq!(
                op.kubernetes_call().is_some(),
                op.source() == Source::Kubernetes,
                "{op}"
            );
            if let Some(call) = op.kubernetes_call() {
                assert!(op.as_str().starts_with(call.verb.as_str()), "{op}");
                assert!(
                    op.as_str().contains(call.object.needle())
                        || call.object == KubeObject::KubeSystemConfigMaps,
                    "{op}"
                );
                assert!(Operation::from_cloudtrail(op.source().as_str(), op.as_str()).is_err());
            }
        }
    }
}
