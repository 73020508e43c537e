//! Reading the tuning file: TOML, walked through its spanned tree (`toml::de::DeTable`) so
//! that every problem is named with its line and key, and all are reported at once (serde's
//! derive would stop at the first). Unknown keys are errors: a typo must never silently turn a
//! setting off.
//!
//! ```toml
//! approved_callers = ["arn:aws:iam::111122223333:role/terraform-deployer"]
//! break_glass_roles = ["arn:aws:iam::111122223333:role/eks-break-glass"]
//! required_tags = ["owner"]
//!
//! [rules.access-policy-associated]
//! enabled = false
//!
//! [rules.cross-account-principal]
//! severity = "medium"
//!
//! [[exceptions]]
//! id = "vendor-support"                       # optional: the name the output shows
//! rule = "cross-account-principal"
//! principal = "arn:aws:iam::444455556666:role/vendor-support"
//! cluster = ["prod-*", "staging-eu"]          # one pattern or a list (any matches)
//! reason = "Vendor support contract SEC-1234, approved by the CISO"
//! expires = 2026-12-31                        # the last day it applies (UTC)
//! ```
//! A file that is not valid TOML gets its syntax errors (the first of each line) and nothing
//! else: the rest cannot be trusted.

use std::ops::Range;

use chrono::NaiveDate;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::pattern::{Field, Pattern};
use super::{Exception, Override, Tuning};
use crate::arn;
use crate::config::{ConfigError, CorrelationSettings, RuleConfig};
use crate::rules::{self, CATALOGUE};
use crate::severity::Severity;

type Value<'i> = Spanned<DeValue<'i>>;

const TOP_KEYS: &[&str] = &[
    "approved_callers",
    "break_glass_roles",
    "required_tags",
    "rules",
    "exceptions",
    "correlation",
];
const CORRELATION_KEYS: &[&str] = &[
    "created_then_deleted_minutes",
    "many_clusters",
    "many_clusters_minutes",
    "denied_attempts",
    "denied_minutes",
];
const OVERRIDE_KEYS: &[&str] = &["enabled", "severity"];
const EXCEPTION_KEYS: &[&str] = &[
    "id",
    "rule",
    "principal",
    "caller",
    "cluster",
    "account",
    "reason",
    "expires",
];

/// The longest an exception may last: its `expires` is at most this many days after the
/// file is read.
pub const MAX_EXCEPTION_DAYS: i64 = 180;

/// Problems found so far, each at a byte offset of the text.
struct Problems<'t> {
    text: &'t str,
    found: Vec<(usize, String)>,
    /// The day the file is read (exception expiry is judged against it).
    today: NaiveDate,
}

impl Problems<'_> {
    fn add(&mut self, span: Range<usize>, message: String) {
        self.found.push((span.start, message));
    }

    /// 1-based line of a byte offset.
    fn line(&self, offset: usize) -> usize {
        let bytes = self.text.as_bytes();
        bytes[..offset.min(bytes.len())]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }
}

pub(super) fn parse(text: &str, source: &str, today: NaiveDate) -> Result<Tuning, ConfigError> {
    let mut p = Problems {
        text,
        found: Vec::new(),
        today,
    };
    let (doc, errors) = DeTable::parse_recoverable(text);
    // The parser recovers and goes on, so one mistake (an unclosed `[`) can echo on the lines
    // after it: the first error of each line is the one worth reading.
    let mut lines_seen = Vec::new();
    for e in &errors {
        let span = e.span().unwrap_or(0..0);
        let line = p.line(span.start);
        if !lines_seen.contains(&line) {
            lines_seen.push(line);
            p.add(span, format!("not valid TOML: {}", e.message().trim_end()));
        }
    }
    let tuning = if errors.is_empty() {
        document(&mut p, doc.get_ref(), source)
    } else {
        Tuning::default()
    };
    if p.found.is_empty() {
        return Ok(tuning);
    }
    // File order; a stable sort keeps the order of problems found at one place.
    p.found.sort_by_key(|(offset, _)| *offset);
    Err(ConfigError {
        problems: p
            .found
            .iter()
            .map(|(offset, m)| format!("{source} line {}: {m}", p.line(*offset)))
            .collect(),
    })
}

fn document(p: &mut Problems, doc: &DeTable, source: &str) -> Tuning {
    let mut tuning = Tuning {
        source: source.to_string(),
        ..Tuning::default()
    };
    let (mut approved, mut break_glass) = (Vec::new(), Vec::new());
    for (key, value) in doc.iter() {
        match key.get_ref().as_ref() {
            "approved_callers" => approved = principals(p, "approved_callers", value, true),
            "break_glass_roles" => break_glass = principals(p, "break_glass_roles", value, false),
            "required_tags" => tuning.required_tags = tags(p, value),
            "rules" => tuning.overrides = overrides(p, value),
            "exceptions" => tuning.exceptions = exceptions(p, value),
            "correlation" => tuning.correlation = correlation(p, value),
            other => p.add(key.span(), unknown_key("", other, TOP_KEYS)),
        }
    }
    // Every value was validated above, with its line: this cannot fail.
    tuning.rules = RuleConfig::new(&approved, source, &break_glass, source).unwrap_or_default();
    tuning
}

