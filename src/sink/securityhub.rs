//! Security Hub (`SECURITY_HUB=true`): each alert at or above `SECURITY_HUB_MIN_SEVERITY`
//! becomes an ASFF finding ([`asff_finding`]) imported through `BatchImportFindings` under the
//! account's default product, `arn:<partition>:securityhub:<region>:<account>:product/<account>/default`.
//!
//! - `Id` is the alert's finding id (the incident id, else the event id): a later event of the
//!   incident re-imports the same `Id` with `UpdatedAt` moved to now, so the finding is updated,
//!   not duplicated, and Security Hub does not age it out.
//! - A revert (`grant-reverted`) imports the finding, and the grant's own finding, with
//!   `RecordState` `ARCHIVED`, then sets their `Workflow.Status` to `RESOLVED` through
//!   `BatchUpdateFindings` (`BatchImportFindings` cannot change the workflow of a finding that
//!   exists).
//! - The account rule: under the default product, `BatchImportFindings` only takes findings
//!   whose `AwsAccountId` is the importing account. A central deployment (an organisation trail
//!   delivering every account's events to one function) imports each finding under its own
//!   account and names the account the event happened in in `ProductFields`
//!   (`eks-access-watch/EventAccount`) and in the resources' ARNs; Security Hub's cross-region
//!   and cross-account aggregation then shows it in the administrator account.

use super::{Delivering, DeliveringAll, Receipt, Sink, SinkError};
use crate::alert::{Activity, Alert};
use crate::aws::securityhub::{self, Failed, Finding, FindingResource};
use crate::severity::Severity;

const NAME: &str = "securityhub";
/// ASFF's limits on the title and the description.
const TITLE_MAX: usize = 256;
const DESCRIPTION_MAX: usize = 1024;
const REMEDIATION_MAX: usize = 512;

/// Cut `text` to at most `max` characters, marking the cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(3)).collect();
    out.push_str("...");
    out
}

fn label(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "INFORMATIONAL",
        Severity::Low => "LOW",
        Severity::Medium => "MEDIUM",
        Severity::High => "HIGH",
        Severity::Critical => "CRITICAL",
    }
}

fn principal_type(arn: &str) -> &'static str {
    if arn.contains(":user/") {
        "AwsIamUser"
    } else if arn.contains(":role/") {
        "AwsIamRole"
    } else {
        "Other"
    }
}

/// The partition of a region (`cn-*`: aws-cn, `us-gov-*`: aws-us-gov, else aws).
pub fn partition_of_region(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else {
        "aws"
    }
}

/// Where findings are imported: the importing account, its region and partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Importer {
    pub account: String,
    pub region: String,
    pub partition: String,
}

impl Importer {
    pub fn product_arn(&self) -> String {
        securityhub::default_product_arn(&self.partition, &self.region, &self.account)
    }
}

/// The alert as the ASFF finding `id` (the alert's own finding id, or for a revert the
/// grant's), imported by `importer` at `now` (RFC 3339).
pub fn asff_finding(alert: &Alert, id: &str, importer: &Importer, now: &str) -> Finding {
    let region = if alert.region.is_empty() {
        importer.region.clone()
    } else {
        alert.region.clone()
    };
    let observed = alert.event_time.clone().unwrap_or_else(|| now.to_string());
    let created = alert
        .incident
        .as_ref()
        .and_then(|i| i.opened_at.clone())
        .unwrap_or_else(|| observed.clone());
    let mut resources = Vec::new();
    if let Some(c) = &alert.cluster {
        resources.push(FindingResource {
            kind: "AwsEksCluster".to_string(),
            id: format!(
                "arn:{}:eks:{region}:{}:cluster/{c}",
                importer.partition, alert.account
            ),
            partition: importer.partition.clone(),
            region: region.clone(),
            details: vec![("account".to_string(), alert.account.clone())],
        });
    }
    if let Some(p) = &alert.principal_arn {
        resources.push(FindingResource {
            kind: principal_type(p).to_string(),
            id: p.clone(),
            partition: importer.partition.clone(),
            region: region.clone(),
            details: vec![(
                "role".to_string(),
                "principal whose access changed".to_string(),
            )],
        });
    }
    if resources.is_empty() || alert.account != importer.account {
        resources.push(FindingResource {
            kind: "AwsAccount".to_string(),
            id: format!("AWS::::Account:{}", alert.account),
            partition: importer.partition.clone(),
            region: region.clone(),
            details: Vec::new(),
        });
    }
    let mut remediation = crate::render::next_steps(alert).join(" ");
    if let Some(undo) = crate::render::undo_command(alert) {
        remediation.push_str(&format!(" To undo: {undo}"));
    }
    let remediation = if remediation.trim().is_empty() {
        "No action needed.".to_string()
    } else {
        remediation.trim().to_string()
    };
    let lead = crate::render::headline(alert)
        .lead
        .map(|f| f.rule.id)
        .or_else(|| alert.rule_ids().first().copied())
        .unwrap_or("eks-access-watch");
    let description = alert
        .findings
        .iter()
        .filter(|f| f.counts())
        .map(|f| format!("{} ({}): {}", f.rule.id, f.severity, f.summary))
        .collect::<Vec<_>>()
        .join(" | ");
    let mut fields = vec![
        (
            "eks-access-watch/EventAccount".to_string(),
            alert.account.clone(),
        ),
        (
            "eks-access-watch/EventName".to_string(),
            alert.event_name.clone(),
        ),
        (
            "eks-access-watch/Rules".to_string(),
            alert.rule_ids().join(","),
        ),
    ];
    if let Some(e) = &alert.event_id {
        fields.push(("eks-access-watch/EventId".to_string(), e.clone()));
    }
    if let Some(i) = &alert.incident {
        fields.push(("eks-access-watch/IncidentId".to_string(), i.id.clone()));
    }
    if let Some(r) = &alert.resolves {
        fields.push(("eks-access-watch/Resolves".to_string(), r.clone()));
    }
    if let Some(a) = &alert.actor_arn {
        fields.push(("eks-access-watch/ActorArn".to_string(), a.clone()));
    }
    Finding {
        id: id.to_string(),
        product_arn: importer.product_arn(),
        generator_id: format!("eks-access-watch/{lead}"),
        aws_account_id: importer.account.clone(),
        region: importer.region.clone(),
        types: alert
            .rule_ids()
            .iter()
            .map(|r| format!("Software and Configuration Checks/EKS Access/{r}"))
            .collect(),
        created_at: created,
        updated_at: now.to_string(),
        first_observed_at: alert
            .incident
            .as_ref()
            .and_then(|i| i.opened_at.clone())
            .or_else(|| alert.event_time.clone()),
        last_observed_at: alert.event_time.clone(),
        severity: label(alert.severity).to_string(),
        title: crate::render::subject_within(alert, TITLE_MAX),
        description: clip(
            if description.is_empty() {
                &alert.event_name
            } else {
                &description
            },
            DESCRIPTION_MAX,
        ),
        remediation: clip(&remediation, REMEDIATION_MAX),
        resources,
        product_fields: fields,
        archived: alert.activity() == Activity::Close,
    }
}

