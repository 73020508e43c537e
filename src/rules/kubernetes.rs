//! The other half of cluster access, from the EKS audit log: the aws-auth ConfigMap (IAM
//! principals mapped to Kubernetes users and groups, honoured in `CONFIG_MAP` and
//! `API_AND_CONFIG_MAP` modes) and the RBAC bindings that decide what those users and the
//! groups named by access entries may do. CloudTrail never sees either.
//!
//! The content rules (`system:masters`, whole accounts, session ARNs, role paths) read the
//! rows of the sections a change set, as they stand after it: a row is shown as `(added)` or
//! `(kept)` when the previous content is known, and plainly when it is not (an update or a
//! patch does not carry the object as it was).

use super::{Case, Eval, Hit, OnFailure, Rule, Topic, hit};
use crate::arn;
use crate::awsauth::{Mapping, Row, RowChange, Section};
use crate::model::{
    AuthMode, AwsAuthChange, BindingChange, Change, Primitive, RoleChange, is_session_mapping,
    is_system_masters, role_has_path,
};
use crate::operation::Verb;
use crate::severity::Severity::{Critical, High, Info, Low, Medium};

/// At most this many rows are named in one summary; the rest are counted.
const MAX_ROWS: usize = 6;

fn aws_auth<'c>(c: &'c Case) -> Option<&'c AwsAuthChange> {
    match &c.event.change {
        Change::AwsAuth(a) => Some(a),
        _ => None,
    }
}

fn role<'c>(c: &'c Case) -> Option<&'c RoleChange> {
    match &c.event.change {
        Change::Role(r) => Some(r),
        _ => None,
    }
}

fn binding<'c>(c: &'c Case) -> Option<&'c BindingChange> {
    match &c.event.change {
        Change::RoleBinding(b) => Some(b),
        _ => None,
    }
}

fn verb(c: &Case) -> Option<Verb> {
    c.event.operation.kubernetes_call().map(|k| k.verb)
}

/// `created`, `changed` or `deleted` (`creation attempted (failed: …)` for a denied call).
fn done(c: &Case) -> Option<String> {
    Some(match verb(c)? {
        Verb::Create => c.did("created", "creation"),
        Verb::Update | Verb::Patch => c.did("changed", "change"),
        Verb::Delete | Verb::DeleteCollection => c.did("deleted", "deletion"),
    })
}

/// `a, b, c and 4 more`.
fn list(items: Vec<String>) -> String {
    crate::sanitize::capped(&items, MAX_ROWS)
}

/// `role/platform-admin`, with the account when it is not the cluster's.
fn principal(c: &Case, arn: &str) -> String {
    let mut text = arn::short_name(arn);
    if let Some(account) = arn::account_of(arn)
        && !c.event.account.is_empty()
        && account != c.event.account
    {
        text.push_str(&format!(" of account {account}"));
    }
    text
}

/// `role/platform-admin as admin [system:masters]`.
fn mapping(c: &Case, m: &Mapping) -> String {
    let mut text = principal(c, &m.arn);
    if let Some(u) = &m.username {
        text.push_str(&format!(" as {u}"));
    }
    if !m.groups.is_empty() {
        text.push_str(&format!(
            " [{}]",
            crate::sanitize::capped(&m.groups, crate::sanitize::LIST_CAP)
        ));
    }
    text
}

fn row(c: &Case, r: &Row) -> String {
    match r {
        Row::Mapping(m) => mapping(c, m),
        Row::Account(a) => format!("account {a}"),
    }
}

/// `; the previous content is not in the audit event` (what the event lacked), or nothing.
fn notes(notes: &[String]) -> String {
    notes.iter().map(|n| format!("; {n}")).collect()
}

/// The rows of an aws-auth change's sets, after it, that match `pick`, shown by `show` with
/// their state (`role/ci-runner (added)`) and listed; `None` when there are none.
fn rows_where(
    c: &Case,
    pick: impl Fn(&Row) -> bool,
    show: impl Fn(&Row) -> String,
) -> Option<String> {
    let rows: Vec<String> = aws_auth(c)?
        .rows_after()
        .iter()
        .filter(|(_, r)| pick(r))
        .map(|(state, r)| format!("{}{}", show(r), state.note()))
        .collect();
    (!rows.is_empty()).then(|| list(rows))
}

