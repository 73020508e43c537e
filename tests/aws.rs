use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_eks::Client as Eks;
use aws_sdk_eks::operation::describe_access_entry::DescribeAccessEntryOutput;
use aws_sdk_eks::operation::describe_cluster::DescribeClusterOutput;
use aws_sdk_eks::operation::list_access_entries::ListAccessEntriesOutput;
use aws_sdk_eks::operation::list_associated_access_policies::ListAssociatedAccessPoliciesOutput;
use aws_sdk_eks::types::{
    AccessConfigResponse, AccessEntry, AccessScope, AccessScopeType, AssociatedAccessPolicy,
    AuthenticationMode, Cluster, VpcConfigResponse,
};
use aws_sdk_sns::Client as Sns;
use aws_sdk_sns::operation::publish::{PublishInput, PublishOutput};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_runtime_api::http::{Response as HttpResponse, StatusCode};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use eks_access_watch::Severity;
use eks_access_watch::config::{AlertFormat, LambdaSettings};
use eks_access_watch::context::eks::{EnrichSettings, Enricher};
use eks_access_watch::context::state::MemoryStore;
use eks_access_watch::lambda::{Clients, Handler, HandlerError};
use eks_access_watch::model::EnrichmentStatus;
use eks_access_watch::render::sns::{SNS_MAX_BYTES, build_message};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::delayed::Delayed;
use crate::util::*;

const CLUSTER: &str = "prod";
const CI: &str = "arn:aws:iam::111122223333:role/ci-deployer";
const ADMIN_POLICY: &str = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy";
const VIEW_POLICY: &str = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy";

// ---- the SDK's mock client, plus a delay at the HTTP layer for timing behaviour ----

pub(crate) fn eks_with(rules: &[&Rule], delay: Duration) -> Eks {
    mock_client!(aws_sdk_eks, RuleMode::MatchAny, rules, |b| b
        .http_client(Delayed {
            inner: aws_smithy_mocks::create_mock_http_client(),
            delay
        })
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1))
        ))
}

fn eks(rules: &[&Rule]) -> Eks {
    eks_with(rules, Duration::ZERO)
}

pub(crate) fn error_response(status: u16, code: &str, message: &str) -> HttpResponse {
    let mut r = HttpResponse::new(
        StatusCode::try_from(status).unwrap(),
        SdkBody::from(json!({"message": message}).to_string()),
    );
    r.headers_mut().insert("x-amzn-errortype", code.to_string());
    r.headers_mut().insert("content-type", "application/json");
    r
}

fn entry_ok() -> Rule {
    mock!(Eks::describe_access_entry).then_compute_output(|req| {
        DescribeAccessEntryOutput::builder()
            .access_entry(
                AccessEntry::builder()
                    .cluster_name(req.cluster_name().unwrap_or_default())
                    .principal_arn(req.principal_arn().unwrap_or_default())
                    .r#type("STANDARD")
                    .kubernetes_groups("team:payments")
                    .tags("Owner", "platform")
                    .build(),
            )
            .build()
    })
}

/// A ClusterAdmin-style association at cluster scope (shared with the migrate tests).
pub fn grant(policy: &str) -> AssociatedAccessPolicy {
    AssociatedAccessPolicy::builder()
        .policy_arn(policy)
        .access_scope(
            AccessScope::builder()
                .r#type(AccessScopeType::Cluster)
                .build(),
        )
        .build()
}

/// Two pages: ClusterAdmin, then View.
fn policies_two_pages() -> Rule {
    mock!(Eks::list_associated_access_policies).then_compute_output(|req| {
        if req.next_token().is_none() {
            ListAssociatedAccessPoliciesOutput::builder()
                .associated_access_policies(grant(ADMIN_POLICY))
                .next_token("page-2")
                .build()
        } else {
            ListAssociatedAccessPoliciesOutput::builder()
                .associated_access_policies(grant(VIEW_POLICY))
                .build()
        }
    })
}

fn cluster_ok() -> Rule {
    mock!(Eks::describe_cluster).then_compute_output(|req| {
        DescribeClusterOutput::builder()
            .cluster(
                Cluster::builder()
                    .name(req.name().unwrap_or_default())
                    .version("1.31")
                    .access_config(
                        AccessConfigResponse::builder()
                            .authentication_mode(AuthenticationMode::ApiAndConfigMap)
                            .build(),
                    )
                    .resources_vpc_config(
                        VpcConfigResponse::builder()
                            .endpoint_public_access(true)
                            .public_access_cidrs("0.0.0.0/0")
                            .build(),
                    )
                    .build(),
            )
            .build()
    })
}

fn associate_record(principal: &str, policy_arn: &str) -> Value {
    record(
        "AssociateAccessPolicy",
        json!({"name": CLUSTER, "principalArn": encode(principal), "policyArn": policy_arn, "accessScope": {"type": "cluster"}}),
        assumed(HUMAN, "jdoe"),
    )
}

/// What the enricher says about a View grant to role/ci-deployer on `prod`.
async fn enrich_view_grant(enricher: &Enricher) -> eks_access_watch::Enrichment {
    enricher
        .enrich(&normalise(&associate_record(CI, VIEW_POLICY)))
        .await
        .unwrap()
}

fn settings(timeout_ms: u64) -> EnrichSettings {
    EnrichSettings {
        timeout: Duration::from_millis(timeout_ms),
        ..EnrichSettings::default()
    }
}

// ---- enrichment ----

#[tokio::test]
async fn enrichment_describes_entry_policies_on_every_page_and_cluster() {
    let (e, p, c) = (entry_ok(), policies_two_pages(), cluster_ok());
    let enricher = Enricher::with_client(eks(&[&e, &p, &c]), settings(3000));
    let event = normalise(&associate_record(CI, ADMIN_POLICY));
    let got = enricher.enrich(&event).await.unwrap();
    assert_eq!(got.status, EnrichmentStatus::Complete, "{:?}", got.errors);
    assert_eq!(
        got.associated_policies.as_ref().unwrap().len(),
        2,
        "both pages read"
    );
    assert_eq!(p.num_calls(), 2);
    assert_eq!(
        got.access_entry.as_ref().unwrap().kubernetes_groups,
        vec!["team:payments"]
    );
    assert_eq!(
        got.cluster
            .as_ref()
            .unwrap()
            .authentication_mode
            .as_ref()
            .map(|m| m.as_str()),
        Some("API_AND_CONFIG_MAP")
    );
    let alert = classify(&event, &sample_config(), Some(&got));
    assert_eq!(
        eks_access_watch::render::effective_access_of(&alert).as_deref(),
        Some(
            "after this change role/ci-deployer holds: ClusterAdmin (cluster), View (cluster); (ClusterAdmin at cluster scope supersedes the other grants); groups: team:payments; type: STANDARD"
        )
    );
    assert_eq!(got.remaining_admins, None, "no census for a grant");
}

