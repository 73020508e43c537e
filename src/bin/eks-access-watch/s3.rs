//! `replay s3://BUCKET/PREFIX` and `backfill`: the organisation trail's bucket read directly
//! with the caller's (read-only) credentials.
//!
//! Listing uses CloudTrail's layout to list only the days asked for (`--since`, `--until`;
//! see `aws::s3::list_trail`). Objects are read by `jobs` worker threads, each streaming its
//! object (GetObject) through gzip into the same ingest as a local file, so memory stays flat
//! and at most `jobs` objects are open at once; the SDK's standard retries apply to every call.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use anyhow::Context as _;
use chrono::NaiveDate;
use eks_access_watch::aws::s3::{self, Listed};
use eks_access_watch::ingest::{self, Options};
use eks_access_watch::trail::layout::{self, KeyKind};

use super::FileReport;

/// `f` over every item on `jobs` worker threads (at most one per item), the results in the
/// items' order: bounded concurrency for S3 reads whose bodies are parsed or hashed as they
/// stream in.
fn parallel<T: Sync, R: Send>(items: &[T], jobs: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<(usize, R)>> = Mutex::new(Vec::with_capacity(items.len()));
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            let (next, done, f) = (&next, &done, &f);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = f(item);
                    done.lock().unwrap_or_else(|p| p.into_inner()).push((i, r));
                }
            });
        }
    });
    let mut done = done.into_inner().unwrap_or_else(|p| p.into_inner());
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    // Two threads drive the HTTP streams; the workers parse on their own threads.
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// The log files under one `s3://` URL within the dates, and a report of what was skipped.
async fn list_log_files(
    client: &aws_sdk_s3::Client,
    url: &str,
    since: Option<NaiveDate>,
    until: Option<NaiveDate>,
) -> anyhow::Result<(String, Vec<Listed>, FileReport)> {
    let (bucket, prefix) =
        s3::parse_url(url).with_context(|| format!("{url}: not an s3://BUCKET/PREFIX URL"))?;
    let (listed, _) = s3::list_trail(client, &bucket, &prefix, "CloudTrail", since, until)
        .await
        .with_context(|| format!("{url}: cannot list the objects"))?;
    let mut skipped = FileReport::default();
    let mut logs = Vec::new();
    for object in listed {
        match layout::classify(&object.key) {
            KeyKind::LogFile(_) => logs.push(object),
            KeyKind::Digest => {
                *skipped
                    .skips
                    .entry("CloudTrail digest file".into())
                    .or_insert(0) += 1
            }
            KeyKind::Insight => {
                *skipped
                    .skips
                    .entry("CloudTrail Insights file".into())
                    .or_insert(0) += 1
            }
            KeyKind::Other(why) => {
                *skipped
                    .skips
                    .entry(format!("not a CloudTrail log file: {why}"))
                    .or_insert(0) += 1
            }
        }
    }
    Ok((bucket, logs, skipped))
}

/// Read every log file the `s3://` URLs name: one report per object, in listing order, plus
/// one per URL with what was skipped. `Err` when a listing fails (nothing would be complete).
pub fn read_all(
    urls: &[String],
    since: Option<NaiveDate>,
    until: Option<NaiveDate>,
    options: &Options,
    jobs: usize,
) -> anyhow::Result<Vec<FileReport>> {
    let rt = runtime()?;
    let sdk = rt.block_on(eks_access_watch::aws::load());
    let client = s3::client(&sdk);
    let mut objects: Vec<(String, Listed)> = Vec::new();
    let mut reports = Vec::new();
    for url in urls {
        let (bucket, logs, skipped) = rt.block_on(list_log_files(&client, url, since, until))?;
        objects.extend(logs.into_iter().map(|o| (bucket.clone(), o)));
        reports.push(skipped);
    }
    let total_bytes: u64 = objects.iter().map(|(_, o)| o.size).sum();
    let progress = Progress::new(objects.len(), total_bytes);
    let handle = rt.handle().clone();
    let read = parallel(&objects, jobs, |(bucket, object)| {
        let report = read_one(&handle, &client, bucket, &object.key, options);
        progress.add(object.size, report.events.len() as u64);
        report
    });
    progress.finish();
    reports.extend(read);
    Ok(reports)
}

