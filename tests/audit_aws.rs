use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_eks::Client as Eks;
use aws_sdk_eks::operation::describe_access_entry::DescribeAccessEntryOutput;
use aws_sdk_eks::operation::describe_cluster::DescribeClusterOutput;
use aws_sdk_eks::operation::list_access_entries::ListAccessEntriesOutput;
use aws_sdk_eks::operation::list_associated_access_policies::ListAssociatedAccessPoliciesOutput;
use aws_sdk_eks::operation::list_clusters::ListClustersOutput;
use aws_sdk_eks::types::{
    AccessConfigResponse, AccessEntry, AccessScope, AccessScopeType, AssociatedAccessPolicy,
    AuthenticationMode, Cluster, LogSetup, LogType, Logging, VpcConfigResponse,
};
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::operation::list_object_versions::ListObjectVersionsOutput;
use aws_sdk_s3::operation::put_object::{PutObjectInput, PutObjectOutput};
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_runtime_api::http::{Response as HttpResponse, StatusCode};
use aws_smithy_types::DateTime;
use aws_smithy_types::body::SdkBody;
use eks_access_watch::Severity;
use eks_access_watch::audit::read::{self, Reader, Target};
use eks_access_watch::audit::snapshot::{ReadStep, Snapshot};
use eks_access_watch::aws::eks::EksClients;
use eks_access_watch::config::{AuditConfig, LambdaSettings};
use eks_access_watch::lambda::daily_audit::{DailyAudit, SNAPSHOT_KEY};
use eks_access_watch::lambda::{Handler, HandlerError, Setup, with_tuning};
use serde_json::{Value, json};

use crate::aws::{attribute, error_response, json_message, sns_capturing};
use crate::util::{BREAK_GLASS, TERRAFORM};

const ACCOUNT: &str = "111122223333";
const REGION: &str = "eu-west-1";
const ADMIN: &str = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy";
const VIEW: &str = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy";
const PLATFORM_ADMIN: &str = "arn:aws:iam::111122223333:role/platform-admin";

fn at(secs: i64) -> DateTime {
    DateTime::from_secs(secs)
}

/// Two clusters: `prod` (API, public endpoint open to the world, audit logging off, entries
/// terraform, break-glass and platform-admin, all ClusterAdmin) and `dev` (CONFIG_MAP, no
/// entries). The cluster list, prod's entries and platform-admin's policies come in two pages.
fn world(extra: Vec<Rule>) -> Vec<Rule> {
    let clusters = mock!(Eks::list_clusters).then_compute_output(|req| {
        if req.next_token().is_none() {
            ListClustersOutput::builder()
                .clusters("prod")
                .next_token("p2")
                .build()
        } else {
            ListClustersOutput::builder().clusters("dev").build()
        }
    });
    let describe = mock!(Eks::describe_cluster).then_compute_output(|req| {
        let name = req.name().unwrap_or_default();
        let mode = if name == "dev" {
            AuthenticationMode::ConfigMap
        } else {
            AuthenticationMode::Api
        };
        DescribeClusterOutput::builder()
            .cluster(
                Cluster::builder()
                    .name(name)
                    .arn(format!("arn:aws:eks:{REGION}:{ACCOUNT}:cluster/{name}"))
                    .created_at(at(1_700_000_000))
                    .version("1.31")
                    .access_config(
                        AccessConfigResponse::builder()
                            .authentication_mode(mode)
                            .build(),
                    )
                    .resources_vpc_config(
                        VpcConfigResponse::builder()
                            .endpoint_public_access(true)
                            .endpoint_private_access(true)
                            .public_access_cidrs("0.0.0.0/0")
                            .build(),
                    )
                    .logging(
                        Logging::builder()
                            .cluster_logging(
                                LogSetup::builder()
                                    .types(LogType::Api)
                                    .types(LogType::Authenticator)
                                    .enabled(true)
                                    .build(),
                            )
                            .cluster_logging(
                                LogSetup::builder()
                                    .types(LogType::Audit)
                                    .enabled(false)
                                    .build(),
                            )
                            .build(),
                    )
                    .deletion_protection(true)
                    .tags("Team", "platform")
                    .build(),
            )
            .build()
    });
    let entries = mock!(Eks::list_access_entries).then_compute_output(|req| {
        match (req.cluster_name(), req.next_token()) {
            (Some("prod"), None) => ListAccessEntriesOutput::builder()
                .access_entries(TERRAFORM)
                .access_entries(BREAK_GLASS)
                .next_token("e2")
                .build(),
            (Some("prod"), Some(_)) => ListAccessEntriesOutput::builder()
                .access_entries(PLATFORM_ADMIN)
                .build(),
            _ => ListAccessEntriesOutput::builder().build(),
        }
    });
    let entry = mock!(Eks::describe_access_entry).then_compute_output(|req| {
        DescribeAccessEntryOutput::builder()
            .access_entry(
                AccessEntry::builder()
                    .cluster_name(req.cluster_name().unwrap_or_default())
                    .principal_arn(req.principal_arn().unwrap_or_default())
                    .r#type("STANDARD")
                    .username(req.principal_arn().unwrap_or_default())
                    .created_at(at(1_700_000_300))
                    .modified_at(at(1_700_000_300))
                    .tags("Owner", "platform")
                    .build(),
            )
            .build()
    });
    let policies = mock!(Eks::list_associated_access_policies).then_compute_output(|req| {
        let grant = |arn: &str| {
            AssociatedAccessPolicy::builder()
                .policy_arn(arn)
                .access_scope(
                    AccessScope::builder()
                        .r#type(AccessScopeType::Cluster)
                        .build(),
                )
                .associated_at(at(1_700_000_400))
                .build()
        };
        match (req.principal_arn(), req.next_token()) {
            (Some(PLATFORM_ADMIN), None) => ListAssociatedAccessPoliciesOutput::builder()
                .associated_access_policies(grant(VIEW))
                .next_token("p2")
                .build(),
            _ => ListAssociatedAccessPoliciesOutput::builder()
                .associated_access_policies(grant(ADMIN))
                .build(),
        }
    });
    let mut rules = extra;
    rules.extend([clusters, describe, entries, entry, policies]);
    rules
}