#[tokio::test]
async fn the_principal_is_sent_decoded_to_the_api() {
    let e = mock!(Eks::describe_access_entry)
        .match_requests(|r| r.principal_arn() == Some(CI) && r.cluster_name() == Some(CLUSTER))
        .then_output(|| {
            DescribeAccessEntryOutput::builder()
                .access_entry(AccessEntry::builder().build())
                .build()
        });
    let p = mock!(Eks::list_associated_access_policies)
        .match_requests(|r| r.principal_arn() == Some(CI))
        .then_output(|| ListAssociatedAccessPoliciesOutput::builder().build());
    let c = cluster_ok();
    let enricher = Enricher::with_client(eks(&[&e, &p, &c]), settings(3000));
    let got = enrich_view_grant(&enricher).await;
    assert_eq!(got.status, EnrichmentStatus::Complete, "{:?}", got.errors);
    assert_eq!((e.num_calls(), p.num_calls()), (1, 1));
}

#[tokio::test]
async fn entry_not_found_is_reported_and_the_rest_is_kept() {
    let e = mock!(Eks::describe_access_entry).then_http_response(|| {
        error_response(
            404,
            "ResourceNotFoundException",
            "The specified access entry resource is not found.",
        )
    });
    let p = mock!(Eks::list_associated_access_policies)
        .then_http_response(|| error_response(404, "ResourceNotFoundException", "not found"));
    let c = cluster_ok();
    let enricher = Enricher::with_client(eks(&[&e, &p, &c]), settings(3000));
    let got = enrich_view_grant(&enricher).await;
    assert_eq!(got.status, EnrichmentStatus::Partial);
    assert!(
        got.errors[0].starts_with("DescribeAccessEntry: ResourceNotFoundException"),
        "{:?}",
        got.errors
    );
    assert!(got.cluster.is_some());
}

#[tokio::test]
async fn access_denied_everywhere_is_failed_and_never_lowers_severity() {
    let denied = || {
        error_response(
            403,
            "AccessDeniedException",
            "User is not authorized to perform eks:DescribeAccessEntry",
        )
    };
    let e = mock!(Eks::describe_access_entry).then_http_response(denied);
    let p = mock!(Eks::list_associated_access_policies).then_http_response(denied);
    let c = mock!(Eks::describe_cluster).then_http_response(denied);
    let enricher = Enricher::with_client(eks(&[&e, &p, &c]), settings(3000));
    let event = normalise(&associate_record(CI, ADMIN_POLICY));
    let got = enricher.enrich(&event).await.unwrap();
    assert_eq!(got.status, EnrichmentStatus::Failed);
    assert_eq!(got.errors.len(), 3);
    assert!(
        got.errors
            .iter()
            .all(|e| e.contains("AccessDeniedException"))
    );
    let with = classify(&event, &sample_config(), Some(&got));
    let without = classify(&event, &sample_config(), None);
    assert_eq!(with.severity, without.severity);
    assert_eq!(with.severity, Severity::Critical);
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk_then_succeeds() {
    let throttled = mock!(Eks::describe_cluster)
        .sequence()
        .http_response(|| error_response(429, "ThrottlingException", "Rate exceeded"))
        .output(|| {
            DescribeClusterOutput::builder()
                .cluster(Cluster::builder().version("1.31").build())
                .build()
        })
        .build();
    let enricher = Enricher::with_client(eks(&[&throttled]), settings(3000));
    let event = normalise(&record(
        "UpdateClusterConfig",
        json!({"name": CLUSTER, "deletionProtection": false}),
        assumed(TERRAFORM, "r"),
    ));
    let got = enricher.enrich(&event).await.unwrap();
    assert_eq!(got.status, EnrichmentStatus::Complete, "{:?}", got.errors);
    assert_eq!(throttled.num_calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn lookups_run_concurrently_so_latency_is_the_slowest_call() {
    let (e, p, c) = (
        entry_ok(),
        mock!(Eks::list_associated_access_policies)
            .then_output(|| ListAssociatedAccessPoliciesOutput::builder().build()),
        cluster_ok(),
    );
    let delay = Duration::from_millis(400);
    let enricher = Enricher::with_client(eks_with(&[&e, &p, &c], delay), settings(3000));
    let start = tokio::time::Instant::now();
    let got = enrich_view_grant(&enricher).await;
    let took = start.elapsed();
    assert_eq!(got.status, EnrichmentStatus::Complete, "{:?}", got.errors);
    // Virtual time: three calls of 400 ms each take 400 ms together, 1200 ms one after another.
    assert!(took >= delay && took < delay * 2, "took {took:?}");
}

#[tokio::test(start_paused = true)]
async fn a_missed_deadline_is_reported_and_the_alert_is_still_published() {
    let (e, p, c) = (entry_ok(), policies_two_pages(), cluster_ok());
    let enricher = Enricher::with_client(
        eks_with(&[&e, &p, &c], Duration::from_millis(5000)),
        settings(3000),
    );
    let (sns, published) = sns_capturing();
    let handler = Handler::new(
        settings_for(Some("arn:aws:sns:eu-west-1:111122223333:alerts")),
        clients(Some(enricher), Some(sns), None),
    );
    let response = handler
        .handle(&raw(&associate_record(CI, ADMIN_POLICY)))
        .await
        .unwrap();
    assert!(
        response.alerts[0].delivery.starts_with("published"),
        "{:?}",
        response.alerts
    );
    let messages = published.lock().unwrap();
    let alert: Value =
        serde_json::from_str(json_message(&messages[0])["default"].as_str().unwrap()).unwrap();
    assert_eq!(alert["enrichment"]["status"], "failed");
    assert!(
        alert["enrichment"]["errors"][0]
            .as_str()
            .unwrap()
            .contains("no answer within the 3000 ms deadline"),
        "{alert}"
    );
    assert_eq!(alert["severity"], "critical");
}

fn census_rules(admin_holders: &'static [&'static str]) -> (Rule, Rule) {
    let list = mock!(Eks::list_access_entries).then_output(|| {
        ListAccessEntriesOutput::builder()
            .access_entries("arn:aws:iam::111122223333:role/eks-node-role")
            .access_entries("arn:aws:iam::111122223333:role/payments-dev")
            .access_entries("arn:aws:iam::111122223333:role/platform-admin")
            .build()
    });
    let policies = mock!(Eks::list_associated_access_policies).then_compute_output(move |req| {
        let principal = req.principal_arn().unwrap_or_default();
        let b = ListAssociatedAccessPoliciesOutput::builder();
        if admin_holders.contains(&principal) {
            b.associated_access_policies(grant(ADMIN_POLICY)).build()
        } else {
            b.associated_access_policies(grant(VIEW_POLICY)).build()
        }
    });
    (list, policies)
}

#[tokio::test]
async fn switching_to_api_with_no_admin_left_is_a_lockout_risk() {
    let (list, policies) = census_rules(&[]);
    let c = cluster_ok();
    let enricher = Enricher::with_client(eks(&[&list, &policies, &c]), settings(3000));
    let event = normalise(&record(
        "UpdateClusterConfig",
        json!({"name": CLUSTER, "accessConfig": {"authenticationMode": "API"}}),
        assumed(HUMAN, "jdoe"),
    ));
    let got = enricher.enrich(&event).await.unwrap();
    let census = got.remaining_admins.as_ref().unwrap();
    assert_eq!((census.entries_checked, census.admins.len()), (3, 0));
    let alert = classify(&event, &sample_config(), Some(&got));
    assert_eq!(finding(&alert, "lockout-risk"), Some(Severity::Critical));
}

#[tokio::test]
async fn switching_to_api_with_an_admin_left_is_not_a_lockout_risk() {
    let (list, policies) = census_rules(&["arn:aws:iam::111122223333:role/platform-admin"]);
    let c = cluster_ok();
    let enricher = Enricher::with_client(eks(&[&list, &policies, &c]), settings(3000));
    let event = normalise(&record(
        "UpdateClusterConfig",
        json!({"name": CLUSTER, "accessConfig": {"authenticationMode": "API"}}),
        assumed(HUMAN, "jdoe"),
    ));
    let got = enricher.enrich(&event).await.unwrap();
    assert_eq!(
        got.remaining_admins.as_ref().unwrap().admins,
        vec!["arn:aws:iam::111122223333:role/platform-admin"]
    );
    let alert = classify(&event, &sample_config(), Some(&got));
    assert_eq!(finding(&alert, "lockout-risk"), None);
}

#[tokio::test]
async fn a_census_past_its_bound_is_incomplete_and_proves_nothing() {
    let (list, policies) = census_rules(&[]);
    let c = cluster_ok();
    let enricher = Enricher::with_client(
        eks(&[&list, &policies, &c]),
        EnrichSettings {
            max_entries: 2,
            ..settings(3000)
        },
    );
    let event = normalise(&record(
        "DeleteAccessEntry",
        json!({"name": CLUSTER, "principalArn": encode(CI)}),
        assumed(HUMAN, "jdoe"),
    ));
    let got = enricher.enrich(&event).await.unwrap();
    assert!(got.remaining_admins.as_ref().unwrap().truncated);
    assert_eq!(
        finding(
            &classify(&event, &sample_config(), Some(&got)),
            "lockout-risk"
        ),
        None
    );
}

#[tokio::test]
async fn other_accounts_are_skipped_without_a_role_template() {
    let sdk = aws_types::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let enricher = Enricher::from_sdk_config(
        &sdk,
        EnrichSettings {
            home_account: Some("999988887777".into()),
            ..settings(3000)
        },
    );
    let got = enrich_view_grant(&enricher).await;
    assert_eq!(got.status, EnrichmentStatus::Skipped);
    assert!(
        got.errors[0].contains("ENRICH_ROLE_ARN_TEMPLATE"),
        "{:?}",
        got.errors
    );
}

// ---- delivery ----

/// An invocation payload as the runtime hands it over: raw JSON.
pub(crate) fn raw(v: &Value) -> Box<RawValue> {
    RawValue::from_string(v.to_string()).unwrap()
}

/// The handler's clients (no CloudTrail reader unless a test needs one).
pub(crate) fn clients(
    enricher: Option<Enricher>,
    sns: Option<Sns>,
    sqs: Option<aws_sdk_sqs::Client>,
) -> Clients {
    Clients {
        enricher,
        sns,
        sqs,
        cloudtrail: None,
        s3: None,
        state: None,
    }
}

pub fn sns_capturing() -> (Sns, Arc<Mutex<Vec<PublishInput>>>) {
    let published = Arc::new(Mutex::new(Vec::new()));
    let sink = published.clone();
    let rule = mock!(Sns::publish).then_compute_output(move |req| {
        sink.lock().unwrap().push(req.clone());
        PublishOutput::builder()
            .message_id(format!("msg-{}", sink.lock().unwrap().len()))
            .build()
    });
    (
        mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&rule]),
        published,
    )
}

