//! What each cluster's aws-auth held after the changes an input has shown so far: the
//! previous content that an update, a patch or a deletion's audit event does not carry; and
//! which ClusterRoles were written to grant `*` verbs on `*` resources, so that a binding to
//! one of them is graded like a binding to `cluster-admin`.

use crate::awsauth::AwsAuth;
use crate::model::{AccessEvent, Change, RoleGrants};
use crate::operation::Skip;

/// What each cluster's aws-auth held after the last change seen so far in one input (one
/// replayed file, one subscription payload): the "previous content" an update, a patch or a
/// deletion does not carry, so their alerts can name rows added, removed and changed. A failed
/// call changed nothing; a successful one whose result is unknown (no body) forgets the
/// cluster's content rather than let a later alert compare with a stale one.
#[derive(Debug, Default)]
pub struct History {
    /// (cluster, content, the event's time); a handful of clusters per input.
    last: Vec<(Option<String>, AwsAuth, Option<String>)>,
    /// ClusterRoles that grant everything, as last written: (cluster, name, what it grants
    /// and when it was written).
    wildcard_roles: Vec<(Option<String>, String, String)>,
}

impl History {
    /// Complete `event`'s change from what came before and remember its result. `Some(skip)`
    /// when the event was watched only to be remembered (a ClusterRole written to grant less
    /// than everything): there is nothing to alert on.
    pub fn observe(&mut self, event: &mut AccessEvent) -> Option<Skip> {
        self.apply(event);
        match &event.change {
            Change::ClusterRole(role) if role.grants_everything().is_none() => {
                Some(Skip::RoleGrantsLess(role.grants == RoleGrants::Unknown))
            }
            _ => None,
        }
    }

    /// Complete `event`'s change from what came before, then remember its result.
    fn apply(&mut self, event: &mut AccessEvent) {
        match &mut event.change {
            Change::AwsAuth(_) => self.aws_auth(event),
            Change::ClusterRole(role) => {
                let Some(name) = role.name.clone() else {
                    return;
                };
                if event.error.is_some() {
                    return;
                }
                let at = |(c, n, _): &(Option<String>, String, String)| {
                    *c == event.cluster && *n == name
                };
                self.wildcard_roles.retain(|r| !at(r));
                if let Some(rule) = role.grants_everything() {
                    let when = match &event.event_time {
                        Some(t) => format!("{rule}, written at {t}"),
                        None => rule.to_string(),
                    };
                    self.wildcard_roles
                        .push((event.cluster.clone(), name, when));
                }
            }
            Change::RoleBinding(binding) => {
                let Some(bound) = binding.bound_cluster_role() else {
                    return;
                };
                binding.grants_everything = self
                    .wildcard_roles
                    .iter()
                    .find(|(c, n, _)| *c == event.cluster && n == bound)
                    .map(|(_, _, grants)| grants.clone());
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
