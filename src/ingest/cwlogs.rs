//! CloudWatch Logs shapes: the subscription payload a Lambda receives
//! (`{"awslogs":{"data":"<base64 gzip>"}}`), its decoded document (`{"messageType":
//! "DATA_MESSAGE","owner":...,"logGroup":...,"logEvents":[...]}`), and the output of
//! `aws logs filter-log-events` / `get-log-events` (`{"events":[{"message":"..."}]}`).
//!
//! Each log event's `message` is handed back to the dispatcher ([`Outcomes::message`]): an audit event, or any
//! other record we read (a CloudTrail record from a trail's log group). The log group names the
//! cluster (`/aws/eks/<cluster>/cluster`) and the owner its account; events of other streams
//! of that group (authenticator, scheduler, ...) are skipped with their stream's name.
//!
//! Streaming: `awslogs.data` is decoded (base64, then gzip) as a reader and its `logEvents`
//! are read one at a time; `events` likewise.

use std::fmt;
use std::io::BufReader;

use base64::engine::general_purpose::STANDARD;
use flate2::read::MultiGzDecoder;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::{InputError, Location, Outcomes};
use crate::kubernetes::{Origin, cluster_of_log_group};
use crate::operation::Skip;

/// The fields of a decoded subscription document that say where its events come from.
#[derive(Debug, Default)]
pub(super) struct Header {
    pub message_type: Option<String>,
    pub owner: Option<String>,
    pub log_group: Option<String>,
}

impl Header {
    /// Read from the fields seen before `logEvents` (AWS writes them first).
    pub(super) fn from_fields(fields: &[(String, Box<RawValue>)]) -> Header {
        let text = |key: &str| {
            fields
                .iter()
                .find(|(k, _)| k == key)
                .and_then(|(_, v)| serde_json::from_str::<String>(v.get()).ok())
        };
        Header {
            message_type: text("messageType"),
            owner: text("owner"),
            log_group: text("logGroup"),
        }
    }

    fn origin<'h>(&'h self, base: Origin<'h>) -> Origin<'h> {
        Origin {
            cluster: self
                .log_group
                .as_deref()
                .and_then(cluster_of_log_group)
                .or(base.cluster),
            account: self.owner.as_deref().or(base.account),
            region: base.region,
        }
    }
}

/// `logEvents` of a decoded subscription document (`header` read before it), or `events` of
/// filter-log-events / get-log-events output (no header): each message handed on.
pub(super) struct LogEventsSeed<'l, 'e, 'a> {
    pub location: &'l Location,
    pub array: &'static str,
    pub header: Header,
    pub emitter: &'e mut Outcomes<'a>,
}

impl<'de> DeserializeSeed<'de> for LogEventsSeed<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.header.message_type.as_deref() == Some("CONTROL_MESSAGE") {
            IgnoredAny::deserialize(d)?;
            self.emitter.stats.records += 1;
            self.emitter
                .skipped(self.location.clone(), Skip::LogsControlMessage);
            return Ok(());
        }
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for LogEventsSeed<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an array of log events under \"{}\"", self.array)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct LogEvent {
            #[serde(default)]
            message: Option<String>,
            #[serde(default)]
            log_stream_name: Option<String>,
        }
        let base = self.emitter.options.origin();
        let origin = self.header.origin(base);
        let mut index = 0;
        while let Some(element) = seq.next_element::<Box<RawValue>>()? {
            let location = self.location.in_array(self.array, index);
            index += 1;
            match serde_json::from_str::<LogEvent>(element.get()) {
                Ok(LogEvent {
                    log_stream_name: Some(stream),
                    ..
                }) if !stream.starts_with("kube-apiserver-audit") => {
                    self.emitter.stats.records += 1;
                    self.emitter.skipped(
                        location,
                        Skip::NotAuditLog(crate::sanitize::clean(&stream, 128)),
                    );
                }
                Ok(LogEvent {
                    message: Some(message),
                    ..
                }) => self
                    .emitter
                    .message(location, message.as_bytes(), &origin, true),
                Ok(LogEvent { message: None, .. }) => self.emitter.invalid(InputError::Shape {
                    location,
                    message: "a log event without a \"message\"".into(),
                }),
                Err(e) => self.emitter.invalid(InputError::Shape {
                    location,
                    message: format!("not a CloudWatch Logs event: {e}"),
                }),
            }
        }
        Ok(())
    }
}

