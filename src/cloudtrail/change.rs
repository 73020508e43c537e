//! What a watched call changed: its request (and response) parameters read into a [`Change`],
//! one exhaustive arm per operation, and the small JSON readers that do it.

use serde_json::Value;

use crate::arn;
use crate::model::{
    AccessScope, AuthMode, Change, ClusterSettings, EntrySpec, EntryType, IssuedCredentials,
    PodIdentityAction, PodIdentityGrant, PublicEndpoint, ScopeType, Tampering,
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
        CloudTrailCall::DisableRule
        | CloudTrailCall::DeleteRule
        | CloudTrailCall::RemoveTargets
        | CloudTrailCall::PutRule
        | CloudTrailCall::PutTargets
        | CloudTrailCall::UpdateFunctionConfiguration
        | CloudTrailCall::UpdateFunctionCode
        | CloudTrailCall::DeleteFunction
        | CloudTrailCall::PutFunctionConcurrency
        | CloudTrailCall::DeleteFunctionConcurrency
        | CloudTrailCall::UpdateEventSourceMapping
        | CloudTrailCall::DeleteEventSourceMapping
        | CloudTrailCall::RemovePermission
        | CloudTrailCall::DeleteSubscriptionFilter
        | CloudTrailCall::PutSubscriptionFilter
        | CloudTrailCall::Unsubscribe
        | CloudTrailCall::SetSubscriptionAttributes
        | CloudTrailCall::SetTopicAttributes
        | CloudTrailCall::DeleteTopic
        | CloudTrailCall::DisableKey
        | CloudTrailCall::ScheduleKeyDeletion
        | CloudTrailCall::PutKeyPolicy
        | CloudTrailCall::PutParameter
        | CloudTrailCall::DeleteParameter
        | CloudTrailCall::SetQueueAttributes
        | CloudTrailCall::PurgeQueue
        | CloudTrailCall::DeleteQueue
        | CloudTrailCall::DeleteStack
        | CloudTrailCall::UpdateStack
        | CloudTrailCall::DeleteStackInstances => tampering(call, req, resp),
    }
}

