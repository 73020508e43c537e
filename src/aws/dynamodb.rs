//! DynamoDB: the Lambda's correlation state and delivered-once marks, in one table
//! (`STATE_TABLE_NAME`, the template's `StateTable`). [`DynamoStore`] makes the calls; the
//! [`crate::context::state::Store`] it backs is implemented over these calls in
//! `src/lambda/store.rs`, because this module sits below the context stage in the layers
//! (`tests/layering.rs`: the context stage imports `aws`, so `aws` cannot import it back).
//!
//! # The table
//! One item per key, partition key `pk` (S), nothing else in the key schema:
//! - a record (`session#…`, `grant#…`, `principal#…`, `actor#…`, `binding#…`): `v` (S) the
//!   record's JSON, `version` (N) what a conditional write compares, `expires_at` (N);
//! - a claim or a delivered mark (`delivered#<event id>`): `v` = `claimed` or `delivered`,
//!   `expires_at` (N) the end of the lease or of the delivered-once memory.
//!
//! `expires_at` (epoch seconds) is the table's TTL attribute, so nothing outlives its window;
//! TTL deletes lazily (typically within days), so every read and every condition checks it too:
//! an expired item is absent to [`DynamoStore::read_records`] and may be overwritten.
//!
//! # Why these calls
//! - **Read: `BatchGetItem`**, up to 100 keys per call, `ConsistentRead`. The keys are known
//!   exactly and spread over partitions (no `Query` fits); one call replaces up to 100
//!   `GetItem`s. Strongly consistent, because the record another invocation wrote a second ago
//!   (the AssumeRole before the grant) must be seen; an eventually consistent read could miss
//!   it and turn into a conflict at commit. `TransactGetItems` would cost twice as much and is
//!   not needed: the writes are conditional on the versions read. Keys DynamoDB leaves
//!   unprocessed (throttling, the 16 MB answer limit) are asked for again with backoff.
//! - **Claim: `TransactWriteItems`**, up to 100 conditional puts per call, each
//!   `attribute_not_exists(pk) OR expires_at <= :now`. `BatchWriteItem` takes no conditions and
//!   one `PutItem` per event would cost one call per event. A transaction is all or nothing:
//!   when some ids are already claimed or delivered it is cancelled, and its
//!   `CancellationReasons` (one per item, in order) say which: those are dropped and the rest is
//!   sent again, so the result is exactly the ids that were held before this call. The SDK fills
//!   the `ClientRequestToken`, which makes its own retries idempotent: a retry of a transaction
//!   that did succeed (an answer lost on the network) succeeds again instead of reporting our
//!   own claims as someone else's. A claim lapses at its lease end, as the in-memory store's
//!   does (`<=`: a lease ending at `now` is over).
//! - **Commit: `TransactWriteItems`** of the record writes (`version = :expected`, or
//!   `attribute_not_exists(pk) OR expires_at <= :now` for a key read as absent), the delivered
//!   marks and the released claims, up to 100 per call. A cancelled transaction's
//!   `ConditionalCheckFailed` items are the conflicts (another invocation wrote the record
//!   first): reported, not written, and the rest is written again without them. A record write
//!   sets `version` to one more than the item's (`if_not_exists(version, 0) + 1`): the next
//!   version after the one read, and never a number an expired item already had.
//!
//! Transaction conflicts, throttling and capacity reasons in a cancellation are retried with
//! backoff (six attempts); any other reason, and every SDK error after the SDK's own retries,
//! is an [`AwsError`] naming the operation and the AWS code.
//!
//! # What one payload costs
//! One invocation payload (`Correlated` in `src/lambda/mod.rs`: claim, read, observe, deliver,
//! commit) of `n` events with `k` distinct keys and `w` records written makes
//! `ceil(n / 100)` claim transactions, `ceil(k / 100)` `BatchGetItem`s (none when `k = 0`) and
//! `ceil((w + n) / 100)` commit transactions, plus one more transaction for each cancellation
//! (ids already claimed, version conflicts). Measured in `tests/dynamodb.rs` (see
//! BENCHMARKS.md, "DynamoDB calls per event"):
//! - one EventBridge event per invocation: 1 claim + 1 read + 1 commit = **3 calls per event**
//!   (4 when it continues an incident or undoes a grant: the sinks' state is read too, see
//!   `src/lambda/sinks.rs`);
//! - an SQS or CloudWatch Logs batch of 10 events: the same 3 calls for the batch, **0.3 per
//!   event**;
//! - a payload of 100 events: 1 claim, `ceil(k / 100)` reads (an event needs one to four
//!   keys), 2 commit transactions (100 delivered marks and the records do not fit in one).
//!
//! In capacity, each transactional write of an item up to 1 KB costs 2 write units and each
//! consistently read item up to 4 KB 1 read unit: about 4 write units (claim, mark) plus 2
//! per record changed, and 1 read unit per key, for each event.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, Delete, KeysAndAttributes, Put, TransactWriteItem, Update,
};