pub(crate) fn settings_for(topic: Option<&str>) -> LambdaSettings {
    let mut env = vec![
        ("APPROVED_CALLER_ARNS", TERRAFORM.to_string()),
        ("BREAK_GLASS_ROLE_ARNS", BREAK_GLASS.to_string()),
        ("ENRICH_TIMEOUT_MS", "3000".to_string()),
    ];
    if let Some(t) = topic {
        env.push(("ALERT_TOPIC_ARN", t.to_string()));
    }
    LambdaSettings::from_env(move |k| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()))
        .unwrap()
}

pub fn json_message(input: &PublishInput) -> Value {
    serde_json::from_str(input.message().unwrap()).unwrap()
}

pub fn attribute<'a>(input: &'a PublishInput, name: &str) -> Option<(&'a str, &'a str)> {
    input
        .message_attributes()?
        .get(name)
        .map(|v| (v.data_type(), v.string_value().unwrap_or_default()))
}

#[tokio::test]
async fn published_messages_carry_filterable_attributes_and_per_protocol_bodies() {
    let (sns, published) = sns_capturing();
    let handler = Handler::new(
        settings_for(Some("arn:aws:sns:eu-west-1:111122223333:alerts")),
        clients(None, Some(sns), None),
    );
    handler
        .handle(&raw(&associate_record(CI, ADMIN_POLICY)))
        .await
        .unwrap();
    let messages = published.lock().unwrap();
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m.message_structure(), Some("json"));
    assert!(
        m.subject()
            .unwrap()
            .starts_with("[CRITICAL] prod: (unapproved caller) ClusterAdmin granted"),
        "{:?}",
        m.subject()
    );
    assert_eq!(attribute(m, "severity"), Some(("String", "critical")));
    assert_eq!(attribute(m, "severity_rank"), Some(("Number", "4")));
    assert_eq!(
        attribute(m, "rules"),
        Some((
            "String.Array",
            r#"["cluster-admin-granted","unapproved-caller"]"#
        ))
    );
    assert_eq!(attribute(m, "cluster"), Some(("String", CLUSTER)));
    assert_eq!(attribute(m, "account"), Some(("String", ACCOUNT)));
    assert_eq!(attribute(m, "region"), Some(("String", "eu-west-1")));
    assert_eq!(
        attribute(m, "event_name"),
        Some(("String", "AssociateAccessPolicy"))
    );
    let body = json_message(m);
    assert!(body["email"].as_str().unwrap().contains("What to do:"));
    let alert: Value = serde_json::from_str(body["default"].as_str().unwrap()).unwrap();
    assert_eq!(alert["principal_arn"], CI);
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["default", "email"],
        "SNS falls back to `default` for every other protocol"
    );
    assert_eq!(
        m.message_group_id(),
        None,
        "standard topics have no group id"
    );
}

