//! Input shapes -> raw CloudTrail records, streamed.
//!
//! Accepted, in any mix: an EventBridge event carrying a CloudTrail record in `detail`, a bare
//! CloudTrail record, a CloudTrail log file as written to S3 (`{"Records": [...]}`), a JSON array
//! of any of these, several of them one after another (NDJSON), any of it gzip-compressed
//! (detected by magic bytes, not by name), a directory (walked recursively), or `-` for stdin.
//!
//! Memory stays flat: a `Records` array is visited element by element and only one record is
//! held at a time. Records from other services are recognised by a byte search for the event
//! sources we watch and never parsed (see [`crate::scan::is_candidate`]).

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use flate2::read::MultiGzDecoder;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::event::Skip;
use crate::scan;

/// The `detail-type` EventBridge gives CloudTrail management events.
pub const CLOUDTRAIL_DETAIL_TYPE: &str = "AWS API Call via CloudTrail";

/// Where a record came from: the input's name and its position in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Shared: every record of an input names it without copying it.
    pub input: Arc<str>,
    /// Index of the top-level JSON value in the input (NDJSON line, array element), from 0.
    pub value: usize,
    /// Index in the `Records` array, for CloudTrail log files.
    pub record: Option<usize>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.input)?;
        if self.value > 0 {
            write!(f, ": value {}", self.value + 1)?;
        }
        if let Some(r) = self.record {
            write!(f, ": Records[{r}]")?;
        }
        Ok(())
    }
}

/// Something that went wrong reading an input. Every variant names the input.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{input}: cannot read: {source}")]
    Io { input: String, source: io::Error },
    #[error(
        "{input}: the file is empty (expected a CloudTrail record, an EventBridge event or a {{\"Records\": [...]}} log file)"
    )]
    Empty { input: String },
    #[error("{input}: not valid JSON at line {line}, column {column}: {message}")]
    Json {
        input: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{input}: broken CloudTrail log file at byte {offset}: {message}")]
    Structure {
        input: String,
        offset: u64,
        message: String,
    },
    #[error("{input}: compressed data is corrupt or truncated: {message}")]
    Gzip { input: String, message: String },
    #[error("{location}: {message}")]
    Shape { location: Location, message: String },
}

/// One thing found in an input.
#[derive(Debug)]
pub enum Item<'a> {
    /// A CloudTrail record's JSON text.
    Record { location: Location, json: &'a str },
    /// Something that is deliberately not evaluated, with the reason.
    Skipped { location: Location, reason: Skip },
    /// A value that could not be understood; the rest of the input goes on.
    Invalid(InputError),
}

/// The inputs named on a command line, expanded: `-` is stdin, directories are walked
/// recursively in name order. In directories only files ending in `.json`, `.json.gz`,
/// `.jsonl`, `.ndjson` or `.gz` are read (so golden files and READMEs beside samples are not);
/// a file named explicitly is always read.
pub fn expand_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, InputError> {
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            out.push(p.clone());
            continue;
        }
        let meta = std::fs::metadata(p).map_err(|source| InputError::Io {
            input: p.display().to_string(),
            source,
        })?;
        if meta.is_dir() {
            walk(p, &mut out)?;
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), InputError> {
    let io_err = |source| InputError::Io {
        input: dir.display().to_string(),
        source,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io_err)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io_err)?;
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            walk(&path, out)?;
        } else if [".json", ".json.gz", ".jsonl", ".ndjson", ".gz"]
            .iter()
            .any(|ext| name.ends_with(ext))
        {
            out.push(path);
        }
    }
    Ok(())
}

/// Open an input (`-` is stdin) as a buffered reader, decompressing gzip when the data starts
/// with the gzip magic bytes.
pub fn open(path: &Path) -> Result<Box<dyn BufRead + Send>, InputError> {
    let input = path.display().to_string();
    let reader: Box<dyn Read + Send> = if path.as_os_str() == "-" {
        Box::new(io::stdin())
    } else {
        Box::new(File::open(path).map_err(|source| InputError::Io { input, source })?)
    };
    decompress(
        BufReader::with_capacity(256 * 1024, reader),
        &path.display().to_string(),
    )
}

/// Wrap a reader so that gzip data is decompressed transparently.
pub fn decompress<R: BufRead + Send + 'static>(
    mut reader: R,
    input: &str,
) -> Result<Box<dyn BufRead + Send>, InputError> {
    let head = reader.fill_buf().map_err(|source| InputError::Io {
        input: input.to_string(),
        source,
    })?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::with_capacity(
            256 * 1024,
            MultiGzDecoder::new(reader),
        )))
    } else {
        Ok(Box::new(reader))
    }
}