use crate::aws::{AwsError, ErrorKind, kind_of_code};

/// The partition key (S).
pub const KEY: &str = "pk";
/// The record's JSON, or `claimed` / `delivered` (S).
pub const VALUE: &str = "v";
/// The record's version (N).
pub const VERSION: &str = "version";
/// Epoch seconds after which the item is gone (N): the table's TTL attribute.
pub const EXPIRES_AT: &str = "expires_at";

/// `BatchGetItem` takes at most 100 keys.
pub const MAX_READ: usize = 100;
/// `TransactWriteItems` takes at most 100 actions ...
pub const MAX_TRANSACTION: usize = 100;
/// ... of at most 4 MB together (kept under, with room for the attribute names).
const MAX_TRANSACTION_BYTES: usize = 3_900_000;
/// Rounds of one call (unprocessed keys asked for again, a cancelled transaction sent again).
const ATTEMPTS: u32 = 6;

const CLAIMED: &str = "claimed";
const DELIVERED: &str = "delivered";

/// A record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub json: String,
    pub version: u64,
    pub expires_at: i64,
}

/// One record write, conditional on the version read (`None`: read as absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordWrite<'a> {
    pub key: &'a str,
    pub json: &'a str,
    pub expires_at: i64,
    pub expected_version: Option<u64>,
}

