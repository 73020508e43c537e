//! Telling input shapes apart and streaming their records: a `Records` log file goes to the
//! splitter (fast mode) or is streamed element by element by serde (strict mode); lookup-events
//! output is streamed element by element; audit NDJSON and CloudWatch Logs exports (told by
//! their first bytes) are read line by line; CloudWatch Logs payloads and outputs are decoded
//! and streamed by [`super::cwlogs`]; any other value is decided whole.
//!
//! This is the one dispatcher: the input grammar is recursive (a log event's message, an SQS
//! body or a failure record's `requestPayload` can hold any shape), and every decoder
//! ([`super::split`], [`super::cwlogs`], [`super::auditlog`], [`super::prefilter`]) is a
//! leaf that hands what it finds inside back here through the [`Outcomes`], never to another
//! decoder.

use std::fmt;
use std::io::{self, BufRead};
use std::sync::Arc;
use std::sync::LazyLock;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use memchr::memmem;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::cwlogs::{AwsLogsSeed, Header, LogEventsSeed};
use super::{
    AuditEventError, InputError, Location, Outcomes, ReadMode, auditlog, io_error, prefilter,
    preview, split,
};
use crate::kubernetes::Origin;
use crate::operation::Skip;

/// The `detail-type` EventBridge gives CloudTrail management events.
pub const CLOUDTRAIL_DETAIL_TYPE: &str = "AWS API Call via CloudTrail";

/// The `detail-type` of Parameter Store's own change events (`source` `aws.ssm`): another way
/// to learn that the tuning parameter was written (`tuning-changed`), without the caller.
pub const PARAMETER_STORE_CHANGE: &str = "Parameter Store Change";

/// A Parameter Store change event as the CloudTrail record of the write it reports
/// (`Create`/`Update`: PutParameter, `Delete`: DeleteParameter), so that one path judges
/// both; the caller is unknown (the event does not name it: the CloudTrail record does).
/// `None` for the operations that change no value (`LabelParameterVersion`, policies).
fn parameter_store_record(ev: &EventBridgeEvent<Box<RawValue>>) -> Option<String> {
    #[derive(Deserialize)]
    struct Detail {
        #[serde(default)]
        operation: String,
        #[serde(default)]
        name: String,
    }
    let detail: Detail = serde_json::from_str(ev.detail.get()).ok()?;
    let name = match detail.operation.as_str() {
        "Create" | "Update" => "PutParameter",
        "Delete" => "DeleteParameter",
        _ => return None,
    };
    Some(
        serde_json::json!({
            "eventVersion": "1.08",
            "eventSource": "ssm.amazonaws.com",
            "eventName": name,
            "eventID": ev.id,
            "eventTime": ev.time.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            "awsRegion": ev.region,
            "recipientAccountId": ev.account,
            "requestParameters": {"name": detail.name},
            "responseElements": null,
        })
        .to_string(),
    )
}

