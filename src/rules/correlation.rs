//! Sequences, not single events: rules over what earlier events say about this one, from the
//! correlation facts the context stage gathered ([`crate::context::correlate`]). Each names
//! the events it joins; their alerts carry the incident they belong to.
//!
//! Windows and thresholds are the tuning file's `[correlation]` table; the keys are by
//! operation and identity, never by the caller's name alone (a create of A and a delete of B
//! never match).

use super::{Case, Eval, Hit, OnFailure, Rule, Topic, hit};
use crate::arn;
use crate::context::correlate::Correlation;
use crate::context::state::{EventRef, Granted};
use crate::severity::Severity::{Critical, High, Info, Low, Medium};

fn facts<'a>(c: &'a Case) -> Option<&'a Correlation> {
    c.context.correlation.as_ref()
}

/// `AssociateAccessPolicy at 2026-11-20T01:47:12Z on prod`.
fn describe(e: &EventRef) -> String {
    let mut out = e.event_name.clone();
    if let Some(t) = &e.event_time {
        out.push_str(&format!(" at {t}"));
    }
    if let Some(cl) = &e.cluster {
        out.push_str(&format!(" on {cl}"));
    }
    out
}

/// `1 h 5 min`, `12 min`, `40 s`.
fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match (s / 3600, (s % 3600) / 60) {
        (0, 0) => format!("{s} s"),
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// `role/ci-runner`, or a binding as described (`ClusterRoleBinding ops-admin`).
fn whom(principal: &str) -> String {
    if principal.starts_with("arn:") {
        arn::short_name(principal)
    } else {
        principal.to_string()
    }
}

fn granted(g: &Granted) -> String {
    match g {
        Granted::Entry => "access entry".into(),
        Granted::Policy(p) => format!("{} association", arn::short_name(p)),
        Granted::AwsAuthRow => "aws-auth mapping".into(),
        Granted::Binding => "binding".into(),
    }
}

pub static BREAK_GLASS_SESSION_ACTIVITY: Rule = Rule {
    id: "break-glass-session-activity",
    topic: Topic::Correlation,
    severities: &[Critical],
    // An attempt made with break-glass credentials matters as much as a success.
    on_failure: OnFailure::Keep,
    qualifier: None,
    fires_on: "a watched call, in either plane, made with credentials a break-glass AssumeRole issued (matched by access key id; by session ARN where the key is absent), until they expire",
    why: "Break-glass credentials are for an emergency: every grant and aws-auth change made with them must be seen together, from the AssumeRole on, across the CloudTrail and Kubernetes planes, or one emergency becomes standing access nobody reviews.",
    next_step: "Confirm the emergency with the person who assumed the role; review every action of the session (listed in the incident) and revert what the emergency did not need.",
    eval: Eval::Change(break_glass_session_activity),
};

fn break_glass_session_activity(c: &Case) -> Option<Hit> {
    let s = facts(c)?.session.as_ref()?;
    let session = &s.session;
    let role = session
        .role_arn
        .as_deref()
        .map(arn::short_name)
        .unwrap_or_else(|| "the break-glass role".into());
    let mut detail = vec![format!(
        "{role} assumed by {} at {}",
        session.assumed_by,
        session.assumed_at.as_deref().unwrap_or("an unknown time")
    )];
    if let Some(n) = &session.session_name {
        detail.push(format!("session {n}"));
    }
    if let Some(si) = &session.source_identity {
        detail.push(format!("source identity {si}"));
    }
    let earlier: Vec<String> = s.earlier.iter().map(describe).collect();
    let more = if s.earlier_more > 0 {
        format!(" and {} more", s.earlier_more)
    } else {
        String::new()
    };
    hit(
        Critical,
        format!(
            "{}{} made with break-glass credentials ({}); earlier in the session: {}{more}",
            c.event.event_name(),
            c.on_cluster(),
            detail.join(", "),
            earlier.join("; ")
        ),
    )
}

pub static ACCESS_ENTRY_CREATED_THEN_DELETED: Rule = Rule {
    id: "access-entry-created-then-deleted",
    topic: Topic::Correlation,
    severities: &[Medium, High],
    on_failure: OnFailure::Silent,
    qualifier: None,
    fires_on: "an access entry or policy association (or an aws-auth mapping) created and then removed for the same account, region, cluster and principal within the window (default 1 h); high, medium when both calls were made by approved callers. A delete followed by a create (a replace) is not this",
    why: "Access granted and removed before anyone looks leaves no trace in a daily audit or in the standing access: the window between is when it was used.",
    next_step: "Find out what the principal did while it had access (CloudTrail and the cluster's audit log for that window) and who made both calls.",
    eval: Eval::Change(created_then_deleted),
};

fn created_then_deleted(c: &Case) -> Option<Hit> {
    let f = facts(c)?.created_then_deleted.as_ref()?;
    let grade = if f.both_approved { Medium } else { High };
    hit(
        grade,
        format!(
            "{} of {} created ({}) and removed {} later{}{}",
            granted(&f.granted),
            whom(&f.principal),
            describe(&f.created),
            duration(f.after),
            c.by(),
            if f.both_approved {
                " (both calls by approved callers)"
            } else {
                ""
            }
        ),
    )
}

pub static PRINCIPAL_GRANTED_ON_MANY_CLUSTERS: Rule = Rule {
    id: "principal-granted-on-many-clusters",
    topic: Topic::Correlation,
    severities: &[Low, High],
    on_failure: OnFailure::Silent,
    qualifier: None,
    fires_on: "one principal granted access (CreateAccessEntry, AssociateAccessPolicy, an aws-auth mapping) on at least N distinct clusters (default 3, across accounts and regions) within the window (default 1 h); high, low when every grant was made by an approved caller",
    why: "One role granted everywhere at once is how a foothold becomes the whole fleet; single grants each look routine.",
    next_step: "Check that the principal needs access on every listed cluster and that the change was planned; remove the grants that were not.",
    eval: Eval::Change(many_clusters),
};

fn many_clusters(c: &Case) -> Option<Hit> {
    let f = facts(c)?.many_clusters.as_ref()?;
    let grade = if f.all_approved { Low } else { High };
    hit(
        grade,
        format!(
            "{} granted access on {} clusters within {}: {}{}",
            arn::short_name(&f.principal),
            f.clusters.len(),
            duration(f.window),
            f.clusters.join(", "),
            if f.all_approved {
                " (every grant by an approved caller)"
            } else {
                ""
            }
        ),
    )
}

pub static REPEATED_DENIED_ATTEMPTS: Rule = Rule {
    id: "repeated-denied-attempts",
    topic: Topic::Correlation,
    severities: &[High],
    on_failure: OnFailure::Keep,
    qualifier: None,
    fires_on: "one caller denied at least N times (default 5) on watched calls within the window (default 10 min), in either plane",
    why: "A stolen key tries call after call; each denial alone is noise, a burst is someone probing what the credentials can do.",
    next_step: "Find out whose credentials these are and whether they are used from where they should be; rotate them if not.",
    eval: Eval::Change(repeated_denied),
};

fn repeated_denied(c: &Case) -> Option<Hit> {
    let f = facts(c)?.denied.as_ref()?;
    hit(
        High,
        format!(
            "{} denied {} times on watched calls within {} (the first: {})",
            c.event.actor.describe(),
            f.count,
            duration(f.window),
            describe(&f.first)
        ),
    )
}

pub static GRANT_REVERTED: Rule = Rule {
    id: "grant-reverted",
    topic: Topic::Correlation,
    severities: &[Info],
    on_failure: OnFailure::Silent,
    qualifier: None,
    fires_on: "a later call undoes an alerted grant: the same policy disassociated, the entry deleted, the aws-auth mapping removed, the binding deleted (within 12 h of the grant); the alert's `resolves` names the grant's event",
    why: "A finding that stays open after its grant is gone is noise; one that closes says the risk is over, and for how long it stood.",
    next_step: "Nothing, if the grant was not expected to last; otherwise check why it was removed.",
    eval: Eval::Change(grant_reverted),
};

fn grant_reverted(c: &Case) -> Option<Hit> {
    let f = facts(c)?.reverted.as_ref()?;
    hit(
        Info,
        format!(
            "{} of {} undone{}: it was granted by {} and stood {}",
            granted(&f.granted),
            whom(&f.principal),
            c.by(),
            describe(&f.grant),
            duration(f.stood)
        ),
    )
}
