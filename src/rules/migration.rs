//! Migrating from the aws-auth ConfigMap to access entries (`eks-access-watch migrate`): the
//! pitfalls of translating each mapping, and what the live cluster says about switching to
//! `API` mode. The migration planner ([`crate::migrate`]) makes these findings with
//! [`Finding::new`](super::Finding::new); they are documented and graded here like every rule.

use super::{Rule, Topic};
use crate::severity::Severity::{Critical, High, Info, Low, Medium};

/// Shared by every migration rule: findings about a plan, not about a CloudTrail call.
const fn migration_rule(
    id: &'static str,
    severities: &'static [crate::severity::Severity],
    fires_on: &'static str,
    why: &'static str,
    next_step: &'static str,
) -> Rule {
    Rule::external(id, Topic::Migration, severities, fires_on, why, next_step)
}

pub static PRINCIPAL_MISSING: Rule = migration_rule(
    "migration-principal-missing",
    &[Critical],
    "`migrate --live`: a principal mapped in aws-auth has no access entry on the cluster",
    "The switch to API mode is one-way and ignores aws-auth: a principal without an access entry is locked out at once, and only someone with EKS API rights can let it back in.",
    "Create the access entry from the plan (`migrate --format terraform|cli|cloudformation`) and run `migrate --live --check` again before switching.",
);

pub static ACCOUNT_MAPPING: Rule = migration_rule(
    "migration-account-mapping",
    &[High],
    "aws-auth has `mapAccounts`: every IAM principal of those accounts may authenticate (username = its ARN, no groups); access entries have no equivalent",
    "Whole-account mappings vanish with the switch to API mode; whoever relied on them (often without knowing) is locked out, and no plan can list them from the ConfigMap alone.",
    "Find who authenticates through the account mapping (CloudTrail or the authenticator log), create an entry for each, then remove `mapAccounts`.",
);

pub static SYSTEM_MASTERS: Rule = migration_rule(
    "migration-system-masters",
    &[High],
    "a mapping grants `system:masters`; the plan gives it AmazonEKSClusterAdminPolicy at cluster scope (EKS rejects `system:` groups)",
    "`system:masters` bypasses RBAC and cannot be revoked inside the cluster; carried over blindly it becomes a standing ClusterAdmin entry for every old admin mapping.",
    "Keep ClusterAdmin for the break-glass role and the approved automation; give people AmazonEKSAdminPolicy (cluster or namespaces) instead.",
);

pub static ROLE_PATH: Rule = migration_rule(
    "migration-role-path",
    &[Medium],
    "a role's real ARN has a path (found through IAM with `--live`) while aws-auth names it without one, or an aws-auth row names a role with a path (aws-auth never matches those) or an IAM user without its path",
    "aws-auth matches roles by path-less ARN, while an access entry needs the principal's real ARN: an entry created from the ConfigMap's spelling names a role that does not exist, and the principal is locked out after the switch.",
    "Use the ARN the plan shows (the principal's real ARN); for a row that never matched, decide whether that principal should get access at all.",
);

pub static SESSION_ARN: Rule = migration_rule(
    "migration-session-arn",
    &[Medium],
    "a mapping names an STS assumed-role session ARN; the plan uses the role's ARN instead",
    "EKS rejects session ARNs as access-entry principals, and aws-auth never matched them either: the row looks like access it never gave.",
    "Confirm that the role itself should have this access; then remove the session row from aws-auth.",
);

pub static DUPLICATE_PRINCIPAL: Rule = migration_rule(
    "migration-duplicate-principal",
    &[Medium],
    "the same principal (same account and name, whatever the path, case or session spelling) is mapped more than once; the plan merges the groups",
    "aws-auth applies only one of the rows, so the principal may hold less (or more) than the ConfigMap suggests; an access entry can exist once per principal.",
    "Review the merged groups the plan shows and keep one row in aws-auth until the switch.",
);

pub static CREATOR_ADMIN: Rule = migration_rule(
    "migration-creator-admin",
    &[Medium],
    "`migrate --live`: the cluster has the bootstrap cluster-creator entry, recognised as `creator-admin-present` recognises it (the earliest STANDARD entry holding ClusterAdmin whose creation predates or equals the cluster's, within a minute)",
    "The creator's ClusterAdmin entry is made by EKS, not by your infrastructure code: a standing admin nobody reviews, often a shared pipeline role.",
    "Bring the entry into infrastructure code (import it) or delete it once the planned admin entries exist.",
);

pub static MALFORMED_GROUPS: Rule = migration_rule(
    "migration-malformed-groups",
    &[Low, Medium],
    "an aws-auth row lists a group written other than it can be meant: in brackets (`<system:bootstrappers>`, a documentation placeholder kept), in quotes or spaces, or empty; medium on a node role's row (by its groups as meant, or its `system:node:` username), low on any other",
    "The authenticator passes groups to Kubernetes exactly as written, and no binding names `<system:nodes>`: a node role mapped so cannot join (an eksctl documentation example once showed node groups in brackets), and what the groups were meant to grant is not granted. The plan cannot know what was meant, so it takes the groups as written: a node role whose node groups are in brackets becomes a STANDARD entry with them, not a node entry.",
    "Write the groups as meant in aws-auth (a node role: `system:bootstrappers` and `system:nodes`, no brackets or quotes), check the nodes or people that use the row, and run `migrate` again.",
);

pub static UNSUPPORTED_GROUP: Rule = migration_rule(
    "migration-unsupported-group",
    &[Low],
    "a mapping holds a `system:` group other than `system:masters` and the node groups of its entry type; EKS rejects it, so the plan drops it",
    "Whatever the group granted through RBAC is lost with the switch unless it is replaced by an access policy or a group of your own.",
    "Bind the same RBAC role to a group without the `system:` prefix and add that group to the entry.",
);

pub static PATHS_UNVERIFIED: Rule = migration_rule(
    "migration-paths-unverified",
    &[Info],
    "the plan names roles or users whose real ARN (with its path) was not checked through IAM: without `--live`, or in another account than the cluster's",
    "An access entry needs the principal's real ARN; a role with a path that aws-auth names without it gives an entry that matches nobody.",
    "Run `migrate --live --cluster NAME` with read access to IAM (GetRole, GetUser), or check the ARNs with `aws iam get-role`.",
);

#[cfg(test)]
mod tests {
    use crate::rules::{CATALOGUE, Topic};

    #[test]
    fn every_migration_rule_is_listed_and_prefixed() {
        let ids: Vec<&str> = CATALOGUE
            .iter()
            .filter(|r| r.topic == Topic::Migration)
            .map(|r| r.id)
            .collect();
        assert_eq!(ids.len(), 10, "{ids:?}");
        assert!(ids.iter().all(|id| id.starts_with("migration-")));
    }
}
