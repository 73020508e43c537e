//! S3 object notifications: the organisation trail's bucket telling us a log file was written.
//!
//! A leaf decoder: it reads the notification shapes into object references and hands them back
//! through the [`Outcomes`](super::Outcomes); the dispatcher ([`super::shapes`]) decides where
//! they sit (an SQS body, an SNS notification's `Message`, an EventBridge event). Reading the
//! object (GetObject) is I/O and belongs to the Lambda and the command line.
//!
//! - S3 event notifications (`{"Records": [{"eventSource": "aws:s3", "eventName":
//!   "ObjectCreated:Put", "s3": {"bucket": {"name"}, "object": {"key", "size"}}}]}`): the key is
//!   URL-encoded (a space as `+`) and is decoded here;
//! - `s3:TestEvent` (sent once when notifications are configured): acknowledged as a skip;
//! - EventBridge `Object Created` events (`source: aws.s3`, `detail.bucket.name`,
//!   `detail.object.key`, not URL-encoded).

use std::sync::LazyLock;

use memchr::memmem;
use serde::Deserialize;

use crate::operation::Skip;
use crate::trail::layout::{self, KeyKind};

/// The `detail-type` of EventBridge's S3 object-created events.
pub const OBJECT_CREATED_DETAIL_TYPE: &str = "Object Created";
/// Their `source`.
pub const S3_SOURCE: &str = "aws.s3";

/// An object to read: where it is, its size if the notification says, and the SQS message
/// that brought it (its id is what a partial batch failure names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub bucket: String,
    pub key: String,
    pub size: Option<u64>,
    pub message_id: Option<String>,
    /// The bucket's region, as the notification says (`awsRegion`, EventBridge's `region`):
    /// an organisation's log-archive bucket is often in another region than the function.
    pub region: Option<String>,
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

#[derive(Deserialize)]
struct Record {
    #[serde(rename = "eventSource")]
    event_source: String,
    #[serde(rename = "awsRegion", default)]
    aws_region: Option<String>,
    #[serde(rename = "eventName", default)]
    event_name: String,
    s3: Entity,
}

#[derive(Deserialize)]
struct Entity {
    bucket: Bucket,
    object: Object,
}

#[derive(Deserialize)]
struct Bucket {
    name: String,
}

#[derive(Deserialize)]
struct Object {
    key: String,
    #[serde(default)]
    size: Option<u64>,
}

/// One S3 notification record, decided.
pub(super) enum Notice {
    /// An object was created: (bucket, decoded key, size, region).
    Created(String, String, Option<u64>, Option<String>),
    /// Another event (`ObjectRemoved:*`, ...).
    Other(String),
}

/// The record is an S3 event notification record (`"eventSource": "aws:s3"`): `None` when it
/// is not one; `Some(Err)` when it says it is but lacks the bucket or key.
pub(super) fn notification_record(json: &str) -> Option<Result<Notice, String>> {
    static S3: LazyLock<memmem::Finder<'static>> =
        LazyLock::new(|| memmem::Finder::new(b"\"aws:s3\""));
    S3.find(json.as_bytes())?;
    #[derive(Deserialize)]
    struct Source {
        #[serde(rename = "eventSource", default)]
        event_source: Option<String>,
    }
    match serde_json::from_str::<Source>(json) {
        Ok(Source {
            event_source: Some(s),
        }) if s == "aws:s3" => {}
        _ => return None,
    }
    Some(match serde_json::from_str::<Record>(json) {
        Ok(r) if r.event_source == "aws:s3" && r.event_name.starts_with("ObjectCreated:") => {
            Ok(Notice::Created(
                r.s3.bucket.name,
                decode_key(&r.s3.object.key),
                r.s3.object.size,
                r.aws_region,
            ))
        }
        Ok(r) => Ok(Notice::Other(crate::sanitize::clean(&r.event_name, 60))),
        Err(e) => Err(format!(
            "an S3 event notification without s3.bucket.name and s3.object.key: {e}"
        )),
    })
}

