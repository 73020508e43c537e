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

use crate::arn;
use crate::awsauth::{self, AwsAuth, MapKind, Row, RowChange, Section};
use crate::operation::{KubeObject, Operation, Verb};
use crate::text::clean;

const MAX_NAME: usize = 256;

/// How a row of the ConfigMap after the change relates to the one before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowState {
    /// Not there before.
    Added,
    /// There before, unchanged.
    Kept,
    /// There after the change; the previous content is not in the audit event.
    Present,
}

impl RowState {
    /// ` (added)`, ` (kept)`, or nothing when unknown.
    pub fn note(self) -> &'static str {
        match self {
            RowState::Added => " (added)",
            RowState::Kept => " (kept)",
            RowState::Present => "",
        }
    }
}

/// A change of the aws-auth ConfigMap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsAuthChange {
    /// The mappings before the change, when the event says: empty before a create, the
    /// deleted object when the API server returned it.
    pub before: Option<AwsAuth>,
    /// The mappings after the change (the stored object, else the request's); empty after a
    /// deletion; `None` when the event carries no readable body.
    pub after: Option<AwsAuth>,
    /// The sections the request set: all for a create, update or deletion, the ones a patch
    /// names (all when the patch is not in the event).
    pub touched: Vec<Section>,
    /// What the alert must say about missing or unreadable content.
    pub notes: Vec<String>,
    /// `after` is the whole ConfigMap (not only the sections a patch set).
    pub whole_after: bool,
}

const PREVIOUS_UNKNOWN: &str = "the previous content is not in the audit event";
const DELETED_UNKNOWN: &str = "the deleted mappings are not in the audit event";

impl AwsAuthChange {
    /// Compare with `previous`, the content an earlier event of the same input left (at
    /// `time`), when the event itself does not say what was there before.
    pub fn assume_previous(&mut self, previous: &AwsAuth, time: Option<&str>) {
        if self.before.is_some() {
            return;
        }
        self.before = Some(previous.clone());
        self.notes
            .retain(|n| n != PREVIOUS_UNKNOWN && n != DELETED_UNKNOWN);
        self.notes.push(format!(
            "compared with aws-auth as an earlier event of this input left it{}",
            time.map(|t| format!(" ({t})")).unwrap_or_default()
        ));
    }

    /// The whole ConfigMap after this change, when it is known (a patch's result is completed
    /// from the content before it).
    pub fn whole_after(&self) -> Option<AwsAuth> {
        let after = self.after.as_ref()?;
        if self.whole_after {
            return Some(after.clone());
        }
        let mut whole = self.before.clone()?;
        for section in &self.touched {
            match section {
                Section::Roles => whole.roles = after.roles.clone(),
                Section::Users => whole.users = after.users.clone(),
                Section::Accounts => whole.accounts = after.accounts.clone(),
            }
        }
        Some(whole)
    }

    /// Rows added, removed or changed in the touched sections, when both versions are known.
    pub fn row_changes(&self) -> Option<Vec<RowChange>> {
        Some(awsauth::diff(
            self.before.as_ref()?,
            self.after.as_ref()?,
            &self.touched,
        ))
    }

    /// Every row of the touched sections after the change, with whether it is new.
    pub fn rows_after(&self) -> Vec<(RowState, Row)> {
        let Some(after) = &self.after else {
            return Vec::new();
        };
        self.touched
            .iter()
            .flat_map(|s| after.rows(*s))
            .map(|row| {
                let state = match &self.before {
                    None => RowState::Present,
                    Some(b) if b.contains(&row) => RowState::Kept,
                    Some(_) => RowState::Added,
                };
                (state, row)
            })
            .collect()
    }

    /// The one principal whose mapping was added or changed, when exactly one was.
    pub fn principal_arn(&self) -> Option<&str> {
        let Some(after) = &self.after else {
            return None;
        };
        let mut changed = match &self.before {
            Some(before) => after
                .mappings()
                .filter(|m| !before.contains(&Row::Mapping((*m).clone())))
                .collect::<Vec<_>>(),
            None => return None,
        };
        if changed.len() == 1 {
            changed.pop().map(|m| m.arn.as_str())
        } else {
            None
        }
    }

    /// The change maps one principal that no row mapped before: it grants that principal
    /// access (so `self-grant` and `cross-account-principal` apply as to an access entry).
    pub fn grants(&self) -> bool {
        match (self.principal_arn(), &self.before) {
            (Some(arn), Some(before)) => !before.mappings().any(|m| m.arn == arn),
            _ => false,
        }
    }

    /// A `system:masters` mapping is in a section this change set.
    pub fn maps_system_masters(&self) -> bool {
        self.rows_after()
            .iter()
            .any(|(_, row)| matches!(row, Row::Mapping(m) if is_system_masters(m)))
    }
}

/// The mapping puts its principal in `system:masters` (unrestricted, outside RBAC).
pub fn is_system_masters(m: &awsauth::Mapping) -> bool {
    m.groups.iter().any(|g| g.trim() == "system:masters")
}

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
            let touched = request.map(patched_sections).unwrap_or(all);
            let (after, whole) = match stored {
                Some(o) => (data_of(o, "aws-auth after the patch"), true),
                None => (
                    request
                        .and_then(patched_data)
                        .and_then(|d| data_of(&d, "the patched aws-auth")),
                    false,
                ),
            };
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
        notes,
        whole_after,
    }
}

fn is_kind(object: &Value, kind: &str) -> bool {
    object.is_object() && object.get("kind").and_then(Value::as_str).unwrap_or(kind) == kind
}

fn section_of(key: &str) -> Option<Section> {
    Section::ALL.iter().copied().find(|s| s.as_str() == key)
}

