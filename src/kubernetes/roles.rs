//! ClusterRoles written, as the EKS audit log shows them: watched to learn which roles grant
//! `*` verbs on `*` resources, so that a binding to such a role is graded like a binding to
//! `cluster-admin` ([`super::History`] remembers them for the rest of the input).

use serde_json::Value;

use crate::model::{RoleChange, RoleGrants};
use crate::operation::Operation;
use crate::sanitize::clean;

use super::MAX_FIELD as MAX_NAME;

/// Build the change from the bodies of a watched ClusterRole request: the stored object (the
/// response) when the event has it, else the request's object for a create or an update.
pub(super) fn cluster_role(
    operation: Operation,
    name: Option<String>,
    request: Option<&Value>,
    response: Option<&Value>,
) -> RoleChange {
    let is_role = |v: &&Value| {
        v.is_object()
            && v.get("kind")
                .and_then(Value::as_str)
                .unwrap_or("ClusterRole")
                == "ClusterRole"
    };
    let whole_request = match operation {
        Operation::ClusterRolePatch => None,
        _ => request.filter(is_role),
    };
    let after = response.filter(is_role).or(whole_request);
    RoleChange {
        name,
        grants: match after.map(wildcard_rule) {
            Some(Some(rule)) => RoleGrants::Everything(rule),
            Some(None) => RoleGrants::Less,
            None => RoleGrants::Unknown,
        },
        aggregated: after.is_some_and(|a| a.get("aggregationRule").is_some_and(|r| !r.is_null())),
    }
}

/// The first rule granting `*` verbs on `*` resources (whatever its API groups: `*` on every
/// resource of the core group alone already reads every Secret and execs into every pod).
fn wildcard_rule(role: &Value) -> Option<String> {
    let rules = role.get("rules")?.as_array()?;
    rules.iter().find_map(|rule| {
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
        let (verbs, resources) = (list("verbs"), list("resources"));
        let all = |items: &[String]| items.iter().any(|i| i == "*");
        (all(&verbs) && all(&resources)).then(|| {
            let groups: Vec<String> = list("apiGroups")
                .into_iter()
                .map(|g| if g.is_empty() { "\"\"".to_string() } else { g })
                .collect();
            let groups = if groups.is_empty() {
                "the core API group".to_string()
            } else {
                format!("API groups [{}]", groups.join(", "))
            };
            format!(
                "verbs [{}] on resources [{}] in {groups}",
                verbs.join(", "),
                resources.join(", ")
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_rule_with_every_verb_on_every_resource_is_a_wildcard_whatever_its_groups() {
        let role = json!({"kind": "ClusterRole", "metadata": {"name": "ops"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
                      {"apiGroups": [""], "resources": ["*"], "verbs": ["*"]}]});
        let c = cluster_role(
            Operation::ClusterRoleCreate,
            Some("ops".into()),
            Some(&role),
            None,
        );
        assert_eq!(
            c.grants,
            RoleGrants::Everything("verbs [*] on resources [*] in API groups [\"\"]".into())
        );
    }

    #[test]
    fn every_verb_on_some_resources_or_some_verbs_on_everything_is_not() {
        let role = json!({"kind": "ClusterRole", "rules": [
            {"apiGroups": ["*"], "resources": ["pods", "secrets"], "verbs": ["*"]},
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]}]});
        let c = cluster_role(Operation::ClusterRoleUpdate, None, Some(&role), None);
        assert_eq!(c.grants, RoleGrants::Less);
        assert!(c.grants_everything().is_none());
    }

    #[test]
    fn a_patch_is_judged_by_the_stored_role_and_unknown_without_it() {
        let patch = json!({"rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]});
        let unknown = cluster_role(Operation::ClusterRolePatch, None, Some(&patch), None);
        assert_eq!(
            unknown.grants,
            RoleGrants::Unknown,
            "a patch alone is not the role"
        );
        let stored = json!({"kind": "ClusterRole", "rules": patch["rules"].clone()});
        let known = cluster_role(
            Operation::ClusterRolePatch,
            None,
            Some(&patch),
            Some(&stored),
        );
        assert!(known.grants_everything().is_some());
        let status = json!({"kind": "Status", "code": 403});
        let denied = cluster_role(
            Operation::ClusterRoleCreate,
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
