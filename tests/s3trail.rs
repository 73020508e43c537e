//! The organisation trail's bucket as a second path: S3 notifications (through SQS, SNS and
//! EventBridge) to the Lambda, which reads each log object from S3 (moto on loopback) and
//! delivers its watched records like EventBridge-delivered ones; partial batch failures and the
//! time budget.

use std::io::Write;
use std::sync::Arc;

use eks_access_watch::context::state::{MemoryStore, Store};
use eks_access_watch::ingest::{self, Options, Outcome};
use eks_access_watch::lambda::{BatchItemFailure, Budget, Clients, Handler};
use serde_json::{Value, json};

use crate::aws::{json_message, raw, settings_for, sns_capturing};
use crate::moto;
use crate::util::*;

const TOPIC: &str = "arn:aws:sns:eu-west-1:111122223333:alerts";
const CLUSTER: &str = "prod";
const CI: &str = "arn:aws:iam::111122223333:role/ci-deployer";
const ADMIN_POLICY: &str = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy";

/// A log-file key in CloudTrail's layout for an organisation trail, under `prefix`.
pub fn log_key(prefix: &str, n: usize) -> String {
    format!(
        "{prefix}AWSLogs/o-abc123def4/111122223333/CloudTrail/eu-west-1/2026/11/20/111122223333_CloudTrail_eu-west-1_20261120T0150Z_File{n}.json.gz"
    )
}

/// The watched record of these tests: ClusterAdmin granted to CI by a human.
pub fn grant(event_id: &str) -> Value {
    let mut r = record(
        "AssociateAccessPolicy",
        json!({"name": CLUSTER, "principalArn": encode(CI), "policyArn": ADMIN_POLICY, "accessScope": {"type": "cluster"}}),
        assumed("arn:aws:iam::111122223333:role/Admin", "jdoe"),
    );
    r["eventID"] = json!(event_id);
    r
}

/// A log file as CloudTrail writes it: `{"Records": [...]}`, gzip-compressed; `others`
/// records of another service around the watched ones.
pub fn log_file(watched: &[Value], others: usize) -> Vec<u8> {
    let mut records: Vec<Value> = (0..others)
        .map(|i| {
            json!({"eventVersion": "1.09", "eventSource": "s3.amazonaws.com", "eventName": "GetObject",
                   "eventID": format!("other-{i}"), "awsRegion": "eu-west-1"})
        })
        .collect();
    records.splice(others / 2..others / 2, watched.iter().cloned());
    let text = json!({ "Records": records }).to_string();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap()
}

/// An S3 event notification of one created object (the key URL-encoded, as S3 writes it).
pub fn s3_notification(bucket: &str, key: &str) -> Value {
    let encoded: String = key
        .split(' ')
        .map(|part| {
            percent_encoding::utf8_percent_encode(part, percent_encoding::NON_ALPHANUMERIC)
                .to_string()
                .replace("%2F", "/")
                .replace("%2E", ".")
                .replace("%2D", "-")
                .replace("%5F", "_")
        })
        .collect::<Vec<_>>()
        .join("+");
    json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "eu-west-1",
        "eventTime": "2026-11-20T01:55:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "eks-access-watch",
               "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
               "object": {"key": encoded, "size": 1234, "sequencer": "0055AED6DCD90281E5"}}
    }]})
}

/// An SQS message of the event source mapping, its body `body`.
pub fn sqs_message(id: &str, body: &str) -> Value {
    json!({
        "messageId": id, "receiptHandle": "AQEB", "body": body,
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
        "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:111122223333:org-trail-notifications",
        "awsRegion": "eu-west-1"
    })
}

pub fn sqs_event(messages: Vec<Value>) -> Value {
    json!({ "Records": messages })
}

/// S3 -> SNS -> SQS without raw delivery: the notification is the SNS message.
fn sns_wrapped(notification: &Value) -> Value {
    json!({"Type": "Notification", "MessageId": "sns-1",
           "TopicArn": "arn:aws:sns:eu-west-1:111122223333:trail", "Subject": "Amazon S3 Notification",
           "Message": notification.to_string(), "Timestamp": "2026-11-20T01:55:00.000Z"})
}

