//! The catalogue: every rule, in the order findings are listed. The docs (`rules`), the tests
//! and the SAM event patterns are derived from it.

use super::Rule;
use super::{
    cluster, correlation, drift, entries, grants, identity, integrity, kubernetes, migration,
    standing, tuning,
};

/// The catalogue, in the order findings are listed.
pub static CATALOGUE: &[&Rule] = &[
    &identity::ROOT_CALLER,
    &identity::BREAK_GLASS_ASSUMED,
    &identity::SELF_GRANT,
    &grants::CLUSTER_ADMIN_GRANTED,
    &grants::ADMIN_GRANTED,
    &grants::SECRET_READ_GRANTED,
    &grants::SYSTEM_NAMESPACE_WRITE,
    &grants::WILDCARD_NAMESPACE_SCOPE,
    &grants::SERVICE_POLICY_GRANTED,
    &grants::UNKNOWN_ACCESS_POLICY,
    &grants::ACCESS_POLICY_ASSOCIATED,
    &grants::ADMIN_ACCESS_REMOVED,
    &grants::ACCESS_POLICY_DISASSOCIATED,
    &entries::LOCKOUT_RISK,
    &entries::BREAK_GLASS_MODIFIED,
    &identity::CROSS_ACCOUNT_PRINCIPAL,
    &entries::SYSTEM_GROUP_REQUESTED,
    &entries::PRIVILEGED_GROUP_NAME,
    &entries::NODE_IDENTITY_GRANTED,
    &entries::SESSION_PRINCIPAL_ENTRY,
    &entries::ACCESS_ENTRY_CREATED,
    &entries::ACCESS_ENTRY_UPDATED,
    &entries::ACCESS_ENTRY_DELETED,
    &cluster::AUTH_MODE_CHANGED,
    &cluster::AUDIT_LOGGING_DISABLED,
    &cluster::PUBLIC_ENDPOINT_OPENED,
    &cluster::DELETION_PROTECTION_DISABLED,
    &cluster::CLUSTER_CONFIG_UPDATED,
    &cluster::BOOTSTRAP_CREATOR_ADMIN,
    &cluster::LEGACY_AUTH_MODE,
    &cluster::CLUSTER_CREATED,
    &cluster::CLUSTER_DELETED,
    &cluster::OIDC_PROVIDER_ASSOCIATED,
    &cluster::OIDC_PROVIDER_DISASSOCIATED,
    &cluster::POD_IDENTITY_ASSOCIATION,
    &cluster::ADDON_POD_IDENTITY,
    &cluster::ACCESS_TAGS_CHANGED,
    &integrity::TRAIL_LOGGING_STOPPED,
    &integrity::TRAIL_MODIFIED,
    &integrity::NO_TRAIL_LOGGING,
    &integrity::NO_TRAIL_NOTIFICATIONS,
    &integrity::TRAIL_GAP,
    &integrity::TRAIL_LOG_ALTERED,
    &integrity::UNPARSEABLE_WATCHED_EVENT,
    &kubernetes::AWS_AUTH_DELETED,
    &kubernetes::AWS_AUTH_CREATED,
    &kubernetes::AWS_AUTH_SYSTEM_MASTERS,
    &kubernetes::AWS_AUTH_ACCOUNT_MAPPED,
    &kubernetes::AWS_AUTH_MODIFIED,
    &kubernetes::AWS_AUTH_SESSION_ARN,
    &kubernetes::AWS_AUTH_ROLE_PATH,
    &kubernetes::RBAC_ANONYMOUS_BOUND,
    &kubernetes::RBAC_CLUSTER_ADMIN_BOUND,
    &kubernetes::RBAC_ESCALATION_BOUND,
    &kubernetes::RBAC_BINDING_CHANGED,
    &kubernetes::RBAC_WILDCARD_ROLE,
    &kubernetes::RBAC_ESCALATION_ROLE,
    &correlation::BREAK_GLASS_SESSION_ACTIVITY,
    &correlation::ACCESS_ENTRY_CREATED_THEN_DELETED,
    &correlation::PRINCIPAL_GRANTED_ON_MANY_CLUSTERS,
    &correlation::REPEATED_DENIED_ATTEMPTS,
    &correlation::GRANT_REVERTED,
    &identity::DENIED_ATTEMPT,
    &identity::UNAPPROVED_CALLER,
    &tuning::EXCEPTION_EXPIRED,
    &standing::STANDING_CLUSTER_ADMIN,
    &standing::CREATOR_ADMIN_PRESENT,
    &standing::NO_WORKING_BREAK_GLASS,
    &standing::TOO_MANY_ADMINS,
    &standing::STANDING_SESSION_PRINCIPAL,
    &standing::STANDING_CROSS_ACCOUNT,
    &standing::STANDING_WILDCARD_SCOPE,
    &standing::STANDING_SECRET_READER,
    &standing::UNTAGGED_ENTRY,
    &standing::CONFIG_MAP_AUTH_MODE,
    &standing::AUDIT_LOGGING_OFF,
    &standing::PUBLIC_ENDPOINT_OPEN,
    &standing::DELETION_PROTECTION_OFF,
    &standing::AUDIT_INCOMPLETE,
    &drift::DRIFT_ENTRY_ADDED,
    &drift::DRIFT_ENTRY_REMOVED,
    &drift::DRIFT_POLICY_CHANGED,
    &drift::DRIFT_CLUSTER_SETTING,
    &migration::PRINCIPAL_MISSING,
    &migration::ACCOUNT_MAPPING,
    &migration::SYSTEM_MASTERS,
    &migration::ROLE_PATH,
    &migration::SESSION_ARN,
    &migration::DUPLICATE_PRINCIPAL,
    &migration::CREATOR_ADMIN,
    &migration::MALFORMED_GROUPS,
    &migration::UNSUPPORTED_GROUP,
    &migration::PATHS_UNVERIFIED,
];

/// A catalogue entry by id.
pub fn find(id: &str) -> Option<&'static Rule> {
    CATALOGUE.iter().copied().find(|r| r.id == id)
}

/// The rules that report the watcher being bypassed or blinded: a tuning file may raise them
/// but never turn them off, lower them or except anyone from them (whoever can change cluster
/// access can often write the tuning file too).
pub static LOCKED: &[&Rule] = &[
    &identity::ROOT_CALLER,
    &identity::BREAK_GLASS_ASSUMED,
    &identity::SELF_GRANT,
    &integrity::TRAIL_LOGGING_STOPPED,
    &integrity::NO_TRAIL_LOGGING,
    &integrity::NO_TRAIL_NOTIFICATIONS,
    &integrity::UNPARSEABLE_WATCHED_EVENT,
    &correlation::BREAK_GLASS_SESSION_ACTIVITY,
];

/// True for a rule of [`LOCKED`].
pub fn is_locked(rule: &Rule) -> bool {
    LOCKED.contains(&rule)
}