fn eks(rules: &[Rule], delay: Duration) -> Eks {
    crate::aws::eks_with(&rules.iter().collect::<Vec<_>>(), delay)
}

/// Wall-clock time that follows tokio's (paused, in tests) clock: the adaptive mode's rate
/// limiter reads the time source, and the test defaults stop it.
#[derive(Debug)]
struct TokioClock(tokio::time::Instant);

impl aws_smithy_async::time::TimeSource for TokioClock {
    fn now(&self) -> std::time::SystemTime {
        std::time::UNIX_EPOCH + Duration::from_secs(1_800_000_000) + self.0.elapsed()
    }
}

fn reader(rules: &[Rule], delay: Duration, concurrency: usize) -> Reader {
    Reader::new(EksClients::fixed(eks(rules, delay)), concurrency)
}

fn targets() -> Vec<Target> {
    vec![Target {
        account: Some(ACCOUNT.to_string()),
        region: REGION.to_string(),
    }]
}

fn calls(rules: &[Rule]) -> usize {
    rules.iter().map(Rule::num_calls).sum()
}

#[tokio::test]
async fn the_reader_reads_every_page_with_the_fewest_calls_the_api_allows() {
    let rules = world(vec![]);
    let snapshot = reader(&rules, Duration::ZERO, 4)
        .read(&targets(), "2026-11-20T06:00:00Z".into())
        .await;
    assert!(snapshot.unreadable.is_empty(), "{:?}", snapshot.unreadable);
    let names: Vec<&str> = snapshot.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["dev", "prod"]);
    let prod = &snapshot.clusters[1];
    assert_eq!(prod.account.as_deref(), Some(ACCOUNT));
    assert_eq!(prod.created_at.as_deref(), Some("2023-11-14T22:13:20Z"));
    let logging = prod.logging.as_ref().unwrap();
    assert_eq!(
        (
            logging.api,
            logging.audit,
            logging.authenticator,
            logging.scheduler
        ),
        (Some(true), Some(false), Some(true), Some(false))
    );
    let entries = prod.access_entries.as_ref().unwrap();
    assert_eq!(entries.len(), 3, "both pages of entries");
    let admin = entries
        .iter()
        .find(|e| e.principal_arn == PLATFORM_ADMIN)
        .unwrap();
    let policies: Vec<&str> = admin
        .policies
        .as_ref()
        .unwrap()
        .iter()
        .map(|p| p.policy_arn.as_str())
        .collect();
    assert_eq!(policies, [ADMIN, VIEW], "both pages of policies, sorted");
    assert_eq!(admin.modified_at.as_deref(), Some("2023-11-14T22:18:20Z"));
    // The CONFIG_MAP cluster cannot have entries: listed as none.
    assert_eq!(
        snapshot.clusters[0].access_entries.as_deref(),
        Some(&[][..])
    );
    // 2 ListClusters pages + 2 x (DescribeCluster + ListAccessEntries) + 1 more entries page +
    // 3 x DescribeAccessEntry + 3 policy listings + 1 more policy page.
    assert_eq!(calls(&rules), 2 + 4 + 1 + 3 + 3 + 1);
    // Round trip: what the reader wrote is what the file format reads.
    let back = Snapshot::from_json("snapshot", &snapshot.to_json()).unwrap();
    assert_eq!(back, snapshot);
}

