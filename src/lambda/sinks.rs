//! One delivery behaviour for every sink, kept in the state store (`STATE_TABLE_NAME`):
//!
//! - `sink-sent#<event id>`: the sinks that took an event. A sink that failed leaves the event
//!   retryable (its claim is released, Lambda retries it); on the retry, the sinks listed here
//!   are skipped, so no sink gets an event twice.
//! - `sink-finding#<finding id>`: the sinks that hold a finding (an incident id, or the event id
//!   of an alert without one). An update or a revert of that finding goes to each of them
//!   whatever `MIN_SEVERITY` or the sink's own minimum says ([`crate::sink::due`]).
//!
//! Both are read in one call after correlation and written with the batch's commit. With the
//! alert topic as the only sink, only the findings a payload's events may update or close are
//! read (no call at all for a payload that opens and undoes nothing), so the topic too sees
//! the revert of a grant it published. Without the store, or when it fails, every sink gets
//! every alert at or above its minimum (a retry may then reach a sink twice: never an alert
//! lost).

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::context::correlate::Correlation;
use crate::context::state::{Store, Stored, Write};
use crate::model::AccessEvent;

/// How long a sink's hold on a finding is remembered: Security Hub keeps an un-updated
/// finding for 90 days.
pub const HELD_FOR: i64 = 90 * 24 * 3600;

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Sinks {
    sinks: BTreeSet<String>,
}

#[derive(Debug, Clone)]
struct Entry {
    sinks: BTreeSet<String>,
    version: Option<u64>,
    changed: bool,
}

/// What the store says about the sinks, and what this invocation adds.
#[derive(Debug, Default)]
pub struct SinkState {
    entries: HashMap<String, Entry>,
    /// False without a store (or when it did not answer): nothing is remembered.
    on: bool,
    /// One sink that keeps no findings: no sent marks (the delivered-once marks suffice).
    lone: bool,
}

pub fn sent_key(event_id: &str) -> String {
    format!("sink-sent#{event_id}")
}

pub fn finding_key(uid: &str) -> String {
    format!("sink-finding#{uid}")
}

impl SinkState {
    /// Nothing known, nothing remembered.
    pub fn off() -> Self {
        SinkState::default()
    }

    /// The keys an event's delivery reads: its sent mark, and the findings its alert may move
    /// (its incident, its own id, the grant it undoes).
    pub fn keys_for(event: &AccessEvent, correlation: Option<&Correlation>) -> Vec<String> {
        let mut keys = Vec::new();
        if let Some(id) = &event.event_id {
            keys.push(sent_key(id));
            keys.push(finding_key(id));
        }
        if let Some(c) = correlation {
            if let Some(i) = &c.incident {
                keys.push(finding_key(&i.id));
            }
            if let Some(r) = &c.resolves {
                keys.push(finding_key(r));
            }
        }
        keys
    }

    /// The keys a lone sink that keeps no findings (the alert topic alone) needs: only the
    /// findings an event may update or close (an incident it did not open, the grant it
    /// undoes). No sent marks: with one sink the delivered-once marks already keep a retry
    /// from sending twice. A payload of events that continue nothing and undo nothing reads
    /// nothing.
    pub fn lifecycle_keys_for(correlation: Option<&Correlation>) -> Vec<String> {
        let Some(c) = correlation else {
            return Vec::new();
        };
        c.incident
            .iter()
            // The incident as it stands after the event: only its opener, or more.
            .filter(|i| i.events.len() > 1 || i.more > 0)
            .map(|i| finding_key(&i.id))
            .chain(c.resolves.iter().map(|r| finding_key(r)))
            .collect()
    }

    /// Read `keys` (one call); a store that fails leaves the state off, logged.
    pub async fn load(store: &dyn Store, keys: &[String], now: i64) -> Self {
        let mut keys = keys.to_vec();
        keys.sort();
        keys.dedup();
        if keys.is_empty() {
            return SinkState {
                on: true,
                ..SinkState::default()
            };
        }
        match store.read(&keys, now).await {
            Ok(found) => Self::from_stored(found),
            Err(e) => {
                tracing::error!(error = %e, "sink delivery state unavailable: every sink gets every alert at or above its minimum");
                SinkState::off()
            }
        }
    }

    /// The state from the records read.
    pub fn from_stored(found: HashMap<String, Stored>) -> Self {
        let entries = found
            .into_iter()
            .map(|(k, s)| {
                let sinks = serde_json::from_str::<Sinks>(&s.json)
                    .map(|x| x.sinks)
                    .unwrap_or_default();
                let entry = Entry {
                    sinks,
                    version: Some(s.version),
                    changed: false,
                };
                (k, entry)
            })
            .collect();
        SinkState {
            entries,
            on: true,
            lone: false,
        }
    }

