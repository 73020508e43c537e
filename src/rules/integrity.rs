//! Whether the watcher can still see: the CloudTrail trail it depends on (stopped, deleted,
//! narrowed, or found not logging by the scheduled self-check) and records it could not read.
//! A watcher that stops seeing events looks exactly like a quiet week.

use super::{Case, Eval, Hit, OnFailure, Rule, Topic, hit};
use crate::model::Change;
use crate::severity::Severity::{Critical, High, Medium};

pub static TRAIL_LOGGING_STOPPED: Rule = Rule {
    id: "trail-logging-stopped",
    topic: Topic::Integrity,
    severities: &[Critical],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "CloudTrail StopLogging or DeleteTrail",
    why: "EventBridge sees EKS and STS calls only while a trail logs management events: stopping or deleting the trail blinds this watcher and every other detector, which is why attackers do it first.",
    next_step: "Restart logging (`aws cloudtrail start-logging --name <trail>`) or recreate the trail, then review what happened while it was off.",
    eval: Eval::Change(trail_logging_stopped),
};

fn trail_logging_stopped(c: &Case) -> Option<Hit> {
    let Change::TrailStopped { deleted, trail } = &c.event.change else {
        return None;
    };
    let trail = trail.as_deref().unwrap_or("(unnamed)");
    hit(
        Critical,
        if *deleted {
            format!("Trail {trail} {}{}", c.did("deleted", "deletion"), c.by())
        } else {
            format!(
                "Logging of trail {trail} {}{}",
                c.did("stopped", "stop"),
                c.by()
            )
        },
    )
}

pub static TRAIL_MODIFIED: Rule = Rule {
    id: "trail-modified",
    topic: Topic::Integrity,
    severities: &[Medium, High],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "CloudTrail UpdateTrail or PutEventSelectors: high when the new selectors no longer log management write events for the watched EKS calls, else medium",
    why: "Narrowing a trail's event selectors (read-only, data events only, an eventSource or eventName filter) silently removes the events this watcher depends on, while the trail still looks on.",
    next_step: "Check the trail's selectors (`aws cloudtrail get-event-selectors --trail-name <trail>`) still log management write events.",
    eval: Eval::Change(trail_modified),
};

fn trail_modified(c: &Case) -> Option<Hit> {
    let Change::TrailModified {
        trail,
        logs_management_writes,
        keys,
    } = &c.event.change
    else {
        return None;
    };
    let (severity, note) = match logs_management_writes {
        Some(false) => (High, ": management write events are no longer logged"),
        Some(true) => (Medium, ": management write events are still logged"),
        None => (Medium, ""),
    };
    hit(
        severity,
        format!(
            "Trail {} {} [{}]{note}{}",
            trail.as_deref().unwrap_or("(unnamed)"),
            c.did("changed", "change"),
            keys.join(", "),
            c.by()
        ),
    )
}

pub static NO_TRAIL_LOGGING: Rule = Rule {
    id: "no-trail-logging",
    topic: Topic::Integrity,
    severities: &[Critical],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "the scheduled self-check finds no trail that is logging and records management write events in its region (or cannot confirm one)",
    why: "Without such a trail EventBridge receives no CloudTrail events: the watcher is blind and every alarm stays green.",
    next_step: "Create or fix a multi-region (or organisation) trail logging management events, then confirm with `aws cloudtrail get-trail-status`.",
    eval: Eval::Change(no_trail_logging),
};

fn no_trail_logging(c: &Case) -> Option<Hit> {
    let Change::TrailStatus { trails, errors } = &c.event.change else {
        return None;
    };
    if trails
        .iter()
        .any(|t| t.logging && t.covers_region && t.logs_management_writes)
    {
        return None;
    }
    let found: Vec<String> = trails
        .iter()
        .map(|t| {
            let mut why = Vec::new();
            if !t.logging {
                why.push("not logging");
            }
            if !t.covers_region {
                why.push("other region");
            }
            if !t.logs_management_writes {
                why.push("no management writes");
            }
            format!("{} ({})", t.name, why.join(", "))
        })
        .collect();
    hit(
        Critical,
        format!(
            "No trail logs management write events in {}{}{}",
            if c.event.region.is_empty() {
                "this region"
            } else {
                c.event.region.as_str()
            },
            if found.is_empty() {
                ": no trail found".to_string()
            } else {
                format!(": {}", found.join("; "))
            },
            if errors.is_empty() {
                String::new()
            } else {
                format!(" (could not confirm: {})", errors.join("; "))
            }
        ),
    )
}

pub static NO_TRAIL_NOTIFICATIONS: Rule = Rule {
    id: "no-trail-notifications",
    topic: Topic::Integrity,
    severities: &[High],
    on_failure: OnFailure::Keep,
    qualifier: None,
    fires_on: "the scheduled self-check finds that the organisation trail's bucket (ORG_TRAIL_BUCKET) sends no object notifications to the function's queue and has EventBridge notifications off (or cannot confirm either)",
    why: "A stack cannot change an existing bucket's notifications: until they are turned on the bucket path reads nothing, and the events EventBridge drops (best-effort delivery) stay unseen.",
    next_step: "Turn the notifications on with the command in docs/trail.md (aws s3api put-bucket-notification-configuration, or EventBridge notifications for the bucket), then run the self-check again.",
    eval: Eval::Change(no_trail_notifications),
};