#[tokio::test]
async fn a_part_that_cannot_be_read_is_recorded_and_the_rest_is_still_audited() {
    let denied = mock!(Eks::describe_cluster)
        .match_requests(|r| r.name() == Some("dev"))
        .then_http_response(|| {
            error_response(
                403,
                "AccessDeniedException",
                "not authorized to perform eks:DescribeCluster",
            )
        });
    let failing = mock!(Eks::list_associated_access_policies)
        .match_requests(|r| r.principal_arn() == Some(BREAK_GLASS))
        .then_http_response(|| error_response(500, "ServerException", "internal error"));
    let rules = world(vec![denied, failing]);
    let snapshot = reader(&rules, Duration::ZERO, 4)
        .read(&targets(), "t".into())
        .await;
    let failed: Vec<(Option<&str>, Option<&str>, ReadStep)> = snapshot
        .unreadable
        .iter()
        .map(|u| {
            (
                u.cluster.as_deref(),
                u.principal_arn.as_deref(),
                u.operation,
            )
        })
        .collect();
    assert_eq!(
        failed,
        [
            (Some("dev"), None, ReadStep::DescribeCluster),
            (
                Some("prod"),
                Some(BREAK_GLASS),
                ReadStep::ListAssociatedAccessPolicies
            ),
        ]
    );
    assert_eq!(
        snapshot.unreadable[0].code.as_deref(),
        Some("AccessDeniedException")
    );
    let prod = snapshot.clusters.iter().find(|c| c.name == "prod").unwrap();
    assert!(
        prod.authentication_mode.is_some(),
        "the rest of prod is read"
    );
    let bg = prod
        .access_entries
        .as_ref()
        .unwrap()
        .iter()
        .find(|e| e.principal_arn == BREAK_GLASS)
        .unwrap();
    assert!(bg.policies.is_none() && bg.entry_type.is_some());
    // Graded: both failures are audit-incomplete at the highest severity they might hide.
    let report = eks_access_watch::audit::audit(
        &snapshot,
        None,
        &crate::util::sample_config(),
        &AuditConfig::default(),
        None,
    );
    let incomplete: Vec<Severity> = report
        .findings
        .iter()
        .filter(|f| f.finding.rule.id == "audit-incomplete")
        .map(|f| f.severity())
        .collect();
    assert_eq!(incomplete, [Severity::High, Severity::High]);
    assert!(
        !report
            .findings
            .iter()
            .any(|f| f.finding.rule.id == "no-working-break-glass"
                && f.cluster.as_deref() == Some("prod")),
        "unknown break-glass policies are not 'no break-glass'"
    );
}

#[tokio::test]
async fn a_cluster_deleted_during_the_audit_is_dropped_and_noted_at_info() {
    let gone = mock!(Eks::describe_cluster)
        .match_requests(|r| r.name() == Some("dev"))
        .then_http_response(|| {
            error_response(
                404,
                "ResourceNotFoundException",
                "No cluster found for name: dev.",
            )
        });
    let rules = world(vec![gone]);
    let snapshot = reader(&rules, Duration::ZERO, 4)
        .read(&targets(), "t".into())
        .await;
    assert_eq!(snapshot.clusters.len(), 1);
    assert!(snapshot.unreadable[0].gone());
    let report = eks_access_watch::audit::audit(
        &snapshot,
        None,
        &crate::util::sample_config(),
        &AuditConfig::default(),
        None,
    );
    assert!(!report.incomplete());
}

