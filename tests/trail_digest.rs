//! CloudTrail digest validation (`verify-trail`'s core): digests the tests write in
//! CloudTrail's format and sign with a key pair they generate; an intact chain passes, a
//! removed or altered log file, a missing hour and a forged digest each give their finding.

use std::collections::HashMap;

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use eks_access_watch::trail::digest::{
    self, DigestObject, LogFileState, ProblemKind, PublicKey, sha256_hex,
};
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::rand_core::{Infallible, TryCryptoRng, TryRng};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// A deterministic generator for the test key (SHA-256 of a counter): the tests need a key
/// pair, not secrecy.
struct TestRng(u64);

impl TryRng for TestRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(32) {
            self.0 += 1;
            let h = Sha256::digest(self.0.to_le_bytes());
            chunk.copy_from_slice(&h[..chunk.len()]);
        }
        Ok(())
    }
}
impl TryCryptoRng for TestRng {}

pub const BUCKET: &str = "org-trail";
pub const ACCOUNT: &str = "111122223333";
pub const REGION: &str = "eu-west-1";
pub const FINGERPRINT: &str = "0123456789abcdef0123456789abcdef";

/// CloudTrail's signing key, as the tests hold it.
pub struct Signer {
    key: rsa::PrivateKey,
}

impl Signer {
    pub fn new() -> Self {
        let key = rsa::PrivateKey::new(&mut TestRng(7), 1024).unwrap();
        Signer { key }
    }

    /// The key as `aws cloudtrail list-public-keys` prints it.
    pub fn public_keys_json(&self) -> String {
        let der = self.key.to_public_key().to_pkcs1_der().unwrap();
        json!({"PublicKeyList": [{
            "Value": base64::engine::general_purpose::STANDARD.encode(der.as_bytes()),
            "ValidityStartTime": "2026-01-01T00:00:00Z",
            "ValidityEndTime": "2027-01-01T00:00:00Z",
            "Fingerprint": FINGERPRINT
        }]})
        .to_string()
    }

    /// The public key's DER (PKCS#1), as ListPublicKeys returns it in `Value`.
    pub fn public_key_der(&self) -> Vec<u8> {
        self.key
            .to_public_key()
            .to_pkcs1_der()
            .unwrap()
            .as_bytes()
            .to_vec()
    }

    fn sign(&self, signing_string: &str) -> String {
        let hashed = Sha256::digest(signing_string.as_bytes());
        hex::encode(
            self.key
                .sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &hashed)
                .unwrap(),
        )
    }
}

/// Digests (key, uncompressed bytes, hex signature) and log files (key, content).
pub type Chain = (Vec<(String, Vec<u8>, String)>, Vec<(String, Vec<u8>)>);

pub fn hour(h: i64) -> DateTime<Utc> {
    "2026-11-20T00:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::hours(h)
}

pub fn digest_key(end: DateTime<Utc>) -> String {
    format!(
        "AWSLogs/o-abc123def4/{ACCOUNT}/CloudTrail-Digest/{REGION}/{}/{ACCOUNT}_CloudTrail-Digest_{REGION}_org-trail_us-east-1_{}.json.gz",
        end.format("%Y/%m/%d"),
        end.format("%Y%m%dT%H%M%SZ")
    )
}

pub fn log_key(h: i64, n: usize) -> String {
    let t = hour(h);
    format!(
        "AWSLogs/o-abc123def4/{ACCOUNT}/CloudTrail/{REGION}/{}/{ACCOUNT}_CloudTrail_{REGION}_{}_L{n}.json.gz",
        t.format("%Y/%m/%d"),
        t.format("%Y%m%dT%H%MZ")
    )
}

/// A log file's uncompressed content.
pub fn log_content(h: i64, n: usize) -> Vec<u8> {
    json!({"Records": [{"eventVersion": "1.09", "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject", "eventID": format!("e-{h}-{n}")}]})
    .to_string()
    .into_bytes()
}

/// A chain of `hours` hourly digests from hour 0, each listing two log files; returns the
/// digest objects (uncompressed bytes and signature) and the log files' contents by key.
pub fn chain(signer: &Signer, hours: i64) -> Chain {
    chain_in(signer, hours, BUCKET)
}

/// [`chain`] for a trail writing to `bucket`.
pub fn chain_in(signer: &Signer, hours: i64, bucket: &str) -> Chain {
    let mut digests: Vec<(String, Vec<u8>, String)> = Vec::new();
    let mut logs = Vec::new();
    for h in 0..hours {
        let (start, end) = (hour(h), hour(h + 1));
        let key = digest_key(end);
        let files: Vec<Value> = (0..2)
            .map(|n| {
                let content = log_content(h, n);
                let k = log_key(h, n);
                logs.push((k.clone(), content.clone()));
                json!({"s3Bucket": bucket, "s3Object": k, "hashValue": sha256_hex(&content),
                       "hashAlgorithm": "SHA-256",
                       "newestEventTime": end.to_rfc3339(), "oldestEventTime": start.to_rfc3339()})
            })
            .collect();
        let previous = digests.last();
        let doc = json!({
            "awsAccountId": ACCOUNT,
            "digestStartTime": start.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "digestEndTime": end.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "digestS3Bucket": bucket,
            "digestS3Object": key,
            "digestPublicKeyFingerprint": FINGERPRINT,
            "digestSignatureAlgorithm": "SHA256withRSA",
            "newestEventTime": end.to_rfc3339(),
            "oldestEventTime": start.to_rfc3339(),
            "previousDigestS3Bucket": previous.map(|_| bucket),
            "previousDigestS3Object": previous.map(|p| p.0.clone()),
            "previousDigestHashValue": previous.map(|p| sha256_hex(&p.1)),
            "previousDigestHashAlgorithm": previous.map(|_| "SHA-256"),
            "previousDigestSignature": previous.map(|p| p.2.clone()),
            "logFiles": files,
        });
        let bytes = doc.to_string().into_bytes();
        let signing = format!(
            "{}\n{bucket}/{key}\n{}\n{}",
            end.format("%Y%m%dT%H%M%SZ"),
            sha256_hex(&bytes),
            previous.map_or("null".to_string(), |p| p.2.clone())
        );
        let signature = signer.sign(&signing);
        digests.push((key, bytes, signature));
    }
    (digests, logs)
}