/// One object: GetObject on the runtime, then the body read synchronously on this worker.
fn read_one(
    handle: &tokio::runtime::Handle,
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    options: &Options,
) -> FileReport {
    let name = format!("s3://{bucket}/{key}");
    let body = match handle.block_on(s3::open(client, bucket, key)) {
        Ok(body) => body,
        Err(e) => {
            return FileReport {
                problems: vec![format!("{name}: {e}")],
                ..FileReport::default()
            };
        }
    };
    let reader = io::BufReader::with_capacity(
        256 * 1024,
        tokio_util::io::SyncIoBridge::new_with_handle(body, handle.clone()),
    );
    match ingest::decompress(reader, &name) {
        Ok(reader) => super::process_reader(&name, reader, options),
        Err(e) => FileReport {
            problems: vec![e.to_string()],
            ..FileReport::default()
        },
    }
}

/// A progress line on stderr (objects, bytes, watched events), only when stderr is a terminal.
struct Progress {
    on: bool,
    objects: usize,
    bytes: u64,
    done: AtomicUsize,
    read: AtomicU64,
    watched: AtomicU64,
}

impl Progress {
    fn new(objects: usize, bytes: u64) -> Self {
        Progress {
            on: io::stderr().is_terminal(),
            objects,
            bytes,
            done: AtomicUsize::new(0),
            read: AtomicU64::new(0),
            watched: AtomicU64::new(0),
        }
    }

    fn add(&self, bytes: u64, watched: u64) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let read = self.read.fetch_add(bytes, Ordering::Relaxed) + bytes;
        let watched = self.watched.fetch_add(watched, Ordering::Relaxed) + watched;
        if self.on {
            eprint!(
                "\r\x1b[Keks-access-watch: {done}/{} objects, {:.1}/{:.1} MB, {watched} watched events",
                self.objects,
                read as f64 / 1e6,
                self.bytes as f64 / 1e6
            );
        }
    }

    fn finish(&self) {
        if self.on && self.done.load(Ordering::Relaxed) > 0 {
            eprintln!();
        }
    }
}

/// `backfill`: the log files under the URL, sent to the queue as S3 notifications.
#[derive(clap::Args)]
pub struct BackfillArgs {
    /// The trail's bucket and prefix: s3://BUCKET/PREFIX (e.g. s3://org-trail/AWSLogs/o-abc/).
    #[arg(value_name = "S3_URL")]
    url: String,
    /// The notification queue's URL (the stack's OrgTrailQueueUrl output).
    #[arg(long, value_name = "URL")]
    queue: String,
    /// First day to send (YYYY-MM-DD, UTC, as in the key); default: from the first.
    #[arg(long, value_name = "DATE", value_parser = super::parse_date)]
    since: Option<NaiveDate>,
    /// Last day to send (YYYY-MM-DD, inclusive); default: to the last.
    #[arg(long, value_name = "DATE", value_parser = super::parse_date)]
    until: Option<NaiveDate>,
}

