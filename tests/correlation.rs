//! Correlation: the engine's windows, keys and look-alikes case by case, the stores'
//! semantics (conditional writes, expiry, claims), `replay --state` across runs, and the
//! tuning file's `[correlation]` table.

use std::path::Path;

use eks_access_watch::config::CorrelationSettings;
use eks_access_watch::context::correlate::{self, View};
use eks_access_watch::context::state::{
    Commit, FileStore, MemoryStore, Store, Write, now_or_never,
};
use eks_access_watch::model::AccessEvent;
use eks_access_watch::tuning::Tuning;
use serde_json::{Value, json};

use crate::cli::{bin, stdout};
use crate::util::{HUMAN, TERRAFORM, assumed, correlated, normalise, record, sample_config};

const VENDOR: &str = "arn:aws:iam::444455556666:role/vendor-support";

fn at(mut r: Value, time: &str, id: u32) -> Value {
    r["eventTime"] = json!(time);
    r["eventID"] = json!(format!("00000000-0000-0000-0000-{id:012}"));
    r
}

/// A CreateAccessEntry record of `principal` on `cluster` by `by`, at `time`, event id `id`.
fn create_record(principal: &str, cluster: &str, by: Value, time: &str, id: u32) -> Value {
    at(
        record(
            "CreateAccessEntry",
            json!({"clusterName": cluster, "principalArn": principal, "type": "STANDARD"}),
            by,
        ),
        time,
        id,
    )
}

/// The DeleteAccessEntry record of the same.
fn delete_record(principal: &str, cluster: &str, by: Value, time: &str, id: u32) -> Value {
    at(
        record(
            "DeleteAccessEntry",
            json!({"name": cluster, "principalArn": principal}),
            by,
        ),
        time,
        id,
    )
}

fn create(principal: &str, cluster: &str, by: Value, time: &str, id: u32) -> AccessEvent {
    normalise(&create_record(principal, cluster, by, time, id))
}

fn delete(principal: &str, cluster: &str, by: Value, time: &str, id: u32) -> AccessEvent {
    normalise(&delete_record(principal, cluster, by, time, id))
}

fn associate(principal: &str, cluster: &str, by: Value, time: &str, id: u32) -> AccessEvent {
    normalise(&at(
        record(
            "AssociateAccessPolicy",
            json!({"name": cluster, "principalArn": principal,
                   "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
                   "accessScope": {"type": "cluster"}}),
            by,
        ),
        time,
        id,
    ))
}

fn human() -> Value {
    assumed(HUMAN, "jdoe")
}

fn terraform() -> Value {
    assumed(TERRAFORM, "run-1")
}

/// The rule ids each alert of a sequence carries, among the correlation rules.
fn correlation_rules(events: &[AccessEvent]) -> Vec<Vec<&'static str>> {
    correlated(events, &sample_config(), None)
        .into_iter()
        .map(|a| {
            a.findings
                .iter()
                .filter(|f| f.rule.topic == eks_access_watch::rules::Topic::Correlation)
                .map(|f| f.rule.id)
                .collect()
        })
        .collect()
}

#[test]
fn a_grant_removed_within_the_window_is_created_then_deleted_and_reverted() {
    let got = correlation_rules(&[
        create(VENDOR, "prod", human(), "2026-11-20T01:00:00Z", 1),
        delete(VENDOR, "prod", human(), "2026-11-20T01:59:00Z", 2),
    ]);
    assert_eq!(
        got,
        [
            vec![],
            vec!["access-entry-created-then-deleted", "grant-reverted"]
        ]
    );
}

#[test]
fn a_grant_removed_after_the_window_is_only_reverted() {
    let got = correlation_rules(&[
        create(VENDOR, "prod", human(), "2026-11-20T01:00:00Z", 1),
        delete(VENDOR, "prod", human(), "2026-11-20T02:01:00Z", 2),
    ]);
    assert_eq!(got, [vec![], vec!["grant-reverted"]]);
}

#[test]
fn a_delete_then_create_other_principals_and_other_clusters_are_not_created_then_deleted() {
    let got = correlation_rules(&[
        delete(VENDOR, "prod", human(), "2026-11-20T01:00:00Z", 1),
        create(VENDOR, "prod", human(), "2026-11-20T01:01:00Z", 2),
        create(HUMAN, "prod", human(), "2026-11-20T01:02:00Z", 3),
        delete(TERRAFORM, "prod", human(), "2026-11-20T01:03:00Z", 4),
        create(TERRAFORM, "staging", human(), "2026-11-20T01:04:00Z", 5),
        delete(TERRAFORM, "prod", human(), "2026-11-20T01:05:00Z", 6),
    ]);
    assert!(got.iter().all(Vec::is_empty), "{got:?}");
}