/// What a tampering call does to the part it acts on, in words.
fn tampering(call: CloudTrailCall, req: &Value, resp: &Value) -> Change {
    use CloudTrailCall as C;
    let text = |key: &str| text_at(req, &[key]);
    let keys = |except: &[&str]| -> String {
        let keys: Vec<String> = request_keys(req)
            .into_iter()
            .filter(|k| !except.contains(&k.as_str()))
            .collect();
        if keys.is_empty() {
            String::new()
        } else {
            format!(" [{}]", keys.join(", "))
        }
    };
    let targets = |key: &str| -> String {
        match value_at(req, &[key]) {
            Some(Value::Array(items)) => items
                .iter()
                .map(|t| match t {
                    Value::String(s) => clean(s, MAX_FIELD),
                    t => match (text_at(t, &["id"]), arn_at(t, &["arn"])) {
                        (Some(id), Some(arn)) => format!("{id} -> {arn}"),
                        (Some(id), None) => id,
                        (None, Some(arn)) => arn,
                        (None, None) => "?".into(),
                    },
                })
                .collect::<Vec<_>>()
                .join(", "),
            _ => String::new(),
        }
    };
    let mapping = || {
        text("uUID")
            .map(|u| format!("event source mapping {u} "))
            .unwrap_or_else(|| "event source mapping ".into())
    };
    let what = match call {
        C::DisableRule => "disabled".to_string(),
        C::DeleteRule => "deleted".to_string(),
        C::PutRule if text("state").is_some_and(|s| s.eq_ignore_ascii_case("DISABLED")) => {
            "disabled (PutRule with state DISABLED)".to_string()
        }
        C::PutRule => format!("rewritten (PutRule){}", keys(&["name", "eventBusName"])),
        C::RemoveTargets => format!("targets removed: [{}]", targets("ids")),
        C::PutTargets => format!("targets replaced: [{}]", targets("targets")),
        C::UpdateFunctionConfiguration => {
            let changed = keys(&["functionName"]);
            if req.get("environment").is_some() {
                format!("environment (and configuration) changed{changed}")
            } else {
                format!("configuration changed{changed}")
            }
        }
        C::UpdateFunctionCode => "code replaced".to_string(),
        C::DeleteFunction => "deleted".to_string(),
        C::PutFunctionConcurrency => {
            match value_at(req, &["reservedConcurrentExecutions"]).and_then(Value::as_u64) {
                Some(0) => "reserved concurrency set to 0: it can no longer run".to_string(),
                Some(n) => format!("reserved concurrency set to {n}"),
                None => "reserved concurrency changed".to_string(),
            }
        }
        C::DeleteFunctionConcurrency => "reserved concurrency removed".to_string(),
        C::UpdateEventSourceMapping if bool_at(req, &["enabled"]) == Some(false) => {
            format!("{}disabled", mapping())
        }
        C::UpdateEventSourceMapping => {
            format!("{}changed{}", mapping(), keys(&["uUID", "functionName"]))
        }
        C::DeleteEventSourceMapping => format!("{}deleted", mapping()),
        C::RemovePermission => format!(
            "permission {} removed",
            text("statementId").unwrap_or_else(|| "(unnamed)".into())
        ),
        C::DeleteSubscriptionFilter => format!(
            "deleted from log group {}",
            text("logGroupName").unwrap_or_else(|| "(unnamed)".into())
        ),
        C::PutSubscriptionFilter => format!(
            "rewritten on log group {} (destination {})",
            text("logGroupName").unwrap_or_else(|| "(unnamed)".into()),
            arn_at(req, &["destinationArn"]).unwrap_or_else(|| "not given".into())
        ),
        C::Unsubscribe => "removed (unsubscribed)".to_string(),
        C::SetSubscriptionAttributes | C::SetTopicAttributes => format!(
            "attribute {} changed",
            text("attributeName").unwrap_or_else(|| "(unnamed)".into())
        ),
        C::DeleteTopic => "deleted".to_string(),
        C::DisableKey => "disabled: nothing it encrypts can be read or written".to_string(),
        C::ScheduleKeyDeletion => {
            match value_at(req, &["pendingWindowInDays"]).and_then(Value::as_u64) {
                Some(days) => format!("scheduled for deletion in {days} days"),
                None => "scheduled for deletion".to_string(),
            }
        }
        C::PutKeyPolicy => "key policy replaced".to_string(),
        C::PutParameter => match value_at(resp, &["version"]).and_then(Value::as_u64) {
            Some(v) => format!("overwritten (version {v})"),
            None => "overwritten".to_string(),
        },
        C::DeleteParameter => "deleted".to_string(),
        C::SetQueueAttributes => {
            let attributes: Vec<String> = match value_at(req, &["attributes"]) {
                Some(Value::Object(a)) => a.keys().map(|k| clean(k, 64)).collect(),
                _ => Vec::new(),
            };
            format!("attributes changed [{}]", attributes.join(", "))
        }
        C::PurgeQueue => "purged: every message waiting in it deleted".to_string(),
        C::DeleteQueue => "deleted".to_string(),
        C::DeleteStack => "deleted".to_string(),
        C::UpdateStack => format!("updated{}", keys(&["stackName"])),
        C::DeleteStackInstances => format!(
            "stack instances deleted (accounts [{}], regions [{}])",
            strings_at(req, &["accounts"]).join(", "),
            strings_at(req, &["regions"]).join(", ")
        ),
        _ => "changed".to_string(),
    };
    let part =
        crate::operation::watcher::part(call).unwrap_or(crate::operation::WatcherPart::Stack);
    let name = crate::operation::watcher::references(call, req, resp)
        .first()
        .map(|n| clean(&arn::decode(n), MAX_ARN));
    Change::WatcherTampered(Box::new(Tampering {
        part,
        name,
        what,
        by_cloudformation: false,
        version: match call {
            C::PutParameter => value_at(resp, &["version"]).and_then(Value::as_i64),
            _ => None,
        },
    }))
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
