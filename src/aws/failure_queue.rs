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

pub use send::{park, park_many};

mod send {
    use aws_sdk_sqs::Client;
    use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
    use futures::stream::{self, StreamExt, TryStreamExt};

    use crate::aws::AwsError;

    /// SQS's limits for one SendMessageBatch: ten entries, 256 KiB in all.
    const BATCH_ENTRIES: usize = 10;
    const BATCH_BYTES: usize = 250 * 1024;

    /// Send many records, ten to a SendMessageBatch and several batches at once, so that
    /// thousands of events left at the end of an invocation are parked within its reserve;
    /// an entry the batch refuses is sent again alone. The message ids, in no set order.
    pub async fn park_many(
        client: &Client,
        queue_url: &str,
        bodies: &[String],
    ) -> Result<Vec<String>, AwsError> {
        let mut batches: Vec<Vec<&String>> = Vec::new();
        let mut bytes = 0;
        for body in bodies {
            let full = batches
                .last()
                .is_none_or(|b| b.len() == BATCH_ENTRIES || bytes + body.len() > BATCH_BYTES);
            if full {
                batches.push(Vec::new());
                bytes = 0;
            }
            bytes += body.len();
            if let Some(batch) = batches.last_mut() {
                batch.push(body);
            }
        }
        let ids: Vec<Vec<String>> = stream::iter(batches)
            .map(|batch| send_batch(client, queue_url, batch))
            .buffer_unordered(8)
            .try_collect()
            .await?;
        Ok(ids.into_iter().flatten().collect())
    }

    async fn send_batch(
        client: &Client,
        queue_url: &str,
        batch: Vec<&String>,
    ) -> Result<Vec<String>, AwsError> {
        if batch.len() == 1 {
            return Ok(vec![park(client, queue_url, batch[0]).await?]);
        }
        let mut request = client.send_message_batch().queue_url(queue_url);
        for (i, body) in batch.iter().enumerate() {
            let entry = SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(body.as_str())
                .build()
                .map_err(|e| AwsError::invalid("SendMessageBatch", e.to_string()))?;
            request = request.entries(entry);
        }
        let out = request
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("SendMessageBatch", &e))?;
        let mut ids: Vec<String> = out
            .successful()
            .iter()
            .map(|s| s.message_id().to_string())
            .collect();
        for failed in out.failed() {
            let body = failed
                .id()
                .parse::<usize>()
                .ok()
                .and_then(|i| batch.get(i))
                .ok_or_else(|| {
                    AwsError::invalid("SendMessageBatch", format!("unknown entry {}", failed.id()))
                })?;
            ids.push(park(client, queue_url, body).await?);
        }
        Ok(ids)
    }

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