fn unknown_key(at: &str, key: &str, valid: &[&str]) -> String {
    format!("{at}unknown key `{key}`; valid keys: {}", valid.join(", "))
}

fn valid_rules() -> String {
    CATALOGUE
        .iter()
        .map(|r| r.id)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A value as the user wrote it, for messages.
fn shown(v: &DeValue) -> String {
    match v {
        DeValue::String(s) => s.to_string(),
        DeValue::Integer(i) => i.as_str().to_string(),
        DeValue::Float(f) => f.as_str().to_string(),
        DeValue::Boolean(b) => b.to_string(),
        DeValue::Datetime(d) => d.to_string(),
        other => format!("a {}", other.type_str()),
    }
}

/// The strings of a list; anything else is a problem naming `key`.
fn strings<'v>(p: &mut Problems, key: &str, value: &'v Value) -> Vec<(Range<usize>, &'v str)> {
    let Some(items) = value.get_ref().as_array() else {
        p.add(
            value.span(),
            format!(
                "{key}: expected a list of strings, e.g. {key} = [\"...\"], not `{}`",
                shown(value.get_ref())
            ),
        );
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| match item.get_ref().as_str() {
            Some(s) => Some((item.span(), s)),
            None => {
                p.add(
                    item.span(),
                    format!("{key}: expected a string, not `{}`", shown(item.get_ref())),
                );
                None
            }
        })
        .collect()
}

fn principals(p: &mut Problems, key: &str, value: &Value, allow_user: bool) -> Vec<String> {
    let mut out = Vec::new();
    for (span, text) in strings(p, key, value) {
        match arn::validate_principal(text, allow_user) {
            Ok(arn) if !out.contains(&arn) => out.push(arn),
            Ok(_) => {}
            Err(e) => p.add(span, format!("{key}: {e}")),
        }
    }
    out
}

/// Tag keys as EKS accepts them: 1-128 letters, digits, spaces and `_ . : / = + - @`.
fn tags(p: &mut Problems, value: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (span, text) in strings(p, "required_tags", value) {
        let key = text.trim();
        let valid = (1..=128).contains(&key.chars().count())
            && key
                .chars()
                .all(|c| c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c));
        if !valid {
            p.add(
                span,
                format!("required_tags: `{text}`: not a tag key (1 to 128 letters, digits, spaces and _ . : / = + - @)"),
            );
        } else if !out.iter().any(|k| k == key) {
            out.push(key.to_string());
        }
    }
    out
}

/// `[correlation]`: windows in minutes (1 to 720: state lives at most 12 hours) and
/// thresholds (2 to 1000); what is not set keeps its default.
fn correlation(p: &mut Problems, value: &Value) -> Option<CorrelationSettings> {
    let Some(table) = value.get_ref().as_table() else {
        p.add(
            value.span(),
            "correlation: expected a table, e.g. [correlation] with denied_attempts = 5".into(),
        );
        return None;
    };
    let mut s = CorrelationSettings::default();
    for (key, v) in table.iter() {
        let name = key.get_ref().as_ref();
        if !CORRELATION_KEYS.contains(&name) {
            p.add(
                key.span(),
                unknown_key("correlation.", name, CORRELATION_KEYS),
            );
            continue;
        }
        let minutes = name.ends_with("_minutes");
        let (low, high) = if minutes { (1, 720) } else { (2, 1000) };
        let number = v
            .get_ref()
            .as_integer()
            .and_then(|i| i.as_str().replace('_', "").parse::<u64>().ok())
            .filter(|n| (low..=high).contains(n));
        let Some(n) = number else {
            let what = if minutes { "minutes" } else { "a count" };
            p.add(
                v.span(),
                format!(
                    "correlation.{name}: expected {what} from {low} to {high}, found {}",
                    shown(v.get_ref())
                ),
            );
            continue;
        };
        let window = std::time::Duration::from_secs(n * 60);
        match name {
            "created_then_deleted_minutes" => s.created_then_deleted = window,
            "many_clusters" => s.many_clusters = n as usize,
            "many_clusters_minutes" => s.many_clusters_window = window,
            "denied_attempts" => s.denied_attempts = n as usize,
            _ => s.denied_window = window,
        }
    }
    Some(s)
}