#[test]
fn created_then_deleted_by_approved_callers_is_medium_and_by_a_person_high() {
    let grade = |by: fn() -> Value| {
        let alerts = correlated(
            &[
                create(VENDOR, "prod", by(), "2026-11-20T01:00:00Z", 1),
                delete(VENDOR, "prod", by(), "2026-11-20T01:10:00Z", 2),
            ],
            &sample_config(),
            None,
        );
        alerts[1]
            .findings
            .iter()
            .find(|f| f.rule.id == "access-entry-created-then-deleted")
            .map(|f| f.severity)
    };
    assert_eq!(grade(terraform), Some(eks_access_watch::Severity::Medium));
    assert_eq!(grade(human), Some(eks_access_watch::Severity::High));
}

#[test]
fn a_revert_names_the_grant_it_resolves_and_both_carry_one_incident() {
    let alerts = correlated(
        &[
            create(VENDOR, "prod", human(), "2026-11-20T01:00:00Z", 1),
            delete(VENDOR, "prod", human(), "2026-11-20T01:10:00Z", 2),
        ],
        &sample_config(),
        None,
    );
    assert_eq!(alerts[0].incident, None, "nothing was known at the grant");
    assert_eq!(
        alerts[1].resolves.as_deref(),
        Some("00000000-0000-0000-0000-000000000001")
    );
    let incident = alerts[1].incident.as_ref().unwrap();
    let ids: Vec<_> = incident.events.iter().map(|e| e.event_id.clone()).collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(
        ids[0].as_deref(),
        Some("00000000-0000-0000-0000-000000000001")
    );
}

#[test]
fn fan_out_fires_on_the_third_distinct_cluster_within_the_hour_and_not_later() {
    let got = correlation_rules(&[
        associate(VENDOR, "a", human(), "2026-11-20T01:00:00Z", 1),
        associate(VENDOR, "a", human(), "2026-11-20T01:05:00Z", 2),
        associate(VENDOR, "b", human(), "2026-11-20T01:10:00Z", 3),
        associate(VENDOR, "c", human(), "2026-11-20T01:50:00Z", 4),
        associate(VENDOR, "d", human(), "2026-11-20T03:00:00Z", 5),
    ]);
    let fired: Vec<bool> = got
        .iter()
        .map(|r| r.contains(&"principal-granted-on-many-clusters"))
        .collect();
    assert_eq!(fired, [false, false, false, true, false]);
}

#[test]
fn a_fan_out_keeps_one_incident_for_its_later_grants() {
    let alerts = correlated(
        &[
            associate(VENDOR, "a", human(), "2026-11-20T01:00:00Z", 1),
            associate(VENDOR, "b", human(), "2026-11-20T01:01:00Z", 2),
            associate(VENDOR, "c", human(), "2026-11-20T01:02:00Z", 3),
            associate(VENDOR, "d", human(), "2026-11-20T01:03:00Z", 4),
        ],
        &sample_config(),
        None,
    );
    let ids: Vec<_> = alerts
        .iter()
        .map(|a| a.incident.as_ref().map(|i| i.id.clone()))
        .collect();
    assert_eq!(ids[0], None);
    assert!(ids[2].is_some());
    assert_eq!(ids[2], ids[3]);
}

#[test]
fn the_same_events_in_any_input_order_correlate_the_same() {
    let events = [
        create(VENDOR, "prod", human(), "2026-11-20T01:00:00Z", 1),
        delete(VENDOR, "prod", human(), "2026-11-20T01:10:00Z", 2),
    ];
    let forward = correlated(&events, &sample_config(), None);
    let mut reversed = events.to_vec();
    reversed.reverse();
    let mut backward = correlated(&reversed, &sample_config(), None);
    backward.reverse();
    assert_eq!(forward, backward);
}

#[test]
fn incident_ids_are_stable_and_differ_by_opening_event() {
    let e = correlate::event_ref(&create(VENDOR, "prod", human(), "2026-11-20T01:00:00Z", 1));
    let a = correlate::incident_id("grant", "k", &e);
    assert_eq!(a, correlate::incident_id("grant", "k", &e));
    assert!(a.starts_with("eaw-") && a.len() == 20, "{a}");
    let other = correlate::event_ref(&create(VENDOR, "prod", human(), "2026-11-20T01:00:00Z", 2));
    assert_ne!(a, correlate::incident_id("grant", "k", &other));
}

