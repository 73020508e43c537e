//! One record's JSON -> a watched [`AccessEvent`] or the reason it is skipped, cheaply when
//! possible: the byte pre-filter keeps the cost of the 99.9% of CloudTrail that is not EKS to a
//! byte search, and both the fast and the strict path end in the same decision,
//! [`crate::operation::watch`].

use std::sync::LazyLock;

use memchr::memmem;

use super::ReadMode;
use crate::cloudtrail::{RawRecord, normalise, unparsed_event};
use crate::config::RuleConfig;
use crate::model::AccessEvent;
use crate::operation::{Detail, Needs, Operation, Skip, Source, watch};
use crate::sanitize::clean;

/// What one record amounts to: a watched event, or why it is skipped.
pub type Verdict = Result<Box<AccessEvent>, Skip>;

/// A record that is valid JSON but not a usable CloudTrail record (a field of the wrong type).
#[derive(Debug, thiserror::Error)]
#[error("not a usable CloudTrail record: {0}")]
pub struct RecordError(#[from] serde_json::Error);

/// What a byte search says about a record before any parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Candidate {
    /// No watched event source ([`Source`]: `eks.amazonaws.com`, `sts.amazonaws.com`, ...,
    /// `cloudformation.amazonaws.com`) occurs and nothing is escaped: it cannot be watched.
    No,
    /// A watched source name occurs and the record holds no backslash: its keys and values can
    /// be read by byte search.
    Plain,
    /// The record holds a backslash: a JSON escape could spell anything, so only a full parse
    /// decides.
    Escaped,
}

/// The service prefixes of the watched event sources (`eks` of `eks.amazonaws.com`), from
/// [`Source`] itself so that a new source cannot be forgotten here.
static SERVICES: LazyLock<Vec<&'static [u8]>> = LazyLock::new(|| {
    Source::ALL
        .iter()
        .filter(|s| s.eventbridge_source().is_some())
        .filter_map(|s| s.as_str().strip_suffix(DOMAIN))
        .map(str::as_bytes)
        .collect()
});

const DOMAIN: &str = ".amazonaws.com";

/// Classify a record by byte search. One pass finds every `.amazonaws.com` (they all share
/// it; the service name before it decides), one `memchr` finds any backslash.
pub fn candidate(bytes: &[u8]) -> Candidate {
    static SUFFIX: LazyLock<memmem::Finder<'static>> =
        LazyLock::new(|| memmem::Finder::new(DOMAIN.as_bytes()));
    if memchr::memchr(b'\\', bytes).is_some() {
        return Candidate::Escaped;
    }
    let services = &*SERVICES;
    let named = SUFFIX.find_iter(bytes).any(|at| {
        services
            .iter()
            .any(|s| at > s.len() && bytes[..at].ends_with(s) && bytes[at - s.len() - 1] == b'"')
    });
    if named {
        Candidate::Plain
    } else {
        Candidate::No
    }
}

/// The string value after a key that ends at byte `end` (`: "value"`), up to the next quote.
fn string_after_key(bytes: &[u8], end: usize) -> Option<&[u8]> {
    let rest = bytes
        .get(end..)?
        .trim_ascii_start()
        .strip_prefix(b":")?
        .trim_ascii_start()
        .strip_prefix(b"\"")?;
    Some(&rest[..memchr::memchr(b'"', rest)?])
}

/// Why a record that is not a candidate is skipped: its `eventSource` as written, found by a
/// byte search (only for the reason's text: the decision never depends on it).
pub fn skip_reason(bytes: &[u8]) -> Skip {
    static KEY: LazyLock<memmem::Finder<'static>> =
        LazyLock::new(|| memmem::Finder::new(b"\"eventSource\""));
    match KEY
        .find(bytes)
        .and_then(|at| string_after_key(bytes, at + 13))
    {
        Some(s) => Skip::OtherService(clean(&String::from_utf8_lossy(s), 64)),
        None => Skip::NoEventSource,
    }
}

/// A quoted key (`"eventName"`) and its precompiled searcher.
struct Key {
    finder: memmem::Finder<'static>,
}

impl Key {
    fn new(name: &str) -> Key {
        Key {
            finder: memmem::Finder::new(format!("\"{name}\"").as_bytes()).into_owned(),
        }
    }
}

static EVENT_SOURCE: LazyLock<Key> = LazyLock::new(|| Key::new("eventSource"));
static EVENT_NAME: LazyLock<Key> = LazyLock::new(|| Key::new("eventName"));
static ROLE_ARN: LazyLock<Key> = LazyLock::new(|| Key::new("roleArn"));
static RESOURCE_ARN: LazyLock<Key> = LazyLock::new(|| Key::new("resourceArn"));