#[tokio::test]
async fn fifo_topics_group_by_cluster_and_deduplicate_by_event_id() {
    let (sns, published) = sns_capturing();
    let handler = Handler::new(
        settings_for(Some("arn:aws:sns:eu-west-1:111122223333:alerts.fifo")),
        clients(None, Some(sns), None),
    );
    let r = associate_record(CI, ADMIN_POLICY);
    handler.handle(&raw(&r)).await.unwrap();
    let messages = published.lock().unwrap();
    assert_eq!(
        messages[0].message_group_id(),
        Some("111122223333/eu-west-1/prod")
    );
    assert_eq!(
        messages[0].message_deduplication_id(),
        r["eventID"].as_str()
    );
}

#[tokio::test]
async fn below_min_severity_is_not_published() {
    let (sns, published) = sns_capturing();
    let mut settings = settings_for(Some("arn:aws:sns:eu-west-1:111122223333:alerts"));
    settings.min_severity = Severity::Medium;
    let handler = Handler::new(settings, clients(None, Some(sns), None));
    let mut routine = associate_record(CI, VIEW_POLICY);
    routine["userIdentity"] = assumed(TERRAFORM, "run");
    let resp = handler.handle(&raw(&routine)).await.unwrap();
    assert_eq!(resp.alerts[0].severity, Severity::Low);
    assert_eq!(resp.alerts[0].delivery, "below MIN_SEVERITY (medium)");
    assert!(published.lock().unwrap().is_empty());
    let resp = handler
        .handle(&raw(&associate_record(CI, ADMIN_POLICY)))
        .await
        .unwrap();
    assert!(resp.alerts[0].delivery.starts_with("published"));
    assert_eq!(published.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_failed_publish_fails_the_invocation_as_retryable() {
    let rule = mock!(Sns::publish).then_http_response(|| {
        let mut r = HttpResponse::new(StatusCode::try_from(500).unwrap(), SdkBody::from("<ErrorResponse><Error><Type>Receiver</Type><Code>InternalError</Code><Message>boom</Message></Error></ErrorResponse>"));
        r.headers_mut().insert("content-type", "text/xml");
        r
    });
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&rule], |b| b
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(2)
                .with_initial_backoff(Duration::from_millis(1))
        ));
    let handler = Handler::new(
        settings_for(Some("arn:aws:sns:eu-west-1:111122223333:alerts")),
        clients(None, Some(sns), None),
    );
    let err = handler
        .handle(&raw(&associate_record(CI, ADMIN_POLICY)))
        .await
        .unwrap_err();
    assert!(err.retryable());
    assert!(
        matches!(&err, HandlerError::Publish(e) if e.len() == 1 && e[0].code.as_deref() == Some("InternalError"))
    );
    assert!(err.to_string().contains("InternalError"), "{err}");
    assert_eq!(rule.num_calls(), 2, "the SDK retried before giving up");
    let d: lambda_runtime::Diagnostic = err.into();
    assert_eq!(d.error_type, "EksAccessWatch.PublishFailed");
}

#[tokio::test]
async fn unreadable_input_fails_as_not_retryable_and_unwatched_input_succeeds() {
    let handler = Handler::new(settings_for(None), clients(None, None, None));
    let err = handler
        .handle(&raw(&json!({"hello": "world"})))
        .await
        .unwrap_err();
    assert!(!err.retryable());
    assert!(err.to_string().contains("keys: [hello]"), "{err}");
    let ok = handler
        .handle(&raw(
            &json!({"eventSource": "s3.amazonaws.com", "eventName": "GetObject"}),
        ))
        .await
        .unwrap();
    assert!(ok.alerts.is_empty());
    assert_eq!(ok.skipped.len(), 1);
}

#[tokio::test]
async fn without_a_topic_the_alert_is_a_dry_run() {
    let handler = Handler::new(settings_for(None), clients(None, None, None));
    let resp = handler
        .handle(&raw(&associate_record(CI, ADMIN_POLICY)))
        .await
        .unwrap();
    assert_eq!(resp.alerts[0].delivery, "dry-run");
    assert_eq!(resp.alerts[0].severity, Severity::Critical);
}

#[test]
fn oversized_enrichment_is_trimmed_and_findings_are_kept() {
    use eks_access_watch::model::{AdminCensus, Enrichment, PolicyGrant};
    let event = normalise(&associate_record(CI, ADMIN_POLICY));
    let mut e = Enrichment::skipped("x");
    e.associated_policies = Some(
        (0..5000)
            .map(|i| PolicyGrant {
                policy_arn: format!("{VIEW_POLICY}-{i}"),
                access_scope: eks_access_watch::model::AccessScope::new(
                    eks_access_watch::model::ScopeType::Namespace,
                    vec![format!("ns-{i}"); 4],
                ),
            })
            .collect(),
    );
    e.remaining_admins = Some(AdminCensus {
        admins: vec![CI.to_string(); 2000],
        entries_checked: 2000,
        truncated: false,
    });
    let alert = classify(&event, &sample_config(), Some(&e));
    let untrimmed = build_message(&alert, false, AlertFormat::Chatbot, usize::MAX);
    assert!(
        untrimmed.size() > SNS_MAX_BYTES,
        "the fixture must be too big: {}",
        untrimmed.size()
    );
    let msg = build_message(&alert, false, AlertFormat::Chatbot, SNS_MAX_BYTES);
    assert!(msg.size() <= SNS_MAX_BYTES, "{}", msg.size());
    let body: Value = serde_json::from_str(&msg.message).unwrap();
    let sent: Value = serde_json::from_str(body["default"].as_str().unwrap()).unwrap();
    assert_eq!(
        sent["findings"].as_array().unwrap().len(),
        alert.findings.len()
    );
    assert_eq!(sent["enrichment"]["trimmed"], true);
}

#[test]
fn chatbot_format_gives_https_subscribers_a_custom_notification() {
    let alert = alert_for(&associate_record(CI, ADMIN_POLICY));
    let msg = build_message(&alert, false, AlertFormat::Chatbot, SNS_MAX_BYTES);
    let body: Value = serde_json::from_str(&msg.message).unwrap();
    let chat: Value = serde_json::from_str(body["https"].as_str().unwrap()).unwrap();
    assert_eq!(chat["version"], "1.0");
    assert_eq!(chat["source"], "custom");
    assert!(
        chat["content"]["title"]
            .as_str()
            .unwrap()
            .starts_with("[CRITICAL] prod: (unapproved caller) ClusterAdmin"),
        "{chat}"
    );
    let description = chat["content"]["description"].as_str().unwrap();
    assert!(
        description.contains("`cluster-admin-granted`"),
        "{description}"
    );
    assert_eq!(
        description.lines().count(),
        alert.findings.len() + 5,
        "one line per finding, a blank line, caller, cluster, target, event: {description}"
    );
    let default: Value = serde_json::from_str(body["default"].as_str().unwrap()).unwrap();
    assert_eq!(
        default["severity"], "critical",
        "machine subscribers still get the alert"
    );
}

