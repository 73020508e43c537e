//! Access policy associations: what a grant lets its holder do, where, and to whom it went.

use super::{Case, Eval, Hit, OnFailure, Rule, Topic, hit};
use crate::model::Change;
use crate::policy::PolicyClass;
use crate::severity::Severity::{Critical, High, Low, Medium};

pub static CLUSTER_ADMIN_GRANTED: Rule = Rule {
    id: "cluster-admin-granted",
    topic: Topic::Grants,
    severities: &[Medium, Critical],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "AssociateAccessPolicy of AmazonEKSClusterAdminPolicy; medium when the target is a break-glass role and the caller is approved",
    why: "ClusterAdmin is full control of the cluster and everything it can reach (secrets, service-account tokens, node roles). One association to the wrong role is a full compromise.",
    next_step: "Confirm the grant with the caller; if unexpected, run `aws eks disassociate-access-policy` for this principal and policy.",
    eval: Eval::Change(cluster_admin_granted),
};

fn cluster_admin_granted(c: &Case) -> Option<Hit> {
    let scope = c.event.change.access_scope()?;
    (c.policy_class() == Some(PolicyClass::ClusterAdmin)).then(|| Hit {
        severity: if c.target_break_glass && c.approved {
            Medium
        } else {
            Critical
        },
        summary: format!(
            "ClusterAdmin {} {} to {}{}",
            c.did("granted", "grant"),
            scope.describe(),
            c.target_name(),
            c.by()
        ),
    })
}

pub static ADMIN_GRANTED: Rule = Rule {
    id: "admin-granted",
    topic: Topic::Grants,
    severities: &[Medium, High],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "AssociateAccessPolicy of AmazonEKSAdminPolicy: high at cluster scope (or `*`), medium in namespaces",
    why: "Admin can create RoleBindings and read Secrets in its scope; at cluster scope that is nearly cluster-admin.",
    next_step: "Confirm the grant and its scope with the caller; narrow it to the team's namespaces or disassociate it.",
    eval: Eval::Change(admin_granted),
};

fn admin_granted(c: &Case) -> Option<Hit> {
    let scope = c.event.change.access_scope()?;
    (c.policy_class() == Some(PolicyClass::Admin)).then(|| Hit {
        severity: if scope.is_cluster_wide() {
            High
        } else {
            Medium
        },
        summary: format!(
            "Admin {} {} to {}{}",
            c.did("granted", "grant"),
            scope.describe(),
            c.target_name(),
            c.by()
        ),
    })
}

pub static SECRET_READ_GRANTED: Rule = Rule {
    id: "secret-read-granted",
    topic: Topic::Grants,
    severities: &[Medium, High],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "AssociateAccessPolicy of AmazonEKSAdminViewPolicy or AmazonEKSSecretReaderPolicy: high at cluster scope, medium in namespaces",
    why: "Reading Secrets yields service-account tokens and credentials: a read-only-looking grant that is an escalation path.",
    next_step: "Check that the principal needs Secrets; prefer AmazonEKSViewPolicy, or scope the grant to the namespaces it owns.",
    eval: Eval::Change(secret_read_granted),
};

fn secret_read_granted(c: &Case) -> Option<Hit> {
    let scope = c.event.change.access_scope()?;
    (c.policy_class() == Some(PolicyClass::SecretRead)).then(|| Hit {
        severity: if scope.is_cluster_wide() {
            High
        } else {
            Medium
        },
        summary: format!(
            "{} (reads Secrets) {} {} to {}{}",
            c.policy_short(),
            c.did("granted", "grant"),
            scope.describe(),
            c.target_name(),
            c.by()
        ),
    })
}

pub static SYSTEM_NAMESPACE_WRITE: Rule = Rule {
    id: "system-namespace-write",
    topic: Topic::Grants,
    severities: &[High],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "AssociateAccessPolicy of Edit or Admin whose scope reaches kube-system (cluster scope, `kube-system`, or a wildcard matching it)",
    why: "Write access to kube-system lets a principal replace system DaemonSets and controllers that run with node or cluster-wide privileges.",
    next_step: "Remove kube-system from the scope unless the principal operates cluster add-ons.",
    eval: Eval::Change(system_namespace_write),
};

