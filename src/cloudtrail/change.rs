//! What a watched call changed: its request (and response) parameters read into a [`Change`],
//! one exhaustive arm per operation, and the small JSON readers that do it.

use serde_json::Value;

use crate::arn;
use crate::model::{
    AccessScope, AuthMode, Change, ClusterSettings, EntrySpec, EntryType, IssuedCredentials,
    PodIdentityAction, PodIdentityGrant, PublicEndpoint, ScopeType,
};
use crate::operation::CloudTrailCall;
use crate::sanitize::clean;
use crate::trail::Selectors;

use super::{MAX_ARN, MAX_FIELD};

pub(super) fn change(call: CloudTrailCall, req: &Value, resp: &Value) -> Change {
    match call {
        CloudTrailCall::CreateAccessEntry => Change::CreateAccessEntry(entry_spec(req)),
        CloudTrailCall::UpdateAccessEntry => Change::UpdateAccessEntry(entry_spec(req)),
        CloudTrailCall::DeleteAccessEntry => Change::DeleteAccessEntry {
            principal_arn: arn_at(req, &["principalArn"]),
        },
        CloudTrailCall::AssociateAccessPolicy => Change::AssociateAccessPolicy {
            principal_arn: arn_at(req, &["principalArn"]),
            policy_arn: arn_at(req, &["policyArn"]),
            access_scope: access_scope(req.get("accessScope")),
        },
        CloudTrailCall::DisassociateAccessPolicy => Change::DisassociateAccessPolicy {
            principal_arn: arn_at(req, &["principalArn"]),
            policy_arn: arn_at(req, &["policyArn"]),
        },
        CloudTrailCall::UpdateClusterConfig => Change::UpdateClusterConfig(cluster_settings(req)),
        CloudTrailCall::CreateCluster => Change::CreateCluster(cluster_settings(req)),
        CloudTrailCall::DeleteCluster => Change::DeleteCluster,
        CloudTrailCall::AssociateIdentityProviderConfig => {
            Change::AssociateIdentityProviderConfig {
                config_name: text_at(req, &["oidc", "identityProviderConfigName"]),
                issuer_url: text_at(req, &["oidc", "issuerUrl"]),
                client_id: text_at(req, &["oidc", "clientId"]),
            }
        }
        CloudTrailCall::DisassociateIdentityProviderConfig => {
            Change::DisassociateIdentityProviderConfig {
                config_name: text_at(req, &["identityProviderConfig", "name"]),
            }
        }
        CloudTrailCall::CreatePodIdentityAssociation
        | CloudTrailCall::UpdatePodIdentityAssociation
        | CloudTrailCall::DeletePodIdentityAssociation => Change::PodIdentityAssociation {
            action: match call {
                CloudTrailCall::CreatePodIdentityAssociation => PodIdentityAction::Create,
                CloudTrailCall::UpdatePodIdentityAssociation => PodIdentityAction::Update,
                _ => PodIdentityAction::Delete,
            },
            namespace: text_at(req, &["namespace"])
                .or_else(|| text_at(resp, &["association", "namespace"])),
            service_account: text_at(req, &["serviceAccount"])
                .or_else(|| text_at(resp, &["association", "serviceAccount"])),
            role_arn: arn_at(req, &["roleArn"])
                .or_else(|| arn_at(resp, &["association", "roleArn"])),
        },
        CloudTrailCall::CreateAddon | CloudTrailCall::UpdateAddon => Change::Addon {
            update: call == CloudTrailCall::UpdateAddon,
            addon_name: text_at(req, &["addonName"]),
            namespace: text_at(req, &["namespaceConfig", "namespace"]),
            grants: pod_identity_grants(req),
            service_account_role: arn_at(req, &["serviceAccountRoleArn"]),
        },
        CloudTrailCall::CreateNodegroup => Change::NodeRole {
            kind: "nodegroup",
            name: text_at(req, &["nodegroupName"]),
            role_arn: arn_at(req, &["nodeRole"]),
        },
        CloudTrailCall::CreateFargateProfile => Change::NodeRole {
            kind: "Fargate profile",
            name: text_at(req, &["fargateProfileName"]),
            role_arn: arn_at(req, &["podExecutionRoleArn"]),
        },
        CloudTrailCall::TagResource | CloudTrailCall::UntagResource => Change::Tags {
            resource_arn: arn_at(req, &["resourceArn"]),
            removed: call == CloudTrailCall::UntagResource,
            keys: match value_at(req, &["tags"]) {
                Some(Value::Object(tags)) => tags.keys().map(|k| clean(k, 128)).collect(),
                _ => strings_at(req, &["tagKeys"]),
            },
        },
        CloudTrailCall::AssumeRole
        | CloudTrailCall::AssumeRoleWithSaml
        | CloudTrailCall::AssumeRoleWithWebIdentity => Change::AssumeRole {
            role_arn: arn_at(req, &["roleArn"]),
            session_name: text_at(req, &["roleSessionName"]),
            source_identity: text_at(req, &["sourceIdentity"])
                .or_else(|| text_at(resp, &["sourceIdentity"])),
            issued: issued_credentials(resp),
        },
        CloudTrailCall::StopLogging | CloudTrailCall::DeleteTrail => Change::TrailStopped {
            deleted: call == CloudTrailCall::DeleteTrail,
            trail: text_at(req, &["name"]).map(trail_name),
        },
        CloudTrailCall::UpdateTrail | CloudTrailCall::PutEventSelectors => Change::TrailModified {
            trail: text_at(req, &["name"])
                .or_else(|| text_at(req, &["trailName"]))
                .map(trail_name),
            logs_management_writes: Selectors::from_request(req)
                .map(|s| s.logs_management_writes()),
            keys: request_keys(req),
        },
    }
}

