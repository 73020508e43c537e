//! `eks-access-watch audit`: read the access that exists now (or a saved snapshot), grade it,
//! compare it with a baseline, print it. The logic is the library's ([`eks_access_watch::audit`]);
//! this only reads flags and files, builds clients, prints and picks the exit status.

use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::ValueEnum;

use eks_access_watch::audit::snapshot::Snapshot;
use eks_access_watch::audit::{self, AuditReport};
use eks_access_watch::config::{AuditConfig, ConfigError, check_targets};
use eks_access_watch::render;
use eks_access_watch::tuning::{self, Tuning};
use eks_access_watch::{RuleConfig, Severity};

#[derive(clap::Args)]
pub struct AuditArgs {
    /// Output format: tables per cluster (worst first), the report as JSON, one finding per
    /// line, Markdown for a ticket or pull-request comment, or one OCSF Detection Finding per
    /// line.
    #[arg(long, value_enum, default_value_t = AuditFormat::Text)]
    format: AuditFormat,
    #[command(flatten)]
    rules: super::RuleFlags,
    /// Exit with status 1 when any finding reaches this severity.
    #[arg(long, value_name = "SEVERITY")]
    fail_on: Option<Severity>,
    /// Region to audit (repeatable; default: the configured region).
    #[arg(long = "region", value_name = "REGION", conflicts_with = "snapshot")]
    regions: Vec<String>,
    /// Another account to audit through the reader role (repeatable; needs --role-template).
    /// The credentials' own account is always audited.
    #[arg(long = "account", value_name = "ID", conflicts_with = "snapshot")]
    accounts: Vec<String>,
    /// The reader role in other accounts, e.g. arn:aws:iam::{account}:role/eks-access-watch-reader.
    // No conflict with --snapshot: the variable may be set in the environment for other runs.
    #[arg(long, value_name = "ARN", env = "ENRICH_ROLE_ARN_TEMPLATE")]
    role_template: Option<String>,
    /// At most this many EKS calls in flight.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256), conflicts_with = "snapshot")]
    concurrency: u16,
    /// Audit a saved snapshot instead of reading AWS (offline: no credentials); `-` for stdin.
    #[arg(long, value_name = "FILE")]
    snapshot: Option<PathBuf>,
    /// Write the state read (the snapshot) to FILE.
    #[arg(long, value_name = "FILE")]
    write_snapshot: Option<PathBuf>,
    /// Compare with an earlier snapshot or a hand-written declaration in the same shape.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Write the current state as a baseline (what drift compares, without timestamps or tags).
    #[arg(long, value_name = "FILE")]
    write_baseline: Option<PathBuf>,
    /// A tag key every access entry must carry (repeatable).
    #[arg(long = "require-tag", value_name = "KEY")]
    require_tags: Vec<String>,
    /// More ClusterAdmin/Admin holders than this on one cluster is a finding.
    #[arg(long, value_name = "N", default_value_t = 5)]
    max_admins: usize,
    /// Judge tuning-file exception expiry as of this date (YYYY-MM-DD; default: today, UTC).
    #[arg(long, value_name = "DATE", requires = "config", value_parser = super::parse_date)]
    as_of: Option<chrono::NaiveDate>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AuditFormat {
    Text,
    Json,
    Ndjson,
    Markdown,
    Ocsf,
}

/// Validate every setting at once, so one run names every problem.
fn settings(args: &AuditArgs) -> Result<(RuleConfig, AuditConfig, Option<Tuning>), ConfigError> {
    let mut problems = check_targets(&args.regions, "--region", &args.accounts, "--account");
    let rules = args.rules.config().map_err(|e| problems.extend(e.problems));
    let tuning = match args.rules.config.as_deref().map(Tuning::read).transpose() {
        Ok(t) => t,
        Err(e) => {
            problems.extend(e.problems);
            None
        }
    };
    let config = AuditConfig::new(&args.require_tags, "--require-tag", args.max_admins)
        .map_err(|e| problems.extend(e.problems));
    if let Some(t) = &args.role_template
        && let Err(e) = eks_access_watch::arn::validate_role_template(t)
    {
        problems.push(format!("--role-template/ENRICH_ROLE_ARN_TEMPLATE: {e}"));
    }
    if !args.accounts.is_empty() && args.role_template.is_none() {
        problems.push(
            "--account: reading other accounts needs --role-template (or ENRICH_ROLE_ARN_TEMPLATE)"
                .to_string(),
        );
    }
    match (rules, config) {
        (Ok(r), Ok(c)) if problems.is_empty() => {
            let r = match &tuning {
                Some(t) => r.merge(&t.rules),
                None => r,
            };
            Ok((r, c, tuning))
        }
        _ => Err(ConfigError { problems }),
    }
}

fn read_file(path: &Path) -> anyhow::Result<String> {
    if path == Path::new("-") {
        let mut text = String::new();
        io::stdin().read_to_string(&mut text).context("stdin")?;
        return Ok(text);
    }
    std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))
}