/// The state table, with the client that reaches it (built once per process).
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
        }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The records of `keys` that exist and live at `now` (BatchGetItem, 100 keys per call,
    /// the calls made together).
    pub async fn read_records(
        &self,
        keys: &[String],
        now: i64,
    ) -> Result<HashMap<String, Item>, AwsError> {
        let mut unique: Vec<&str> = keys.iter().map(String::as_str).collect();
        unique.sort_unstable();
        unique.dedup();
        let reads = unique.chunks(MAX_READ).map(|c| self.read_chunk(c, now));
        let parts = futures::future::try_join_all(reads).await?;
        Ok(parts.into_iter().flatten().collect())
    }

    async fn read_chunk(&self, keys: &[&str], now: i64) -> Result<Vec<(String, Item)>, AwsError> {
        let mut pending: Vec<HashMap<String, AttributeValue>> =
            keys.iter().map(|k| key_of(k)).collect();
        let mut found = Vec::new();
        for attempt in 0..ATTEMPTS {
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .projection_expression("#pk, #v, #ver, #exp")
                .expression_attribute_names("#pk", KEY)
                .expression_attribute_names("#v", VALUE)
                .expression_attribute_names("#ver", VERSION)
                .expression_attribute_names("#exp", EXPIRES_AT)
                .consistent_read(true)
                .build()
                .map_err(|e| unbuildable("BatchGetItem", e))?;
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("BatchGetItem", &e))?;
            for attributes in out
                .responses()
                .and_then(|r| r.get(&self.table))
                .into_iter()
                .flatten()
            {
                let (key, item) = parse(attributes)?;
                if item.expires_at > now {
                    found.push((key, item));
                }
            }
            pending = out
                .unprocessed_keys()
                .and_then(|u| u.get(&self.table))
                .map(|k| k.keys().to_vec())
                .unwrap_or_default();
            if pending.is_empty() {
                return Ok(found);
            }
            backoff(attempt).await;
        }
        Err(AwsError {
            operation: "BatchGetItem",
            code: None,
            kind: ErrorKind::Throttled,
            message: format!(
                "{} key(s) still unprocessed after {ATTEMPTS} attempts",
                pending.len()
            ),
        })
    }

    /// Claim `ids` until `lease_until`, each unless already claimed or delivered (and not
    /// lapsed at `now`); returns the ids that were held. An id given twice is claimed once.
    /// When a later transaction fails, the claims this call took are given back (best effort)
    /// before the error returns, so that a retry of the invocation can take them again.
    pub async fn claim_ids(
        &self,
        ids: &[String],
        now: i64,
        lease_until: i64,
    ) -> Result<Vec<String>, AwsError> {
        let mut seen = HashSet::new();
        let mut actions = Vec::new();
        for id in ids.iter().filter(|id| seen.insert(id.as_str())) {
            let put = Put::builder()
                .table_name(&self.table)
                .item(KEY, s(id))
                .item(VALUE, s(CLAIMED))
                .item(EXPIRES_AT, n(lease_until))
                .condition_expression("attribute_not_exists(#pk) OR #exp <= :now")
                .expression_attribute_names("#pk", KEY)
                .expression_attribute_names("#exp", EXPIRES_AT)
                .expression_attribute_values(":now", n(now))
                .build()
                .map_err(|e| unbuildable("TransactWriteItems", e))?;
            let size = id.len() + 64;
            actions.push(Action {
                key: id.clone(),
                item: TransactWriteItem::builder().put(put).build(),
                size,
            });
        }
        let mut taken = Vec::new();
        let mut held = Vec::new();
        for chunk in chunks(actions) {
            match self.transact(chunk).await {
                Ok(done) => {
                    taken.extend(done.written);
                    held.extend(done.refused);
                }
                Err(e) => {
                    if !taken.is_empty()
                        && let Err(release) = self.release(&taken).await
                    {
                        tracing::warn!(error = %release, claims = taken.len(), "claims not given back; they lapse at the end of their lease");
                    }
                    return Err(e);
                }
            }
        }
        Ok(held)
    }

    /// Delete claims (no condition: they are ours).
    async fn release(&self, ids: &[String]) -> Result<(), AwsError> {
        let mut actions = Vec::new();
        for id in ids {
            actions.push(self.delete(id)?);
        }
        for chunk in chunks(actions) {
            self.transact(chunk).await?;
        }
        Ok(())
    }

    fn delete(&self, id: &str) -> Result<Action, AwsError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .key(KEY, s(id))
            .build()
            .map_err(|e| unbuildable("TransactWriteItems", e))?;
        Ok(Action {
            key: id.to_string(),
            item: TransactWriteItem::builder().delete(delete).build(),
            size: id.len() + 32,
        })
    }

    /// After delivery: write every record whose version still holds, mark `delivered` (kept
    /// until `keep_until`) and delete the claims of `released`, up to 100 per transaction.
    /// Returns the keys of the records another invocation wrote first (not written). `now`
    /// decides which items read as absent are expired and may be overwritten.
    pub async fn write(
        &self,
        records: &[RecordWrite<'_>],
        delivered: &[String],
        keep_until: i64,
        released: &[String],
        now: i64,
    ) -> Result<Vec<String>, AwsError> {
        let mut seen = HashSet::new();
        let mut actions = Vec::new();
        for w in records.iter().filter(|w| seen.insert(w.key.to_string())) {
            actions.push(self.record_update(w, now)?);
        }
        for id in delivered.iter().filter(|id| seen.insert(id.to_string())) {
            let put = Put::builder()
                .table_name(&self.table)
                .item(KEY, s(id))
                .item(VALUE, s(DELIVERED))
                .item(EXPIRES_AT, n(keep_until))
                .build()
                .map_err(|e| unbuildable("TransactWriteItems", e))?;
            actions.push(Action {
                key: id.clone(),
                item: TransactWriteItem::builder().put(put).build(),
                size: id.len() + 64,
            });
        }
        // An id both delivered and failed (the same event twice in a payload) stays delivered.
        for id in released.iter().filter(|id| seen.insert(id.to_string())) {
            actions.push(self.delete(id)?);
        }
        let mut conflicts = Vec::new();
        for chunk in chunks(actions) {
            conflicts.extend(self.transact(chunk).await?.refused);
        }
        Ok(conflicts)
    }

    fn record_update(&self, w: &RecordWrite<'_>, now: i64) -> Result<Action, AwsError> {
        let update = Update::builder()
            .table_name(&self.table)
            .key(KEY, s(w.key))
            .update_expression("SET #v = :v, #exp = :exp, #ver = if_not_exists(#ver, :zero) + :one")
            .expression_attribute_names("#v", VALUE)
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_names("#ver", VERSION)
            .expression_attribute_values(":v", s(w.json))
            .expression_attribute_values(":exp", n(w.expires_at))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1));
        let update = match w.expected_version {
            Some(v) => update
                .condition_expression("#ver = :expected")
                .expression_attribute_values(":expected", AttributeValue::N(v.to_string())),
            None => update
                .condition_expression("attribute_not_exists(#pk) OR #exp <= :now")
                .expression_attribute_names("#pk", KEY)
                .expression_attribute_values(":now", n(now)),
        };
        let update = update
            .build()
            .map_err(|e| unbuildable("TransactWriteItems", e))?;
        Ok(Action {
            key: w.key.to_string(),
            item: TransactWriteItem::builder().update(update).build(),
            size: w.key.len() + w.json.len() + 96,
        })
    }

    /// Send one chunk as a transaction until it is written: a cancellation's
    /// `ConditionalCheckFailed` items are taken out (refused) and the rest sent again;
    /// conflicts with other transactions and throttling are waited out.
    async fn transact(&self, mut pending: Vec<Action>) -> Result<Transacted, AwsError> {
        let mut refused = Vec::new();
        for attempt in 0..ATTEMPTS {
            if pending.is_empty() {
                break;
            }
            let items = pending.iter().map(|a| a.item.clone()).collect();
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            let e = match sent {
                Ok(_) => {
                    return Ok(Transacted {
                        written: pending.into_iter().map(|a| a.key).collect(),
                        refused,
                    });
                }
                Err(e) => e,
            };
            let reasons: Vec<CancellationReason> = match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                    c.cancellation_reasons().to_vec()
                }
                _ => return Err(AwsError::from_sdk("TransactWriteItems", &e)),
            };
            if reasons.len() != pending.len() {
                let mut err = AwsError::from_sdk("TransactWriteItems", &e);
                err.message = format!(
                    "{} ({} cancellation reasons for {} actions)",
                    err.message,
                    reasons.len(),
                    pending.len()
                );
                return Err(err);
            }
            let mut wait = false;
            let mut kept = Vec::new();
            for (action, reason) in pending.into_iter().zip(reasons) {
                match reason.code() {
                    None | Some("None") => kept.push(action),
                    Some("ConditionalCheckFailed") => refused.push(action.key),
                    Some(
                        "TransactionConflict"
                        | "ThrottlingError"
                        | "ProvisionedThroughputExceeded"
                        | "RequestLimitExceeded",
                    ) => {
                        wait = true;
                        kept.push(action);
                    }
                    Some(code) => {
                        return Err(AwsError {
                            operation: "TransactWriteItems",
                            code: Some(code.to_string()),
                            kind: kind_of_code(code),
                            message: format!(
                                "transaction cancelled at {}: {}",
                                action.key,
                                reason.message().unwrap_or("no message")
                            ),
                        });
                    }
                }
            }
            pending = kept;
            if wait {
                backoff(attempt).await;
            }
        }
        if pending.is_empty() {
            return Ok(Transacted {
                written: Vec::new(),
                refused,
            });
        }
        Err(AwsError {
            operation: "TransactWriteItems",
            code: Some("TransactionCanceledException".into()),
            kind: ErrorKind::Throttled,
            message: format!(
                "{} action(s) still cancelled by conflicts or throttling after {ATTEMPTS} attempts",
                pending.len()
            ),
        })
    }
}

