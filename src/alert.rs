//! The alert document: one per watched event, with every finding that applies, as
//! [`crate::pipeline::judge`] makes it. Its renderings live in [`crate::render`].

use crate::context::state::Incident;
use crate::model::Enrichment;
use crate::model::{AccessEvent, AccessScope, IdentityType};
use crate::operation::Operation;
use crate::rules::Finding;
use crate::severity::Severity;

/// The alert for one watched event.
/// Its JSON document is a rendering: [`crate::render::json`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// The watched call (not in the JSON document: `event_name` says it for readers).
    pub operation: Operation,
    /// CloudTrail `eventID`; `null` when the record has none.
    pub event_id: Option<String>,
    pub event_name: String,
    pub event_time: Option<String>,
    pub account: String,
    pub region: String,
    pub cluster: Option<String>,
    /// The principal whose access changed (decoded), if any.
    pub principal_arn: Option<String>,
    /// The caller: the role ARN (with path) for assumed roles, the user ARN for IAM users.
    pub actor_arn: Option<String>,
    /// Readable caller: `role/platform-engineer (jdoe), user agent says aws-cli`.
    pub actor: String,
    pub actor_type: IdentityType,
    pub source_ip: Option<String>,
    /// Set when the call failed: the alert reports an attempt.
    pub error_code: Option<String>,
    pub policy_arn: Option<String>,
    pub access_scope: Option<AccessScope>,
    /// The highest severity among the findings that count (not suppressed by the tuning file).
    pub severity: Severity,
    pub findings: Vec<Finding>,
    /// Filled by enrichment (EKS lookups); `null` offline.
    pub enrichment: Option<Enrichment>,
    /// The incident a correlation rule put this event in (a break-glass session, a grant
    /// undone, a fan-out, a denied burst); `null` otherwise.
    pub incident: Option<Incident>,
    /// For a `grant-reverted` alert: the event id of the grant it undoes.
    pub resolves: Option<String>,
    /// Set when the state store did not answer: `correlation unavailable (<reason>)`.
    pub correlation_unavailable: Option<String>,
}

impl Alert {
    /// The ids of the rules that fired and count, in order (a finding a tuning-file exception
    /// suppressed is left out: see [`Alert::suppressed_rule_ids`]).
    pub fn rule_ids(&self) -> Vec<&'static str> {
        self.findings
            .iter()
            .filter(|f| f.counts())
            .map(|f| f.rule.id)
            .collect()
    }

    /// The ids of the rules whose findings a tuning-file exception suppressed, in order.
    pub fn suppressed_rule_ids(&self) -> Vec<&'static str> {
        self.findings
            .iter()
            .filter(|f| !f.counts())
            .map(|f| f.rule.id)
            .collect()
    }
}

impl Alert {
    /// The alert for `event` with its graded findings (see [`crate::pipeline::judge`]).
    pub fn new(
        event: &AccessEvent,
        severity: Severity,
        findings: Vec<Finding>,
        enrichment: Option<Enrichment>,
    ) -> Alert {
        Alert {
            operation: event.operation,
            event_id: event.event_id.clone(),
            event_name: event.event_name().to_string(),
            event_time: event.event_time.clone(),
            account: event.account.clone(),
            region: event.region.clone(),
            cluster: event.cluster.clone(),
            principal_arn: event.change.principal_arn().map(str::to_string),
            actor_arn: event.actor.arn.clone(),
            actor: event.actor.describe(),
            actor_type: event.actor.identity_type.clone(),
            source_ip: event.source_ip.clone(),
            error_code: event.error.as_ref().map(|e| e.code.clone()),
            policy_arn: event.change.policy_arn().map(str::to_string),
            access_scope: event.change.access_scope().cloned(),
            severity,
            findings,
            enrichment,
            incident: None,
            resolves: None,
            correlation_unavailable: None,
        }
    }
}

/// Where an alert stands in its finding's life, for the sinks that keep findings (Security
/// Hub, PagerDuty) and the OCSF rendering (`activity_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Activity {
    /// A new finding: an alert without an incident, or the event that opened its incident.
    Create,
    /// A later event of an incident already opened.
    Update,
    /// The grant is undone (`grant-reverted`, `access-entry-created-then-deleted`: the alert
    /// `resolves` a grant): what the sinks hold for it is closed.
    Close,
}

impl Activity {
    /// OCSF's `activity_id` for a Detection Finding (1 Create, 2 Update, 3 Close).
    pub fn ocsf_id(self) -> u8 {
        match self {
            Activity::Create => 1,
            Activity::Update => 2,
            Activity::Close => 3,
        }
    }

    /// OCSF's caption of the activity.
    pub fn name(self) -> &'static str {
        match self {
            Activity::Create => "Create",
            Activity::Update => "Update",
            Activity::Close => "Close",
        }
    }
}

impl Alert {
    /// The finding's stable id in every sink: the incident's id, else the event id (else a
    /// hash of what the alert is about, for the rare record without an event id).
    pub fn finding_uid(&self) -> String {
        if let Some(i) = &self.incident {
            return i.id.clone();
        }
        if let Some(id) = &self.event_id {
            return id.clone();
        }
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for part in [
            self.event_name.as_str(),
            self.event_time.as_deref().unwrap_or(""),
            self.account.as_str(),
            self.region.as_str(),
            self.cluster.as_deref().unwrap_or(""),
            self.principal_arn.as_deref().unwrap_or(""),
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        let digest = h.finalize();
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("eaw-event-{hex}")
    }

    /// Create, Update or Close (see [`Activity`]).
    pub fn activity(&self) -> Activity {
        if self.resolves.is_some() {
            return Activity::Close;
        }
        match &self.incident {
            None => Activity::Create,
            Some(i) => {
                let opened_here = i.more == 0
                    && i.events
                        .first()
                        .is_some_and(|e| e.event_id.is_some() && e.event_id == self.event_id);
                if opened_here {
                    Activity::Create
                } else {
                    Activity::Update
                }
            }
        }
    }

    /// The findings this alert moves on in the sinks: its own ([`Alert::finding_uid`]) and,
    /// for a revert, the finding of the grant it undoes (which was reported under the grant's
    /// event id when the grant belonged to no incident), without repeats.
    pub fn lifecycle_uids(&self) -> Vec<String> {
        let mut uids = vec![self.finding_uid()];
        if let Some(grant) = &self.resolves
            && !uids.contains(grant)
        {
            uids.push(grant.clone());
        }
        uids
    }
}

/// Whether an alert goes to a sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// At or above the threshold.
    Send,
    /// Below the threshold, but it updates or closes a finding the sink holds.
    Lifecycle,
    /// Below the threshold (the higher of `MIN_SEVERITY` and the sink's own minimum).
    Below(Severity),
}

/// The rule every sink follows: an alert at or above the higher of `global` (`MIN_SEVERITY`)
/// and the sink's own minimum goes to it; an update or a revert (see [`Activity`]) of a
/// finding the sink already `holds` goes to it whatever those minimums say, so what a sink
/// opened it also sees move and close.
pub fn due(alert: &Alert, global: Severity, sink_min: Severity, holds: bool) -> Due {
    let threshold = global.max(sink_min);
    if alert.severity >= threshold {
        Due::Send
    } else if holds && alert.activity() != Activity::Create {
        Due::Lifecycle
    } else {
        Due::Below(threshold)
    }
}
