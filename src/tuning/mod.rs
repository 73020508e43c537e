//! The tuning file: one TOML file that `replay --config`, `audit --config` and the Lambda (from
//! an SSM parameter) read, so a security team tunes the detector without redeploying code.
//!
//! It holds approved callers and break-glass roles (added to those of the flags and the
//! environment), the tags every access entry must carry (`audit`'s `untagged-entry`), per-rule
//! overrides (turn a rule off, change its severity) and exceptions (a rule, patterns for the
//! principal / caller / cluster / account it covers, a reason and an expiry date). The syntax
//! and every problem it can report are in [`parse`]; the pattern syntax in [`pattern`].
//!
//! Tuning is a separate step after classification, never inside a rule; the pipeline
//! ([`crate::pipeline::judge`]) runs it on every finding, in this order:
//! 1. a finding of a disabled rule is dropped (an alert left without findings is not raised);
//! 2. a severity override replaces the rule's grade (the rule's own grade is kept in
//!    `rule_severity`; a failed call stays capped at `high` for rules that cap);
//! 3. an exception in force marks the finding `suppressed_by` it: the finding stays in the
//!    output but counts towards nothing (the alert's severity, thresholds, the subject line,
//!    the SNS `severity` and `rules` attributes); an expired exception no longer applies, and
//!    the finding says so in `expired_exception`;
//! 4. (the pipeline's grading, once, after the tuning file) qualifiers that raise the alert
//!    (`unapproved-caller`) are graded over the findings that still count, and the alert
//!    takes the highest of those.
//!
//! It knows neither the alert nor its grade: it sees findings and the [`Scope`] each is
//! about.
//!
//! Expiry is judged against a date the caller passes in ([`today_utc`] in the binaries), so
//! the library stays pure and the tests set the clock.

mod diff;
mod parse;

pub use diff::differences;
pub use parse::MAX_EXCEPTION_DAYS;
pub mod pattern;

use std::path::Path;

use chrono::NaiveDate;

use crate::config::{ConfigError, CorrelationSettings, RuleConfig};
use crate::rules::{self, ExceptionRef, Finding, OnFailure, Rule};
use crate::severity::Severity;
use pattern::{Field, Pattern};

/// A validated tuning file.
#[derive(Debug, Clone, Default)]
pub struct Tuning {
    /// Where it came from (`tuning.toml`, `SSM parameter /eks-access-watch/tuning`), for messages.
    pub source: String,
    /// The file's approved callers and break-glass roles.
    pub rules: RuleConfig,
    /// Tag keys every access entry must carry (`audit`'s `untagged-entry`).
    pub required_tags: Vec<String>,
    pub overrides: Vec<Override>,
    /// In file order: the first one in force that matches a finding suppresses it.
    pub exceptions: Vec<Exception>,
    /// `[correlation]`: the correlation rules' windows and thresholds, when the file sets them.
    pub correlation: Option<CorrelationSettings>,
}

/// `[rules.<id>]`: turn a rule off or change its severity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub rule: &'static Rule,
    pub enabled: bool,
    /// Any severity: an override is the team's decision, not the rule's declared range.
    pub severity: Option<Severity>,
    pub line: usize,
}

/// `[[exceptions]]`: an accepted risk, for a while.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    /// Optional name shown in the output; otherwise `#<position>`.
    pub id: Option<String>,
    /// 1-based position among the file's exceptions.
    pub position: usize,
    pub line: usize,
    pub rule: &'static Rule,
    /// Each field set must match (any of its patterns); a field left out matches anything.
    pub principal: Vec<Pattern>,
    pub caller: Vec<Pattern>,
    pub cluster: Vec<Pattern>,
    pub account: Vec<Pattern>,
    pub reason: String,
    /// The last day (UTC) the exception applies.
    pub expires: NaiveDate,
}

/// What a finding is about, for matching exceptions: where and whom. A field the finding has
/// no value for (no caller for standing access) never matches an exception that sets it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scope<'a> {
    pub cluster: Option<&'a str>,
    pub account: Option<&'a str>,
    pub principal: Option<&'a str>,
    pub caller: Option<&'a str>,
    /// The finding reports a failed call: overrides keep the rule's cap at `high`.
    pub failed: bool,
}

impl<'a> Scope<'a> {
    fn value(&self, field: Field) -> Option<&'a str> {
        match field {
            Field::Principal => self.principal,
            Field::Caller => self.caller,
            Field::Cluster => self.cluster,
            Field::Account => self.account,
        }
    }
}

impl Exception {
    /// Its `id`, or `#<position>`.
    pub fn label(&self) -> String {
        self.id
            .clone()
            .unwrap_or_else(|| format!("#{}", self.position))
    }