    /// The state of a lone sink that keeps no findings: it remembers the findings the sink
    /// holds, not which events it took.
    pub fn lone(mut self) -> Self {
        self.lone = true;
        self
    }

    pub fn is_on(&self) -> bool {
        self.on
    }

    fn has(&self, key: &str, sink: &str) -> bool {
        self.entries
            .get(key)
            .is_some_and(|e| e.sinks.contains(sink))
    }

    /// True when `sink` already took this event.
    pub fn sent(&self, event_id: Option<&str>, sink: &str) -> bool {
        event_id.is_some_and(|id| self.has(&sent_key(id), sink))
    }

    /// True when `sink` holds one of the findings `uids`.
    pub fn holds(&self, uids: &[String], sink: &str) -> bool {
        uids.iter().any(|u| self.has(&finding_key(u), sink))
    }

    fn add(&mut self, key: String, sink: &str) {
        let entry = self.entries.entry(key).or_insert(Entry {
            sinks: BTreeSet::new(),
            version: None,
            changed: false,
        });
        if entry.sinks.insert(sink.to_string()) {
            entry.changed = true;
        }
    }

    /// `sink` took the event, and now holds the findings `uids`.
    pub fn delivered(&mut self, event_id: Option<&str>, uids: &[String], sink: &str) {
        if !self.on {
            return;
        }
        if let Some(id) = event_id.filter(|_| !self.lone) {
            self.add(sent_key(id), sink);
        }
        for u in uids {
            self.add(finding_key(u), sink);
        }
    }

    /// The records this invocation changed, as conditional writes on the versions read.
    pub fn writes(&self, now: i64, sent_for: i64) -> Vec<Write> {
        let mut out: Vec<Write> = self
            .entries
            .iter()
            .filter(|(_, e)| e.changed)
            .map(|(key, e)| Write {
                key: key.clone(),
                json: serde_json::to_string(&Sinks {
                    sinks: e.sinks.clone(),
                })
                .unwrap_or_default(),
                expires_at: now
                    + if key.starts_with("sink-sent#") {
                        sent_for
                    } else {
                        HELD_FOR
                    },
                expected_version: e.version,
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_is_remembered_per_sink_and_per_finding() {
        let mut s = SinkState {
            on: true,
            ..SinkState::default()
        };
        let uids = vec!["eaw-1".to_string(), "ev-0".to_string()];
        s.delivered(Some("ev-1"), &uids, "securityhub");
        assert!(s.sent(Some("ev-1"), "securityhub"));
        assert!(!s.sent(Some("ev-1"), "pagerduty"));
        assert!(s.holds(&["ev-0".to_string()], "securityhub"));
        assert!(!s.holds(&["ev-0".to_string()], "pagerduty"));
        let w = s.writes(1000, 10);
        assert_eq!(w.len(), 3);
        assert!(w.iter().all(|w| w.expected_version.is_none()));
        let sent = w.iter().find(|w| w.key == "sink-sent#ev-1").unwrap();
        assert_eq!(sent.expires_at, 1010);
        assert_eq!(sent.json, r#"{"sinks":["securityhub"]}"#);
    }

    #[test]
    fn a_lone_sink_remembers_what_it_holds_not_what_it_sent() {
        let mut s = SinkState {
            on: true,
            ..SinkState::default()
        }
        .lone();
        s.delivered(Some("ev-1"), &["ev-1".to_string()], "sns");
        assert!(s.holds(&["ev-1".to_string()], "sns"));
        assert!(!s.sent(Some("ev-1"), "sns"));
        let w = s.writes(0, 0);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].key, "sink-finding#ev-1");
    }

    #[test]
    fn off_remembers_nothing() {
        let mut s = SinkState::off();
        s.delivered(Some("ev-1"), &[], "pagerduty");
        assert!(!s.sent(Some("ev-1"), "pagerduty"));
        assert!(s.writes(0, 0).is_empty());
    }

    #[test]
    fn records_read_are_updated_on_their_version() {
        let mut found = HashMap::new();
        found.insert(
            "sink-finding#eaw-1".to_string(),
            Stored {
                json: r#"{"sinks":["sns"]}"#.into(),
                version: 4,
                expires_at: 99,
            },
        );
        let mut s = SinkState::from_stored(found);
        assert!(s.holds(&["eaw-1".to_string()], "sns"));
        assert!(s.writes(0, 0).is_empty(), "nothing changed");
        s.delivered(None, &["eaw-1".to_string()], "pagerduty");
        let w = s.writes(0, 0);
        assert_eq!(w[0].expected_version, Some(4));
        assert_eq!(w[0].json, r#"{"sinks":["pagerduty","sns"]}"#);
    }
}
