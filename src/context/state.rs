//! The state store behind correlation: records by key, each with an expiry, read before the
//! rules and written after delivery. One small trait ([`Store`]) with an in-memory
//! implementation ([`MemoryStore`], `replay`'s default), a file ([`FileStore`], `replay
//! --state PATH`, an embedded redb database) and DynamoDB in the Lambda
//! ([`crate::aws::dynamodb`]).
//!
//! Keys name what is followed ([`Key`]): a session (the access key an AssumeRole issued, or the
//! session's ARN where the key is absent), a grant (account, region, cluster, principal), a
//! principal (its grants across clusters), an actor (its denied calls), a binding; and an event
//! already delivered (`delivered#<event id>`, for each event to alert once). A record lives no
//! longer than the longest window that reads it ([`Record::expires_at`]); stores drop expired
//! records (DynamoDB by its TTL attribute, the others when read).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Mutex;

use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use crate::arn::PrincipalKey;

/// A store call under way.
pub type Pending<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Why the store did not answer (the event is then judged without correlation, and says so).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

/// A record as stored: its JSON and the version a conditional write compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub json: String,
    pub version: u64,
    /// Epoch seconds after which the record is gone.
    pub expires_at: i64,
}

/// One write: the new JSON of a key, conditional on the version read (`None`: the key did not
/// exist).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub key: String,
    pub json: String,
    pub expires_at: i64,
    pub expected_version: Option<u64>,
}

/// What became of a batch of writes: the keys whose version had moved (another invocation
/// wrote them first), to be read again and merged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    pub conflicts: Vec<String>,
}

/// Where correlation state lives.
pub trait Store: Send + Sync {
    /// Its name in messages (`memory`, `file`, `dynamodb`).
    fn name(&self) -> &'static str;

    /// The records of `keys` that exist and have not expired at `now` (epoch seconds).
    fn read<'a>(&'a self, keys: &'a [String], now: i64) -> Pending<'a, HashMap<String, Stored>>;

    /// Claim events for delivery before publishing: each id not already claimed (or whose
    /// claim lapsed, a crashed invocation's, at `now`) is claimed until `lease_until`. Returns
    /// the ids that were already claimed or delivered: not to be delivered again.
    fn claim<'a>(
        &'a self,
        ids: &'a [String],
        now: i64,
        lease_until: i64,
    ) -> Pending<'a, Vec<String>>;

    /// After delivery, in one batch: write every record whose expected version still holds
    /// (the others come back as conflicts, unwritten), mark the `delivered` events delivered
    /// (kept until `keep_until`) and release the claims of the `failed` ones, so that a retry
    /// delivers them.
    fn commit<'a>(&'a self, batch: &'a Commit) -> Pending<'a, Written>;
}

/// What one invocation writes after delivery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Commit {
    /// Epoch seconds: a record expired by now counts as absent (TTL deletes late).
    pub now: i64,
    pub writes: Vec<Write>,
    pub delivered: Vec<String>,
    pub failed: Vec<String>,
    pub keep_until: i64,
}

/// Run a store call to its end where no runtime is needed (the in-memory and file stores
/// answer at once); `None` if it did not (a store that needs a runtime).
pub fn now_or_never<T>(future: impl Future<Output = T>) -> Option<T> {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
}

/// The key of what is followed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// A session, by the access key its AssumeRole issued.
    Session(String),
    /// A session, by its ARN (`arn:aws:sts::<account>:assumed-role/<role>/<name>`).
    SessionArn(String),
    /// A principal's access on one cluster.
    Grant {
        account: String,
        region: String,
        cluster: String,
        principal: String,
    },
    /// A principal's grants across clusters.
    Principal(String),
    /// A caller's denied calls.
    Actor(String),
    /// An RBAC binding on one cluster (`<kind>/<namespace>/<name>`).
    Binding {
        account: String,
        region: String,
        cluster: String,
        binding: String,
    },
}

