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

/// True when `key` has any earlier version or delete marker in the (versioned) bucket: the
/// object was there once, so its absence now is not a first run.
pub async fn has_history(client: &Client, bucket: &str, key: &str) -> Result<bool, AwsError> {
    let out = client
        .list_object_versions()
        .bucket(bucket)
        .prefix(key)
        .max_keys(10)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ListObjectVersions", &e))?;
    let versions = out.versions().iter().filter_map(|v| v.key());
    let markers = out.delete_markers().iter().filter_map(|m| m.key());
    Ok(versions.chain(markers).any(|k| k == key))
}
