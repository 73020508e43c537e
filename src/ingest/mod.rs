//! Input -> outcomes: every watched event, every skip with its reason, every problem with its
//! position, streamed in flat memory.
//!
//! Accepted, in any mix: an EventBridge event carrying a CloudTrail record in `detail`, a bare
//! CloudTrail record, a CloudTrail log file as written to S3 (`{"Records": [...]}`), the output
//! of `aws cloudtrail lookup-events` (`{"Events": [{"CloudTrailEvent": "..."}]}`), a JSON array
//! of any of these, several of them one after another (NDJSON), any of it gzip-compressed
//! (detected by magic bytes, not by name), a directory (walked recursively), or `-` for stdin.
//! From the EKS audit log (the Kubernetes plane): a CloudWatch Logs subscription payload
//! (`{"awslogs":{"data":"<base64 gzip>"}}`, or its decoded `logEvents` document), raw audit
//! NDJSON (one `audit.k8s.io/v1` Event per line, or without its `apiVersion`), `aws logs
//! filter-log-events` and `get-log-events` output (`{"events":[{"message":"..."}]}`), and
//! CloudWatch Logs exports to S3 (gzip text, each line a timestamp and the event).
//!
//! - [`shapes`] tells the shapes apart and streams `Records` and `Events` element by element;
//! - [`split`] is the fast path for log files: record boundaries found without parsing;
//! - [`prefilter`] decides each record, by byte search when that settles it, else by a parse;
//! - [`auditlog`] reads audit logs line by line, with its own byte pre-filter;
//! - [`cwlogs`] decodes CloudWatch Logs shapes and hands each message on.
//!
//! One [`Options`] value says how (read mode, rule configuration); one [`Outcome`] type carries
//! each result, with typed errors ([`InputError`]) from end to end.

mod auditlog;
mod cwlogs;
mod prefilter;
mod s3;
mod shapes;
mod split;

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flate2::read::MultiGzDecoder;

use crate::config::RuleConfig;
use crate::kubernetes::Origin;
use crate::model::AccessEvent;
use crate::operation::Skip;

pub use auditlog::{AuditEventError, decide_audit_line};
pub use prefilter::{RecordError, Verdict, decide_record};
pub use s3::{ObjectRef, decode_key, notification};
pub use shapes::CLOUDTRAIL_DETAIL_TYPE;

/// How much to check of records that cannot matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadMode {
    /// CloudTrail log files take the splitter: record boundaries are found structurally, and
    /// only records that may be watched are parsed.
    #[default]
    Fast,
    /// Every record is parsed as JSON, so a syntax error anywhere is reported.
    Strict,
}

/// How to read: which records are watched (the rule configuration decides which role
/// assumptions count) and how strictly.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    pub config: &'a RuleConfig,
    pub mode: ReadMode,
    /// The cluster of Kubernetes audit events when the input does not name it (a
    /// CloudWatch Logs group `/aws/eks/<cluster>/cluster` does): `replay --cluster`.
    pub cluster: Option<&'a str>,
    /// The region of Kubernetes audit events (the Lambda's own: subscriptions do not cross
    /// regions).
    pub region: Option<&'a str>,
}

impl<'a> Options<'a> {
    pub fn new(config: &'a RuleConfig) -> Self {
        Options {
            config,
            mode: ReadMode::Fast,
            cluster: None,
            region: None,
        }
    }

    pub fn mode(self, mode: ReadMode) -> Self {
        Options { mode, ..self }
    }

    pub fn cluster(self, cluster: Option<&'a str>) -> Self {
        Options { cluster, ..self }
    }

    pub fn region(self, region: Option<&'a str>) -> Self {
        Options { region, ..self }
    }

    /// What the options say about where audit events come from.
    fn origin(&self) -> Origin<'a> {
        Origin {
            cluster: self.cluster,
            account: None,
            region: self.region,
        }
    }
}

/// A position in an array of records: `Records[3]` in a log file, `Events[0]` in
/// lookup-events output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub array: &'static str,
    pub index: usize,
}

/// Where a record came from: the input's name and its position in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Shared: every record of an input names it without copying it.
    pub input: Arc<str>,
    /// Index of the top-level JSON value in the input (NDJSON line), from 0.
    pub value: usize,
    /// Index in a top-level JSON array, from 0.
    pub element: Option<usize>,
    pub record: Option<Slot>,
    /// Line of a line-oriented input (audit NDJSON, a CloudWatch Logs export), from 0.
    pub line: Option<usize>,
}

impl Location {
    fn new(input: &Arc<str>, value: usize) -> Self {
        Location {
            input: input.clone(),
            value,
            element: None,
            record: None,
            line: None,
        }
    }

    fn at_line(input: &Arc<str>, line: usize) -> Self {
        Location {
            line: Some(line),
            ..Location::new(input, 0)
        }
    }

