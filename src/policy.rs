//! The EKS access policies we know, and what each one means for risk.
//!
//! AWS adds access policies over time (Auto Mode, hybrid nodes, HyperPod, AI ops...). A policy
//! not in this table is reported by `unknown-access-policy` instead of being guessed at: the
//! table is the one place to teach the watcher a new one.

use crate::arn;

/// What an access policy lets its holder do, for grading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyClass {
    /// Everything on the cluster (Kubernetes `cluster-admin`).
    ClusterAdmin,
    /// Most things, usually namespaced (Kubernetes `admin`).
    Admin,
    /// Read everything including Secrets.
    SecretRead,
    /// Write most workload objects (Kubernetes `edit`); reads Secrets in its scope.
    Edit,
    /// Read most objects, no Secrets (Kubernetes `view`).
    View,
    /// Meant for AWS service or node roles (Auto Mode, hybrid nodes, HyperPod, add-ons).
    Service,
    /// A policy we do not know.
    Unknown,
}

/// A known policy: ARN name, class, short name for alerts.
pub struct KnownPolicy {
    pub name: &'static str,
    pub class: PolicyClass,
    pub short: &'static str,
}

/// Every access policy the catalogue knows (from `aws eks list-access-policies` and the EKS
/// user guide's "access policy permissions" page).
pub const KNOWN_POLICIES: &[KnownPolicy] = &[
    KnownPolicy {
        name: "AmazonEKSClusterAdminPolicy",
        class: PolicyClass::ClusterAdmin,
        short: "ClusterAdmin",
    },
    KnownPolicy {
        name: "AmazonEKSAdminPolicy",
        class: PolicyClass::Admin,
        short: "Admin",
    },
    KnownPolicy {
        name: "AmazonEKSAdminViewPolicy",
        class: PolicyClass::SecretRead,
        short: "AdminView",
    },
    KnownPolicy {
        name: "AmazonEKSSecretReaderPolicy",
        class: PolicyClass::SecretRead,
        short: "SecretReader",
    },
    KnownPolicy {
        name: "AmazonEKSEditPolicy",
        class: PolicyClass::Edit,
        short: "Edit",
    },
    KnownPolicy {
        name: "AmazonEKSViewPolicy",
        class: PolicyClass::View,
        short: "View",
    },
    KnownPolicy {
        name: "AmazonEKSAutoNodePolicy",
        class: PolicyClass::Service,
        short: "AutoNode",
    },
    KnownPolicy {
        name: "AmazonEKSBlockStoragePolicy",
        class: PolicyClass::Service,
        short: "BlockStorage",
    },
    KnownPolicy {
        name: "AmazonEKSComputePolicy",
        class: PolicyClass::Service,
        short: "Compute",
    },
    KnownPolicy {
        name: "AmazonEKSLoadBalancingPolicy",
        class: PolicyClass::Service,
        short: "LoadBalancing",
    },
    KnownPolicy {
        name: "AmazonEKSNetworkingPolicy",
        class: PolicyClass::Service,
        short: "Networking",
    },
    KnownPolicy {
        name: "AmazonEKSHybridPolicy",
        class: PolicyClass::Service,
        short: "Hybrid",
    },
    KnownPolicy {
        name: "AmazonEKSClusterInsightsPolicy",
        class: PolicyClass::Service,
        short: "ClusterInsights",
    },
    KnownPolicy {
        name: "AmazonSagemakerHyperpodClusterPolicy",
        class: PolicyClass::Service,
        short: "HyperpodCluster",
    },
    KnownPolicy {
        name: "AmazonSagemakerHyperpodControllerPolicy",
        class: PolicyClass::Service,
        short: "HyperpodController",
    },
    KnownPolicy {
        name: "AmazonSagemakerHyperpodSystemNamespacePolicy",
        class: PolicyClass::Service,
        short: "HyperpodSystemNamespace",
    },
    KnownPolicy {
        name: "AmazonEMRJobPolicy",
        class: PolicyClass::Service,
        short: "EMRJob",
    },
    KnownPolicy {
        name: "AmazonAIOpsAssistantPolicy",
        class: PolicyClass::Service,
        short: "AIOpsAssistant",
    },
    KnownPolicy {
        name: "AmazonARCRegionSwitchScalingPolicy",
        class: PolicyClass::Service,
        short: "ARCRegionSwitchScaling",
    },
];

/// A policy ARN resolved against the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyInfo {
    /// The policy name from the ARN (`AmazonEKSViewPolicy`), or the raw text when not an ARN.
    pub name: String,
    pub class: PolicyClass,
    short: Option<&'static str>,
}