fn eventbridge_object_created(bucket: &str, key: &str) -> Value {
    json!({"version": "0", "id": "e-1", "detail-type": "Object Created", "source": "aws.s3",
           "account": "111122223333", "time": "2026-11-20T01:55:00Z", "region": "eu-west-1",
           "resources": [format!("arn:aws:s3:::{bucket}")],
           "detail": {"version": "0", "bucket": {"name": bucket},
                      "object": {"key": key, "size": 1234, "etag": "x"}, "reason": "PutObject"}})
}

/// Objects (with their message id), skip reasons, problems.
type Scanned = (Vec<(String, Option<String>)>, Vec<String>, Vec<String>);

/// What scanning a payload hands on.
fn outcomes(payload: &Value) -> Scanned {
    let config = sample_config();
    let (mut objects, mut skips, mut problems) = (Vec::new(), Vec::new(), Vec::new());
    ingest::scan_slice(
        "event",
        payload.to_string().as_bytes(),
        &Options::new(&config),
        &mut |o| match o {
            Outcome::Object { object, .. } => objects.push((object.to_string(), object.message_id)),
            Outcome::Skipped { reason, .. } => skips.push(reason.slug().to_string()),
            Outcome::Watched { .. } => panic!("no record expected"),
            Outcome::Invalid(e) => problems.push(e.to_string()),
        },
    )
    .unwrap();
    (objects, skips, problems)
}

#[test]
fn every_notification_shape_names_its_object_and_message() {
    let key = log_key("trail logs/", 1);
    let n = s3_notification("org-trail", &key);
    let want = format!("s3://org-trail/{key}");
    for (shape, body) in [
        ("raw", n.to_string()),
        ("sns", sns_wrapped(&n).to_string()),
        (
            "eventbridge via sqs",
            eventbridge_object_created("org-trail", &key).to_string(),
        ),
    ] {
        let (objects, skips, problems) = outcomes(&sqs_event(vec![sqs_message("m-1", &body)]));
        assert_eq!(
            objects,
            [(want.clone(), Some("m-1".to_string()))],
            "{shape}: {skips:?} {problems:?}"
        );
        assert!(problems.is_empty(), "{shape}: {problems:?}");
    }
    // EventBridge straight to the function: no message.
    let (objects, _, _) = outcomes(&eventbridge_object_created("org-trail", &key));
    assert_eq!(objects, [(want, None)]);
}

#[test]
fn digests_insights_other_keys_removals_and_the_test_event_are_skipped_by_reason() {
    let test_event = json!({"Service": "Amazon S3", "Event": "s3:TestEvent",
        "Time": "2026-11-20T01:00:00.000Z", "Bucket": "org-trail", "RequestId": "r", "HostId": "h"});
    let mut removed = s3_notification("org-trail", &log_key("", 1));
    removed["Records"][0]["eventName"] = json!("ObjectRemoved:Delete");
    let messages = vec![
        sqs_message("m-1", &test_event.to_string()),
        sqs_message(
            "m-2",
            &s3_notification(
                "org-trail",
                "AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2026/11/20/111122223333_CloudTrail-Digest_eu-west-1_org_eu-west-1_20261120T015500Z.json.gz",
            )
            .to_string(),
        ),
        sqs_message(
            "m-3",
            &s3_notification(
                "org-trail",
                "AWSLogs/111122223333/CloudTrail-Insight/eu-west-1/2026/11/20/x.json.gz",
            )
            .to_string(),
        ),
        sqs_message(
            "m-4",
            &s3_notification("org-trail", "exports/report.csv").to_string(),
        ),
        sqs_message("m-5", &removed.to_string()),
    ];
    let (objects, skips, problems) = outcomes(&sqs_event(messages));
    assert!(objects.is_empty(), "{objects:?}");
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(
        skips,
        [
            "s3-test-event",
            "digest-file",
            "insight-file",
            "not-log-file",
            "not-object-created"
        ]
    );
}

/// A bucket on moto holding `objects`; returns its S3 client.
async fn bucket_with(bucket: &str, objects: &[(&str, Vec<u8>)]) -> aws_sdk_s3::Client {
    let config = moto::sdk_config("eu-west-1");
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket()
        .bucket(bucket)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await
        .unwrap();
    for (key, body) in objects {
        s3.put_object()
            .bucket(bucket)
            .key(*key)
            .body(body.clone().into())
            .send()
            .await
            .unwrap();
    }
    s3
}

