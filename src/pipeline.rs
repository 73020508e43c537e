//! The one place an event is judged: classify (every rule of the catalogue), tune (the tuning
//! file's overrides and exceptions), grade (once) and build the [`Alert`]. The Lambda,
//! `replay`, the trail self-check and the audit's drift grading all call [`judge`]. Nothing
//! else grades an event (the audit's standing findings are not events: each keeps its own
//! grade, and the tuning file applies to each in its own scope).
//!
//! Pure: the [`Context`] was gathered before (enrichment, per-input history), delivery happens
//! after, and the date that tuning-file exceptions are judged on is handed in.

use chrono::NaiveDate;

use crate::alert::Alert;
use crate::config::RuleConfig;
use crate::context::{Context, Correlation};
use crate::model::AccessEvent;
use crate::rules::{self, Case, Topic};
use crate::tuning::{Scope, Tuning};

/// What became of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judged {
    /// Its alert: findings classified, tuned and graded.
    Alert(Box<Alert>),
    /// The tuning file (named by its source) disables the rule of every finding: there is
    /// nothing left to alert on.
    Disabled { tuning: String },
}

impl Judged {
    /// The alert, when there is one.
    pub fn alert(self) -> Option<Alert> {
        match self {
            Judged::Alert(alert) => Some(*alert),
            Judged::Disabled { .. } => None,
        }
    }
}

/// Judge one watched event: every rule that fires (all matching rules, not the first), the
/// tuning file (when given) judged as of `today`, then one grade.
pub fn judge(
    event: &AccessEvent,
    context: &Context,
    rules: &RuleConfig,
    tuning: Option<&Tuning>,
    today: NaiveDate,
) -> Judged {
    let mut findings = rules::findings(&Case::new(event, rules, context));
    if let Some(tuning) = tuning {
        let scope = Scope {
            cluster: event.cluster.as_deref(),
            account: Some(event.account.as_str()),
            principal: event.change.principal_arn(),
            caller: event.actor.arn.as_deref(),
            failed: event.error.is_some(),
        };
        findings = tuning.tune_each(findings.into_iter().map(|f| (f, scope)), today);
        if findings.is_empty() {
            return Judged::Disabled {
                tuning: tuning.source.clone(),
            };
        }
    }
    let severity = rules::grade(&mut findings);
    let mut alert = Alert::new(event, severity, findings, context.enrichment.clone());
    if let Some(c) = &context.correlation {
        correlated(&mut alert, c);
    }
    Judged::Alert(Box::new(alert))
}

/// What correlation adds to the alert: the incident, when a correlation rule (or the
/// break-glass AssumeRole that opens a session) is among its findings; what a revert resolves;
/// that the store did not answer.
fn correlated(alert: &mut Alert, c: &Correlation) {
    let touched = alert.findings.iter().any(|f| {
        f.rule.topic == Topic::Correlation
            || (c.opens_session && *f.rule == rules::identity::BREAK_GLASS_ASSUMED)
    });
    if touched {
        alert.incident = c.incident.clone();
    }
    if alert
        .findings
        .iter()
        .any(|f| *f.rule == rules::correlation::GRANT_REVERTED)
    {
        alert.resolves = c.resolves.clone();
    }
    alert.correlation_unavailable = c
        .unavailable
        .as_ref()
        .map(|reason| format!("correlation unavailable ({reason})"));
}
