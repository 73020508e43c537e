//! The failure queue (SQS): where the Lambda parks an event that cannot succeed on a retry
//! (a refused publish, input it cannot read), at once and with the reason, instead of spending
//! Lambda's retries on it. The record has the shape of Lambda's own on-failure destination
//! record, so one redrive path handles both.

use serde::Serialize;
use serde_json::value::RawValue;

/// Lambda's on-failure destination record, with the original event kept byte for byte.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FailureRecord<'a> {
    version: &'static str,
    timestamp: &'a str,
    request_context: RequestContext,
    /// Written as it arrived: even a payload the JSON parser rejects (a lone surrogate) is
    /// kept whole for redrive and investigation.
    request_payload: &'a RawValue,
    response_context: ResponseContext,
    response_payload: ResponsePayload<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestContext {
    condition: &'static str,
    approximate_invoke_count: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResponseContext {
    function_error: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResponsePayload<'a> {
    error_type: &'a str,
    error_message: &'a str,
}

/// The on-failure record for an invocation payload, as the message body to send: Lambda's
/// destination envelope with the original event in `requestPayload` and our error in
/// `responsePayload`.
pub fn failure_record(
    payload: &RawValue,
    error_type: &str,
    error_message: &str,
    timestamp: &str,
) -> String {
    let record = FailureRecord {
        version: "1.0",
        timestamp,
        request_context: RequestContext {
            condition: "NotRetryable",
            approximate_invoke_count: 1,
        },
        request_payload: payload,
        response_context: ResponseContext {
            function_error: "Handled",
        },
        response_payload: ResponsePayload {
            error_type,
            error_message,
        },
    };
    // Serialising borrowed strings and raw JSON to text cannot fail.
    serde_json::to_string(&record).unwrap_or_default()
}

pub use send::park;

mod send {
    use aws_sdk_sqs::Client;

    use crate::aws::AwsError;

    /// Send one record to the queue; the SQS message id.
    pub async fn park(client: &Client, queue_url: &str, body: &str) -> Result<String, AwsError> {
        let out = client
            .send_message()
            .queue_url(queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("SendMessage", &e))?;
        Ok(out.message_id().unwrap_or_default().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_keeps_a_payload_no_json_parser_accepts_byte_for_byte() {
        let raw = r#"{"detail":{"userAgent":"x\ud800y"}}"#;
        let payload = RawValue::from_string(raw.to_string()).unwrap();
        let body = failure_record(&payload, "EksAccessWatch.InvalidInput", "why", "t");
        assert!(
            body.contains(&format!(r#""requestPayload":{raw}"#)),
            "{body}"
        );
        assert!(
            body.starts_with(
                r#"{"version":"1.0","timestamp":"t","requestContext":{"condition":"NotRetryable""#
            ),
            "{body}"
        );
    }
}