/// One action of a transaction, with the key it writes and its size in bytes (about).
struct Action {
    key: String,
    item: TransactWriteItem,
    size: usize,
}

struct Transacted {
    written: Vec<String>,
    /// The keys whose condition failed: not written.
    refused: Vec<String>,
}

/// Transactions of at most 100 actions and 4 MB.
fn chunks(actions: Vec<Action>) -> Vec<Vec<Action>> {
    let mut out: Vec<Vec<Action>> = Vec::new();
    let mut bytes = 0;
    for a in actions {
        let full = out
            .last()
            .is_none_or(|c| c.len() == MAX_TRANSACTION || bytes + a.size > MAX_TRANSACTION_BYTES);
        if full {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes += a.size;
        if let Some(c) = out.last_mut() {
            c.push(a);
        }
    }
    out
}

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_string())
}

fn n(number: i64) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

fn key_of(key: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([(KEY.to_string(), s(key))])
}

/// A stored record's attributes; an item without them is named (it was not written by us).
fn parse(attributes: &HashMap<String, AttributeValue>) -> Result<(String, Item), AwsError> {
    let text = |name: &str| match attributes.get(name) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    };
    let number = |name: &str| match attributes.get(name) {
        Some(AttributeValue::N(v)) => v.parse::<i64>().ok(),
        _ => None,
    };
    let key = text(KEY).unwrap_or_default();
    let bad = |what: &str| AwsError {
        operation: "BatchGetItem",
        code: None,
        kind: ErrorKind::Invalid,
        message: format!("item `{key}` has no {what}: not a record this function wrote"),
    };
    let json = text(VALUE).ok_or_else(|| bad("string `v`"))?;
    let version = number(VERSION)
        .and_then(|v| u64::try_from(v).ok())
        .ok_or_else(|| bad("number `version`"))?;
    let expires_at = number(EXPIRES_AT).ok_or_else(|| bad("number `expires_at`"))?;
    Ok((
        key,
        Item {
            json,
            version,
            expires_at,
        },
    ))
}