#[test]
fn settings_change_the_windows_and_thresholds() {
    let config = sample_config();
    let strict = CorrelationSettings {
        many_clusters: 2,
        ..CorrelationSettings::default()
    };
    let store = MemoryStore::new();
    let a = associate(VENDOR, "a", human(), "2026-11-20T01:00:00Z", 1);
    let b = associate(VENDOR, "b", human(), "2026-11-20T01:01:00Z", 2);
    assert!(
        correlate::observe_in(&store, &a, &config, &strict)
            .many_clusters
            .is_none()
    );
    assert!(
        correlate::observe_in(&store, &b, &config, &strict)
            .many_clusters
            .is_some()
    );
}

#[test]
fn the_memory_store_refuses_a_stale_version_and_forgets_expired_records() {
    let store = MemoryStore::new();
    let write = |v: Option<u64>, json: &str, expires_at: i64| Commit {
        writes: vec![Write {
            key: "k".into(),
            json: json.into(),
            expires_at,
            expected_version: v,
        }],
        ..Commit::default()
    };
    let ok = now_or_never(store.commit(&write(None, "{}", 100)))
        .unwrap()
        .unwrap();
    assert!(ok.conflicts.is_empty());
    let stale = now_or_never(store.commit(&write(None, "{}", 100)))
        .unwrap()
        .unwrap();
    assert_eq!(stale.conflicts, ["k"], "the key exists now");
    let next = now_or_never(store.commit(&write(Some(1), "{\"expires_at\":100}", 100)))
        .unwrap()
        .unwrap();
    assert!(next.conflicts.is_empty());
    let keys = vec!["k".to_string()];
    let read = now_or_never(store.read(&keys, 50)).unwrap().unwrap();
    assert_eq!(read["k"].version, 2);
    let gone = now_or_never(store.read(&keys, 100)).unwrap().unwrap();
    assert!(gone.is_empty(), "expired at 100");
}

fn claims_behave(store: &dyn Store) {
    let ids = vec!["delivered#a".to_string(), "delivered#b".to_string()];
    assert!(
        now_or_never(store.claim(&ids, 0, 10))
            .unwrap()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        now_or_never(store.claim(&ids[..1], 5, 15))
            .unwrap()
            .unwrap(),
        ["delivered#a"],
        "a live claim is not taken twice"
    );
    let settle = Commit {
        delivered: vec!["delivered#a".into()],
        failed: vec!["delivered#b".into()],
        keep_until: 1000,
        ..Commit::default()
    };
    now_or_never(store.commit(&settle)).unwrap().unwrap();
    assert_eq!(
        now_or_never(store.claim(&ids, 500, 600)).unwrap().unwrap(),
        ["delivered#a"],
        "a delivered event stays delivered; a failed one may be claimed again"
    );
    assert!(
        now_or_never(store.claim(&ids[..1], 2000, 2100))
            .unwrap()
            .unwrap()
            .is_empty(),
        "a mark kept until 1000 is gone at 2000"
    );
}

#[test]
fn the_memory_and_file_stores_claim_each_event_once() {
    claims_behave(&MemoryStore::new());
    let dir = tempfile::tempdir().unwrap();
    claims_behave(&FileStore::open(&dir.path().join("state.redb")).unwrap());
}

#[test]
fn the_file_store_keeps_state_across_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    let config = sample_config();
    let settings = CorrelationSettings::default();
    {
        let store = FileStore::open(&path).unwrap();
        let c = create(VENDOR, "prod", human(), "2026-11-20T01:00:00Z", 1);
        correlate::observe_in(&store, &c, &config, &settings);
    }
    let store = FileStore::open(&path).unwrap();
    let d = delete(VENDOR, "prod", human(), "2026-11-20T01:10:00Z", 2);
    let got = correlate::observe_in(&store, &d, &config, &settings);
    assert!(got.created_then_deleted.is_some(), "{got:?}");
}

#[test]
fn a_state_file_that_cannot_be_opened_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_db = dir.path().join("state.redb");
    std::fs::write(&not_a_db, "this is not a database").unwrap();
    let err = FileStore::open(&not_a_db).err().unwrap();
    assert!(err.0.contains("state.redb"), "{err}");
}

