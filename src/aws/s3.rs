//! S3: the daily audit's snapshot, read and written as one object in its bucket.

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;

use crate::aws::{AwsError, ErrorKind};

/// The object's text; `None` when it does not exist (a first run).
pub async fn get_text(
    client: &Client,
    bucket: &str,
    key: &str,
) -> Result<Option<String>, AwsError> {
    let got = client.get_object().bucket(bucket).key(key).send().await;
    let out = match got {
        Ok(out) => out,
        Err(e) => {
            let e = AwsError::from_sdk("GetObject", &e);
            return match e.kind {
                ErrorKind::NotFound => Ok(None),
                _ => Err(e),
            };
        }
    };
    let bytes = out.body.collect().await.map_err(|e| AwsError {
        operation: "GetObject",
        code: None,
        kind: ErrorKind::Network,
        message: format!("could not read the object: {e}"),
    })?;
    Ok(Some(
        String::from_utf8_lossy(&bytes.into_bytes()).into_owned(),
    ))
}

/// Write a JSON object; returns its new version (a versioned bucket).
pub async fn put_json(
    client: &Client,
    bucket: &str,
    key: &str,
    json: Vec<u8>,
) -> Result<Option<String>, AwsError> {
    let out = client
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/json")
        .body(ByteStream::from(json))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("PutObject", &e))?;
    Ok(out.version_id().map(str::to_string))
}

/// An object's body as a stream (GetObject): read it as it arrives, never whole, so a 1 GiB log
/// file takes no more memory than a small one. A failure mid-stream is an I/O error of the
/// reader.
pub async fn open(
    client: &Client,
    bucket: &str,
    key: &str,
) -> Result<impl tokio::io::AsyncBufRead + Send + Unpin + 'static, AwsError> {
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetObject", &e))?;
    Ok(out.body.into_async_read())
}

/// Whether `bucket` sends its object-created notifications to `queue_arn` (a
/// QueueConfiguration with an `s3:ObjectCreated:*` event), or to EventBridge, as the trail
/// self-check's [`Change::TrailNotifications`](crate::model::Change::TrailNotifications). A
/// configuration that cannot be read is an error in the change, never assumed to be on.
pub async fn notification_status(
    client: &Client,
    bucket: &str,
    queue_arn: Option<&str>,
) -> crate::model::Change {
    let (to_queue, eventbridge, error) = match client
        .get_bucket_notification_configuration()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(out) => (
            out.queue_configurations().iter().any(|q| {
                Some(q.queue_arn()) == queue_arn
                    && q.events()
                        .iter()
                        .any(|e| e.as_str().starts_with("s3:ObjectCreated:"))
            }),
            out.event_bridge_configuration().is_some(),
            None,
        ),
        Err(e) => (
            false,
            false,
            Some(crate::sanitize::clean(
                &AwsError::from_sdk("GetBucketNotificationConfiguration", &e).to_string(),
                512,
            )),
        ),
    };
    crate::model::Change::TrailNotifications {
        bucket: bucket.to_string(),
        queue_arn: queue_arn.map(str::to_string),
        to_queue,
        eventbridge,
        error,
    }
}