/// Every field an attacker chooses (session name, username, groups, user agent, cluster name)
/// is stuffed with line breaks, separators, mentions, links and Markdown: parsed as CommonMark,
/// the chat document shows no link, mention, HTML or extra line coming from them.
#[test]
fn attacker_text_cannot_forge_lines_links_or_mentions_in_chat() {
    use pulldown_cmark::{Event, Parser, Tag};
    let evil = "x\n[click](https://evil.example)\u{2028}@channel <!here> <https://evil.example|y> `z` **w** &amp;";
    let mut record = record(
        "CreateAccessEntry",
        json!({"name": format!("prod{evil}"), "principalArn": CI, "kubernetesGroups": [evil], "username": evil}),
        assumed(HUMAN, evil),
    );
    record["userAgent"] = json!(evil);
    let alert = alert_for(&record);
    let chat = eks_access_watch::render::chat::document(&alert);
    let description = chat["content"]["description"].as_str().unwrap();
    let title = chat["content"]["title"].as_str().unwrap();
    for (name, text) in [("description", description), ("title", title)] {
        assert!(
            !text.contains('\\'),
            "{name}: we add no backslash escapes: {text}"
        );
        for mention in ["@channel", "@here", "<!here>", "<!channel>"] {
            assert!(!text.contains(mention), "{name} contains {mention}: {text}");
        }
        for event in Parser::new(text) {
            match &event {
                Event::Start(Tag::Link { .. } | Tag::Image { .. })
                | Event::Html(_)
                | Event::InlineHtml(_)
                | Event::HardBreak => panic!("{name}: {event:?} from attacker text: {text}"),
                // Outside code spans, a bare scheme link would still be linked by Slack.
                Event::Text(t) => assert!(!t.contains("://"), "{name}: clickable {t}"),
                _ => {}
            }
        }
    }
    assert_eq!(
        description.lines().count(),
        alert.findings.len() + 5,
        "no forged lines: {description}"
    );
    let soft_breaks = Parser::new(description)
        .filter(|e| matches!(e, Event::SoftBreak))
        .count();
    assert!(
        soft_breaks <= alert.findings.len() + 4,
        "only our own line breaks: {soft_breaks}"
    );
}

// ---- the wire ----

/// What actually goes over HTTP: the principal is percent-encoded exactly once in the EKS
/// path, and SNS gets the attributes in its query-protocol form.
#[tokio::test]
async fn wire_level_requests_encode_the_principal_and_carry_attributes() {
    use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
    let principal = "arn:aws:iam::111122223333:role/teams/payments/oncall";
    let ok = |body: &str| {
        http::Response::builder()
            .status(200)
            .body(SdkBody::from(body.to_string()))
            .unwrap()
    };
    let req = |uri: &str| {
        http::Request::builder()
            .uri(uri)
            .body(SdkBody::empty())
            .unwrap()
    };
    let eks_replay = StaticReplayClient::new(vec![ReplayEvent::new(
        req(
            "https://eks.eu-west-1.amazonaws.com/clusters/prod/access-entries/arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fteams%2Fpayments%2Foncall",
        ),
        ok(r#"{"accessEntry":{"type":"STANDARD","kubernetesGroups":["oncall"]}}"#),
    )]);
    let eks = Eks::from_conf(
        aws_sdk_eks::Config::builder()
            .with_test_defaults_v2()
            .region(aws_types::region::Region::new("eu-west-1"))
            .http_client(eks_replay.clone())
            .build(),
    );
    let out = eks
        .describe_access_entry()
        .cluster_name("prod")
        .principal_arn(principal)
        .send()
        .await
        .unwrap();
    assert_eq!(out.access_entry().unwrap().kubernetes_groups(), ["oncall"]);
    let sent: Vec<String> = eks_replay
        .actual_requests()
        .map(|r| r.uri().to_string())
        .collect();
    assert_eq!(
        sent,
        vec![
            "https://eks.eu-west-1.amazonaws.com/clusters/prod/access-entries/arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fteams%2Fpayments%2Foncall"
        ]
    );

    let sns_replay = StaticReplayClient::new(vec![ReplayEvent::new(
        req("https://sns.eu-west-1.amazonaws.com/"),
        ok(
            "<PublishResponse><PublishResult><MessageId>m-1</MessageId></PublishResult></PublishResponse>",
        ),
    )]);
    let sns = Sns::from_conf(
        aws_sdk_sns::Config::builder()
            .with_test_defaults_v2()
            .region(aws_types::region::Region::new("eu-west-1"))
            .http_client(sns_replay.clone())
            .build(),
    );
    let alert = alert_for(&associate_record(principal, ADMIN_POLICY));
    let topic = "arn:aws:sns:eu-west-1:111122223333:alerts.fifo";
    let msg = build_message(&alert, true, AlertFormat::Default, SNS_MAX_BYTES);
    let id = eks_access_watch::aws::sns::publish(&sns, topic, &eks_access_watch::sink::wire(&msg))
        .await
        .unwrap();
    assert_eq!(id, "m-1");
    let body = sns_replay
        .actual_requests()
        .next()
        .unwrap()
        .body()
        .bytes()
        .unwrap()
        .to_vec();
    let form: Vec<(String, String)> = form_pairs(&String::from_utf8(body).unwrap());
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("Action"), Some("Publish"));
    assert_eq!(get("MessageStructure"), Some("json"));
    assert_eq!(get("MessageDeduplicationId"), alert.event_id.as_deref());
    assert_eq!(get("MessageGroupId"), Some("111122223333/eu-west-1/prod"));
    let mut attrs = std::collections::BTreeMap::new();
    for i in 1..=10 {
        if let Some(name) = get(&format!("MessageAttributes.entry.{i}.Name")) {
            let dtype = get(&format!("MessageAttributes.entry.{i}.Value.DataType")).unwrap();
            let value = get(&format!("MessageAttributes.entry.{i}.Value.StringValue")).unwrap();
            attrs.insert(name.to_string(), format!("{dtype}={value}"));
        }
    }
    assert_eq!(attrs["severity"], "String=critical");
    assert_eq!(attrs["severity_rank"], "Number=4");
    assert_eq!(
        attrs["rules"],
        r#"String.Array=["cluster-admin-granted","unapproved-caller"]"#
    );
    assert_eq!(attrs["cluster"], "String=prod");
    assert_eq!(attrs.len(), 7, "{attrs:?}");
}

fn form_pairs(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode_form(k), decode_form(v)))
        .collect()
}

