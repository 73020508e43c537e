//! Standing access: what `eks-access-watch audit` finds in the access that exists now (access
//! entries, their policies, cluster settings), whenever and however it was granted. The
//! conditions live in [`crate::audit::standing`]; the rules are documented and graded here like
//! every other rule.

use super::{Rule, Topic};
use crate::severity::Severity::{High, Info, Low, Medium};

pub static STANDING_CLUSTER_ADMIN: Rule = Rule::external(
    "standing-cluster-admin",
    Topic::Standing,
    &[High],
    "an access entry holding AmazonEKSClusterAdminPolicy whose principal is neither a configured break-glass role nor approved automation (nor an AWS service-linked role); a session ARN never matches and is reported by `standing-session-principal` instead",
    "Every standing ClusterAdmin is a full-compromise path waiting for one leaked credential; admin should be held by the pipeline and the break-glass role, and be taken by people only when needed.",
    "Replace the grant with a scoped policy (Edit or View in the team's namespaces) or move the principal behind the break-glass role; `aws eks disassociate-access-policy` removes it.",
);

pub static CREATOR_ADMIN_PRESENT: Rule = Rule::external(
    "creator-admin-present",
    Topic::Standing,
    &[Medium],
    "the cluster creator's bootstrap entry still exists. Recognised as the earliest STANDARD entry holding ClusterAdmin whose `created_at` predates or equals the cluster's `created_at` (within a minute: EKS makes it in the CreateCluster call, while entries added by infrastructure code come once the cluster is ACTIVE, minutes later); needs both timestamps",
    "bootstrapClusterCreatorAdminPermissions (the default) silently makes whoever created the cluster a ClusterAdmin; with a shared pipeline role or a person's role that admin was never reviewed and outlives its purpose.",
    "Once named admin entries exist, delete the creator's entry (`aws eks delete-access-entry`) and create new clusters with bootstrapClusterCreatorAdminPermissions=false.",
);

pub static STANDING_SESSION_PRINCIPAL: Rule = Rule::external(
    "standing-session-principal",
    Topic::Standing,
    &[Medium],
    "an access entry whose principal is an STS assumed-role session ARN (`arn:aws:sts::...:assumed-role/...`)",
    "EKS matches roles, not sessions: the entry never matches anyone. It is dead weight at best, and a sign that someone granted access by copy-pasting `aws sts get-caller-identity` output, bypassing review.",
    "Delete the entry and, if the access is needed, create one for the role ARN (`arn:aws:iam::ACCOUNT:role/NAME`).",
);

pub static UNTAGGED_ENTRY: Rule = Rule::external(
    "untagged-entry",
    Topic::Standing,
    &[Low],
    "an access entry missing a tag required with `--require-tag KEY` (repeatable; `AUDIT_REQUIRE_TAGS` in the Lambda; none by default)",
    "Entries made by infrastructure code carry its tags (owner, repository, ticket); an entry without them was usually made by hand, out of band, and nobody owns it.",
    "Find who made the entry (CloudTrail CreateAccessEntry), then bring it into infrastructure code with its tags or delete it.",
);

pub static STANDING_CROSS_ACCOUNT: Rule = Rule::external(
    "standing-cross-account",
    Topic::Standing,
    &[Medium],
    "an access entry for a principal in another account than the cluster's (what `cross-account-principal` grades on a change), unless it is a configured break-glass role or approved automation (known identities that reach across accounts by design)",
    "Access from outside the account is outside the account's IAM controls and audit; vendor and partner access tends to outlive the contract.",
    "Confirm the external account is a known partner or your own, with an owner and an end date; otherwise delete the entry.",
);

pub static STANDING_WILDCARD_SCOPE: Rule = Rule::external(
    "standing-wildcard-scope",
    Topic::Standing,
    &[Medium],
    "an associated access policy whose namespace scope contains a wildcard (what `wildcard-namespace-scope` grades on a change)",
    "A wildcard grants namespaces that do not exist yet: whoever can create `dev-anything` later inherits the grant.",
    "Replace the wildcard with the explicit namespaces, or confirm who may create matching namespaces.",
);

pub static STANDING_SECRET_READER: Rule = Rule::external(
    "standing-secret-reader",
    Topic::Standing,
    &[Medium],
    "an associated AmazonEKSAdminViewPolicy or AmazonEKSSecretReaderPolicy, at any scope (what `secret-read-granted` grades on a change)",
    "Reading Secrets yields service-account tokens and credentials: a read-only-looking grant that is an escalation path.",
    "Check that the principal needs Secrets; prefer AmazonEKSViewPolicy, or scope the grant to the namespaces it owns.",
);