/// How much to check of records that cannot matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadMode {
    /// CloudTrail log files take the splitter ([`crate::scan`]): record boundaries are found
    /// structurally, and only records that may be watched are parsed.
    #[default]
    Fast,
    /// Every record is parsed as JSON, so a syntax error anywhere is reported.
    Strict,
}

/// Stream every record in `reader` to `sink`. Returns `Err` only when the input cannot be read
/// any further (I/O, invalid JSON, corrupt gzip); items already delivered stand.
pub fn read(
    input: &str,
    reader: impl BufRead,
    sink: &mut dyn FnMut(Item),
) -> Result<(), InputError> {
    read_with(input, reader, ReadMode::Fast, sink)
}

/// [`read`] with an explicit [`ReadMode`].
pub fn read_with(
    input: &str,
    mut reader: impl BufRead,
    mode: ReadMode,
    sink: &mut dyn FnMut(Item),
) -> Result<(), InputError> {
    // Skip leading whitespace to tell an empty input from a broken one.
    loop {
        let buf = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) => return Err(io_error(input, e)),
        };
        if buf.is_empty() {
            return Err(InputError::Empty {
                input: input.to_string(),
            });
        }
        let ws = buf.iter().take_while(|b| b.is_ascii_whitespace()).count();
        let done = ws < buf.len();
        reader.consume(ws);
        if done {
            break;
        }
    }
    if mode == ReadMode::Fast {
        let head = reader.fill_buf().map_err(|e| io_error(input, e))?;
        if let Some(start) = scan::looks_like_records_file(head) {
            reader.consume(start);
            return read_records_fast(input, reader, start as u64, sink);
        }
    }
    let mut de = serde_json::Deserializer::from_reader(reader);
    let mut value = 0;
    loop {
        let seed = TopSeed {
            input,
            value,
            sink: &mut *sink,
        };
        seed.deserialize(&mut de)
            .map_err(|e| json_error(input, e))?;
        value += 1;
        if de.end().is_ok() {
            return Ok(());
        }
    }
}

fn read_records_fast(
    input: &str,
    reader: impl BufRead,
    start: u64,
    sink: &mut dyn FnMut(Item),
) -> Result<(), InputError> {
    let mut splitter = scan::Splitter::new(reader, start);
    let mut index = 0;
    let name: Arc<str> = Arc::from(input);
    loop {
        let location = Location {
            input: name.clone(),
            value: 0,
            record: Some(index),
        };
        match splitter.next_record() {
            Ok(Some(scan::Step::Record(bytes))) => {
                index += 1;
                if bytes.first() == Some(&b'{') && !scan::is_candidate(bytes) {
                    // Another service's record: no UTF-8 check, no parse.
                    sink(Item::Skipped {
                        location,
                        reason: scan::skip_reason(bytes),
                    });
                    continue;
                }
                match std::str::from_utf8(bytes) {
                    Ok(json) => emit_record(location, json, sink),
                    Err(e) => sink(Item::Invalid(InputError::Shape {
                        location,
                        message: format!(
                            "not valid UTF-8 (at byte {} of the record)",
                            e.valid_up_to()
                        ),
                    })),
                }
            }
            Ok(Some(scan::Step::End) | None) => return Ok(()),
            Err(scan::SplitError::Io(e)) => return Err(io_error(input, e)),
            Err(scan::SplitError::Structure(e)) => {
                return Err(InputError::Structure {
                    input: input.to_string(),
                    offset: e.offset,
                    message: e.message,
                });
            }
        }
    }
}

/// Stream every record of an in-memory input (a Lambda payload, a test fixture).
pub fn read_slice(input: &str, bytes: &[u8], sink: &mut dyn FnMut(Item)) -> Result<(), InputError> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let owned = bytes.to_vec();
        let reader = BufReader::new(MultiGzDecoder::new(io::Cursor::new(owned)));
        return read(input, reader, sink);
    }
    read(input, bytes, sink)
}

fn io_error(input: &str, e: io::Error) -> InputError {
    match e.kind() {
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => {
            InputError::Gzip {
                input: input.to_string(),
                message: e.to_string(),
            }
        }
        _ => InputError::Io {
            input: input.to_string(),
            source: e,
        },
    }
}

fn json_error(input: &str, e: serde_json::Error) -> InputError {
    if e.is_io() {
        // serde_json hands back the reader's own error: classify it like any other read.
        return io_error(input, io::Error::from(e));
    }
    let message = e.to_string();
    // serde_json appends " at line L column C"; we report them separately.
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_string();
    let message = if e.is_eof() {
        format!("{message} (the input ends early: truncated file?)")
    } else {
        message
    };
    InputError::Json {
        input: input.to_string(),
        line: e.line(),
        column: e.column(),
        message,
    }
}