impl Key {
    /// The key as stored: `<kind>#<parts>`.
    pub fn text(&self) -> String {
        match self {
            Key::Session(k) => format!("session#{k}"),
            Key::SessionArn(a) => format!("session-arn#{}", a.to_ascii_lowercase()),
            Key::Grant {
                account,
                region,
                cluster,
                principal,
            } => format!("grant#{account}#{region}#{cluster}#{principal}"),
            Key::Principal(p) => format!("principal#{p}"),
            Key::Actor(a) => format!("actor#{a}"),
            Key::Binding {
                account,
                region,
                cluster,
                binding,
            } => format!("binding#{account}#{region}#{cluster}#{binding}"),
        }
    }

    /// The key of an event delivered once.
    pub fn delivered(event_id: &str) -> String {
        format!("delivered#{event_id}")
    }
}

/// A principal as keys compare it: its identity without path and case (`PrincipalKey`), or
/// the text lower-cased when it is no IAM principal.
pub fn principal_id(arn: &str) -> String {
    match PrincipalKey::from_arn(arn) {
        Some(k) => format!("{}:{}:{:?}:{}", k.partition, k.account, k.kind, k.name),
        None => arn.to_ascii_lowercase(),
    }
}

/// An event as an incident lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRef {
    pub event_id: Option<String>,
    pub event_name: String,
    pub event_time: Option<String>,
    pub cluster: Option<String>,
    /// `cloudtrail` or `kubernetes`.
    pub plane: String,
}

/// A sequence a correlation rule follows, with a stable id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    pub id: String,
    /// The rule that opened it.
    pub rule: String,
    pub opened_at: Option<String>,
    /// The most recent events, oldest first ([`Incident::MAX_EVENTS`] at most).
    pub events: Vec<EventRef>,
    /// Earlier events of the incident no longer listed.
    #[serde(default, rename = "more_events")]
    pub more: usize,
}

impl Incident {
    pub const MAX_EVENTS: usize = 20;

    /// Add an event (once: an event already listed is not added again).
    pub fn add(&mut self, event: EventRef) {
        if event.event_id.is_some() && self.events.iter().any(|e| e.event_id == event.event_id) {
            return;
        }
        self.events.push(event);
        if self.events.len() > Self::MAX_EVENTS {
            self.events.remove(0);
            self.more += 1;
        }
    }
}

/// A break-glass session: who assumed the role, when, and until when its credentials work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub role_arn: Option<String>,
    /// The caller of the AssumeRole, as shown (`user/alice`).
    pub assumed_by: String,
    pub assumed_at: Option<String>,
    pub session_name: Option<String>,
    pub source_identity: Option<String>,
    /// Epoch seconds: the credentials' expiration (at most 12 hours after the AssumeRole).
    pub valid_until: i64,
}

/// What a grant mark is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "of", rename_all = "kebab-case")]
pub enum Granted {
    /// The access entry itself.
    Entry,
    /// One access policy association.
    Policy(String),
    /// An aws-auth mapping of the principal.
    AwsAuthRow,
    /// An RBAC binding.
    Binding,
}

/// A grant made and not (yet) undone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantMark {
    pub granted: Granted,
    pub event: EventRef,
    /// Epoch seconds.
    pub at: i64,
    /// Made by an approved caller (or AWS).
    pub approved: bool,
}

/// A grant of a principal on one cluster, for fan-out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterGrant {
    /// `<account>/<region>/<cluster>`.
    pub cluster: String,
    pub event: EventRef,
    pub at: i64,
    pub approved: bool,
}

/// A denied call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Denied {
    pub event: EventRef,
    pub at: i64,
}

/// Everything a key holds (each kind of key uses its own fields).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Epoch seconds after which the record is gone.
    pub expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<Session>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<GrantMark>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<ClusterGrant>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub denied: Vec<Denied>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<Incident>,
}