pub static CONFIG_MAP_AUTH_MODE: Rule = Rule::external(
    "config-map-auth-mode",
    Topic::Standing,
    &[Medium, High],
    "authentication mode CONFIG_MAP: high; API_AND_CONFIG_MAP (or a mode this build does not know): medium",
    "While the aws-auth ConfigMap is honoured, anyone who can edit one Kubernetes object grants cluster access, invisibly to the EKS API, CloudTrail and this audit.",
    "Create access entries for every role aws-auth maps (`eks-access-watch migrate` plans them), then switch to API mode (`aws eks update-cluster-config --access-config authenticationMode=API`).",
);

pub static AUDIT_LOGGING_OFF: Rule = Rule::external(
    "audit-logging-off",
    Topic::Standing,
    &[Medium],
    "control-plane logging with `audit` or `authenticator` disabled",
    "Without audit and authenticator logs nobody can say who did what inside the cluster, or which IAM identity a Kubernetes user was.",
    "Enable them: `aws eks update-cluster-config --logging '{\"clusterLogging\":[{\"types\":[\"audit\",\"authenticator\"],\"enabled\":true}]}'`.",
);

pub static PUBLIC_ENDPOINT_OPEN: Rule = Rule::external(
    "public-endpoint-open",
    Topic::Standing,
    &[Low, High],
    "the public API endpoint is on: high when its CIDRs include 0.0.0.0/0 or ::/0 (or list none), else low",
    "An API server open to the internet turns any leaked credential or token into remote access and exposes the endpoint to scanning and to the next API-server vulnerability.",
    "Restrict publicAccessCidrs to your egress ranges, or turn the public endpoint off and use the private one.",
);

pub static DELETION_PROTECTION_OFF: Rule = Rule::external(
    "deletion-protection-off",
    Topic::Standing,
    &[Low],
    "deletion protection is off (or the API does not report it)",
    "Deletion protection stops a single mistaken or malicious call from destroying the cluster.",
    "Turn it on: `aws eks update-cluster-config --deletion-protection`.",
);

pub static NO_WORKING_BREAK_GLASS: Rule = Rule::external(
    "no-working-break-glass",
    Topic::Standing,
    &[High],
    "break-glass roles are configured and none of them has a STANDARD access entry holding ClusterAdmin on this cluster. Silent when none are configured, on CONFIG_MAP clusters (their access lives in aws-auth, which the EKS API does not show) and when an entry's policies could not be read",
    "The break-glass role is the way back in when everything else is broken; if it has no entry on a cluster, the emergency path fails exactly when it is needed.",
    "Create the entry and associate AmazonEKSClusterAdminPolicy at cluster scope for the break-glass role, then test the path.",
);

pub static TOO_MANY_ADMINS: Rule = Rule::external(
    "too-many-admins",
    Topic::Standing,
    &[Medium],
    "more principals holding ClusterAdmin or Admin (at any scope) than `--max-admins N` (default 5; `AUDIT_MAX_ADMINS` in the Lambda)",
    "Every admin is a path to full compromise; admin held by many is admin nobody reviews.",
    "Reduce admin to the pipeline, the break-glass role and a named few; give the others Edit or View in their namespaces.",
);

pub static AUDIT_INCOMPLETE: Rule = Rule::external(
    "audit-incomplete",
    Topic::Standing,
    &[Info, Low, Medium, High],
    "part of the state could not be read (a region or account, a cluster, its entries, an entry or its policies): graded as the highest severity of the rules it might hide; info when the thing was deleted while the audit ran",
    "An audit that silently skips what it could not read reports a clean bill of health for access nobody looked at.",
    "Fix the cause named (usually the reader role's permissions or trust policy in that account) and run the audit again.",
);

pub static FORWARDING_BROKEN: Rule = Rule::external(
    "forwarding-broken",
    Topic::Standing,
    &[High],
    "a member account's region whose eks-access-watch forwarding cannot be confirmed by the daily audit (through the reader role): a forwarding rule of templates/member-account.yaml missing or not enabled, events waiting in its dead-letter queue, or either unreadable",
    "The member region's changes reach the watcher only through its forwarding rules: a disabled or deleted rule, or a target that fails into the dead-letter queue, blinds the watcher to that account with every central alarm green.",
    "Re-enable or redeploy the member stack in that account and region (`aws events enable-rule --name <rule>`), redrive or read the dead-letter queue's events, and find who changed the rules (CloudTrail DisableRule, DeleteRule, RemoveTargets).",
);

pub static WATCH_COVERAGE_MISSING: Rule = Rule::external(
    "watch-coverage-missing",
    Topic::Standing,
    &[Medium],
    "a cluster whose aws-auth ConfigMap is live (authentication mode not API) without the watcher's subscription on its audit log group, or with audit logging off; or a member region with clusters and no forwarding rule at all",
    "Where aws-auth still grants access, a change to it shows only in the cluster's audit log; without the subscription (or the log) nobody sees it. A region without forwarding rules sends the watcher nothing.",
    "Turn on the cluster's audit log and list its log group in ClusterAuditLogGroups (or switch the cluster to API mode), or deploy the member stack in that region.",
);
