//! Correlation: what earlier events (of this run, of earlier runs, of other invocations) say
//! about this one, as plain facts ([`Correlation`]) the correlation rules read.
//!
//! Pure: [`observe`] reads and updates a [`View`] (the records of the event's keys, as the
//! store returned them) and never does I/O; the shells read the keys ([`keys_for`]) before and
//! write the [`View::writes`] after delivery. Events are observed in event-time order, so the
//! result is the same however the input was read.
//!
//! What is followed, and how long:
//! - a break-glass session, from its AssumeRole (the access key it issued, or the session ARN
//!   where the key is absent) until its credentials expire (at most 12 hours);
//! - grants per (account, region, cluster, principal), and bindings per cluster, until they
//!   are undone (created then deleted within the window; any undo within 12 hours is a
//!   revert);
//! - each principal's grants across clusters, within the fan-out window;
//! - each caller's denied calls, within the denied-attempts window.

use std::collections::{BTreeSet, HashMap};

use chrono::DateTime;

use sha2::{Digest, Sha256};

use super::state::{
    ClusterGrant, Denied, EventRef, GrantMark, Granted, Incident, Key, Record, Session, StoreError,
    Stored, Write, principal_id,
};
use crate::config::{CorrelationSettings, RuleConfig};
use crate::model::{AccessEvent, Change, IssuedCredentials};
use crate::operation::Source;

/// The longest any record lives: a session's credentials, and how long a grant can still be
/// reverted.
pub const LONGEST: i64 = 12 * 3600;

/// Correlation rule ids (the incident's `rule`).
pub const SESSION_RULE: &str = "break-glass-session-activity";
pub const CREATED_THEN_DELETED_RULE: &str = "access-entry-created-then-deleted";
pub const MANY_CLUSTERS_RULE: &str = "principal-granted-on-many-clusters";
pub const DENIED_RULE: &str = "repeated-denied-attempts";
pub const REVERTED_RULE: &str = "grant-reverted";

/// What correlation found for one event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Correlation {
    /// The call was made with credentials a break-glass AssumeRole issued.
    pub session: Option<SessionActivity>,
    /// The event is that AssumeRole: it opens the session's incident.
    pub opens_session: bool,
    pub created_then_deleted: Option<CreatedThenDeleted>,
    pub many_clusters: Option<ManyClusters>,
    pub denied: Option<RepeatedDenied>,
    pub reverted: Option<Reverted>,
    /// The incident the event belongs to, as it stands after the event.
    pub incident: Option<Incident>,
    /// The event id of the grant this event undoes.
    pub resolves: Option<String>,
    /// The store did not answer: the event is judged without correlation.
    pub unavailable: Option<String>,
}