fn decode_form(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

// ---- end to end: every sample through the handler, published messages vs golden files ----

/// A cluster where nobody but platform-admin... holds nothing: the census finds no admin, the
/// break-glass entry is tagged, and every entry otherwise holds View.
fn sample_cluster_eks() -> Eks {
    let entry = mock!(Eks::describe_access_entry).then_compute_output(|req| {
        let principal = req.principal_arn().unwrap_or_default();
        let mut e = AccessEntry::builder()
            .cluster_name(req.cluster_name().unwrap_or_default())
            .principal_arn(principal)
            .r#type("STANDARD")
            .kubernetes_groups("team:payments")
            .created_at(aws_smithy_types::DateTime::from_secs(1_794_000_000));
        if principal.contains("break-glass") {
            e = e.tags("Purpose", "break-glass");
        }
        DescribeAccessEntryOutput::builder()
            .access_entry(e.build())
            .build()
    });
    let policies = mock!(Eks::list_associated_access_policies).then_output(|| {
        ListAssociatedAccessPoliciesOutput::builder()
            .associated_access_policies(grant(VIEW_POLICY))
            .build()
    });
    let cluster = cluster_ok();
    let entries = mock!(Eks::list_access_entries).then_output(|| {
        ListAccessEntriesOutput::builder()
            .access_entries("arn:aws:iam::111122223333:role/eks-node-role")
            .access_entries("arn:aws:iam::111122223333:role/payments-dev")
            .build()
    });
    eks(&[&entry, &policies, &cluster, &entries])
}

fn render_published(messages: &[PublishInput]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    if messages.is_empty() {
        out.push_str("# nothing published\n");
    }
    for (i, m) in messages.iter().enumerate() {
        let _ = writeln!(
            out,
            "# message {}\nSubject: {}",
            i + 1,
            m.subject().unwrap_or_default()
        );
        let attrs: std::collections::BTreeMap<_, _> = m
            .message_attributes()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    format!("{}={}", v.data_type(), v.string_value().unwrap_or_default()),
                )
            })
            .collect();
        for (k, v) in attrs {
            let _ = writeln!(out, "Attribute {k}: {v}");
        }
        let body = json_message(m);
        let alert: Value = serde_json::from_str(body["default"].as_str().unwrap()).unwrap();
        let _ = writeln!(out, "\n{}\n", serde_json::to_string_pretty(&alert).unwrap());
        let _ = writeln!(out, "{}", body["email"].as_str().unwrap());
    }
    out
}

#[tokio::test]
async fn every_sample_through_the_handler_publishes_its_golden_messages() {
    let mut failures = Vec::new();
    let mut fired = std::collections::BTreeSet::new();
    let mut subscriptions = 0;
    // Each sample alone (a store of its own), then each sequence as successive invocations of
    // one function (one store).
    let mut runs: Vec<(PathBuf, Vec<PathBuf>)> = crate::golden::samples()
        .into_iter()
        .map(|s| (s.clone(), vec![s]))
        .collect();
    runs.extend(crate::util::sequences());
    for (sample, inputs) in runs {
        let (sns, published) = sns_capturing();
        let enricher = Enricher::with_client(sample_cluster_eks(), settings(3000));
        let mut settings =
            settings_for(Some("arn:aws:sns:eu-west-1:111122223333:eks-access-alerts"));
        settings.min_severity = Severity::Info;
        let mut clients = clients(Some(enricher), Some(sns), None);
        clients.state = Some(Arc::new(MemoryStore::new()));
        let handler = Handler::new(settings, clients);
        for input in &inputs {
            // The Lambda gets JSON; the gzip log file goes through as its decompressed JSON.
            let bytes = {
                use std::io::Read;
                let mut s = String::new();
                eks_access_watch::ingest::open(input)
                    .unwrap()
                    .read_to_string(&mut s)
                    .unwrap();
                s
            };
            // Each top-level value, byte for byte, as the runtime would hand it over. A
            // CloudWatch Logs export to S3 (timestamped text lines) never reaches the Lambda.
            let Ok(payloads) = serde_json::Deserializer::from_str(&bytes)
                .into_iter::<Box<RawValue>>()
                .collect::<Result<Vec<Box<RawValue>>, _>>()
            else {
                assert!(
                    input.to_string_lossy().ends_with(".gz"),
                    "{}",
                    input.display()
                );
                continue;
            };
            subscriptions += payloads
                .iter()
                .filter(|p| p.get().trim_start().starts_with("{\"awslogs\""))
                .count();
            for p in &payloads {
                handler
                    .handle(p)
                    .await
                    .unwrap_or_else(|e| panic!("{}: {e}", input.display()));
            }
        }
        let messages = published.lock().unwrap().clone();
        for m in &messages {
            let body = json_message(m);
            let alert: Value = serde_json::from_str(body["default"].as_str().unwrap()).unwrap();
            for f in alert["findings"].as_array().unwrap() {
                fired.insert(f["rule"].as_str().unwrap().to_string());
            }
        }
        let got = render_published(&messages);
        let golden = if inputs.len() == 1 && inputs[0] == sample {
            crate::golden::golden_path(&sample).with_extension("sns.golden")
        } else {
            sample.with_extension("sns.golden")
        };
        if let Err(f) = check_golden(&sample, &golden, &got) {
            failures.push(f);
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(
        subscriptions >= 2,
        "CloudWatch Logs subscription payloads go through the handler: {subscriptions}"
    );
    assert!(
        fired.contains("lockout-risk"),
        "lockout-risk fires on a sample once enriched: {fired:?}"
    );
    let missing: Vec<&str> = eks_access_watch::rules::CATALOGUE
        .iter()
        .filter(|r| matches!(r.eval, eks_access_watch::rules::Eval::Change(_)))
        .map(|r| r.id)
        .filter(|id| !fired.contains(*id) && *id != "lockout-risk")
        .filter(|id| !crate::golden::ELSEWHERE.iter().any(|(e, _)| e == id))
        .collect();
    assert!(
        missing.is_empty(),
        "rules that fire on no sample through the Lambda: {missing:?}"
    );
}

// ---- retryability per AWS error code, and the failure queue ----

/// An SNS query-protocol error answer.
pub(crate) fn sns_error(status: u16, code: &str) -> Rule {
    let (status, code) = (status, code.to_string());
    mock!(Sns::publish).then_http_response(move || {
        let body = format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>refused</Message></Error></ErrorResponse>"
        );
        let mut r = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body));
        r.headers_mut().insert("content-type", "text/xml");
        r
    })
}

pub(crate) fn sns_with(rule: &Rule) -> Sns {
    mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[rule], |b| b
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1))
        ))
}

type Parked = Arc<Mutex<Vec<(String, String)>>>;

/// An SQS client whose SendMessage records the queue URL and the body.
fn sqs_capturing() -> (aws_sdk_sqs::Client, Parked) {
    use aws_sdk_sqs::operation::send_message::SendMessageOutput;
    let parked: Parked = Arc::new(Mutex::new(Vec::new()));
    let sink = parked.clone();
    let rule = mock!(aws_sdk_sqs::Client::send_message).then_compute_output(move |req| {
        let body = req.message_body().unwrap().to_string();
        sink.lock()
            .unwrap()
            .push((req.queue_url().unwrap().to_string(), body));
        SendMessageOutput::builder().message_id("q-1").build()
    });
    (
        mock_client!(aws_sdk_sqs, RuleMode::MatchAny, &[&rule]),
        parked,
    )
}

const QUEUE: &str = "https://sqs.eu-west-1.amazonaws.com/111122223333/eks-access-watch-failures";

fn with_queue(mut settings: LambdaSettings) -> LambdaSettings {
    settings.failure_queue_url = Some(QUEUE.to_string());
    settings
}

