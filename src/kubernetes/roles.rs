//! ClusterRoles and kube-system's Roles written, as the EKS audit log shows them: watched to
//! learn which grant `*` verbs on `*` resources (a ClusterRole that does is a second
//! `cluster-admin`) or an escalation primitive, so that the role is alerted and a binding to it
//! graded as it deserves ([`crate::context::History`] remembers them for the rest of the input).
//!
//! A primitive is matched against a rule as the RBAC authorizer matches a request: the rule's
//! verb is `*` or the verb, its API group `*` or the group, its resource `*`, the resource, or
//! `*/<subresource>` (`pods/*` does not match `pods/exec`). A rule without API groups (which
//! the API server refuses) is read as matching every group, so that a denied attempt at one is
//! still reported.

use serde_json::Value;

use crate::model::{Primitive, RoleChange, RoleGrants, RoleKind};
use crate::operation::{KubeObject, Operation, Verb};
use crate::sanitize::clean;

use super::MAX_FIELD as MAX_NAME;

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";
const AGGREGATE_TO: &str = "rbac.authorization.k8s.io/aggregate-to-";

/// An escalation primitive: one of some verbs on a resource of an API group.
struct Pattern {
    verbs: &'static [&'static str],
    group: &'static str,
    resource: &'static str,
    /// See [`Primitive::cluster_wide`]: a Role never grants it.
    cluster_wide: bool,
}

const fn pattern(
    verbs: &'static [&'static str],
    group: &'static str,
    resource: &'static str,
    cluster_wide: bool,
) -> Pattern {
    Pattern {
        verbs,
        group,
        resource,
        cluster_wide,
    }
}

/// The escalation primitives, in the order alerts name them.
const PRIMITIVES: &[Pattern] = &[
    // Write roles granting what the writer lacks, or bind roles the binder does not hold.
    pattern(&["escalate"], RBAC_GROUP, "roles", false),
    pattern(&["escalate"], RBAC_GROUP, "clusterroles", true),
    pattern(&["bind"], RBAC_GROUP, "roles", false),
    // Checked in the namespace of the RoleBinding that names the ClusterRole.
    pattern(&["bind"], RBAC_GROUP, "clusterroles", false),
    // Act as anyone: users and groups are cluster-scoped, service accounts namespaced.
    pattern(&["impersonate"], "", "users", true),
    pattern(&["impersonate"], "", "groups", true),
    pattern(&["impersonate"], "", "serviceaccounts", false),
    // Every Secret of every namespace: tokens, credentials, keys; read or written, by any of
    // the API's verbs (`impersonate` or `bind` on Secrets means nothing).
    pattern(API_VERBS, "", "secrets", true),
    // Run as a workload's service account: exec, attach, the kubelet API, minted tokens.
    pattern(&["create"], "", "pods/exec", false),
    pattern(&["create"], "", "pods/attach", false),
    pattern(&["create"], "", "nodes/proxy", true),
    pattern(&["create"], "", "serviceaccounts/token", false),
];

/// The verbs of the API's requests on a resource.
const API_VERBS: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
];

/// A policy rule's lists, as written.
struct PolicyRule {
    verbs: Vec<String>,
    groups: Vec<String>,
    resources: Vec<String>,
    names: Vec<String>,
}

impl PolicyRule {
    fn read(rule: &Value) -> PolicyRule {
        let list = |key: &str| -> Vec<String> {
            match rule.get(key) {
                Some(Value::Array(items)) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|s| clean(s, MAX_NAME))
                    .collect(),
                Some(Value::String(s)) => vec![clean(s, MAX_NAME)],
                _ => Vec::new(),
            }
        };
        PolicyRule {
            verbs: list("verbs"),
            groups: list("apiGroups"),
            resources: list("resources"),
            names: list("resourceNames"),
        }
    }

    /// `verbs [*] on resources [*] in API groups [*]`, when the rule grants `*` verbs on `*`
    /// resources (whatever its API groups: `*` on every resource of the core group alone
    /// already reads every Secret and execs into every pod).
    fn wildcard(&self) -> Option<String> {
        let all = |items: &[String]| items.iter().any(|i| i == "*");
        if !(all(&self.verbs) && all(&self.resources)) {
            return None;
        }
        let groups: Vec<String> = self
            .groups
            .iter()
            .map(|g| {
                if g.is_empty() {
                    "\"\"".to_string()
                } else {
                    g.clone()
                }
            })
            .collect();
        let groups = if groups.is_empty() {
            "the core API group".to_string()
        } else {
            format!("API groups [{}]", groups.join(", "))
        };
        Some(format!(
            "verbs [{}] on resources [{}] in {groups}",
            self.verbs.join(", "),
            self.resources.join(", ")
        ))
    }

    /// The primitive, as this rule grants it, when it does.
    fn grants(&self, p: &Pattern) -> Option<Primitive> {
        let granted: Vec<&str> = self
            .verbs
            .iter()
            .map(String::as_str)
            .filter(|v| p.verbs.contains(v))
            .collect();
        let every = self.verbs.iter().any(|v| v == "*");
        let verb = every || !granted.is_empty();
        let group = self.groups.is_empty() || self.groups.iter().any(|g| g == "*" || g == p.group);
        let sub = p.resource.split_once('/').map(|(_, s)| format!("*/{s}"));
        let resource = self
            .resources
            .iter()
            .any(|r| r == "*" || r == p.resource || Some(r) == sub.as_ref());
        if !(verb && group && resource) {
            return None;
        }
        let verbs = if every {
            "every verb".to_string()
        } else {
            granted.join("/")
        };
        Some(Primitive {
            verbs,
            resource: p.resource.to_string(),
            names: self.names.clone(),
            cluster_wide: p.cluster_wide,
        })
    }
}