#[test]
fn a_view_writes_only_what_observing_changed_with_the_version_read() {
    let mut view = View::default();
    let config = sample_config();
    correlate::observe(
        &create(VENDOR, "prod", human(), "2026-11-20T01:00:00Z", 1),
        &config,
        &CorrelationSettings::default(),
        &mut view,
    );
    let writes = view.writes();
    assert!(!writes.is_empty());
    assert!(writes.iter().all(|w| w.expected_version.is_none()));
    assert!(
        writes
            .iter()
            .all(|w| w.key.starts_with("grant#") || w.key.starts_with("principal#"))
    );
    view.written(&[]);
    assert!(view.writes().is_empty());
}

fn write_file(dir: &Path, name: &str, records: &[Value]) -> std::path::PathBuf {
    let path = dir.join(name);
    let text: Vec<String> = records.iter().map(|r| r.to_string()).collect();
    std::fs::write(&path, text.join("\n")).unwrap();
    path
}

#[test]
fn replay_with_a_state_file_correlates_yesterdays_run_with_todays() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.redb");
    let yesterday = write_file(
        dir.path(),
        "yesterday.ndjson",
        &[create_record(
            VENDOR,
            "prod",
            human(),
            "2026-11-20T23:55:00Z",
            1,
        )],
    );
    let today = write_file(
        dir.path(),
        "today.ndjson",
        &[delete_record(
            VENDOR,
            "prod",
            human(),
            "2026-11-21T00:05:00Z",
            2,
        )],
    );
    let run = |input: &Path, with_state: bool| {
        let mut c = bin();
        c.args(["replay", "--format", "ndjson"]);
        if with_state {
            c.arg("--state").arg(&state);
        }
        c.arg(input);
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        stdout(&o)
    };
    run(&yesterday, true);
    let correlated = run(&today, true);
    assert!(
        correlated.contains("access-entry-created-then-deleted"),
        "{correlated}"
    );
    assert!(
        !run(&today, false).contains("access-entry-created-then-deleted"),
        "without the state file today's run knows nothing of yesterday's"
    );
}

#[test]
fn replay_reads_in_parallel_without_changing_what_correlates() {
    let dir = crate::util::events_dir().join("sequences");
    let run = |jobs: &str| {
        let o = bin()
            .args(["replay", "--format", "ndjson", "--jobs", jobs])
            .arg(&dir)
            .output()
            .unwrap();
        stdout(&o)
    };
    let one = run("1");
    assert!(one.contains("break-glass-session-activity"), "{one}");
    assert_eq!(one, run("2"));
}

#[test]
fn the_tuning_file_sets_the_correlation_windows_and_names_bad_values() {
    let t = Tuning::parse(
        "[correlation]\nmany_clusters = 2\ndenied_minutes = 30\n",
        "t.toml",
    )
    .unwrap();
    let c = t.correlation.unwrap();
    assert_eq!(c.many_clusters, 2);
    assert_eq!(c.denied_window.as_secs(), 30 * 60);
    assert_eq!(c.denied_attempts, 5, "what is not set keeps its default");
    let err = Tuning::parse(
        "[correlation]\nmany_clusters = 1\ndenied_minutes = 9999\nwindow = 3\n",
        "t.toml",
    )
    .unwrap_err()
    .to_string();
    for part in [
        "t.toml line 2: correlation.many_clusters: expected a count from 2 to 1000, found 1",
        "line 3: correlation.denied_minutes: expected minutes from 1 to 720",
        "line 4",
        "created_then_deleted_minutes",
    ] {
        assert!(err.contains(part), "{part} in {err}");
    }
}

/// The Lambda with an in-memory state store and a capturing SNS client.
fn handler() -> (
    eks_access_watch::lambda::Handler,
    std::sync::Arc<std::sync::Mutex<Vec<aws_sdk_sns::operation::publish::PublishInput>>>,
) {
    let (sns, published) = crate::aws::sns_capturing();
    let mut clients = crate::aws::clients(None, Some(sns), None);
    clients.state = Some(std::sync::Arc::new(MemoryStore::new()));
    let settings =
        crate::aws::settings_for(Some("arn:aws:sns:eu-west-1:111122223333:eks-access-alerts"));
    (
        eks_access_watch::lambda::Handler::new(settings, clients),
        published,
    )
}

fn eventbridge(detail: Value) -> Box<serde_json::value::RawValue> {
    crate::aws::raw(&json!({
        "version": "0", "id": "e1", "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.eks", "account": "111122223333", "time": detail["eventTime"],
        "region": "eu-west-1", "resources": [], "detail": detail
    }))
}

