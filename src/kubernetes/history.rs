//! What each cluster's aws-auth held after the changes an input has shown so far: the
//! previous content that an update, a patch or a deletion's audit event does not carry.

use crate::awsauth::AwsAuth;
use crate::event::{AccessEvent, Change};

/// What each cluster's aws-auth held after the last change seen so far in one input (one
/// replayed file, one subscription payload): the "previous content" an update, a patch or a
/// deletion does not carry, so their alerts can name rows added, removed and changed. A failed
/// call changed nothing; a successful one whose result is unknown (no body) forgets the
/// cluster's content rather than let a later alert compare with a stale one.
#[derive(Debug, Default)]
pub struct History {
    /// (cluster, content, the event's time); a handful of clusters per input.
    last: Vec<(Option<String>, AwsAuth, Option<String>)>,
}

impl History {
    /// Complete `event`'s aws-auth change from what came before, then remember its result.
    pub fn apply(&mut self, event: &mut AccessEvent) {
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
