//! What a watched Kubernetes request changed, read from the request and response objects of
//! its audit event: the aws-auth ConfigMap's mappings ([`AwsAuthChange`], through
//! [`crate::awsauth`]) and RBAC bindings ([`BindingChange`]).
//!
//! An audit event holds the request body (for a patch: the patch) and the response body (the
//! object as stored), never the object as it was before: for a create the previous content is
//! known (nothing), for an update or patch it is not, for a deletion only when the API server
//! answers with the deleted object. What is unknown stays `None` and the alert says so; a
//! missing body is never read as "nothing changed".

use serde_json::Value;

use crate::awsauth::{self, AwsAuth, Section};
use crate::model::{
    AwsAuthChange, Binding, BindingChange, DELETED_UNKNOWN, PREVIOUS_UNKNOWN, Subject,
};
use crate::operation::{KubeObject, Operation, Verb};
use crate::sanitize::clean;

use super::patch;

const MAX_NAME: usize = 256;

/// Build the change from a watched aws-auth request's bodies.
pub(super) fn aws_auth(
    operation: Operation,
    request: Option<&Value>,
    response: Option<&Value>,
) -> AwsAuthChange {
    let mut notes = Vec::new();
    // A failed call or a deletion answers with a Status, not the ConfigMap.
    let stored = response.filter(|r| is_kind(r, "ConfigMap"));
    let mut data_of = |object: &Value, what: &str| match awsauth::parse_data(
        object.get("data").unwrap_or(&Value::Null),
    ) {
        Ok(auth) => Some(auth),
        Err(e) => {
            notes.push(clean(
                &format!(
                    "{what} is malformed ({}): the authenticator may reject mappings",
                    e.problems.join("; ")
                ),
                1024,
            ));
            None
        }
    };
    let all = Section::ALL.to_vec();
    let verb = operation.kubernetes_call().map_or(Verb::Update, |c| c.verb);
    let mut unknown = Vec::new();
    let mut patch_effects = Vec::new();
    // (before, after, the sections set, whether `after` is the whole ConfigMap)
    let (before, after, touched, whole_after) = match verb {
        Verb::Create => {
            let after = stored
                .or(request.filter(|r| r.is_object()))
                .and_then(|o| data_of(o, "the new aws-auth"));
            (Some(AwsAuth::default()), after, all, true)
        }
        Verb::Update => {
            let after = stored
                .or(request.filter(|r| r.is_object()))
                .and_then(|o| data_of(o, "aws-auth after the update"));
            (None, after, all, true)
        }
        Verb::Patch => {
            let effect = request.map(patch::effect);
            let touched = effect.as_ref().map_or(all, |e| e.touched());
            let (after, whole) = match (stored, &effect) {
                (Some(o), _) => (data_of(o, "aws-auth after the patch"), true),
                (None, Some(e)) => {
                    unknown = e.unknown();
                    (data_of(&e.known_data(), "the patched aws-auth"), false)
                }
                (None, None) => (None, false),
            };
            if let Some(e) = effect {
                patch_effects = e.how;
            }
            (None, after, touched, whole)
        }
        // A deletion (or every ConfigMap of kube-system at once): the API server may answer
        // with the deleted object, else the content is gone unseen.
        Verb::Delete | Verb::DeleteCollection => {
            let before = stored.and_then(|o| data_of(o, "the deleted aws-auth"));
            (before, Some(AwsAuth::default()), all, true)
        }
    };
    let deleted = matches!(verb, Verb::Delete | Verb::DeleteCollection);
    if request.is_none() && response.is_none() {
        notes.push("the audit event carries no request or response body".into());
    } else if deleted && before.is_none() {
        notes.push(DELETED_UNKNOWN.into());
    } else if after.is_some() && before.is_none() && !touched.is_empty() {
        notes.push(PREVIOUS_UNKNOWN.into());
    }
    AwsAuthChange {
        before,
        after,
        touched,
        unknown,
        patch_effects,
        notes,
        whole_after,
    }
}

fn is_kind(object: &Value, kind: &str) -> bool {
    object.is_object() && object.get("kind").and_then(Value::as_str).unwrap_or(kind) == kind
}

/// Build the change from a watched binding request's bodies.
pub(super) fn binding(
    operation: Operation,
    namespace: Option<String>,
    name: Option<String>,
    request: Option<&Value>,
    response: Option<&Value>,
) -> BindingChange {
    let call = operation.kubernetes_call();
    let kind = match call.map(|c| c.object) {
        Some(KubeObject::RoleBinding) => "RoleBinding",
        Some(
            KubeObject::ClusterRoleBinding
            | KubeObject::AwsAuth
            | KubeObject::KubeSystemConfigMaps
            | KubeObject::ClusterRole
            | KubeObject::KubeSystemRole,
        )
        | None => "ClusterRoleBinding",
    };
    let deleted = match call.map(|c| c.verb) {
        Some(Verb::Delete | Verb::DeleteCollection) => true,
        Some(Verb::Create | Verb::Update | Verb::Patch) | None => false,
    };
    let stored = response.filter(|r| is_kind(r, kind));
    let after = if deleted {
        None
    } else {
        stored
            .or(request.filter(|r| r.is_object()))
            .map(read_binding)
    };
    let mut notes = Vec::new();
    if request.is_none() && response.is_none() {
        notes.push("the audit event carries no request or response body".into());
    } else if deleted {
        notes.push("the deleted binding's role and subjects are not in the audit event".into());
    }
    BindingChange {
        kind,
        namespace,
        name,
        after,
        deleted,
        notes,
        grants_everything: None,
        escalation: None,
    }
}