#[tokio::test]
async fn an_event_delivered_once_is_not_delivered_again_on_a_retry() {
    let (handler, published) = handler();
    let payload = eventbridge(create_record(
        VENDOR,
        "prod",
        human(),
        "2026-11-20T01:00:00Z",
        1,
    ));
    let first = handler.handle(&payload).await.unwrap();
    assert_eq!(first.alerts.len(), 1);
    let again = handler.handle(&payload).await.unwrap();
    assert!(again.alerts.is_empty(), "{again:?}");
    assert!(
        again
            .skipped
            .iter()
            .any(|s| s.contains("already delivered")),
        "{:?}",
        again.skipped
    );
    assert_eq!(published.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn the_lambda_correlates_across_invocations_and_marks_the_incident() {
    let (handler, published) = handler();
    let create = eventbridge(create_record(
        VENDOR,
        "prod",
        human(),
        "2026-11-20T01:00:00Z",
        1,
    ));
    let delete = eventbridge(delete_record(
        VENDOR,
        "prod",
        human(),
        "2026-11-20T01:10:00Z",
        2,
    ));
    handler.handle(&create).await.unwrap();
    let second = handler.handle(&delete).await.unwrap();
    assert!(
        second.alerts[0]
            .rules
            .contains(&"access-entry-created-then-deleted"),
        "{second:?}"
    );
    let messages = published.lock().unwrap();
    let last = &messages[1];
    let incident = last
        .message_attributes()
        .and_then(|a| a.get("incident"))
        .and_then(|v| v.string_value())
        .unwrap();
    assert!(incident.starts_with("eaw-"), "{incident}");
}

#[tokio::test]
async fn a_publish_that_fails_releases_its_claim_so_a_retry_delivers() {
    let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(MemoryStore::new());
    let settings =
        || crate::aws::settings_for(Some("arn:aws:sns:eu-west-1:111122223333:eks-access-alerts"));
    let payload = eventbridge(create_record(
        VENDOR,
        "prod",
        human(),
        "2026-11-20T01:00:00Z",
        1,
    ));
    // SNS answers 500 to every attempt: the invocation fails, retryable.
    let failing = crate::aws::sns_error(500, "InternalError");
    let mut clients = crate::aws::clients(None, Some(crate::aws::sns_with(&failing)), None);
    clients.state = Some(store.clone());
    let err = eks_access_watch::lambda::Handler::new(settings(), clients)
        .handle(&payload)
        .await
        .unwrap_err();
    assert!(err.retryable(), "{err}");
    // Lambda's retry, with SNS back: delivered, not skipped as already claimed.
    let (sns, published) = crate::aws::sns_capturing();
    let mut clients = crate::aws::clients(None, Some(sns), None);
    clients.state = Some(store);
    let retry = eks_access_watch::lambda::Handler::new(settings(), clients)
        .handle(&payload)
        .await
        .unwrap();
    assert_eq!(retry.alerts.len(), 1, "{retry:?}");
    assert_eq!(published.lock().unwrap().len(), 1);
}

#[test]
fn a_record_expired_before_its_ttl_deletes_it_is_overwritten_like_an_absent_one() {
    let store = MemoryStore::new();
    let put = |now, expected| Commit {
        now,
        writes: vec![Write {
            key: "grant#k".into(),
            json: "{}".into(),
            expires_at: now + 100,
            expected_version: expected,
        }],
        ..Commit::default()
    };
    assert!(
        now_or_never(store.commit(&put(0, None)))
            .unwrap()
            .unwrap()
            .conflicts
            .is_empty()
    );
    // Read at 500: the record (expired at 100) is absent, so the next write expects none.
    let keys = vec!["grant#k".to_string()];
    assert!(
        now_or_never(store.read(&keys, 500))
            .unwrap()
            .unwrap()
            .is_empty()
    );
    let w = now_or_never(store.commit(&put(500, None)))
        .unwrap()
        .unwrap();
    assert!(w.conflicts.is_empty(), "{w:?}");
}

#[tokio::test]
async fn the_same_event_twice_in_one_payload_alerts_once() {
    let (handler, published) = handler();
    let record = create_record(VENDOR, "prod", human(), "2026-11-20T01:00:00Z", 1);
    let payload = crate::aws::raw(&json!({"Records": [record.clone(), record]}));
    let response = handler.handle(&payload).await.unwrap();
    assert_eq!(response.alerts.len(), 1, "{response:?}");
    assert_eq!(published.lock().unwrap().len(), 1);
}