impl Correlation {
    /// The facts of an event judged without the store, and why.
    pub fn unavailable(reason: &StoreError) -> Self {
        Correlation {
            unavailable: Some(reason.0.clone()),
            ..Correlation::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionActivity {
    pub session: Session,
    /// The session's watched actions before this one, oldest first (the AssumeRole first).
    pub earlier: Vec<EventRef>,
    pub earlier_more: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedThenDeleted {
    /// Whose access (the principal's ARN, or the binding).
    pub principal: String,
    pub granted: Granted,
    pub created: EventRef,
    /// Seconds between the grant and its removal.
    pub after: i64,
    /// Both calls by approved callers (or AWS).
    pub both_approved: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManyClusters {
    pub principal: String,
    /// `<account>/<region>/<cluster>`, in the order granted.
    pub clusters: Vec<String>,
    pub all_approved: bool,
    pub window: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepeatedDenied {
    pub count: usize,
    pub window: i64,
    pub first: EventRef,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reverted {
    /// Whose access (the principal's ARN, or the binding).
    pub principal: String,
    pub granted: Granted,
    pub grant: EventRef,
    /// Seconds the grant stood.
    pub stood: i64,
}

/// The records of one batch of events, as read, and what observing them changed.
#[derive(Debug, Default)]
pub struct View {
    entries: HashMap<String, Entry>,
}

#[derive(Debug)]
struct Entry {
    record: Record,
    version: Option<u64>,
    dirty: bool,
}

impl View {
    /// The view of what the store returned.
    pub fn new(stored: HashMap<String, Stored>) -> Result<Self, StoreError> {
        let mut entries = HashMap::new();
        for (key, s) in stored {
            let record = Record::from_json(&key, &s.json)?;
            entries.insert(
                key,
                Entry {
                    record,
                    version: Some(s.version),
                    dirty: false,
                },
            );
        }
        Ok(View { entries })
    }

    /// The record of `key` if it exists and lives at `now`.
    fn get(&self, key: &str, now: i64) -> Option<&Record> {
        self.entries
            .get(key)
            .map(|e| &e.record)
            .filter(|r| r.expires_at > now)
    }

    /// The record of `key` to change (an expired one starts afresh).
    fn edit(&mut self, key: &str, now: i64) -> &mut Record {
        let entry = self.entries.entry(key.to_string()).or_insert(Entry {
            record: Record::default(),
            version: None,
            dirty: false,
        });
        if entry.record.expires_at <= now {
            entry.record = Record::default();
        }
        entry.dirty = true;
        &mut entry.record
    }

    /// What to write back: every record observing changed, conditional on the version read.
    pub fn writes(&self) -> Vec<Write> {
        let mut writes: Vec<Write> = self
            .entries
            .iter()
            .filter(|(_, e)| e.dirty)
            .map(|(key, e)| Write {
                key: key.clone(),
                json: e.record.to_json(),
                expires_at: e.record.expires_at,
                expected_version: e.version,
            })
            .collect();
        writes.sort_by(|a, b| a.key.cmp(&b.key));
        writes
    }

    /// After a write: the new versions of what was written (the store bumps each by one).
    pub fn written(&mut self, conflicts: &[String]) {
        for (key, e) in self.entries.iter_mut() {
            if e.dirty && !conflicts.contains(key) {
                e.version = Some(e.version.map_or(1, |v| v + 1));
                e.dirty = false;
            }
        }
    }
}

/// An event's time in epoch seconds; `None` when it has none (it is then not correlated).
pub fn epoch(event: &AccessEvent) -> Option<i64> {
    let t = event.event_time.as_deref()?;
    DateTime::parse_from_rfc3339(t).ok().map(|d| d.timestamp())
}

fn plane(event: &AccessEvent) -> &'static str {
    match event.operation.source() {
        Source::Kubernetes => "kubernetes",
        Source::Eks
        | Source::Sts
        | Source::CloudTrail
        | Source::Events
        | Source::Lambda
        | Source::Logs
        | Source::Sns
        | Source::Kms
        | Source::Ssm
        | Source::Sqs
        | Source::CloudFormation
        | Source::Watcher => "cloudtrail",
    }
}

/// How an incident lists an event.
pub fn event_ref(event: &AccessEvent) -> EventRef {
    EventRef {
        event_id: event.event_id.clone(),
        event_name: event.event_name().to_string(),
        event_time: event.event_time.clone(),
        cluster: event.cluster.clone(),
        plane: plane(event).to_string(),
    }
}

/// A stable incident id: the same in every deployment and replay for the same opening event.
pub fn incident_id(kind: &str, key: &str, opening: &EventRef) -> String {
    let mut h = Sha256::new();
    for part in [kind, key, opening.event_id.as_deref().unwrap_or_default()] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    if opening.event_id.is_none() {
        h.update(opening.event_time.as_deref().unwrap_or_default().as_bytes());
        h.update(opening.event_name.as_bytes());
    }
    let digest = h.finalize();
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("eaw-{hex}")
}

fn open(kind: &str, key: &str, rule: &str, events: Vec<EventRef>) -> Incident {
    let opening = events[0].clone();
    let mut incident = Incident {
        id: incident_id(kind, key, &opening),
        rule: rule.to_string(),
        opened_at: opening.event_time.clone(),
        events: Vec::new(),
        more: 0,
    };
    for e in events {
        incident.add(e);
    }
    incident
}

fn cluster_key(event: &AccessEvent, principal: &str) -> Key {
    Key::Grant {
        account: event.account.clone(),
        region: event.region.clone(),
        cluster: event.cluster.clone().unwrap_or_default(),
        principal: principal_id(principal),
    }
}

fn binding_key(event: &AccessEvent, binding: &str) -> Key {
    Key::Binding {
        account: event.account.clone(),
        region: event.region.clone(),
        cluster: event.cluster.clone().unwrap_or_default(),
        binding: binding.to_string(),
    }
}

/// A grant or an undo the event makes, on which key.
enum Step {
    /// A grant on a key, of a principal (`None` for a binding) and what it is.
    Grant(Key, Option<String>, Granted),
    /// An undo on a key, of whom (the principal, or the binding), and of what (empty: all).
    Undo(Key, String, Vec<Granted>),
}

/// What the event grants or undoes (nothing for a failed call).
fn steps(event: &AccessEvent) -> Vec<Step> {
    if event.failed() {
        return Vec::new();
    }
    let principal = |p: &Option<String>| p.clone().filter(|p| !p.is_empty());
    match &event.change {
        Change::CreateAccessEntry(e) => principal(&e.principal_arn)
            .map(|p| vec![Step::Grant(cluster_key(event, &p), Some(p), Granted::Entry)])
            .unwrap_or_default(),
        Change::AssociateAccessPolicy {
            principal_arn,
            policy_arn,
            ..
        } => match (principal(principal_arn), policy_arn) {
            (Some(p), Some(policy)) => vec![Step::Grant(
                cluster_key(event, &p),
                Some(p),
                Granted::Policy(policy.clone()),
            )],
            _ => Vec::new(),
        },
        Change::DeleteAccessEntry { principal_arn } => principal(principal_arn)
            .map(|p| vec![Step::Undo(cluster_key(event, &p), p, Vec::new())])
            .unwrap_or_default(),
        Change::DisassociateAccessPolicy {
            principal_arn,
            policy_arn,
        } => match (principal(principal_arn), policy_arn) {
            (Some(p), Some(policy)) => vec![Step::Undo(
                cluster_key(event, &p),
                p,
                vec![Granted::Policy(policy.clone())],
            )],
            _ => Vec::new(),
        },
        Change::AwsAuth(change) => {
            let mut out = Vec::new();
            for rc in change.row_changes().unwrap_or_default() {
                use crate::awsauth::{Row, RowChange};
                match rc {
                    RowChange::Added(Row::Mapping(m)) => out.push(Step::Grant(
                        cluster_key(event, &m.arn),
                        Some(m.arn.clone()),
                        Granted::AwsAuthRow,
                    )),
                    RowChange::Removed(Row::Mapping(m)) => out.push(Step::Undo(
                        cluster_key(event, &m.arn),
                        m.arn.clone(),
                        vec![Granted::AwsAuthRow],
                    )),
                    RowChange::Added(Row::Account(_))
                    | RowChange::Removed(Row::Account(_))
                    | RowChange::Changed { .. } => {}
                }
            }
            out
        }
        Change::RoleBinding(b) => {
            let Some(name) = &b.name else {
                return Vec::new();
            };
            let id = format!(
                "{}/{}/{name}",
                b.kind,
                b.namespace.as_deref().unwrap_or("-")
            );
            let key = binding_key(event, &id);
            if b.deleted {
                vec![Step::Undo(key, b.describe(), vec![Granted::Binding])]
            } else if b.after.is_some() {
                vec![Step::Grant(key, None, Granted::Binding)]
            } else {
                Vec::new()
            }
        }
        _ => Vec::new(),
    }
}

/// The actor's key for denied calls.
fn actor_id(event: &AccessEvent) -> String {
    event
        .actor
        .arn
        .as_deref()
        .map(principal_id)
        .unwrap_or_else(|| event.actor.display.to_ascii_lowercase())
}

/// Every key the event's correlation reads (and may write): read them all before the rules.
pub fn keys_for(event: &AccessEvent) -> Vec<String> {
    let mut keys = BTreeSet::new();
    if let Some(k) = &event.actor.access_key_id {
        keys.insert(Key::Session(k.clone()).text());
    }
    if let Some(a) = &event.actor.session_arn {
        keys.insert(Key::SessionArn(a.clone()).text());
    }
    if let Change::AssumeRole {
        issued: Some(issued),
        ..
    } = &event.change
    {
        if let Some(k) = &issued.access_key_id {
            keys.insert(Key::Session(k.clone()).text());
        }
        if let Some(a) = &issued.session_arn {
            keys.insert(Key::SessionArn(a.clone()).text());
        }
    }
    for step in steps(event) {
        match step {
            Step::Grant(key, principal, _) => {
                keys.insert(key.text());
                if let Some(p) = principal {
                    keys.insert(Key::Principal(principal_id(&p)).text());
                }
            }
            Step::Undo(key, _, _) => {
                keys.insert(key.text());
            }
        }
    }
    if event.error.as_ref().is_some_and(|e| e.is_denied()) {
        keys.insert(Key::Actor(actor_id(event)).text());
    }
    keys.into_iter().collect()
}

/// When an AssumeRole's credentials stop working: their expiration (RFC 3339, or CloudTrail's
/// `Nov 20, 2026, 2:47:12 AM`), at most 12 hours after the call.
fn valid_until(issued: &IssuedCredentials, at: i64) -> i64 {
    let parsed = issued.expiration.as_deref().and_then(|e| {
        DateTime::parse_from_rfc3339(e)
            .map(|d| d.timestamp())
            .ok()
            .or_else(|| {
                chrono::NaiveDateTime::parse_from_str(e, "%b %e, %Y, %l:%M:%S %p")
                    .ok()
                    .map(|d| d.and_utc().timestamp())
            })
    });
    parsed.unwrap_or(at + LONGEST).clamp(at, at + LONGEST)
}

/// Observe one event: read what its keys hold, say what that means for it, and record it.
pub fn observe(
    event: &AccessEvent,
    config: &RuleConfig,
    settings: &CorrelationSettings,
    view: &mut View,
) -> Correlation {
    let mut c = Correlation::default();
    let Some(at) = epoch(event) else {
        return c;
    };
    let this = event_ref(event);
    let approved = event.actor.is_aws_service() || config.is_approved(event.actor.arn.as_deref());
    session(event, config, at, &this, view, &mut c);
    for step in steps(event) {
        match step {
            Step::Grant(key, principal, granted) => {
                grant(&key.text(), granted, &this, at, approved, view);
                if let Some(p) = principal {
                    fan_out(event, &p, settings, at, &this, approved, view, &mut c);
                }
            }
            Step::Undo(key, whom, which) => undo(
                &key.text(),
                &whom,
                &which,
                settings,
                at,
                &this,
                approved,
                view,
                &mut c,
            ),
        }
    }
    if event.error.as_ref().is_some_and(|e| e.is_denied()) {
        denied(&actor_id(event), settings, at, &this, view, &mut c);
    }
    c
}

fn session(
    event: &AccessEvent,
    config: &RuleConfig,
    at: i64,
    this: &EventRef,
    view: &mut View,
    c: &mut Correlation,
) {
    if let Change::AssumeRole {
        role_arn,
        session_name,
        source_identity,
        issued: Some(issued),
    } = &event.change
        && !event.failed()
        && config.is_break_glass(role_arn.as_deref())
    {
        let keys: Vec<String> = [
            issued.access_key_id.clone().map(Key::Session),
            issued.session_arn.clone().map(Key::SessionArn),
        ]
        .into_iter()
        .flatten()
        .map(|k| k.text())
        .collect();
        let Some(first) = keys.first() else { return };
        let until = valid_until(issued, at);
        let incident = open("session", first, SESSION_RULE, vec![this.clone()]);
        let session = Session {
            role_arn: role_arn.clone(),
            assumed_by: event.actor.display.clone(),
            assumed_at: event.event_time.clone(),
            session_name: session_name.clone(),
            source_identity: source_identity.clone(),
            valid_until: until,
        };
        for key in &keys {
            let r = view.edit(key, at);
            r.expires_at = until;
            r.session = Some(session.clone());
            r.incident = Some(incident.clone());
        }
        c.opens_session = true;
        c.incident = Some(incident);
        return;
    }
    let keys: Vec<String> = [
        event.actor.access_key_id.clone().map(Key::Session),
        event.actor.session_arn.clone().map(Key::SessionArn),
    ]
    .into_iter()
    .flatten()
    .map(|k| k.text())
    .collect();
    let found = keys.iter().find_map(|k| {
        view.get(k, at)
            .and_then(|r| Some((r.session.clone()?, r.incident.clone()?)))
    });
    let Some((session, mut incident)) = found else {
        return;
    };
    if at > session.valid_until {
        return;
    }
    c.session = Some(SessionActivity {
        session,
        earlier: incident.events.clone(),
        earlier_more: incident.more,
    });
    incident.add(this.clone());
    for key in &keys {
        if view.get(key, at).is_some() {
            view.edit(key, at).incident = Some(incident.clone());
        }
    }
    c.incident = Some(incident);
}

fn grant(key: &str, granted: Granted, this: &EventRef, at: i64, approved: bool, view: &mut View) {
    let r = view.edit(key, at);
    r.grants.retain(|g| g.granted != granted);
    r.grants.push(GrantMark {
        granted,
        event: this.clone(),
        at,
        approved,
    });
    r.expires_at = r.expires_at.max(at + LONGEST);
}

#[allow(clippy::too_many_arguments)]
fn undo(
    key: &str,
    whom: &str,
    which: &[Granted],
    settings: &CorrelationSettings,
    at: i64,
    this: &EventRef,
    approved: bool,
    view: &mut View,
    c: &mut Correlation,
) {
    let Some(record) = view.get(key, at) else {
        return;
    };
    // An empty list: the entry is deleted, and its policies with it.
    let undone: Vec<GrantMark> = record
        .grants
        .iter()
        .filter(|g| which.is_empty() || which.contains(&g.granted))
        .filter(|g| g.at <= at)
        .cloned()
        .collect();
    let Some(first) = undone.iter().min_by_key(|g| g.at).cloned() else {
        return;
    };
    let r = view.edit(key, at);
    r.grants
        .retain(|g| !(which.is_empty() || which.contains(&g.granted)));
    let after = at - first.at;
    if after <= settings.created_then_deleted.as_secs() as i64 {
        c.created_then_deleted = Some(CreatedThenDeleted {
            principal: whom.to_string(),
            granted: first.granted.clone(),
            created: first.event.clone(),
            after,
            both_approved: approved && first.approved,
        });
    }
    c.reverted = Some(Reverted {
        principal: whom.to_string(),
        granted: first.granted.clone(),
        grant: first.event.clone(),
        stood: after,
    });
    c.resolves = first.event.event_id.clone();
    let rule = if c.created_then_deleted.is_some() {
        CREATED_THEN_DELETED_RULE
    } else {
        REVERTED_RULE
    };
    if c.incident.is_none() {
        c.incident = Some(open("grant", key, rule, vec![first.event, this.clone()]));
    }
}

#[allow(clippy::too_many_arguments)]
fn fan_out(
    event: &AccessEvent,
    principal: &str,
    settings: &CorrelationSettings,
    at: i64,
    this: &EventRef,
    approved: bool,
    view: &mut View,
    c: &mut Correlation,
) {
    let window = settings.many_clusters_window.as_secs() as i64;
    let key = Key::Principal(principal_id(principal)).text();
    let cluster = format!(
        "{}/{}/{}",
        event.account,
        event.region,
        event.cluster.as_deref().unwrap_or("-")
    );
    let r = view.edit(&key, at);
    r.clusters.retain(|g| g.at > at - window && g.at <= at);
    r.clusters.push(ClusterGrant {
        cluster,
        event: this.clone(),
        at,
        approved,
    });
    r.expires_at = r.expires_at.max(at + window);
    let mut clusters: Vec<String> = Vec::new();
    for g in &r.clusters {
        if !clusters.contains(&g.cluster) {
            clusters.push(g.cluster.clone());
        }
    }
    if clusters.len() < settings.many_clusters {
        return;
    }
    let all_approved = r.clusters.iter().all(|g| g.approved);
    let in_window: Vec<EventRef> = r.clusters.iter().map(|g| g.event.clone()).collect();
    let incident = match r.incident.take() {
        Some(mut i) if i.rule == MANY_CLUSTERS_RULE => {
            i.add(this.clone());
            i
        }
        _ => open("principal", &key, MANY_CLUSTERS_RULE, in_window),
    };
    r.incident = Some(incident.clone());
    c.many_clusters = Some(ManyClusters {
        principal: principal.to_string(),
        clusters,
        all_approved,
        window,
    });
    if c.incident.is_none() {
        c.incident = Some(incident);
    }
}

fn denied(
    actor: &str,
    settings: &CorrelationSettings,
    at: i64,
    this: &EventRef,
    view: &mut View,
    c: &mut Correlation,
) {
    let window = settings.denied_window.as_secs() as i64;
    let key = Key::Actor(actor.to_string()).text();
    let r = view.edit(&key, at);
    r.denied.retain(|d| d.at > at - window && d.at <= at);
    if this.event_id.is_some() && r.denied.iter().any(|d| d.event.event_id == this.event_id) {
        return;
    }
    r.denied.push(Denied {
        event: this.clone(),
        at,
    });
    r.expires_at = r.expires_at.max(at + window);
    if r.denied.len() < settings.denied_attempts {
        return;
    }
    let events: Vec<EventRef> = r.denied.iter().map(|d| d.event.clone()).collect();
    let incident = match r.incident.take() {
        Some(mut i) if i.rule == DENIED_RULE => {
            i.add(this.clone());
            i
        }
        _ => open("actor", &key, DENIED_RULE, events.clone()),
    };
    r.incident = Some(incident.clone());
    c.denied = Some(RepeatedDenied {
        count: r.denied.len(),
        window,
        first: events[0].clone(),
    });
    if c.incident.is_none() {
        c.incident = Some(incident);
    }
}

/// Correlate one event against a store that answers at once (the in-memory and file stores:
/// `replay`, the tests): read its keys, observe it, write what changed. A store that fails, or
/// that needs a runtime, leaves the event uncorrelated and says why.
pub fn observe_in(
    store: &dyn super::state::Store,
    event: &AccessEvent,
    config: &RuleConfig,
    settings: &CorrelationSettings,
) -> Correlation {
    use super::state::now_or_never;
    let keys = keys_for(event);
    let Some(now) = epoch(event).filter(|_| !keys.is_empty()) else {
        return Correlation::default();
    };
    let not_at_once = || StoreError(format!("the {} store did not answer at once", store.name()));
    let stored = match now_or_never(store.read(&keys, now)) {
        Some(Ok(stored)) => stored,
        Some(Err(e)) => return Correlation::unavailable(&e),
        None => return Correlation::unavailable(&not_at_once()),
    };
    let mut view = match View::new(stored) {
        Ok(v) => v,
        Err(e) => return Correlation::unavailable(&e),
    };
    let mut c = observe(event, config, settings, &mut view);
    let writes = view.writes();
    if !writes.is_empty() {
        let batch = super::state::Commit {
            now,
            writes,
            ..Default::default()
        };
        match now_or_never(store.commit(&batch)) {
            Some(Ok(w)) if w.conflicts.is_empty() => {}
            Some(Ok(w)) => {
                c.unavailable = Some(format!(
                    "the {} store changed under this run: {}",
                    store.name(),
                    w.conflicts.join(", ")
                ))
            }
            Some(Err(e)) => c.unavailable = Some(e.0),
            None => c.unavailable = Some(not_at_once().0),
        }
    }
    c
}
