//! Findings about the tuning file itself: its exceptions lapsing (made by [`crate::tuning`]),
//! the file changed (`tuning-changed`, from the CloudTrail write of its parameter) and the
//! file found invalid at a cold start (`tuning-invalid`).

use super::{Case, Eval, Hit, OnFailure, Rule, Topic, hit};
use crate::model::Change;
use crate::operation::{Operation, WatcherPart};
use crate::severity::Severity::{High, Low};

pub static EXCEPTION_EXPIRED: Rule = Rule::external(
    "exception-expired",
    Topic::Tuning,
    &[Low],
    "an exception in the tuning file is past its `expires` date: it no longer suppresses anything (reported by `audit`; `replay` and the Lambda warn at start and mark each finding it would have suppressed)",
    "An exception is a time-boxed acceptance of a risk; when it lapses, the findings it hid count again, and an entry nobody renews is either forgotten access or forgotten paperwork.",
    "Review the exception: if the access is still accepted, renew `expires` with a fresh reason; otherwise remove the exception and the access it covered.",
);

pub static TUNING_CHANGED: Rule = Rule {
    id: "tuning-changed",
    topic: Topic::Tuning,
    severities: &[High],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "SSM PutParameter or DeleteParameter of the tuning parameter (TUNING_PARAMETER_NAME; without it, a parameter under the stack's name): the Lambda reads the old and new versions and lists in words what changed (rules disabled or re-enabled, severities lowered or raised, exceptions and approved callers added or removed)",
    why: "Whoever can change cluster access can often write the tuning file too: one line disables a rule, lowers it or excepts a principal, and nothing else alerts. A change of the file is itself a finding, with what it silences spelled out.",
    next_step: "Read the listed changes; if they were not reviewed, restore the previous version (`aws ssm get-parameter-history --name <parameter>`, then `aws ssm put-parameter --overwrite`).",
    eval: Eval::Change(tuning_changed),
};

fn tuning_changed(c: &Case) -> Option<Hit> {
    let Change::WatcherTampered(t) = &c.event.change else {
        return None;
    };
    let name = t.name.as_deref()?;
    if t.part != WatcherPart::SsmParameter || !c.config.watcher.is_tuning_parameter(name) {
        return None;
    }
    let what = match (c.event.operation, &c.event.error) {
        (_, Some(e)) => format!("change attempted (failed: {})", e.code),
        (Operation::DeleteParameter, None) => {
            "deleted: the next cold start runs on the environment's settings alone".to_string()
        }
        _ => "changed".to_string(),
    };
    let version = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_else(|| "?".into());
    let detail = match &c.context.tuning_change {
        Some(tc) if tc.unavailable.is_some() => format!(
            " (what changed could not be read: {})",
            tc.unavailable.as_deref().unwrap_or_default()
        ),
        Some(tc) if tc.changes.is_empty() => format!(
            " (version {} -> {}): no rule, severity, exception or approved caller changed",
            version(tc.from_version),
            version(tc.to_version)
        ),
        Some(tc) => format!(
            " (version {} -> {}): {}",
            version(tc.from_version),
            version(tc.to_version),
            tc.changes.join("; ")
        ),
        None => format!(
            " (its versions were not read: compare them with `aws ssm get-parameter-history --name {name}`)"
        ),
    };
    hit(High, format!("Tuning file {name} {what}{detail}{}", c.by()))
}

pub static TUNING_INVALID: Rule = Rule {
    id: "tuning-invalid",
    topic: Topic::Tuning,
    severities: &[High],
    on_failure: OnFailure::Keep,
    qualifier: None,
    fires_on: "the Lambda's cold start finds the tuning file invalid or cannot read it: it runs on its environment's settings alone and says so, with every problem named by line",
    why: "An invalid file used to stop the function at init, so one bad line silenced every alert; now the function keeps alerting without the file (no exceptions, no overrides), and this finding says why the file's suppressions are gone.",
    next_step: "Fix the listed lines (`eks-access-watch replay --config FILE` checks a file offline), then write the parameter again; the next cold start applies it.",
    eval: Eval::Change(tuning_invalid),
};

fn tuning_invalid(c: &Case) -> Option<Hit> {
    let Change::TuningInvalid { source, problems } = &c.event.change else {
        return None;
    };
    hit(
        High,
        format!(
            "The tuning file in {source} is not applied, the function runs on its environment's settings alone: {} problem(s): {}",
            problems.len(),
            problems.join("; ")
        ),
    )
}