#[tokio::test(start_paused = true)]
async fn throttling_is_absorbed_by_the_sdks_adaptive_retry() {
    assert_eq!(
        read::retry(None).mode(),
        aws_smithy_types::retry::RetryMode::Adaptive
    );
    let throttled = mock!(Eks::list_clusters)
        .sequence()
        .http_response(|| error_response(429, "ThrottlingException", "Rate exceeded"))
        .http_response(|| error_response(429, "ThrottlingException", "Rate exceeded"))
        .output(|| ListClustersOutput::builder().clusters("prod").build())
        .build();
    let rules = world(vec![throttled]);
    let refs: Vec<&Rule> = rules.iter().collect();
    let start = tokio::time::Instant::now();
    let client = mock_client!(aws_sdk_eks, RuleMode::MatchAny, &refs, |b| b
        .retry_config(read::retry(None))
        .time_source(TokioClock(start)));
    let snapshot = Reader::new(EksClients::fixed(client), 4)
        .read(&targets(), "t".into())
        .await;
    assert!(snapshot.unreadable.is_empty(), "{:?}", snapshot.unreadable);
    assert_eq!(snapshot.clusters.len(), 1);
    assert_eq!(
        rules[0].num_calls(),
        3,
        "two throttled attempts, then the answer"
    );
    // The limiter slowed the client down (virtual time) instead of failing the audit.
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn at_most_the_concurrency_bound_of_calls_are_in_flight() {
    // 14 calls of 100 ms (virtual time): 2 ListClusters pages in sequence; DescribeCluster and
    // ListAccessEntries for both clusters (4); prod's second entries page; DescribeAccessEntry and
    // a policy listing for its 3 entries (6); one more policy page. At most 2 in flight:
    // 200 + 200 + 100 + 300 + 100 = 900 ms; unbounded: 200 + 100 + 100 + 100 + 100 = 600 ms.
    let rules = world(vec![]);
    let delay = Duration::from_millis(100);
    let start = tokio::time::Instant::now();
    reader(&rules, delay, 2).read(&targets(), "t".into()).await;
    let bounded = start.elapsed();
    assert_eq!(calls(&rules), 14);
    assert_eq!(bounded, Duration::from_millis(900), "took {bounded:?}");
    let rules = world(vec![]);
    let start = tokio::time::Instant::now();
    reader(&rules, delay, 64).read(&targets(), "t".into()).await;
    let free = start.elapsed();
    assert_eq!(free, Duration::from_millis(600), "took {free:?}");
}

// ---- the daily audit in the Lambda, end to end with mocks ----

fn s3_response(status: u16, code: &str) -> HttpResponse {
    let mut r = HttpResponse::new(
        StatusCode::try_from(status).unwrap(),
        SdkBody::from(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{code}</Message></Error>"
        )),
    );
    r.headers_mut().insert("content-type", "application/xml");
    r
}

/// What a PutObject stored: key and body.
type Stored = Arc<Mutex<Vec<(Option<String>, Vec<u8>)>>>;

/// An S3 client whose bucket holds `previous` (or nothing), recording every PutObject.
fn s3(previous: Option<String>) -> (aws_sdk_s3::Client, Stored) {
    let get = match previous {
        Some(text) => mock!(aws_sdk_s3::Client::get_object)
            .match_requests(|r| {
                r.key() == Some(SNAPSHOT_KEY) && r.bucket() == Some("snapshots-bucket")
            })
            .then_output(move || {
                GetObjectOutput::builder()
                    .body(ByteStream::from(text.clone().into_bytes()))
                    .build()
            }),
        None => mock!(aws_sdk_s3::Client::get_object)
            .then_http_response(|| s3_response(404, "NoSuchKey")),
    };
    let stored = Arc::new(Mutex::new(Vec::new()));
    let sink = stored.clone();
    let put =
        mock!(aws_sdk_s3::Client::put_object).then_compute_output(move |req: &PutObjectInput| {
            let body = req.body().bytes().unwrap_or_default().to_vec();
            sink.lock()
                .unwrap()
                .push((req.key().map(str::to_string), body));
            PutObjectOutput::builder().version_id("v2").build()
        });
    // No earlier version of the snapshot: a missing one is a first run.
    let versions = mock!(aws_sdk_s3::Client::list_object_versions)
        .then_output(|| ListObjectVersionsOutput::builder().build());
    (
        mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&get, &put, &versions]),
        stored,
    )
}

fn lambda_settings() -> LambdaSettings {
    let env = [
        (
            "ALERT_TOPIC_ARN",
            "arn:aws:sns:eu-west-1:111122223333:alerts",
        ),
        ("APPROVED_CALLER_ARNS", TERRAFORM),
        ("BREAK_GLASS_ROLE_ARNS", BREAK_GLASS),
        ("AUDIT_BUCKET", "snapshots-bucket"),
        ("AUDIT_REGIONS", REGION),
    ];
    LambdaSettings::from_env(|k| {
        env.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    })
    .unwrap()
}

fn daily(s3: aws_sdk_s3::Client, rules: &[Rule]) -> DailyAudit {
    let settings = lambda_settings();
    DailyAudit {
        reader: reader(rules, Duration::ZERO, 4),
        s3,
        bucket: settings.audit.bucket.clone().unwrap(),
        targets: targets(),
        config: settings.audit.config.clone(),
        coverage: None,
    }
}

/// The Lambda's handler with the daily audit, publishing through `sns`.
fn audit_handler(s3: aws_sdk_s3::Client, sns: aws_sdk_sns::Client, rules: &[Rule]) -> Handler {
    handler_with(lambda_settings(), s3, sns, rules)
}

fn handler_with(
    settings: impl Into<Setup>,
    s3: aws_sdk_s3::Client,
    sns: aws_sdk_sns::Client,
    rules: &[Rule],
) -> Handler {
    Handler::new(settings, crate::aws::clients(None, Some(sns), None)).with_audit(daily(s3, rules))
}

