//! CloudTrail's digest files: proof of which log files a trail delivered, and that none was
//! changed. Pure: the digests' bytes, their signatures, the public keys and what the log files
//! hash to are handed in ([`check`]); reading S3 and CloudTrail is `aws/`'s.
//!
//! As CloudTrail documents log file integrity validation:
//! - a digest is written every hour for each trail, account and region, at
//!   `AWSLogs/[o-ORG/]ACCOUNT/CloudTrail-Digest/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail-Digest_REGION_TRAIL_HOMEREGION_YYYYMMDDTHHMMSSZ.json.gz`,
//!   even for an hour without log files;
//! - its signature (`SHA256withRSA`, hex, in the object's metadata `x-amz-meta-signature`) is
//!   over the signing string `digestEndTime` (ISO 8601 basic, `YYYYMMDDTHHMMSSZ`) `\n`
//!   `digestS3Bucket/digestS3Object` `\n` hex SHA-256 of the uncompressed digest `\n`
//!   `previousDigestSignature` (`null` for the first digest of a chain), checked with the
//!   public key whose fingerprint is `digestPublicKeyFingerprint` (ListPublicKeys: a base64
//!   DER PKCS#1 RSA public key);
//! - `previousDigestSignature`, `previousDigestS3Object` and `previousDigestHashValue` (hex
//!   SHA-256 of the previous digest, uncompressed) chain the digests;
//! - each `logFiles[]` entry names a log file (`s3Bucket`, `s3Object`) and its `hashValue`:
//!   the hex SHA-256 of the UNCOMPRESSED log file content (CloudTrail's documentation says so
//!   for `hashValue`; compressing is not deterministic, so only the content can be hashed).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

/// The hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// One digest file, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// Where it was read: the S3 object key.
    pub key: String,
    pub account: String,
    pub region: String,
    pub trail: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub s3_bucket: String,
    pub s3_object: String,
    pub fingerprint: String,
    pub algorithm: String,
    pub previous_signature: Option<String>,
    pub previous_object: Option<String>,
    pub previous_hash: Option<String>,
    pub log_files: Vec<LogFileRef>,
    /// Hex SHA-256 of the uncompressed digest, as read.
    pub sha256: String,
}

/// A log file a digest lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFileRef {
    pub bucket: String,
    pub key: String,
    pub hash: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    aws_account_id: Option<String>,
    digest_start_time: String,
    digest_end_time: String,
    digest_s3_bucket: String,
    digest_s3_object: String,
    digest_public_key_fingerprint: String,
    digest_signature_algorithm: String,
    previous_digest_s3_object: Option<String>,
    previous_digest_hash_value: Option<String>,
    previous_digest_signature: Option<String>,
    #[serde(default)]
    log_files: Vec<WireLogFile>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireLogFile {
    s3_bucket: String,
    s3_object: String,
    hash_value: String,
}

/// (account, region, trail) from a digest's file name; `None` when it is not one.
pub fn name_parts(key: &str) -> Option<(String, String, String)> {
    let name = key.rsplit('/').next()?;
    let (account, rest) = name.split_once("_CloudTrail-Digest_")?;
    let rest = rest.strip_suffix(".json.gz")?;
    // REGION_TRAIL_HOMEREGION_YYYYMMDDTHHMMSSZ: the region has no `_`, the stamp neither.
    let (region, rest) = rest.split_once('_')?;
    let (rest, _stamp) = rest.rsplit_once('_')?;
    let (trail, _home) = rest.rsplit_once('_')?;
    Some((account.to_string(), region.to_string(), trail.to_string()))
}

fn time(field: &str, v: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{field} `{v}` is not an RFC 3339 time: {e}"))
}