/// Read one input to its end. `Err` only when it cannot be read any further.
pub(super) fn read(
    input: &str,
    mut reader: impl BufRead,
    emitter: &mut Outcomes,
) -> Result<(), InputError> {
    // Skip leading whitespace to tell an empty input from a broken one.
    loop {
        let buf = reader.fill_buf().map_err(|e| io_error(input, e))?;
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
    // Line-oriented audit logs are told by their first line, in both read modes.
    let head = reader.fill_buf().map_err(|e| io_error(input, e))?;
    if auditlog::looks_like_audit_lines(head) || auditlog::looks_like_export(head) {
        let export = auditlog::looks_like_export(head);
        return auditlog::read_lines(input, reader, export, emitter);
    }
    let name: Arc<str> = Arc::from(input);
    if emitter.options.mode == ReadMode::Fast {
        let head = reader.fill_buf().map_err(|e| io_error(input, e))?;
        if let Some(start) = split::looks_like_records_file(head) {
            reader.consume(start);
            return read_records_fast(&name, reader, start as u64, emitter);
        }
    }
    let mut de = serde_json::Deserializer::from_reader(reader);
    let mut value = 0;
    loop {
        let seed = TopSeed {
            location: Location::new(&name, value),
            emitter: &mut *emitter,
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
    name: &Arc<str>,
    reader: impl BufRead,
    start: u64,
    emitter: &mut Outcomes,
) -> Result<(), InputError> {
    let mut splitter = split::Splitter::new(reader, start);
    let file = Location::new(name, 0);
    let mut index = 0;
    loop {
        let location = file.in_array("Records", index);
        match splitter.next_record() {
            Ok(Some(split::Step::Record(bytes))) => {
                index += 1;
                if bytes.first() == Some(&b'{')
                    && prefilter::candidate(bytes) == prefilter::Candidate::No
                {
                    let reason = prefilter::skip_reason(bytes);
                    if !is_sqs(&reason) && !is_s3(&reason) {
                        // Another service's record: no UTF-8 check, no parse.
                        emitter.stats.records += 1;
                        emitter.skipped(location, reason);
                        continue;
                    }
                }
                match std::str::from_utf8(bytes) {
                    Ok(json) => emitter.record(location, json),
                    Err(e) => emitter.invalid(InputError::Shape {
                        location,
                        message: format!(
                            "not valid UTF-8 (at byte {} of the record)",
                            e.valid_up_to()
                        ),
                    }),
                }
            }
            Ok(Some(split::Step::End) | None) => return Ok(()),
            Err(split::SplitError::Io(e)) => return Err(io_error(name, e)),
            Err(split::SplitError::Structure(e)) => {
                return Err(InputError::Structure {
                    input: name.to_string(),
                    offset: e.offset,
                    message: e.message,
                });
            }
        }
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

/// A top-level value: `Records` and `Events` are streamed; anything else is classified whole.
struct TopSeed<'e, 'a> {
    location: Location,
    emitter: &'e mut Outcomes<'a>,
}

impl<'de> DeserializeSeed<'de> for TopSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object (CloudTrail record, EventBridge event, {\"Records\": [...]} or lookup-events output) or an array of them")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut fields: Vec<(String, Box<RawValue>)> = Vec::new();
        let mut streamed = false;
        while let Some(key) = map.next_key::<String>()? {
            // CloudWatch Logs: a subscription payload, its decoded document, or the output of
            // filter-log-events / get-log-events.
            if !streamed && matches!(key.as_str(), "awslogs" | "logEvents" | "events") {
                streamed = true;
                let location = &self.location;
                let emitter = &mut *self.emitter;
                match key.as_str() {
                    "awslogs" => map.next_value_seed(AwsLogsSeed { location, emitter })?,
                    "logEvents" => map.next_value_seed(LogEventsSeed {
                        location,
                        array: "logEvents",
                        header: Header::from_fields(&fields),
                        emitter,
                    })?,
                    _ => map.next_value_seed(LogEventsSeed {
                        location,
                        array: "events",
                        header: Header::default(),
                        emitter,
                    })?,
                }
                continue;
            }
            let array = match key.as_str() {
                "Records" => Some(("Records", false)),
                "Events" => Some(("Events", true)),
                _ => None,
            };
            match array {
                Some((array, lookup)) if !streamed => {
                    streamed = true;
                    map.next_value_seed(ArraySeed {
                        location: &self.location,
                        array,
                        lookup,
                        emitter: &mut *self.emitter,
                    })?;
                }
                _ if streamed => {
                    map.next_value::<IgnoredAny>()?;
                }
                _ => fields.push((key, map.next_value()?)),
            }
        }
        if !streamed {
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
            let origin = self.emitter.options.origin();
            dispatch_value(self.location, &text, &origin, self.emitter);
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while let Some(v) = seq.next_element::<Box<RawValue>>()? {
            let location = Location {
                element: Some(index),
                ..self.location.clone()
            };
            let origin = self.emitter.options.origin();
            dispatch_value(location, v.get(), &origin, self.emitter);
            index += 1;
        }
        Ok(())
    }
}

/// `Records: [...]` (records) or `Events: [...]` (lookup-events entries): one at a time.
struct ArraySeed<'l, 'e, 'a> {
    location: &'l Location,
    array: &'static str,
    lookup: bool,
    emitter: &'e mut Outcomes<'a>,
}

impl<'de> DeserializeSeed<'de> for ArraySeed<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ArraySeed<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an array under \"{}\"", self.array)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while let Some(element) = seq.next_element::<Box<RawValue>>()? {
            let location = self.location.in_array(self.array, index);
            if self.lookup {
                lookup_event(location, element.get(), self.emitter);
            } else {
                self.emitter.record(location, element.get());
            }
            index += 1;
        }
        Ok(())
    }
}

/// One entry of `aws cloudtrail lookup-events` output: the record is a JSON string in
/// `CloudTrailEvent`.
fn lookup_event(location: Location, json: &str, emitter: &mut Outcomes) {
    #[derive(Deserialize)]
    struct Entry {
        #[serde(rename = "CloudTrailEvent", default)]
        record: Option<String>,
    }
    match serde_json::from_str::<Entry>(json) {
        Ok(Entry {
            record: Some(record),
        }) => emitter.record(location, &record),
        Ok(Entry { record: None }) => emitter.invalid(InputError::Shape {
            location,
            message: "no CloudTrailEvent (expected `aws cloudtrail lookup-events` output: {\"Events\": [{\"CloudTrailEvent\": \"...\"}]})".into(),
        }),
        Err(e) => emitter.invalid(InputError::Shape {
            location,
            message: format!("not a lookup-events entry: {e}"),
        }),
    }
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
    #[serde(rename = "Events", borrow, default)]
    events: Option<&'a RawValue>,
    #[serde(rename = "digestStartTime", default)]
    digest: Option<IgnoredAny>,
    #[serde(rename = "requestContext", default)]
    request_context: Option<IgnoredAny>,
    #[serde(rename = "requestPayload", borrow, default)]
    request_payload: Option<&'a RawValue>,
    #[serde(borrow, default)]
    kind: Option<&'a RawValue>,
    #[serde(rename = "apiVersion", borrow, default)]
    api_version: Option<&'a RawValue>,
    /// S3's `s3:TestEvent` (`{"Service": "Amazon S3", "Event": "s3:TestEvent", ...}`).
    #[serde(rename = "Event", default)]
    s3_event: Option<String>,
    /// An SNS notification (`"Type": "Notification"`) carries its event in `Message`.
    #[serde(rename = "Type", default)]
    sns_type: Option<String>,
    #[serde(rename = "Message", default)]
    sns_message: Option<String>,
}

/// What a value of `"kind": "Event"` is, by its `apiVersion`.
enum EventKind {
    /// `audit.k8s.io/...`, or none (older clusters, re-exported logs).
    Audit,
    /// Another API's `Event` (`v1`, `events.k8s.io/v1`: cluster events), as written.
    Other(String),
}

impl Probe<'_> {
    /// A value of `"kind": "Event"`, however its keys are ordered or spaced: an audit event
    /// unless its `apiVersion` names another API. `None`: not an `Event`.
    fn event_kind(&self) -> Option<EventKind> {
        if self.kind.is_none_or(|k| k.get() != "\"Event\"") {
            return None;
        }
        let api_version = self.api_version.filter(|v| v.get() != "null");
        Some(match api_version {
            None => EventKind::Audit,
            Some(v) => match serde_json::from_str::<String>(v.get()) {
                Ok(s) if crate::kubernetes::is_audit_api_version(&s) => EventKind::Audit,
                Ok(s) => EventKind::Other(s),
                // Another type than a string: as written.
                Err(_) => EventKind::Other(v.get().to_string()),
            },
        })
    }
}