/// Today's scheduled audit, with yesterday's snapshot in the bucket, through a handler set up
/// with `settings`: the response, today's snapshot, what was published and what was stored.
async fn today_after_yesterday(
    settings: impl Into<Setup>,
) -> (
    eks_access_watch::lambda::Response,
    Snapshot,
    Arc<Mutex<Vec<aws_sdk_sns::operation::publish::PublishInput>>>,
    Stored,
) {
    let rules = world(vec![]);
    let today = reader(&rules, Duration::ZERO, 4)
        .read(&targets(), "t".into())
        .await;
    let (s3, stored) = s3(Some(yesterday(&today)));
    let rules = world(vec![]);
    let (sns, published) = sns_capturing();
    let response = handler_with(settings, s3, sns, &rules)
        .handle(&crate::aws::raw(&json!({"task": "audit"})))
        .await
        .unwrap();
    (response, today, published, stored)
}

/// Yesterday: platform-admin had no entry and prod had audit logging on.
fn yesterday(today: &Snapshot) -> String {
    let mut s = today.clone();
    s.taken_at = Some("2026-11-19T06:00:00Z".into());
    let prod = s.clusters.iter_mut().find(|c| c.name == "prod").unwrap();
    prod.access_entries
        .as_mut()
        .unwrap()
        .retain(|e| e.principal_arn != PLATFORM_ADMIN);
    prod.logging.as_mut().unwrap().audit = Some(true);
    s.to_json()
}

#[tokio::test]
async fn the_schedule_publishes_a_digest_and_one_alert_per_drift_then_stores_the_snapshot() {
    let (response, today, published, stored) = today_after_yesterday(lambda_settings()).await;
    let run = response.audit.expect("an audit run");
    assert!(response.alerts.is_empty());
    assert_eq!(run.drift, 2, "{run:?}");
    assert_eq!(
        run.snapshot,
        "s3://snapshots-bucket/snapshots/latest.json (version v2)"
    );

    let messages = published.lock().unwrap();
    assert_eq!(
        messages.len(),
        3,
        "one digest and one alert per drift finding"
    );
    let digest = &messages[0];
    assert!(
        digest
            .subject()
            .unwrap()
            .starts_with("EKS access posture: 2 clusters, 0 critical, "),
        "{:?}",
        digest.subject()
    );
    assert_eq!(
        attribute(digest, "event_name"),
        Some(("String", "AuditDigest"))
    );
    assert_eq!(attribute(digest, "account"), Some(("String", ACCOUNT)));
    assert_eq!(attribute(digest, "severity"), Some(("String", "high")));
    assert_eq!(attribute(digest, "severity_rank"), Some(("Number", "3")));
    let body = json_message(digest);
    assert!(
        body["email"]
            .as_str()
            .unwrap()
            .contains("prod (111122223333, eu-west-1)")
    );
    let doc: Value = serde_json::from_str(body["default"].as_str().unwrap()).unwrap();
    assert_eq!(doc["kind"], "audit-digest");
    assert_eq!(doc["baseline_taken_at"], "2026-11-19T06:00:00Z");
    assert_eq!(doc["drift"], 2);

    let drift: Vec<(&str, &str)> = messages[1..]
        .iter()
        .map(|m| {
            (
                attribute(m, "rules").unwrap().1,
                attribute(m, "severity").unwrap().1,
            )
        })
        .collect();
    assert_eq!(
        drift,
        [
            ("[\"drift-entry-added\"]", "high"),
            ("[\"drift-cluster-setting\"]", "high")
        ]
    );
    for m in &messages[1..] {
        assert_eq!(attribute(m, "event_name"), Some(("String", "AuditDrift")));
        assert_eq!(attribute(m, "cluster"), Some(("String", "prod")));
    }
    let alert: Value =
        serde_json::from_str(json_message(&messages[1])["default"].as_str().unwrap()).unwrap();
    assert_eq!(alert["principal_arn"], PLATFORM_ADMIN);
    assert!(
        messages[1]
            .subject()
            .unwrap()
            .starts_with("[HIGH] prod: role/platform-admin has an access entry")
    );

    let stored = stored.lock().unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].0.as_deref(), Some(SNAPSHOT_KEY));
    let text = std::str::from_utf8(&stored[0].1).unwrap();
    let kept = Snapshot::from_json("stored", text).unwrap();
    assert_eq!(
        kept.clusters, today.clusters,
        "the snapshot read is the one kept"
    );
}

