use std::io::Write;

use eks_access_watch::ingest::{self, InputError, Options, Outcome, Slot, Stats};

use crate::util::{events_dir, run_file, sample_config};

fn kinds(bytes: &[u8]) -> (Vec<&'static str>, Result<Stats, InputError>) {
    let mut out = Vec::new();
    let config = sample_config();
    let res = ingest::scan_slice("mem", bytes, &Options::new(&config), &mut |outcome| {
        out.push(match outcome {
            Outcome::Watched { .. } => "watched",
            Outcome::Skipped { .. } => "skipped",
            Outcome::Object { .. } => "object",
            Outcome::Invalid(_) => "invalid",
        })
    });
    (out, res)
}

#[test]
fn cloudtrail_log_file_gz_sample_yields_its_eks_alerts() {
    let r = run_file(
        &events_dir().join("cloudtrail-log-sample.json.gz"),
        &sample_config(),
    );
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(
        r.alerts.len(),
        2,
        "CreateAccessEntry and AssociateAccessPolicy; the rest is skipped"
    );
    assert_eq!(r.skipped.len(), 10);
}

#[test]
fn a_bad_record_in_a_log_file_does_not_stop_the_others() {
    let (items, res) = kinds(br#"{"Records":[{"eventSource":"eks.amazonaws.com","eventName":"DeleteCluster"}, 42, {"eventName":"B"}]}"#);
    res.unwrap();
    // The third record is no EKS/STS record: the splitter skips it without parsing.
    assert_eq!(items, vec!["watched", "invalid", "skipped"]);
}

#[test]
fn wrong_field_types_are_reported_with_position() {
    let mut problems = Vec::new();
    let input = br#"{"Records":[{"eventSource":"eks.amazonaws.com","eventName":7}]}"#;
    let config = sample_config();
    ingest::scan("trail.json", &input[..], &Options::new(&config), &mut |o| {
        if let Outcome::Invalid(e) = o {
            assert!(matches!(e, InputError::Record { .. }), "typed: {e:?}");
            problems.push(e.to_string())
        }
    })
    .unwrap();
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].starts_with("trail.json: Records[0]: not a usable CloudTrail record"),
        "{}",
        problems[0]
    );
}

