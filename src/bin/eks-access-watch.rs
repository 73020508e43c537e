//! The `eks-access-watch` command line: replay CloudTrail files and EKS audit logs offline
//! through the same code the Lambda runs, audit standing access (`audit`), plan the migration
//! from aws-auth (`migrate`), and print the rule catalogue.

#[path = "eks-access-watch/audit.rs"]
mod audit_cmd;
#[path = "eks-access-watch/migrate.rs"]
mod migrate;
#[cfg(feature = "aws")]
#[path = "eks-access-watch/s3.rs"]
mod s3_cmd;
#[path = "eks-access-watch/send.rs"]
mod send;

use std::collections::BTreeMap;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use clap::{Parser, Subcommand, ValueEnum};

use eks_access_watch::alert::Alert;
use eks_access_watch::context::state::{FileStore, MemoryStore, Store};
use eks_access_watch::context::{Context, History, correlate};
use eks_access_watch::ingest::{self, Options, Outcome, ReadMode, Stats};
use eks_access_watch::operation::Skip;
use eks_access_watch::pipeline::{self, Judged};
use eks_access_watch::render;
use eks_access_watch::tuning::{self, Tuning};
use eks_access_watch::{AccessEvent, Enrichment};
use eks_access_watch::{RuleConfig, Severity};

/// Watch who can reach your EKS clusters: grade CloudTrail access changes into alerts.
#[derive(Parser)]
#[command(name = "eks-access-watch", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replay CloudTrail records and EKS audit logs (files, directories, .gz, NDJSON, or - for
    /// stdin) offline and print one alert per watched event.
    Replay(ReplayArgs),
    /// Grade who can reach each cluster now (standing access, read-only EKS calls or a saved
    /// snapshot) and, with --baseline, what changed against an earlier or declared state.
    Audit(audit_cmd::AuditArgs),
    /// Plan the move from the aws-auth ConfigMap to access entries; with --live, compare with the
    /// cluster and say whether switching to API mode is safe.
    Migrate(migrate::MigrateArgs),
    /// Send the organisation trail's log files under s3://BUCKET/PREFIX to the deployed
    /// notification queue as S3 notifications, so the Lambda fleet reads them in parallel.
    #[cfg(feature = "aws")]
    Backfill(s3_cmd::BackfillArgs),
    /// Prove from CloudTrail's signed digests that every log file under s3://BUCKET/PREFIX
    /// is there and unchanged (trail-gap, trail-log-altered), with audit's formats and exit.
    #[cfg(feature = "aws")]
    VerifyTrail(s3_cmd::VerifyArgs),
    /// Print the rule catalogue (id, base severity, when it fires, why).
    Rules {
        /// Output format.
        #[arg(long, value_enum, default_value_t = RulesFormat::Text)]
        format: RulesFormat,
    },
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// Output format: a readable table, a JSON array, one JSON alert per line, or one OCSF
    /// Detection Finding per line (docs/sinks.md).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    rules: RuleFlags,
    /// Judge tuning-file exception expiry as of this date (YYYY-MM-DD; default: today, UTC).
    #[arg(long, value_name = "DATE", requires = "config", value_parser = parse_date)]
    as_of: Option<chrono::NaiveDate>,
    /// Print only alerts at or above this severity (info, low, medium, high, critical).
    #[arg(long, value_name = "SEVERITY", default_value = "info")]
    min_severity: Severity,
    /// Exit with status 1 when any alert reaches this severity (for CI over a CloudTrail export).
    #[arg(long, value_name = "SEVERITY")]
    fail_on: Option<Severity>,
    /// Describe the affected access entries and clusters through the EKS API (read-only calls,
    /// with your own AWS credentials) before grading. Off by default: replay stays offline.
    #[arg(long)]
    enrich: bool,
    /// Deadline for the EKS lookups of one event, with --enrich.
    #[arg(long, value_name = "MS", default_value_t = 3000, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    enrich_timeout_ms: u64,
    /// Parse every record fully, so a JSON syntax error inside another service's record is
    /// reported too (slower; by default only records that may be watched are parsed).
    #[arg(long)]
    strict: bool,
    /// The cluster of Kubernetes audit events whose input does not name it (audit NDJSON,
    /// filter-log-events output, CloudWatch Logs exports); a subscription payload names its
    /// own (log group /aws/eks/<cluster>/cluster).
    #[arg(long, value_name = "NAME")]
    cluster: Option<String>,
    /// Files read in parallel (default: the number of CPUs).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Print a summary (records read, alerts, problems, skips by reason) on stderr at the end.
    #[arg(long)]
    summary: bool,
    /// Keep correlation state in FILE (created if missing), so that replaying yesterday's
    /// export and then today's correlates across the two runs; default: in memory, this run
    /// only.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// The watcher's stack: a call on a resource whose name starts with NAME (or one named in
    /// WATCHER_RESOURCES, ALERT_TOPIC_ARN, FAILURE_QUEUE_URL, TUNING_PARAMETER_NAME) that
    /// disables or redirects it is a watcher-tampered alert.
    #[arg(long, value_name = "NAME", env = "WATCHER_STACK_NAME", default_value = eks_access_watch::config::DEFAULT_STACK_NAME)]
    stack_name: String,
    /// Send what replay finds to a configured sink, for backfills (securityhub, pagerduty;
    /// configured by the Lambda's variables, see docs/sinks.md). A dry run that names each
    /// alert the sink would receive unless --send is given.
    #[arg(long, value_enum, value_name = "NAME")]
    sink: Option<send::SinkName>,
    /// With --sink: really send, with your own AWS credentials (without it, nothing is sent).
    #[arg(long, requires = "sink")]
    send: bool,
    /// With s3:// inputs: the first day to read (YYYY-MM-DD, UTC, the day in the key).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    since: Option<chrono::NaiveDate>,
    /// With s3:// inputs: the last day to read (YYYY-MM-DD, inclusive).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    until: Option<chrono::NaiveDate>,
    /// Files or directories to read; `-` reads stdin; s3://BUCKET/PREFIX reads a trail's
    /// bucket (only the days --since..--until when given).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