fn no_trail_notifications(c: &Case) -> Option<Hit> {
    let Change::TrailNotifications {
        bucket,
        queue_arn,
        to_queue,
        eventbridge,
        error,
    } = &c.event.change
    else {
        return None;
    };
    if *to_queue || *eventbridge {
        return None;
    }
    hit(
        High,
        format!(
            "The trail bucket {bucket} sends no object notifications to {}{}",
            queue_arn.as_deref().unwrap_or("the function's queue"),
            match error {
                Some(e) => format!(" (could not confirm: {e})"),
                None => " and EventBridge notifications are off".to_string(),
            }
        ),
    )
}

pub static TRAIL_GAP: Rule = Rule::external(
    "trail-gap",
    Topic::Integrity,
    &[High],
    "verify-trail finds an hour without a digest file, a broken digest chain (a previous digest that is not there), or a log file a digest lists that is absent from the bucket",
    "The log files are the complete record only if every one is there: a deleted file, or digests missing for an hour, is where an intruder's calls would be hidden, and no live path (EventBridge is best-effort) can show them again.",
    "Find who deleted the object or stopped the trail (S3 server access logs, the trail's own StopLogging/DeleteTrail events), restore the object from versioning if the bucket keeps versions, and read the hours in question through another source.",
);

pub static TRAIL_LOG_ALTERED: Rule = Rule::external(
    "trail-log-altered",
    Topic::Integrity,
    &[Critical],
    "verify-trail finds a log file whose SHA-256 differs from the one its digest recorded, a digest whose signature does not verify with CloudTrail's public key, or a digest whose content differs from the hash the next digest recorded",
    "A changed log file or a forged digest means someone with write access to the trail's bucket rewrote history: the events removed are exactly the ones to find.",
    "Treat the bucket as compromised: lock it (object lock, bucket policy), keep the altered objects for forensics, compare with an earlier version or another copy of the trail, and rotate whoever could write there.",
);

pub static UNPARSEABLE_WATCHED_EVENT: Rule = Rule {
    id: "unparseable-watched-event",
    topic: Topic::Integrity,
    severities: &[High],
    on_failure: OnFailure::Keep,
    qualifier: None,
    fires_on: "a record whose bytes name a watched eventSource and eventName but which does not parse as a CloudTrail record (what a byte search could read is shown)",
    why: "A watched call the parser rejects would otherwise be graded never: a crafted field (a lone surrogate in a user agent) must not be a way to change access unseen.",
    next_step: "Read the raw record (CloudTrail event ID below) and grade it by hand; report the parse error so the parser can learn the shape.",
    eval: Eval::Change(unparseable_watched_event),
};

fn unparseable_watched_event(c: &Case) -> Option<Hit> {
    let Change::Unparsed { error, .. } = &c.event.change else {
        return None;
    };
    hit(
        High,
        format!(
            "{} could not be parsed ({error}); read by byte search{}{}{}",
            c.event.event_name(),
            c.target
                .map(|t| format!(": target {}", crate::arn::short_name(t)))
                .unwrap_or_default(),
            c.on_cluster(),
            c.by()
        ),
    )
}

pub static WATCHER_TAMPERED: Rule = Rule {
    id: "watcher-tampered",
    topic: Topic::Integrity,
    severities: &[High, Critical],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "a CloudTrail write call that disables, removes or redirects a part of this deployment (its EventBridge rules, Lambda functions and their event source mappings and permissions, the audit-log subscription filters, its SNS topics and subscriptions, KMS keys, the tuning parameter, its SQS queues, its stacks): critical; high when CloudFormation made it (invokedBy or sourceIPAddress cloudformation.amazonaws.com: a stack update, alerted by its own UpdateStack)",
    why: "Whoever can change EKS access can usually also disable a forwarding rule, edit the function's environment, delete a subscription filter or unsubscribe the e-mail endpoint, and every alarm stays green; blinding the detector is the first move. These calls also reach the alarm topic straight from EventBridge, so a disabled function cannot hide them.",
    next_step: "Confirm with whoever owns the stack that the change was intended; otherwise redeploy the stack (`sam deploy`) to restore the part, then review the EKS access changes made since (CloudTrail lookup-events).",
    eval: Eval::Change(watcher_tampered),
};

fn watcher_tampered(c: &Case) -> Option<Hit> {
    let Change::WatcherTampered(t) = &c.event.change else {
        return None;
    };
    let name = match (&t.name, t.part) {
        (None, _) => "(unnamed)".to_string(),
        (
            Some(n),
            crate::operation::WatcherPart::SnsSubscription
            | crate::operation::WatcherPart::SsmParameter,
        ) => n.clone(),
        (Some(n), _) => crate::config::resource_name(n),
    };
    let what = match &c.event.error {
        None => t.what.clone(),
        Some(e) => format!("{}: attempted (failed: {})", t.what, e.code),
    };
    let (severity, via) = if t.by_cloudformation {
        (
            High,
            " (through CloudFormation: a stack update or deletion, alerted by its own call)",
        )
    } else {
        (Critical, "")
    };
    hit(severity, format!("{} {name} {what}{}{via}", t.part, c.by()))
}