    fn in_array(&self, array: &'static str, index: usize) -> Self {
        Location {
            record: Some(Slot { array, index }),
            ..self.clone()
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.input)?;
        if self.value > 0 {
            write!(f, ": value {}", self.value + 1)?;
        }
        if let Some(e) = self.element {
            write!(f, ": element {}", e + 1)?;
        }
        if let Some(Slot { array, index }) = self.record {
            write!(f, ": {array}[{index}]")?;
        }
        if let Some(line) = self.line {
            write!(f, ": line {}", line + 1)?;
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
    /// A value or record of the wrong shape; the rest of the input goes on.
    #[error("{location}: {message}")]
    Shape { location: Location, message: String },
    /// A record that parses as JSON but not as a CloudTrail record.
    #[error("{location}: {source}")]
    Record {
        location: Location,
        source: RecordError,
    },
    /// A line that should be a Kubernetes audit event but cannot be read as one.
    #[error("{location}: {source}")]
    AuditEvent {
        location: Location,
        source: AuditEventError,
    },
}

/// What one value or record of an input amounts to.
#[derive(Debug)]
pub enum Outcome {
    Watched {
        location: Location,
        event: Box<AccessEvent>,
    },
    Skipped {
        location: Location,
        reason: Skip,
    },
    /// A CloudTrail log file an S3 notification announces: the caller reads it (GetObject)
    /// and scans it like any input.
    Object {
        location: Location,
        object: ObjectRef,
    },
    /// A value or record that could not be used; the rest of the input goes on.
    Invalid(InputError),
}

/// Counts for one input, for summaries and benchmarks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub records: u64,
    pub watched: u64,
    pub skipped: u64,
    pub invalid: u64,
}

impl Stats {
    pub fn add(&mut self, other: Stats) {
        self.records += other.records;
        self.watched += other.watched;
        self.skipped += other.skipped;
        self.invalid += other.invalid;
    }
}

/// Hands every outcome to the caller's callback and counts them; what a decoder finds inside
/// (a log message, an SQS body) goes back to the dispatcher ([`shapes`]) through it.
struct Outcomes<'a> {
    options: Options<'a>,
    sink: &'a mut dyn FnMut(Outcome),
    stats: Stats,
    /// The SQS message being read (its `messageId`), for the objects it announces.
    message: Option<String>,
}

impl Outcomes<'_> {
    /// A record's JSON text: decided and delivered. An SQS message record is opened and its
    /// body read as a value of its own (redrive).
    fn record(&mut self, location: Location, json: &str) {
        if let Some((body, id)) = shapes::sqs_body(json) {
            let outer = std::mem::replace(&mut self.message, id);
            shapes::nested_value(location, &body, self);
            self.message = outer;
            return;
        }
        if let Some(notice) = s3::notification_record(json) {
            return match notice {
                Ok(s3::Notice::Created(bucket, key, size, region)) => {
                    self.object(location, (bucket, key, size, region))
                }
                Ok(s3::Notice::Other(name)) => self.skipped(location, Skip::NotObjectCreated(name)),
                Err(message) => self.invalid(InputError::Shape { location, message }),
            };
        }
        if !json.trim_start().starts_with('{') {
            return self.invalid(InputError::Shape {
                location,
                message: format!(
                    "a CloudTrail record must be a JSON object, found `{}`",
                    preview(json)
                ),
            });
        }
        self.stats.records += 1;
        match decide_record(json, self.options.config, self.options.mode) {
            Ok(Ok(event)) => {
                self.stats.watched += 1;
                (self.sink)(Outcome::Watched { location, event });
            }
            Ok(Err(reason)) => self.skipped(location, reason),
            Err(source) => {
                // A watched call that does not parse is still alerted, from what the bytes
                // say; the record is also reported as a problem, so nothing hides it.
                if let Some(event) = prefilter::unparsed(json, &source, self.options.config) {
                    self.stats.watched += 1;
                    (self.sink)(Outcome::Watched {
                        location: location.clone(),
                        event: Box::new(event),
                    });
                }
                self.invalid(InputError::Record { location, source })
            }
        }
    }

    /// A Kubernetes audit event's JSON text (one line): decided and delivered.
    fn audit(&mut self, location: Location, line: &[u8], origin: &Origin) {
        self.stats.records += 1;
        match decide_audit_line(line, origin, self.options.mode) {
            Ok(Ok(event)) => {
                self.stats.watched += 1;
                (self.sink)(Outcome::Watched { location, event });
            }
            Ok(Err(reason)) => self.skipped(location, reason),
            Err(source) => self.invalid(InputError::AuditEvent { location, source }),
        }
    }

    /// A log event's message: the dispatcher decides what it holds (`other_logs`: the log
    /// may hold other control-plane logs, skipped by name).
    fn message(&mut self, location: Location, message: &[u8], origin: &Origin, other_logs: bool) {
        shapes::message(location, message, origin, other_logs, self)
    }

    /// An object an S3 notification announces: handed on when its key is a log file, else
    /// skipped with the reason.
    fn object(
        &mut self,
        location: Location,
        object: (String, String, Option<u64>, Option<String>),
    ) {
        match s3::decide(object, self.message.clone()) {
            Ok(object) => (self.sink)(Outcome::Object { location, object }),
            Err(reason) => self.skipped(location, reason),
        }
    }

    fn skipped(&mut self, location: Location, reason: Skip) {
        self.stats.skipped += 1;
        (self.sink)(Outcome::Skipped { location, reason });
    }

    fn invalid(&mut self, error: InputError) {
        self.stats.invalid += 1;
        (self.sink)(Outcome::Invalid(error));
    }
}