/// The Security Hub sink.
pub struct SecurityHubSink {
    client: aws_sdk_securityhub::Client,
    importer: Importer,
    min: Severity,
    clock: fn() -> String,
}

impl SecurityHubSink {
    pub fn new(client: aws_sdk_securityhub::Client, importer: Importer, min: Severity) -> Self {
        SecurityHubSink {
            client,
            importer,
            min,
            clock: crate::aws::now,
        }
    }

    /// Stamp `UpdatedAt` with this clock instead of the system's (for tests).
    pub fn with_clock(mut self, clock: fn() -> String) -> Self {
        self.clock = clock;
        self
    }

    /// The findings of one alert: its own, and for a revert the grant's too.
    fn findings_of(&self, alert: &Alert, now: &str) -> Vec<Finding> {
        let ids = if alert.activity() == Activity::Close {
            alert.lifecycle_uids()
        } else {
            vec![alert.finding_uid()]
        };
        ids.iter()
            .map(|id| asff_finding(alert, id, &self.importer, now))
            .collect()
    }

    fn error(failed: &[&Failed]) -> SinkError {
        SinkError::new(
            NAME,
            failed.iter().find_map(|f| f.code.clone()),
            failed
                .iter()
                .map(|f| f.message.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            failed.iter().any(|f| f.retryable),
        )
    }
}

impl Sink for SecurityHubSink {
    fn name(&self) -> &'static str {
        NAME
    }

    fn min_severity(&self) -> Severity {
        self.min
    }

    fn keeps_findings(&self) -> bool {
        true
    }

    fn deliver<'a>(&'a self, alert: &'a Alert) -> Delivering<'a> {
        Box::pin(async move {
            let mut results = self.deliver_all(&[alert]).await;
            results
                .pop()
                .unwrap_or_else(|| Ok(Receipt("nothing to import".into())))
        })
    }

    fn deliver_all<'a>(&'a self, alerts: &'a [&'a Alert]) -> DeliveringAll<'a> {
        Box::pin(async move {
            let now = (self.clock)();
            let per_alert: Vec<Vec<Finding>> =
                alerts.iter().map(|a| self.findings_of(a, &now)).collect();
            // The same finding twice in one call (a backfill's create and update of one
            // incident): the latest event's version is sent, the earlier ones are superseded.
            let mut last: std::collections::HashMap<&str, (usize, usize)> = Default::default();
            for (a, fs) in per_alert.iter().enumerate() {
                for (k, f) in fs.iter().enumerate() {
                    last.insert(f.id.as_str(), (a, k));
                }
            }
            let mut send: Vec<Finding> = Vec::new();
            for (a, fs) in per_alert.iter().enumerate() {
                for (k, f) in fs.iter().enumerate() {
                    if last.get(f.id.as_str()) == Some(&(a, k)) {
                        send.push(f.clone());
                    }
                }
            }
            let failed = securityhub::import(&self.client, &send).await;
            // Reverts: the workflow of what they close, once their import went through.
            let mut to_resolve: Vec<String> = Vec::new();
            for (a, fs) in per_alert.iter().enumerate() {
                if alerts[a].activity() == Activity::Close {
                    for f in fs {
                        if !failed.iter().any(|x| x.id == f.id) && !to_resolve.contains(&f.id) {
                            to_resolve.push(f.id.clone());
                        }
                    }
                }
            }
            let unresolved = if to_resolve.is_empty() {
                Vec::new()
            } else {
                securityhub::resolve(
                    &self.client,
                    &self.importer.product_arn(),
                    &to_resolve,
                    "eks-access-watch: the grant was reverted",
                )
                .await
            };
            per_alert
                .iter()
                .enumerate()
                .map(|(a, fs)| {
                    let bad: Vec<&Failed> = failed
                        .iter()
                        .chain(unresolved.iter())
                        .filter(|x| fs.iter().any(|f| f.id == x.id))
                        .collect();
                    if !bad.is_empty() {
                        return Err(Self::error(&bad));
                    }
                    let ids: Vec<&str> = fs.iter().map(|f| f.id.as_str()).collect();
                    let verb = match alerts[a].activity() {
                        Activity::Close => "imported and resolved",
                        _ => "imported",
                    };
                    Ok(Receipt(format!("securityhub: {verb} {}", ids.join(", "))))
                })
                .collect()
        })
    }
}