impl PolicyInfo {
    /// `ClusterAdmin`, `View`, or the full name of an unknown policy.
    pub fn short_name(&self) -> &str {
        self.short.unwrap_or(&self.name)
    }
}

/// Resolve a (decoded or encoded) policy ARN.
pub fn classify_policy(policy_arn: &str) -> PolicyInfo {
    let name = arn::access_policy_name(policy_arn).unwrap_or_else(|| arn::decode(policy_arn));
    match KNOWN_POLICIES.iter().find(|p| p.name == name) {
        Some(p) => PolicyInfo {
            name,
            class: p.class,
            short: Some(p.short),
        },
        None => PolicyInfo {
            name,
            class: PolicyClass::Unknown,
            short: None,
        },
    }
}

/// The creator's bootstrap entry (`bootstrapClusterCreatorAdminPermissions`) is made by EKS
/// with the cluster: its creation predates or equals the cluster's. The tolerance covers
/// timestamps written a moment apart within the one CreateCluster call; entries that
/// infrastructure code adds once the cluster is ACTIVE come minutes later and never match.
pub const CREATOR_ENTRY_TOLERANCE_SECS: i64 = 60;

/// Which of a cluster's access entries is the creator's bootstrap entry: among the STANDARD
/// entries holding ClusterAdmin (`candidate`), the earliest whose creation predates or equals
/// the cluster's (within [`CREATOR_ENTRY_TOLERANCE_SECS`]). `created` gives an entry's creation
/// time (Unix seconds). Needs both times; without them nothing is recognised. The one
/// definition `audit` (`creator-admin-present`) and `migrate --live`
/// (`migration-creator-admin`) share.
pub fn creator_entry<T>(
    cluster_created: Option<i64>,
    entries: &[T],
    candidate: impl Fn(&T) -> bool,
    created: impl Fn(&T) -> Option<i64>,
) -> Option<&T> {
    let cutoff = cluster_created? + CREATOR_ENTRY_TOLERANCE_SECS;
    entries
        .iter()
        .filter(|e| candidate(e))
        .filter_map(|e| Some((created(e)?, e)))
        .filter(|(at, _)| *at <= cutoff)
        .min_by_key(|(at, _)| *at)
        .map(|(_, e)| e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_policies_resolve_in_every_partition() {
        for partition in ["aws", "aws-cn", "aws-us-gov"] {
            let p = classify_policy(&format!(
                "arn:{partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
            ));
            assert_eq!(p.class, PolicyClass::ClusterAdmin);
            assert_eq!(p.short_name(), "ClusterAdmin");
        }
    }

    #[test]
    fn a_new_aws_policy_is_unknown_not_guessed() {
        let p =
            classify_policy("arn:aws:eks::aws:cluster-access-policy/AmazonEKSFutureAdminPolicy");
        assert_eq!(p.class, PolicyClass::Unknown);
        assert_eq!(p.short_name(), "AmazonEKSFutureAdminPolicy");
    }

    #[test]
    fn policies_are_recognised_by_name_and_non_eks_arns_are_unknown() {
        let p =
            classify_policy("arn:aws:eks::111122223333:cluster-access-policy/AmazonEKSViewPolicy");
        assert_eq!(
            p.class,
            PolicyClass::View,
            "the name decides; EKS only accepts AWS-owned policies"
        );
        let p = classify_policy("arn:aws:iam::aws:policy/AdministratorAccess");
        assert_eq!(p.class, PolicyClass::Unknown);
    }

    #[test]
    fn the_creator_entry_is_the_earliest_admin_made_with_the_cluster() {
        // (is a STANDARD ClusterAdmin entry, created at); the cluster was created at 1000.
        let entries = [
            (true, Some(1_000 + 8 * 60)),
            (false, Some(990)),
            (true, Some(1_000)),
            (true, None),
        ];
        let pick = |cluster, entries: &[(bool, Option<i64>)]| {
            creator_entry(cluster, entries, |e| e.0, |e| e.1).map(|e| e.1)
        };
        assert_eq!(pick(Some(1_000), &entries), Some(Some(1_000)));
        assert_eq!(
            pick(Some(970), &entries),
            Some(Some(1_000)),
            "within a minute"
        );
        assert_eq!(pick(None, &entries), None, "no cluster time, nothing");
        assert_eq!(
            pick(Some(1_000), &entries[..1]),
            None,
            "made once the cluster was ACTIVE: an admin the pipeline added"
        );
        assert_eq!(pick(Some(1_000), &entries[1..2]), None, "not a candidate");
    }
}