fn system_namespace_write(c: &Case) -> Option<Hit> {
    let scope = c.event.change.access_scope()?;
    let writes = matches!(
        c.policy_class(),
        Some(PolicyClass::Edit | PolicyClass::Admin)
    );
    (writes && scope.covers("kube-system")).then(|| Hit {
        severity: High,
        summary: format!(
            "{} write access to kube-system {} to {} ({}){}",
            c.policy_short(),
            c.did("granted", "grant"),
            c.target_name(),
            scope.describe(),
            c.by()
        ),
    })
}

pub static WILDCARD_NAMESPACE_SCOPE: Rule = Rule {
    id: "wildcard-namespace-scope",
    topic: Topic::Grants,
    severities: &[Medium],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "a namespace access scope containing a wildcard (`dev-*`); `*` alone is treated as cluster scope by the other rules",
    why: "A wildcard grants namespaces that do not exist yet: whoever can create `dev-anything` later inherits the grant.",
    next_step: "Replace the wildcard with the explicit namespaces, or confirm who may create matching namespaces.",
    eval: Eval::Change(wildcard_namespace_scope),
};

fn wildcard_namespace_scope(c: &Case) -> Option<Hit> {
    let scope = c.event.change.access_scope()?;
    if !scope.has_wildcard() {
        return None;
    }
    let namespaces = &scope.namespaces;
    hit(
        Medium,
        format!(
            "{} {} with wildcard namespaces [{}]{} to {}{}",
            c.policy
                .as_ref()
                .map(|p| p.short_name())
                .unwrap_or("policy"),
            c.did("granted", "grant"),
            crate::sanitize::capped(namespaces, crate::sanitize::LIST_CAP),
            if namespaces.iter().any(|n| n == "*") {
                " (every namespace)"
            } else {
                ""
            },
            c.target_name(),
            c.by()
        ),
    )
}

pub static SERVICE_POLICY_GRANTED: Rule = Rule {
    id: "service-policy-granted",
    topic: Topic::Grants,
    severities: &[High],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "AssociateAccessPolicy of a service policy (Auto Mode, hybrid, HyperPod, add-on policies) to a person: an IAM user, an IAM Identity Center role, or an entry the EKS API reports as STANDARD",
    why: "Service policies carry node- or controller-level permissions meant for AWS-managed roles; on a human identity they are an unreviewed privilege path.",
    next_step: "Disassociate the policy from the person; give the node or service role its own entry of the right type.",
    eval: Eval::Change(service_policy_granted),
};

fn service_policy_granted(c: &Case) -> Option<Hit> {
    c.event.change.access_scope()?;
    (c.policy_class() == Some(PolicyClass::Service) && c.target_is_person()).then(|| Hit {
        severity: High,
        summary: format!(
            "Service policy {} {} to person {}{}",
            c.policy
                .as_ref()
                .map(|p| p.name.as_str())
                .unwrap_or_default(),
            c.did("granted", "grant"),
            c.target_name(),
            c.by()
        ),
    })
}

pub static UNKNOWN_ACCESS_POLICY: Rule = Rule {
    id: "unknown-access-policy",
    topic: Topic::Grants,
    severities: &[Medium],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "AssociateAccessPolicy of a policy ARN not in the known-policy table",
    why: "AWS adds access policies; a policy we cannot grade must be looked at by a human rather than assumed harmless.",
    next_step: "Look the policy up in the EKS user guide (access policy permissions) and add it to the known-policy table.",
    eval: Eval::Change(unknown_access_policy),
};

fn unknown_access_policy(c: &Case) -> Option<Hit> {
    c.event.change.access_scope()?;
    (c.policy_class().is_none_or(|p| p == PolicyClass::Unknown)).then(|| Hit {
        severity: Medium,
        summary: format!(
            "Unknown access policy {} {} to {}{}",
            c.policy
                .as_ref()
                .map(|p| p.name.as_str())
                .unwrap_or("(none given)"),
            c.did("associated", "association"),
            c.target_name(),
            c.by()
        ),
    })
}