/// The top-level value: a `Records` file is streamed; anything else is classified as a whole.
struct TopSeed<'s> {
    input: &'s str,
    value: usize,
    sink: &'s mut dyn FnMut(Item),
}

impl<'de> DeserializeSeed<'de> for TopSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object (CloudTrail record, EventBridge event or {\"Records\": [...]}) or an array of them")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut fields: Vec<(String, Box<RawValue>)> = Vec::new();
        let mut saw_records = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "Records" && !saw_records {
                saw_records = true;
                map.next_value_seed(RecordsSeed {
                    input: self.input,
                    value: self.value,
                    sink: &mut *self.sink,
                })?;
            } else if saw_records {
                map.next_value::<IgnoredAny>()?;
            } else {
                fields.push((key, map.next_value()?));
            }
        }
        if !saw_records {
            let mut text = String::from("{");
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    text.push(',');
                }
                text.push_str(&serde_json::to_string(k).unwrap_or_default());
                text.push(':');
                text.push_str(v.get());
            }
            text.push('}');
            let location = Location {
                input: Arc::from(self.input),
                value: self.value,
                record: None,
            };
            classify_value(location, &text, self.sink);
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while let Some(v) = seq.next_element::<Box<RawValue>>()? {
            let location = Location {
                input: Arc::from(self.input),
                value: self.value + index,
                record: None,
            };
            classify_value(location, v.get(), self.sink);
            index += 1;
        }
        Ok(())
    }
}

/// `Records: [...]`: one record at a time.
struct RecordsSeed<'s> {
    input: &'s str,
    value: usize,
    sink: &'s mut dyn FnMut(Item),
}

impl<'de> DeserializeSeed<'de> for RecordsSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of CloudTrail records under \"Records\"")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while let Some(record) = seq.next_element::<Box<RawValue>>()? {
            let location = Location {
                input: Arc::from(self.input),
                value: self.value,
                record: Some(index),
            };
            emit_record(location, record.get(), self.sink);
            index += 1;
        }
        Ok(())
    }
}

fn emit_record(location: Location, json: &str, sink: &mut dyn FnMut(Item)) {
    if json.trim_start().starts_with('{') {
        sink(Item::Record { location, json });
    } else {
        sink(Item::Invalid(InputError::Shape {
            location,
            message: format!(
                "a CloudTrail record must be a JSON object, found `{}`",
                preview(json)
            ),
        }));
    }
}

fn preview(json: &str) -> String {
    crate::text::clean(json, 40)
}

/// Just enough of a value to tell its shape, without parsing the record inside.
#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(rename = "detail-type", default)]
    detail_type: Option<IgnoredAny>,
    #[serde(borrow, default)]
    detail: Option<&'a RawValue>,
    #[serde(rename = "eventSource", default)]
    event_source: Option<IgnoredAny>,
    #[serde(rename = "eventName", default)]
    event_name: Option<IgnoredAny>,
    #[serde(rename = "eventVersion", default)]
    event_version: Option<IgnoredAny>,
    #[serde(rename = "Records", borrow, default)]
    records: Option<&'a RawValue>,
    #[serde(rename = "digestStartTime", default)]
    digest: Option<IgnoredAny>,
}