fn text(v: &Value, key: &str) -> String {
    clean(
        v.get(key).and_then(Value::as_str).unwrap_or_default(),
        MAX_NAME,
    )
}

fn read_binding(object: &Value) -> Binding {
    let role = object.get("roleRef").unwrap_or(&Value::Null);
    let subjects = match object.get("subjects") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|s| Subject {
                kind: text(s, "kind"),
                name: text(s, "name"),
                namespace: Some(text(s, "namespace")).filter(|n| !n.is_empty()),
            })
            .collect(),
        _ => Vec::new(),
    };
    Binding {
        role_kind: text(role, "kind"),
        role_name: text(role, "name"),
        subjects,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::awsauth::{MapKind, RowChange};
    use crate::model::{RowState, is_session_mapping, role_has_path};
    use serde_json::json;

    const ROLES: &str =
        "- rolearn: arn:aws:iam::111122223333:role/node\n  groups: [system:nodes]\n";

    #[test]
    fn a_merge_patch_sets_only_its_sections_and_the_stored_object_gives_the_result() {
        let patch = json!({"data": {"mapUsers": "- userarn: arn:aws:iam::111122223333:user/eve\n  groups: [system:masters]\n"}});
        let stored = json!({"kind": "ConfigMap", "data": {"mapRoles": ROLES, "mapUsers": patch["data"]["mapUsers"]}});
        let c = aws_auth(Operation::AwsAuthPatch, Some(&patch), Some(&stored));
        assert_eq!(c.touched, [Section::Users]);
        let rows = c.rows_after();
        assert_eq!(rows.len(), 1, "mapRoles is untouched: {rows:?}");
        assert_eq!(rows[0].0, RowState::Present);
        assert!(c.maps_system_masters());
        assert!(c.row_changes().is_none(), "the previous content is unknown");
        assert!(c.notes.iter().any(|n| n.contains("previous content")));
    }

    #[test]
    fn a_json_patch_without_the_stored_object_is_read_from_its_operations() {
        let patch = json!([{"op": "replace", "path": "/data/mapRoles", "value": ROLES}, {"op": "remove", "path": "/data/mapAccounts"}]);
        let c = aws_auth(Operation::AwsAuthPatch, Some(&patch), None);
        assert_eq!(c.touched, [Section::Roles, Section::Accounts]);
        assert_eq!(c.after.unwrap().roles.len(), 1);
    }

    #[test]
    fn a_create_adds_every_row_and_a_deletion_answered_with_the_object_removes_them() {
        let object = json!({"kind": "ConfigMap", "data": {"mapRoles": ROLES, "mapAccounts": "- \"444455556666\"\n"}});
        let created = aws_auth(Operation::AwsAuthCreate, Some(&object), Some(&object));
        let changes = created.row_changes().unwrap();
        assert!(changes.iter().all(|c| matches!(c, RowChange::Added(_))));
        assert_eq!(changes.len(), 2);
        assert_eq!(
            created.principal_arn(),
            Some("arn:aws:iam::111122223333:role/node")
        );
        let deleted = aws_auth(Operation::AwsAuthDelete, None, Some(&object));
        assert_eq!(deleted.row_changes().unwrap().len(), 2);
        let status = json!({"kind": "Status", "status": "Success"});
        let unseen = aws_auth(Operation::AwsAuthDelete, None, Some(&status));
        assert!(unseen.before.is_none() && unseen.row_changes().is_none());
    }

    #[test]
    fn malformed_content_is_a_note_not_an_empty_configmap() {
        let object = json!({"kind": "ConfigMap", "data": {"mapRoles": "- rolearn: [\n"}});
        let c = aws_auth(Operation::AwsAuthUpdate, Some(&object), None);
        assert!(c.after.is_none());
        assert!(c.notes[0].contains("malformed"), "{:?}", c.notes);
        let bare = aws_auth(Operation::AwsAuthCreate, None, None);
        assert!(bare.after.is_none() && bare.notes[0].contains("no request or response body"));
    }

    #[test]
    fn bindings_read_role_and_subjects_and_name_kube_system_service_accounts() {
        let object = json!({"kind": "ClusterRoleBinding", "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": "ebs-csi", "namespace": "kube-system"},
                         {"kind": "User", "name": "system:serviceaccount:kube-system:x"},
                         {"kind": "Group", "name": "ops"}]});
        let b = binding(
            Operation::ClusterRoleBindingCreate,
            None,
            Some("x".into()),
            Some(&object),
            None,
        );
        assert!(b.binds_cluster_admin());
        let subjects = &b.after.as_ref().unwrap().subjects;
        assert!(subjects[0].is_kube_system_service_account());
        assert!(subjects[1].is_kube_system_service_account());
        assert!(!subjects[2].is_kube_system_service_account());
        let gone = binding(
            Operation::ClusterRoleBindingDelete,
            None,
            Some("x".into()),
            None,
            Some(&object),
        );
        assert!(gone.after.is_none() && gone.deleted);
    }

    #[test]
    fn role_paths_and_sessions_are_recognised() {
        let m = |arn: &str, kind| awsauth::Mapping {
            kind,
            index: 0,
            arn: arn.into(),
            username: None,
            groups: vec![],
        };
        assert!(role_has_path(&m(
            "arn:aws:iam::1:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_1",
            MapKind::Roles
        )));
        assert!(!role_has_path(&m(
            "arn:aws:iam::1:role/admin",
            MapKind::Roles
        )));
        assert!(!role_has_path(&m(
            "arn:aws:iam::1:user/team/alice",
            MapKind::Users
        )));
        assert!(is_session_mapping(&m(
            "arn:aws:sts::1:assumed-role/admin/jdoe",
            MapKind::Roles
        )));
    }
}
