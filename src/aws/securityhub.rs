//! Security Hub: findings in the AWS Security Finding Format through `BatchImportFindings`,
//! and their workflow status through `BatchUpdateFindings` (which `BatchImportFindings` cannot
//! change once a finding exists). The only code that talks to Security Hub; the rest hands it
//! a plain [`Finding`] and never sees an SDK type.
//!
//! - At most [`MAX_PER_CALL`] findings per call (the API's limit): more are split.
//! - Throttling and 5xx are retried by the SDK's standard retry; a finding the response lists
//!   in `FailedFindings` is sent again (up to [`FAILED_ATTEMPTS`] times in all) when its
//!   error may pass, and otherwise returned with its code and message: never ignored.

use std::time::Duration;

use aws_sdk_securityhub::Client;
use aws_sdk_securityhub::types::{
    AwsSecurityFinding, AwsSecurityFindingIdentifier, NoteUpdate, Recommendation, RecordState,
    Remediation, Resource, ResourceDetails, Severity, SeverityLabel, WorkflowStatus,
    WorkflowUpdate,
};

use crate::aws::AwsError;

/// `BatchImportFindings` and `BatchUpdateFindings` take at most 100 findings a call.
pub const MAX_PER_CALL: usize = 100;
/// How many times a finding the response lists as failed is sent, in all.
pub const FAILED_ATTEMPTS: usize = 3;

/// `arn:<partition>:securityhub:<region>:<account>:product/<account>/default`: the product
/// a custom integration imports under (the template grants exactly this ARN).
pub fn default_product_arn(partition: &str, region: &str, account: &str) -> String {
    format!("arn:{partition}:securityhub:{region}:{account}:product/{account}/default")
}

/// One resource of a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingResource {
    /// `AwsEksCluster`, `AwsIamRole`, `AwsIamUser`, `Other`.
    pub kind: String,
    pub id: String,
    pub partition: String,
    pub region: String,
    /// `Details.Other`: plain key-value facts.
    pub details: Vec<(String, String)>,
}

/// A finding as this adapter sends it (ASFF 2018-10-08).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub id: String,
    pub product_arn: String,
    pub generator_id: String,
    /// The importing account (the default product accepts no other).
    pub aws_account_id: String,
    pub region: String,
    pub types: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    pub first_observed_at: Option<String>,
    pub last_observed_at: Option<String>,
    /// `INFORMATIONAL`, `LOW`, `MEDIUM`, `HIGH`, `CRITICAL`.
    pub severity: String,
    pub title: String,
    pub description: String,
    pub remediation: String,
    pub resources: Vec<FindingResource>,
    pub product_fields: Vec<(String, String)>,
    /// `ARCHIVED` once the grant is undone.
    pub archived: bool,
}

/// A finding Security Hub did not take (after the retries), with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    pub id: String,
    pub code: Option<String>,
    pub message: String,
    /// True when sending it again later may succeed.
    pub retryable: bool,
}

/// The error codes in `FailedFindings` and `UnprocessedFindings` that may pass on a retry.
fn transient(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "InternalException"
                | "InternalError"
                | "ServiceUnavailable"
                | "LimitExceededException"
                | "ThrottlingException"
                | "TooManyRequestsException"
        )
    )
}

fn to_sdk(f: &Finding) -> AwsSecurityFinding {
    let label = match f.severity.as_str() {
        "CRITICAL" => SeverityLabel::Critical,
        "HIGH" => SeverityLabel::High,
        "MEDIUM" => SeverityLabel::Medium,
        "LOW" => SeverityLabel::Low,
        _ => SeverityLabel::Informational,
    };
    let mut b = AwsSecurityFinding::builder()
        .schema_version("2018-10-08")
        .id(&f.id)
        .product_arn(&f.product_arn)
        .generator_id(&f.generator_id)
        .aws_account_id(&f.aws_account_id)
        .region(&f.region)
        .created_at(&f.created_at)
        .updated_at(&f.updated_at)
        .severity(Severity::builder().label(label).build())
        .title(&f.title)
        .description(&f.description)
        .remediation(
            Remediation::builder()
                .recommendation(Recommendation::builder().text(&f.remediation).build())
                .build(),
        )
        .record_state(if f.archived {
            RecordState::Archived
        } else {
            RecordState::Active
        });
    for t in &f.types {
        b = b.types(t);
    }
    if let Some(t) = &f.first_observed_at {
        b = b.first_observed_at(t);
    }
    if let Some(t) = &f.last_observed_at {
        b = b.last_observed_at(t);
    }
    for (k, v) in &f.product_fields {
        b = b.product_fields(k, v);
    }
    for r in &f.resources {
        let mut details = ResourceDetails::builder();
        for (k, v) in &r.details {
            details = details.other(k, v);
        }
        b = b.resources(
            Resource::builder()
                .r#type(&r.kind)
                .id(&r.id)
                .partition(r.partition.as_str().into())
                .region(&r.region)
                .details(details.build())
                .build(),
        );
    }
    b.build()
}