/// An SQS message (a Lambda event source record, or a queue dump): `body` is the event.
#[derive(Deserialize)]
struct SqsMessage {
    #[serde(rename = "eventSource")]
    event_source: String,
    body: String,
    #[serde(rename = "messageId", default)]
    message_id: Option<String>,
}

/// The skip reason of a record that is an S3 event notification's.
pub(super) fn is_s3(reason: &Skip) -> bool {
    matches!(reason, Skip::OtherService(s) if s == "aws:s3")
}

/// The skip reason of a record that is an SQS message.
pub(super) fn is_sqs(reason: &Skip) -> bool {
    matches!(reason, Skip::OtherService(s) if s == "aws:sqs")
}

/// The event inside an SQS message record (`"eventSource": "aws:sqs"`), read like any
/// top-level value: redriven EventBridge events and the function's own failure records.
/// `None`: the record is not an SQS message. With the body, the message's id.
pub(super) fn sqs_body(json: &str) -> Option<(String, Option<String>)> {
    static SQS: LazyLock<memmem::Finder<'static>> =
        LazyLock::new(|| memmem::Finder::new(b"\"aws:sqs\""));
    SQS.find(json.as_bytes())?;
    serde_json::from_str::<SqsMessage>(json)
        .ok()
        .filter(|m| m.event_source == "aws:sqs")
        .map(|m| (m.body, m.message_id))
}