fn overrides(p: &mut Problems, value: &Value) -> Vec<Override> {
    let Some(table) = value.get_ref().as_table() else {
        p.add(
            value.span(),
            "rules: expected tables named by rule id, e.g. [rules.access-policy-associated] with enabled = false".into(),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (id, settings) in table.iter() {
        let id_text = id.get_ref().as_ref();
        let at = format!("rules.{id_text}: ");
        let Some(rule) = rules::find(id_text) else {
            p.add(
                id.span(),
                format!("{at}unknown rule; valid rules: {}", valid_rules()),
            );
            continue;
        };
        let Some(fields) = settings.get_ref().as_table() else {
            p.add(settings.span(), format!("{at}expected a table: [rules.{id_text}] with enabled = false or severity = \"low\""));
            continue;
        };
        if fields.is_empty() {
            p.add(
                id.span(),
                format!("{at}sets nothing; give enabled = false or severity = \"low\""),
            );
        }
        let mut o = Override {
            rule,
            enabled: true,
            severity: None,
            line: p.line(id.span().start),
        };
        for (key, v) in fields.iter() {
            match key.get_ref().as_ref() {
                "enabled" => match v.get_ref().as_bool() {
                    Some(b) => o.enabled = b,
                    None => p.add(
                        v.span(),
                        format!(
                            "{at}enabled: expected true or false, not `{}`",
                            shown(v.get_ref())
                        ),
                    ),
                },
                "severity" => match v.get_ref().as_str().map(str::parse::<Severity>) {
                    Some(Ok(s)) => o.severity = Some(s),
                    Some(Err(e)) => p.add(v.span(), format!("{at}severity: {e}")),
                    None => p.add(
                        v.span(),
                        format!(
                            "{at}severity: expected a string such as \"low\", not `{}`",
                            shown(v.get_ref())
                        ),
                    ),
                },
                other => p.add(key.span(), unknown_key(&at, other, OVERRIDE_KEYS)),
            }
        }
        if rules::is_locked(rule) {
            let lowered = o.severity.is_some_and(|s| s < rule.highest());
            if !o.enabled || lowered {
                p.add(
                    id.span(),
                    format!(
                        "{at}{} reports the watcher being bypassed or blinded: the tuning file may raise it, never turn it off or lower it below {}",
                        rule.id,
                        rule.highest()
                    ),
                );
            }
        }
        out.push(o);
    }
    out
}

fn exceptions(p: &mut Problems, value: &Value) -> Vec<Exception> {
    let Some(items) = value.get_ref().as_array() else {
        p.add(
            value.span(),
            "exceptions: expected [[exceptions]] tables".into(),
        );
        return Vec::new();
    };
    let mut out: Vec<Exception> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(fields) = item.get_ref().as_table() else {
            p.add(
                item.span(),
                format!("exception #{}: expected a table ([[exceptions]])", i + 1),
            );
            continue;
        };
        let Some(e) = exception(p, i + 1, item.span(), fields) else {
            continue;
        };
        match out.iter().find(|o| o.id.is_some() && o.id == e.id) {
            Some(other) => p.add(
                item.span(),
                format!(
                    "exception #{}: id `{}` is already used by exception #{}",
                    e.position,
                    e.label(),
                    other.position
                ),
            ),
            None => out.push(e),
        }
    }
    out
}

/// One exception, or `None` (with its problems recorded) when anything in it is wrong.
fn exception(
    p: &mut Problems,
    position: usize,
    span: Range<usize>,
    fields: &DeTable,
) -> Option<Exception> {
    let before = p.found.len();
    let at = format!("exception #{position}: ");
    let (mut id, mut rule, mut reason, mut expires) = (None, None, None, None);
    let mut patterns: [Vec<Pattern>; 4] = Default::default();
    let mut any_pattern = false;
    for (key, v) in fields.iter() {
        let k = key.get_ref().as_ref();
        if let Some(i) = Field::ALL.iter().position(|f| f.as_str() == k) {
            any_pattern = true;
            patterns[i] = field_patterns(p, &at, Field::ALL[i], v);
            continue;
        }
        match k {
            "id" => id = text(p, &at, k, v),
            "reason" => reason = text(p, &at, k, v),
            "rule" => {
                rule = text(p, &at, k, v).and_then(|r| {
                    let found = rules::find(&r);
                    match found {
                        None => p.add(
                            v.span(),
                            format!(
                                "{at}rule: unknown rule `{r}`; valid rules: {}",
                                valid_rules()
                            ),
                        ),
                        Some(rule) if rules::is_locked(rule) => p.add(
                            v.span(),
                            format!(
                                "{at}rule: {r} reports the watcher being bypassed or blinded: no exception can suppress it"
                            ),
                        ),
                        Some(_) => {}
                    }
                    found
                })
            }
            "expires" => {
                expires = date(p, &at, v);
                let latest = p.today + chrono::Days::new(MAX_EXCEPTION_DAYS as u64);
                if let Some(d) = expires.filter(|d| *d > latest) {
                    p.add(
                        v.span(),
                        format!(
                            "{at}expires: {d} is more than {MAX_EXCEPTION_DAYS} days after today ({}): an exception lasts at most until {latest}; renew it when it lapses",
                            p.today
                        ),
                    );
                }
            }
            other => p.add(key.span(), unknown_key(&at, other, EXCEPTION_KEYS)),
        }
    }
    let mut missing = |present: bool, what: &str| {
        if !present {
            p.add(span.clone(), format!("{at}{what}"));
        }
    };
    missing(
        fields.get("rule").is_some(),
        "missing `rule` (the id of the rule it excepts)",
    );
    missing(
        fields.get("reason").is_some(),
        "missing `reason` (why the risk is accepted, and who accepted it)",
    );
    missing(
        fields.get("expires").is_some(),
        "missing `expires` (the last day it applies, e.g. expires = 2026-12-31)",
    );
    missing(
        any_pattern,
        "says nothing it covers: give at least one of principal, caller, cluster, account (to turn a rule off everywhere, use [rules.<id>] enabled = false)",
    );
    let who = |f: Field| fields.get(f.as_str()).is_some();
    if any_pattern && !who(Field::Principal) && !who(Field::Caller) {
        p.add(
            span.clone(),
            format!(
                "{at}names no principal or caller: an exception by account or cluster alone is refused (it would hide whoever acts there); add principal = \"arn:...\" (whose access) or caller = \"arn:...\" (who made the change)"
            ),
        );
    }
    if p.found.len() > before {
        return None;
    }
    let [principal, caller, cluster, account] = patterns;
    Some(Exception {
        id,
        position,
        line: p.line(span.start),
        rule: rule?,
        principal,
        caller,
        cluster,
        account,
        reason: reason?,
        expires: expires?,
    })
}

/// A non-empty string.
fn text(p: &mut Problems, at: &str, key: &str, v: &Value) -> Option<String> {
    match v.get_ref().as_str().map(str::trim) {
        Some(s) if !s.is_empty() => Some(s.to_string()),
        Some(_) => {
            p.add(v.span(), format!("{at}{key}: is empty"));
            None
        }
        None => {
            p.add(
                v.span(),
                format!("{at}{key}: expected a string, not `{}`", shown(v.get_ref())),
            );
            None
        }
    }
}

/// One pattern or a list of them.
fn field_patterns(p: &mut Problems, at: &str, field: Field, v: &Value) -> Vec<Pattern> {
    let key = format!("{at}{field}");
    let texts = match v.get_ref() {
        DeValue::String(s) => vec![(v.span(), s.as_ref())],
        DeValue::Array(a) if a.is_empty() => {
            p.add(
                v.span(),
                format!("{key}: the list is empty; leave `{field}` out to match any"),
            );
            Vec::new()
        }
        _ => strings(p, &key, v),
    };
    texts
        .into_iter()
        .filter_map(|(span, text)| {
            let pattern = Pattern::parse(field, text)
                .map_err(|e| p.add(span.clone(), format!("{key}: {e}")))
                .ok()?;
            if matches!(field, Field::Principal | Field::Caller) && names_no_one(text) {
                p.add(
                    span,
                    format!(
                        "{key}: `{}` names no one (its name, after the last / or :, is only wildcards); name the role or user, e.g. role/vendor-*",
                        text.trim()
                    ),
                );
                return None;
            }
            Some(pattern)
        })
        .collect()
}

/// A principal or caller pattern whose name (after the last `/` or `:`) is only wildcards
/// (`*`, `arn:aws:iam::111122223333:role/*`): it covers a whole account or everyone.
fn names_no_one(text: &str) -> bool {
    let text = text.trim();
    text.rsplit(['/', ':'])
        .next()
        .is_none_or(|name| name.chars().all(|c| c == '*'))
}

/// A TOML date (`2026-12-31`) or the same as a string.
fn date(p: &mut Problems, at: &str, v: &Value) -> Option<NaiveDate> {
    let parsed = match v.get_ref() {
        DeValue::Datetime(dt) => match (dt.date, dt.time, dt.offset) {
            (Some(d), None, None) => {
                NaiveDate::from_ymd_opt(d.year.into(), d.month.into(), d.day.into())
            }
            _ => None,
        },
        DeValue::String(s) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok(),
        _ => None,
    };
    if parsed.is_none() {
        p.add(
            v.span(),
            format!(
                "{at}expires: `{}` is not a date; expected YYYY-MM-DD, e.g. expires = 2026-12-31 (the last day it applies, UTC)",
                shown(v.get_ref())
            ),
        );
    }
    parsed
}