    /// In force on `today` (through its `expires` day).
    pub fn in_force(&self, today: NaiveDate) -> bool {
        today <= self.expires
    }

    fn patterns(&self, field: Field) -> &[Pattern] {
        match field {
            Field::Principal => &self.principal,
            Field::Caller => &self.caller,
            Field::Cluster => &self.cluster,
            Field::Account => &self.account,
        }
    }

    /// True when every field it sets matches the context (whatever the date).
    pub fn matches(&self, scope: &Scope) -> bool {
        Field::ALL.iter().all(|&field| {
            let patterns = self.patterns(field);
            patterns.is_empty()
                || scope
                    .value(field)
                    .is_some_and(|v| patterns.iter().any(|p| p.matches(v)))
        })
    }

    pub fn reference(&self) -> ExceptionRef {
        ExceptionRef {
            exception: self.label(),
            reason: self.reason.clone(),
            expires: self.expires.to_string(),
        }
    }
}

impl Tuning {
    /// Parse and validate a tuning file's text; `source` names it in every problem.
    pub fn parse(text: &str, source: &str) -> Result<Self, ConfigError> {
        Self::parse_as_of(text, source, today_utc())
    }

    /// [`Tuning::parse`] as if read on `today`: no exception may expire more than
    /// [`MAX_EXCEPTION_DAYS`] days after it.
    pub fn parse_as_of(text: &str, source: &str, today: NaiveDate) -> Result<Self, ConfigError> {
        parse::parse(text, source, today)
    }

    /// Read and validate a tuning file; the error names the path.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            problems: vec![format!("{source}: cannot read the tuning file: {e}")],
        })?;
        Self::parse(&text, &source).map_err(|mut e| {
            let yaml = path
                .extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("yaml") || x.eq_ignore_ascii_case("yml"));
            if yaml {
                e.problems.push(format!(
                    "{source}: the tuning file is TOML (see docs/tuning.md, \"The tuning file\"); a YAML file is not read"
                ));
            }
            e
        })
    }

    /// The override for a rule, if the file has one.
    pub fn override_for(&self, rule: &Rule) -> Option<&Override> {
        self.overrides.iter().find(|o| o.rule == rule)
    }

    /// Tune one finding (steps 1-3 of the module docs): `None` when its rule is disabled.
    pub fn tune(&self, mut finding: Finding, scope: &Scope, today: NaiveDate) -> Option<Finding> {
        if let Some(o) = self.override_for(finding.rule) {
            if !o.enabled {
                return None;
            }
            if let Some(severity) = o.severity {
                let capped = scope.failed && finding.rule.on_failure == OnFailure::CapAtHigh;
                finding.rule_severity = Some(finding.severity);
                finding.severity = if capped {
                    severity.min(Severity::High)
                } else {
                    severity
                };
            }
        }
        let matching = || {
            self.exceptions
                .iter()
                .filter(|e| e.rule == finding.rule && e.matches(scope))
        };
        if let Some(e) = matching().find(|e| e.in_force(today)) {
            finding.suppressed_by = Some(e.reference());
        } else if let Some(e) = matching().max_by_key(|e| e.expires) {
            finding.expired_exception = Some(e.reference());
        }
        Some(finding)
    }

    /// Tune findings that each have their own scope (the audit's: one per access entry or
    /// cluster), dropping those of disabled rules.
    pub fn tune_each<'a>(
        &self,
        findings: impl IntoIterator<Item = (Finding, Scope<'a>)>,
        today: NaiveDate,
    ) -> Vec<Finding> {
        findings
            .into_iter()
            .filter_map(|(f, scope)| self.tune(f, &scope, today))
            .collect()
    }

    /// The exceptions past their expiry date on `today`, in file order.
    pub fn expired(&self, today: NaiveDate) -> impl Iterator<Item = &Exception> {
        self.exceptions.iter().filter(move |e| !e.in_force(today))
    }

    /// One `exception-expired` finding per expired exception (the audit reports them with its
    /// other findings), tuned like any other finding.
    pub fn expired_findings(&self, today: NaiveDate) -> Vec<Finding> {
        let expired = self.expired(today).map(|e| {
            let summary = format!(
                "Exception {} for {} ({} line {}) expired on {}; the findings it suppressed count again (its reason: {})",
                e.label(),
                e.rule.id,
                self.source,
                e.line,
                e.expires,
                e.reason
            );
            let finding = Finding::new(&rules::EXCEPTION_EXPIRED, Severity::Low, summary);
            (finding, Scope::default())
        });
        self.tune_each(expired.collect::<Vec<_>>(), today)
    }
}

/// Today's date in UTC, from the system clock: what the binaries pass as `today`.
pub fn today_utc() -> NaiveDate {
    chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now()).date_naive()
}