/// A handler publishing through `rule`, with a failure queue that records what is parked.
fn queued_handler(rule: &Rule) -> (Handler, Parked) {
    let (sqs, parked) = sqs_capturing();
    let handler = Handler::new(
        with_queue(settings_for(Some(
            "arn:aws:sns:eu-west-1:111122223333:alerts",
        ))),
        clients(None, Some(sns_with(rule)), Some(sqs)),
    );
    (handler, parked)
}

#[tokio::test]
async fn a_publish_sns_refuses_for_good_goes_to_the_failure_queue_at_once() {
    for code in [
        "AuthorizationError",
        "KMSAccessDenied",
        "NotFound",
        "InvalidParameter",
    ] {
        let rule = sns_error(403, code);
        let (handler, parked) = queued_handler(&rule);
        let event = associate_record(CI, ADMIN_POLICY);
        let resp = handler.handle(&raw(&event)).await.unwrap();
        assert_eq!(rule.num_calls(), 1, "{code}: no retry spent on a refusal");
        let reason = resp.failure_queue.expect("parked");
        assert!(
            reason.starts_with("EksAccessWatch.PublishFailed") && reason.contains(code),
            "{reason}"
        );
        let parked = parked.lock().unwrap();
        assert_eq!(parked.len(), 1);
        let (url, record) = &parked[0];
        let record: Value = serde_json::from_str(record).unwrap();
        assert_eq!(url, QUEUE);
        assert_eq!(
            record["requestPayload"], event,
            "the original event, for redrive"
        );
        assert_eq!(record["requestContext"]["condition"], "NotRetryable");
        assert_eq!(
            record["responsePayload"]["errorType"],
            "EksAccessWatch.PublishFailed"
        );
        assert!(resp.alerts[0].delivery.contains(code));
    }
}

#[tokio::test]
async fn a_publish_refused_for_good_without_a_failure_queue_fails_as_not_retryable() {
    let rule = sns_error(403, "AuthorizationError");
    let handler = Handler::new(
        settings_for(Some("arn:aws:sns:eu-west-1:111122223333:alerts")),
        clients(None, Some(sns_with(&rule)), None),
    );
    let err = handler
        .handle(&raw(&associate_record(CI, ADMIN_POLICY)))
        .await
        .unwrap_err();
    assert!(!err.retryable(), "{err}");
    let d: lambda_runtime::Diagnostic = err.into();
    assert!(
        d.error_message.ends_with("(not retryable)"),
        "{}",
        d.error_message
    );
}

/// SNS answers throttling with `Throttled` (HTTP 400), a code the SDK's retry classifier does
/// not know: our own per-code decision makes it retryable, so Lambda retries the event.
#[tokio::test]
async fn throttling_and_server_errors_fail_as_retryable_and_never_park() {
    for (status, code) in [
        (400, "Throttled"),
        (500, "InternalError"),
        (503, "ServiceUnavailable"),
    ] {
        let rule = sns_error(status, code);
        let (handler, parked) = queued_handler(&rule);
        let err = handler
            .handle(&raw(&associate_record(CI, ADMIN_POLICY)))
            .await
            .unwrap_err();
        assert!(err.retryable(), "{code}: {err}");
        assert!(parked.lock().unwrap().is_empty(), "{code}");
        if status >= 500 {
            assert_eq!(rule.num_calls(), 3, "{code}: the SDK retried first");
        }
    }
}

#[tokio::test]
async fn unreadable_input_is_parked_with_its_reason() {
    let (sqs, parked) = sqs_capturing();
    let handler = Handler::new(
        with_queue(settings_for(None)),
        clients(None, None, Some(sqs)),
    );
    let resp = handler
        .handle(&raw(&json!({"hello": "world"})))
        .await
        .unwrap();
    assert!(
        resp.failure_queue
            .unwrap()
            .starts_with("EksAccessWatch.InvalidInput"),
        "parked"
    );
    let parked = parked.lock().unwrap();
    let record: Value = serde_json::from_str(&parked[0].1).unwrap();
    assert_eq!(record["requestPayload"], json!({"hello": "world"}));
    assert!(
        record["responsePayload"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("keys: [hello]")
    );
}

#[tokio::test]
async fn a_failure_queue_that_cannot_be_reached_fails_the_invocation_as_retryable() {
    let rule = mock!(aws_sdk_sqs::Client::send_message).then_http_response(|| {
        let mut r = HttpResponse::new(
            StatusCode::try_from(400).unwrap(),
            SdkBody::from(
                r#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}"#,
            ),
        );
        r.headers_mut()
            .insert("content-type", "application/x-amz-json-1.0");
        r
    });
    let sqs = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, &[&rule]);
    let handler = Handler::new(
        with_queue(settings_for(None)),
        clients(None, None, Some(sqs)),
    );
    let err = handler
        .handle(&raw(&json!({"hello": "world"})))
        .await
        .unwrap_err();
    assert!(matches!(err, HandlerError::FailureQueue { .. }), "{err}");
    assert!(
        err.retryable(),
        "Lambda's own retries and destination still keep it"
    );
    assert!(err.to_string().contains("SendMessage"), "{err}");
}

// ---- DescribeCluster is reused briefly, and read fresh when settings change ----

#[tokio::test]
async fn describe_cluster_is_cached_per_cluster_and_read_fresh_for_settings_changes() {
    let (e, p, c) = (entry_ok(), policies_two_pages(), cluster_ok());
    let enricher = Enricher::with_client(eks(&[&e, &p, &c]), settings(3000));
    let grant = normalise(&associate_record(CI, VIEW_POLICY));
    for _ in 0..3 {
        let got = enricher.enrich(&grant).await.unwrap();
        assert!(got.cluster.is_some(), "{:?}", got.errors);
    }
    assert_eq!(c.num_calls(), 1, "one DescribeCluster for three grants");
    let mut other = associate_record(CI, VIEW_POLICY);
    other["requestParameters"]["name"] = json!("staging");
    enricher.enrich(&normalise(&other)).await.unwrap();
    assert_eq!(c.num_calls(), 2, "another cluster is another entry");
    let update = record(
        "UpdateClusterConfig",
        json!({"name": CLUSTER, "resourcesVpcConfig": {"endpointPublicAccess": true}}),
        assumed(HUMAN, "jdoe"),
    );
    enricher.enrich(&normalise(&update)).await.unwrap();
    assert_eq!(
        c.num_calls(),
        3,
        "a settings change reads the cluster fresh"
    );
}

// ---- unreadable records, redrive and the trail self-check through the handler ----