impl Record {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(key: &str, json: &str) -> Result<Self, StoreError> {
        serde_json::from_str(json)
            .map_err(|e| StoreError(format!("record {key} is not readable: {e}")))
    }
}

/// Records held in memory for one process: `replay`'s default, and the tests'.
#[derive(Debug, Default)]
pub struct MemoryStore {
    records: Mutex<BTreeMap<String, Stored>>,
    /// Claims and deliveries: id -> (delivered, until).
    claims: Mutex<BTreeMap<String, (bool, i64)>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many records are held (expired ones included until read).
    pub fn len(&self) -> usize {
        self.records.lock().map(|r| r.len()).unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The version a conditional write stores, or `None` when the version read has moved (a
/// conflict): every store compares the same way.
pub fn next_version(current: Option<u64>, write: &Write) -> Option<u64> {
    (current == write.expected_version).then(|| current.map_or(1, |v| v + 1))
}

fn ready<'a, T: Send + 'a>(value: Result<T, StoreError>) -> Pending<'a, T> {
    Box::pin(std::future::ready(value))
}

fn poisoned() -> StoreError {
    StoreError("the in-memory store was poisoned by a panic".into())
}

impl Store for MemoryStore {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn read<'a>(&'a self, keys: &'a [String], now: i64) -> Pending<'a, HashMap<String, Stored>> {
        let result = self
            .records
            .lock()
            .map_err(|_| poisoned())
            .map(|mut records| {
                records.retain(|_, s| s.expires_at > now);
                keys.iter()
                    .filter_map(|k| records.get(k).map(|s| (k.clone(), s.clone())))
                    .collect()
            });
        ready(result)
    }

    fn claim<'a>(
        &'a self,
        ids: &'a [String],
        now: i64,
        lease_until: i64,
    ) -> Pending<'a, Vec<String>> {
        let result = self
            .claims
            .lock()
            .map_err(|_| poisoned())
            .map(|mut claims| {
                let mut already = Vec::new();
                for id in ids {
                    match claims.get(id) {
                        Some((true, until)) if *until > now => already.push(id.clone()),
                        Some((false, until)) if *until > now => already.push(id.clone()),
                        _ => {
                            claims.insert(id.clone(), (false, lease_until));
                        }
                    }
                }
                already
            });
        ready(result)
    }

    fn commit<'a>(&'a self, batch: &'a Commit) -> Pending<'a, Written> {
        let result = (|| {
            let mut records = self.records.lock().map_err(|_| poisoned())?;
            let mut claims = self.claims.lock().map_err(|_| poisoned())?;
            let mut written = Written::default();
            for w in &batch.writes {
                let live = records.get(&w.key).filter(|s| s.expires_at > batch.now);
                let Some(version) = next_version(live.map(|s| s.version), w) else {
                    written.conflicts.push(w.key.clone());
                    continue;
                };
                records.insert(
                    w.key.clone(),
                    Stored {
                        json: w.json.clone(),
                        version,
                        expires_at: w.expires_at,
                    },
                );
            }
            for id in &batch.delivered {
                claims.insert(id.clone(), (true, batch.keep_until));
            }
            for id in &batch.failed {
                claims.remove(id);
            }
            Ok(written)
        })();
        ready(result)
    }
}

/// Records in one file, an embedded [redb](https://www.redb.org) database: `replay --state
/// PATH`, so replaying yesterday's export and today's correlates across runs. redb is a
/// maintained, pure-Rust, crash-safe (copy-on-write B-trees, ACID transactions) single-file
/// store with no C to build: what a command line wants.
pub struct FileStore {
    db: redb::Database,
    path: String,
}

const RECORDS: redb::TableDefinition<&str, &str> = redb::TableDefinition::new("records");
const CLAIMS: redb::TableDefinition<&str, &str> = redb::TableDefinition::new("claims");

