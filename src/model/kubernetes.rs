//! What a watched Kubernetes request changed, as plain data: the aws-auth ConfigMap's mappings
//! ([`AwsAuthChange`], rows from [`crate::awsauth`]), RBAC bindings ([`BindingChange`]), and
//! ClusterRoles and kube-system's Roles ([`RoleChange`]). [`crate::kubernetes`] builds them
//! from audit events; the rules and renderings read them.

use crate::arn;
use crate::awsauth::{self, AwsAuth, MapKind, Row, RowChange, Section};

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
    /// changes (writes, removes, moves away, or replaces or deletes with `data` as a whole; all
    /// when the patch is not in the event).
    pub touched: Vec<Section>,
    /// Touched sections whose content after the change the event does not show (a patch
    /// copied or moved into them what another key held), with why: their rows are unknown,
    /// neither kept nor removed.
    pub unknown: Vec<(Section, String)>,
    /// How a patch reshaped the sections beyond writing their values, in the patch's order:
    /// "moves mapRoles to data key `old`", "deletes data (`$patch: delete`)".
    pub patch_effects: Vec<String>,
    /// What the alert must say about missing or unreadable content.
    pub notes: Vec<String>,
    /// `after` is the whole ConfigMap (not only the sections a patch set).
    pub whole_after: bool,
}

pub(crate) const PREVIOUS_UNKNOWN: &str = "the previous content is not in the audit event";
pub(crate) const DELETED_UNKNOWN: &str = "the deleted mappings are not in the audit event";

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

    /// The touched sections whose content after the change is known.
    pub fn known_touched(&self) -> Vec<Section> {
        self.touched
            .iter()
            .copied()
            .filter(|s| !self.unknown.iter().any(|(u, _)| u == s))
            .collect()
    }

    /// The whole ConfigMap after this change, when it is known (a patch's result is completed
    /// from the content before it; a section it set to unseen content leaves it unknown).
    pub fn whole_after(&self) -> Option<AwsAuth> {
        let after = self.after.as_ref()?;
        if self.whole_after {
            return Some(after.clone());
        }
        if !self.unknown.is_empty() {
            return None;
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

    /// Rows added, removed or changed in the touched sections whose content is known, when
    /// both versions are.
    pub fn row_changes(&self) -> Option<Vec<RowChange>> {
        Some(awsauth::diff(
            self.before.as_ref()?,
            self.after.as_ref()?,
            &self.known_touched(),
        ))
    }

    /// Every row of the touched sections after the change (those whose content is known),
    /// with whether it is new.
    pub fn rows_after(&self) -> Vec<(RowState, Row)> {
        let Some(after) = &self.after else {
            return Vec::new();
        };
        self.known_touched()
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
    /// ([`crate::context::History`]).
    pub grants_everything: Option<String>,
    /// The bound role grants escalation primitives that apply where the binding does, from a
    /// role change earlier in the same input ([`crate::context::History`]).
    pub escalation: Option<Escalation>,
}

/// The escalation primitives a bound role grants where the binding applies, and when the
/// role was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    pub primitives: Vec<Primitive>,
    pub written_at: Option<String>,
}

/// Built-in ClusterRoles that, bound cluster-wide (or in kube-system), come close to
/// cluster-admin: every Secret, exec into every pod, every service account's identity.
const BROAD_BUILT_IN_ROLES: &[&str] = &["admin", "edit"];

impl BindingChange {
    /// The binding grants the built-in `cluster-admin` ClusterRole, or another ClusterRole
    /// known to grant `*` verbs on `*` resources.
    pub fn binds_cluster_admin(&self) -> bool {
        self.grants_everything.is_some() || self.bound_cluster_role() == Some("cluster-admin")
    }

    /// The ClusterRole the binding grants after the change, if it names one.
    pub fn bound_cluster_role(&self) -> Option<&str> {
        self.bound_role(RoleKind::ClusterRole)
    }

    /// The role of `kind` the binding grants after the change, if it names one.
    pub fn bound_role(&self, kind: RoleKind) -> Option<&str> {
        self.after
            .as_ref()
            .filter(|b| b.role_kind == kind.as_str() && !b.role_name.is_empty())
            .map(|b| b.role_name.as_str())
    }

    /// The binding applies cluster-wide (a ClusterRoleBinding), or in kube-system.
    pub fn in_cluster_or_kube_system(&self) -> bool {
        self.kind == "ClusterRoleBinding" || self.namespace.as_deref() == Some("kube-system")
    }

    /// The built-in `admin` or `edit` ClusterRole bound cluster-wide or in kube-system: its name.
    pub fn binds_broad_built_in_role(&self) -> Option<&str> {
        self.bound_cluster_role()
            .filter(|r| BROAD_BUILT_IN_ROLES.contains(r) && self.in_cluster_or_kube_system())
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

/// A ClusterRole, or a Role (of kube-system: the only namespace whose Roles are watched).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleKind {
    ClusterRole,
    Role,
}

impl RoleKind {
    /// `ClusterRole`, `Role`: the `kind` of the object and of a binding's `roleRef`.
    pub fn as_str(self) -> &'static str {
        match self {
            RoleKind::ClusterRole => "ClusterRole",
            RoleKind::Role => "Role",
        }
    }
}

/// A ClusterRole, or a Role of kube-system, created, replaced or patched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleChange {
    pub kind: RoleKind,
    /// A Role's namespace (kube-system); `None` for a ClusterRole.
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// What the role grants after the change.
    pub grants: RoleGrants,
    /// An aggregated role: the controller fills its rules from other roles' labels.
    pub aggregated: bool,
    /// The aggregated roles this ClusterRole's rules join, from its
    /// `rbac.authorization.k8s.io/aggregate-to-<role>: "true"` labels (`edit`).
    pub aggregates_to: Vec<String>,
}