fn load(path: &Path) -> anyhow::Result<Snapshot> {
    Ok(Snapshot::from_json(
        &path.display().to_string(),
        &read_file(path)?,
    )?)
}

fn write(path: &Path, snapshot: &Snapshot) -> anyhow::Result<()> {
    std::fs::write(path, snapshot.to_json())
        .with_context(|| format!("{}: cannot write", path.display()))
}

/// Read the live state with the caller's credentials.
#[cfg(feature = "aws")]
fn read_live(args: &AuditArgs) -> anyhow::Result<Snapshot> {
    use eks_access_watch::audit::read::{self, Reader};
    use eks_access_watch::aws::eks::EksClients;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let sdk = eks_access_watch::aws::load().await;
        let regions = if args.regions.is_empty() {
            let region = sdk
                .region()
                .map(|r| r.to_string())
                .context("no region configured: pass --region (repeatable) or set AWS_REGION")?;
            vec![region]
        } else {
            args.regions.clone()
        };
        // Reading other accounts needs to know which one the credentials are in.
        let home = if args.accounts.is_empty() {
            None
        } else {
            let who = aws_sdk_sts::Client::new(&sdk)
                .get_caller_identity()
                .send()
                .await
                .map_err(|e| eks_access_watch::aws::AwsError::from_sdk("GetCallerIdentity", &e))?;
            who.account().map(str::to_string)
        };
        let clients = EksClients::from_sdk_config(&sdk, home.clone(), args.role_template.clone())
            .with_retry(read::retry(sdk.retry_config()));
        let reader = Reader::new(clients, args.concurrency.into());
        let targets = read::targets(home.as_deref(), &args.accounts, &regions);
        Ok(reader.read(&targets, eks_access_watch::aws::now()).await)
    })
}

/// A build without the AWS side (`--no-default-features --features cli`) reads snapshots only.
#[cfg(not(feature = "aws"))]
fn read_live(_: &AuditArgs) -> anyhow::Result<Snapshot> {
    anyhow::bail!("{}", super::NO_AWS)
}

pub fn run(args: AuditArgs) -> anyhow::Result<ExitCode> {
    let (rules, config, tuning) = settings(&args)?;
    let today = args.as_of.unwrap_or_else(tuning::today_utc);
    // Files first: a bad baseline is reported before any AWS call.
    let baseline = args.baseline.as_deref().map(load).transpose()?;
    let snapshot = match &args.snapshot {
        Some(path) => load(path)?,
        None => read_live(&args)?,
    };
    if let Some(path) = &args.write_snapshot {
        write(path, &snapshot)?;
    }
    if let Some(path) = &args.write_baseline {
        write(path, &snapshot.baseline())?;
    }
    let tuned = tuning.as_ref().map(|tuning| audit::Tuned { tuning, today });
    let report = audit::audit(&snapshot, baseline.as_ref(), &rules, &config, tuned);
    if let Err(e) = print(&report, args.format) {
        // stdout closed (piped into `head`): nothing more can be shown.
        if e.kind() != io::ErrorKind::BrokenPipe {
            return Err(e.into());
        }
    }
    for f in report.unread() {
        eprintln!("eks-access-watch: error: {}", f.finding.summary);
    }
    Ok(if report.incomplete() {
        ExitCode::from(2)
    } else if args.fail_on.is_some_and(|s| {
        report
            .findings
            .iter()
            .any(|f| f.counts() && f.severity() >= s)
    }) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub(crate) fn print(report: &AuditReport, format: AuditFormat) -> io::Result<()> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    match format {
        AuditFormat::Text => {
            let colour = io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            out.write_all(render::audit::text(report, colour).as_bytes())?;
        }
        AuditFormat::Markdown => out.write_all(render::audit::markdown(report).as_bytes())?,
        AuditFormat::Json => {
            serde_json::to_writer_pretty(&mut out, report)?;
            out.write_all(b"\n")?;
        }
        AuditFormat::Ndjson => {
            for f in &report.findings {
                serde_json::to_writer(&mut out, f)?;
                out.write_all(b"\n")?;
            }
        }
        AuditFormat::Ocsf => {
            for f in &report.findings {
                let finding = render::ocsf::audit_finding(f, report.taken_at.as_deref());
                serde_json::to_writer(&mut out, &finding)?;
                out.write_all(b"\n")?;
            }
        }
    }
    out.flush()
}