fn unbuildable(operation: &'static str, e: impl std::fmt::Display) -> AwsError {
    AwsError {
        operation,
        code: None,
        kind: ErrorKind::Invalid,
        message: format!("request could not be built: {e}"),
    }
}

/// Exponential backoff with jitter: about 25 ms, 50 ms, ... at most 800 ms.
async fn backoff(attempt: u32) {
    let ceiling = 25u64 << attempt.min(5);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or_default();
    let millis = ceiling / 2 + nanos % (ceiling / 2 + 1);
    tokio::time::sleep(Duration::from_millis(millis)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(key: &str, size: usize) -> Action {
        let delete = Delete::builder()
            .table_name("t")
            .key(KEY, s(key))
            .build()
            .unwrap();
        Action {
            key: key.into(),
            item: TransactWriteItem::builder().delete(delete).build(),
            size,
        }
    }

    #[test]
    fn transactions_hold_at_most_100_actions_and_4_mb() {
        let many = (0..250).map(|i| action(&i.to_string(), 10)).collect();
        let sizes: Vec<usize> = chunks(many).iter().map(Vec::len).collect();
        assert_eq!(sizes, [100, 100, 50]);
        let big = (0..5).map(|i| action(&i.to_string(), 1_000_000)).collect();
        let sizes: Vec<usize> = chunks(big).iter().map(Vec::len).collect();
        assert_eq!(sizes, [3, 2]);
        assert!(chunks(Vec::new()).is_empty());
    }

    #[test]
    fn an_item_without_a_version_is_named() {
        let item = HashMap::from([
            (KEY.to_string(), s("session#ASIA")),
            (VALUE.to_string(), s("{}")),
            (EXPIRES_AT.to_string(), n(5)),
        ]);
        let e = parse(&item).unwrap_err();
        assert!(e.message.contains("session#ASIA"), "{e}");
        assert!(e.message.contains("`version`"), "{e}");
    }
}
