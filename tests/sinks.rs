//! The finding-keeping sinks: Security Hub with the SDK's mocks (create, update, resolve,
//! throttling, a partial batch failure retried or parked, more than 100 findings split, the
//! account rule), PagerDuty against a local HTTP server on loopback (trigger, resolve, 429 and
//! 5xx retried with backoff, 4xx parked), and the Lambda's one behaviour for every sink (one
//! sink down while the others deliver, no double delivery on the retry, a revert reaching the
//! sink that holds the grant whatever its minimum).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_securityhub::Client as SecurityHub;
use aws_sdk_securityhub::operation::batch_import_findings::{
    BatchImportFindingsInput, BatchImportFindingsOutput,
};
use aws_sdk_securityhub::operation::batch_update_findings::{
    BatchUpdateFindingsInput, BatchUpdateFindingsOutput,
};
use aws_sdk_securityhub::types::{ImportFindingsError, RecordState, SeverityLabel, WorkflowStatus};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_types::retry::RetryConfig;
use serde_json::{Value, json};

use eks_access_watch::Severity;
use eks_access_watch::alert::Alert;
use eks_access_watch::config::LambdaSettings;
use eks_access_watch::context::state::{MemoryStore, Store};
use eks_access_watch::lambda::{Clients, Handler};
use eks_access_watch::sink::{
    Importer, PagerDutySettings, PagerDutySink, SecurityHubSink, Sink, pagerduty_event,
};

use crate::aws::{error_response, raw, sns_capturing};
use crate::util::{TERRAFORM, assumed, record, run_sequence, sample_config, sequences};

const HOME: &str = "111122223333";
const VENDOR: &str = "arn:aws:iam::444455556666:role/vendor-support";

fn importer() -> Importer {
    Importer {
        account: HOME.to_string(),
        region: "eu-west-1".to_string(),
        partition: "aws".to_string(),
    }
}

fn product_arn() -> String {
    format!("arn:aws:securityhub:eu-west-1:{HOME}:product/{HOME}/default")
}

fn clock_1() -> String {
    "2026-11-20T03:00:00Z".to_string()
}

fn clock_2() -> String {
    "2026-11-20T04:00:00Z".to_string()
}

type Imports = Arc<Mutex<Vec<BatchImportFindingsInput>>>;
type Updates = Arc<Mutex<Vec<BatchUpdateFindingsInput>>>;

fn importing() -> (Rule, Imports) {
    let seen: Imports = Arc::default();
    let s = seen.clone();
    let rule = mock!(SecurityHub::batch_import_findings).then_compute_output(move |req| {
        s.lock().unwrap().push(req.clone());
        BatchImportFindingsOutput::builder()
            .success_count(req.findings().len() as i32)
            .failed_count(0)
            .build()
    });
    (rule, seen)
}

fn updating() -> (Rule, Updates) {
    let seen: Updates = Arc::default();
    let s = seen.clone();
    let rule = mock!(SecurityHub::batch_update_findings).then_compute_output(move |req| {
        s.lock().unwrap().push(req.clone());
        BatchUpdateFindingsOutput::builder()
            .set_processed_findings(Some(req.finding_identifiers().to_vec()))
            .set_unprocessed_findings(Some(Vec::new()))
            .build()
    });
    (rule, seen)
}

fn securityhub(rules: &[&Rule]) -> SecurityHub {
    mock_client!(aws_sdk_securityhub, RuleMode::MatchAny, rules, |b| b
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1))
        ))
}

fn hub_sink(client: SecurityHub, min: Severity) -> SecurityHubSink {
    SecurityHubSink::new(client, importer(), min).with_clock(clock_1)
}

/// The alerts of a sequence in events/sequences/.
fn sequence(name: &str) -> Vec<Alert> {
    let (_, files) = sequences()
        .into_iter()
        .find(|(d, _)| d.ends_with(name))
        .unwrap();
    run_sequence(&files, &sample_config()).alerts
}

fn grant_and_revert() -> (Alert, Alert) {
    let alerts = sequence("created-then-deleted");
    let revert = alerts
        .iter()
        .find(|a| a.resolves.is_some())
        .unwrap()
        .clone();
    let grant = alerts
        .iter()
        .find(|a| a.event_id == revert.resolves)
        .unwrap()
        .clone();
    (grant, revert)
}

// ---- Security Hub ----

