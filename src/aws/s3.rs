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

/// An object's body as a stream (GetObject): read it as it arrives, never whole, so a 1 GiB log
/// file takes no more memory than a small one. A failure mid-stream is an I/O error of the
/// reader.
pub async fn open(
    client: &Client,
    bucket: &str,
    key: &str,
) -> Result<impl tokio::io::AsyncBufRead + Send + Unpin + 'static, AwsError> {
    open_in(client, None, bucket, key).await
}

/// [`open`] for a bucket in `region` (the client's own when `None`): a GetObject sent to
/// another region than the bucket's is refused (PermanentRedirect).
pub async fn open_in(
    client: &Client,
    region: Option<&str>,
    bucket: &str,
    key: &str,
) -> Result<impl tokio::io::AsyncBufRead + Send + Unpin + 'static, AwsError> {
    let mut request = client.get_object().bucket(bucket).key(key).customize();
    if let Some(region) = region.filter(|r| !r.is_empty()) {
        request = request.config_override(
            aws_sdk_s3::config::Builder::default()
                .region(aws_sdk_s3::config::Region::new(region.to_string())),
        );
    }
    let out = request
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

/// An S3 client for the command line and the Lambda: path-style addressing when a custom
/// endpoint is set (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_S3`: S3-compatible servers and moto
/// rarely resolve virtual-host names), AWS's default otherwise.
pub fn client(sdk: &aws_types::SdkConfig) -> Client {
    let custom = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty()));
    Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(custom)
            .build(),
    )
}

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub size: u64,
}

/// `s3://BUCKET/PREFIX` split into the bucket and the prefix; `None` when `url` is not one.
pub fn parse_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then(|| (bucket.to_string(), prefix.to_string()))
}

/// Every object under `prefix` (ListObjectsV2, every page).
pub async fn list(client: &Client, bucket: &str, prefix: &str) -> Result<Vec<Listed>, AwsError> {
    let mut out = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("ListObjectsV2", &e))?;
        for o in page.contents() {
            if let Some(key) = o.key() {
                out.push(Listed {
                    key: key.to_string(),
                    size: o.size().unwrap_or_default().max(0) as u64,
                });
            }
        }
    }
    Ok(out)
}

/// The "directories" right under `prefix` (ListObjectsV2 with the `/` delimiter, every page).
pub async fn list_prefixes(
    client: &Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<String>, AwsError> {
    let mut out = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .delimiter("/")
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("ListObjectsV2", &e))?;
        out.extend(
            page.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_string)),
        );
    }
    Ok(out)
}

/// The objects of CloudTrail's `dir` (`CloudTrail` for log files, `CloudTrail-Digest`) under
/// `prefix` whose day is within `since..=until`. With both dates, only the days asked for are
/// listed: a prefix that reaches the region level gives the day prefixes at once; above it,
/// the accounts (and `o-ORG/`) and regions are listed by delimiter first. Without dates, or
/// with a prefix outside the layout, everything under the prefix is listed and filtered by the
/// day in each key. Also returns how many ListObjectsV2 listings were made.
pub async fn list_trail(
    client: &Client,
    bucket: &str,
    prefix: &str,
    dir: &str,
    since: Option<chrono::NaiveDate>,
    until: Option<chrono::NaiveDate>,
) -> Result<(Vec<Listed>, usize), AwsError> {
    use crate::trail::layout::{self, Level, Reach};
    let in_range = |key: &str| match layout::key_date(key) {
        Some(d) => since.is_none_or(|s| d >= s) && until.is_none_or(|u| d <= u),
        None => since.is_none() && until.is_none(),
    };
    let (Some(since), Some(until)) = (since, until) else {
        let all = list(client, bucket, prefix).await?;
        return Ok((all.into_iter().filter(|o| in_range(&o.key)).collect(), 1));
    };
    let mut listings = 0;
    let mut regions = Vec::new();
    let mut pending = vec![layout::reach(prefix, dir)];
    while let Some(reach) = pending.pop() {
        match reach {
            Reach::Region { base } => regions.push(base),
            Reach::Unknown => {
                listings += 1;
                let all = list(client, bucket, prefix).await?;
                return Ok((
                    all.into_iter().filter(|o| in_range(&o.key)).collect(),
                    listings,
                ));
            }
            Reach::Above { base, next } => {
                if next == Level::Directory {
                    // Only the one directory is wanted: no listing needed.
                    pending.push(Reach::Above {
                        base: format!("{base}{dir}/"),
                        next: Level::Region,
                    });
                    continue;
                }
                listings += 1;
                for child in list_prefixes(client, bucket, &base).await? {
                    let name = child[base.len()..].trim_end_matches('/');
                    pending.push(match next {
                        Level::OrgOrAccount if name.starts_with("o-") => Reach::Above {
                            base: child,
                            next: Level::Account,
                        },
                        Level::OrgOrAccount | Level::Account => Reach::Above {
                            base: child,
                            next: Level::Directory,
                        },
                        Level::Region => Reach::Region { base: child },
                        // Handled before listing; kept total rather than a panic.
                        Level::Directory => Reach::Above {
                            base: format!("{child}{dir}/"),
                            next: Level::Region,
                        },
                    });
                }
            }
        }
    }
    let mut out = Vec::new();
    regions.sort();
    for base in regions {
        for day in layout::day_prefixes(&base, since, until) {
            listings += 1;
            // A prefix deeper than the region (a month) still bounds what is read.
            out.extend(
                list(client, bucket, &day)
                    .await?
                    .into_iter()
                    .filter(|o| o.key.starts_with(prefix)),
            );
        }
    }
    Ok((out, listings))
}

/// A small object whole, with its `signature` metadata (`x-amz-meta-signature`: how CloudTrail
/// signs a digest file); `None` when it does not exist.
pub async fn get_signed(
    client: &Client,
    bucket: &str,
    key: &str,
) -> Result<Option<(Vec<u8>, Option<String>)>, AwsError> {
    let out = match client.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => out,
        Err(e) => {
            let e = AwsError::from_sdk("GetObject", &e);
            return match e.kind {
                ErrorKind::NotFound => Ok(None),
                _ => Err(e),
            };
        }
    };
    let signature = out
        .metadata()
        .and_then(|m| m.get("signature"))
        .map(|s| s.to_string());
    let bytes = out.body.collect().await.map_err(|e| AwsError {
        operation: "GetObject",
        code: None,
        kind: ErrorKind::Network,
        message: format!("could not read the object: {e}"),
    })?;
    Ok(Some((bytes.into_bytes().to_vec(), signature)))
}

/// [`open`], with a missing object as `None` (a log file a digest lists may be gone).
pub async fn open_if_present(
    client: &Client,
    bucket: &str,
    key: &str,
) -> Result<Option<impl tokio::io::AsyncBufRead + Send + Unpin + 'static>, AwsError> {
    match open(client, bucket, key).await {
        Ok(body) => Ok(Some(body)),
        Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}