/// The principal or account a row maps.
fn mapped(c: &Case, r: &Row) -> String {
    match r {
        Row::Mapping(m) => principal(c, &m.arn),
        Row::Account(a) => format!("account {a}"),
    }
}

fn in_api_mode(c: &Case) -> bool {
    c.enrichment
        .and_then(|e| e.cluster.as_ref())
        .and_then(|cl| cl.authentication_mode.as_ref())
        == Some(&AuthMode::Api)
}

pub static AWS_AUTH_DELETED: Rule = Rule {
    id: "aws-auth-deleted",
    topic: Topic::Kubernetes,
    severities: &[High],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "delete of configmaps/aws-auth in kube-system, or deletecollection of kube-system's ConfigMaps",
    why: "Every IAM principal that reaches the cluster through aws-auth (in CONFIG_MAP mode: everyone but the cluster creator; node roles included) loses access at once: nodes stop joining, admins are locked out.",
    next_step: "Restore aws-auth from your source of truth now (`kubectl apply -f aws-auth.yaml` by an identity that still has access), then find out who deleted it.",
    eval: Eval::Change(aws_auth_deleted),
};

fn aws_auth_deleted(c: &Case) -> Option<Hit> {
    let a = aws_auth(c)?;
    let what = match verb(c)? {
        Verb::DeleteCollection => "Every ConfigMap of kube-system (aws-auth with them)",
        Verb::Delete => "aws-auth ConfigMap",
        Verb::Create | Verb::Update | Verb::Patch => return None,
    };
    let lost = match a.row_changes() {
        Some(rows) if !rows.is_empty() => format!(
            ": {} mapping(s) gone ({})",
            rows.len(),
            list(
                rows.iter()
                    .map(|r| match r {
                        RowChange::Removed(r) | RowChange::Added(r) => row(c, r),
                        RowChange::Changed { after, .. } => mapping(c, after),
                    })
                    .collect()
            )
        ),
        _ => String::new(),
    };
    hit(
        High,
        format!(
            "{what} {}{}{lost}{}{}",
            c.did("deleted", "deletion"),
            c.on_cluster(),
            c.by(),
            notes(&a.notes)
        ),
    )
}

pub static AWS_AUTH_CREATED: Rule = Rule {
    id: "aws-auth-created",
    topic: Topic::Kubernetes,
    severities: &[Medium],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "create of configmaps/aws-auth in kube-system (EKS logs it at Metadata level: the content is usually not in the event)",
    why: "A new aws-auth opens the CONFIG_MAP way into the cluster: from now on every principal it maps may authenticate, outside access entries and CloudTrail.",
    next_step: "Read the new ConfigMap (`kubectl get configmap aws-auth -n kube-system -o yaml`) and check every mapping against your source of truth.",
    eval: Eval::Change(aws_auth_created),
};

fn aws_auth_created(c: &Case) -> Option<Hit> {
    let a = aws_auth(c)?;
    if verb(c)? != Verb::Create {
        return None;
    }
    let content = match &a.after {
        Some(after) => format!(
            " mapping {} role(s), {} user(s), {} account(s)",
            after.roles.len(),
            after.users.len(),
            after.accounts.len()
        ),
        None => String::new(),
    };
    hit(
        Medium,
        format!(
            "aws-auth ConfigMap {}{content}{}{}{}",
            c.did("created", "creation"),
            c.on_cluster(),
            c.by(),
            notes(&a.notes)
        ),
    )
}

pub static AWS_AUTH_SYSTEM_MASTERS: Rule = Rule {
    id: "aws-auth-system-masters",
    topic: Topic::Kubernetes,
    severities: &[Critical],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "a mapping to the `system:masters` group added or kept by an aws-auth change (in a section the change sets)",
    why: "system:masters is unrestricted cluster-admin that no RBAC rule can limit or revoke; the classic persistence move is one more mapRoles row with it.",
    next_step: "Confirm each system:masters mapping is intended; move admins to access entries with AmazonEKSClusterAdminPolicy and remove the mapping.",
    eval: Eval::Change(aws_auth_system_masters),
};

