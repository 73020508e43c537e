//! The Lambda's daily audit (`{"task": "audit"}` from the template's schedule): read every
//! configured account and region, compare with the previous snapshot kept in S3, publish one
//! digest and one alert per drift finding, then keep the new snapshot as the next baseline.
//!
//! Nothing is lost: the new snapshot is stored only after every message was published. If SNS
//! refuses one, the run fails (Lambda retries it) and the stored snapshot is still the old
//! one, so the retry finds the same drift again; a message may then go out twice, but none is
//! skipped. The bucket is versioned, so every earlier snapshot stays available.

use aws_sdk_s3::Client as S3;
use serde::Serialize;

use crate::audit::read::{self, Reader, Target};
use crate::audit::snapshot::Snapshot;
use crate::audit::{self, AuditReport, audit};
use crate::aws::AwsError;
use crate::config::{AuditConfig, RuleConfig};
use crate::severity::Severity;
use crate::sink::{AuditMessage, Sink, SinkError};

/// Where the latest snapshot is kept in the bucket; earlier ones are its older versions.
pub const SNAPSHOT_KEY: &str = "snapshots/latest.json";

/// Everything the daily audit needs, built once per process.
pub struct DailyAudit {
    pub reader: Reader,
    pub s3: S3,
    pub bucket: String,
    pub targets: Vec<Target>,
    pub config: AuditConfig,
    /// The watcher's own reach (member forwarding, audit-log subscriptions); `None`: not
    /// checked.
    pub coverage: Option<crate::aws::coverage::CoverageReader>,
}

/// What one run did, returned to the invoker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRun {
    pub clusters: usize,
    pub severity: Severity,
    pub counts: audit::Counts,
    pub drift: usize,
    /// `published <id>` or `dry-run`.
    pub digest: String,
    /// One line per drift finding: its rule, severity and what happened to its alert.
    pub drift_alerts: Vec<String>,
    /// `s3://bucket/key (version v)`.
    pub snapshot: String,
    /// Why there was no drift comparison, if there was none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The audit task ran without a bucket (`AUDIT_BUCKET` unset).
    #[error("the audit task needs AUDIT_BUCKET (the template sets it on the audit function)")]
    NotConfigured,
    /// The previous snapshot could not be read, or the new one could not be stored.
    #[error("snapshot bucket: {0}")]
    Bucket(AwsError),
    /// A sink did not take every message; the new snapshot was not stored.
    #[error("{} audit message(s) not published (the snapshot was not stored, so a retry reports the same drift): {}", .0.len(), .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Publish(Vec<SinkError>),
}

impl RunError {
    pub fn retryable(&self) -> bool {
        match self {
            RunError::NotConfigured => false,
            RunError::Bucket(e) => e.retryable(),
            RunError::Publish(errors) => errors.iter().any(SinkError::retryable),
        }
    }
}

impl DailyAudit {
    /// The daily audit the Lambda's settings describe; `None` without `AUDIT_BUCKET` (the
    /// watcher function, which never runs it).
    pub fn from_settings(
        sdk: &aws_types::SdkConfig,
        settings: &crate::config::LambdaSettings,
    ) -> Option<Self> {
        let audit = &settings.audit;
        let bucket = audit.bucket.clone()?;
        let clients = crate::aws::eks::EksClients::from_sdk_config(
            sdk,
            settings.home_account.clone(),
            settings.role_template.clone(),
        )
        .with_retry(read::retry(sdk.retry_config()));
        Some(DailyAudit {
            reader: Reader::new(clients, audit.concurrency),
            s3: S3::new(sdk),
            bucket,
            targets: read::targets(
                settings.home_account.as_deref(),
                &audit.accounts,
                &audit.regions,
            ),
            config: audit.config.clone(),
            coverage: Some(crate::aws::coverage::CoverageReader::from_sdk_config(
                sdk,
                settings.home_account.clone(),
                settings.role_template.clone(),
                settings.region.clone(),
            )),
        })
    }