fn handler(
    s3: aws_sdk_s3::Client,
    sns: aws_sdk_sns::Client,
    state: Option<Arc<dyn Store>>,
) -> Handler {
    Handler::new(
        settings_for(Some(TOPIC)),
        Clients {
            sns: Some(sns),
            s3: Some(s3),
            state,
            ..Clients::default()
        },
    )
}

#[tokio::test]
async fn an_object_put_in_the_bucket_is_read_through_its_notification_and_alerts() {
    let bucket = moto::unique("org-trail");
    // A key with a space: the notification writes it URL-encoded with `+`.
    let key = log_key("trail logs/", 1);
    let s3 = bucket_with(&bucket, &[(&key, log_file(&[grant("ev-1")], 500))]).await;
    let (sns, published) = sns_capturing();
    let handler = handler(s3, sns, None);
    let payload = sqs_event(vec![sqs_message(
        "m-1",
        &s3_notification(&bucket, &key).to_string(),
    )]);
    let response = handler.handle(&raw(&payload)).await.unwrap();
    assert!(
        response.batch_item_failures.is_empty(),
        "{:?}",
        response.objects
    );
    assert_eq!(response.alerts.len(), 1, "{response:?}");
    assert_eq!(response.alerts[0].event_id.as_deref(), Some("ev-1"));
    assert_eq!(
        response.objects,
        [format!(
            "s3://{bucket}/{key}: 501 records, 1 watched, 0 problems"
        )]
    );
    let messages = published.lock().unwrap();
    assert_eq!(messages.len(), 1);
    let body = json_message(&messages[0]);
    assert!(body.to_string().contains("ClusterAdmin"), "{body}");
    // The response tells Lambda nothing failed: no batchItemFailures field at all.
    let wire = serde_json::to_value(&response).unwrap();
    assert!(wire.get("batchItemFailures").is_none(), "{wire}");
}

#[tokio::test]
async fn a_corrupt_object_fails_only_its_own_message() {
    let bucket = moto::unique("org-trail");
    let good = log_key("", 1);
    let corrupt = log_key("", 2);
    let missing = log_key("", 3);
    let mut broken = log_file(&[grant("ev-2")], 50);
    broken.truncate(broken.len() / 2);
    let s3 = bucket_with(
        &bucket,
        &[(&good, log_file(&[grant("ev-1")], 50)), (&corrupt, broken)],
    )
    .await;
    let (sns, published) = sns_capturing();
    let handler = handler(s3, sns, None);
    let payload = sqs_event(vec![
        sqs_message("m-good", &s3_notification(&bucket, &good).to_string()),
        sqs_message("m-corrupt", &s3_notification(&bucket, &corrupt).to_string()),
        sqs_message("m-missing", &s3_notification(&bucket, &missing).to_string()),
    ]);
    let response = handler.handle(&raw(&payload)).await.unwrap();
    assert_eq!(
        response.batch_item_failures,
        [
            BatchItemFailure {
                item_identifier: "m-corrupt".into()
            },
            BatchItemFailure {
                item_identifier: "m-missing".into()
            }
        ],
        "{:?}",
        response.objects
    );
    // The good object's alert went out.
    assert_eq!(published.lock().unwrap().len(), 1);
    let wire = serde_json::to_value(&response).unwrap();
    assert_eq!(
        wire["batchItemFailures"],
        json!([{"itemIdentifier": "m-corrupt"}, {"itemIdentifier": "m-missing"}])
    );
    assert!(
        response.objects[1].contains("compressed data is corrupt or truncated"),
        "{:?}",
        response.objects
    );
    assert!(
        response.objects[2].contains("GetObject"),
        "{:?}",
        response.objects
    );
}

#[tokio::test]
async fn a_spent_budget_returns_every_message_not_started_as_failed() {
    let bucket = moto::unique("org-trail");
    let key = log_key("", 1);
    let s3 = bucket_with(&bucket, &[(&key, log_file(&[grant("ev-1")], 5))]).await;
    let (sns, published) = sns_capturing();
    let handler = handler(s3, sns, None);
    let payload = sqs_event(vec![
        sqs_message("m-1", &s3_notification(&bucket, &key).to_string()),
        sqs_message("m-2", &s3_notification(&bucket, &key).to_string()),
    ]);
    let response = handler
        .handle_within(&raw(&payload), Budget::exhausted())
        .await
        .unwrap();
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["m-1", "m-2"]);
    assert!(published.lock().unwrap().is_empty());
    assert!(
        response
            .objects
            .iter()
            .all(|o| o.ends_with("not read (time budget spent)")),
        "{:?}",
        response.objects
    );
}

