//! The organisation trail proved from its digests, against S3: list the digest files of the
//! days asked for, read each (with its signature metadata), hash every log file they list
//! (streamed through gzip, never held whole), then hand it all to the pure check
//! ([`crate::trail::digest::check`]). One implementation for `verify-trail` on the command
//! line and the Lambda's daily `verify-trail` task.
//!
//! Reads run `jobs` at a time; a digest S3 refuses to give stops the run (it proves nothing
//! either way), a log file it refuses is reported as unreadable by the check.

use std::collections::HashMap;
use std::io::Read;

use aws_sdk_s3::Client;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use futures::{StreamExt, TryStreamExt};

use super::AwsError;
use crate::trail::digest::{self, DigestObject, LogFileState, PublicKey, Verified};
use crate::trail::layout::{self, KeyKind};

/// Where a verification could not go on.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("s3://{bucket}/{prefix}: cannot list the digests: {source}")]
    Listing {
        bucket: String,
        prefix: String,
        source: AwsError,
    },
    #[error("s3://{bucket}/{key}: cannot read the digest: {source}")]
    Digest {
        bucket: String,
        key: String,
        source: AwsError,
    },
}

/// The hours a verification of the days `since..=until` covers, as of `now`: from the first
/// day's midnight to the end of the last day, or an hour before `now` when that is earlier
/// (CloudTrail writes an hour's digest after the hour ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub since: NaiveDate,
    pub until: NaiveDate,
    pub from: DateTime<Utc>,
    /// The end of the last day (the public keys must be valid until then).
    pub until_end: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Range {
    pub fn new(since: NaiveDate, until: NaiveDate, now: DateTime<Utc>) -> Self {
        let midnight = |d: NaiveDate| Utc.from_utc_datetime(&d.and_time(chrono::NaiveTime::MIN));
        let until_end = midnight(until + chrono::Days::new(1));
        Range {
            since,
            until,
            from: midnight(since),
            until_end,
            to: until_end.min(now - chrono::Duration::hours(1)),
        }
    }

    /// A digest whose hour ends at the time in its name belongs to this range.
    fn holds(&self, key: &str) -> bool {
        key.rsplit('_')
            .next()
            .and_then(|s| s.strip_suffix(".json.gz"))
            .and_then(|s| chrono::NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%SZ").ok())
            .map(|t| Utc.from_utc_datetime(&t))
            .is_some_and(|end| end > self.from && end <= self.to + chrono::Duration::hours(1))
    }
}

/// Verify the trail under `s3://bucket/prefix` for `range` with CloudTrail's public `keys`.
pub async fn verify(
    client: &Client,
    bucket: &str,
    prefix: &str,
    range: Range,
    keys: &[PublicKey],
    jobs: usize,
) -> Result<Verified, VerifyError> {
    let jobs = jobs.max(1);
    // A digest is filed under the day its hour ends: the day after the range holds the last.
    let (listed, _) = super::s3::list_trail(
        client,
        bucket,
        prefix,
        "CloudTrail-Digest",
        Some(range.since),
        Some(range.until + chrono::Days::new(1)),
    )
    .await
    .map_err(|source| VerifyError::Listing {
        bucket: bucket.to_string(),
        prefix: prefix.to_string(),
        source,
    })?;
    let digest_keys: Vec<String> = listed
        .into_iter()
        .map(|o| o.key)
        .filter(|key| layout::classify(key) == KeyKind::Digest && range.holds(key))
        .collect();
    let objects: Vec<DigestObject> = futures::stream::iter(digest_keys)
        .map(|key| async move {
            let got = super::s3::get_signed(client, bucket, &key)
                .await
                .map_err(|source| VerifyError::Digest {
                    bucket: bucket.to_string(),
                    key: key.clone(),
                    source,
                })?;
            let (bytes, signature) = match got {
                Some((bytes, signature)) => (gunzip(bytes), signature),
                None => (Err("deleted while listed".to_string()), None),
            };
            Ok::<_, VerifyError>(DigestObject {
                key,
                bytes,
                signature,
            })
        })
        .buffered(jobs)
        .try_collect()
        .await?;
    // Every log file the digests list, hashed `jobs` at a time.
    let mut wanted: Vec<(String, String)> = objects
        .iter()
        .filter_map(|o| {
            o.bytes
                .as_ref()
                .ok()
                .and_then(|b| digest::parse(&o.key, b).ok())
        })
        .flat_map(|d| d.log_files.into_iter().map(|l| (l.bucket, l.key)))
        .collect();
    wanted.sort();
    wanted.dedup();
    let states: HashMap<(String, String), LogFileState> = futures::stream::iter(wanted)
        .map(|(b, k)| async move {
            let state = hash_log(client, &b, &k).await;
            ((b, k), state)
        })
        .buffer_unordered(jobs)
        .collect()
        .await;
    Ok(digest::check(objects, keys, &states, range.from, range.to))
}

/// A digest's uncompressed bytes (digests are gzip-compressed JSON), through the same gzip
/// detection as every other input ([`crate::ingest::decompress`]).
fn gunzip(bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    let mut reader = crate::ingest::decompress(std::io::Cursor::new(bytes), "digest")
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    reader
        .read_to_end(&mut out)
        .map_err(|e| format!("compressed data is corrupt or truncated: {e}"))?;
    Ok(out)
}

/// The SHA-256 of a log file's uncompressed content (what a digest's `hashValue` is), read as
/// it streams in on a blocking thread.
async fn hash_log(client: &Client, bucket: &str, key: &str) -> LogFileState {
    use sha2::Digest as _;
    let body = match super::s3::open_if_present(client, bucket, key).await {
        Ok(Some(body)) => body,
        Ok(None) => return LogFileState::Absent,
        Err(e) => return LogFileState::Unreadable(e.to_string()),
    };
    let handle = tokio::runtime::Handle::current();
    let key = key.to_string();
    let hashed = tokio::task::spawn_blocking(move || {
        let reader = std::io::BufReader::with_capacity(
            256 * 1024,
            tokio_util::io::SyncIoBridge::new_with_handle(body, handle),
        );
        let mut reader = match crate::ingest::decompress(reader, &key) {
            Ok(r) => r,
            Err(e) => return LogFileState::Unreadable(e.to_string()),
        };
        let mut hasher = sha2::Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => hasher.update(&buf[..n]),
                Err(e) => return LogFileState::Unreadable(e.to_string()),
            }
        }
        LogFileState::Present(hex::encode(hasher.finalize()))
    })
    .await;
    hashed.unwrap_or_else(|e| LogFileState::Unreadable(format!("the hashing task failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_range_ends_an_hour_before_now_and_holds_the_digest_of_its_last_hour() {
        let now = Utc.with_ymd_and_hms(2026, 11, 20, 10, 30, 0).unwrap();
        let r = Range::new(day("2026-11-19"), day("2026-11-20"), now);
        assert_eq!(r.from, Utc.with_ymd_and_hms(2026, 11, 19, 0, 0, 0).unwrap());
        assert_eq!(r.to, Utc.with_ymd_and_hms(2026, 11, 20, 9, 30, 0).unwrap());
        let key = |stamp: &str| {
            format!(
                "AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2026/11/20/111122223333_CloudTrail-Digest_eu-west-1_t_eu-west-1_{stamp}.json.gz"
            )
        };
        assert!(r.holds(&key("20261119T005500Z")));
        assert!(r.holds(&key("20261120T101500Z")));
        assert!(!r.holds(&key("20261120T113000Z")));
        assert!(!r.holds(&key("20261118T235500Z")));
        assert!(!r.holds(
            "AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2026/11/20/not-a-digest.json.gz"
        ));
        // A past day is covered to its end.
        let past = Range::new(day("2026-11-01"), day("2026-11-01"), now);
        assert_eq!(past.to, Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap());
    }

    #[test]
    fn a_digest_is_read_compressed_or_not_and_a_truncated_one_says_so() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"{\"a\":1}").unwrap();
        let packed = gz.finish().unwrap();
        assert_eq!(gunzip(packed.clone()).unwrap(), b"{\"a\":1}");
        assert_eq!(gunzip(b"{}".to_vec()).unwrap(), b"{}");
        let err = gunzip(packed[..packed.len() - 6].to_vec()).unwrap_err();
        assert!(err.contains("corrupt or truncated"), "{err}");
    }
}