    /// One run: baseline from S3, audit (with the tuning file, when given), digest and drift
    /// alerts, then the new snapshot.
    /// Drift alerts below `min_severity` are not sent (the digest always is).
    pub async fn run(
        &self,
        rules: &RuleConfig,
        tuned: Option<audit::Tuned<'_>>,
        sinks: &[Box<dyn Sink>],
        min_severity: Severity,
    ) -> Result<AuditRun, RunError> {
        let mut notes = Vec::new();
        // A baseline that is missing though the bucket kept earlier ones, or that cannot be
        // read, is not a quiet first run: the report says the drift comparison is missing.
        let mut lost = None;
        let baseline = match self.previous().await.map_err(RunError::Bucket)? {
            Some(text) => match Snapshot::from_json(&self.location(), &text) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::error!(error = %e, "previous snapshot unreadable: no drift comparison this run");
                    notes.push(format!("no drift comparison: {e}"));
                    lost = Some(format!("cannot be read ({e})"));
                    None
                }
            },
            None => match crate::aws::s3::has_history(&self.s3, &self.bucket, SNAPSHOT_KEY).await {
                Ok(false) => {
                    notes.push("no drift comparison: first run (no previous snapshot)".to_string());
                    None
                }
                Ok(true) => {
                    tracing::error!(
                        "previous snapshot missing though the bucket kept earlier versions"
                    );
                    notes.push("no drift comparison: the previous snapshot is missing".to_string());
                    lost = Some("is missing though the bucket keeps earlier versions of it (deleted, or a delete marker put over it)".to_string());
                    None
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot tell a first run from a deleted baseline");
                    notes.push(format!(
                        "no drift comparison: no previous snapshot, and {e}"
                    ));
                    lost = Some(format!(
                        "is missing, and whether earlier runs kept one cannot be read ({e})"
                    ));
                    None
                }
            },
        };
        let mut snapshot = self.reader.read(&self.targets, crate::aws::now()).await;
        if let Some(coverage) = &self.coverage {
            coverage.complete(&mut snapshot, &self.targets).await;
        }
        let mut report = audit(&snapshot, baseline.as_ref(), rules, &self.config, tuned);
        if let Some(why) = lost {
            let mut findings = std::mem::take(&mut report.findings);
            findings.push(self.baseline_lost(&why));
            report = audit::finalise(&snapshot, None, findings);
        }
        let location = self.location();
        let mut failures = Vec::new();
        let digest_message = AuditMessage::Digest {
            report: &report,
            snapshot: Some(&location),
            notes: &notes,
        };
        let digest = send(sinks, digest_message, &mut failures).await;
        let mut drift_alerts = Vec::new();
        for f in report.findings.iter().filter(|f| f.is_drift()) {
            let outcome = send_finding(sinks, f, &report, min_severity, &mut failures).await;
            drift_alerts.push(format!(
                "{} {} {}: {outcome}",
                f.finding.rule.id,
                f.severity(),
                f.place()
            ));
        }
        log(&report, &digest);
        if !failures.is_empty() {
            return Err(RunError::Publish(failures));
        }
        let version = self.store(&snapshot).await.map_err(RunError::Bucket)?;
        Ok(AuditRun {
            clusters: report.clusters,
            severity: report.severity,
            counts: report.counts,
            drift: report.drift,
            digest,
            drift_alerts,
            snapshot: match version {
                Some(v) => format!("{location} (version {v})"),
                None => location,
            },
            notes,
        })
    }

    /// `audit-incomplete` (high) for a baseline that should be there and is not, or that
    /// cannot be read: drift since the last run is not compared, so it may hide any of it.
    fn baseline_lost(&self, why: &str) -> audit::AuditFinding {
        // The home target (the first): where the bucket is.
        let (account, region) = self
            .targets
            .first()
            .map(|t| (t.account.clone().unwrap_or_default(), t.region.clone()))
            .unwrap_or_default();
        audit::AuditFinding {
            finding: crate::rules::Finding::new(
                &crate::rules::standing::AUDIT_INCOMPLETE,
                Severity::High,
                format!(
                    "The audit baseline {} {why}: no drift comparison this run, so any change since the last audit may be hidden",
                    self.location()
                ),
            ),
            account: if account.is_empty() {
                "this account".to_string()
            } else {
                account
            },
            region,
            cluster: None,
            principal_arn: None,
        }
    }

    fn location(&self) -> String {
        format!("s3://{}/{SNAPSHOT_KEY}", self.bucket)
    }

    /// The previous snapshot's text; `None` on the first run.
    async fn previous(&self) -> Result<Option<String>, AwsError> {
        crate::aws::s3::get_text(&self.s3, &self.bucket, SNAPSHOT_KEY).await
    }

    /// Store the snapshot as the latest; returns the new object version.
    async fn store(&self, snapshot: &Snapshot) -> Result<Option<String>, AwsError> {
        let json = snapshot.to_json().into_bytes();
        crate::aws::s3::put_json(&self.s3, &self.bucket, SNAPSHOT_KEY, json).await
    }
}

/// One finding of `report` on its own to every sink (the drift alert's message), unless an
/// exception suppresses it or it is below `min_severity`: what became of it, in words; the
/// failures join `failures`. The daily audit's drift and the daily trail verification's
/// findings go out this way.
pub(crate) async fn send_finding(
    sinks: &[Box<dyn Sink>],
    finding: &audit::AuditFinding,
    report: &AuditReport,
    min_severity: Severity,
    failures: &mut Vec<SinkError>,
) -> String {
    if let Some(e) = &finding.finding.suppressed_by {
        format!("suppressed by exception {}", e.exception)
    } else if finding.severity() < min_severity {
        format!("below MIN_SEVERITY ({min_severity})")
    } else {
        send(sinks, AuditMessage::Drift { finding, report }, failures).await
    }
}

/// One audit message to every sink: what each did, in words; the failures join `failures`.
async fn send(
    sinks: &[Box<dyn Sink>],
    message: AuditMessage<'_>,
    failures: &mut Vec<SinkError>,
) -> String {
    let mut said = Vec::new();
    for sink in sinks {
        match sink.deliver_audit(message).await {
            Ok(receipt) => said.push(receipt.0),
            Err(e) => {
                said.push(format!("failed: {e}"));
                failures.push(e);
            }
        }
    }
    said.join("; ")
}

fn log(report: &AuditReport, digest: &str) {
    tracing::info!(
        clusters = report.clusters,
        severity = %report.severity,
        findings = report.findings.len(),
        drift = report.drift,
        incomplete = report.incomplete(),
        digest = %digest,
        "audit"
    );
}
