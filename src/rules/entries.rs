//! Access entries: who gets an entry, of which type, with which Kubernetes groups and username;
//! and what is left when entries or admin policies go.

use super::{Case, Eval, Hit, OnFailure, Rule, Topic, hit};
use crate::arn;
use crate::model::Enrichment;
use crate::model::{Change, EntrySpec};
use crate::severity::Severity::{Critical, High, Low, Medium};

pub static LOCKOUT_RISK: Rule = Rule {
    id: "lockout-risk",
    topic: Topic::Entries,
    severities: &[Critical],
    on_failure: OnFailure::Silent,
    qualifier: None,
    fires_on: "a switch to API mode, an entry deletion or an admin disassociation after which the EKS API shows no STANDARD entry holding ClusterAdmin/Admin at cluster scope (needs enrichment)",
    why: "With no admin entry left (and the aws-auth ConfigMap ignored in API mode) nobody can administer the cluster; recovery needs the EKS API and someone allowed to call it.",
    next_step: "Create an access entry with AmazonEKSClusterAdminPolicy for the break-glass role now, before sessions expire.",
    eval: Eval::Change(lockout_risk),
};

fn lockout_risk(c: &Case) -> Option<Hit> {
    let risky = c.event.change.may_leave_no_admin();
    (risky && c.enrichment.is_some_and(Enrichment::no_admin_left)).then(|| Hit {
        severity: Critical,
        summary: format!(
            "No admin access entry is left{} after {}{}",
            c.on_cluster(),
            c.event.event_name(),
            c.by()
        ),
    })
}

pub static BREAK_GLASS_MODIFIED: Rule = Rule {
    id: "break-glass-modified",
    topic: Topic::Entries,
    severities: &[Medium, High],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "any access-entry or policy change whose target is a break-glass role; medium by an approved caller",
    why: "The break-glass path must work when everything else is broken; any change to it (and above all its removal) can cost the only way back in.",
    next_step: "Verify the break-glass role still has its ClusterAdmin entry and that the change was reviewed.",
    eval: Eval::Change(break_glass_modified),
};

fn break_glass_modified(c: &Case) -> Option<Hit> {
    (c.event.change.is_access_change() && c.target_break_glass).then(|| Hit {
        severity: if c.approved { Medium } else { High },
        summary: format!(
            "Break-glass role {} {} ({}){}",
            c.target_name(),
            c.did("changed", "change"),
            c.event.event_name(),
            c.by()
        ),
    })
}

pub static SYSTEM_GROUP_REQUESTED: Rule = Rule {
    id: "system-group-requested",
    topic: Topic::Entries,
    severities: &[High],
    on_failure: OnFailure::Keep,
    qualifier: None,
    fires_on: "Create/UpdateAccessEntry with a kubernetesGroup or username starting with `system:`",
    why: "EKS rejects `system:` names; asking for `system:masters` is an attempt to become cluster-admin outside access policies, a red flag even when it fails.",
    next_step: "Ask the caller why it requested a system: identity; treat an unexplained attempt as hostile.",
    eval: Eval::Change(system_group_requested),
};

fn system_group_requested(c: &Case) -> Option<Hit> {
    let e = c.event.change.entry()?;
    let mut names: Vec<&str> = e.kubernetes_groups.iter().map(String::as_str).collect();
    names.extend(e.username.as_deref());
    let system: Vec<&str> = names
        .into_iter()
        .filter(|n| n.trim_start().to_ascii_lowercase().starts_with("system:"))
        .collect();
    (!system.is_empty()).then(|| Hit {
        severity: High,
        summary: format!(
            "System identity [{}] {} for {}{}",
            crate::sanitize::capped(&system, crate::sanitize::LIST_CAP),
            c.did("requested", "request"),
            c.target_name(),
            c.by()
        ),
    })
}

pub static PRIVILEGED_GROUP_NAME: Rule = Rule {
    id: "privileged-group-name",
    topic: Topic::Entries,
    severities: &[Medium],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "Create/UpdateAccessEntry with a group named like an admin group (cluster-admin(s), masters, admin(s), administrators, root, superuser(s))",
    why: "Groups are bound to RBAC roles inside the cluster, invisible to the EKS API; a group named for admins usually is one.",
    next_step: "Check the ClusterRoleBindings for that group (`kubectl get clusterrolebindings -o wide`).",
    eval: Eval::Change(privileged_group_name),
};

fn privileged_group_name(c: &Case) -> Option<Hit> {
    let e = c.event.change.entry()?;
    let privileged: Vec<&str> = e
        .kubernetes_groups
        .iter()
        .map(String::as_str)
        .filter(|g| is_privileged_group(g))
        .collect();
    (!privileged.is_empty()).then(|| Hit {
        severity: Medium,
        summary: format!(
            "Privileged-looking group [{}] {} to {}{}",
            crate::sanitize::capped(&privileged, crate::sanitize::LIST_CAP),
            c.did("given", "grant"),
            c.target_name(),
            c.by()
        ),
    })
}

/// Group names that conventionally carry admin RBAC bindings (last `:`/`/` segment, any case).
pub(crate) fn is_privileged_group(group: &str) -> bool {
    const NAMES: &[&str] = &[
        "admin",
        "admins",
        "administrator",
        "administrators",
        "cluster-admin",
        "cluster-admins",
        "clusteradmin",
        "clusteradmins",
        "masters",
        "master",
        "root",
        "superuser",
        "superusers",
    ];
    let last = group
        .rsplit([':', '/'])
        .next()
        .unwrap_or(group)
        .trim()
        .to_ascii_lowercase();
    NAMES.contains(&last.as_str())
        || last.ends_with("-cluster-admin")
        || last.ends_with("-cluster-admins")
}

