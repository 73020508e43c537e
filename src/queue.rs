//! The failure queue (SQS): where the Lambda parks an event that cannot succeed on a retry
//! (a refused publish, input it cannot read), at once and with the reason, instead of spending
//! Lambda's retries on it. The record has the shape of Lambda's own on-failure destination
//! record, so one redrive path handles both.

use serde_json::{Value, json};

/// The on-failure record for an invocation payload: Lambda's destination envelope with the
/// original event in `requestPayload` and our error in `responsePayload`.
pub fn failure_record(
    payload: &Value,
    error_type: &str,
    error_message: &str,
    timestamp: &str,
) -> Value {
    json!({
        "version": "1.0",
        "timestamp": timestamp,
        "requestContext": {
            "condition": "NotRetryable",
            "approximateInvokeCount": 1,
        },
        "requestPayload": payload,
        "responseContext": {"functionError": "Handled"},
        "responsePayload": {"errorType": error_type, "errorMessage": error_message},
    })
}

#[cfg(feature = "aws")]
pub use send::park;

#[cfg(feature = "aws")]
mod send {
    use aws_sdk_sqs::Client;

    use crate::sdk::AwsError;

    /// Send one record to the queue; the SQS message id.
    pub async fn park(
        client: &Client,
        queue_url: &str,
        record: &serde_json::Value,
    ) -> Result<String, AwsError> {
        let out = client
            .send_message()
            .queue_url(queue_url)
            .message_body(record.to_string())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("SendMessage", &e))?;
        Ok(out.message_id().unwrap_or_default().to_string())
    }
}