#[tokio::test]
async fn with_eventbridge_and_the_bucket_both_on_an_event_alerts_once() {
    let bucket = moto::unique("org-trail");
    let key = log_key("", 1);
    let s3 = bucket_with(&bucket, &[(&key, log_file(&[grant("ev-once")], 20))]).await;
    let (sns, published) = sns_capturing();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let handler = handler(s3, sns, Some(store));
    // EventBridge delivers it first...
    let eventbridge = json!({"version": "0", "id": "x", "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.eks", "account": "111122223333", "time": "2026-11-20T01:47:12Z",
        "region": "eu-west-1", "resources": [], "detail": grant("ev-once")});
    let first = handler.handle(&raw(&eventbridge)).await.unwrap();
    assert_eq!(first.alerts.len(), 1);
    // ...then the log object arrives through the bucket.
    let payload = sqs_event(vec![sqs_message(
        "m-1",
        &s3_notification(&bucket, &key).to_string(),
    )]);
    let second = handler.handle(&raw(&payload)).await.unwrap();
    assert!(second.alerts.is_empty(), "{second:?}");
    assert!(
        second
            .skipped
            .iter()
            .any(|s| s.contains("ev-once: already delivered")),
        "{:?}",
        second.skipped
    );
    assert_eq!(published.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn an_object_notification_without_an_s3_client_fails_its_message() {
    let (sns, _) = sns_capturing();
    let handler = Handler::new(
        settings_for(Some(TOPIC)),
        Clients {
            sns: Some(sns),
            ..Clients::default()
        },
    );
    let payload = sqs_event(vec![sqs_message(
        "m-1",
        &s3_notification("org-trail", &log_key("", 1)).to_string(),
    )]);
    let response = handler.handle(&raw(&payload)).await.unwrap();
    assert_eq!(response.batch_item_failures.len(), 1);
    // EventBridge straight to the function: the invocation fails, not retryable.
    let err = handler
        .handle(&raw(&eventbridge_object_created(
            "org-trail",
            &log_key("", 1),
        )))
        .await
        .unwrap_err();
    assert!(!err.retryable(), "{err}");
    assert!(err.to_string().contains("no S3 client"), "{err}");
}

/// The trail self-check asks the bucket whether it sends to the queue: nothing configured is
/// `no-trail-notifications` (high); a queue configuration for the queue, or EventBridge
/// notifications, is none.
#[tokio::test]
async fn the_self_check_reports_a_bucket_that_sends_nothing_to_the_queue() {
    use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};
    let config = moto::sdk_config("eu-west-1");
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue = sqs
        .create_queue()
        .queue_name(moto::unique("org-trail-notifications"))
        .send()
        .await
        .unwrap();
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(queue.queue_url().unwrap())
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();
    let queue_arn =
        attrs.attributes().unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn].clone();
    let bucket = moto::unique("org-trail");
    let s3 = bucket_with(&bucket, &[]).await;
    let run = |s3: aws_sdk_s3::Client| {
        let (sns, published) = sns_capturing();
        let mut settings = settings_for(Some(TOPIC));
        settings.org_trail = Some(eks_access_watch::config::OrgTrail {
            bucket: bucket.clone(),
            queue_arn: Some(queue_arn.clone()),
            prefix: eks_access_watch::config::DEFAULT_ORG_TRAIL_PREFIX.to_string(),
        });
        let handler = Handler::new(
            settings,
            Clients {
                sns: Some(sns),
                s3: Some(s3),
                ..Clients::default()
            },
        );
        async move {
            let response = handler
                .handle(&raw(&json!({"task": "trail-self-check"})))
                .await
                .unwrap();
            let n = published.lock().unwrap().len();
            (response, n)
        }
    };
    let (response, published) = run(s3.clone()).await;
    assert_eq!(published, 1, "{response:?}");
    assert_eq!(response.alerts[0].rules, ["no-trail-notifications"]);
    assert_eq!(
        response.alerts[0].severity,
        eks_access_watch::Severity::High
    );
    assert!(
        response.alerts[0].subject.contains(&bucket),
        "{}",
        response.alerts[0].subject
    );

    s3.put_bucket_notification_configuration()
        .bucket(&bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(
                    QueueConfiguration::builder()
                        .queue_arn(&queue_arn)
                        .events(Event::from("s3:ObjectCreated:*"))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let (response, published) = run(s3.clone()).await;
    assert_eq!(published, 0, "{response:?}");
    assert_eq!(
        response.task.as_deref(),
        Some("trail-self-check: trails not checked (no CloudTrail client); 0 finding(s)")
    );
}

/// moto 5.2 keeps a bucket's EventBridge configuration but does not return it from
/// GetBucketNotificationConfiguration, so that case is judged on the change itself.
#[test]
fn eventbridge_notifications_or_a_queue_satisfy_the_check_and_an_unreadable_one_does_not() {
    use eks_access_watch::model::Change;
    let findings = |to_queue: bool, eventbridge: bool, error: Option<&str>| {
        let event = eks_access_watch::trail::selfcheck::notifications_event(
            Change::TrailNotifications {
                bucket: "org-trail".into(),
                queue_arn: Some("arn:aws:sqs:eu-west-1:111122223333:q".into()),
                to_queue,
                eventbridge,
                error: error.map(str::to_string),
            },
            "111122223333",
            "eu-west-1",
            "2026-11-20T06:00:00Z",
        );
        let alert = judge(&event, &sample_config(), None, None).unwrap();
        alert
            .findings
            .iter()
            .map(|f| (f.rule.id, f.severity, f.summary.clone()))
            .collect::<Vec<_>>()
    };
    assert!(findings(true, false, None).is_empty());
    assert!(findings(false, true, None).is_empty());
    let found = findings(false, false, None);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, "no-trail-notifications");
    assert_eq!(found[0].1, eks_access_watch::Severity::High);
    assert!(
        found[0].2.ends_with("EventBridge notifications are off"),
        "{}",
        found[0].2
    );
    let unreadable = findings(
        false,
        false,
        Some("GetBucketNotificationConfiguration: AccessDenied: no"),
    );
    assert!(
        unreadable[0]
            .2
            .contains("could not confirm: GetBucketNotificationConfiguration"),
        "{unreadable:?}"
    );
}

// ---- replay s3:// and backfill, through the binary ----

/// A log-file key of `account` in `region` on `day` (`YYYY/MM/DD`).
fn key_at(account: &str, region: &str, day: &str, n: usize) -> String {
    let compact = day.replace('/', "");
    format!(
        "AWSLogs/o-abc123def4/{account}/CloudTrail/{region}/{day}/{account}_CloudTrail_{region}_{compact}T0150Z_F{n}.json.gz"
    )
}

/// An organisation's bucket: two accounts, two regions, three days, one watched event per
/// file (its id names the file), and a digest.
async fn organisation_bucket() -> (String, aws_sdk_s3::Client, Vec<String>) {
    let bucket = moto::unique("org-archive");
    let mut objects = Vec::new();
    let mut keys = Vec::new();
    for account in ["111122223333", "444455556666"] {
        for region in ["eu-west-1", "us-east-1"] {
            for day in ["2026/11/19", "2026/11/20", "2026/11/21"] {
                let key = key_at(account, region, day, 1);
                let id = format!("{account}-{region}-{}", day.replace('/', ""));
                objects.push((key.clone(), log_file(&[grant(&id)], 30)));
                keys.push(key);
            }
        }
    }
    objects.push((
        "AWSLogs/o-abc123def4/111122223333/CloudTrail-Digest/eu-west-1/2026/11/20/111122223333_CloudTrail-Digest_eu-west-1_org_eu-west-1_20261120T020000Z.json.gz".into(),
        log_file(&[], 0),
    ));
    let refs: Vec<(&str, Vec<u8>)> = objects
        .iter()
        .map(|(k, b)| (k.as_str(), b.clone()))
        .collect();
    let s3 = bucket_with(&bucket, &refs).await;
    (bucket, s3, keys)
}

fn cli(args: &[&str]) -> std::process::Output {
    crate::cli::bin()
        .args(args)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ENDPOINT_URL", moto::endpoint())
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .unwrap()
}

fn event_ids(ndjson: &str) -> Vec<String> {
    let mut ids: Vec<String> = ndjson
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["event_id"].as_str().unwrap().to_string()
        })
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_of_a_bucket_reads_only_the_days_asked_for() {
    let (bucket, _, _) = organisation_bucket().await;
    let url = format!("s3://{bucket}/AWSLogs/o-abc123def4/");
    let o = cli(&[
        "replay",
        "--format",
        "ndjson",
        "--summary",
        "--jobs",
        "3",
        "--since",
        "2026-11-20",
        "--until",
        "2026-11-20",
        &url,
    ]);
    let (out, err) = (crate::cli::stdout(&o), crate::cli::stderr(&o));
    assert!(o.status.success(), "{err}");
    assert_eq!(
        event_ids(&out),
        [
            "111122223333-eu-west-1-20261120",
            "111122223333-us-east-1-20261120",
            "444455556666-eu-west-1-20261120",
            "444455556666-us-east-1-20261120"
        ],
        "{err}"
    );
    assert!(err.contains("4 inputs, 124 records, 4 watched"), "{err}");
    // Without dates: every log file, the digest skipped by reason.
    let o = cli(&["replay", "--format", "ndjson", "--summary", &url]);
    let (out, err) = (crate::cli::stdout(&o), crate::cli::stderr(&o));
    assert!(o.status.success(), "{err}");
    assert_eq!(event_ids(&out).len(), 12, "{err}");
    assert!(err.contains("skipped 1: CloudTrail digest file"), "{err}");
    // A missing bucket is an error naming it.
    let o = cli(&["replay", "s3://no-such-bucket-here/AWSLogs/"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        crate::cli::stderr(&o).contains("s3://no-such-bucket-here/AWSLogs/: cannot list"),
        "{}",
        crate::cli::stderr(&o)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn backfill_sends_each_log_file_as_a_notification_the_lambda_reads() {
    let (bucket, s3, keys) = organisation_bucket().await;
    let sqs = aws_sdk_sqs::Client::new(&moto::sdk_config("eu-west-1"));
    let queue = sqs
        .create_queue()
        .queue_name(moto::unique("backfill"))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    let url = format!("s3://{bucket}/AWSLogs/");
    let o = cli(&[
        "backfill",
        &url,
        "--queue",
        &queue,
        "--since",
        "2026-11-20",
        "--until",
        "2026-11-21",
    ]);
    let out = crate::cli::stdout(&o);
    assert!(o.status.success(), "{}", crate::cli::stderr(&o));
    assert!(
        out.starts_with(&format!(
            "listed 8 objects under {url} (8 log files), sent 8 notifications to {queue}"
        )),
        "{out}"
    );
    // What the queue holds, as the event source mapping would hand it to the function.
    let mut messages = Vec::new();
    while messages.len() < 8 {
        let got = sqs
            .receive_message()
            .queue_url(&queue)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        if got.messages().is_empty() {
            break;
        }
        for m in got.messages() {
            messages.push(sqs_message(m.message_id().unwrap(), m.body().unwrap()));
        }
    }
    assert_eq!(messages.len(), 8);
    let (sns, published) = sns_capturing();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let handler = handler(s3, sns, Some(store));
    let payload = sqs_event(messages.clone());
    let response = handler.handle(&raw(&payload)).await.unwrap();
    assert!(
        response.batch_item_failures.is_empty(),
        "{:?}",
        response.objects
    );
    assert_eq!(response.alerts.len(), 8);
    let read: Vec<String> = response
        .objects
        .iter()
        .map(|o| o.split(": ").next().unwrap().to_string())
        .collect();
    for key in keys.iter().filter(|k| !k.contains("/2026/11/19/")) {
        assert!(
            read.contains(&format!("s3://{bucket}/{key}")),
            "{key}: {read:?}"
        );
    }
    // A rerun (the same notifications again) alerts on nothing twice.
    let again = handler.handle(&raw(&payload)).await.unwrap();
    assert!(again.alerts.is_empty(), "{again:?}");
    assert_eq!(published.lock().unwrap().len(), 8);
}

/// With both dates the listing walks the layout (accounts, then regions, by delimiter) and
/// lists only the day prefixes asked for, never the whole bucket.
#[tokio::test]
async fn listing_a_date_range_lists_only_those_days() {
    let (bucket, s3, _) = organisation_bucket().await;
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 20);
    let (found, listings) = eks_access_watch::aws::s3::list_trail(
        &s3,
        &bucket,
        "AWSLogs/o-abc123def4/",
        "CloudTrail",
        day,
        day,
    )
    .await
    .unwrap();
    assert_eq!(found.len(), 4, "{found:?}");
    assert!(found.iter().all(|o| o.key.contains("/2026/11/20/")));
    // One for the accounts, one per account for its regions, one per region-day.
    assert_eq!(listings, 1 + 2 + 4);
    // A prefix at the region: the day prefixes at once.
    let (found, listings) = eks_access_watch::aws::s3::list_trail(
        &s3,
        &bucket,
        "AWSLogs/o-abc123def4/111122223333/CloudTrail/eu-west-1/",
        "CloudTrail",
        chrono::NaiveDate::from_ymd_opt(2026, 11, 19),
        day,
    )
    .await
    .unwrap();
    assert_eq!((found.len(), listings), (2, 2));
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// A bucket on moto holding a day of a trail as CloudTrail writes it: 24 hourly digests
/// (gzip, the signature in `x-amz-meta-signature`) and the two log files each lists.
async fn signed_trail_bucket(
    signer: &crate::trail_digest::Signer,
    bucket: &str,
) -> aws_sdk_s3::Client {
    let (digests, logs) = crate::trail_digest::chain_in(signer, 24, bucket);
    let s3 = bucket_with(bucket, &[]).await;
    for (key, bytes, signature) in &digests {
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .metadata("signature", signature)
            .body(gzip(bytes).into())
            .send()
            .await
            .unwrap();
    }
    for (key, content) in &logs {
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .body(gzip(content).into())
            .send()
            .await
            .unwrap();
    }
    s3
}

/// `verify-trail` through the binary against moto's S3: digests as CloudTrail writes them
/// (gzip, signature in x-amz-meta-signature), the public keys from a file; an intact day
/// passes, a deleted log file is `trail-gap` and fails `--fail-on high`.
#[tokio::test(flavor = "multi_thread")]
async fn verify_trail_proves_a_day_and_reports_a_deleted_log_file() {
    use crate::trail_digest::{Signer, log_key};
    let signer = Signer::new();
    let bucket = moto::unique("org-trail-digests");
    let s3 = signed_trail_bucket(&signer, &bucket).await;
    let keys = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(keys.path(), signer.public_keys_json()).unwrap();
    let url = format!("s3://{bucket}/AWSLogs/o-abc123def4/");
    let keys_path = keys.path().to_str().unwrap();
    let args = [
        "verify-trail",
        &url,
        "--since",
        "2026-11-20",
        "--until",
        "2026-11-20",
        "--public-keys",
        keys_path,
        "--fail-on",
        "high",
        "--format",
        "json",
    ];
    let o = cli(&args);
    let (out, err) = (crate::cli::stdout(&o), crate::cli::stderr(&o));
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["findings"], json!([]), "{report}");
    assert!(err.contains("24 digests, 48 log files checked"), "{err}");

    // A log file deleted: trail-gap (high), exit 1 with --fail-on high.
    s3.delete_object()
        .bucket(&bucket)
        .key(log_key(5, 1))
        .send()
        .await
        .unwrap();
    let o = cli(&args);
    let (out, err) = (crate::cli::stdout(&o), crate::cli::stderr(&o));
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{report}");
    assert_eq!(findings[0]["rule"], "trail-gap");
    assert_eq!(findings[0]["severity"], "high");
    assert_eq!(findings[0]["account"], "111122223333");
    assert!(
        findings[0]["summary"]
            .as_str()
            .unwrap()
            .contains(&log_key(5, 1)),
        "{report}"
    );
    // The text format is the audit's.
    let o = cli(&args[..10]);
    assert!(
        crate::cli::stdout(&o).contains("trail-gap"),
        "{}",
        crate::cli::stdout(&o)
    );
}

/// The Lambda's daily `{"task": "verify-trail"}`: yesterday (UTC) of the trail under
/// `ORG_TRAIL_PREFIX`, CloudTrail's keys from ListPublicKeys (an SDK mock), digests and log
/// files on moto's S3. An intact day publishes nothing; an altered log file is published as
/// `trail-log-altered` (critical); without the bucket configured the task fails, not retryable.
#[tokio::test(flavor = "multi_thread")]
async fn the_daily_verify_trail_task_proves_yesterday_and_publishes_an_altered_log_file() {
    use crate::trail_digest::{FINGERPRINT, Signer, log_key};
    use aws_sdk_cloudtrail::operation::list_public_keys::ListPublicKeysOutput;
    use aws_sdk_cloudtrail::types::PublicKey;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    let signer = Signer::new();
    let bucket = moto::unique("org-trail-daily");
    let s3 = signed_trail_bucket(&signer, &bucket).await;
    let der = signer.public_key_der();
    let keys = mock!(aws_sdk_cloudtrail::Client::list_public_keys).then_output(move || {
        ListPublicKeysOutput::builder()
            .public_key_list(
                PublicKey::builder()
                    .value(aws_smithy_types::Blob::new(der.clone()))
                    .fingerprint(FINGERPRINT)
                    .build(),
            )
            .build()
    });
    let cloudtrail = mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, &[&keys]);
    let run = |configured: bool| {
        let (sns, published) = sns_capturing();
        let mut settings = settings_for(Some(TOPIC));
        if configured {
            settings.org_trail = Some(eks_access_watch::config::OrgTrail {
                bucket: bucket.clone(),
                queue_arn: None,
                prefix: "AWSLogs/o-abc123def4/".to_string(),
            });
        }
        let handler = Handler::new(
            settings,
            Clients {
                sns: Some(sns),
                s3: Some(s3.clone()),
                cloudtrail: Some(cloudtrail.clone()),
                ..Clients::default()
            },
        )
        .with_clock(|| chrono::NaiveDate::from_ymd_opt(2026, 11, 21).unwrap());
        async move {
            let result = handler.handle(&raw(&json!({"task": "verify-trail"}))).await;
            let published = published.lock().unwrap().clone();
            (result, published)
        }
    };
    let (result, published) = run(true).await;
    let response = result.unwrap();
    let said = response.task.clone().unwrap();
    assert!(
        said.contains("2026-11-20: 24 digests, 48 log files checked"),
        "{said}"
    );
    assert_eq!(response.findings, Vec::<String>::new());
    assert!(published.is_empty(), "{published:?}");

    // A log file rewritten: its hash no longer matches the digest's.
    s3.put_object()
        .bucket(&bucket)
        .key(log_key(7, 0))
        .body(gzip(b"{\"Records\": []}").into())
        .send()
        .await
        .unwrap();
    let (result, published) = run(true).await;
    let response = result.unwrap();
    assert_eq!(response.findings.len(), 1, "{response:?}");
    assert!(
        response.findings[0].starts_with("trail-log-altered critical"),
        "{:?}",
        response.findings
    );
    assert!(
        response.findings[0].contains(&log_key(7, 0)),
        "{:?}",
        response.findings
    );
    assert_eq!(published.len(), 1, "{published:?}");
    let message = json_message(&published[0]);
    let default: Value = serde_json::from_str(message["default"].as_str().unwrap()).unwrap();
    assert_eq!(default["rule"], "trail-log-altered", "{message}");
    assert_eq!(default["severity"], "critical", "{message}");
    assert!(
        published[0].subject().unwrap().starts_with("[CRITICAL]"),
        "{:?}",
        published[0].subject()
    );

    // Without the trail's bucket the task cannot prove anything: it fails, and says why.
    let (result, published) = run(false).await;
    let e = result.unwrap_err();
    assert_eq!(e.error_type(), "EksAccessWatch.VerifyTrailFailed");
    assert!(!e.retryable());
    assert!(e.to_string().contains("ORG_TRAIL_BUCKET"), "{e}");
    assert!(published.is_empty());
}

/// The bucket's region travels with the object (GetObject goes to that region): from an S3
/// notification's `awsRegion` and an EventBridge event's `region`.
#[test]
fn an_object_keeps_the_region_its_notification_names() {
    let config = sample_config();
    let key = log_key("", 1);
    let mut n = s3_notification("org-trail", &key);
    n["Records"][0]["awsRegion"] = json!("us-west-2");
    let mut eb = eventbridge_object_created("org-trail", &key);
    eb["region"] = json!("ap-southeast-2");
    for (payload, want) in [(n, "us-west-2"), (eb, "ap-southeast-2")] {
        let mut regions = Vec::new();
        ingest::scan_slice(
            "event",
            payload.to_string().as_bytes(),
            &Options::new(&config),
            &mut |o| {
                if let Outcome::Object { object, .. } = o {
                    regions.push(object.region)
                }
            },
        )
        .unwrap();
        assert_eq!(regions, [Some(want.to_string())]);
    }
}