pub static NODE_IDENTITY_GRANTED: Rule = Rule {
    id: "node-identity-granted",
    topic: Topic::Entries,
    severities: &[Low, Medium],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "CreateAccessEntry of type EC2, EC2_LINUX, EC2_WINDOWS, FARGATE_LINUX, HYBRID_LINUX, HYPERPOD_LINUX (or an unknown type): low by an approved caller or AWS, else medium",
    why: "Node entries put the role in `system:nodes`: any workload or person able to use that role acts as a node (read pods' secrets, impersonate kubelets).",
    next_step: "Confirm the role is only used by node instances (trust policy allows ec2.amazonaws.com only).",
    eval: Eval::Change(node_identity_granted),
};

fn node_identity_granted(c: &Case) -> Option<Hit> {
    let Change::CreateAccessEntry(e) = &c.event.change else {
        return None;
    };
    let t = e.entry_type.as_ref().filter(|t| t.is_node_identity())?;
    hit(
        if c.approved { Low } else { Medium },
        format!(
            "Node identity ({t}) {} to {}{}",
            c.did("granted", "grant"),
            c.target_name(),
            c.by()
        ),
    )
}

pub static SESSION_PRINCIPAL_ENTRY: Rule = Rule {
    id: "session-principal-entry",
    topic: Topic::Entries,
    severities: &[Low],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "an access change whose principalArn is an STS assumed-role session ARN",
    why: "EKS matches roles, not sessions: such an entry never matches anyone (EKS rejects it). It signals a misunderstanding or a probe.",
    next_step: "Use the role ARN (arn:aws:iam::<account>:role/<name>) instead of the session ARN.",
    eval: Eval::Change(session_principal_entry),
};

fn session_principal_entry(c: &Case) -> Option<Hit> {
    let session = c.target.is_some_and(arn::is_sts_session);
    (c.event.change.is_access_change() && session).then(|| Hit {
        severity: Low,
        summary: format!(
            "Access entry for session ARN {} {} (never matches a caller){}",
            c.target_name(),
            c.did("requested", "request"),
            c.by()
        ),
    })
}

pub static ACCESS_ENTRY_CREATED: Rule = Rule {
    id: "access-entry-created",
    topic: Topic::Entries,
    severities: &[Low],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "CreateAccessEntry",
    why: "Every new way into the cluster is recorded.",
    next_step: "No action needed if the change came from your usual pipeline.",
    eval: Eval::Change(access_entry_created),
};

fn access_entry_created(c: &Case) -> Option<Hit> {
    match &c.event.change {
        Change::CreateAccessEntry(e) => hit(Low, entry_summary(c, e, "created", "creation")),
        _ => None,
    }
}

pub static ACCESS_ENTRY_UPDATED: Rule = Rule {
    id: "access-entry-updated",
    topic: Topic::Entries,
    severities: &[Low],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "UpdateAccessEntry",
    why: "Group and username changes alter RBAC bindings without any policy change.",
    next_step: "No action needed if the change came from your usual pipeline.",
    eval: Eval::Change(access_entry_updated),
};

fn access_entry_updated(c: &Case) -> Option<Hit> {
    match &c.event.change {
        Change::UpdateAccessEntry(e) => hit(Low, entry_summary(c, e, "updated", "update")),
        _ => None,
    }
}

pub static ACCESS_ENTRY_DELETED: Rule = Rule {
    id: "access-entry-deleted",
    topic: Topic::Entries,
    severities: &[Low],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "DeleteAccessEntry",
    why: "Every removed way into the cluster is recorded.",
    next_step: "No action needed if the removal was planned.",
    eval: Eval::Change(access_entry_deleted),
};

fn access_entry_deleted(c: &Case) -> Option<Hit> {
    match &c.event.change {
        Change::DeleteAccessEntry { .. } => hit(
            Low,
            format!(
                "Access entry for {} {}{}",
                c.target_name(),
                c.did("deleted", "deletion"),
                c.by()
            ),
        ),
        _ => None,
    }
}

fn entry_summary(c: &Case, e: &EntrySpec, done: &str, attempt: &str) -> String {
    let mut detail = Vec::new();
    if let Some(t) = &e.entry_type {
        detail.push(format!("type {t}"));
    }
    if !e.kubernetes_groups.is_empty() {
        detail.push(format!(
            "groups [{}]",
            crate::sanitize::capped(&e.kubernetes_groups, crate::sanitize::LIST_CAP)
        ));
    }
    if let Some(u) = &e.username {
        detail.push(format!("username {u}"));
    }
    let detail = if detail.is_empty() {
        String::new()
    } else {
        format!(" ({})", detail.join(", "))
    };
    format!(
        "Access entry for {} {}{detail}{}",
        c.target_name(),
        c.did(done, attempt),
        c.by()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privileged_group_names() {
        for g in [
            "cluster-admins",
            "masters",
            "team:admins",
            "org/Administrators",
            "eks-cluster-admin",
        ] {
            assert!(is_privileged_group(g), "{g}");
        }
        for g in ["team:payments", "viewers", "admin-tools-readers"] {
            assert!(!is_privileged_group(g), "{g}");
        }
    }
}