/// Parse a digest's uncompressed bytes, read from `key`.
pub fn parse(key: &str, bytes: &[u8]) -> Result<Digest, String> {
    let w: Wire = serde_json::from_slice(bytes).map_err(|e| format!("not a digest file: {e}"))?;
    let (account, region, trail) = name_parts(key).unwrap_or_else(|| {
        (
            w.aws_account_id.clone().unwrap_or_default(),
            String::new(),
            String::new(),
        )
    });
    Ok(Digest {
        key: key.to_string(),
        account,
        region,
        trail,
        start: time("digestStartTime", &w.digest_start_time)?,
        end: time("digestEndTime", &w.digest_end_time)?,
        s3_bucket: w.digest_s3_bucket,
        s3_object: w.digest_s3_object,
        fingerprint: w.digest_public_key_fingerprint,
        algorithm: w.digest_signature_algorithm,
        previous_signature: w.previous_digest_signature,
        previous_object: w.previous_digest_s3_object,
        previous_hash: w.previous_digest_hash_value,
        log_files: w
            .log_files
            .into_iter()
            .map(|l| LogFileRef {
                bucket: l.s3_bucket,
                key: l.s3_object,
                hash: l.hash_value.to_ascii_lowercase(),
            })
            .collect(),
        sha256: sha256_hex(bytes),
    })
}

/// The string CloudTrail signs for a digest.
pub fn signing_string(d: &Digest) -> String {
    format!(
        "{}\n{}/{}\n{}\n{}",
        d.end.format("%Y%m%dT%H%M%SZ"),
        d.s3_bucket,
        d.s3_object,
        d.sha256,
        d.previous_signature.as_deref().unwrap_or("null")
    )
}

/// One of CloudTrail's public keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub fingerprint: String,
    /// DER, PKCS#1 `RSAPublicKey`.
    pub der: Vec<u8>,
}

/// The JSON output of `aws cloudtrail list-public-keys`
/// (`{"PublicKeyList": [{"Value": "<base64 DER>", "Fingerprint": "..."}]}`).
pub fn parse_public_keys(json: &str) -> Result<Vec<PublicKey>, String> {
    use base64::Engine as _;
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct List {
        public_key_list: Vec<Entry>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Entry {
        value: String,
        fingerprint: String,
    }
    let list: List = serde_json::from_str(json).map_err(|e| {
        format!("not the output of `aws cloudtrail list-public-keys` ({{\"PublicKeyList\": [...]}}): {e}")
    })?;
    list.public_key_list
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let der = base64::engine::general_purpose::STANDARD
                .decode(e.value.trim())
                .map_err(|err| format!("PublicKeyList[{i}].Value is not base64: {err}"))?;
            Ok(PublicKey {
                fingerprint: e.fingerprint.to_ascii_lowercase(),
                der,
            })
        })
        .collect()
}

/// Check a digest's signature (`signature_hex`, from the object's metadata) with the key its
/// fingerprint names. `Err` says why it does not hold.
pub fn verify(d: &Digest, signature_hex: Option<&str>, keys: &[PublicKey]) -> Result<(), String> {
    use rsa::pkcs1::DecodeRsaPublicKey;
    if d.algorithm != "SHA256withRSA" {
        return Err(format!(
            "digestSignatureAlgorithm `{}` is not SHA256withRSA",
            d.algorithm
        ));
    }
    let Some(signature_hex) = signature_hex else {
        return Err("the object has no signature (x-amz-meta-signature)".into());
    };
    let signature =
        hex::decode(signature_hex.trim()).map_err(|e| format!("the signature is not hex: {e}"))?;
    let fingerprint = d.fingerprint.to_ascii_lowercase();
    let Some(key) = keys.iter().find(|k| k.fingerprint == fingerprint) else {
        return Err(format!(
            "no CloudTrail public key has the fingerprint {} (ListPublicKeys for the digest's time, or --public-keys)",
            d.fingerprint
        ));
    };
    let key = rsa::PublicKey::from_pkcs1_der(&key.der)
        .map_err(|e| format!("public key {fingerprint} is not a DER PKCS#1 RSA key: {e}"))?;
    let hashed = Sha256::digest(signing_string(d).as_bytes());
    key.verify(rsa::Pkcs1v15Sign::new::<Sha256>(), &hashed, &signature)
        .map_err(|_| "the signature does not match the digest".to_string())
}