/// The previous snapshot missing from a bucket that kept earlier versions of it (a delete
/// marker over it), or unreadable: not a first run but `audit-incomplete` (high).
#[tokio::test]
async fn a_baseline_deleted_or_unreadable_after_the_first_run_is_audit_incomplete() {
    use aws_sdk_s3::types::DeleteMarkerEntry;
    let rules = world(vec![]);
    let get =
        mock!(aws_sdk_s3::Client::get_object).then_http_response(|| s3_response(404, "NoSuchKey"));
    let put = mock!(aws_sdk_s3::Client::put_object)
        .then_output(|| PutObjectOutput::builder().version_id("v9").build());
    let versions = mock!(aws_sdk_s3::Client::list_object_versions).then_output(|| {
        ListObjectVersionsOutput::builder()
            .delete_markers(
                DeleteMarkerEntry::builder()
                    .key(SNAPSHOT_KEY)
                    .version_id("dm-1")
                    .is_latest(true)
                    .build(),
            )
            .build()
    });
    let bucket = mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&get, &put, &versions]);
    let (sns, published) = sns_capturing();
    let run = audit_handler(bucket, sns, &rules)
        .handle(&crate::aws::raw(&json!({"task": "audit"})))
        .await
        .unwrap()
        .audit
        .unwrap();
    assert_eq!(
        run.notes,
        ["no drift comparison: the previous snapshot is missing"]
    );
    // One high finding more than a first run of the same world.
    let (bucket, _) = s3(None);
    let (sns, _) = sns_capturing();
    let first_run = audit_handler(bucket, sns, &rules)
        .handle(&crate::aws::raw(&json!({"task": "audit"})))
        .await
        .unwrap()
        .audit
        .unwrap();
    assert_eq!(run.counts.high, first_run.counts.high + 1, "{run:?}");
    let digest = json_message(&published.lock().unwrap()[0]);
    let text = digest["email"].as_str().unwrap();
    assert!(text.contains("audit-incomplete"), "{text}");
    assert!(
        text.contains("snapshots/latest.json is missing though the bucket keeps earlier versions"),
        "{text}"
    );

    // A baseline that is there but cannot be read.
    let (bucket, _) = s3(Some("{not a snapshot".to_string()));
    let (sns, published) = sns_capturing();
    let broken = audit_handler(bucket, sns, &rules)
        .handle(&crate::aws::raw(&json!({"task": "audit"})))
        .await
        .unwrap()
        .audit
        .unwrap();
    assert_eq!(broken.counts.high, first_run.counts.high + 1, "{broken:?}");
    let digest = json_message(&published.lock().unwrap()[0]);
    let text = digest["email"].as_str().unwrap();
    assert!(
        text.contains("snapshots/latest.json cannot be read"),
        "{text}"
    );
}

#[tokio::test]
async fn the_first_run_has_no_baseline_and_says_so() {
    let rules = world(vec![]);
    let (s3, stored) = s3(None);
    let (sns, published) = sns_capturing();
    let handler = audit_handler(s3, sns, &rules);
    let run = handler
        .handle(&crate::aws::raw(&json!({"task": "audit"})))
        .await
        .unwrap()
        .audit
        .unwrap();
    assert_eq!(run.drift, 0);
    assert_eq!(
        run.notes,
        ["no drift comparison: first run (no previous snapshot)"]
    );
    assert_eq!(published.lock().unwrap().len(), 1, "the digest only");
    assert_eq!(stored.lock().unwrap().len(), 1);
    let email = json_message(&published.lock().unwrap()[0])["email"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        email.contains("Note: no drift comparison: first run"),
        "{email}"
    );
}

#[tokio::test]
async fn a_digest_sns_refuses_keeps_the_old_snapshot_so_a_retry_reports_the_same_drift() {
    let rules = world(vec![]);
    let (s3, stored) = s3(None);
    let throttled = mock!(aws_sdk_sns::Client::publish)
        .then_http_response(|| error_response(400, "Throttled", "Rate exceeded"));
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&throttled], |b| b
        .retry_config(aws_smithy_types::retry::RetryConfig::disabled()));
    let handler = audit_handler(s3, sns, &rules);
    let err = handler
        .handle(&crate::aws::raw(&json!({"task": "audit"})))
        .await
        .unwrap_err();
    assert!(matches!(err, HandlerError::Audit(_)), "{err}");
    assert!(err.retryable(), "{err}");
    assert_eq!(err.error_type(), "EksAccessWatch.AuditFailed");
    assert!(
        stored.lock().unwrap().is_empty(),
        "the snapshot is not replaced"
    );
}

#[tokio::test]
async fn the_audit_task_without_a_bucket_is_refused_naming_the_variable() {
    let settings = LambdaSettings::from_env(|_| None).unwrap();
    let handler = Handler::new(settings, crate::aws::clients(None, None, None));
    let err = handler
        .handle(&crate::aws::raw(&json!({"task": "audit"})))
        .await
        .unwrap_err();
    assert!(!err.retryable());
    assert!(err.to_string().contains("AUDIT_BUCKET"), "{err}");
}