/// The sections a patch sets: the `data` keys of a merge, strategic-merge or apply patch;
/// the `/data/...` paths of a JSON patch. A patch we cannot read sets everything.
fn patched_sections(patch: &Value) -> Vec<Section> {
    let all = Section::ALL.to_vec();
    match patch {
        Value::Object(o) => match o.get("data") {
            None => Vec::new(),
            Some(Value::Object(d)) => d.keys().filter_map(|k| section_of(k)).collect(),
            Some(_) => all,
        },
        Value::Array(ops) => {
            let mut sections = Vec::new();
            for op in ops {
                let path = op.get("path").and_then(Value::as_str).unwrap_or_default();
                let found = match path.strip_prefix("/data") {
                    Some("") => all.clone(),
                    Some(rest) => section_of(rest.trim_start_matches('/'))
                        .into_iter()
                        .collect(),
                    None => Vec::new(),
                };
                for s in found {
                    if !sections.contains(&s) {
                        sections.push(s);
                    }
                }
            }
            sections
        }
        _ => all,
    }
}

/// The sections a patch sets, as a `data` object (removed sections as `null`), for when the
/// resulting object is not in the event.
fn patched_data(patch: &Value) -> Option<Value> {
    let mut data = serde_json::Map::new();
    match patch {
        Value::Object(o) => {
            for (k, v) in o.get("data")?.as_object()? {
                data.insert(k.clone(), v.clone());
            }
        }
        Value::Array(ops) => {
            for op in ops {
                let path = op.get("path").and_then(Value::as_str).unwrap_or_default();
                if let Some(key) = path.strip_prefix("/data/") {
                    let value = match op.get("op").and_then(Value::as_str) {
                        Some("remove") => Value::Null,
                        _ => op.get("value").cloned().unwrap_or(Value::Null),
                    };
                    data.insert(key.to_string(), value);
                }
            }
        }
        _ => return None,
    }
    Some(serde_json::json!({ "data": data }))
}

/// A subject of a binding, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// `User`, `Group` or `ServiceAccount`.
    pub kind: String,
    pub name: String,
    /// For service accounts.
    pub namespace: Option<String>,
}

impl Subject {
    /// A service account of kube-system, however it is named: the ServiceAccount itself, its
    /// user name (`system:serviceaccount:kube-system:x`) or the group of them all.
    pub fn is_kube_system_service_account(&self) -> bool {
        match self.kind.as_str() {
            "ServiceAccount" => self.namespace.as_deref() == Some("kube-system"),
            _ => {
                self.name.starts_with("system:serviceaccount:kube-system:")
                    || self.name == "system:serviceaccounts:kube-system"
            }
        }
    }

    /// `Group system:masters`, `ServiceAccount kube-system/coredns`.
    pub fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) if self.kind == "ServiceAccount" => {
                format!("{} {ns}/{}", self.kind, self.name)
            }
            _ => format!("{} {}", self.kind, self.name),
        }
    }
}

/// A binding's content: the role it grants and to whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// `ClusterRole` or `Role`; empty when the event does not say (a patch).
    pub role_kind: String,
    pub role_name: String,
    pub subjects: Vec<Subject>,
}

/// A change of a ClusterRoleBinding or RoleBinding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingChange {
    /// `ClusterRoleBinding` or `RoleBinding`.
    pub kind: &'static str,
    pub namespace: Option<String>,
    /// `None` for a deletion of every binding at once (`deletecollection`).
    pub name: Option<String>,
    /// The binding after the change; `None` after a deletion or when the event does not say.
    pub after: Option<Binding>,
    pub deleted: bool,
    pub notes: Vec<String>,
    /// The bound ClusterRole is not `cluster-admin` but grants as much: what it grants and
    /// when it was written, from a ClusterRole change earlier in the same input
    /// ([`super::History`]).
    pub grants_everything: Option<String>,
}

impl BindingChange {
    /// The binding grants the built-in `cluster-admin` ClusterRole, or another ClusterRole
    /// known to grant `*` verbs on `*` resources.
    pub fn binds_cluster_admin(&self) -> bool {
        self.grants_everything.is_some() || self.bound_cluster_role() == Some("cluster-admin")
    }

    /// The ClusterRole the binding grants after the change, if it names one.
    pub fn bound_cluster_role(&self) -> Option<&str> {
        self.after
            .as_ref()
            .filter(|b| b.role_kind == "ClusterRole")
            .map(|b| b.role_name.as_str())
    }

    /// `ClusterRoleBinding ops-admin`, `RoleBinding deployers in namespace payments`, `every
    /// RoleBinding in namespace ci-1`.
    pub fn describe(&self) -> String {
        let what = match &self.name {
            Some(name) => format!("{} {name}", self.kind),
            None => format!("every {}", self.kind),
        };
        match &self.namespace {
            Some(ns) => format!("{what} in namespace {ns}"),
            None => what,
        }
    }
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
            | KubeObject::ClusterRole,
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

/// A mapping's ARN names an STS session (`assumed-role/...`): aws-auth never matches it.
pub fn is_session_mapping(m: &awsauth::Mapping) -> bool {
    arn::is_sts_session(&m.arn)
}

/// A `mapRoles` role ARN with a path (`role/teams/x`): aws-auth compares callers by the
/// path-less role ARN, so the mapping matches nobody as written.
pub fn role_has_path(m: &awsauth::Mapping) -> bool {
    m.kind == MapKind::Roles
        && arn::Arn::parse(&m.arn).is_some_and(|a| {
            a.service == "iam"
                && a.resource
                    .strip_prefix("role/")
                    .is_some_and(|name| name.contains('/'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
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