fn preview(json: &str) -> String {
    crate::sanitize::clean(json, 40)
}

/// Read one input and hand every outcome to `sink`. `Err` when the input could not be read to
/// its end (I/O, invalid JSON, corrupt gzip, broken log-file structure): what was delivered
/// before stands.
pub fn scan(
    input: &str,
    reader: impl BufRead,
    options: &Options,
    sink: &mut dyn FnMut(Outcome),
) -> Result<Stats, InputError> {
    let mut emitter = Outcomes {
        options: *options,
        sink,
        stats: Stats::default(),
        message: None,
    };
    shapes::read(input, reader, &mut emitter)?;
    Ok(emitter.stats)
}

/// [`scan`] over an in-memory input (a Lambda payload, a test fixture), gzip or not.
pub fn scan_slice(
    input: &str,
    bytes: &[u8],
    options: &Options,
    sink: &mut dyn FnMut(Outcome),
) -> Result<Stats, InputError> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let reader = BufReader::new(MultiGzDecoder::new(bytes));
        return scan(input, reader, options, sink);
    }
    scan(input, bytes, options, sink)
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
        Box::new(File::open(path).map_err(|source| InputError::Io {
            input: input.clone(),
            source,
        })?)
    };
    decompress(BufReader::with_capacity(256 * 1024, reader), &input)
}

/// Wrap a reader so that gzip data is decompressed transparently.
pub fn decompress<R: BufRead + Send + 'static>(
    mut reader: R,
    input: &str,
) -> Result<Box<dyn BufRead + Send>, InputError> {
    let head = reader.fill_buf().map_err(|e| io_error(input, e))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::with_capacity(
            256 * 1024,
            MultiGzDecoder::new(reader),
        )))
    } else {
        Ok(Box::new(reader))
    }
}

/// A read error: corrupt compressed data is its own kind, the rest is I/O.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(bytes: &[u8]) -> (Vec<String>, Result<Stats, InputError>) {
        let config = RuleConfig::default();
        let mut out = Vec::new();
        let res = scan_slice("test", bytes, &Options::new(&config), &mut |o| {
            out.push(match o {
                Outcome::Watched { location, event } => {
                    format!("watched {location} {}", event.event_name())
                }
                Outcome::Skipped { location, reason } => format!("skipped {location} {reason}"),
                Outcome::Object { location, object } => format!(
                    "object {location} {object} {}",
                    object.message_id.as_deref().unwrap_or("-")
                ),
                Outcome::Invalid(e) => format!("invalid {e}"),
            })
        });
        (out, res)
    }

    const EKS: &str = r#"{"eventSource":"eks.amazonaws.com","eventName":"DeleteCluster"}"#;

    #[test]
    fn records_file_is_streamed_per_record() {
        let input = format!(
            r#"{{"Records":[{EKS},{{"eventSource":"s3.amazonaws.com"}},{{"eventSource":"sts.amazonaws.com","eventName":"GetCallerIdentity"}}]}}"#
        );
        let (items, res) = collect(input.as_bytes());
        assert_eq!(res.unwrap().records, 3);
        assert_eq!(
            items,
            vec![
                "watched test: Records[0] DeleteCluster",
                "skipped test: Records[1] event source `s3.amazonaws.com` is not watched",
                "skipped test: Records[2] `GetCallerIdentity` does not change cluster access"
            ]
        );
    }

    #[test]
    fn ndjson_mixes_shapes() {
        let input = format!(
            "{EKS}\n{{\"detail-type\":\"AWS API Call via CloudTrail\",\"source\":\"aws.eks\",\"detail\":{EKS}}}\n"
        );
        let (items, res) = collect(input.as_bytes());
        res.unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[1], "watched test: value 2 DeleteCluster");
    }

    #[test]
    fn array_elements_and_later_values_have_distinct_positions() {
        let input = format!("[{EKS},{EKS}]\n{EKS}");
        let (items, _) = collect(input.as_bytes());
        assert_eq!(
            items,
            vec![
                "watched test: element 1 DeleteCluster",
                "watched test: element 2 DeleteCluster",
                "watched test: value 2 DeleteCluster"
            ]
        );
    }

    #[test]
    fn lookup_events_output_is_read_record_by_record() {
        let input = serde_json::json!({
            "Events": [
                {"EventId": "a", "EventName": "DeleteCluster", "CloudTrailEvent": EKS},
                {"EventId": "b", "EventName": "x"}
            ],
            "NextToken": "t"
        })
        .to_string();
        let (items, res) = collect(input.as_bytes());
        res.unwrap();
        assert_eq!(items[0], "watched test: Events[0] DeleteCluster");
        assert!(
            items[1].starts_with("invalid test: Events[1]: no CloudTrailEvent"),
            "{items:?}"
        );
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
        enc.write_all(format!(r#"{{"Records":[{EKS}]}}"#).as_bytes())
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
