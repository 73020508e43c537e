//! `eks-access-watch migrate`: read the ConfigMap, read the cluster with `--live`, print the
//! plan in the chosen format, and turn the verdict into the exit status with `--check`.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use eks_access_watch::awsauth;
use eks_access_watch::migrate::{self, Format, Options};

use super::RuleFlags;

#[derive(clap::Args)]
pub struct MigrateArgs {
    /// Output format: text, json, terraform, cli or cloudformation.
    #[arg(long, value_name = "FORMAT", default_value = "text")]
    format: Format,
    /// The cluster the entries are for (named in the outputs; required with --live).
    #[arg(long, value_name = "NAME")]
    cluster: Option<String>,
    /// The cluster's AWS region (default: the configured one); also written into the cli script.
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// Compare with the cluster through read-only EKS and IAM calls, with your AWS credentials.
    #[arg(long, requires = "cluster")]
    live: bool,
    /// With --live: exit 0 when switching to API mode is safe, 1 when it is not, 2 on an input
    /// or API error.
    #[arg(long, requires = "live")]
    check: bool,
    #[command(flatten)]
    rules: RuleFlags,
    /// The aws-auth ConfigMap as `kubectl get configmap aws-auth -n kube-system -o yaml` (or
    /// `-o json`) prints it, a file holding only its `data`, or `-` for stdin.
    #[arg(value_name = "FILE")]
    input: PathBuf,
}

/// Exit 0 (done; with --check: safe), 1 (--check: not safe), 2 (input or API error).
pub fn run(args: MigrateArgs) -> ExitCode {
    let plan = match make_plan(&args) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("eks-access-watch: error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let text = migrate::render(&plan, args.format, args.region.as_deref());
    if let Err(e) = io::stdout().lock().write_all(text.as_bytes())
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        eprintln!("eks-access-watch: error: writing the plan: {e}");
        return ExitCode::from(2);
    }
    match (args.check, plan.safe_to_switch) {
        (true, Some(true)) | (false, _) => ExitCode::SUCCESS,
        (true, _) => ExitCode::from(1),
    }
}

fn make_plan(args: &MigrateArgs) -> anyhow::Result<migrate::Plan> {
    let (config, _tuning) = args.rules.load()?;
    let name = args.input.display().to_string();
    let auth = awsauth::parse_document(&read_input(&args.input)?).with_context(|| name.clone())?;
    // Refuse rows no plan can take before any call to AWS.
    migrate::check(&auth).with_context(|| name.clone())?;
    let options = Options {
        cluster: args.cluster.as_deref(),
        config: &config,
    };
    let facts = match (&args.cluster, args.live) {
        (Some(cluster), true) => Some(read_live(cluster, args.region.as_deref(), &auth)?),
        _ => None,
    };
    migrate::plan(&auth, &options, facts.as_ref()).with_context(|| name)
}

fn read_input(path: &Path) -> anyhow::Result<String> {
    if path == Path::new("-") {
        let mut text = String::new();
        io::stdin()
            .read_to_string(&mut text)
            .context("reading the ConfigMap from stdin")?;
        return Ok(text);
    }
    std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the ConfigMap", path.display()))
}

#[cfg(feature = "aws")]
fn read_live(
    cluster: &str,
    region: Option<&str>,
    auth: &awsauth::AwsAuth,
) -> anyhow::Result<migrate::LiveFacts> {
    use eks_access_watch::aws::ErrorKind;
    use eks_access_watch::migrate::read::LiveReader;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let facts = runtime.block_on(async {
        let mut sdk = eks_access_watch::aws::load().await;
        if let Some(r) = region {
            sdk = sdk
                .to_builder()
                .region(aws_types::region::Region::new(r.to_string()))
                .build();
        }
        LiveReader::from_sdk_config(&sdk).read(cluster, auth).await
    });
    facts.map_err(|e| {
        let hint = if e.kind == ErrorKind::Denied {
            " (migrate --live needs eks:DescribeCluster, eks:ListAccessEntries, eks:DescribeAccessEntry, eks:ListAssociatedAccessPolicies, iam:GetRole and iam:GetUser)"
        } else {
            ""
        };
        anyhow::anyhow!("reading cluster {cluster}: {e}{hint}")
    })
}

/// A build without the AWS side (`--no-default-features --features cli`) plans offline only.
#[cfg(not(feature = "aws"))]
fn read_live(_: &str, _: Option<&str>, _: &awsauth::AwsAuth) -> anyhow::Result<migrate::LiveFacts> {
    anyhow::bail!("{}", super::NO_AWS)
}