#[test]
fn top_level_array_of_events_is_accepted() {
    let (items, res) = kinds(br#"[{"eventName":"A","eventSource":"x"},{"detail-type":"AWS API Call via CloudTrail","source":"aws.eks","detail":{"eventName":"DeleteCluster","eventSource":"eks.amazonaws.com"}}]"#);
    res.unwrap();
    assert_eq!(items, vec!["skipped", "watched"]);
}

#[test]
fn digest_files_are_skipped() {
    let (items, res) = kinds(br#"{"awsAccountId":"1","digestStartTime":"x","digestEndTime":"y"}"#);
    res.unwrap();
    assert_eq!(items, vec!["skipped"]);
}

#[test]
fn non_utf8_bytes_are_an_error_naming_the_input() {
    let (_, res) = kinds(b"{\"eventName\":\"\xff\xfe\"}");
    let err = res.unwrap_err().to_string();
    assert!(err.starts_with("mem: "), "{err}");
}

#[test]
fn deeply_nested_json_is_an_error_not_a_stack_overflow() {
    let mut input = String::from(
        r#"{"eventSource":"eks.amazonaws.com","eventName":"CreateAccessEntry","requestParameters":"#,
    );
    input.push_str(&"[".repeat(100_000));
    let (_, res) = kinds(input.as_bytes());
    assert!(res.is_err());
}

#[test]
fn streaming_a_large_records_file_keeps_one_record_at_a_time() {
    // 20,000 records through a reader: the sink sees them one by one, in order.
    let mut file = tempfile::NamedTempFile::new().unwrap();
    write!(file, "{{\"Records\":[").unwrap();
    for i in 0..20_000 {
        if i > 0 {
            write!(file, ",").unwrap();
        }
        write!(
            file,
            r#"{{"eventSource":"s3.amazonaws.com","eventName":"GetObject","eventID":"{i}"}}"#
        )
        .unwrap();
    }
    write!(file, "]}}").unwrap();
    let reader = ingest::open(file.path()).unwrap();
    let mut last: Option<usize> = None;
    let config = sample_config();
    let stats = ingest::scan("big", reader, &Options::new(&config), &mut |o| {
        let location = match o {
            Outcome::Watched { location, .. }
            | Outcome::Skipped { location, .. }
            | Outcome::Object { location, .. } => location,
            Outcome::Invalid(e) => panic!("{e}"),
        };
        let expected = last.map_or(0, |l| l + 1);
        assert_eq!(
            location.record,
            Some(Slot {
                array: "Records",
                index: expected
            })
        );
        last = Some(expected);
    })
    .unwrap();
    assert_eq!(last, Some(19_999));
    assert_eq!((stats.records, stats.skipped), (20_000, 20_000));
}

fn lone_surrogate_sample() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/AssociateAccessPolicy-lone-surrogate-user-agent.json")
}

/// A lone surrogate escape in the user agent makes the record unparseable as JSON strings go;
/// the byte search still finds a watched call, so it is alerted, and reported as a problem.
#[test]
fn an_unparseable_watched_record_is_still_alerted_and_reported() {
    let r = run_file(&lone_surrogate_sample(), &sample_config());
    assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
    assert!(
        r.problems[0].contains("not a usable CloudTrail record"),
        "{:?}",
        r.problems
    );
    assert_eq!(r.alerts.len(), 1);
    let a = &r.alerts[0];
    let rules = a.rule_ids();
    assert_eq!(rules[0], "unparseable-watched-event", "{rules:?}");
    assert_eq!(a.severity, eks_access_watch::Severity::High);
    assert_eq!(a.cluster.as_deref(), Some("prod-eu"), "read by byte search");
    assert_eq!(
        a.principal_arn.as_deref(),
        Some("arn:aws:iam::111122223333:role/payments-dev"),
        "decoded"
    );
    assert!(
        a.findings[0].summary.contains(
            "could not be parsed (not a usable CloudTrail record: unexpected end of hex escape"
        ),
        "{}",
        a.findings[0].summary
    );
    assert!(a.event_id.is_some());
}

#[test]
fn sqs_messages_and_failure_records_are_opened_for_redrive() {
    let inner = serde_json::json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.eks",
        "detail": {"eventSource": "eks.amazonaws.com", "eventName": "DeleteCluster"}});
    let failure = serde_json::json!({"version": "1.0", "timestamp": "2026-11-26T00:00:00Z",
        "requestContext": {"requestId": "r", "condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": inner, "responseContext": {"statusCode": 200},
        "responsePayload": {"errorType": "EksAccessWatch.PublishFailed"}});
    let sqs = |body: &serde_json::Value| {
        serde_json::json!({"Records": [{"messageId": "m1", "receiptHandle": "h", "body": body.to_string(),
            "attributes": {}, "messageAttributes": {}, "md5OfBody": "x", "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:eu-west-1:111122223333:redrive", "awsRegion": "eu-west-1"}]})
    };
    for (name, payload) in [
        ("failure record", failure.clone()),
        ("EventBridge DLQ message", sqs(&inner)),
        ("failure queue message", sqs(&failure)),
    ] {
        let (items, res) = kinds(payload.to_string().as_bytes());
        res.unwrap();
        assert_eq!(items, vec!["watched"], "{name}");
    }
}

/// A CloudWatch Logs subscription payload that failed (its failure record, or that record in an
/// SQS message) is read on redrive exactly as on its first delivery: the audit events inside
/// are opened, not rejected as an unknown shape.
#[test]
fn a_redriven_audit_log_subscription_payload_is_opened_again() {
    let payload: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(events_dir().join("k8s-rbac.subscription.json")).unwrap(),
    )
    .unwrap();
    let (first, res) = kinds(payload.to_string().as_bytes());
    res.unwrap();
    assert!(first.contains(&"watched"), "{first:?}");
    let failure = serde_json::json!({"version": "1.0", "timestamp": "2026-11-26T00:00:00Z",
        "requestContext": {"requestId": "r", "condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": payload, "responseContext": {"statusCode": 200},
        "responsePayload": {"errorType": "EksAccessWatch.PublishFailed"}});
    let sqs = serde_json::json!({"Records": [{"messageId": "m1", "receiptHandle": "h",
        "body": failure.to_string(), "attributes": {}, "messageAttributes": {}, "md5OfBody": "x",
        "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:eu-west-1:111122223333:redrive",
        "awsRegion": "eu-west-1"}]});
    for (name, value) in [("failure record", failure), ("failure queue message", sqs)] {
        let (items, res) = kinds(value.to_string().as_bytes());
        res.unwrap();
        assert_eq!(items, first, "{name}");
    }
}
