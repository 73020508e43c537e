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

pub fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    use chrono::Utc;
    use eks_access_watch::aws::trail_verify;
    use eks_access_watch::trail::digest;
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
    let range = trail_verify::Range::new(args.since, args.until, Utc::now());
    let (bucket, prefix) = s3::parse_url(&args.url)
        .with_context(|| format!("{}: not an s3://BUCKET/PREFIX URL", args.url))?;
    let rt = runtime()?;
    let sdk = rt.block_on(eks_access_watch::aws::load());
    let client = s3::client(&sdk);
    let keys = match file_keys {
        Some(k) => k,
        None => {
            let ct = aws_sdk_cloudtrail::Client::new(&sdk);
            rt.block_on(eks_access_watch::aws::cloudtrail::list_public_keys(
                &ct,
                range.from.into(),
                range.until_end.into(),
            ))
            .context("cannot read CloudTrail's public keys (or pass --public-keys FILE)")?
        }
    };
    let jobs = args.jobs.unwrap_or_else(super::default_jobs);
    let verified = rt.block_on(trail_verify::verify(
        &client, &bucket, &prefix, range, &keys, jobs,
    ))?;
    let (from, to) = (range.from, range.to);
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