/// Build the change from the bodies of a watched ClusterRole or Role request: the stored
/// object (the response) when the event has it, else the request's object for a create or an
/// update.
pub(super) fn role(
    operation: Operation,
    namespace: Option<String>,
    name: Option<String>,
    request: Option<&Value>,
    response: Option<&Value>,
) -> RoleChange {
    let call = operation.kubernetes_call();
    let kind = match call.map(|c| c.object) {
        Some(KubeObject::KubeSystemRole) => RoleKind::Role,
        Some(
            KubeObject::ClusterRole
            | KubeObject::AwsAuth
            | KubeObject::KubeSystemConfigMaps
            | KubeObject::ClusterRoleBinding
            | KubeObject::RoleBinding,
        )
        | None => RoleKind::ClusterRole,
    };
    let is_role = |v: &&Value| {
        v.is_object()
            && v.get("kind")
                .and_then(Value::as_str)
                .unwrap_or(kind.as_str())
                == kind.as_str()
    };
    let whole_request = match call.map(|c| c.verb) {
        Some(Verb::Patch) => None,
        _ => request.filter(is_role),
    };
    let after = response.filter(is_role).or(whole_request);
    let aggregates_to = match (kind, after) {
        (RoleKind::ClusterRole, Some(role)) => aggregation_labels(role),
        _ => Vec::new(),
    };
    RoleChange {
        kind,
        namespace: namespace.filter(|_| kind == RoleKind::Role),
        name,
        grants: match after {
            Some(role) => grants(role, kind),
            None => RoleGrants::Unknown,
        },
        aggregated: after.is_some_and(|a| a.get("aggregationRule").is_some_and(|r| !r.is_null())),
        aggregates_to,
    }
}

fn grants(role: &Value, kind: RoleKind) -> RoleGrants {
    let rules: Vec<PolicyRule> = match role.get("rules") {
        Some(Value::Array(rules)) => rules.iter().map(PolicyRule::read).collect(),
        _ => Vec::new(),
    };
    if kind == RoleKind::ClusterRole
        && let Some(rule) = rules.iter().find_map(PolicyRule::wildcard)
    {
        return RoleGrants::Everything(rule);
    }
    let mut primitives: Vec<Primitive> = Vec::new();
    for rule in &rules {
        // A Role's every verb on every resource of kube-system: named once, as the rule.
        if let Some(wildcard) = rule.wildcard() {
            let (verbs, resource) = wildcard.split_once(" on ").unwrap_or(("", &wildcard));
            primitives.push(Primitive {
                verbs: verbs.to_string(),
                resource: resource.to_string(),
                names: rule.names.clone(),
                cluster_wide: false,
            });
            continue;
        }
        for p in PRIMITIVES {
            if kind == RoleKind::Role && p.cluster_wide {
                continue;
            }
            if let Some(granted) = rule.grants(p)
                && !primitives.contains(&granted)
            {
                primitives.push(granted);
            }
        }
    }
    if primitives.is_empty() {
        RoleGrants::Less
    } else {
        RoleGrants::Escalation(primitives)
    }
}