/// Import `findings` (split by [`MAX_PER_CALL`]). Returns the findings not taken, each with
/// its reason; a call that failed as a whole fails every finding it carried.
pub async fn import(client: &Client, findings: &[Finding]) -> Vec<Failed> {
    let mut failed = Vec::new();
    for chunk in findings.chunks(MAX_PER_CALL) {
        let mut pending: Vec<&Finding> = chunk.iter().collect();
        for attempt in 1..=FAILED_ATTEMPTS {
            let req = client
                .batch_import_findings()
                .set_findings(Some(pending.iter().map(|f| to_sdk(f)).collect()));
            let out = match req.send().await {
                Ok(out) => out,
                Err(e) => {
                    let e = AwsError::from_sdk("BatchImportFindings", &e);
                    failed.extend(pending.iter().map(|f| Failed {
                        id: f.id.clone(),
                        code: e.code.clone(),
                        message: e.to_string(),
                        retryable: e.retryable(),
                    }));
                    break;
                }
            };
            let mut again = Vec::new();
            for err in out.failed_findings() {
                let id = err.id().unwrap_or_default();
                let Some(f) = pending.iter().find(|f| f.id == id) else {
                    // A failure for an id not sent: reported, not matched to anything.
                    failed.push(Failed {
                        id: id.to_string(),
                        code: err.error_code().map(str::to_string),
                        message: format!(
                            "BatchImportFindings: failed finding {id} that was not sent: {}",
                            err.error_message().unwrap_or("no message")
                        ),
                        retryable: false,
                    });
                    continue;
                };
                let retryable = transient(err.error_code());
                if retryable && attempt < FAILED_ATTEMPTS {
                    again.push(*f);
                } else {
                    failed.push(Failed {
                        id: f.id.clone(),
                        code: err.error_code().map(str::to_string),
                        message: format!(
                            "BatchImportFindings: finding {}: {}: {}",
                            f.id,
                            err.error_code().unwrap_or("no code"),
                            err.error_message().unwrap_or("no message")
                        ),
                        retryable,
                    });
                }
            }
            if again.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            pending = again;
        }
    }
    failed
}

/// Set the workflow status of `ids` (under `product_arn`) to `RESOLVED`, with a note saying
/// why. Returns the findings not updated, each with its reason.
pub async fn resolve(
    client: &Client,
    product_arn: &str,
    ids: &[String],
    note: &str,
) -> Vec<Failed> {
    let mut failed = Vec::new();
    let note = crate::sanitize::ascii_line(note, 512);
    for chunk in ids.chunks(MAX_PER_CALL) {
        let identifiers = chunk
            .iter()
            .map(|id| {
                AwsSecurityFindingIdentifier::builder()
                    .id(id)
                    .product_arn(product_arn)
                    .build()
            })
            .collect();
        let req = client
            .batch_update_findings()
            .set_finding_identifiers(Some(identifiers))
            .workflow(
                WorkflowUpdate::builder()
                    .status(WorkflowStatus::Resolved)
                    .build(),
            )
            .note(
                NoteUpdate::builder()
                    .text(&note)
                    .updated_by("eks-access-watch")
                    .build(),
            );
        match req.send().await {
            Ok(out) => failed.extend(out.unprocessed_findings().iter().map(|u| {
                let id = u
                    .finding_identifier()
                    .and_then(|f| f.id())
                    .unwrap_or_default()
                    .to_string();
                Failed {
                    message: format!(
                        "BatchUpdateFindings: finding {id}: {}: {}",
                        u.error_code().unwrap_or("no code"),
                        u.error_message().unwrap_or("no message")
                    ),
                    id,
                    code: u.error_code().map(str::to_string),
                    retryable: transient(u.error_code()),
                }
            })),
            Err(e) => {
                let e = AwsError::from_sdk("BatchUpdateFindings", &e);
                failed.extend(chunk.iter().map(|id| Failed {
                    id: id.clone(),
                    code: e.code.clone(),
                    message: e.to_string(),
                    retryable: e.retryable(),
                }));
            }
        }
    }
    failed
}
