//! The calls that disable, remove or redirect a part of this deployment: which part each one
//! acts on, and where its record names the resource (request parameters, or the answer for
//! the event source mapping calls, whose request names only the mapping's UUID).
//!
//! [`super::watch`] watches such a call only when one of the names is the watcher's
//! ([`crate::config::WatcherResources::owns`]); the template's EventBridge patterns read the
//! same fields.

use serde_json::Value;

use super::CloudTrailCall;
use crate::closed::closed_enum;
use crate::config::WatcherResources;

closed_enum! {
    /// A kind of part of the deployment.
    pub enum WatcherPart ("watcher part") {
        EventBridgeRule = "EventBridge rule",
        LambdaFunction = "Lambda function",
        SubscriptionFilter = "CloudWatch Logs subscription filter",
        SnsTopic = "SNS topic",
        SnsSubscription = "SNS subscription",
        KmsKey = "KMS key",
        SsmParameter = "SSM parameter",
        SqsQueue = "SQS queue",
        Stack = "CloudFormation stack",
        StackSet = "CloudFormation stack set",
    }
}

/// The part a tampering call acts on; `None` for the calls that are not tampering calls.
pub fn part(call: CloudTrailCall) -> Option<WatcherPart> {
    use CloudTrailCall as C;
    Some(match call {
        C::DisableRule | C::DeleteRule | C::RemoveTargets | C::PutRule | C::PutTargets => {
            WatcherPart::EventBridgeRule
        }
        C::UpdateFunctionConfiguration
        | C::UpdateFunctionCode
        | C::DeleteFunction
        | C::PutFunctionConcurrency
        | C::DeleteFunctionConcurrency
        | C::UpdateEventSourceMapping
        | C::DeleteEventSourceMapping
        | C::RemovePermission => WatcherPart::LambdaFunction,
        C::DeleteSubscriptionFilter | C::PutSubscriptionFilter => WatcherPart::SubscriptionFilter,
        C::Unsubscribe | C::SetSubscriptionAttributes => WatcherPart::SnsSubscription,
        C::SetTopicAttributes | C::DeleteTopic => WatcherPart::SnsTopic,
        C::DisableKey | C::ScheduleKeyDeletion | C::PutKeyPolicy => WatcherPart::KmsKey,
        C::PutParameter | C::DeleteParameter => WatcherPart::SsmParameter,
        C::SetQueueAttributes | C::PurgeQueue | C::DeleteQueue => WatcherPart::SqsQueue,
        C::DeleteStack | C::UpdateStack => WatcherPart::Stack,
        C::DeleteStackInstances => WatcherPart::StackSet,
        C::CreateAccessEntry
        | C::UpdateAccessEntry
        | C::DeleteAccessEntry
        | C::AssociateAccessPolicy
        | C::DisassociateAccessPolicy
        | C::UpdateClusterConfig
        | C::CreateCluster
        | C::DeleteCluster
        | C::AssociateIdentityProviderConfig
        | C::DisassociateIdentityProviderConfig
        | C::CreatePodIdentityAssociation
        | C::UpdatePodIdentityAssociation
        | C::DeletePodIdentityAssociation
        | C::CreateAddon
        | C::UpdateAddon
        | C::CreateNodegroup
        | C::CreateFargateProfile
        | C::TagResource
        | C::UntagResource
        | C::AssumeRole
        | C::AssumeRoleWithSaml
        | C::AssumeRoleWithWebIdentity
        | C::StopLogging
        | C::DeleteTrail
        | C::UpdateTrail
        | C::PutEventSelectors => return None,
    })
}