/// Decide what one complete value is and deliver its record(s).
fn classify_value(location: Location, text: &str, sink: &mut dyn FnMut(Item)) {
    let trimmed = text.trim_start();
    if !trimmed.starts_with('{') {
        sink(Item::Invalid(InputError::Shape {
            location,
            message: format!(
                "expected a JSON object (CloudTrail record, EventBridge event or {{\"Records\": [...]}}), found `{}`",
                preview(text)
            ),
        }));
        return;
    }
    let probe: Probe = match serde_json::from_str(text) {
        Ok(p) => p,
        Err(e) => {
            sink(Item::Invalid(InputError::Shape {
                location,
                message: format!("unexpected shape: {e}"),
            }));
            return;
        }
    };
    if let Some(records) = probe.records {
        match serde_json::from_str::<Vec<&RawValue>>(records.get()) {
            Ok(list) => {
                for (i, r) in list.into_iter().enumerate() {
                    let loc = Location {
                        record: Some(i),
                        ..location.clone()
                    };
                    emit_record(loc, r.get(), sink);
                }
            }
            Err(e) => sink(Item::Invalid(InputError::Shape {
                location,
                message: format!("\"Records\" is not an array: {e}"),
            })),
        }
        return;
    }
    if let Some(detail) = probe.detail
        && (probe.detail_type.is_some() || probe.event_source.is_none())
    {
        // An EventBridge event: check the envelope with aws_lambda_events' own type.
        match serde_json::from_str::<EventBridgeEvent<Box<RawValue>>>(text) {
            Ok(ev) if ev.detail_type == CLOUDTRAIL_DETAIL_TYPE => {
                emit_record(location, detail.get(), sink)
            }
            Ok(ev) => sink(Item::Skipped {
                location,
                reason: Skip::NotCloudTrail(crate::text::clean(&ev.detail_type, 100)),
            }),
            Err(e) => sink(Item::Invalid(InputError::Shape {
                location,
                message: format!("looks like an EventBridge event but is not one: {e}"),
            })),
        }
        return;
    }

    if probe.event_source.is_some() || probe.event_name.is_some() || probe.event_version.is_some() {
        emit_record(location, text, sink);
        return;
    }
    if probe.digest.is_some() {
        sink(Item::Skipped {
            location,
            reason: Skip::DigestFile,
        });
        return;
    }
    let keys: Vec<String> =
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text)
            .map(|m| m.keys().take(8).cloned().collect())
            .unwrap_or_default();
    sink(Item::Invalid(InputError::Shape {
        location,
        message: format!(
            "not a CloudTrail record (no eventSource/eventName), an EventBridge event (no detail) or a log file (no Records); keys: [{}]",
            keys.join(", ")
        ),
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(bytes: &[u8]) -> (Vec<String>, Result<(), InputError>) {
        let mut out = Vec::new();
        let res = read_slice("test", bytes, &mut |item| {
            out.push(match item {
                Item::Record { location, json } => format!("record {location} {}", json.len()),
                Item::Skipped { location, reason } => format!("skipped {location} {reason}"),
                Item::Invalid(e) => format!("invalid {e}"),
            })
        });
        (out, res)
    }

    #[test]
    fn records_file_is_streamed_per_record() {
        let (items, res) = collect(
            br#"{"Records":[{"eventSource":"eks.amazonaws.com"},{"eventSource":"s3.amazonaws.com"},{"eventSource":"sts.amazonaws.com"}]}"#,
        );
        res.unwrap();
        assert_eq!(
            items,
            vec![
                "record test: Records[0] 35",
                "skipped test: Records[1] event source `s3.amazonaws.com` is not watched",
                "record test: Records[2] 35"
            ]
        );
    }

    #[test]
    fn ndjson_mixes_shapes() {
        let input = b"{\"eventName\":\"A\"}\n{\"detail-type\":\"AWS API Call via CloudTrail\",\"source\":\"aws.eks\",\"detail\":{\"eventName\":\"B\"}}\n";
        let (items, res) = collect(input);
        res.unwrap();
        assert_eq!(items.len(), 2);
        assert!(items[1].starts_with("record test: value 2"));
    }

    #[test]
    fn other_eventbridge_events_are_skipped_with_reason() {
        let (items, _) = collect(
            br#"{"detail-type":"EKS Cluster State Change","source":"aws.eks","detail":{}}"#,
        );
        assert!(
            items[0].contains("is not a CloudTrail API call"),
            "{items:?}"
        );
    }

    #[test]
    fn empty_and_truncated_inputs_are_errors_naming_the_input() {
        let (_, res) = collect(b"  \n");
        assert!(matches!(res, Err(InputError::Empty { .. })));
        // A log file takes the splitter, every other shape the JSON parser: both say "truncated".
        let (_, res) = collect(br#"{"Records":[{"eventName":"A"},"#);
        let err = res.unwrap_err().to_string();
        assert!(
            err.starts_with("test: broken CloudTrail log file at byte 30")
                && err.contains("truncated"),
            "{err}"
        );
        let (_, res) = collect(br#"[{"eventName":"A"},"#);
        let err = res.unwrap_err().to_string();
        assert!(
            err.starts_with("test: not valid JSON") && err.contains("truncated"),
            "{err}"
        );
    }

    #[test]
    fn unknown_objects_are_invalid_and_list_their_keys() {
        let (items, res) = collect(br#"{"hello":1}"#);
        res.unwrap();
        assert!(items[0].contains("keys: [hello]"), "{items:?}");
    }

    #[test]
    fn gzip_is_detected_by_content() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(br#"{"Records":[{"eventName":"A"}]}"#)
            .unwrap();
        let gz = enc.finish().unwrap();
        let (items, res) = collect(&gz);
        res.unwrap();
        assert_eq!(items.len(), 1);
        let (_, res) = collect(&gz[..gz.len() / 2]);
        assert!(
            matches!(
                res,
                Err(InputError::Gzip { .. }) | Err(InputError::Json { .. })
            ),
            "{res:?}"
        );
    }
}