#[tokio::test]
async fn a_new_alert_is_imported_as_one_asff_finding_under_its_event_id() {
    let (rule, seen) = importing();
    let sink = hub_sink(securityhub(&[&rule]), Severity::Medium);
    let (grant, _) = grant_and_revert();
    let receipt = sink.deliver(&grant).await.unwrap();
    assert!(receipt.0.contains("imported"), "{receipt}");
    let calls = seen.lock().unwrap();
    assert_eq!(calls.len(), 1);
    let f = &calls[0].findings()[0];
    assert_eq!(f.id(), grant.event_id.as_deref());
    assert_eq!(f.product_arn(), Some(product_arn().as_str()));
    assert_eq!(f.aws_account_id(), Some(HOME));
    assert_eq!(f.schema_version(), Some("2018-10-08"));
    assert_eq!(f.severity().unwrap().label(), Some(&SeverityLabel::High));
    assert_eq!(f.updated_at(), Some("2026-11-20T03:00:00Z"));
    assert_eq!(f.created_at(), grant.event_time.as_deref());
    assert_eq!(f.record_state(), Some(&RecordState::Active));
    assert!(f.title().unwrap().len() <= 256);
    assert!(f.description().unwrap().len() <= 1024);
    assert!(
        f.types()
            .iter()
            .all(|t| t.starts_with("Software and Configuration Checks/"))
    );
    let kinds: Vec<&str> = f.resources().iter().filter_map(|r| r.r#type()).collect();
    assert!(kinds.contains(&"AwsEksCluster"), "{kinds:?}");
    let remediation = f
        .remediation()
        .and_then(|r| r.recommendation())
        .and_then(|r| r.text())
        .unwrap();
    assert!(
        remediation.contains("aws eks delete-access-entry"),
        "{remediation}"
    );
}

#[tokio::test]
async fn a_later_event_of_the_incident_updates_the_same_finding_with_updated_at_moving() {
    let alerts = sequence("break-glass-session");
    let incident: Vec<&Alert> = alerts.iter().filter(|a| a.incident.is_some()).collect();
    assert!(incident.len() >= 2);
    let (rule, seen) = importing();
    let client = securityhub(&[&rule]);
    hub_sink(client.clone(), Severity::Info)
        .deliver(incident[0])
        .await
        .unwrap();
    SecurityHubSink::new(client, importer(), Severity::Info)
        .with_clock(clock_2)
        .deliver(incident[1])
        .await
        .unwrap();
    let calls = seen.lock().unwrap();
    let (a, b) = (&calls[0].findings()[0], &calls[1].findings()[0]);
    assert_eq!(a.id(), b.id(), "one finding per incident");
    assert_eq!(
        a.id(),
        Some(incident[0].incident.as_ref().unwrap().id.as_str())
    );
    assert!(b.updated_at() > a.updated_at(), "UpdatedAt moves");
    assert_eq!(
        a.created_at(),
        b.created_at(),
        "CreatedAt stays the incident's opening"
    );
}

#[tokio::test]
async fn a_revert_archives_and_resolves_its_finding_and_the_grants() {
    let (imp, imports) = importing();
    let (upd, updates) = updating();
    let sink = hub_sink(securityhub(&[&imp, &upd]), Severity::Medium);
    let (grant, revert) = grant_and_revert();
    let receipt = sink.deliver(&revert).await.unwrap();
    assert!(receipt.0.contains("resolved"), "{receipt}");
    let imported = imports.lock().unwrap();
    let ids: Vec<&str> = imported[0]
        .findings()
        .iter()
        .filter_map(|f| f.id())
        .collect();
    let incident = revert.incident.as_ref().unwrap().id.as_str();
    assert_eq!(ids, [incident, grant.event_id.as_deref().unwrap()]);
    assert!(
        imported[0]
            .findings()
            .iter()
            .all(|f| f.record_state() == Some(&RecordState::Archived))
    );
    let updated = updates.lock().unwrap();
    assert_eq!(updated.len(), 1);
    assert_eq!(
        updated[0].workflow().unwrap().status(),
        Some(&WorkflowStatus::Resolved)
    );
    let resolved: Vec<(&str, &str)> = updated[0]
        .finding_identifiers()
        .iter()
        .map(|i| (i.id().unwrap(), i.product_arn().unwrap()))
        .collect();
    let arn = product_arn();
    assert_eq!(
        resolved,
        [
            (incident, arn.as_str()),
            (grant.event_id.as_deref().unwrap(), arn.as_str())
        ]
    );
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk_then_imports() {
    let rule = mock!(SecurityHub::batch_import_findings)
        .sequence()
        .http_response(|| error_response(429, "TooManyRequestsException", "Rate exceeded"))
        .output(|| {
            BatchImportFindingsOutput::builder()
                .success_count(1)
                .build()
        })
        .build();
    let sink = hub_sink(securityhub(&[&rule]), Severity::Medium);
    let (grant, _) = grant_and_revert();
    sink.deliver(&grant).await.unwrap();
    assert_eq!(rule.num_calls(), 2);
}

#[tokio::test]
async fn throttling_that_outlasts_the_retries_is_a_retryable_failure() {
    let rule = mock!(SecurityHub::batch_import_findings)
        .then_http_response(|| error_response(429, "TooManyRequestsException", "Rate exceeded"));
    let sink = hub_sink(securityhub(&[&rule]), Severity::Medium);
    let (grant, _) = grant_and_revert();
    let e = sink.deliver(&grant).await.unwrap_err();
    assert!(e.retryable(), "{e}");
    assert_eq!(e.sink, "securityhub");
    assert_eq!(rule.num_calls(), 3);
}

fn failing_once(code: &'static str) -> (Rule, Imports) {
    // The first call fails the first finding it carries; later calls take everything.
    let seen: Imports = Arc::default();
    let s = seen.clone();
    let rule = mock!(SecurityHub::batch_import_findings).then_compute_output(move |req| {
        let mut calls = s.lock().unwrap();
        calls.push(req.clone());
        if calls.len() == 1 || code != "InternalException" {
            let id = req.findings()[0].id().unwrap().to_string();
            BatchImportFindingsOutput::builder()
                .failed_count(1)
                .success_count(req.findings().len() as i32 - 1)
                .failed_findings(
                    ImportFindingsError::builder()
                        .id(id)
                        .error_code(code)
                        .error_message("no")
                        .build(),
                )
                .build()
        } else {
            BatchImportFindingsOutput::builder()
                .success_count(req.findings().len() as i32)
                .build()
        }
    });
    (rule, seen)
}

#[tokio::test]
async fn a_finding_failed_in_the_response_for_a_passing_reason_is_sent_again_alone() {
    let (rule, seen) = failing_once("InternalException");
    let sink = hub_sink(securityhub(&[&rule]), Severity::Info);
    let alerts = sequence("granted-on-many-clusters");
    let refs: Vec<&Alert> = alerts
        .iter()
        .filter(|a| a.incident.is_none())
        .take(3)
        .collect();
    assert!(refs.len() >= 2);
    let results = sink.deliver_all(&refs).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let calls = seen.lock().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[1].findings().len(),
        1,
        "only the failed finding again"
    );
    assert_eq!(calls[1].findings()[0].id(), calls[0].findings()[0].id());
}

#[tokio::test]
async fn a_finding_refused_for_good_is_parked_with_its_reason_and_the_others_go_through() {
    let (rule, seen) = failing_once("InvalidInput");
    let sink = hub_sink(securityhub(&[&rule]), Severity::Info);
    let alerts = sequence("granted-on-many-clusters");
    let refs: Vec<&Alert> = alerts
        .iter()
        .filter(|a| a.incident.is_none())
        .take(2)
        .collect();
    let results = sink.deliver_all(&refs).await;
    let e = results[0].as_ref().unwrap_err();
    assert!(!e.retryable(), "{e}");
    assert_eq!(e.code.as_deref(), Some("InvalidInput"));
    assert!(e.message.contains("InvalidInput"), "{e}");
    assert!(results[1].is_ok(), "{:?}", results[1]);
    assert_eq!(seen.lock().unwrap().len(), 1, "not sent again");
}

#[tokio::test]
async fn more_than_100_findings_are_split_into_calls_of_at_most_100() {
    let (rule, seen) = importing();
    let sink = hub_sink(securityhub(&[&rule]), Severity::Info);
    let (grant, _) = grant_and_revert();
    let many: Vec<Alert> = (0..250)
        .map(|i| {
            let mut a = grant.clone();
            a.event_id = Some(format!("00000000-0000-4000-8000-{i:012}"));
            a
        })
        .collect();
    let refs: Vec<&Alert> = many.iter().collect();
    let results = sink.deliver_all(&refs).await;
    assert!(results.iter().all(Result::is_ok));
    let sizes: Vec<usize> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|c| c.findings().len())
        .collect();
    assert_eq!(sizes, [100, 100, 50]);
}