/// Where a tampering call's record names the resource: `(in the answer, path)`, the one that
/// names it best first.
fn fields(call: CloudTrailCall) -> &'static [(bool, &'static str)] {
    use CloudTrailCall as C;
    match call {
        C::DisableRule | C::DeleteRule | C::PutRule => &[(false, "name")],
        C::RemoveTargets | C::PutTargets => &[(false, "rule")],
        C::UpdateEventSourceMapping | C::DeleteEventSourceMapping => {
            &[(true, "functionArn"), (false, "functionName")]
        }
        C::UpdateFunctionConfiguration
        | C::UpdateFunctionCode
        | C::DeleteFunction
        | C::PutFunctionConcurrency
        | C::DeleteFunctionConcurrency
        | C::RemovePermission => &[(false, "functionName")],
        C::DeleteSubscriptionFilter | C::PutSubscriptionFilter => {
            &[(false, "filterName"), (false, "logGroupName")]
        }
        C::Unsubscribe | C::SetSubscriptionAttributes => &[(false, "subscriptionArn")],
        C::SetTopicAttributes | C::DeleteTopic => &[(false, "topicArn")],
        C::DisableKey | C::ScheduleKeyDeletion | C::PutKeyPolicy => &[(false, "keyId")],
        C::PutParameter | C::DeleteParameter => &[(false, "name")],
        C::SetQueueAttributes | C::PurgeQueue | C::DeleteQueue => &[(false, "queueUrl")],
        C::DeleteStack | C::UpdateStack => &[(false, "stackName")],
        C::DeleteStackInstances => &[(false, "stackSetName")],
        _ => &[],
    }
}

/// The names a tampering call's record gives the resource, in [`fields`] order.
pub fn references(call: CloudTrailCall, request: &Value, response: &Value) -> Vec<String> {
    fields(call)
        .iter()
        .filter_map(|(answer, key)| {
            let from = if *answer { response } else { request };
            from.get(*key).and_then(Value::as_str)
        })
        .filter(|v| !v.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// True when the record names one of the watcher's resources.
pub fn is_watchers(
    call: CloudTrailCall,
    request: &Value,
    response: &Value,
    watcher: &WatcherResources,
) -> bool {
    references(call, request, response)
        .iter()
        .any(|r| watcher.owns(r))
}

/// A Lambda API name as CloudTrail writes it, versioned or not (`UpdateFunctionConfiguration`,
/// `UpdateFunctionConfiguration20150331v2`, `DeleteFunction20150331`): the base name followed
/// by an 8-digit API date and an optional `v<digits>`. `None` when `name` is not `base` so
/// suffixed.
pub fn is_versioned_name(name: &str, base: &str) -> bool {
    let Some(rest) = name.strip_prefix(base) else {
        return false;
    };
    if rest.is_empty() {
        return true;
    }
    let (date, version) = rest.split_at(rest.len().min(8));
    date.len() == 8
        && date.bytes().all(|b| b.is_ascii_digit())
        && (version.is_empty()
            || version
                .strip_prefix('v')
                .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_names_match_with_or_without_their_api_version() {
        for (name, base, yes) in [
            (
                "UpdateFunctionConfiguration20150331v2",
                "UpdateFunctionConfiguration",
                true,
            ),
            ("UpdateFunctionCode20150331v2", "UpdateFunctionCode", true),
            ("DeleteFunction20150331", "DeleteFunction", true),
            ("DeleteFunction", "DeleteFunction", true),
            ("RemovePermission20150331v2", "RemovePermission", true),
            (
                "PutFunctionConcurrency20171031",
                "PutFunctionConcurrency",
                true,
            ),
            ("DeleteFunctionConcurrency20171031", "DeleteFunction", false),
            ("DeleteFunctionUrlConfig", "DeleteFunction", false),
            ("DeleteFunction2015", "DeleteFunction", false),
            ("DeleteFunction20150331v", "DeleteFunction", false),
            ("DeleteFunction20150331x2", "DeleteFunction", false),
        ] {
            assert_eq!(is_versioned_name(name, base), yes, "{name} as {base}");
        }
    }

    #[test]
    fn every_tampering_call_names_its_part_and_where_its_resource_is() {
        for call in CloudTrailCall::ALL {
            let tampering = matches!(
                call.source(),
                super::super::Source::Events
                    | super::super::Source::Lambda
                    | super::super::Source::Logs
                    | super::super::Source::Sns
                    | super::super::Source::Kms
                    | super::super::Source::Ssm
                    | super::super::Source::Sqs
                    | super::super::Source::CloudFormation
            );
            assert_eq!(part(*call).is_some(), tampering, "{call}");
            assert_eq!(!fields(*call).is_empty(), tampering, "{call}");
        }
    }
}