/// The `detail` of an EventBridge `Object Created` event: (bucket, key, size).
pub(super) fn eventbridge_object(detail: &str) -> Result<(String, String, Option<u64>), String> {
    #[derive(Deserialize)]
    struct Detail {
        bucket: Bucket,
        object: Object,
    }
    serde_json::from_str::<Detail>(detail)
        .map(|d| (d.bucket.name, d.object.key, d.object.size))
        .map_err(|e| {
            format!("an EventBridge Object Created event without detail.bucket.name and detail.object.key: {e}")
        })
}

/// A key as S3 notifications write it: URL-encoded, a space as `+`.
pub fn decode_key(raw: &str) -> String {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// The object, if its key is a CloudTrail log file; otherwise why it is skipped.
pub(super) fn decide(
    (bucket, key, size, region): (String, String, Option<u64>, Option<String>),
    message_id: Option<String>,
) -> Result<ObjectRef, Skip> {
    match layout::classify(&key) {
        KeyKind::LogFile(_) => Ok(ObjectRef {
            bucket,
            key,
            size,
            message_id,
            region,
        }),
        KeyKind::Digest => Err(Skip::DigestFile),
        KeyKind::Insight => Err(Skip::InsightFile),
        KeyKind::Other(why) => Err(Skip::NotLogFile(format!(
            "{why} ({})",
            crate::sanitize::clean(&key, 200)
        ))),
    }
}

/// What S3 leaves unencoded in a notification's key: letters, digits, `/` and `-_.*`... as
/// URL form encoding does (a space becomes `+`).
const KEY_ENCODE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'*');

/// An S3 event notification of one created object, as S3 writes it (`ObjectCreated:Put`, the
/// key URL-encoded): what `backfill` sends to the queue for each existing log file, so the
/// Lambda reads it exactly as it reads a new one.
pub fn notification(
    bucket: &str,
    region: Option<&str>,
    key: &str,
    size: u64,
    event_time: &str,
) -> serde_json::Value {
    let encoded: String = key
        .split(' ')
        .map(|part| percent_encoding::utf8_percent_encode(part, KEY_ENCODE).to_string())
        .collect::<Vec<_>>()
        .join("+");
    serde_json::json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": event_time,
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "eks-access-watch-backfill"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "eks-access-watch-backfill",
            "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
            "object": {"key": encoded, "size": size}
        }
    }]})
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_synthetic_notification_decodes_to_its_key() {
        let n = notification(
            "b",
            Some("eu-west-1"),
            "my logs/AWSLogs/a+b=c.json.gz",
            7,
            "2026-01-01T00:00:00Z",
        );
        let raw = n["Records"][0]["s3"]["object"]["key"].as_str().unwrap();
        assert_eq!(raw, "my+logs/AWSLogs/a%2Bb%3Dc.json.gz");
        assert_eq!(decode_key(raw), "my logs/AWSLogs/a+b=c.json.gz");
    }

    use super::*;

    #[test]
    fn keys_are_url_decoded_with_plus_as_space() {
        assert_eq!(decode_key("a+b%2Fc%3Dd"), "a b/c=d");
        assert_eq!(decode_key("AWSLogs/1/x.json.gz"), "AWSLogs/1/x.json.gz");
    }

    #[test]
    fn a_removal_is_not_an_object_to_read() {
        let r = r#"{"eventSource":"aws:s3","eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}"#;
        assert!(matches!(
            notification_record(r),
            Some(Ok(Notice::Other(n))) if n == "ObjectRemoved:Delete"
        ));
        assert!(notification_record(r#"{"eventSource":"aws:sqs"}"#).is_none());
        assert!(matches!(
            notification_record(r#"{"eventSource":"aws:s3","s3":{}}"#),
            Some(Err(_))
        ));
    }
}