/// What a role grants after a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleGrants {
    /// A ClusterRole's rule grants `*` verbs on `*` resources: the rule, as `kubectl describe`
    /// would summarise it (`verbs [*] on resources [*] in API groups [*]`).
    Everything(String),
    /// The role grants escalation primitives (and, a ClusterRole, not everything).
    Escalation(Vec<Primitive>),
    /// Neither.
    Less,
    /// The event does not carry the resulting role (a patch logged without its response).
    Unknown,
}

/// An escalation primitive a role grants: a permission that yields more than itself
/// (`escalate` or `bind` on roles, `impersonate`, reading Secrets cluster-wide, exec, attach,
/// the kubelet proxy, service-account tokens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Primitive {
    /// `escalate`, `get/list` (for Secrets, the rule's verbs), `every verb`.
    pub verbs: String,
    /// `clusterroles`, `pods/exec`; for a Role's rule of every verb on every resource, that
    /// rule (`resources [*] in API groups [*]`).
    pub resource: String,
    /// The rule's `resourceNames`, when it is limited to some.
    pub names: Vec<String>,
    /// Only a ClusterRoleBinding grants it: it is on cluster-scoped objects (users, groups,
    /// nodes, ClusterRoles themselves) or, for Secrets, dangerous because cluster-wide. A
    /// RoleBinding of the ClusterRole does not hand it out.
    pub cluster_wide: bool,
}

impl Primitive {
    /// `escalate on [roles, clusterroles]`, `create on pods/exec`, `impersonate on users named
    /// [admin]`: the primitives, those of the same verbs and names together, in order.
    pub fn describe<'a>(primitives: impl IntoIterator<Item = &'a Primitive>) -> Vec<String> {
        let mut groups: Vec<(&str, &[String], Vec<&str>)> = Vec::new();
        for p in primitives {
            match groups
                .iter_mut()
                .find(|(verbs, names, _)| *verbs == p.verbs && *names == p.names.as_slice())
            {
                Some((_, _, resources)) => resources.push(&p.resource),
                None => groups.push((&p.verbs, &p.names, vec![&p.resource])),
            }
        }
        groups
            .into_iter()
            .map(|(verbs, names, resources)| {
                let on = match resources.as_slice() {
                    [one] => one.to_string(),
                    many => format!("[{}]", many.join(", ")),
                };
                let named = if names.is_empty() {
                    String::new()
                } else {
                    format!(" named [{}]", names.join(", "))
                };
                format!("{verbs} on {on}{named}")
            })
            .collect()
    }
}

impl RoleChange {
    /// The rule that grants everything, when one does.
    pub fn grants_everything(&self) -> Option<&str> {
        match &self.grants {
            RoleGrants::Everything(rule) => Some(rule),
            RoleGrants::Escalation(_) | RoleGrants::Less | RoleGrants::Unknown => None,
        }
    }

    /// The escalation primitives the role grants, when it grants some and not everything.
    pub fn escalation(&self) -> Option<&[Primitive]> {
        match &self.grants {
            RoleGrants::Escalation(primitives) => Some(primitives),
            RoleGrants::Everything(_) | RoleGrants::Less | RoleGrants::Unknown => None,
        }
    }

    /// `ClusterRole ci-escalator`, `Role kube-system/token-minter`.
    pub fn describe(&self) -> String {
        let name = self.name.as_deref().unwrap_or("(name not in the event)");
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{name}", self.kind.as_str()),
            None => format!("{} {name}", self.kind.as_str()),
        }
    }
}