/// The credentials an AssumeRole issued, when its answer is in the record.
fn issued_credentials(resp: &Value) -> Option<IssuedCredentials> {
    let issued = IssuedCredentials {
        access_key_id: text_at(resp, &["credentials", "accessKeyId"]),
        expiration: text_at(resp, &["credentials", "expiration"]),
        session_arn: arn_at(resp, &["assumedRoleUser", "arn"]),
    };
    (issued.access_key_id.is_some() || issued.session_arn.is_some()).then_some(issued)
}

/// A trail's name from its name or ARN (`arn:aws:cloudtrail:<region>:<account>:trail/<name>`).
fn trail_name(text: String) -> String {
    match arn::Arn::parse(&text).and_then(|a| a.resource.strip_prefix("trail/")) {
        Some(name) => name.to_string(),
        None => text,
    }
}

/// `podIdentityAssociations` of an add-on call.
pub(super) fn pod_identity_grants(req: &Value) -> Vec<PodIdentityGrant> {
    match value_at(req, &["podIdentityAssociations"]) {
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| PodIdentityGrant {
                service_account: text_at(i, &["serviceAccount"]),
                role_arn: arn_at(i, &["roleArn"]),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The cluster a tagged resource belongs to: `...:cluster/<name>` or
/// `...:access-entry/<cluster>/...`, decoded first (it is a URL path parameter).
pub(super) fn tagged_cluster(resource_arn: &str) -> Option<String> {
    let decoded = arn::decode(resource_arn);
    let parsed = arn::Arn::parse(&decoded)?;
    let rest = parsed
        .resource
        .strip_prefix("cluster/")
        .or_else(|| parsed.resource.strip_prefix("access-entry/"))?;
    rest.split('/')
        .next()
        .filter(|c| !c.is_empty())
        .map(str::to_string)
}

/// Top-level request keys, for summaries of what an update touched.
fn request_keys(req: &Value) -> Vec<String> {
    req.as_object()
        .map(|o| {
            o.keys()
                .filter(|k| !matches!(k.as_str(), "name" | "clientRequestToken" | "trailName"))
                .map(|k| clean(k, 64))
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn value_at<'v>(v: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(v, |v, key| v.get(key))
}

pub(super) fn str_at<'v>(v: &'v Value, path: &[&str]) -> Option<&'v str> {
    value_at(v, path)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// A string field, sanitised for display.
pub(super) fn text_at(v: &Value, path: &[&str]) -> Option<String> {
    str_at(v, path).map(|s| clean(s, MAX_FIELD))
}

pub(super) fn arn_at(v: &Value, path: &[&str]) -> Option<String> {
    str_at(v, path).map(|s| clean(&arn::decode(s), MAX_ARN))
}

/// A list of strings, leniently: an array (non-strings are shown as JSON) or a lone string.
pub(super) fn strings_at(v: &Value, path: &[&str]) -> Vec<String> {
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

pub(super) fn bool_at(v: &Value, path: &[&str]) -> Option<bool> {
    match value_at(v, path)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn entry_spec(req: &Value) -> EntrySpec {
    EntrySpec {
        principal_arn: arn_at(req, &["principalArn"]),
        entry_type: text_at(req, &["type"]).map(|t| EntryType::parse(&t)),
        kubernetes_groups: strings_at(req, &["kubernetesGroups"]),
        username: text_at(req, &["username"]),
    }
}

fn access_scope(scope: Option<&Value>) -> AccessScope {
    match scope.and_then(|s| text_at(s, &["type"])) {
        Some(t) => AccessScope::new(
            ScopeType::parse(&t),
            strings_at(scope.unwrap_or(&Value::Null), &["namespaces"]),
        ),
        // No scope, or one without a type: assume the larger grant.
        None => AccessScope::cluster(),
    }
}

fn cluster_settings(req: &Value) -> ClusterSettings {
    let mut settings = ClusterSettings {
        authentication_mode: text_at(req, &["accessConfig", "authenticationMode"])
            .map(|m| AuthMode::parse(&m)),
        bootstrap_cluster_creator_admin: bool_at(
            req,
            &["accessConfig", "bootstrapClusterCreatorAdminPermissions"],
        ),
        deletion_protection: bool_at(req, &["deletionProtection"]),
        keys: request_keys(req),
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