#[tokio::test]
async fn an_event_of_another_account_is_imported_under_the_functions_account() {
    let (rule, seen) = importing();
    let sink = hub_sink(securityhub(&[&rule]), Severity::Info);
    let (mut grant, _) = grant_and_revert();
    grant.account = "999988887777".to_string();
    sink.deliver(&grant).await.unwrap();
    let calls = seen.lock().unwrap();
    let f = &calls[0].findings()[0];
    assert_eq!(f.aws_account_id(), Some(HOME));
    assert_eq!(
        f.product_fields()
            .unwrap()
            .get("eks-access-watch/EventAccount")
            .map(String::as_str),
        Some("999988887777")
    );
    let ids: Vec<&str> = f.resources().iter().filter_map(|r| r.id()).collect();
    assert!(
        ids.iter().any(|i| i.contains(":999988887777:cluster/")),
        "{ids:?}"
    );
    assert!(ids.contains(&"AWS::::Account:999988887777"), "{ids:?}");
}

// ---- PagerDuty ----

type Bodies = Arc<Mutex<Vec<Value>>>;

fn pd_settings(url: String, min: Severity) -> PagerDutySettings {
    let mut s = PagerDutySettings::new(url, "R0UTINGKEY".to_string(), min);
    s.backoff = Duration::from_millis(1);
    s.attempts = 3;
    s
}