/// A value carried inside another (an SQS message's body, a failure record's
/// `requestPayload`), read like a top-level value: a CloudWatch Logs subscription payload in a
/// failure record is opened as it would have been on the first delivery.
pub(super) fn nested_value(location: Location, text: &str, emitter: &mut Outcomes) {
    let mut de = serde_json::Deserializer::from_str(text);
    let seed = TopSeed {
        location: location.clone(),
        emitter: &mut *emitter,
    };
    if let Err(e) = seed.deserialize(&mut de).and_then(|()| de.end()) {
        emitter.invalid(InputError::Shape {
            location,
            message: format!("the event inside is not JSON: {e}"),
        });
    }
}

/// Decide what one complete value is and deliver its record(s); a Kubernetes audit event is
/// read with `origin`.
pub(super) fn dispatch_value(
    location: Location,
    text: &str,
    origin: &Origin,
    emitter: &mut Outcomes,
) {
    let shape_error = |message: String| InputError::Shape {
        location: location.clone(),
        message,
    };
    if !text.trim_start().starts_with('{') {
        return emitter.invalid(shape_error(format!(
            "expected a JSON object (CloudTrail record, EventBridge event or {{\"Records\": [...]}}), found `{}`",
            preview(text)
        )));
    }
    let probe: Probe = match serde_json::from_str(text) {
        Ok(p) => p,
        Err(e) => return emitter.invalid(shape_error(format!("unexpected shape: {e}"))),
    };
    for (array, list, lookup) in [
        ("Records", probe.records, false),
        ("Events", probe.events, true),
    ] {
        let Some(list) = list else { continue };
        match serde_json::from_str::<Vec<&RawValue>>(list.get()) {
            Ok(items) => {
                for (i, item) in items.into_iter().enumerate() {
                    let location = location.in_array(array, i);
                    if lookup {
                        lookup_event(location, item.get(), emitter);
                    } else {
                        emitter.record(location, item.get());
                    }
                }
            }
            Err(e) => emitter.invalid(shape_error(format!("\"{array}\" is not an array: {e}"))),
        }
        return;
    }
    if probe.s3_event.as_deref() == Some("s3:TestEvent") {
        return emitter.skipped(location, Skip::S3TestEvent);
    }
    if let (Some("Notification"), Some(message)) =
        (probe.sns_type.as_deref(), probe.sns_message.as_deref())
    {
        // S3 -> SNS -> SQS without raw delivery: the S3 notification is the SNS message.
        return nested_value(location, message, emitter);
    }
    if let (Some(payload), Some(_)) = (probe.request_payload, probe.request_context) {
        // A Lambda on-failure destination record (ours or Lambda's): the original event.
        return nested_value(location, payload.get(), emitter);
    }
    if let Some(detail) = probe.detail
        && (probe.detail_type.is_some() || probe.event_source.is_none())
    {
        // An EventBridge event: check the envelope with aws_lambda_events' own type.
        match serde_json::from_str::<EventBridgeEvent<Box<RawValue>>>(text) {
            Ok(ev) if ev.detail_type == CLOUDTRAIL_DETAIL_TYPE => {
                emitter.record(location, detail.get())
            }
            Ok(ev) if ev.detail_type == PARAMETER_STORE_CHANGE && ev.source == "aws.ssm" => {
                match parameter_store_record(&ev) {
                    Some(record) => emitter.record(location, &record),
                    None => emitter.skipped(
                        location,
                        Skip::NotCloudTrail(format!(
                            "{PARAMETER_STORE_CHANGE} (label or policy change)"
                        )),
                    ),
                }
            }
            Ok(ev)
                if ev.detail_type == super::s3::OBJECT_CREATED_DETAIL_TYPE
                    && ev.source == super::s3::S3_SOURCE =>
            {
                match super::s3::eventbridge_object(detail.get()) {
                    Ok((bucket, key, size)) => {
                        emitter.object(location, (bucket, key, size, ev.region.clone()))
                    }
                    Err(message) => emitter.invalid(shape_error(message)),
                }
            }
            Ok(ev) => emitter.skipped(
                location,
                Skip::NotCloudTrail(crate::sanitize::clean(&ev.detail_type, 100)),
            ),
            Err(e) => emitter.invalid(shape_error(format!(
                "looks like an EventBridge event but is not one: {e}"
            ))),
        }
        return;
    }
    match probe.event_kind() {
        Some(EventKind::Audit) => return emitter.audit(location, text.as_bytes(), origin),
        Some(EventKind::Other(api_version)) => {
            return emitter.invalid(InputError::AuditEvent {
                location,
                source: AuditEventError::not_audit(&api_version),
            });
        }
        None => {}
    }
    if probe.event_source.is_some() || probe.event_name.is_some() || probe.event_version.is_some() {
        return emitter.record(location, text);
    }
    if probe.digest.is_some() {
        return emitter.skipped(location, Skip::DigestFile);
    }
    let keys: Vec<String> =
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text)
            .map(|m| m.keys().take(8).cloned().collect())
            .unwrap_or_default();
    emitter.invalid(shape_error(format!(
        "not a CloudTrail record (no eventSource/eventName), an EventBridge event (no detail), a log file (no Records), lookup-events output (no Events), a Kubernetes audit event (no kind Event) or a CloudWatch Logs payload (no awslogs, logEvents or events); keys: [{}]",
        keys.join(", ")
    )));
}

/// One log message: an audit event, another JSON value (a CloudTrail record delivered to
/// CloudWatch Logs, an audit event written differently), or, where a log holds other
/// control-plane logs too (`other_logs`), a line of those.
pub(super) fn message(
    location: Location,
    message: &[u8],
    origin: &Origin,
    other_logs: bool,
    emitter: &mut Outcomes,
) {
    let message = message.trim_ascii();
    if auditlog::starts_like_audit_event(message) {
        return emitter.audit(location, message, origin);
    }
    if message.first() == Some(&b'{') {
        return match std::str::from_utf8(message) {
            Ok(text) => dispatch_value(location, text, origin, emitter),
            Err(e) => emitter.invalid(InputError::AuditEvent {
                location,
                source: AuditEventError::Utf8(e.valid_up_to()),
            }),
        };
    }
    let text = preview(&String::from_utf8_lossy(message));
    if other_logs {
        emitter.stats.records += 1;
        emitter.skipped(location, Skip::NotAuditLog(text));
    } else {
        emitter.invalid(InputError::Shape {
            location,
            message: format!("expected a Kubernetes audit event (a JSON object), found `{text}`"),
        });
    }
}