#[tokio::test]
async fn an_unparseable_watched_record_is_published_and_the_event_parked() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/AssociateAccessPolicy-lone-surrogate-user-agent.json"
    ))
    .unwrap();
    assert!(
        serde_json::from_str::<Value>(&text).is_err(),
        "the runtime's own parse would reject it"
    );
    let payload = RawValue::from_string(text).unwrap();
    let (sns, published) = sns_capturing();
    let (sqs, parked) = sqs_capturing();
    let handler = Handler::new(
        with_queue(settings_for(Some(
            "arn:aws:sns:eu-west-1:111122223333:alerts",
        ))),
        clients(None, Some(sns), Some(sqs)),
    );
    let resp = handler.handle(&payload).await.unwrap();
    assert_eq!(resp.alerts.len(), 1);
    assert!(resp.alerts[0].rules.contains(&"unparseable-watched-event"));
    assert!(resp.alerts[0].delivery.starts_with("published"));
    assert_eq!(published.lock().unwrap().len(), 1);
    let parked = parked.lock().unwrap();
    assert_eq!(parked.len(), 1, "the raw record is kept for investigation");
    assert!(
        parked[0]
            .1
            .contains(r#""userAgent": "aws-cli/2.22.10 \ud800"#)
            && parked[0]
                .1
                .contains(r#""eventName": "AssociateAccessPolicy""#),
        "kept byte for byte: {}",
        parked[0].1
    );
}

#[tokio::test]
async fn a_redriven_failure_record_is_alerted_again() {
    let original = associate_record(CI, ADMIN_POLICY);
    let envelope = json!({"version": "1.0", "timestamp": "2026-11-26T00:00:00Z",
        "requestContext": {"requestId": "r1", "functionArn": "arn:aws:lambda:eu-west-1:111122223333:function:w:$LATEST",
            "condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": original, "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
        "responsePayload": {"errorType": "EksAccessWatch.PublishFailed", "errorMessage": "x"}});
    let batch = json!({"Records": [{"messageId": "m1", "receiptHandle": "h", "body": envelope.to_string(),
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "md5OfBody": "x",
        "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:eu-west-1:111122223333:redrive",
        "awsRegion": "eu-west-1"}]});
    let (sns, published) = sns_capturing();
    let handler = Handler::new(
        settings_for(Some("arn:aws:sns:eu-west-1:111122223333:alerts")),
        clients(None, Some(sns), None),
    );
    let resp = handler.handle(&raw(&batch)).await.unwrap();
    assert_eq!(resp.alerts.len(), 1, "{resp:?}");
    assert!(resp.alerts[0].rules.contains(&"cluster-admin-granted"));
    assert_eq!(published.lock().unwrap().len(), 1);
}

mod self_check {
    use aws_sdk_cloudtrail::Client as CloudTrail;
    use aws_sdk_cloudtrail::operation::describe_trails::DescribeTrailsOutput;
    use aws_sdk_cloudtrail::operation::get_event_selectors::GetEventSelectorsOutput;
    use aws_sdk_cloudtrail::operation::get_trail_status::GetTrailStatusOutput;
    use aws_sdk_cloudtrail::types::{EventSelector, ReadWriteType, Trail};

    use super::*;

    fn trail(name: &str, multi_region: bool) -> Trail {
        Trail::builder()
            .name(name)
            .trail_arn(format!(
                "arn:aws:cloudtrail:eu-west-1:111122223333:trail/{name}"
            ))
            .home_region("us-east-1")
            .is_multi_region_trail(multi_region)
            .build()
    }

    /// A CloudTrail client answering with `trails`, each logging as `logging` says, with
    /// basic selectors of `read_write`.
    fn cloudtrail(trails: Vec<Trail>, logging: bool, read_write: ReadWriteType) -> CloudTrail {
        let describe = mock!(CloudTrail::describe_trails).then_output(move || {
            DescribeTrailsOutput::builder()
                .set_trail_list(Some(trails.clone()))
                .build()
        });
        let status = mock!(CloudTrail::get_trail_status)
            .then_output(move || GetTrailStatusOutput::builder().is_logging(logging).build());
        let selectors = mock!(CloudTrail::get_event_selectors).then_output(move || {
            GetEventSelectorsOutput::builder()
                .event_selectors(
                    EventSelector::builder()
                        .read_write_type(read_write.clone())
                        .include_management_events(true)
                        .build(),
                )
                .build()
        });
        mock_client!(
            aws_sdk_cloudtrail,
            RuleMode::MatchAny,
            &[&describe, &status, &selectors],
            |b| b.region(aws_types::region::Region::new("eu-west-1"))
        )
    }

    async fn run(ct: CloudTrail) -> (eks_access_watch::lambda::Response, Vec<PublishInput>) {
        let (sns, published) = sns_capturing();
        let handler = Handler::new(
            settings_for(Some("arn:aws:sns:eu-west-1:111122223333:alerts")),
            Clients {
                sns: Some(sns),
                cloudtrail: Some(ct),
                ..Clients::default()
            },
        );
        let resp = handler
            .handle(&raw(&json!({"task": "trail-self-check"})))
            .await
            .unwrap();
        let messages = published.lock().unwrap().clone();
        (resp, messages)
    }

    #[tokio::test]
    async fn a_logging_multi_region_trail_keeps_the_check_quiet() {
        let (resp, messages) = run(cloudtrail(
            vec![trail("management-events", true)],
            true,
            ReadWriteType::All,
        ))
        .await;
        assert_eq!(resp.task.as_deref(), Some("trail-self-check: 0 finding(s)"));
        assert!(messages.is_empty());
    }

    #[tokio::test]
    async fn a_stopped_read_only_or_other_region_trail_publishes_no_trail_logging() {
        for (trails, logging, rw) in [
            (
                vec![trail("management-events", true)],
                false,
                ReadWriteType::All,
            ),
            (
                vec![trail("management-events", true)],
                true,
                ReadWriteType::ReadOnly,
            ),
            (vec![trail("us-only", false)], true, ReadWriteType::All),
            (vec![], true, ReadWriteType::All),
        ] {
            let (resp, messages) = run(cloudtrail(trails, logging, rw)).await;
            assert_eq!(messages.len(), 1, "{resp:?}");
            assert_eq!(resp.alerts[0].rules, vec!["no-trail-logging"]);
            assert_eq!(resp.alerts[0].severity, Severity::Critical);
            assert!(
                resp.alerts[0]
                    .subject
                    .starts_with("[CRITICAL] 111122223333: No trail logs"),
                "{}",
                resp.alerts[0].subject
            );
        }
    }

    #[tokio::test]
    async fn a_trail_that_cannot_be_read_is_reported_not_assumed() {
        let describe = mock!(CloudTrail::describe_trails).then_http_response(|| {
            error_response(
                403,
                "AccessDeniedException",
                "not authorized: cloudtrail:DescribeTrails",
            )
        });
        let ct = mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, &[&describe], |b| b
            .region(aws_types::region::Region::new("eu-west-1")));
        let (_, messages) = run(ct).await;
        assert_eq!(messages.len(), 1);
        let body = json_message(&messages[0]);
        let alert: Value = serde_json::from_str(body["default"].as_str().unwrap()).unwrap();
        let summary = alert["findings"][0]["summary"].as_str().unwrap();
        assert!(
            summary.contains("could not confirm: DescribeTrails: AccessDeniedException"),
            "{summary}"
        );
    }
}
