//! SQS for `backfill`: synthetic S3 notifications sent to the trail bucket's queue, ten per
//! SendMessageBatch call (SQS's most).

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

use crate::aws::AwsError;

/// The most messages one SendMessageBatch call takes.
pub const BATCH: usize = 10;

/// Send `bodies` (at most [`BATCH`]) in one call; returns the bodies SQS refused, each with
/// its reason (the caller may send them again).
pub async fn send_batch(
    client: &Client,
    queue_url: &str,
    bodies: &[String],
) -> Result<Vec<(usize, String)>, AwsError> {
    let entries: Vec<SendMessageBatchRequestEntry> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(body)
                .build()
                .map_err(|e| AwsError {
                    operation: "SendMessageBatch",
                    code: None,
                    kind: crate::aws::ErrorKind::Invalid,
                    message: e.to_string(),
                })
        })
        .collect::<Result<_, _>>()?;
    let out = client
        .send_message_batch()
        .queue_url(queue_url)
        .set_entries(Some(entries))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("SendMessageBatch", &e))?;
    Ok(out
        .failed()
        .iter()
        .map(|f| {
            (
                f.id().parse().unwrap_or(usize::MAX),
                format!("{}: {}", f.code(), f.message().unwrap_or("no message")),
            )
        })
        .collect())
}
