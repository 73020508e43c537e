//! What is left when the invocation's time budget is spent: each event not yet handled is
//! parked in the failure queue as a payload of its own, so the redrive path handles it like
//! any other delivery and one slow event never holds back another.
//!
//! [`per_event`] cuts an invocation payload into one payload per event it carries, keyed by
//! the event's id (CloudTrail `eventID`, Kubernetes `auditID`): an EventBridge event is
//! already one; a CloudWatch Logs subscription payload becomes one payload per log event, with
//! the same header (log group, owner), gzip and base64 like the original; an SQS batch, a
//! failure record and a CloudTrail file are opened. What cannot be cut (a payload no JSON
//! parser reads) is one payload without an id.

use std::io::{Read, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

/// One payload of its own per event in `payload`: (event id, payload text).
pub fn per_event(payload: &str) -> Vec<(Option<String>, String)> {
    match serde_json::from_str::<Value>(payload) {
        Ok(v) => split(&v),
        Err(_) => vec![(None, payload.to_string())],
    }
}

fn id(v: &Value, field: &str) -> Option<String> {
    v.get(field).and_then(Value::as_str).map(str::to_string)
}

fn split(v: &Value) -> Vec<(Option<String>, String)> {
    if let Some(records) = v.get("Records").and_then(Value::as_array) {
        let sqs = !records.is_empty()
            && records
                .iter()
                .all(|r| r.get("eventSource").and_then(Value::as_str) == Some("aws:sqs"));
        if sqs {
            return records
                .iter()
                .flat_map(|r| match r.get("body").and_then(Value::as_str) {
                    Some(body) => per_event(body),
                    None => vec![(None, json!({"Records": [r]}).to_string())],
                })
                .collect();
        }
        return records
            .iter()
            .map(|r| (id(r, "eventID"), json!({"Records": [r]}).to_string()))
            .collect();
    }
    if let Some(inner) = v.get("requestPayload") {
        return split(inner);
    }
    if let Some(data) = v.pointer("/awslogs/data").and_then(Value::as_str)
        && let Some(parts) = log_events(data)
    {
        return parts;
    }
    if let Some(detail) = v.get("detail") {
        return vec![(id(detail, "eventID"), v.to_string())];
    }
    vec![(id(v, "eventID").or_else(|| id(v, "auditID")), v.to_string())]
}

/// A CloudWatch Logs subscription document cut into one document per log event.
fn log_events(data: &str) -> Option<Vec<(Option<String>, String)>> {
    let bytes = STANDARD.decode(data).ok()?;
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .ok()?;
    let mut doc: Value = serde_json::from_str(&text).ok()?;
    let events = match doc.get_mut("logEvents")?.take() {
        Value::Array(events) => events,
        _ => return None,
    };
    let header = doc;
    events
        .into_iter()
        .map(|event| {
            let audit_id = event
                .get("message")
                .and_then(Value::as_str)
                .and_then(|m| serde_json::from_str::<Value>(m).ok())
                .and_then(|m| id(&m, "auditID"));
            let mut one = header.clone();
            one["logEvents"] = json!([event]);
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(one.to_string().as_bytes()).ok()?;
            let data = STANDARD.encode(gz.finish().ok()?);
            Some((audit_id, json!({"awslogs": {"data": data}}).to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn awslogs(messages: &[Value]) -> String {
        let events: Vec<Value> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| json!({"id": i.to_string(), "timestamp": 1, "message": m.to_string()}))
            .collect();
        let doc = json!({"messageType": "DATA_MESSAGE", "owner": "111122223333",
            "logGroup": "/aws/eks/prod/cluster", "logEvents": events});
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(doc.to_string().as_bytes()).unwrap();
        json!({"awslogs": {"data": STANDARD.encode(gz.finish().unwrap())}}).to_string()
    }

    #[test]
    fn a_subscription_payload_becomes_one_payload_per_log_event_with_its_header() {
        let payload = awslogs(&[json!({"auditID": "a-1"}), json!({"auditID": "a-2"})]);
        let parts = per_event(&payload);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[1].0.as_deref(), Some("a-2"));
        let v: Value = serde_json::from_str(&parts[1].1).unwrap();
        let bytes = STANDARD
            .decode(v["awslogs"]["data"].as_str().unwrap())
            .unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["logGroup"], "/aws/eks/prod/cluster");
        assert_eq!(doc["owner"], "111122223333");
        assert_eq!(doc["logEvents"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn sqs_batches_and_failure_records_are_opened_and_unreadable_text_kept_whole() {
        let event = json!({"detail": {"eventID": "e-1"}}).to_string();
        let record = json!({"requestPayload": {"detail": {"eventID": "e-2"}}}).to_string();
        let batch = json!({"Records": [
            {"eventSource": "aws:sqs", "body": event},
            {"eventSource": "aws:sqs", "body": record},
        ]})
        .to_string();
        let ids: Vec<Option<String>> = per_event(&batch).into_iter().map(|p| p.0).collect();
        assert_eq!(ids, [Some("e-1".to_string()), Some("e-2".to_string())]);
        let bad = r#"{"detail":{"x":"\ud800"}"#;
        assert_eq!(per_event(bad), [(None, bad.to_string())]);
    }
}