/// Who may change access and which roles are break-glass: the same flags and variables for
/// every command and the Lambda.
#[derive(clap::Args)]
struct RuleFlags {
    /// ARN of automation allowed to change cluster access (repeatable; or comma-separated in
    /// APPROVED_CALLER_ARNS).
    #[arg(
        long = "approved-caller",
        value_name = "ARN",
        env = "APPROVED_CALLER_ARNS",
        value_delimiter = ','
    )]
    approved_callers: Vec<String>,
    /// ARN of a break-glass role (repeatable; or comma-separated in BREAK_GLASS_ROLE_ARNS).
    /// With none given, roles named like `break-glass` count.
    #[arg(
        long = "break-glass",
        value_name = "ARN",
        env = "BREAK_GLASS_ROLE_ARNS",
        value_delimiter = ','
    )]
    break_glass_roles: Vec<String>,
    /// Tuning file (TOML): approved callers and break-glass roles (added to the flags and
    /// environment), rule overrides and exceptions. See docs/tuning.md.
    #[arg(long = "config", value_name = "FILE")]
    config: Option<PathBuf>,
}

impl RuleFlags {
    /// The rule configuration of the flags and environment alone.
    fn config(&self) -> Result<RuleConfig, eks_access_watch::ConfigError> {
        RuleConfig::new(
            &self.approved_callers,
            "--approved-caller/APPROVED_CALLER_ARNS",
            &self.break_glass_roles,
            "--break-glass/BREAK_GLASS_ROLE_ARNS",
        )
    }