/// A stored value in the file: `<version> <expires_at> <json>`.
fn encode(version: u64, expires_at: i64, json: &str) -> String {
    format!("{version} {expires_at} {json}")
}

fn decode(text: &str) -> Option<Stored> {
    let mut parts = text.splitn(3, ' ');
    let version = parts.next()?.parse().ok()?;
    let expires_at = parts.next()?.parse().ok()?;
    Some(Stored {
        version,
        expires_at,
        json: parts.next()?.to_string(),
    })
}

impl FileStore {
    /// Open (or create) the state file; the error names the path.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let name = path.display().to_string();
        let db = redb::Database::create(path)
            .map_err(|e| StoreError(format!("{name}: cannot open the state file: {e}")))?;
        let store = FileStore { db, path: name };
        // Create the tables, so that reads of a new file find them.
        store.transact(|tx| {
            tx.open_table(RECORDS)?;
            tx.open_table(CLAIMS)?;
            Ok(())
        })?;
        Ok(store)
    }

    fn fail(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError(format!("{}: {e}", self.path))
    }

    fn transact<T>(
        &self,
        f: impl FnOnce(&redb::WriteTransaction) -> Result<T, redb::Error>,
    ) -> Result<T, StoreError> {
        let tx = self.db.begin_write().map_err(|e| self.fail(e))?;
        let value = f(&tx).map_err(|e| self.fail(e))?;
        tx.commit().map_err(|e| self.fail(e))?;
        Ok(value)
    }
}

impl Store for FileStore {
    fn name(&self) -> &'static str {
        "file"
    }

    fn read<'a>(&'a self, keys: &'a [String], now: i64) -> Pending<'a, HashMap<String, Stored>> {
        let result = self.transact(|tx| {
            let table = tx.open_table(RECORDS)?;
            let mut out = HashMap::new();
            for k in keys {
                if let Some(v) = table.get(k.as_str())?
                    && let Some(s) = decode(v.value())
                    && s.expires_at > now
                {
                    out.insert(k.clone(), s);
                }
            }
            Ok(out)
        });
        ready(result)
    }

    fn claim<'a>(
        &'a self,
        ids: &'a [String],
        now: i64,
        lease_until: i64,
    ) -> Pending<'a, Vec<String>> {
        let result = self.transact(|tx| {
            let mut table = tx.open_table(CLAIMS)?;
            let mut already = Vec::new();
            for id in ids {
                let until = table.get(id.as_str())?.and_then(|v| {
                    v.value()
                        .split(' ')
                        .nth(1)
                        .and_then(|u| u.parse::<i64>().ok())
                });
                match until {
                    Some(u) if u > now => already.push(id.clone()),
                    _ => {
                        let value = format!("claimed {lease_until}");
                        table.insert(id.as_str(), value.as_str())?;
                    }
                }
            }
            Ok(already)
        });
        ready(result)
    }

    fn commit<'a>(&'a self, batch: &'a Commit) -> Pending<'a, Written> {
        let result = self.transact(|tx| {
            let mut written = Written::default();
            {
                let mut table = tx.open_table(RECORDS)?;
                for w in &batch.writes {
                    let current = table
                        .get(w.key.as_str())?
                        .and_then(|v| decode(v.value()))
                        .filter(|s| s.expires_at > batch.now)
                        .map(|s| s.version);
                    let Some(version) = next_version(current, w) else {
                        written.conflicts.push(w.key.clone());
                        continue;
                    };
                    let value = encode(version, w.expires_at, &w.json);
                    table.insert(w.key.as_str(), value.as_str())?;
                }
            }
            let mut claims = tx.open_table(CLAIMS)?;
            for id in &batch.delivered {
                let value = format!("delivered {}", batch.keep_until);
                claims.insert(id.as_str(), value.as_str())?;
            }
            for id in &batch.failed {
                claims.remove(id.as_str())?;
            }
            Ok(written)
        });
        ready(result)
    }
}