/// `edit` for `rbac.authorization.k8s.io/aggregate-to-edit: "true"`.
fn aggregation_labels(role: &Value) -> Vec<String> {
    let Some(labels) = role.pointer("/metadata/labels").and_then(Value::as_object) else {
        return Vec::new();
    };
    labels
        .iter()
        .filter(|(_, v)| v.as_str() == Some("true"))
        .filter_map(|(k, _)| k.strip_prefix(AGGREGATE_TO))
        .filter(|target| !target.is_empty())
        .map(|target| clean(target, MAX_NAME))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cluster_role(rules: Value) -> RoleChange {
        let role = json!({"kind": "ClusterRole", "metadata": {"name": "r"}, "rules": rules});
        role_of(Operation::ClusterRoleCreate, &role)
    }

    fn role_of(operation: Operation, object: &Value) -> RoleChange {
        role(
            operation,
            Some("kube-system".into()),
            Some("r".into()),
            Some(object),
            None,
        )
    }

    fn granted(c: &RoleChange) -> Vec<String> {
        Primitive::describe(c.escalation().unwrap_or_default())
    }

    #[test]
    fn a_rule_with_every_verb_on_every_resource_is_a_wildcard_whatever_its_groups() {
        let c = cluster_role(
            json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
                      {"apiGroups": [""], "resources": ["*"], "verbs": ["*"]}]),
        );
        assert_eq!(
            c.grants,
            RoleGrants::Everything("verbs [*] on resources [*] in API groups [\"\"]".into())
        );
        assert_eq!(c.namespace, None, "a ClusterRole has no namespace");
    }

    #[test]
    fn every_verb_on_some_resources_or_some_verbs_on_everything_is_not_everything() {
        let c = cluster_role(json!([
            {"apiGroups": ["*"], "resources": ["pods", "secrets"], "verbs": ["*"]},
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]}]));
        assert!(c.grants_everything().is_none());
        assert_eq!(
            granted(&c),
            ["every verb on secrets", "get/list/watch on secrets"]
        );
        let reader = cluster_role(
            json!([{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list", "watch"]}]),
        );
        assert_eq!(reader.grants, RoleGrants::Less);
    }

    #[test]
    fn escalation_primitives_match_as_the_authorizer_matches() {
        let c = cluster_role(json!([
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["escalate", "bind"]},
            {"apiGroups": [""], "resources": ["users", "groups"], "verbs": ["impersonate"], "resourceNames": ["admin"]},
            {"apiGroups": [""], "resources": ["*/exec", "pods/*", "nodes/proxy"], "verbs": ["create", "get"]},
            {"apiGroups": ["apps"], "resources": ["serviceaccounts/token"], "verbs": ["create"]},
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["get", "list"]},
            {"nonResourceURLs": ["*"], "verbs": ["*"]}]));
        assert_eq!(
            granted(&c),
            [
                "escalate on clusterroles",
                "bind on clusterroles",
                "impersonate on [users, groups] named [admin]",
                "create on [pods/exec, nodes/proxy]",
            ],
            "pods/* is not pods/exec, and serviceaccounts is not in the apps group"
        );
        let cluster_only: Vec<bool> = c
            .escalation()
            .unwrap()
            .iter()
            .map(|p| p.cluster_wide)
            .collect();
        assert_eq!(cluster_only, [true, false, true, true, false, true]);
    }

    #[test]
    fn a_kube_system_role_grants_only_what_a_namespace_can_hold() {
        let rules = json!([
            {"apiGroups": [""], "resources": ["secrets", "users"], "verbs": ["*"]},
            {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]}]);
        let r = role_of(
            Operation::KubeSystemRoleUpdate,
            &json!({"kind": "Role", "metadata": {"name": "r", "namespace": "kube-system"}, "rules": rules}),
        );
        assert_eq!(r.kind, RoleKind::Role);
        assert_eq!(r.describe(), "Role kube-system/r");
        assert_eq!(granted(&r), ["create on serviceaccounts/token"]);
        let all = role_of(
            Operation::KubeSystemRoleCreate,
            &json!({"kind": "Role", "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}),
        );
        assert_eq!(
            granted(&all),
            ["verbs [*] on resources [*] in API groups [*]"],
            "a Role's wildcard is an escalation, not a second cluster-admin"
        );
    }

    #[test]
    fn aggregation_labels_name_the_roles_a_cluster_role_joins() {
        let role = json!({"kind": "ClusterRole", "metadata": {"name": "r", "labels": {
            "rbac.authorization.k8s.io/aggregate-to-edit": "true",
            "rbac.authorization.k8s.io/aggregate-to-view": "false",
            "app.kubernetes.io/name": "x"}},
            "rules": [{"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}]});
        let c = role_of(Operation::ClusterRoleUpdate, &role);
        assert_eq!(c.aggregates_to, ["edit"]);
        assert_eq!(granted(&c), ["create on pods/exec"]);
    }

    #[test]
    fn a_patch_is_judged_by_the_stored_role_and_unknown_without_it() {
        let patch = json!({"rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]});
        let unknown = role(Operation::ClusterRolePatch, None, None, Some(&patch), None);
        assert_eq!(
            unknown.grants,
            RoleGrants::Unknown,
            "a patch alone is not the role"
        );
        let stored = json!({"kind": "ClusterRole", "rules": patch["rules"].clone()});
        let known = role(
            Operation::ClusterRolePatch,
            None,
            None,
            Some(&patch),
            Some(&stored),
        );
        assert!(known.grants_everything().is_some());
        let status = json!({"kind": "Status", "code": 403});
        let denied = role(
            Operation::ClusterRoleCreate,
            None,
            None,
            Some(&stored),
            Some(&status),
        );
        assert!(
            denied.grants_everything().is_some(),
            "a denied create is judged by what it asked"
        );
    }
}
