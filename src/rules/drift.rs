//! Drift: what changed between a baseline (an earlier snapshot, or a hand-written declaration
//! of the intended state) and the access that exists now, whoever changed it. The comparison
//! lives in [`crate::audit::drift`]; the rules are documented and graded here.

use super::{Rule, Topic};
use crate::severity::Severity::{Critical, High, Info, Low, Medium};

pub static DRIFT_ENTRY_ADDED: Rule = Rule::external(
    "drift-entry-added",
    Topic::Drift,
    &[Medium, High],
    "an access entry exists that the baseline does not list (for a cluster whose entries the baseline lists): high when it holds ClusterAdmin or Admin (any scope), else medium",
    "An entry the intended state does not know was made outside the pipeline: by hand, by a tool nobody reviewed, or by an intruder keeping a way in.",
    "Find who made it (CloudTrail CreateAccessEntry for this principal); bring it into infrastructure code or delete it (`aws eks delete-access-entry`).",
);

pub static DRIFT_ENTRY_REMOVED: Rule = Rule::external(
    "drift-entry-removed",
    Topic::Drift,
    &[Medium, High],
    "an access entry the baseline lists no longer exists: high for a break-glass role, else medium",
    "A removed entry is either an unrecorded clean-up or someone cutting a path responders rely on; for the break-glass role it is the emergency path itself.",
    "Confirm the removal was intended; recreate the entry (and its policies) from infrastructure code if not.",
);

pub static DRIFT_POLICY_CHANGED: Rule = Rule::external(
    "drift-policy-changed",
    Topic::Drift,
    &[Low, Medium, High, Critical],
    "an entry both sides list differs in its access policies (associated, disassociated, or scope changed) or its Kubernetes groups, username or type: graded as the change rules grade the call that would make the same change (AssociateAccessPolicy, DisassociateAccessPolicy, UpdateAccessEntry or CreateAccessEntry) by a caller outside the pipeline; the finding names the change rule that decided",
    "Policies and groups are what an entry can do; a change the intended state does not know is an unreviewed grant or an unrecorded removal.",
    "Find who made the change in CloudTrail; revert it or bring it into infrastructure code.",
);

pub static DRIFT_CLUSTER_SETTING: Rule = Rule::external(
    "drift-cluster-setting",
    Topic::Drift,
    &[Info, Low, Medium, High],
    "a cluster setting differs from the baseline (authentication mode, public/private endpoint and its CIDRs, control-plane logging, deletion protection): graded as the UpdateClusterConfig change rules grade the same change; a baseline cluster that no longer exists: medium; a cluster the baseline does not list: low",
    "Cluster settings decide who can reach the API server and whether anyone can see what happened there; a setting changed outside the pipeline is a guardrail someone removed.",
    "Find the call in CloudTrail (UpdateClusterConfig; CreateCluster or DeleteCluster for a cluster that appeared or went); restore the setting, or update the baseline if the change was intended.",
);