/// List, then send ten notifications per SendMessageBatch. Rerunning sends them again; the
/// Lambda's delivered-once store keeps each event from alerting twice.
pub fn backfill(args: BackfillArgs) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    let sdk = rt.block_on(eks_access_watch::aws::load());
    let client = s3::client(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let (bucket, logs, skipped) =
        rt.block_on(list_log_files(&client, &args.url, args.since, args.until))?;
    let listed = logs.len() + skipped.skips.values().sum::<u64>() as usize;
    let now = eks_access_watch::aws::now();
    // The bucket's region as the command's (AWS_REGION must name it for the reads anyway).
    let region = sdk.region().map(|r| r.to_string());
    let bodies: Vec<String> = logs
        .iter()
        .map(|o| ingest::notification(&bucket, region.as_deref(), &o.key, o.size, &now).to_string())
        .collect();
    let mut sent = 0usize;
    let mut refused = Vec::new();
    let batch = eks_access_watch::aws::sqs::BATCH;
    for (n, chunk) in bodies.chunks(batch).enumerate() {
        let failed = rt
            .block_on(eks_access_watch::aws::sqs::send_batch(
                &sqs,
                &args.queue,
                chunk,
            ))
            .with_context(|| format!("{}: cannot send", args.queue))?;
        sent += chunk.len() - failed.len();
        refused.extend(failed.into_iter().map(|(i, why)| {
            let key = logs.get(n * batch + i).map_or("?", |o| o.key.as_str());
            format!("{key}: {why}")
        }));
    }
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "listed {listed} objects under {} ({} log files), sent {sent} notifications to {}",
        args.url,
        logs.len(),
        args.queue
    )?;
    for (reason, n) in &skipped.skips {
        writeln!(out, "  skipped {n}: {reason}")?;
    }
    for r in &refused {
        eprintln!("eks-access-watch: error: not sent: {r}");
    }
    Ok(if refused.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// `verify-trail`: prove from CloudTrail's digests that every log file is there, unchanged.
#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The trail's bucket and prefix: s3://BUCKET/PREFIX (e.g. s3://org-trail/AWSLogs/o-abc/).
    #[arg(value_name = "S3_URL")]
    url: String,
    /// First day to verify (YYYY-MM-DD, UTC).
    #[arg(long, value_name = "DATE", value_parser = super::parse_date)]
    since: NaiveDate,
    /// Last day to verify (YYYY-MM-DD, inclusive).
    #[arg(long, value_name = "DATE", value_parser = super::parse_date)]
    until: NaiveDate,
    /// CloudTrail's public keys as `aws cloudtrail list-public-keys` prints them (offline);
    /// default: ListPublicKeys with your credentials.
    #[arg(long, value_name = "FILE")]
    public_keys: Option<std::path::PathBuf>,
    /// Output format, as `audit`'s.
    #[arg(long, value_enum, default_value_t = super::audit_cmd::AuditFormat::Text)]
    format: super::audit_cmd::AuditFormat,
    /// Exit with status 1 when any finding reaches this severity.
    #[arg(long, value_name = "SEVERITY")]
    fail_on: Option<eks_access_watch::Severity>,
    /// Log files hashed in parallel (default: the number of CPUs).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
}

/// The digest's uncompressed bytes (digests are gzip-compressed JSON).
fn gunzip(bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    use std::io::Read;
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes);
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(&bytes[..])
        .read_to_end(&mut out)
        .map_err(|e| format!("compressed data is corrupt or truncated: {e}"))?;
    Ok(out)
}

