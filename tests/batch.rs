//! Payloads of any size within the invocation's time budget: enrichment failures remembered
//! for the rest of the payload, delivery most severe first with bounded concurrency, what the
//! budget leaves parked one message per event; records too big for an alert (lists capped,
//! the minimal SNS form).

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use aws_sdk_eks::Client as Eks;
use aws_smithy_mocks::{Rule, mock};
use eks_access_watch::Severity;
use eks_access_watch::context::eks::Enricher;
use eks_access_watch::lambda::{Budget, Handler, HandlerError};
use eks_access_watch::render::sns::SNS_MAX_BYTES;
use serde_json::{Value, json};

use crate::aws::{clients, eks_with, error_response, raw, settings_for, sns_capturing};
use crate::util::*;

const TOPIC: &str = "arn:aws:sns:eu-west-1:111122223333:alerts";
const QUEUE: &str = "https://sqs.eu-west-1.amazonaws.com/111122223333/eks-access-watch-failures";
const MASTERS: &str = "- rolearn: arn:aws:iam::111122223333:role/eks-node-role\n  username: system:node:{{EC2PrivateDNSName}}\n  groups: [system:bootstrappers, system:nodes]\n- rolearn: arn:aws:iam::111122223333:role/intruder\n  groups: [system:masters]\n";

fn user() -> Value {
    json!({"username": "platform-engineer:jdoe", "uid": "aws-iam-authenticator:111122223333:AROAEXAMPLE",
        "groups": ["system:authenticated"],
        "extra": {"arn": ["arn:aws:sts::111122223333:assumed-role/platform-engineer/jdoe"],
                  "canonicalArn": ["arn:aws:iam::111122223333:role/platform-engineer"],
                  "sessionName": ["jdoe"]}})
}

fn audit(id: &str, verb: &str, object_ref: Value, request: Value, response: Value) -> Value {
    json!({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse",
        "auditID": id, "stage": "ResponseComplete", "requestURI": "/x", "verb": verb, "user": user(),
        "sourceIPs": ["203.0.113.45"], "userAgent": "kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46",
        "objectRef": object_ref, "responseStatus": {"metadata": {}, "code": 200},
        "requestObject": request, "responseObject": response,
        "requestReceivedTimestamp": "2026-11-20T01:47:12.412873Z"})
}