/// The daily audit applies the Lambda's tuning file: a drift finding an exception in force
/// covers is in the digest, marked, but sends no drift alert and does not count.
#[tokio::test]
async fn the_daily_audit_applies_the_tuning_file() {
    // In force today, whenever the test runs: at most 180 days ahead.
    let expires = chrono::Utc::now().date_naive() + chrono::Days::new(90);
    let tuning = eks_access_watch::Tuning::parse(
        &format!(
            "[[exceptions]]\nid = \"platform-admin\"\nrule = \"drift-entry-added\"\nprincipal = \"{PLATFORM_ADMIN}\"\nreason = \"Approved in CHG-1\"\nexpires = {expires}\n"
        ),
        "SSM parameter /t",
    )
    .unwrap();
    let settings = with_tuning(lambda_settings(), tuning).unwrap();
    let (response, _, published, _) = today_after_yesterday(settings).await;
    let run = response.audit.expect("an audit run");
    assert_eq!(run.drift, 1, "the suppressed drift does not count: {run:?}");
    assert!(
        run.drift_alerts
            .iter()
            .any(|a| a.starts_with("drift-entry-added")
                && a.ends_with("suppressed by exception platform-admin")),
        "{:?}",
        run.drift_alerts
    );
    let messages = published.lock().unwrap();
    assert_eq!(
        messages.len(),
        2,
        "the digest and the one drift alert that counts"
    );
    let digest = json_message(&messages[0]);
    assert!(
        digest["email"]
            .as_str()
            .unwrap()
            .contains("suppressed by exception platform-admin"),
        "{}",
        digest["email"]
    );
}

// ---- the watcher's own coverage (forwarding-broken, watch-coverage-missing) ----

fn coverage_clients(
    rules: &[(&str, &str)],
    dead_letters: &str,
    filters: &[(&str, &str)],
) -> (eks_access_watch::aws::coverage::CoverageClients, Vec<Rule>) {
    use aws_sdk_cloudwatchlogs::operation::describe_subscription_filters::DescribeSubscriptionFiltersOutput;
    use aws_sdk_cloudwatchlogs::types::SubscriptionFilter;
    use aws_sdk_eventbridge::operation::list_rules::ListRulesOutput;
    use aws_sdk_eventbridge::types::{Rule as EventRule, RuleState};
    use aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesOutput;
    use aws_sdk_sqs::operation::get_queue_url::GetQueueUrlOutput;
    use aws_sdk_sqs::types::QueueAttributeName;
    let listed: Vec<EventRule> = rules
        .iter()
        .map(|(name, state)| {
            EventRule::builder()
                .name(*name)
                .state(RuleState::from(*state))
                .build()
        })
        .collect();
    let list = mock!(aws_sdk_eventbridge::Client::list_rules)
        .match_requests(|r| r.name_prefix() == Some("eks-access-watch-forward-"))
        .then_output(move || {
            ListRulesOutput::builder()
                .set_rules(Some(listed.clone()))
                .build()
        });
    let url = mock!(aws_sdk_sqs::Client::get_queue_url)
        .match_requests(|r| r.queue_name() == Some("eks-access-watch-forward-dead-letters"))
        .then_output(|| {
            GetQueueUrlOutput::builder()
                .queue_url("https://sqs.eu-west-1.amazonaws.com/111122223333/eks-access-watch-forward-dead-letters")
                .build()
        });
    let depth = dead_letters.to_string();
    let attributes = mock!(aws_sdk_sqs::Client::get_queue_attributes).then_output(move || {
        GetQueueAttributesOutput::builder()
            .attributes(
                QueueAttributeName::ApproximateNumberOfMessages,
                depth.clone(),
            )
            .build()
    });
    let found: Vec<SubscriptionFilter> = filters
        .iter()
        .map(|(name, destination)| {
            SubscriptionFilter::builder()
                .filter_name(*name)
                .destination_arn(*destination)
                .build()
        })
        .collect();
    let subscriptions = mock!(aws_sdk_cloudwatchlogs::Client::describe_subscription_filters)
        .then_output(move || {
            DescribeSubscriptionFiltersOutput::builder()
                .set_subscription_filters(Some(found.clone()))
                .build()
        });
    let clients = eks_access_watch::aws::coverage::CoverageClients {
        events: mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, &[&list]),
        sqs: mock_client!(aws_sdk_sqs, RuleMode::MatchAny, &[&url, &attributes]),
        logs: mock_client!(
            aws_sdk_cloudwatchlogs,
            RuleMode::MatchAny,
            &[&subscriptions]
        ),
    };
    (clients, vec![list, url, attributes, subscriptions])
}

