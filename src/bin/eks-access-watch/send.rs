//! `replay --sink NAME [--send]`: what replay finds goes to a configured sink, for backfills
//! (a year of CloudTrail history into Security Hub). A dry run unless `--send` is given: each
//! alert the sink would receive is named on stderr, and nothing is sent.
//!
//! The sink is configured by the Lambda's variables (`SECURITY_HUB_MIN_SEVERITY`,
//! `PAGERDUTY_ROUTING_KEY_PARAMETER`, `PAGERDUTY_MIN_SEVERITY`, `PAGERDUTY_EVENTS_URL`,
//! `HOME_ACCOUNT_ID`) and the caller's own AWS credentials. Alerts go in event-time order and
//! follow the sinks' one rule ([`eks_access_watch::alert::due`]): at or above the sink's
//! minimum (and `--min-severity`), or an update or revert of a finding sent earlier in the run.

use std::collections::HashSet;

use clap::ValueEnum;

use eks_access_watch::Severity;
use eks_access_watch::alert::Alert;
use eks_access_watch::alert::{Due, due};
use eks_access_watch::config::SinkSettings;

/// The sinks `replay --sink` can send to.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SinkName {
    /// AWS Security Hub (ASFF findings through BatchImportFindings).
    Securityhub,
    /// PagerDuty's Events API v2.
    Pagerduty,
}

impl SinkName {
    fn name(self) -> &'static str {
        match self {
            SinkName::Securityhub => "securityhub",
            SinkName::Pagerduty => "pagerduty",
        }
    }

    fn min(self, settings: &SinkSettings) -> Severity {
        match self {
            SinkName::Securityhub => settings.security_hub_min_severity,
            SinkName::Pagerduty => settings.pagerduty_min_severity,
        }
    }
}

/// What the run sent (or would have).
#[derive(Debug, Default)]
pub struct Sent {
    pub sent: u64,
    pub failed: u64,
}

/// The alerts `sink` takes, in event-time order, by the sinks' rule; a finding sent earlier
/// in the run makes its updates and reverts due whatever the minimums say.
fn selected<'a>(
    alerts: &[&'a Alert],
    sink: SinkName,
    settings: &SinkSettings,
    min: Severity,
) -> (Vec<&'a Alert>, u64) {
    let mut ordered: Vec<&Alert> = alerts.to_vec();
    ordered.sort_by(|a, b| a.event_time.cmp(&b.event_time));
    let mut held: HashSet<String> = HashSet::new();
    let mut out = Vec::new();
    let mut below = 0;
    for a in ordered {
        let uids = a.lifecycle_uids();
        let holds = uids.iter().any(|u| held.contains(u));
        match due(a, min, sink.min(settings), holds) {
            Due::Below(_) => below += 1,
            Due::Send | Due::Lifecycle => {
                held.extend(uids);
                out.push(a);
            }
        }
    }
    (out, below)
}

/// Send (or with `send` false, name) the alerts for `sink`.
pub fn run(alerts: &[&Alert], sink: SinkName, send: bool, min: Severity) -> anyhow::Result<Sent> {
    let settings = SinkSettings::from_env(|k| std::env::var(k).ok())?;
    let (chosen, below) = selected(alerts, sink, &settings, min);
    let mut result = Sent::default();
    if !send {
        for a in &chosen {
            eprintln!(
                "eks-access-watch: dry run: would send to {}: {} {} ({:?}, {})",
                sink.name(),
                a.finding_uid(),
                a.event_name,
                a.activity(),
                a.severity
            );
        }
        eprintln!(
            "eks-access-watch: dry run: {} alert(s) for {}, {} below its minimum; nothing sent (add --send to send)",
            chosen.len(),
            sink.name(),
            below
        );
        result.sent = chosen.len() as u64;
        return Ok(result);
    }
    deliver(&chosen, sink, &settings, &mut result)?;
    eprintln!(
        "eks-access-watch: {} alert(s) sent to {}, {} failed, {below} below its minimum",
        result.sent,
        sink.name(),
        result.failed,
    );
    Ok(result)
}

#[cfg(feature = "aws")]
fn deliver(
    alerts: &[&Alert],
    sink: SinkName,
    settings: &SinkSettings,
    result: &mut Sent,
) -> anyhow::Result<()> {
    use anyhow::Context;
    use eks_access_watch::sink::{
        Importer, PagerDutySettings, PagerDutySink, SecurityHubSink, Sink, partition_of_region,
    };

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let sdk = eks_access_watch::aws::load().await;
        let built: Box<dyn Sink> = match sink {
            SinkName::Securityhub => {
                let region = sdk
                    .region()
                    .map(|r| r.to_string())
                    .context("no region configured: set AWS_REGION to the region Security Hub imports into")?;
                let account = match std::env::var("HOME_ACCOUNT_ID").ok().filter(|a| !a.is_empty()) {
                    Some(a) => a,
                    None => aws_sdk_sts::Client::new(&sdk)
                        .get_caller_identity()
                        .send()
                        .await
                        .map_err(|e| eks_access_watch::aws::AwsError::from_sdk("GetCallerIdentity", &e))?
                        .account()
                        .unwrap_or_default()
                        .to_string(),
                };
                Box::new(SecurityHubSink::new(
                    aws_sdk_securityhub::Client::new(&sdk),
                    Importer {
                        partition: partition_of_region(&region).to_string(),
                        account,
                        region,
                    },
                    settings.security_hub_min_severity,
                ))
            }
            SinkName::Pagerduty => {
                let name = settings
                    .pagerduty_routing_key_parameter
                    .as_deref()
                    .context("--sink pagerduty: set PAGERDUTY_ROUTING_KEY_PARAMETER to the SSM SecureString that holds the routing key")?;
                let key = eks_access_watch::aws::ssm::get_secret(&aws_sdk_ssm::Client::new(&sdk), name)
                    .await
                    .with_context(|| format!("PAGERDUTY_ROUTING_KEY_PARAMETER: cannot read {name}"))?;
                Box::new(
                    PagerDutySink::new(PagerDutySettings::new(
                        settings.pagerduty_events_url.clone(),
                        key,
                        settings.pagerduty_min_severity,
                    ))
                    .map_err(anyhow::Error::msg)?,
                )
            }
        };
        // Security Hub takes 100 findings a call; a revert carries two.
        for chunk in alerts.chunks(50) {
            for (a, r) in chunk.iter().zip(built.deliver_all(chunk).await) {
                match r {
                    Ok(_) => result.sent += 1,
                    Err(e) => {
                        result.failed += 1;
                        let retry = if e.retryable() { "retryable" } else { "not retryable" };
                        eprintln!(
                            "eks-access-watch: error: {} {}: not delivered to {}: {e} ({retry})",
                            a.event_name,
                            a.event_id.as_deref().unwrap_or("(no event id)"),
                            sink.name()
                        );
                    }
                }
            }
        }
        Ok(())
    })
}

#[cfg(not(feature = "aws"))]
fn deliver(_: &[&Alert], _: SinkName, _: &SinkSettings, _: &mut Sent) -> anyhow::Result<()> {
    anyhow::bail!("--send: {}", super::NO_AWS)
}