async fn pd_server(
    responses: &[(usize, u16, &'static str)],
) -> (mockito::ServerGuard, Bodies, Vec<mockito::Mock>) {
    let mut server = mockito::Server::new_async().await;
    let bodies: Bodies = Arc::default();
    let mut mocks = Vec::new();
    for &(times, status, body) in responses {
        let b = bodies.clone();
        let m = server
            .mock("POST", "/v2/enqueue")
            .match_header("content-type", "application/json")
            .with_status(status as usize)
            .with_body_from_request(move |req| {
                b.lock()
                    .unwrap()
                    .push(serde_json::from_slice(req.body().unwrap()).unwrap());
                body.as_bytes().to_vec()
            })
            .expect(times)
            .create_async()
            .await;
        mocks.push(m);
    }
    (server, bodies, mocks)
}

const ACCEPTED: &str = r#"{"status":"success","message":"Event processed","dedup_key":"k"}"#;

#[tokio::test]
async fn a_high_alert_triggers_with_the_event_id_as_dedup_key() {
    let (server, bodies, mocks) = pd_server(&[(1, 202, ACCEPTED)]).await;
    let sink = PagerDutySink::new(pd_settings(
        format!("{}/v2/enqueue", server.url()),
        Severity::High,
    ))
    .unwrap();
    let (grant, _) = grant_and_revert();
    let receipt = sink.deliver(&grant).await.unwrap();
    assert!(receipt.0.starts_with("pagerduty: trigger"), "{receipt}");
    mocks[0].assert_async().await;
    let body = &bodies.lock().unwrap()[0];
    assert_eq!(body["routing_key"], "R0UTINGKEY");
    assert_eq!(body["event_action"], "trigger");
    assert_eq!(body["dedup_key"], grant.event_id.clone().unwrap());
    assert_eq!(body["payload"]["severity"], "error");
    assert!(body["payload"]["summary"].as_str().unwrap().chars().count() <= 1024);
    assert!(
        body["payload"]["custom_details"]["undo"]
            .as_str()
            .unwrap()
            .starts_with("aws eks delete-access-entry")
    );
    assert!(
        !body["payload"]["custom_details"]["findings"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_revert_resolves_its_incident_and_the_grant() {
    let (server, bodies, _m) = pd_server(&[(2, 202, ACCEPTED)]).await;
    let sink = PagerDutySink::new(pd_settings(
        format!("{}/v2/enqueue", server.url()),
        Severity::High,
    ))
    .unwrap();
    let (grant, revert) = grant_and_revert();
    sink.deliver(&revert).await.unwrap();
    let bodies = bodies.lock().unwrap();
    let keys: Vec<(&str, &str)> = bodies
        .iter()
        .map(|b| {
            (
                b["event_action"].as_str().unwrap(),
                b["dedup_key"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            ("resolve", revert.incident.as_ref().unwrap().id.as_str()),
            ("resolve", grant.event_id.as_deref().unwrap())
        ]
    );
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_with_backoff() {
    let (server, bodies, mocks) = pd_server(&[
        (1, 429, r#"{"status":"throttle"}"#),
        (1, 503, "unavailable"),
        (1, 202, ACCEPTED),
    ])
    .await;
    let sink = PagerDutySink::new(pd_settings(
        format!("{}/v2/enqueue", server.url()),
        Severity::High,
    ))
    .unwrap();
    let (grant, _) = grant_and_revert();
    sink.deliver(&grant).await.unwrap();
    for m in &mocks {
        m.assert_async().await;
    }
    assert_eq!(bodies.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn server_errors_past_the_attempts_are_a_retryable_failure() {
    let (server, _bodies, mocks) = pd_server(&[(3, 500, "boom")]).await;
    let sink = PagerDutySink::new(pd_settings(
        format!("{}/v2/enqueue", server.url()),
        Severity::High,
    ))
    .unwrap();
    let (grant, _) = grant_and_revert();
    let e = sink.deliver(&grant).await.unwrap_err();
    assert!(e.retryable());
    assert!(e.message.contains("HTTP 500"), "{e}");
    mocks[0].assert_async().await;
}

#[tokio::test]
async fn a_4xx_is_parked_with_pagerdutys_reason_and_not_retried() {
    let (server, bodies, _m) = pd_server(&[(
        1,
        400,
        r#"{"status":"invalid event","message":"Event object is invalid","errors":["'routing_key' is invalid"]}"#,
    )])
    .await;
    let sink = PagerDutySink::new(pd_settings(
        format!("{}/v2/enqueue", server.url()),
        Severity::High,
    ))
    .unwrap();
    let (grant, _) = grant_and_revert();
    let e = sink.deliver(&grant).await.unwrap_err();
    assert!(!e.retryable());
    assert_eq!(e.code.as_deref(), Some("400"));
    assert!(e.message.contains("'routing_key' is invalid"), "{e}");
    assert_eq!(bodies.lock().unwrap().len(), 1, "not retried");
}

#[test]
fn the_summary_is_cut_to_1024_characters() {
    let (mut grant, _) = grant_and_revert();
    grant.cluster = Some("c".repeat(3000));
    let body = &pagerduty_event(&grant, "k")[0];
    assert!(body["payload"]["summary"].as_str().unwrap().chars().count() <= 1024);
}

// ---- the Lambda: one behaviour for every sink ----

fn lambda_settings(extra: &[(&str, &str)]) -> LambdaSettings {
    let mut env: Vec<(String, String)> = vec![
        (
            "ALERT_TOPIC_ARN".into(),
            format!("arn:aws:sns:eu-west-1:{HOME}:alerts"),
        ),
        ("APPROVED_CALLER_ARNS".into(), TERRAFORM.into()),
        ("ENRICH".into(), "false".into()),
        ("AWS_REGION".into(), "eu-west-1".into()),
        ("STATE_TABLE_NAME".into(), "state".into()),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    LambdaSettings::from_env(move |k| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
        .unwrap()
}

fn at(mut r: Value, time: &str, id: u32) -> Value {
    r["eventTime"] = json!(time);
    r["eventID"] = json!(format!("00000000-0000-0000-0000-{id:012}"));
    r
}

/// A cross-account access entry (high) made by the pipeline.
fn create_vendor() -> Value {
    at(
        record(
            "CreateAccessEntry",
            json!({"clusterName": "prod-eu", "principalArn": VENDOR, "type": "STANDARD"}),
            assumed(TERRAFORM, "pipeline"),
        ),
        "2026-11-20T02:00:00Z",
        1,
    )
}

/// Its deletion by the pipeline two hours later: a `grant-reverted` below every minimum.
fn delete_vendor() -> Value {
    at(
        record(
            "DeleteAccessEntry",
            json!({"name": "prod-eu", "principalArn": VENDOR}),
            assumed(TERRAFORM, "pipeline"),
        ),
        "2026-11-20T04:00:00Z",
        2,
    )
}

#[tokio::test]
async fn one_sink_down_does_not_keep_the_alert_from_the_others_and_the_retry_reaches_only_it() {
    let (sns, published) = sns_capturing();
    let down = mock!(SecurityHub::batch_import_findings)
        .then_http_response(|| error_response(500, "InternalException", "down"));
    let (server, bodies, _m) = pd_server(&[(1, 202, ACCEPTED)]).await;
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let settings = lambda_settings(&[("SECURITY_HUB", "true")]);
    let pagerduty = PagerDutySink::new(pd_settings(
        format!("{}/v2/enqueue", server.url()),
        Severity::High,
    ))
    .unwrap();
    let handler = Handler::new(
        settings.clone(),
        Clients {
            sns: Some(sns.clone()),
            state: Some(store.clone()),
            securityhub: Some(securityhub(&[&down])),
            pagerduty: Some(pagerduty.clone()),
            ..Clients::default()
        },
    );
    let payload = raw(&create_vendor());
    let e = handler.handle(&payload).await.unwrap_err();
    assert!(e.retryable(), "{e}");
    assert!(e.to_string().contains("InternalException"), "{e}");
    assert_eq!(published.lock().unwrap().len(), 1, "SNS delivered");
    assert_eq!(bodies.lock().unwrap().len(), 1, "PagerDuty delivered");

    // Lambda's retry, Security Hub back: only Security Hub gets the event.
    let (up, imports) = importing();
    let handler = Handler::new(
        settings,
        Clients {
            sns: Some(sns),
            state: Some(store.clone()),
            securityhub: Some(securityhub(&[&up])),
            pagerduty: Some(pagerduty),
            ..Clients::default()
        },
    );
    let resp = handler.handle(&payload).await.unwrap();
    assert_eq!(
        imports.lock().unwrap().len(),
        1,
        "Security Hub delivered on the retry"
    );
    assert_eq!(published.lock().unwrap().len(), 1, "SNS not sent again");
    assert_eq!(bodies.lock().unwrap().len(), 1, "PagerDuty not sent again");
    let said = &resp.alerts[0].delivery;
    assert!(said.contains("sns: already delivered"), "{said}");
    assert!(said.contains("pagerduty: already delivered"), "{said}");

    // A third delivery of the same event (a redrive): delivered once, skipped whole.
    let resp = handler.handle(&payload).await.unwrap();
    assert!(resp.alerts.is_empty());
    assert!(
        resp.skipped[0].contains("already delivered"),
        "{:?}",
        resp.skipped
    );
}

#[tokio::test]
async fn a_revert_below_every_minimum_reaches_the_sinks_that_hold_the_grant_only() {
    let (sns, published) = sns_capturing();
    let (imp, imports) = importing();
    let (upd, _updates) = updating();
    let (server, bodies, _m) = pd_server(&[(3, 202, ACCEPTED)]).await;
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    // Security Hub takes only critical: it never receives the (high) grant.
    let settings = lambda_settings(&[
        ("SECURITY_HUB", "true"),
        ("SECURITY_HUB_MIN_SEVERITY", "critical"),
        ("MIN_SEVERITY", "medium"),
    ]);
    let pagerduty = PagerDutySink::new(pd_settings(
        format!("{}/v2/enqueue", server.url()),
        Severity::High,
    ))
    .unwrap();
    let handler = Handler::new(
        settings,
        Clients {
            sns: Some(sns),
            state: Some(store),
            securityhub: Some(securityhub(&[&imp, &upd])),
            pagerduty: Some(pagerduty),
            ..Clients::default()
        },
    );
    let first = handler.handle(&raw(&create_vendor())).await.unwrap();
    assert_eq!(first.alerts[0].severity, Severity::High);
    assert!(
        first.alerts[0]
            .delivery
            .contains("securityhub: below critical"),
        "{}",
        first.alerts[0].delivery
    );
    assert_eq!(bodies.lock().unwrap().len(), 1);

    let second = handler.handle(&raw(&delete_vendor())).await.unwrap();
    let revert = &second.alerts[0];
    assert!(revert.rules.contains(&"grant-reverted"), "{revert:?}");
    assert!(revert.severity < Severity::Medium, "{revert:?}");
    // PagerDuty and SNS held the grant: the revert reaches them below their minimums.
    let bodies = bodies.lock().unwrap();
    let resolves: Vec<&str> = bodies
        .iter()
        .filter(|b| b["event_action"] == "resolve")
        .map(|b| b["dedup_key"].as_str().unwrap())
        .collect();
    assert!(
        resolves.contains(&"00000000-0000-0000-0000-000000000001"),
        "the grant's trigger is resolved: {resolves:?}"
    );
    assert_eq!(published.lock().unwrap().len(), 2, "SNS got the revert too");
    // Security Hub never held it: below its minimum, nothing sent.
    assert!(imports.lock().unwrap().is_empty());
    assert!(
        revert.delivery.contains("securityhub: below critical"),
        "{}",
        revert.delivery
    );
}

/// The alert topic alone, with the state table: the revert of a grant it published reaches it
/// below `MIN_SEVERITY` (the on-call who read the grant reads its undoing); the revert of a grant
/// it never published (below `MIN_SEVERITY` then) does not. The state it keeps is the finding it
/// holds, no sent marks.
#[tokio::test]
async fn the_topic_alone_sees_the_revert_of_a_grant_it_published_and_only_that() {
    for (min, published_then) in [("medium", 2), ("critical", 0)] {
        let (sns, published) = sns_capturing();
        let store = Arc::new(MemoryStore::new());
        let handler = Handler::new(
            lambda_settings(&[("MIN_SEVERITY", min)]),
            Clients {
                sns: Some(sns),
                state: Some(store.clone()),
                ..Clients::default()
            },
        );
        let first = handler.handle(&raw(&create_vendor())).await.unwrap();
        assert_eq!(first.alerts[0].severity, Severity::High, "{first:?}");
        let second = handler.handle(&raw(&delete_vendor())).await.unwrap();
        let revert = &second.alerts[0];
        assert!(revert.rules.contains(&"grant-reverted"), "{revert:?}");
        assert!(revert.severity < Severity::Medium, "{revert:?}");
        assert_eq!(
            published.lock().unwrap().len(),
            published_then,
            "MIN_SEVERITY {min}: {revert:?}"
        );
        let held = store
            .read(
                &[
                    "sink-finding#00000000-0000-0000-0000-000000000001".to_string(),
                    "sink-sent#00000000-0000-0000-0000-000000000001".to_string(),
                ],
                0,
            )
            .await
            .unwrap();
        if published_then > 0 {
            assert!(
                held.contains_key("sink-finding#00000000-0000-0000-0000-000000000001"),
                "{held:?}"
            );
        } else {
            assert!(held.is_empty(), "{held:?}");
        }
        assert!(
            !held.contains_key("sink-sent#00000000-0000-0000-0000-000000000001"),
            "{held:?}"
        );
    }
}

// ---- replay --sink NAME [--send] ----

fn replay_to(
    sink: &str,
    send: bool,
    endpoint: Option<&str>,
    env: &[(&str, &str)],
) -> std::process::Output {
    let (_, files) = sequences()
        .into_iter()
        .find(|(d, _)| d.ends_with("created-then-deleted"))
        .unwrap();
    let mut c = crate::cli::bin();
    c.arg("replay").args(["--format", "ndjson", "--sink", sink]);
    if send {
        c.arg("--send");
    }
    c.args(&files)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "not-a-secret")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
    if let Some(e) = endpoint {
        c.env("AWS_ENDPOINT_URL", e);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[test]
fn replay_sink_is_a_dry_run_that_names_what_it_would_send() {
    // No endpoint at all: a dry run never calls anything.
    let out = replay_to("securityhub", false, Some("http://127.0.0.1:9"), &[]);
    let err = crate::cli::stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("dry run: would send to securityhub"), "{err}");
    assert!(err.contains("(Close, "), "the revert is a close: {err}");
    assert!(err.contains("nothing sent (add --send to send)"), "{err}");
    // The alerts are still printed.
    assert_eq!(crate::cli::stdout(&out).lines().count(), 5);
}

#[test]
fn send_without_sink_is_refused() {
    let out = crate::cli::bin()
        .args(["replay", "--send", "events/"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(crate::cli::stderr(&out).contains("--sink"));
}

#[test]
fn replay_sink_pagerduty_send_reads_the_key_from_ssm_and_triggers_and_resolves() {
    let mut server = mockito::Server::new();
    let ssm = server
        .mock("POST", "/")
        .match_header("x-amz-target", "AmazonSSM.GetParameter")
        .match_body(mockito::Matcher::PartialJson(json!({"Name": "/eaw/pagerduty", "WithDecryption": true})))
        .with_header("content-type", "application/x-amz-json-1.1")
        .with_body(r#"{"Parameter":{"Name":"/eaw/pagerduty","Type":"SecureString","Value":"KEY-FROM-SSM","Version":1}}"#)
        .expect(1)
        .create();
    let bodies: Bodies = Arc::default();
    let b = bodies.clone();
    let pd = server
        .mock("POST", "/v2/enqueue")
        .with_status(202)
        .with_body_from_request(move |req| {
            b.lock()
                .unwrap()
                .push(serde_json::from_slice(req.body().unwrap()).unwrap());
            ACCEPTED.as_bytes().to_vec()
        })
        .create();
    let url = format!("{}/v2/enqueue", server.url());
    let out = replay_to(
        "pagerduty",
        true,
        Some(&server.url()),
        &[
            ("PAGERDUTY_ROUTING_KEY_PARAMETER", "/eaw/pagerduty"),
            ("PAGERDUTY_EVENTS_URL", &url),
        ],
    );
    let err = crate::cli::stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    ssm.assert();
    let bodies = bodies.lock().unwrap();
    assert!(bodies.iter().all(|b| b["routing_key"] == "KEY-FROM-SSM"));
    let actions: Vec<&str> = bodies
        .iter()
        .map(|b| b["event_action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"trigger") && actions.contains(&"resolve"),
        "{actions:?}"
    );
    assert!(err.contains("sent to pagerduty, 0 failed"), "{err}");
    drop(pd);
}

#[test]
fn replay_sink_securityhub_send_imports_and_resolves_under_the_home_account() {
    let mut server = mockito::Server::new();
    let imports: Bodies = Arc::default();
    let i = imports.clone();
    let import = server
        .mock("POST", "/findings/import")
        .with_header("content-type", "application/json")
        .with_body_from_request(move |req| {
            let body: Value = serde_json::from_slice(req.body().unwrap()).unwrap();
            let n = body["Findings"].as_array().unwrap().len();
            i.lock().unwrap().push(body);
            format!(r#"{{"FailedCount":0,"SuccessCount":{n},"FailedFindings":[]}}"#).into_bytes()
        })
        .create();
    let update = server
        .mock("PATCH", "/findings/batchupdate")
        .match_body(mockito::Matcher::PartialJson(
            json!({"Workflow": {"Status": "RESOLVED"}}),
        ))
        .with_header("content-type", "application/json")
        .with_body(r#"{"ProcessedFindings":[],"UnprocessedFindings":[]}"#)
        .expect(1)
        .create();
    let out = replay_to(
        "securityhub",
        true,
        Some(&server.url()),
        &[("HOME_ACCOUNT_ID", HOME)],
    );
    let err = crate::cli::stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    update.assert();
    let imports = imports.lock().unwrap();
    let findings: Vec<&Value> = imports
        .iter()
        .flat_map(|b| b["Findings"].as_array().unwrap())
        .collect();
    assert!(!findings.is_empty());
    assert!(findings.iter().all(|f| f["AwsAccountId"] == HOME));
    assert!(findings.iter().any(|f| f["RecordState"] == "ARCHIVED"));
    drop(import);
}

#[test]
fn security_hub_needs_the_functions_account_and_region_and_says_so() {
    let e = LambdaSettings::from_env(|k| (k == "SECURITY_HUB").then(|| "true".to_string()))
        .unwrap_err();
    let text = e.problems.join("\n");
    assert!(
        text.contains("SECURITY_HUB:") && text.contains("HOME_ACCOUNT_ID"),
        "{text}"
    );
    assert!(text.contains("AWS_REGION"), "{text}");
    let ok = lambda_settings(&[
        ("SECURITY_HUB", "true"),
        ("PAGERDUTY_MIN_SEVERITY", "medium"),
    ]);
    assert!(ok.sinks.security_hub);
    assert_eq!(ok.sinks.pagerduty_min_severity, Severity::Medium);
    assert_eq!(
        eks_access_watch::lambda::security_hub_importer(&ok),
        importer()
    );
}

#[tokio::test]
async fn a_sink_that_refuses_for_good_parks_the_event_while_the_others_deliver() {
    let (sns, published) = sns_capturing();
    let (sqs, parked) = crate::aws::sqs_capturing();
    let (server, _bodies, _m) = pd_server(&[(
        1,
        403,
        r#"{"status":"forbidden","message":"routing key not allowed"}"#,
    )])
    .await;
    let mut settings = lambda_settings(&[]);
    settings.failure_queue_url =
        Some("https://sqs.eu-west-1.amazonaws.com/111122223333/failures".to_string());
    let pagerduty = PagerDutySink::new(pd_settings(
        format!("{}/v2/enqueue", server.url()),
        Severity::High,
    ))
    .unwrap();
    let handler = Handler::new(
        settings,
        Clients {
            sns: Some(sns),
            sqs: Some(sqs),
            state: Some(Arc::new(MemoryStore::new())),
            pagerduty: Some(pagerduty),
            ..Clients::default()
        },
    );
    let resp = handler.handle(&raw(&create_vendor())).await.unwrap();
    assert_eq!(published.lock().unwrap().len(), 1, "SNS delivered");
    let parked = parked.lock().unwrap();
    assert_eq!(parked.len(), 1, "the event is parked for PagerDuty's sake");
    assert!(
        parked[0].1.contains("routing key not allowed"),
        "{}",
        parked[0].1
    );
    let reason = resp.failure_queue.unwrap();
    assert!(reason.contains("HTTP 403"), "{reason}");
}

#[tokio::test]
async fn on_dynamodb_the_sinks_marks_are_items_and_cost_one_read_per_payload() {
    let (store, client, calls) = crate::dynamodb::moto_store().await;
    let table = store.table().to_string();
    let store: Arc<dyn Store> = Arc::new(store);
    let (sns, published) = sns_capturing();
    let down = mock!(SecurityHub::batch_import_findings)
        .then_http_response(|| error_response(503, "ServiceUnavailable", "down"));
    let (server, bodies, _m) = pd_server(&[(1, 202, ACCEPTED)]).await;
    let settings = lambda_settings(&[("SECURITY_HUB", "true")]);
    let pagerduty = PagerDutySink::new(pd_settings(
        format!("{}/v2/enqueue", server.url()),
        Severity::High,
    ))
    .unwrap();
    let handler = Handler::new(
        settings.clone(),
        Clients {
            sns: Some(sns.clone()),
            state: Some(store.clone()),
            securityhub: Some(securityhub(&[&down])),
            pagerduty: Some(pagerduty.clone()),
            ..Clients::default()
        },
    );
    let payload = raw(&create_vendor());
    assert!(handler.handle(&payload).await.unwrap_err().retryable());
    // Claim, correlation read, the sinks' read, commit.
    assert_eq!(
        calls.take(),
        crate::dynamodb::counts(&[("BatchGetItem", 2), ("TransactWriteItems", 2)])
    );
    let items = crate::dynamodb::items(&client, &table).await;
    let id = "00000000-0000-0000-0000-000000000001";
    let sent = items[&format!("sink-sent#{id}")]["v"].as_s().unwrap();
    assert_eq!(sent, r#"{"sinks":["pagerduty","sns"]}"#);
    let held = items[&format!("sink-finding#{id}")]["v"].as_s().unwrap();
    assert_eq!(held, r#"{"sinks":["pagerduty","sns"]}"#);
    assert!(
        !items.contains_key(&format!("delivered#{id}")),
        "the claim is released"
    );

    let (up, imports) = importing();
    let handler = Handler::new(
        settings,
        Clients {
            sns: Some(sns),
            state: Some(store),
            securityhub: Some(securityhub(&[&up])),
            pagerduty: Some(pagerduty),
            ..Clients::default()
        },
    );
    handler.handle(&payload).await.unwrap();
    assert_eq!(imports.lock().unwrap().len(), 1);
    assert_eq!(published.lock().unwrap().len(), 1);
    assert_eq!(bodies.lock().unwrap().len(), 1);
    let items = crate::dynamodb::items(&client, &table).await;
    let sent = items[&format!("sink-sent#{id}")]["v"].as_s().unwrap();
    assert_eq!(sent, r#"{"sinks":["pagerduty","securityhub","sns"]}"#);
    assert!(items.contains_key(&format!("delivered#{id}")));
}

/// Several sinks keep their delivery state in the same store as correlation: reading it must
/// not expire, at wall-clock time, the records of older events (a replayed or late sequence)
/// that the batch is about to update. The break-glass session's third event, a day-old audit
/// log payload, still belongs to the session.
#[tokio::test]
async fn the_sinks_state_keeps_an_older_sequence_correlated() {
    let (sns, _published) = sns_capturing();
    let (imp, imports) = importing();
    let (upd, _updates) = updating();
    let store = Arc::new(MemoryStore::new());
    let mut settings = lambda_settings(&[("SECURITY_HUB", "true")]);
    settings.min_severity = Severity::Info;
    let handler = Handler::new(
        settings,
        Clients {
            sns: Some(sns),
            state: Some(store),
            securityhub: Some(securityhub(&[&imp, &upd])),
            ..Clients::default()
        },
    );
    let dir = crate::util::events_dir().join("sequences/break-glass-session");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut last = None;
    for f in &files {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        last = Some(handler.handle(&raw(&v)).await.unwrap());
    }
    let last = last.unwrap();
    assert!(
        last.alerts
            .iter()
            .any(|a| a.rules.contains(&"break-glass-session-activity")),
        "{last:?}"
    );
    assert!(!imports.lock().unwrap().is_empty());
}