fn run(
    signer: &Signer,
    digests: &[(String, Vec<u8>, String)],
    logs: &[(String, Vec<u8>)],
    hours: i64,
) -> digest::Verified {
    let keys: Vec<PublicKey> = digest::parse_public_keys(&signer.public_keys_json()).unwrap();
    let objects = digests
        .iter()
        .map(|(key, bytes, signature)| DigestObject {
            key: key.clone(),
            bytes: Ok(bytes.clone()),
            signature: Some(signature.clone()),
        })
        .collect();
    let states: HashMap<(String, String), LogFileState> = logs
        .iter()
        .map(|(k, c)| {
            (
                (BUCKET.to_string(), k.clone()),
                LogFileState::Present(sha256_hex(c)),
            )
        })
        .collect();
    digest::check(objects, &keys, &states, hour(0), hour(hours))
}

fn kinds(v: &digest::Verified) -> Vec<(ProblemKind, String)> {
    v.problems
        .iter()
        .map(|p| (p.kind, p.message.clone()))
        .collect()
}

#[test]
fn an_intact_chain_passes_and_each_tampering_gives_its_finding() {
    let signer = Signer::new();
    let (digests, logs) = chain(&signer, 4);

    let intact = run(&signer, &digests, &logs, 4);
    assert!(intact.problems.is_empty(), "{:?}", kinds(&intact));
    assert_eq!((intact.digests, intact.log_files), (4, 8));

    // A log file removed from the bucket.
    let removed: Vec<_> = logs
        .iter()
        .filter(|(k, _)| *k != log_key(1, 0))
        .cloned()
        .collect();
    let got = kinds(&run(&signer, &digests, &removed, 4));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, ProblemKind::Gap);
    assert!(
        got[0].1.contains(&log_key(1, 0)) && got[0].1.ends_with("is absent"),
        "{got:?}"
    );

    // A log file altered in place (an event deleted from it).
    let mut altered = logs.clone();
    altered[3].1 = br#"{"Records":[]}"#.to_vec();
    let got = kinds(&run(&signer, &digests, &altered, 4));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, ProblemKind::Altered);
    assert!(got[0].1.contains("hashes to"), "{got:?}");

    // A missing hour: the third digest deleted.
    let mut missing = digests.clone();
    missing.remove(2);
    let got = kinds(&run(&signer, &missing, &logs, 4));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, ProblemKind::Gap);
    assert!(got[0].1.contains("missing digest between"), "{got:?}");

    // A forged digest: the second one rewritten to list one log file fewer, signature kept.
    let mut forged = digests.clone();
    let mut doc: Value = serde_json::from_slice(&forged[1].1).unwrap();
    doc["logFiles"].as_array_mut().unwrap().remove(0);
    forged[1].1 = doc.to_string().into_bytes();
    let got = kinds(&run(&signer, &forged, &logs, 4));
    assert!(
        got.iter()
            .any(|(k, m)| *k == ProblemKind::Altered && m.contains("signature does not match")),
        "{got:?}"
    );
    // ...which the next digest's record of its hash says too.
    assert!(
        got.iter().any(|(k, m)| *k == ProblemKind::Altered
            && m.contains("does not hash to what the next digest")),
        "{got:?}"
    );

    // A digest signed by another key.
    let other = Signer {
        key: rsa::PrivateKey::new(&mut TestRng(99), 1024).unwrap(),
    };
    let (foreign, _) = chain(&other, 4);
    let got = kinds(&run(&signer, &foreign, &logs, 4));
    assert_eq!(got.len(), 4, "{got:?}");
    assert!(got.iter().all(|(k, _)| *k == ProblemKind::Altered));
}

#[test]
fn hours_not_covered_at_either_end_of_the_range_are_gaps() {
    let signer = Signer::new();
    let (digests, logs) = chain(&signer, 3);
    // Asked for six hours, three are covered.
    let keys = digest::parse_public_keys(&signer.public_keys_json()).unwrap();
    let objects = digests
        .iter()
        .map(|(key, bytes, signature)| DigestObject {
            key: key.clone(),
            bytes: Ok(bytes.clone()),
            signature: Some(signature.clone()),
        })
        .collect();
    let states = logs
        .iter()
        .map(|(k, c)| {
            (
                (BUCKET.to_string(), k.clone()),
                LogFileState::Present(sha256_hex(c)),
            )
        })
        .collect();
    let v = digest::check(objects, &keys, &states, hour(0), hour(6));
    let got = kinds(&v);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].1.contains("no digest from 2026-11-20 03:00:00 UTC"),
        "{got:?}"
    );
    // Nothing at all is a gap too.
    let none = digest::check(Vec::new(), &keys, &HashMap::new(), hour(0), hour(6));
    assert_eq!(none.problems.len(), 1);
    assert_eq!(none.problems[0].kind, ProblemKind::Gap);
}

#[test]
fn a_public_keys_file_that_is_not_list_public_keys_output_is_named() {
    let err = digest::parse_public_keys(r#"{"keys": []}"#).unwrap_err();
    assert!(err.contains("aws cloudtrail list-public-keys"), "{err}");
}