/// The daily audit reads a member region's forwarding through the reader role: a disabled
/// rule, a missing one and events in the dead-letter queue are `forwarding-broken` (high);
/// a cluster whose aws-auth is live with its audit log off is `watch-coverage-missing`.
#[tokio::test]
async fn a_member_region_whose_forwarding_is_disabled_or_failing_is_forwarding_broken() {
    use eks_access_watch::aws::coverage::CoverageReader;
    use eks_access_watch::model::snapshot::FORWARD_RULES;
    let mut rules: Vec<(&str, &str)> = FORWARD_RULES
        .iter()
        .filter(|n| !n.ends_with("-trail"))
        .map(|n| (*n, "ENABLED"))
        .collect();
    rules[0].1 = "DISABLED";
    let (clients, calls) = coverage_clients(&rules, "4", &[]);
    let world = world(vec![]);
    let (bucket, _) = s3(None);
    let (sns, published) = sns_capturing();
    let mut audit = daily(bucket, &world);
    // The central region is another: this one is a member region and must forward.
    audit.coverage = Some(CoverageReader::fixed(
        clients,
        Some(ACCOUNT.to_string()),
        Some("us-east-1".to_string()),
    ));
    let handler = Handler::new(
        lambda_settings(),
        crate::aws::clients(None, Some(sns), None),
    )
    .with_audit(audit);
    let run = handler
        .handle(&crate::aws::raw(&json!({"task": "audit"})))
        .await
        .unwrap()
        .audit
        .unwrap();
    assert_eq!(calls[0].num_calls(), 1, "ListRules");
    assert_eq!(calls[2].num_calls(), 1, "GetQueueAttributes");
    let digest = json_message(&published.lock().unwrap()[0]);
    let text = digest["email"].as_str().unwrap();
    assert!(text.contains("forwarding-broken"), "{text}");
    for part in [
        "rule eks-access-watch-forward-access is DISABLED",
        "rule eks-access-watch-forward-trail is missing",
        "4 event(s) wait in eks-access-watch-forward-dead-letters",
    ] {
        assert!(text.contains(part), "{part}: {text}");
    }
    assert!(
        text.contains("aws-auth is live on cluster dev (mode CONFIG_MAP) but its audit log is off"),
        "{text}"
    );
    assert!(run.counts.high >= 1);

    // In the central region of the home account nothing is forwarded, so nothing is read.
    let (clients, calls) = coverage_clients(&[], "0", &[]);
    let (bucket, _) = s3(None);
    let (sns, published) = sns_capturing();
    let mut audit = daily(bucket, &world);
    audit.coverage = Some(CoverageReader::fixed(
        clients,
        Some(ACCOUNT.to_string()),
        Some(REGION.to_string()),
    ));
    Handler::new(
        lambda_settings(),
        crate::aws::clients(None, Some(sns), None),
    )
    .with_audit(audit)
    .handle(&crate::aws::raw(&json!({"task": "audit"})))
    .await
    .unwrap();
    assert_eq!(calls[0].num_calls(), 0);
    let digest = json_message(&published.lock().unwrap()[0]);
    assert!(
        !digest["email"]
            .as_str()
            .unwrap()
            .contains("forwarding-broken")
    );
}

/// A live-aws-auth cluster with its audit log on is subscribed only by the watcher's own
/// filter (`<stack>-aws-auth-rbac` to a Lambda function), not by another tool's.
#[tokio::test]
async fn the_audit_log_counts_as_watched_only_with_the_watchers_subscription() {
    use eks_access_watch::audit::snapshot::{ClusterState, Logging};
    use eks_access_watch::aws::coverage::CoverageReader;
    use eks_access_watch::model::AuthMode;
    let lambda = "arn:aws:lambda:eu-west-1:111122223333:function:eks-access-watch";
    for (filters, expected) in [
        (vec![("eks-access-watch-aws-auth-rbac", lambda)], Some(true)),
        (
            vec![(
                "splunk-forwarder",
                "arn:aws:firehose:eu-west-1:111122223333:deliverystream/x",
            )],
            Some(false),
        ),
        (vec![], Some(false)),
    ] {
        let (clients, _) = coverage_clients(&[], "0", &filters);
        let reader = CoverageReader::fixed(clients, Some(ACCOUNT.into()), Some(REGION.into()));
        let mut snapshot = Snapshot::new(None);
        snapshot.clusters.push(ClusterState {
            account: Some(ACCOUNT.into()),
            region: Some(REGION.into()),
            name: "legacy".into(),
            authentication_mode: Some(AuthMode::ApiAndConfigMap),
            logging: Some(Logging {
                audit: Some(true),
                ..Logging::default()
            }),
            ..ClusterState::default()
        });
        reader.complete(&mut snapshot, &targets()).await;
        assert_eq!(
            snapshot.clusters[0].audit_log_subscribed, expected,
            "{filters:?}"
        );
        assert!(
            snapshot.forwarding.is_empty(),
            "the central region forwards nothing"
        );
    }
}