/// `{"data": "<base64 gzip>"}`, the value of `awslogs`: decoded and read to its end. A payload
/// that cannot be decoded is reported (with what failed) and the rest of the input goes on.
pub(super) struct AwsLogsSeed<'l, 'e, 'a> {
    pub location: &'l Location,
    pub emitter: &'e mut Outcomes<'a>,
}

impl<'de> DeserializeSeed<'de> for AwsLogsSeed<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        #[derive(Deserialize)]
        struct AwsLogs {
            data: Option<String>,
        }
        let location = self.location.clone();
        let shape = |message: String| InputError::Shape {
            location: location.clone(),
            message,
        };
        match AwsLogs::deserialize(d) {
            Ok(AwsLogs { data: Some(data) }) => {
                if let Err(message) = decode(self.location, &data, self.emitter) {
                    self.emitter.invalid(shape(message));
                }
            }
            Ok(AwsLogs { data: None }) => self.emitter.invalid(shape(
                "awslogs without \"data\" (expected a CloudWatch Logs subscription payload: {\"awslogs\": {\"data\": \"<base64 gzip>\"}})".into(),
            )),
            Err(e) => self.emitter.invalid(shape(format!("awslogs is not {{\"data\": \"...\"}}: {e}"))),
        }
        Ok(())
    }
}

/// Decode `awslogs.data` and read the document inside. `Err`: why it cannot be read.
fn decode(location: &Location, data: &str, emitter: &mut Outcomes) -> Result<(), String> {
    let bytes = base64::read::DecoderReader::new(data.as_bytes(), &STANDARD);
    let reader = BufReader::new(MultiGzDecoder::new(bytes));
    let mut de = serde_json::Deserializer::from_reader(reader);
    let seed = DocumentSeed { location, emitter };
    let what = |e: serde_json::Error| {
        if e.is_io() {
            format!("awslogs.data is not base64-encoded gzip: {e}")
        } else {
            format!("awslogs.data does not hold a CloudWatch Logs document: {e}")
        }
    };
    seed.deserialize(&mut de).map_err(what)?;
    de.end().map_err(what)
}

/// The decoded document: its header fields, then `logEvents` streamed.
struct DocumentSeed<'l, 'e, 'a> {
    location: &'l Location,
    emitter: &'e mut Outcomes<'a>,
}

impl<'de> DeserializeSeed<'de> for DocumentSeed<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DocumentSeed<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a CloudWatch Logs document {\"messageType\": ..., \"logEvents\": [...]}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut fields: Vec<(String, Box<RawValue>)> = Vec::new();
        let mut streamed = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "logEvents" && !streamed {
                streamed = true;
                map.next_value_seed(LogEventsSeed {
                    location: self.location,
                    array: "logEvents",
                    header: Header::from_fields(&fields),
                    emitter: &mut *self.emitter,
                })?;
            } else if streamed {
                map.next_value::<IgnoredAny>()?;
            } else {
                fields.push((key, map.next_value()?));
            }
        }
        if !streamed {
            return Err(de::Error::custom("no \"logEvents\""));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_names_cluster_and_account() {
        let fields: Vec<(String, Box<RawValue>)> = vec![
            (
                "owner".into(),
                RawValue::from_string("\"111122223333\"".into()).unwrap(),
            ),
            (
                "logGroup".into(),
                RawValue::from_string("\"/aws/eks/prod/cluster\"".into()).unwrap(),
            ),
        ];
        let h = Header::from_fields(&fields);
        let o = h.origin(Origin {
            cluster: Some("fallback"),
            ..Origin::default()
        });
        assert_eq!(o.cluster, Some("prod"));
        assert_eq!(o.account, Some("111122223333"));
    }
}
