//! The Lambda's state store: [`Store`] over the DynamoDB table ([`DynamoStore`], whose module
//! says why each call is the one it is). It lives here, not beside the in-memory and file
//! stores, because the adapter (`aws`) sits below the context stage that defines the trait.

use std::collections::HashMap;

use crate::aws::AwsError;
use crate::aws::dynamodb::{DynamoStore, RecordWrite};
use crate::context::state::{Commit, Pending, Store, StoreError, Stored, Written};

/// What the alert says after `correlation unavailable (…)`: the table and the AWS error
/// (operation, code, message).
fn unavailable(store: &DynamoStore, e: AwsError) -> StoreError {
    StoreError(format!("DynamoDB table {}: {e}", store.table()))
}

fn wall_clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

impl Store for DynamoStore {
    fn name(&self) -> &'static str {
        "dynamodb"
    }

    fn read<'a>(&'a self, keys: &'a [String], now: i64) -> Pending<'a, HashMap<String, Stored>> {
        Box::pin(async move {
            let items = self
                .read_records(keys, now)
                .await
                .map_err(|e| unavailable(self, e))?;
            Ok(items
                .into_iter()
                .map(|(key, i)| {
                    let stored = Stored {
                        json: i.json,
                        version: i.version,
                        expires_at: i.expires_at,
                    };
                    (key, stored)
                })
                .collect())
        })
    }

    fn claim<'a>(
        &'a self,
        ids: &'a [String],
        now: i64,
        lease_until: i64,
    ) -> Pending<'a, Vec<String>> {
        Box::pin(async move {
            self.claim_ids(ids, now, lease_until)
                .await
                .map_err(|e| unavailable(self, e))
        })
    }

    fn commit<'a>(&'a self, batch: &'a Commit) -> Pending<'a, Written> {
        Box::pin(async move {
            let records: Vec<RecordWrite<'_>> = batch
                .writes
                .iter()
                .map(|w| RecordWrite {
                    key: &w.key,
                    json: &w.json,
                    expires_at: w.expires_at,
                    expected_version: w.expected_version,
                })
                .collect();
            // `Commit` carries no `now`: a key read as absent may overwrite an item that TTL
            // has not deleted yet once it has expired by the wall clock.
            let conflicts = self
                .write(
                    &records,
                    &batch.delivered,
                    batch.keep_until,
                    &batch.failed,
                    wall_clock(),
                )
                .await
                .map_err(|e| unavailable(self, e))?;
            Ok(Written { conflicts })
        })
    }
}