/// A RoleBinding of `view` to a team in its own namespace.
fn role_binding(i: usize, subjects: Value) -> Value {
    let name = format!("team-{i}-view");
    let namespace = format!("team-{i}");
    let binding = json!({"kind": "RoleBinding", "apiVersion": "rbac.authorization.k8s.io/v1",
        "metadata": {"name": name, "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": subjects});
    audit(
        &format!("rb-{i:05}"),
        "create",
        json!({"resource": "rolebindings", "namespace": namespace, "name": name,
            "apiGroup": "rbac.authorization.k8s.io", "apiVersion": "v1"}),
        binding.clone(),
        binding,
    )
}

fn system_masters() -> Value {
    let cm = json!({"kind": "ConfigMap", "apiVersion": "v1",
        "metadata": {"name": "aws-auth", "namespace": "kube-system"}, "data": {"mapRoles": MASTERS}});
    audit(
        "aws-auth-masters",
        "patch",
        json!({"resource": "configmaps", "namespace": "kube-system", "name": "aws-auth", "apiVersion": "v1"}),
        json!({"data": {"mapRoles": MASTERS}}),
        cm,
    )
}

/// A CloudWatch Logs subscription payload (base64 gzip) of audit events from cluster `prod`.
fn subscription(audits: &[Value]) -> Value {
    use base64::Engine;
    let events: Vec<Value> = audits
        .iter()
        .enumerate()
        .map(|(i, a)| json!({"id": format!("{i:056}"), "timestamp": 1795750300000u64 + i as u64, "message": a.to_string()}))
        .collect();
    let doc = json!({"messageType": "DATA_MESSAGE", "owner": "111122223333",
        "logGroup": "/aws/eks/prod/cluster", "logStream": "kube-apiserver-audit-1",
        "subscriptionFilters": ["eks-access-watch-audit"], "logEvents": events});
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(doc.to_string().as_bytes()).unwrap();
    let data = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
    json!({"awslogs": {"data": data}})
}

fn unzip(payload: &Value) -> Value {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload["awslogs"]["data"].as_str().unwrap())
        .unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// 2,000 RoleBinding writes, then one aws-auth patch adding a `system:masters` row.
fn big_payload(bindings: usize) -> Value {
    let subjects =
        json!([{"kind": "Group", "name": "team-devs", "apiGroup": "rbac.authorization.k8s.io"}]);
    let mut audits: Vec<Value> = (0..bindings)
        .map(|i| role_binding(i, subjects.clone()))
        .collect();
    audits.push(system_masters());
    subscription(&audits)
}

/// Every EKS call answers ThrottlingException (after the SDK's retries).
fn throttled_eks() -> (Eks, Vec<Rule>) {
    let throttle = || error_response(429, "ThrottlingException", "Rate exceeded");
    let rules = vec![
        mock!(Eks::describe_cluster).then_http_response(throttle),
        mock!(Eks::describe_access_entry).then_http_response(throttle),
        mock!(Eks::list_associated_access_policies).then_http_response(throttle),
        mock!(Eks::list_access_entries).then_http_response(throttle),
    ];
    let refs: Vec<&Rule> = rules.iter().collect();
    (eks_with(&refs, std::time::Duration::ZERO), rules)
}

/// The JSON alert (the `default` body) of a published message.
fn json_message(input: &aws_sdk_sns::operation::publish::PublishInput) -> Value {
    let body = crate::aws::json_message(input);
    serde_json::from_str(body["default"].as_str().unwrap()).unwrap()
}

type Parked = Arc<Mutex<Vec<String>>>;

fn sqs_capturing() -> (aws_sdk_sqs::Client, Parked) {
    use aws_sdk_sqs::operation::send_message::SendMessageOutput;
    let parked: Parked = Arc::new(Mutex::new(Vec::new()));
    let sink = parked.clone();
    let rule = mock!(aws_sdk_sqs::Client::send_message).then_compute_output(move |req| {
        let mut p = sink.lock().unwrap();
        p.push(req.message_body().unwrap().to_string());
        SendMessageOutput::builder()
            .message_id(format!("q-{}", p.len()))
            .build()
    });
    let sink = parked.clone();
    let batch = mock!(aws_sdk_sqs::Client::send_message_batch).then_compute_output(move |req| {
        use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchOutput;
        use aws_sdk_sqs::types::SendMessageBatchResultEntry;
        let mut p = sink.lock().unwrap();
        let entries = req.entries();
        assert!(entries.len() <= 10, "SQS takes ten entries a batch");
        let mut out = SendMessageBatchOutput::builder();
        for e in entries {
            p.push(e.message_body().to_string());
            out = out.successful(
                SendMessageBatchResultEntry::builder()
                    .id(e.id())
                    .message_id(format!("q-{}", p.len()))
                    .md5_of_message_body("-")
                    .build()
                    .unwrap(),
            );
        }
        out.set_failed(Some(Vec::new())).build().unwrap()
    });
    (
        aws_smithy_mocks::mock_client!(
            aws_sdk_sqs,
            aws_smithy_mocks::RuleMode::MatchAny,
            &[&rule, &batch]
        ),
        parked,
    )
}

#[tokio::test]
async fn two_thousand_bindings_and_a_system_masters_row_with_eks_throttled_all_go_out_most_severe_first()
 {
    let (eks, rules) = throttled_eks();
    let enricher = Enricher::with_client(eks, Handler::enrich_settings(&settings_for(None)));
    let (sns, published) = sns_capturing();
    let (sqs, parked) = sqs_capturing();
    let mut settings = settings_for(Some(TOPIC));
    settings.min_severity = Severity::Info;
    settings.failure_queue_url = Some(QUEUE.to_string());
    let handler = Handler::new(settings, clients(Some(enricher), Some(sns), Some(sqs)));
    // The Lambda's 30 s timeout less the reserve: a deadline the invocation must not need.
    let budget = Budget::until(std::time::Instant::now() + std::time::Duration::from_secs(25));
    let response = handler
        .handle_within(&raw(&big_payload(2000)), budget)
        .await
        .unwrap();

    assert_eq!(response.alerts.len(), 2001, "{:?}", response.skipped);
    assert!(
        response.failure_queue.is_none(),
        "{:?}",
        response.failure_queue
    );
    assert!(parked.lock().unwrap().is_empty());
    let published = published.lock().unwrap();
    assert_eq!(published.len(), 2001);
    let first = json_message(&published[0]);
    assert_eq!(first["event_id"], "aws-auth-masters", "{first}");
    assert_eq!(first["severity"], "critical");
    assert!(
        first["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "aws-auth-system-masters"),
        "{first}"
    );
    // Every enrichment says why it is missing: the throttling, or that it was not asked again.
    let last = json_message(&published[2000]);
    let errors = last["enrichment"]["errors"].to_string();
    assert_eq!(last["enrichment"]["status"], "failed", "{last}");
    assert!(errors.contains("ThrottlingException"), "{errors}");
    // The cluster's throttling is remembered: a few rounds of calls (each with the SDK's
    // three attempts), not one per event.
    let calls: usize = rules.iter().map(Rule::num_calls).sum();
    assert!(
        calls <= 8 * 3 * 4,
        "{calls} EKS calls for one throttled cluster"
    );
    assert!(
        published
            .iter()
            .filter_map(|p| json_message(p)["enrichment"]["errors"][0]
                .as_str()
                .map(str::to_string))
            .filter(|e| e.contains("earlier in this payload, for cluster prod"))
            .count()
            > 1900
    );
}

#[tokio::test]
async fn a_spent_budget_parks_every_event_left_one_message_each_and_each_redrives() {
    let (sns, published) = sns_capturing();
    let (sqs, parked) = sqs_capturing();
    let mut settings = settings_for(Some(TOPIC));
    settings.min_severity = Severity::Info;
    settings.failure_queue_url = Some(QUEUE.to_string());
    let handler = Handler::new(settings, clients(None, Some(sns), Some(sqs)));
    let response = handler
        .handle_within(&raw(&big_payload(40)), Budget::exhausted())
        .await
        .unwrap();
    assert!(response.alerts.is_empty());
    assert!(published.lock().unwrap().is_empty());
    let said = response.failure_queue.unwrap();
    assert!(
        said.starts_with("41 event(s) parked, one message each"),
        "{said}"
    );
    let parked = parked.lock().unwrap().clone();
    assert_eq!(parked.len(), 41);
    let mut ids = Vec::new();
    for body in &parked {
        let record: Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            record["responsePayload"]["errorType"],
            "EksAccessWatch.OutOfTime"
        );
        let doc = unzip(&record["requestPayload"]);
        assert_eq!(doc["logGroup"], "/aws/eks/prod/cluster");
        let events = doc["logEvents"].as_array().unwrap();
        assert_eq!(events.len(), 1, "one event per message");
        let audit: Value = serde_json::from_str(events[0]["message"].as_str().unwrap()).unwrap();
        ids.push(audit["auditID"].as_str().unwrap().to_string());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 41, "every event parked once");

    // A parked message redriven (the failure queue's SQS batch) alerts like the original.
    let batch = json!({"Records": [{"messageId": "m-1", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:111122223333:eks-access-watch-redrive",
        "body": parked.iter().find(|b| b.contains("aws-auth-masters") || {
            let r: Value = serde_json::from_str(b).unwrap();
            unzip(&r["requestPayload"]).to_string().contains("aws-auth-masters")
        }).unwrap()}]});
    let (sns, published) = sns_capturing();
    let handler = Handler::new(settings_for(Some(TOPIC)), clients(None, Some(sns), None));
    let response = handler.handle(&raw(&batch)).await.unwrap();
    assert_eq!(response.alerts.len(), 1, "{response:?}");
    assert_eq!(
        json_message(&published.lock().unwrap()[0])["event_id"],
        "aws-auth-masters"
    );
}

#[tokio::test]
async fn a_spent_budget_without_a_failure_queue_fails_as_retryable() {
    let (sns, published) = sns_capturing();
    let handler = Handler::new(settings_for(Some(TOPIC)), clients(None, Some(sns), None));
    let err = handler
        .handle_within(&raw(&big_payload(3)), Budget::exhausted())
        .await
        .unwrap_err();
    assert!(matches!(err, HandlerError::OutOfTime(4)), "{err}");
    assert!(err.retryable());
    assert!(published.lock().unwrap().is_empty());
}

#[test]
fn a_binding_with_thousands_of_subjects_names_a_few_and_counts_the_rest() {
    let subjects: Vec<Value> = (0..5000)
        .map(|i| json!({"kind": "User", "name": format!("user-{i}@example.com"), "apiGroup": "rbac.authorization.k8s.io"}))
        .collect();
    let alert = alerts_of(&role_binding(7, json!(subjects)));
    let text = eks_access_watch::render::text(&alert);
    assert!(text.contains("and 4994 more"), "{text}");
    assert!(!text.contains("user-4999@example.com"), "{text}");
}

fn alerts_of(audit: &Value) -> eks_access_watch::Alert {
    let payload = subscription(std::slice::from_ref(audit)).to_string();
    let config = sample_config();
    let mut events = Vec::new();
    eks_access_watch::ingest::scan_slice(
        "event",
        payload.as_bytes(),
        &eks_access_watch::ingest::Options::new(&config),
        &mut |o| {
            if let eks_access_watch::ingest::Outcome::Watched { event, .. } = o {
                events.push(*event)
            }
        },
    )
    .unwrap();
    assert_eq!(events.len(), 1);
    classify(&events[0], &config, None)
}

/// An AssociateAccessPolicy whose namespaces make the record 300 KiB.
fn huge_scope_record() -> Value {
    let namespaces: Vec<String> = (0..3000)
        .map(|i| format!("team-{i:04}-{}", "n".repeat(90)))
        .collect();
    record(
        "AssociateAccessPolicy",
        json!({"name": "prod", "principalArn": encode("arn:aws:iam::111122223333:role/ci-deployer"),
            "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy",
            "accessScope": {"type": "namespace", "namespaces": namespaces}}),
        assumed("arn:aws:iam::111122223333:role/intruder", "x"),
    )
}

#[tokio::test]
async fn a_300_kib_record_is_published_in_the_minimal_form_with_its_lists_capped() {
    let record = huge_scope_record();
    assert!(
        record.to_string().len() > 300 * 1024,
        "the fixture must be 300 KiB"
    );
    let alert = alert_for(&record);
    let text = eks_access_watch::render::text(&alert);
    assert!(text.contains("and 2980 more"), "{text}");

    let (sns, published) = sns_capturing();
    let handler = Handler::new(settings_for(Some(TOPIC)), clients(None, Some(sns), None));
    let event = json!({"version": "0", "id": "e", "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.eks", "account": "111122223333", "region": "eu-west-1", "detail": record});
    let response = handler.handle(&raw(&event)).await.unwrap();
    assert_eq!(response.alerts.len(), 1);
    assert!(
        response.alerts[0].delivery.starts_with("published"),
        "{response:?}"
    );
    let published = published.lock().unwrap();
    let input = &published[0];
    let size = input.message().unwrap().len()
        + input
            .message_attributes()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        k.len() + v.data_type().len() + v.string_value().unwrap_or("").len()
                    })
                    .sum::<usize>()
            })
            .unwrap_or(0);
    assert!(size <= SNS_MAX_BYTES, "{size}");
    let doc = json_message(input);
    assert_eq!(doc["minimal"], true, "{doc}");
    assert_eq!(doc["severity"], alert.severity.as_str());
    assert_eq!(doc["event_id"], record["eventID"]);
    let rules: Vec<&str> = doc["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(rules, alert.rule_ids());
    let at = doc["record"].as_str().unwrap();
    assert!(at.starts_with("CloudTrail event "), "{at}");
    assert!(
        at.contains("account 111122223333, region eu-west-1"),
        "{at}"
    );
    let body: Value = serde_json::from_str(input.message().unwrap()).unwrap();
    assert!(
        body["email"].as_str().unwrap().contains("minimal form"),
        "{body}"
    );
}

#[tokio::test]
async fn the_heartbeat_says_the_function_runs() {
    let handler = Handler::new(settings_for(None), clients(None, None, None));
    let response = handler
        .handle(&raw(&json!({"task": "heartbeat"})))
        .await
        .unwrap();
    assert_eq!(response.task.as_deref(), Some("heartbeat: alive"));
    let line = eks_access_watch::lambda::task_metric(
        eks_access_watch::lambda::Task::Heartbeat,
        1_700_000_000_000,
    );
    let emf: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(emf["Task"], "heartbeat");
    assert_eq!(emf["TaskSucceeded"], 1);
}