fn aws_auth_system_masters(c: &Case) -> Option<Hit> {
    let rows = rows_where(
        c,
        |r| matches!(r, Row::Mapping(m) if is_system_masters(m)),
        |r| mapped(c, r),
    )?;
    hit(
        Critical,
        format!(
            "{rows} {} in aws-auth{}{}",
            c.did("mapped to system:masters", "mapping to system:masters"),
            c.on_cluster(),
            c.by()
        ),
    )
}

pub static AWS_AUTH_ACCOUNT_MAPPED: Rule = Rule {
    id: "aws-auth-account-mapped",
    topic: Topic::Kubernetes,
    severities: &[High],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "mapAccounts holds an account after an aws-auth change that sets it",
    why: "mapAccounts lets every IAM user and role of the account authenticate (as its ARN): one compromised principal anywhere in that account is in the cluster.",
    next_step: "Replace the account mapping with mapRoles/mapUsers rows (or access entries) for the principals that need access.",
    eval: Eval::Change(aws_auth_account_mapped),
};

fn aws_auth_account_mapped(c: &Case) -> Option<Hit> {
    let rows = rows_where(c, |r| matches!(r, Row::Account(_)), |r| mapped(c, r))?;
    hit(
        High,
        format!(
            "aws-auth mapAccounts {} {rows}{} (every IAM principal there may authenticate){}",
            c.did("maps", "mapping of"),
            c.on_cluster(),
            c.by()
        ),
    )
}

pub static AWS_AUTH_MODIFIED: Rule = Rule {
    id: "aws-auth-modified",
    topic: Topic::Kubernetes,
    severities: &[Info, Low, Medium],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "update or patch of configmaps/aws-auth: names the mapRoles/mapUsers/mapAccounts rows added, removed or changed (from the request and response objects), how a patch reshaped the sections (JSON-patch `remove`, `move`, `copy`; strategic-merge `$patch: replace`/`delete`, `$retainKeys`) and which sections it set to content the event does not show; medium, low by an approved caller or EKS itself, info when no section is set (metadata or other data keys only)",
    why: "aws-auth is the CONFIG_MAP way into the cluster: any row added is a new way in that neither access entries nor CloudTrail show.",
    next_step: "Compare the change with your source of truth (`kubectl get configmap aws-auth -n kube-system -o yaml`); revert rows nobody planned.",
    eval: Eval::Change(aws_auth_modified),
};

fn aws_auth_modified(c: &Case) -> Option<Hit> {
    let a = aws_auth(c)?;
    let done = match verb(c)? {
        Verb::Update => c.did("updated", "update"),
        Verb::Patch => c.did("patched", "patch"),
        Verb::Create | Verb::Delete | Verb::DeleteCollection => return None,
    };
    let (severity, what) = if a.touched.is_empty() {
        let what = if a.patch_effects.is_empty() {
            " (metadata only)".to_string()
        } else {
            patch_effects(a)
        };
        (Info, format!(": no mapping section set{what}"))
    } else {
        let what = format!("{}{}", changed_rows(c, a), patch_effects(a));
        (if c.approved { Low } else { Medium }, what)
    };
    let mode = if in_api_mode(c) {
        " (the cluster is in API mode: aws-auth is not read)"
    } else {
        ""
    };
    hit(
        severity,
        format!(
            "aws-auth {done}{}{what}{mode}{}{}",
            c.on_cluster(),
            c.by(),
            notes(&a.notes)
        ),
    )
}

/// ` (the patch moves mapRoles to data key `old`)`: how a patch reshaped the sections, or nothing.
fn patch_effects(a: &AwsAuthChange) -> String {
    if a.patch_effects.is_empty() {
        return String::new();
    }
    format!(" (the patch {})", a.patch_effects.join(", "))
}

