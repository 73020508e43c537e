//! The daily `{"task": "verify-trail"}`: yesterday (UTC) of the organisation trail proved from
//! its digests, as `verify-trail` does on the command line ([`crate::aws::trail_verify`]):
//! every digest hour there and signed by CloudTrail, the chain unbroken, every log file a
//! digest lists present with the same SHA-256. Each `trail-gap` or `trail-log-altered` finding
//! at or above `MIN_SEVERITY` is published like an audit finding; a run that completes prints
//! its `TaskSucceeded` metric (the template's `VerifyTrailMissingAlarm` fires when it stops).
//!
//! A run that cannot finish (S3 or CloudTrail refusing, or the time budget ending first)
//! fails the invocation: it proves nothing either way, so the errors alarm says so and the
//! missing metric does too.

use super::budget::Budget;
use super::{Handler, HandlerError, Response, Task};
use crate::aws::trail_verify::{self, Range, VerifyError};

/// Log files (and digests) read at once: the function's memory holds `jobs` 256 KiB buffers.
const JOBS: usize = 16;

/// Why the daily verification did not complete.
#[derive(Debug, thiserror::Error)]
pub enum VerifyTaskError {
    #[error(
        "not configured: the task needs ORG_TRAIL_BUCKET and the S3 and CloudTrail clients (the template's OrgTrailBucketName and VerifyTrailSchedule)"
    )]
    NotConfigured,
    #[error("cannot read CloudTrail's public keys: {0}")]
    PublicKeys(crate::aws::AwsError),
    #[error("{0}")]
    Read(#[from] VerifyError),
    #[error(
        "the time budget ended before the digests and log files of {day} were all read: nothing is proved for that day; give the function more time or memory"
    )]
    OutOfTime { day: chrono::NaiveDate },
}

impl VerifyTaskError {
    pub fn retryable(&self) -> bool {
        !matches!(self, VerifyTaskError::NotConfigured)
    }
}

impl Handler {
    /// Verify the day before today (UTC) under `ORG_TRAIL_PREFIX`.
    pub(super) async fn verify_trail(&self, budget: Budget) -> Result<Response, HandlerError> {
        let task = Task::VerifyTrail;
        let (Some(trail), Some(s3), Some(cloudtrail)) = (
            &self.settings.org_trail,
            &self.clients.s3,
            &self.clients.cloudtrail,
        ) else {
            return Err(VerifyTaskError::NotConfigured.into());
        };
        let day = (self.today)() - chrono::Days::new(1);
        let range = Range::new(day, day, chrono::Utc::now());
        let work = async {
            let keys = crate::aws::cloudtrail::list_public_keys(
                cloudtrail,
                range.from.into(),
                range.until_end.into(),
            )
            .await
            .map_err(VerifyTaskError::PublicKeys)?;
            let verified =
                trail_verify::verify(s3, &trail.bucket, &trail.prefix, range, &keys, JOBS).await?;
            Ok::<_, VerifyTaskError>(verified)
        };
        let verified = match budget.remaining() {
            None => work.await?,
            Some(left) => tokio::time::timeout(left, work)
                .await
                .map_err(|_| VerifyTaskError::OutOfTime { day })??,
        };
        let report = crate::audit::trail::report(&verified, &crate::aws::now());
        let mut findings = Vec::new();
        let mut failures = Vec::new();
        for f in &report.findings {
            let outcome = super::daily_audit::send_finding(
                &self.sinks,
                f,
                &report,
                self.settings.min_severity,
                &mut failures,
            )
            .await;
            findings.push(format!(
                "{} {} {}: {}: {outcome}",
                f.finding.rule.id,
                f.severity(),
                f.place(),
                f.finding.summary
            ));
        }
        let location = format!("s3://{}/{}", trail.bucket, trail.prefix);
        tracing::info!(
            task = %task,
            trail = %location,
            day = %day,
            digests = verified.digests,
            log_files = verified.log_files,
            findings = report.findings.len(),
            "scheduled task done"
        );
        if !failures.is_empty() {
            return Err(HandlerError::Publish(failures));
        }
        Ok(Response {
            task: Some(format!(
                "{task}: {location} {day}: {} digests, {} log files checked: {}",
                verified.digests,
                verified.log_files,
                report.counts.describe()
            )),
            findings,
            ..Response::default()
        })
    }
}