    /// The rule configuration of the flags and environment, and the tuning file (whose lists
    /// are added to theirs), when one is given.
    fn load(&self) -> anyhow::Result<(RuleConfig, Option<Tuning>)> {
        let config = self.config()?;
        let tuning = self.config.as_deref().map(Tuning::read).transpose()?;
        let config = match &tuning {
            Some(t) => config.merge(&t.rules),
            None => config,
        };
        Ok((config, tuning))
    }
}

fn parse_date(v: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .map_err(|_| format!("`{v}` is not a date (YYYY-MM-DD)"))
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
    Ndjson,
    Ocsf,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RulesFormat {
    Text,
    Markdown,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Replay(args) => match replay(args) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("eks-access-watch: error: {e:#}");
                ExitCode::from(2)
            }
        },
        Command::Audit(args) => match audit_cmd::run(args) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("eks-access-watch: error: {e:#}");
                ExitCode::from(2)
            }
        },
        Command::Migrate(args) => migrate::run(args),
        #[cfg(feature = "aws")]
        Command::VerifyTrail(args) => match s3_cmd::verify(args) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("eks-access-watch: error: {e:#}");
                ExitCode::from(2)
            }
        },
        #[cfg(feature = "aws")]
        Command::Backfill(args) => match s3_cmd::backfill(args) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("eks-access-watch: error: {e:#}");
                ExitCode::from(2)
            }
        },
        Command::Rules { format } => {
            print!(
                "{}",
                match format {
                    RulesFormat::Text => render::docs::catalogue_text(),
                    RulesFormat::Markdown => render::docs::catalogue_markdown(),
                }
            );
            ExitCode::SUCCESS
        }
    }
}