pub static ACCESS_POLICY_ASSOCIATED: Rule = Rule {
    id: "access-policy-associated",
    topic: Topic::Grants,
    severities: &[Low],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "AssociateAccessPolicy of View, Edit, or a service policy to a non-person role (the grants the more specific rules do not grade)",
    why: "Routine grants are recorded so the history is complete, at a severity that stays quiet.",
    next_step: "No action needed if the change came from your usual pipeline.",
    eval: Eval::Change(access_policy_associated),
};

fn access_policy_associated(c: &Case) -> Option<Hit> {
    let scope = c.event.change.access_scope()?;
    let routine = match c.policy_class() {
        Some(PolicyClass::View | PolicyClass::Edit) => true,
        Some(PolicyClass::Service) => !c.target_is_person(),
        Some(
            PolicyClass::ClusterAdmin
            | PolicyClass::Admin
            | PolicyClass::SecretRead
            | PolicyClass::Unknown,
        )
        | None => false,
    };
    routine.then(|| Hit {
        severity: Low,
        summary: format!(
            "{} {} {} to {}{}",
            c.policy_short(),
            c.did("associated", "association"),
            scope.describe(),
            c.target_name(),
            c.by()
        ),
    })
}

/// Admin paths removed: an Admin/ClusterAdmin disassociation, or the deletion of a break-glass
/// role's entry (a deleted entry's policies are gone with it; offline we only know for
/// break-glass roles).
fn admin_removed(c: &Case) -> bool {
    match &c.event.change {
        Change::DisassociateAccessPolicy { .. } => matches!(
            c.policy_class(),
            Some(PolicyClass::ClusterAdmin | PolicyClass::Admin)
        ),
        Change::DeleteAccessEntry { .. } => c.target_break_glass,
        _ => false,
    }
}

pub static ADMIN_ACCESS_REMOVED: Rule = Rule {
    id: "admin-access-removed",
    topic: Topic::Grants,
    severities: &[Medium, High],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "DisassociateAccessPolicy of Admin/ClusterAdmin, or DeleteAccessEntry of a break-glass role; medium by an approved caller",
    why: "Removing admin paths is how an attacker locks responders out, and how a mistaken change leaves nobody able to fix the cluster.",
    next_step: "Check that at least one working admin path remains (`aws eks list-access-entries` + `list-associated-access-policies`).",
    eval: Eval::Change(admin_access_removed),
};

fn admin_access_removed(c: &Case) -> Option<Hit> {
    admin_removed(c).then(|| Hit {
        severity: if c.approved { Medium } else { High },
        summary: format!(
            "Admin access {} from {}{}{}",
            c.did("removed", "removal"),
            c.target_name(),
            c.policy
                .as_ref()
                .map(|p| format!(" ({})", p.short_name()))
                .unwrap_or_else(|| " (entry deleted)".into()),
            c.by()
        ),
    })
}

pub static ACCESS_POLICY_DISASSOCIATED: Rule = Rule {
    id: "access-policy-disassociated",
    topic: Topic::Grants,
    severities: &[Low],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "DisassociateAccessPolicy of any policy other than Admin/ClusterAdmin",
    why: "Removals are recorded so the history is complete; they rarely add risk.",
    next_step: "No action needed if the change was planned.",
    eval: Eval::Change(access_policy_disassociated),
};

fn access_policy_disassociated(c: &Case) -> Option<Hit> {
    match &c.event.change {
        Change::DisassociateAccessPolicy { .. } if !admin_removed(c) => hit(
            Low,
            format!(
                "{} {} from {}{}",
                c.policy
                    .as_ref()
                    .map(|p| p.short_name())
                    .unwrap_or("Access policy"),
                c.did("disassociated", "disassociation"),
                c.target_name(),
                c.by()
            ),
        ),
        _ => None,
    }
}