/// The value of `"key":"value"` when the key occurs exactly once in the record and its value is
/// a string without escapes. `None` means "look properly".
fn sole_string<'a>(json: &'a str, key: &Key) -> Option<&'a str> {
    let bytes = json.as_bytes();
    let mut hits = key.finder.find_iter(bytes);
    let at = hits.next()?;
    if hits.next().is_some() {
        return None;
    }
    // The value is delimited by ASCII quotes, so it is valid UTF-8 on its own.
    std::str::from_utf8(string_after_key(bytes, at + key.finder.needle().len())?).ok()
}

/// The skip decision by byte search, when the bytes settle it. A candidate whose
/// `eventSource`, `eventName` (and whatever detail its operation needs: `roleArn`,
/// `resourceArn`, the presence of `podIdentityAssociations`) each occur exactly once with a
/// plain value, in a record without backslashes, is skipped here when [`watch`] says so: the
/// STS role assumptions in every trail cost a byte search, not a parse. `None`: only a full
/// parse decides.
fn skip_by_bytes(json: &str, config: &RuleConfig) -> Option<Skip> {
    match candidate(json.as_bytes()) {
        Candidate::No => return Some(skip_reason(json.as_bytes())),
        Candidate::Escaped => return None,
        Candidate::Plain => {}
    }
    let source = sole_string(json, &EVENT_SOURCE)?;
    let name = sole_string(json, &EVENT_NAME)?;
    let op = match Operation::from_cloudtrail(source, name) {
        Err(skip) => return Some(skip),
        Ok(op) => op,
    };
    let detail = match op.operation().facts().needs {
        // The resource is named in fields only the parse reads reliably.
        Needs::Nothing | Needs::WatcherResource => return None,
        Needs::BreakGlassRole => Detail {
            role_arn: Some(sole_string(json, &ROLE_ARN)?),
            ..Detail::default()
        },
        Needs::AccessResource => Detail {
            resource_arn: Some(sole_string(json, &RESOURCE_ARN)?),
            ..Detail::default()
        },
        // Present anywhere: the parse decides whether it hands out a role.
        Needs::PodIdentityAssociations
            if json.contains("\"podIdentityAssociations\"")
                || json.contains("\"serviceAccountRoleArn\"") =>
        {
            return None;
        }
        Needs::PodIdentityAssociations => Detail::default(),
    };
    watch(source, name, &detail, config).err()
}

/// Decide one record under `config`. [`ReadMode::Fast`] first tries the byte pre-filter;
/// [`ReadMode::Strict`] always parses (the reference the fast path is tested against).
pub fn decide_record(
    json: &str,
    config: &RuleConfig,
    mode: ReadMode,
) -> Result<Verdict, RecordError> {
    if mode == ReadMode::Fast
        && let Some(skip) = skip_by_bytes(json, config)
    {
        return Ok(Err(skip));
    }
    let raw: RawRecord = serde_json::from_str(json)?;
    let source = raw.event_source.as_deref().unwrap_or_default();
    let name = raw.event_name.as_deref().unwrap_or_default();
    Ok(watch(source, name, &raw.detail(), config).map(|op| Box::new(normalise(&raw, op))))
}

/// A record the full parse could not read, when a byte search still finds a watched call in
/// it: the event as far as the bytes can be read, so the call is still graded and alerted
/// (`unparseable-watched-event`) instead of being only an error. Values are taken from the
/// first occurrence of each key, as written.
pub fn unparsed(json: &str, error: &RecordError, config: &RuleConfig) -> Option<AccessEvent> {
    let bytes = json.as_bytes();
    let read = |key: &str| -> Option<String> {
        let needle = format!("\"{key}\"");
        let at = memmem::find(bytes, needle.as_bytes())?;
        let value = string_after_key(bytes, at + needle.len())?;
        Some(String::from_utf8_lossy(value).into_owned()).filter(|v| !v.is_empty())
    };
    let (source, name) = (read("eventSource")?, read("eventName")?);
    let (role, resource) = (read("roleArn"), read("resourceArn"));
    let detail = Detail {
        role_arn: role.as_deref(),
        resource_arn: resource.as_deref(),
        pod_identity_roles: json.contains("\"podIdentityAssociations\"")
            || json.contains("\"serviceAccountRoleArn\""),
        ..Detail::default()
    };
    let op = watch(&source, &name, &detail, config).ok()?;
    Some(unparsed_event(op, &read, &error.to_string()))
}