fn replay(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let (config, tuning) = args.rules.load()?;
    let config = config.with_watcher(eks_access_watch::config::WatcherResources::from_env(
        Some(&args.stack_name),
        &|k| std::env::var(k).ok(),
    ));
    let today = args.as_of.unwrap_or_else(tuning::today_utc);
    if let Some(t) = &tuning {
        for f in t.expired_findings(today) {
            eprintln!("eks-access-watch: warning: {}", f.summary);
        }
    }
    let tuning = tuning.as_ref();
    // s3://BUCKET/PREFIX inputs are listed and read from S3; the rest are paths.
    let (urls, paths): (Vec<PathBuf>, Vec<PathBuf>) = args
        .paths
        .iter()
        .cloned()
        .partition(|p| p.to_str().is_some_and(|s| s.starts_with("s3://")));
    let urls: Vec<String> = urls
        .into_iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if (args.since.is_some() || args.until.is_some()) && urls.is_empty() {
        anyhow::bail!("--since and --until select the days of s3:// inputs; no s3:// input given");
    }
    if let (Some(since), Some(until)) = (args.since, args.until)
        && since > until
    {
        anyhow::bail!("--since {since} is after --until {until}");
    }
    let inputs = ingest::expand_paths(&paths)?;
    let online = if args.enrich {
        Some(Online::new(args.enrich_timeout_ms)?)
    } else {
        None
    };
    let mode = if args.strict {
        ReadMode::Strict
    } else {
        ReadMode::Fast
    };
    let store: Box<dyn Store> = match &args.state {
        Some(path) => Box::new(FileStore::open(path)?),
        None => Box::new(MemoryStore::new()),
    };
    // Files in parallel; enrichment goes one event at a time through one runtime.
    let jobs = if online.is_some() {
        1
    } else {
        args.jobs
            .unwrap_or_else(default_jobs)
            .clamp(1, inputs.len().max(1))
    };

    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let colour = io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut printer = Printer {
        format: args.format,
        colour,
        first: true,
        out: &mut out,
    };
    printer.start()?;

    let mut problems = 0u64;
    let mut highest: Option<Severity> = None;
    let mut shown = 0u64;
    let mut totals = Stats::default();
    let mut skips: BTreeMap<String, u64> = BTreeMap::new();
    // Reports arrive in any order from the workers and are shown in input order.
    let mut show = |report: FileReport, printer: &mut Printer<_>| -> io::Result<()> {
        for alert in &report.alerts {
            highest = highest.max(Some(alert.severity));
            if alert.severity >= args.min_severity {
                shown += 1;
                printer.alert(alert)?;
            }
        }
        for message in &report.problems {
            problems += 1;
            eprintln!("eks-access-watch: error: {message}");
        }
        totals.add(report.stats);
        for (reason, count) in report.skips {
            *skips.entry(reason).or_insert(0) += count;
        }
        if report.other_services > 0 {
            *skips
                .entry("records of other services".to_string())
                .or_insert(0) += report.other_services;
        }
        Ok(())
    };
    // Every input is read in parallel (ingest and its own history), then every event is
    // judged in event-time order (correlation spans the inputs), then shown in input order.
    let next = AtomicUsize::new(0);
    let mut reports: Vec<FileReport> = std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<(usize, FileReport)>();
        for _ in 0..jobs {
            let (tx, next, inputs, config) = (tx.clone(), &next, &inputs, &config);
            let options = Options::new(config)
                .mode(mode)
                .cluster(args.cluster.as_deref());
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = inputs.get(i) else { break };
                    if tx.send((i, process_file(path, &options))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut all: Vec<(usize, FileReport)> = rx.into_iter().collect();
        all.sort_by_key(|(i, _)| *i);
        all.into_iter().map(|(_, r)| r).collect()
    });
    let mut inputs_read = inputs.len();
    if !urls.is_empty() {
        let options = Options::new(&config)
            .mode(mode)
            .cluster(args.cluster.as_deref());
        let read = read_s3(
            &urls,
            args.since,
            args.until,
            &options,
            args.jobs.unwrap_or_else(default_jobs),
        )?;
        inputs_read += read.len().saturating_sub(urls.len());
        reports.extend(read);
    }
    let grading = Grading {
        config: &config,
        tuning,
        today,
    };
    grading.judge_all(&mut reports, store.as_ref(), online.as_ref());
    // `--sink`: every alert, whatever --min-severity shows (updates of what the sink holds go
    // whatever the minimums say).
    let for_sink: Vec<Alert> = match args.sink {
        Some(_) => reports
            .iter()
            .flat_map(|r| r.alerts.iter().cloned())
            .collect(),
        None => Vec::new(),
    };
    let result = reports
        .into_iter()
        .try_for_each(|report| show(report, &mut printer));
    if let Err(e) = result {
        // stdout closed (e.g. piped into `head`): stop quietly, nothing more can be shown.
        if e.kind() == io::ErrorKind::BrokenPipe {
            return Ok(ExitCode::SUCCESS);
        }
        return Err(e.into());
    }
    printer.finish()?;
    out.flush()?;
    if let Some(sink) = args.sink {
        let alerts: Vec<&Alert> = for_sink.iter().collect();
        let sent = send::run(&alerts, sink, args.send, args.min_severity)?;
        problems += sent.failed;
    }
    if args.summary {
        eprintln!(
            "eks-access-watch: {} inputs, {} records, {} watched, {} alerts shown, {} problems",
            inputs_read, totals.records, totals.watched, shown, problems
        );
        for (reason, count) in &skips {
            eprintln!("eks-access-watch:   skipped {count}: {reason}");
        }
    }
    Ok(if problems > 0 {
        ExitCode::from(2)
    } else if args
        .fail_on
        .is_some_and(|f| highest.is_some_and(|h| h >= f))
    {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Everything one input produced, in order.
#[derive(Default)]
struct FileReport {
    /// Watched events, completed by the input's history, in input order (judged after every
    /// input is read: correlation takes them in event-time order).
    events: Vec<AccessEvent>,
    alerts: Vec<Alert>,
    problems: Vec<String>,
    stats: Stats,
    skips: BTreeMap<String, u64>,
    other_services: u64,
}

/// How alerts are graded: the rule configuration, and the tuning file with the date its
/// exceptions are judged on.
struct Grading<'a> {
    config: &'a RuleConfig,
    tuning: Option<&'a Tuning>,
    today: chrono::NaiveDate,
}

impl Grading<'_> {
    /// The pipeline's judgement of an event in its context.
    fn judge(&self, event: &AccessEvent, context: &Context) -> Judged {
        pipeline::judge(event, context, self.config, self.tuning, self.today)
    }

    /// Judge every input's events: the context stage (correlation against `store` in
    /// event-time order across all inputs, then enrichment with --enrich), then the pipeline.
    /// Alerts land in their input's report in input order, so reading inputs in parallel
    /// never changes the result.
    fn judge_all(&self, reports: &mut [FileReport], store: &dyn Store, online: Option<&Online>) {
        let settings = self.tuning.and_then(|t| t.correlation).unwrap_or_default();
        let mut order: Vec<(i64, usize, usize)> = Vec::new();
        for (f, report) in reports.iter().enumerate() {
            for (e, event) in report.events.iter().enumerate() {
                order.push((correlate::epoch(event).unwrap_or(i64::MAX), f, e));
            }
        }
        order.sort_unstable();
        let mut judged: Vec<Vec<Option<Judged>>> = reports
            .iter()
            .map(|r| (0..r.events.len()).map(|_| None).collect())
            .collect();
        for (_, f, e) in order {
            let event = &reports[f].events[e];
            let correlation = correlate::observe_in(store, event, self.config, &settings);
            let context = Context {
                enrichment: online.and_then(|o| o.enrich(event)),
                correlation: Some(correlation),
                ..Context::default()
            };
            judged[f][e] = Some(self.judge(event, &context));
        }
        for (report, judged) in reports.iter_mut().zip(judged) {
            for j in judged.into_iter().flatten() {
                match j {
                    Judged::Alert(alert) => report.alerts.push(*alert),
                    Judged::Disabled { .. } => {
                        *report
                            .skips
                            .entry("every finding's rule disabled in the tuning file".to_string())
                            .or_insert(0) += 1
                    }
                }
            }
        }
    }
}

fn process_file(path: &std::path::Path, options: &Options) -> FileReport {
    match ingest::open(path) {
        Ok(reader) => process_reader(&path.display().to_string(), reader, options),
        Err(e) => FileReport {
            problems: vec![e.to_string()],
            ..FileReport::default()
        },
    }
}

/// One input's records (a file, an S3 object), already decompressed, into its report.
fn process_reader(name: &str, reader: impl io::BufRead, options: &Options) -> FileReport {
    let mut report = FileReport::default();
    // The context stage's per-input part: what this input's earlier events showed.
    let mut history = History::default();
    // Events the context stage found nothing to alert on: skipped, not watched.
    let mut quiet = 0;
    let result = ingest::scan(name, reader, options, &mut |outcome| match outcome {
        Outcome::Watched { mut event, .. } => {
            if let Some(reason) = history.observe(&mut event) {
                quiet += 1;
                *report.skips.entry(reason.to_string()).or_insert(0) += 1;
                return;
            }
            report.events.push(*event);
        }
        // Nearly every record is another service's: counted without building a key.
        Outcome::Skipped {
            reason: Skip::OtherService(_),
            ..
        } => report.other_services += 1,
        Outcome::Skipped { reason, .. } => {
            *report.skips.entry(reason.to_string()).or_insert(0) += 1
        }
        // An S3 notification in a file: the object it names is not fetched by a file replay.
        Outcome::Object { location, object } => report.problems.push(format!(
            "{location}: an S3 notification of {object}: replay the object itself (replay {object})"
        )),
        Outcome::Invalid(error) => report.problems.push(error.to_string()),
    });
    match result {
        Ok(mut stats) => {
            stats.watched -= quiet;
            stats.skipped += quiet;
            report.stats = stats;
        }
        Err(e) => report.problems.push(e.to_string()),
    }
    report
}

/// `replay s3://...`: the objects' reports (see `s3_cmd`).
#[cfg(feature = "aws")]
fn read_s3(
    urls: &[String],
    since: Option<chrono::NaiveDate>,
    until: Option<chrono::NaiveDate>,
    options: &Options,
    jobs: usize,
) -> anyhow::Result<Vec<FileReport>> {
    s3_cmd::read_all(urls, since, until, options, jobs)
}

#[cfg(not(feature = "aws"))]
fn read_s3(
    _: &[String],
    _: Option<chrono::NaiveDate>,
    _: Option<chrono::NaiveDate>,
    _: &Options,
    _: usize,
) -> anyhow::Result<Vec<FileReport>> {
    anyhow::bail!("s3:// inputs: {NO_AWS}")
}

/// What a build without the AWS side says when asked to call AWS.
#[cfg(not(feature = "aws"))]
const NO_AWS: &str = "this build has no AWS side (built with --no-default-features --features cli): it reads files only; build with the default features for --enrich, a live audit or migrate --live (cargo run --release -- ...)";

/// `--enrich`: the Lambda's enrichment code with the caller's credentials, one event at a time.
#[cfg(feature = "aws")]
struct Online {
    runtime: tokio::runtime::Runtime,
    enricher: eks_access_watch::context::eks::Enricher,
}

#[cfg(feature = "aws")]
impl Online {
    fn new(timeout_ms: u64) -> anyhow::Result<Self> {
        use eks_access_watch::context::eks::{EnrichSettings, Enricher};
        use std::time::Duration;

        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let sdk = runtime.block_on(eks_access_watch::aws::load());
        let settings = EnrichSettings {
            timeout: Duration::from_millis(timeout_ms),
            ..EnrichSettings::default()
        };
        Ok(Online {
            enricher: Enricher::from_sdk_config(&sdk, settings),
            runtime,
        })
    }

    fn enrich(&self, event: &AccessEvent) -> Option<Enrichment> {
        self.runtime.block_on(self.enricher.enrich(event))
    }
}

/// Without the AWS side there is no enrichment: `--enrich` is refused before anything is read.
#[cfg(not(feature = "aws"))]
struct Online;

#[cfg(not(feature = "aws"))]
impl Online {
    fn new(_: u64) -> anyhow::Result<Self> {
        anyhow::bail!("--enrich: {NO_AWS}")
    }

    fn enrich(&self, _: &AccessEvent) -> Option<Enrichment> {
        None
    }
}

struct Printer<'w, W: Write> {
    format: Format,
    colour: bool,
    first: bool,
    out: &'w mut W,
}

impl<W: Write> Printer<'_, W> {
    fn start(&mut self) -> io::Result<()> {
        match self.format {
            Format::Json => self.out.write_all(b"["),
            Format::Text => writeln!(self.out, "{}", render::table_header()),
            Format::Ndjson | Format::Ocsf => Ok(()),
        }
    }

    fn alert(&mut self, alert: &Alert) -> io::Result<()> {
        match self.format {
            Format::Ndjson => {
                serde_json::to_writer(&mut *self.out, &render::json::document(alert))?;
                self.out.write_all(b"\n")
            }
            Format::Ocsf => {
                serde_json::to_writer(&mut *self.out, &render::ocsf::alert(alert))?;
                self.out.write_all(b"\n")
            }
            Format::Json => {
                if !self.first {
                    self.out.write_all(b",")?;
                }
                self.first = false;
                self.out.write_all(b"\n  ")?;
                serde_json::to_writer(&mut *self.out, &render::json::document(alert))?;
                Ok(())
            }
            Format::Text => self
                .out
                .write_all(render::table_row(alert, self.colour).as_bytes()),
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        match self.format {
            Format::Json => self
                .out
                .write_all(if self.first { b"]\n" } else { b"\n]\n" }),
            _ => Ok(()),
        }
    }
}
