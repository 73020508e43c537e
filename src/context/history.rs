//! What each cluster's aws-auth held after the changes an input has shown so far: the
//! previous content that an update, a patch or a deletion's audit event does not carry; and
//! which ClusterRoles (and Roles of kube-system) were written to grant `*` verbs on `*`
//! resources or an escalation primitive, so that a binding to one of them is graded like a
//! binding to `cluster-admin`, or as an escalation.

use crate::awsauth::AwsAuth;
use crate::model::{AccessEvent, Change, Escalation, Primitive, RoleGrants, RoleKind};
use crate::operation::Skip;

/// What a remembered role grants.
#[derive(Debug)]
enum Grants {
    /// `*` verbs on `*` resources: the rule and when it was written.
    Everything(String),
    /// Escalation primitives.
    Escalation(Vec<Primitive>),
}

/// A role written to grant everything or an escalation primitive, as last written.
#[derive(Debug)]
struct Remembered {
    cluster: Option<String>,
    kind: RoleKind,
    /// A Role's namespace.
    namespace: Option<String>,
    name: String,
    grants: Grants,
    written_at: Option<String>,
}

/// What each cluster's aws-auth held after the last change seen so far in one input (one
/// replayed file, one subscription payload): the "previous content" an update, a patch or a
/// deletion does not carry, so their alerts can name rows added, removed and changed. A failed
/// call changed nothing; a successful one whose result is unknown (no body) forgets the
/// cluster's content rather than let a later alert compare with a stale one.
#[derive(Debug, Default)]
pub struct History {
    /// (cluster, content, the event's time); a handful of clusters per input.
    last: Vec<(Option<String>, AwsAuth, Option<String>)>,
    /// Roles that grant everything or an escalation primitive, as last written.
    roles: Vec<Remembered>,
}

impl History {
    /// Complete `event`'s change from what came before and remember its result. `Some(skip)`
    /// when the event was watched only to be remembered (a role written to grant neither
    /// everything nor an escalation primitive): there is nothing to alert on.
    pub fn observe(&mut self, event: &mut AccessEvent) -> Option<Skip> {
        self.apply(event);
        match &event.change {
            Change::Role(role) => match role.grants {
                RoleGrants::Everything(_) | RoleGrants::Escalation(_) => None,
                RoleGrants::Less | RoleGrants::Unknown => Some(Skip::RoleGrantsLess {
                    kind: role.kind.as_str(),
                    unknown: role.grants == RoleGrants::Unknown,
                }),
            },
            _ => None,
        }
    }

    /// Complete `event`'s change from what came before, then remember its result.
    fn apply(&mut self, event: &mut AccessEvent) {
        match &mut event.change {
            Change::AwsAuth(_) => self.aws_auth(event),
            Change::Role(role) => {
                let Some(name) = role.name.clone() else {
                    return;
                };
                if event.error.is_some() {
                    return;
                }
                let (kind, namespace) = (role.kind, role.namespace.clone());
                self.roles.retain(|r| {
                    !(r.cluster == event.cluster
                        && r.kind == kind
                        && r.namespace == namespace
                        && r.name == name)
                });
                let grants = match &role.grants {
                    RoleGrants::Everything(rule) => Grants::Everything(rule.clone()),
                    // An aggregated role's rules are the union of the roles it selects, each
                    // alerted when written; bindings of it (the built-in admin and edit among
                    // them) are graded by name, not by what the controller last filled in.
                    RoleGrants::Escalation(primitives) if !role.aggregated => {
                        Grants::Escalation(primitives.clone())
                    }
                    RoleGrants::Escalation(_) | RoleGrants::Less | RoleGrants::Unknown => return,
                };
                self.roles.push(Remembered {
                    cluster: event.cluster.clone(),
                    kind,
                    namespace,
                    name,
                    grants,
                    written_at: event.event_time.clone(),
                });
            }
            Change::RoleBinding(binding) => {
                let (kind, name) = match (
                    binding.bound_role(RoleKind::ClusterRole),
                    binding.bound_role(RoleKind::Role),
                ) {
                    (Some(name), _) => (RoleKind::ClusterRole, name),
                    (None, Some(name)) => (RoleKind::Role, name),
                    (None, None) => return,
                };
                // A RoleBinding names a Role of its own namespace.
                let namespace = match kind {
                    RoleKind::ClusterRole => None,
                    RoleKind::Role => binding.namespace.clone(),
                };
                let Some(role) = self.roles.iter().find(|r| {
                    r.cluster == event.cluster
                        && r.kind == kind
                        && r.namespace == namespace
                        && r.name == name
                }) else {
                    return;
                };
                match &role.grants {
                    Grants::Everything(rule) => {
                        binding.grants_everything = Some(match &role.written_at {
                            Some(t) => format!("{rule}, written at {t}"),
                            None => rule.clone(),
                        })
                    }
                    Grants::Escalation(primitives) => {
                        // A RoleBinding hands out only what a namespace can hold.
                        let cluster_wide = binding.kind == "ClusterRoleBinding";
                        let primitives: Vec<Primitive> = primitives
                            .iter()
                            .filter(|p| cluster_wide || !p.cluster_wide)
                            .cloned()
                            .collect();
                        binding.escalation = (!primitives.is_empty()).then(|| Escalation {
                            primitives,
                            written_at: role.written_at.clone(),
                        });
                    }
                }
            }
            _ => {}
        }
    }

    fn aws_auth(&mut self, event: &mut AccessEvent) {
        let Change::AwsAuth(change) = &mut event.change else {
            return;
        };
        let slot = self.last.iter().position(|(c, _, _)| *c == event.cluster);
        if event.error.is_some() {
            return;
        }
        if let Some(i) = slot {
            let (_, previous, time) = &self.last[i];
            change.assume_previous(previous, time.as_deref());
        }
        match (change.whole_after(), slot) {
            (Some(after), Some(i)) => {
                self.last[i] = (event.cluster.clone(), after, event.event_time.clone())
            }
            (Some(after), None) => {
                self.last
                    .push((event.cluster.clone(), after, event.event_time.clone()))
            }
            (None, Some(i)) => {
                self.last.remove(i);
            }
            (None, None) => {}
        }
    }
}