/// `: mapRoles +role/x [system:masters], -user/y` when both versions are known, else the
/// sections set and what they hold now; sections whose content the event does not show are
/// said to be unknown, so that a change is never reported as "no mapping changed" unseen.
fn changed_rows(c: &Case, a: &AwsAuthChange) -> String {
    let mut parts = Vec::new();
    if let Some(changes) = a.row_changes() {
        let items: Vec<String> = changes
            .iter()
            .map(|ch| match ch {
                RowChange::Added(r) => format!("+{} {}", r.section(), row(c, r)),
                RowChange::Removed(r) => format!("-{} {}", r.section(), row(c, r)),
                RowChange::Changed { before, after } => format!(
                    "~{} {} (was {})",
                    Section::from(after.kind),
                    mapping(c, after),
                    mapping(c, before)
                ),
            })
            .collect();
        if !items.is_empty() {
            parts.push(list(items));
        } else if a.unknown.is_empty() {
            parts.push("no mapping changed".to_string());
        }
    } else if let Some(after) = &a.after {
        // No previous content: what the known sections hold now.
        for s in a.known_touched() {
            let rows: Vec<String> = after.rows(s).iter().map(|r| row(c, r)).collect();
            parts.push(match rows.len() {
                0 => format!("{s} now empty"),
                n => format!("{s} now {n} row(s): {}", list(rows)),
            });
        }
    }
    // Without content at all, the notes say why (no body, or a malformed one).
    for (s, why) in &a.unknown {
        parts.push(format!("{s} now unknown ({why})"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(": {}", parts.join("; "))
    }
}

pub static AWS_AUTH_SESSION_ARN: Rule = Rule {
    id: "aws-auth-session-arn",
    topic: Topic::Kubernetes,
    severities: &[Low],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "an aws-auth change that sets a mapping of an STS assumed-role session ARN (`arn:aws:sts::...:assumed-role/...`)",
    why: "aws-auth matches the role behind a session, never the session ARN: the mapping matches no caller, so whoever relies on it has no access (or someone is probing).",
    next_step: "Map the role ARN (arn:aws:iam::<account>:role/<name>) instead of the session ARN.",
    eval: Eval::Change(aws_auth_session_arn),
};

fn aws_auth_session_arn(c: &Case) -> Option<Hit> {
    let rows = rows_where(
        c,
        |r| matches!(r, Row::Mapping(m) if is_session_mapping(m)),
        |r| mapped(c, r),
    )?;
    hit(
        Low,
        format!(
            "aws-auth {} session ARN {rows}: it never matches a caller{}{}",
            c.did("maps", "mapping of"),
            c.on_cluster(),
            c.by()
        ),
    )
}

pub static AWS_AUTH_ROLE_PATH: Rule = Rule {
    id: "aws-auth-role-path",
    topic: Topic::Kubernetes,
    severities: &[Low],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "an aws-auth change that sets a mapRoles row whose role ARN has a path (`role/teams/x`, IAM Identity Center's `role/aws-reserved/sso.amazonaws.com/...`)",
    why: "aws-auth compares a caller's role ARN without its path, so a rolearn written with one matches nobody: the mapping silently does not work.",
    next_step: "Write the role ARN without its path (arn:aws:iam::<account>:role/<name>).",
    eval: Eval::Change(aws_auth_role_path),
};

fn aws_auth_role_path(c: &Case) -> Option<Hit> {
    // The ARN as written: the path is the point.
    let rows = rows_where(
        c,
        |r| matches!(r, Row::Mapping(m) if role_has_path(m)),
        |r| r.key().to_string(),
    )?;
    hit(
        Low,
        format!(
            "aws-auth {} {rows} with a path in the role ARN: it matches nobody as written{}{}",
            c.did("maps", "mapping of"),
            c.on_cluster(),
            c.by()
        ),
    )
}

/// The subjects no authentication can be kept from: anyone reaching the endpoint, or anyone
/// with any identity at all.
const ANONYMOUS: &[&str] = &[
    "system:anonymous",
    "system:unauthenticated",
    "system:authenticated",
];

/// Kubernetes' own default bindings of these groups (discovery, basic user, public info),
/// reconciled by the API server itself on start and upgrade.
fn default_binding_by_control_plane(c: &Case, b: &BindingChange) -> bool {
    c.event.actor.is_aws_service() && b.name.as_deref().is_some_and(|n| n.starts_with("system:"))
}

pub static RBAC_ANONYMOUS_BOUND: Rule = Rule {
    id: "rbac-anonymous-bound",
    topic: Topic::Kubernetes,
    severities: &[Critical],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "a ClusterRoleBinding or RoleBinding created or changed whose subjects include `system:anonymous`, `system:unauthenticated` or `system:authenticated` (not Kubernetes' own `system:` defaults reconciled by the API server)",
    why: "Binding a role to anonymous or to every authenticated identity hands it to anyone who reaches the endpoint (with a public endpoint: the internet), or to every IAM principal that can get a token.",
    next_step: "Delete the binding or remove those subjects now (`kubectl edit clusterrolebinding <name>`), then review what the role allows.",
    eval: Eval::Change(rbac_anonymous_bound),
};

fn rbac_anonymous_bound(c: &Case) -> Option<Hit> {
    let b = binding(c)?;
    let after = b.after.as_ref()?;
    let anonymous: Vec<String> = after
        .subjects
        .iter()
        .filter(|s| ANONYMOUS.contains(&s.name.as_str()))
        .map(|s| s.describe())
        .collect();
    if anonymous.is_empty() || default_binding_by_control_plane(c, b) {
        return None;
    }
    hit(
        Critical,
        format!(
            "{} {} {} {} to {}{}{}",
            b.describe(),
            c.did("binds", "binding of"),
            after.role_kind,
            after.role_name,
            list(anonymous),
            c.on_cluster(),
            c.by()
        ),
    )
}

pub static RBAC_CLUSTER_ADMIN_BOUND: Rule = Rule {
    id: "rbac-cluster-admin-bound",
    topic: Topic::Kubernetes,
    severities: &[High, Critical],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "a ClusterRoleBinding or RoleBinding created or changed to the `cluster-admin` ClusterRole, or to a ClusterRole that an earlier event of the same input (file, subscription payload) wrote to grant `*` verbs on `*` resources: high; critical when a subject is a group or user that is not a service account of kube-system",
    why: "cluster-admin is every verb on every resource: secrets, RBAC, workloads on every node. A binding of it is the in-cluster twin of an AmazonEKSClusterAdminPolicy grant, and groups named by access entries reach it through bindings like this one.",
    next_step: "Check each subject should be cluster-admin; for groups, check which IAM principals map to them (access entries, aws-auth); delete the binding if it was not planned.",
    eval: Eval::Change(rbac_cluster_admin_bound),
};

fn rbac_cluster_admin_bound(c: &Case) -> Option<Hit> {
    let b = binding(c)?;
    if !b.binds_cluster_admin() {
        return None;
    }
    let subjects = &b.after.as_ref()?.subjects;
    let people = subjects.iter().any(|s| {
        matches!(s.kind.as_str(), "User" | "Group") && !s.is_kube_system_service_account()
    });
    let names: Vec<String> = subjects.iter().map(|s| s.describe()).collect();
    let role = match (&b.grants_everything, b.bound_cluster_role()) {
        (Some(grants), Some(name)) => {
            format!("ClusterRole {name} (as much as cluster-admin: {grants})")
        }
        _ => "cluster-admin".to_string(),
    };
    hit(
        if people { Critical } else { High },
        format!(
            "{} {} {role} to {}{}{}",
            b.describe(),
            c.did("binds", "binding of"),
            if names.is_empty() {
                "no subject yet".to_string()
            } else {
                list(names)
            },
            c.on_cluster(),
            c.by()
        ),
    )
}

pub static RBAC_BINDING_CHANGED: Rule = Rule {
    id: "rbac-binding-changed",
    topic: Topic::Kubernetes,
    severities: &[Info, Low],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "any other ClusterRoleBinding or RoleBinding created, changed or deleted (names the role and subjects); info for the control plane's namespace controller emptying a namespace being deleted",
    why: "Bindings are the bridge from the Kubernetes groups that access entries and aws-auth name to what those groups may do: a change here changes access without any AWS API call.",
    next_step: "No action needed if the change came from your usual deployment; otherwise check what the role allows (`kubectl describe clusterrole <name>`).",
    eval: Eval::Change(rbac_binding_changed),
};

fn rbac_binding_changed(c: &Case) -> Option<Hit> {
    let b = binding(c)?;
    if rbac_cluster_admin_bound(c).is_some()
        || rbac_anonymous_bound(c).is_some()
        || rbac_escalation_bound(c).is_some()
    {
        return None;
    }
    let done = done(c)?;
    let content = match &b.after {
        Some(after) if !after.role_name.is_empty() || !after.subjects.is_empty() => format!(
            ": {} {} to {}",
            after.role_kind,
            after.role_name,
            if after.subjects.is_empty() {
                "no subject".to_string()
            } else {
                list(after.subjects.iter().map(|s| s.describe()).collect())
            }
        ),
        _ => String::new(),
    };
    // The control plane's namespace controller empties every namespace being deleted.
    let cleanup = verb(c)? == Verb::DeleteCollection && c.event.actor.is_aws_service();
    hit(
        if cleanup { Info } else { Low },
        format!(
            "{} {done}{content}{}{}{}",
            b.describe(),
            c.on_cluster(),
            c.by(),
            notes(&b.notes)
        ),
    )
}

pub static RBAC_WILDCARD_ROLE: Rule = Rule {
    id: "rbac-wildcard-role",
    topic: Topic::Kubernetes,
    severities: &[Medium, High],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "a ClusterRole created or changed so that one of its rules grants `*` verbs on `*` resources (a second cluster-admin under another name): high, medium for an aggregated role or one written by the control plane; those that grant an escalation primitive are `rbac-escalation-role`'s, the others are read only to grade later bindings and are skipped",
    why: "A role with every verb on every resource is cluster-admin under another name: checks that look for bindings of `cluster-admin` miss it, and whoever is bound to it (now or later) holds the whole cluster.",
    next_step: "Check who asked for the role and what is bound to it (`kubectl get clusterrolebindings,rolebindings -A -o wide | grep <name>`); narrow its rules or delete it if it was not planned.",
    eval: Eval::Change(rbac_wildcard_role),
};

fn rbac_wildcard_role(c: &Case) -> Option<Hit> {
    let role = role(c)?;
    let grants = role.grants_everything()?;
    let done = done(c)?;
    let quieter = role.aggregated || c.event.actor.is_aws_service();
    hit(
        if quieter { Medium } else { High },
        format!(
            "{} {done} to grant {grants}{}{}{}",
            role.describe(),
            aggregation(role),
            c.on_cluster(),
            c.by()
        ),
    )
}

/// The built-in ClusterRoles that aggregate `aggregate-to-<name>` labels.
const BUILT_IN_AGGREGATED: &[&str] = &["admin", "edit", "view"];

/// ` (aggregated: ...)`, ` (labelled aggregate-to-edit: ...)`, or nothing.
fn aggregation(role: &RoleChange) -> String {
    let mut text = String::new();
    if role.aggregated {
        text.push_str(" (aggregated: its rules come from the roles it selects)");
    }
    for target in &role.aggregates_to {
        let joins = if BUILT_IN_AGGREGATED.contains(&target.as_str()) {
            format!("the built-in ClusterRole {target}, and so every binding of it")
        } else {
            "every ClusterRole that aggregates that label".to_string()
        };
        text.push_str(&format!(
            " (labelled rbac.authorization.k8s.io/aggregate-to-{target}: its rules join {joins})"
        ));
    }
    text
}

pub static RBAC_ESCALATION_ROLE: Rule = Rule {
    id: "rbac-escalation-role",
    topic: Topic::Kubernetes,
    severities: &[Medium, High],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "a ClusterRole, or a Role in kube-system, created or changed to grant an escalation primitive: `escalate` or `bind` on roles/clusterroles, `impersonate` on users, groups or serviceaccounts, any verb on `secrets` (a ClusterRole: cluster-wide), `create` on `pods/exec`, `pods/attach`, `nodes/proxy` or `serviceaccounts/token` (`*` verbs or resources included); a ClusterRole labelled `rbac.authorization.k8s.io/aggregate-to-*` is said to inject them into the roles it joins: high, medium for an aggregated role or one written by the control plane (Kubernetes' own roles, reconciled on start and upgrade); a ClusterRole that grants everything is `rbac-wildcard-role`'s, and roles that grant neither are read only to grade later bindings and are skipped",
    why: "Each primitive yields more than it says: `escalate` and `bind` write or bind roles with permissions the holder lacks (cluster-admin included), `impersonate` acts as any user, group or service account, every Secret holds tokens and credentials, and exec, attach, the kubelet proxy and minted tokens act as a workload's service account, often a powerful one in kube-system. A checker looking for cluster-admin sees none of them; a role labelled aggregate-to-admin/edit/view hands the primitive to everyone bound to those built-in roles.",
    next_step: "Check who asked for the role and who is bound to it (`kubectl get clusterrolebindings,rolebindings -A -o wide | grep <name>`); remove the primitive (or the aggregation label) unless a controller needs it, and then bind the role only to that controller's service account.",
    eval: Eval::Change(rbac_escalation_role),
};

fn rbac_escalation_role(c: &Case) -> Option<Hit> {
    let role = role(c)?;
    let primitives = role.escalation()?;
    let done = done(c)?;
    let quieter = role.aggregated || c.event.actor.is_aws_service();
    hit(
        if quieter { Medium } else { High },
        format!(
            "{} {done} to grant {}{}{}{}",
            role.describe(),
            list(Primitive::describe(primitives)),
            aggregation(role),
            c.on_cluster(),
            c.by()
        ),
    )
}

pub static RBAC_ESCALATION_BOUND: Rule = Rule {
    id: "rbac-escalation-bound",
    topic: Topic::Kubernetes,
    severities: &[Medium, High],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "a ClusterRoleBinding or RoleBinding created or changed to a role that an earlier event of the same input (file, subscription payload) wrote to grant an escalation primitive (`rbac-escalation-role`; a RoleBinding: those a namespace can hold): high, naming what the role grants and when it was written; a ClusterRoleBinding, or a RoleBinding in kube-system, of the built-in `admin` or `edit` ClusterRole: medium",
    why: "Whoever is bound to an escalation primitive can make themselves more than the binding says, up to cluster-admin, without a binding of `cluster-admin` anywhere. Bound cluster-wide (or in kube-system, whose service accounts run the cluster's controllers), the built-in admin and edit roles read Secrets, exec into pods and act as service accounts there: close to cluster-admin.",
    next_step: "Check each subject needs the role where it is bound; prefer RoleBindings in the namespaces the subject works in (and view where it only reads); delete the binding if it was not planned.",
    eval: Eval::Change(rbac_escalation_bound),
};

fn rbac_escalation_bound(c: &Case) -> Option<Hit> {
    let b = binding(c)?;
    if rbac_cluster_admin_bound(c).is_some() {
        return None;
    }
    let after = b.after.as_ref()?;
    let (severity, role) = match (&b.escalation, b.binds_broad_built_in_role()) {
        (Some(e), _) => (
            High,
            format!(
                "{} {} (which grants {}{})",
                after.role_kind,
                after.role_name,
                list(Primitive::describe(&e.primitives)),
                e.written_at
                    .as_deref()
                    .map(|t| format!("; written at {t}"))
                    .unwrap_or_default()
            ),
        ),
        (None, Some(name)) => (
            Medium,
            format!(
                "the built-in ClusterRole {name} {}",
                if b.kind == "ClusterRoleBinding" {
                    "in every namespace"
                } else {
                    "in kube-system"
                }
            ),
        ),
        (None, None) => return None,
    };
    let names: Vec<String> = after.subjects.iter().map(|s| s.describe()).collect();
    hit(
        severity,
        format!(
            "{} {} {role} to {}{}{}",
            b.describe(),
            c.did("binds", "binding of"),
            if names.is_empty() {
                "no subject yet".to_string()
            } else {
                list(names)
            },
            c.on_cluster(),
            c.by()
        ),
    )
}
