//! What each cluster's aws-auth held after the changes an input has shown so far: the
//! previous content that an update, a patch or a deletion's audit event does not carry; and
//! which ClusterRoles were written to grant `*` verbs on `*` resources, so that a binding to
//! one of them is graded like a binding to `cluster-admin`.

use crate::awsauth::AwsAuth;
use crate::model::{AccessEvent, Change, RoleGrants, RoleKind};
use crate::operation::Skip;

/// A ClusterRole written to grant everything, as last written.
#[derive(Debug)]
struct Remembered {
    cluster: Option<String>,
    kind: RoleKind,
    /// A Role's namespace.
    namespace: Option<String>,
    name: String,
    /// The rule that grants everything.
    grants: String,
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
    /// ClusterRoles that grant everything, as last written.
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
                let Some(grants) = role.grants_everything().map(str::to_string) else {
                    return;
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
                let Some(bound) = binding.bound_cluster_role() else {
                    return;
                };
                binding.grants_everything = self
                    .roles
                    .iter()
                    .find(|r| {
                        r.cluster == event.cluster
                            && r.kind == RoleKind::ClusterRole
                            && r.name == bound
                    })
                    .map(|r| match &r.written_at {
                        Some(t) => format!("{}, written at {t}", r.grants),
                        None => r.grants.clone(),
                    });
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
