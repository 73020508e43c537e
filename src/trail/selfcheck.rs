//! The scheduled trail self-check as an event: what the CloudTrail reads found
//! ([`crate::aws::cloudtrail`]) becomes an event of the watcher's own operation, judged by the
//! pipeline like any other.

use crate::model::{AccessEvent, Actor, Change};
use crate::operation::Operation;

/// The check's result as an event of the watcher's own operation, ready for the pipeline.
pub fn check_event(change: Change, account: &str, region: &str, now: &str) -> AccessEvent {
    AccessEvent {
        operation: Operation::TrailSelfCheck,
        event_id: Some(format!("trail-self-check/{account}/{region}/{now}")),
        event_time: Some(now.to_string()),
        account: account.to_string(),
        region: region.to_string(),
        cluster: None,
        actor: Actor::watcher(),
        user_agent: None,
        source_ip: None,
        error: None,
        change,
    }
}

/// The organisation trail bucket's notification check as an event, like [`check_event`] but
/// with an id of its own (a delivered-once store keeps the two apart).
pub fn notifications_event(change: Change, account: &str, region: &str, now: &str) -> AccessEvent {
    let bucket = match &change {
        Change::TrailNotifications { bucket, .. } => bucket.clone(),
        _ => String::new(),
    };
    AccessEvent {
        event_id: Some(format!("trail-notifications/{bucket}/{now}")),
        ..check_event(change, account, region, now)
    }
}