/// A digest object as read: its key, its uncompressed bytes (or why they could not be read),
/// and its signature metadata.
#[derive(Debug, Clone)]
pub struct DigestObject {
    pub key: String,
    pub bytes: Result<Vec<u8>, String>,
    pub signature: Option<String>,
}

/// What a listed log file is in the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogFileState {
    /// Its uncompressed content hashes to this (hex SHA-256).
    Present(String),
    Absent,
    Unreadable(String),
}

/// A finding's kind: `trail-gap` or `trail-log-altered`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProblemKind {
    /// A missing digest hour, a broken chain, a listed log file that is absent.
    Gap,
    /// A hash or a signature that does not match.
    Altered,
}

/// One thing the check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    pub account: String,
    pub region: String,
    pub message: String,
}

/// What [`check`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verified {
    pub digests: usize,
    pub log_files: usize,
    /// (account, region) pairs seen.
    pub places: Vec<(String, String)>,
    pub problems: Vec<Problem>,
}

/// How late a digest may start after the range starts, or end before it ends, before the
/// hours between count as missing: CloudTrail writes one per hour.
const SLACK: chrono::Duration = chrono::Duration::hours(1);

/// Check digests (those of the range, in any order) and the log files they list:
/// signatures, chains (per account, region and trail), hours covered from `from` to `to`,
/// and each log file's presence and hash (`logs`, keyed by (bucket, key)).
pub fn check(
    objects: Vec<DigestObject>,
    keys: &[PublicKey],
    logs: &HashMap<(String, String), LogFileState>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Verified {
    let mut out = Verified::default();
    let mut chains: BTreeMap<(String, String, String), Vec<(Digest, bool)>> = BTreeMap::new();
    let problem = |kind, account: &str, region: &str, message: String| Problem {
        kind,
        account: account.to_string(),
        region: region.to_string(),
        message,
    };
    for object in objects {
        let (account, region, _) = name_parts(&object.key).unwrap_or_default();
        let parsed = object.bytes.and_then(|b| parse(&object.key, &b));
        let digest = match parsed {
            Ok(d) => d,
            Err(why) => {
                out.problems.push(problem(
                    ProblemKind::Altered,
                    &account,
                    &region,
                    format!("digest {} cannot be read: {why}", object.key),
                ));
                continue;
            }
        };
        out.digests += 1;
        let signed = match verify(&digest, object.signature.as_deref(), keys) {
            Ok(()) => true,
            Err(why) => {
                out.problems.push(problem(
                    ProblemKind::Altered,
                    &digest.account,
                    &digest.region,
                    format!("digest {}: {why}", digest.key),
                ));
                false
            }
        };
        if !digest.key.ends_with(&digest.s3_object) {
            out.problems.push(problem(
                ProblemKind::Altered,
                &digest.account,
                &digest.region,
                format!(
                    "digest {} says it is {} (a digest copied into place)",
                    digest.key, digest.s3_object
                ),
            ));
        }
        chains
            .entry((
                digest.account.clone(),
                digest.region.clone(),
                digest.trail.clone(),
            ))
            .or_default()
            .push((digest, signed));
    }
    if chains.is_empty() {
        out.problems.push(problem(
            ProblemKind::Gap,
            "",
            "",
            format!("no digest file from {from} to {to}: integrity validation off, or the digests are gone"),
        ));
    }
    for ((account, region, trail), mut chain) in chains {
        out.places.push((account.clone(), region.clone()));
        chain.sort_by_key(|(d, _)| d.end);
        let gap = |message: String| problem(ProblemKind::Gap, &account, &region, message);
        let first = &chain[0].0;
        if first.start > from + SLACK {
            out.problems.push(gap(format!(
                "trail {trail}: no digest from {from} to {} (the first digest starts then)",
                first.start
            )));
        }
        let last = &chain[chain.len() - 1].0;
        if last.end + SLACK < to {
            out.problems.push(gap(format!(
                "trail {trail}: no digest from {} (the last digest's end) to {to}",
                last.end
            )));
        }
        for pair in chain.windows(2) {
            let ((prev, _), (d, _)) = (&pair[0], &pair[1]);
            let names_prev = d
                .previous_object
                .as_deref()
                .is_some_and(|p| prev.key.ends_with(p) || p.ends_with(&prev.key));
            if !names_prev {
                out.problems.push(gap(format!(
                    "trail {trail}: missing digest between {} and {}: {} names {} as the previous digest, which is not there (broken chain)",
                    prev.end,
                    d.start,
                    d.key,
                    d.previous_object.as_deref().unwrap_or("none")
                )));
                continue;
            }
            if d.previous_hash.as_deref() != Some(prev.sha256.as_str()) {
                out.problems.push(problem(
                    ProblemKind::Altered,
                    &account,
                    &region,
                    format!(
                        "digest {}: its content does not hash to what the next digest {} recorded",
                        prev.key, d.key
                    ),
                ));
            }
            if d.start > prev.end + chrono::Duration::minutes(5) {
                out.problems.push(gap(format!(
                    "trail {trail}: no digest covers {} to {}",
                    prev.end, d.start
                )));
            }
        }
        for (d, _) in &chain {
            for log in &d.log_files {
                out.log_files += 1;
                match logs.get(&(log.bucket.clone(), log.key.clone())) {
                    Some(LogFileState::Present(hash)) if *hash == log.hash => {}
                    Some(LogFileState::Present(hash)) => out.problems.push(problem(
                        ProblemKind::Altered,
                        &account,
                        &region,
                        format!(
                            "log file s3://{}/{} hashes to {hash}, digest {} recorded {}",
                            log.bucket, log.key, d.key, log.hash
                        ),
                    )),
                    Some(LogFileState::Absent) | None => out.problems.push(gap(format!(
                        "log file s3://{}/{} listed in digest {} is absent",
                        log.bucket, log.key, d.key
                    ))),
                    Some(LogFileState::Unreadable(why)) => out.problems.push(gap(format!(
                        "log file s3://{}/{} listed in digest {} cannot be read: {why}",
                        log.bucket, log.key, d.key
                    ))),
                }
            }
        }
    }
    out.places.sort();
    out.places.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_name_gives_account_region_and_trail() {
        assert_eq!(
            name_parts(
                "AWSLogs/o-x/111122223333/CloudTrail-Digest/eu-west-1/2026/11/20/111122223333_CloudTrail-Digest_eu-west-1_org_trail_us-east-1_20261120T015500Z.json.gz"
            ),
            Some((
                "111122223333".into(),
                "eu-west-1".into(),
                "org_trail".into()
            ))
        );
        assert_eq!(name_parts("AWSLogs/x.json.gz"), None);
    }

    #[test]
    fn the_signing_string_is_cloudtrails() {
        let d = Digest {
            key: "k".into(),
            account: String::new(),
            region: String::new(),
            trail: String::new(),
            start: "2026-11-20T01:00:00Z".parse().unwrap(),
            end: "2026-11-20T02:00:00Z".parse().unwrap(),
            s3_bucket: "b".into(),
            s3_object: "AWSLogs/d.json.gz".into(),
            fingerprint: String::new(),
            algorithm: "SHA256withRSA".into(),
            previous_signature: None,
            previous_object: None,
            previous_hash: None,
            log_files: Vec::new(),
            sha256: "ab".into(),
        };
        assert_eq!(
            signing_string(&d),
            "20261120T020000Z\nb/AWSLogs/d.json.gz\nab\nnull"
        );
    }
}
