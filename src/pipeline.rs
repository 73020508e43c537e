//! One record's JSON -> a watched [`AccessEvent`] or the reason it is skipped.
//!
//! Both binaries call this: `replay` over files, the Lambda over its payload. The cheap
//! pre-filter ([`scan::is_candidate`]) keeps the cost of the 99.9% of CloudTrail that is not EKS to a
//! byte search.

use memchr::memmem;

use crate::config::RuleConfig;
use crate::event::{self, AccessEvent, EKS_SOURCE, RawRecord, STS_SOURCE, Skip};
use crate::ingest::{self, InputError, Item, Location};
use crate::rules;
use crate::scan;

/// What one record amounts to.
#[derive(Debug)]
pub enum Outcome {
    Watched(Box<AccessEvent>),
    Skipped(Skip),
}

/// A record that is valid JSON but not a usable CloudTrail record (a field of the wrong type).
#[derive(Debug, thiserror::Error)]
#[error("not a usable CloudTrail record: {0}")]
pub struct RecordError(#[from] serde_json::Error);

/// Parse, normalise and decide whether the record is watched under `config`.
///
/// Two cheap looks come first. A record that contains neither watched event source is skipped
/// unparsed ([`scan::is_candidate`]). A candidate whose `eventSource`, `eventName` (and, for STS,
/// `roleArn`) can be read by byte search, each key occurring exactly once with a plain value and
/// no backslash anywhere in the record, is skipped unparsed when the call is not watched or
/// the role is not break-glass: the STS role assumptions in every trail cost a byte search, not
/// a parse. Anything unusual takes the full parse, which decides.
pub fn evaluate(json: &str, config: &RuleConfig) -> Result<Outcome, RecordError> {
    let kind = scan::candidate(json.as_bytes());
    if kind == scan::Candidate::No {
        // Only for the reason's text: the watching decision never depends on this lookup.
        return Ok(Outcome::Skipped(scan::skip_reason(json.as_bytes())));
    }
    if kind == scan::Candidate::Plain
        && let (Some(source), Some(name)) = (
            sole_string(json, "eventSource"),
            sole_string(json, "eventName"),
        )
    {
        let skip = match source {
            EKS_SOURCE if !event::WATCHED_EKS_EVENTS.contains(&name) => {
                Some(Skip::NotWatched(name.to_string()))
            }
            STS_SOURCE if !event::WATCHED_STS_EVENTS.contains(&name) => {
                Some(Skip::NotWatched(name.to_string()))
            }
            STS_SOURCE => sole_string(json, "roleArn")
                .filter(|role| !config.is_break_glass(Some(role)))
                .map(|_| Skip::NotBreakGlass),
            EKS_SOURCE => None,
            other => Some(Skip::OtherService(crate::text::clean(other, 64))),
        };
        if let Some(skip) = skip {
            return Ok(Outcome::Skipped(skip));
        }
    }
    evaluate_full(json, config)
}

/// The value of `"key":"value"` when the key occurs exactly once in the record and its value is
/// a string without escapes. `None` means "look properly".
fn sole_string<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let bytes = json.as_bytes();
    let needle = format!("\"{key}\"");
    let mut hits = memmem::find_iter(bytes, needle.as_bytes());
    let at = hits.next()?;
    if hits.next().is_some() {
        return None;
    }
    // The value is delimited by ASCII quotes, so it is valid UTF-8 on its own.
    std::str::from_utf8(scan::string_after_key(bytes, at + needle.len())?).ok()
}

/// [`evaluate`] without the pre-filter: the reference the fast path is tested against.
pub fn evaluate_full(json: &str, config: &RuleConfig) -> Result<Outcome, RecordError> {
    let raw: RawRecord = serde_json::from_str(json)?;
    Ok(match event::normalise(&raw) {
        Ok(ev) if !rules::is_watched_assumption(&ev, config) => {
            Outcome::Skipped(Skip::NotBreakGlass)
        }
        Ok(ev) => Outcome::Watched(Box::new(ev)),
        Err(skip) => Outcome::Skipped(skip),
    })
}

/// What scanning an input yields, one per value or record.
#[derive(Debug)]
pub enum Scanned {
    Watched {
        location: Location,
        event: Box<AccessEvent>,
    },
    Skipped {
        location: Location,
        reason: Skip,
    },
    /// A value or record that could not be used; the message names the input and position.
    Invalid(String),
}

/// Counts for one scan, for summaries and benchmarks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanStats {
    pub records: u64,
    pub watched: u64,
    pub skipped: u64,
    pub invalid: u64,
}

impl ScanStats {
    pub fn add(&mut self, other: ScanStats) {
        self.records += other.records;
        self.watched += other.watched;
        self.skipped += other.skipped;
        self.invalid += other.invalid;
    }
}

/// Read one input and hand every watched event, skip and problem to `on`. `Err` when the input
/// could not be read to its end (what was delivered before stands).
pub fn scan(
    input: &str,
    reader: impl std::io::BufRead,
    config: &RuleConfig,
    on: &mut dyn FnMut(Scanned),
) -> Result<ScanStats, InputError> {
    scan_with(input, reader, config, ingest::ReadMode::Fast, on)
}

/// [`scan`] with an explicit [`ingest::ReadMode`].
pub fn scan_with(
    input: &str,
    reader: impl std::io::BufRead,
    config: &RuleConfig,
    mode: ingest::ReadMode,
    on: &mut dyn FnMut(Scanned),
) -> Result<ScanStats, InputError> {
    let mut stats = ScanStats::default();
    ingest::read_with(input, reader, mode, &mut |item| match item {
        Item::Record { location, json } => {
            stats.records += 1;
            match evaluate(json, config) {
                Ok(Outcome::Watched(event)) => {
                    stats.watched += 1;
                    on(Scanned::Watched { location, event });
                }
                Ok(Outcome::Skipped(reason)) => {
                    stats.skipped += 1;
                    on(Scanned::Skipped { location, reason });
                }
                Err(e) => {
                    stats.invalid += 1;
                    on(Scanned::Invalid(format!("{location}: {e}")));
                }
            }
        }
        Item::Skipped { location, reason } => {
            // Records skipped by the splitter count as records read.
            stats.records += location.record.is_some() as u64;
            stats.skipped += 1;
            on(Scanned::Skipped { location, reason });
        }
        Item::Invalid(e) => {
            stats.invalid += 1;
            on(Scanned::Invalid(e.to_string()));
        }
    })?;
    Ok(stats)
}