/// The SHA-256 of a log file's uncompressed content, streamed (a log file is never held whole).
fn hash_log(
    handle: &tokio::runtime::Handle,
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> eks_access_watch::trail::digest::LogFileState {
    use eks_access_watch::trail::digest::LogFileState;
    use sha2::Digest as _;
    use std::io::Read;
    let body = match handle.block_on(s3::open_if_present(client, bucket, key)) {
        Ok(Some(body)) => body,
        Ok(None) => return LogFileState::Absent,
        Err(e) => return LogFileState::Unreadable(e.to_string()),
    };
    let reader = io::BufReader::with_capacity(
        256 * 1024,
        tokio_util::io::SyncIoBridge::new_with_handle(body, handle.clone()),
    );
    let mut reader = match ingest::decompress(reader, key) {
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
}

pub fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    use chrono::{TimeZone, Utc};
    use eks_access_watch::trail::digest::{self, DigestObject};
    use std::collections::HashMap;
    if args.since > args.until {
        anyhow::bail!("--since {} is after --until {}", args.since, args.until);
    }
    // Keys from the file first: a bad file is reported before any call.
    let file_keys = match &args.public_keys {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("{}: cannot read", path.display()))?;
            Some(
                digest::parse_public_keys(&text)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
            )
        }
        None => None,
    };
    let from = Utc.from_utc_datetime(&args.since.and_hms_opt(0, 0, 0).unwrap_or_default());
    let until_end = Utc.from_utc_datetime(
        &(args.until + chrono::Days::new(1))
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default(),
    );
    // Hours not yet over (or whose digest CloudTrail has not yet written) are not asked for.
    let to = until_end.min(Utc::now() - chrono::Duration::hours(1));
    let (bucket, prefix) = s3::parse_url(&args.url)
        .with_context(|| format!("{}: not an s3://BUCKET/PREFIX URL", args.url))?;
    let rt = runtime()?;
    let sdk = rt.block_on(eks_access_watch::aws::load());
    let client = s3::client(&sdk);
    // A digest is filed under the day its hour ends: the day after --until holds the last.
    let (listed, _) = rt
        .block_on(s3::list_trail(
            &client,
            &bucket,
            &prefix,
            "CloudTrail-Digest",
            Some(args.since),
            Some(args.until + chrono::Days::new(1)),
        ))
        .with_context(|| format!("{}: cannot list the digests", args.url))?;
    let in_range = |key: &str| {
        let stamp = key
            .rsplit('_')
            .next()
            .and_then(|s| s.strip_suffix(".json.gz"));
        stamp
            .and_then(|s| chrono::NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%SZ").ok())
            .map(|t| Utc.from_utc_datetime(&t))
            .is_some_and(|end| end > from && end <= to + chrono::Duration::hours(1))
    };
    let digests: Vec<Listed> = listed
        .into_iter()
        .filter(|o| layout::classify(&o.key) == KeyKind::Digest && in_range(&o.key))
        .collect();
    let jobs = args.jobs.unwrap_or_else(super::default_jobs);
    let handle = rt.handle().clone();
    // A digest that cannot be read (S3 refusing) stops the command: it proves nothing either way.
    let objects: Vec<DigestObject> = parallel(&digests, jobs, |o| {
        let got = handle
            .block_on(s3::get_signed(&client, &bucket, &o.key))
            .with_context(|| format!("s3://{bucket}/{}: cannot read", o.key))?;
        let (bytes, signature) = match got {
            Some((bytes, signature)) => (gunzip(bytes), signature),
            None => (Err("deleted while listed".to_string()), None),
        };
        Ok(DigestObject {
            key: o.key.clone(),
            bytes,
            signature,
        })
    })
    .into_iter()
    .collect::<anyhow::Result<_>>()?;
    let keys = match file_keys {
        Some(k) => k,
        None => {
            let ct = aws_sdk_cloudtrail::Client::new(&sdk);
            rt.block_on(eks_access_watch::aws::cloudtrail::list_public_keys(
                &ct,
                from.into(),
                until_end.into(),
            ))
            .context("cannot read CloudTrail's public keys (or pass --public-keys FILE)")?
        }
    };
    // Every log file the digests list, hashed by the workers.
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
    let hashed = parallel(&wanted, jobs, |(b, k)| hash_log(&handle, &client, b, k));
    let states: HashMap<(String, String), digest::LogFileState> =
        wanted.into_iter().zip(hashed).collect();
    let verified = digest::check(objects, &keys, &states, from, to);
    let report = eks_access_watch::audit::trail::report(&verified, &eks_access_watch::aws::now());
    if let Err(e) = super::audit_cmd::print(&report, args.format)
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        return Err(e.into());
    }
    eprintln!(
        "eks-access-watch: {} digests, {} log files checked from {from} to {to}: {}",
        verified.digests,
        verified.log_files,
        report.counts.describe()
    );
    Ok(
        if args
            .fail_on
            .is_some_and(|s| report.findings.iter().any(|f| f.severity() >= s))
        {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        },
    )
}
