//! The DynamoDB state store: its semantics against moto's DynamoDB on loopback (a table per
//! test, with the key schema and TTL attribute the template's `StateTable` has), the SDK's
//! retries and errors with `aws-smithy-mocks`, and the Lambda's claim -> read -> deliver ->
//! commit path end to end, with the number of DynamoDB calls each invocation makes.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::types::error::TransactionCanceledException;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, CancellationReason, KeySchemaElement,
    KeyType, KeysAndAttributes, ScalarAttributeType, TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::retry::RetryConfig;
use eks_access_watch::Severity;
use eks_access_watch::aws::dynamodb::{DynamoStore, EXPIRES_AT, KEY, VALUE, VERSION};
use eks_access_watch::context::state::{Commit, Key, Store, Write};
use eks_access_watch::lambda::Handler;
use serde_json::{Value, json};

use crate::aws::{clients, error_response, json_message, raw, settings_for, sns_capturing};
use crate::moto;

const REGION: &str = "eu-west-1";
const TOPIC: &str = "arn:aws:sns:eu-west-1:111122223333:eks-access-alerts";

// ---- moto: a table per test, and the requests each client sends ----

/// The DynamoDB requests a client sent (each HTTP request, the SDK's retries included), by
/// operation (`x-amz-target`, `DynamoDB_20120810.<Operation>`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Calls(Arc<Mutex<BTreeMap<String, usize>>>);

impl Calls {
    /// The counts since the last call, and start again.
    pub(crate) fn take(&self) -> BTreeMap<String, usize> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "count DynamoDB requests"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or_default();
        let operation = target.rsplit('.').next().unwrap_or(target).to_string();
        *self.0.lock().unwrap().entry(operation).or_default() += 1;
        Ok(())
    }
}

pub(crate) fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// A moto DynamoDB client whose requests `calls` counts.
fn moto_client(calls: &Calls) -> Client {
    Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&moto::sdk_config(REGION))
            .interceptor(calls.clone())
            .build(),
    )
}

/// A new table like the template's StateTable: partition key `pk` (S), on-demand, TTL on
/// `expires_at`.
async fn new_table(client: &Client) -> String {
    let name = moto::unique("eks-access-watch-state");
    client
        .create_table()
        .table_name(&name)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(KEY)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(KEY)
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    client
        .update_time_to_live()
        .table_name(&name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(EXPIRES_AT)
                .enabled(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    name
}

/// A store on a new moto table, the client behind it and its request counts (the table's
/// creation not counted).
pub(crate) async fn moto_store() -> (DynamoStore, Client, Calls) {
    let calls = Calls::default();
    let client = moto_client(&calls);
    let table = new_table(&client).await;
    calls.take();
    (DynamoStore::new(client.clone(), table), client, calls)
}

/// Every item of the table, by key, as DynamoDB holds it.
pub(crate) async fn items(
    client: &Client,
    table: &str,
) -> BTreeMap<String, HashMap<String, AttributeValue>> {
    let out = client.scan().table_name(table).send().await.unwrap();
    out.items()
        .iter()
        .map(|i| (i[KEY].as_s().unwrap().clone(), i.clone()))
        .collect()
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> i64 {
    item[name].as_n().unwrap().parse().unwrap()
}

fn write(key: &str, json: &str, expires_at: i64, expected_version: Option<u64>) -> Write {
    Write {
        key: key.into(),
        json: json.into(),
        expires_at,
        expected_version,
    }
}

fn writes(writes: Vec<Write>) -> Commit {
    Commit {
        writes,
        ..Commit::default()
    }
}

fn keys(names: &[&str]) -> Vec<String> {
    names.iter().map(|k| k.to_string()).collect()
}

/// Far enough ahead that the wall clock never reaches it in a test.
const LATER: i64 = 4_000_000_000;

// ---- reads and conditional writes ----

#[tokio::test]
async fn a_read_returns_live_records_and_leaves_out_missing_and_expired_ones() {
    let (store, _, calls) = moto_store().await;
    let written = store
        .commit(&writes(vec![
            write("session#LIVE", r#"{"expires_at":2000}"#, 2000, None),
            write("session#EXPIRED", r#"{"expires_at":1000}"#, 1000, None),
        ]))
        .await
        .unwrap();
    assert!(written.conflicts.is_empty(), "{written:?}");
    let got = store
        .read(
            &keys(&["session#LIVE", "session#EXPIRED", "session#MISSING"]),
            1500,
        )
        .await
        .unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    let live = &got["session#LIVE"];
    assert_eq!(
        (live.json.as_str(), live.version, live.expires_at),
        (r#"{"expires_at":2000}"#, 1, 2000)
    );
    // Expiry is judged at the `now` asked about (events are read at their own time), not by
    // the wall clock: TTL deletes late, and replayed events are older than the clock.
    let earlier = store.read(&keys(&["session#EXPIRED"]), 999).await.unwrap();
    assert_eq!(earlier["session#EXPIRED"].version, 1);
    assert_eq!(
        calls.take(),
        counts(&[("BatchGetItem", 2), ("TransactWriteItems", 1)])
    );
}

#[tokio::test]
async fn a_stale_version_is_a_conflict_and_is_not_written_while_the_rest_is() {
    let (store, client, calls) = moto_store().await;
    store
        .commit(&writes(vec![write("grant#a", "first", LATER, None)]))
        .await
        .unwrap();
    let second = store
        .commit(&writes(vec![write("grant#a", "second", LATER, Some(1))]))
        .await
        .unwrap();
    assert!(second.conflicts.is_empty());
    calls.take();
    // Another invocation read version 1 too and writes after us, together with a fresh key
    // and a delivered mark.
    let stale = Commit {
        now: 0,
        writes: vec![
            write("grant#a", "stale", LATER, Some(1)),
            write("grant#b", "fresh", LATER, None),
        ],
        delivered: keys(&["delivered#e1"]),
        failed: Vec::new(),
        keep_until: LATER,
    };
    let written = store.commit(&stale).await.unwrap();
    assert_eq!(written.conflicts, ["grant#a"]);
    let got = store.read(&keys(&["grant#a", "grant#b"]), 0).await.unwrap();
    assert_eq!(
        (got["grant#a"].json.as_str(), got["grant#a"].version),
        ("second", 2)
    );
    assert_eq!(
        (got["grant#b"].json.as_str(), got["grant#b"].version),
        ("fresh", 1)
    );
    // The cancelled transaction, then the rest without the conflict.
    assert_eq!(
        calls.take(),
        counts(&[("BatchGetItem", 1), ("TransactWriteItems", 2)])
    );
    let all = items(&client, store.table()).await;
    assert_eq!(all["delivered#e1"][VALUE].as_s().unwrap(), "delivered");
}

#[tokio::test]
async fn a_key_read_as_absent_is_written_fresh_unless_a_live_record_appeared() {
    let (store, _, _) = moto_store().await;
    let first = store
        .commit(&writes(vec![write("principal#p", "mine", LATER, None)]))
        .await
        .unwrap();
    assert!(first.conflicts.is_empty());
    // Another invocation also read it as absent: the live record wins.
    let other = store
        .commit(&writes(vec![write("principal#p", "theirs", LATER, None)]))
        .await
        .unwrap();
    assert_eq!(other.conflicts, ["principal#p"]);
    // An expired record TTL has not deleted yet reads as absent and is overwritten; its
    // version goes on from the old one, so a writer that read the old one still conflicts.
    store
        .commit(&writes(vec![write("actor#x", "old", 1000, None)]))
        .await
        .unwrap();
    assert!(
        store
            .read(&keys(&["actor#x"]), 2000)
            .await
            .unwrap()
            .is_empty()
    );
    let renewed = store
        .commit(&writes(vec![write("actor#x", "new", LATER, None)]))
        .await
        .unwrap();
    assert!(renewed.conflicts.is_empty());
    let got = store.read(&keys(&["actor#x"]), 2000).await.unwrap();
    assert_eq!(
        (got["actor#x"].json.as_str(), got["actor#x"].version),
        ("new", 2)
    );
    let late = store
        .commit(&writes(vec![write("actor#x", "late", LATER, Some(1))]))
        .await
        .unwrap();
    assert_eq!(late.conflicts, ["actor#x"]);
}

// ---- claims and delivered marks ----

#[tokio::test]
async fn a_second_claim_of_the_same_id_is_reported_already_claimed() {
    let (store, _, calls) = moto_store().await;
    let ids = keys(&["delivered#1", "delivered#2"]);
    assert!(store.claim(&ids, 100, 1000).await.unwrap().is_empty());
    assert_eq!(calls.take(), counts(&[("TransactWriteItems", 1)]));
    let again = keys(&["delivered#2", "delivered#3", "delivered#3"]);
    assert_eq!(
        store.claim(&again, 200, 1000).await.unwrap(),
        ["delivered#2"]
    );
    // Cancelled for #2, then #3 alone (given twice, claimed once).
    assert_eq!(calls.take(), counts(&[("TransactWriteItems", 2)]));
    assert_eq!(
        store
            .claim(&keys(&["delivered#3"]), 300, 1000)
            .await
            .unwrap(),
        ["delivered#3"]
    );
}

#[tokio::test]
async fn a_lapsed_claim_can_be_taken_again() {
    let (store, client, _) = moto_store().await;
    let id = keys(&["delivered#crashed"]);
    assert!(store.claim(&id, 100, 200).await.unwrap().is_empty());
    assert_eq!(store.claim(&id, 199, 300).await.unwrap(), id, "still held");
    // A lease ending at `now` is over (as in the in-memory store).
    assert!(store.claim(&id, 200, 500).await.unwrap().is_empty());
    let item = &items(&client, store.table()).await["delivered#crashed"];
    assert_eq!(item[VALUE].as_s().unwrap(), "claimed");
    assert_eq!(number(item, EXPIRES_AT), 500);
}

#[tokio::test]
async fn a_released_claim_can_be_claimed_again_and_a_delivered_one_cannot() {
    let (store, client, _) = moto_store().await;
    let ids = keys(&["delivered#sent", "delivered#failed"]);
    assert!(store.claim(&ids, 100, 1000).await.unwrap().is_empty());
    let batch = Commit {
        now: 0,
        writes: Vec::new(),
        delivered: keys(&["delivered#sent"]),
        failed: keys(&["delivered#failed"]),
        keep_until: 5000,
    };
    assert!(store.commit(&batch).await.unwrap().conflicts.is_empty());
    let all = items(&client, store.table()).await;
    assert!(!all.contains_key("delivered#failed"), "released: {all:?}");
    assert_eq!(number(&all["delivered#sent"], EXPIRES_AT), 5000);
    // Long after the claim's lease, the delivered mark still holds; the released id is free.
    assert_eq!(
        store.claim(&ids, 2000, 3000).await.unwrap(),
        ["delivered#sent"]
    );
    assert_eq!(
        store.claim(&ids, 2500, 3000).await.unwrap(),
        ids,
        "both held now"
    );
    // A delivered mark lapses at keep_until.
    assert!(
        store
            .claim(&keys(&["delivered#sent"]), 5000, 6000)
            .await
            .unwrap()
            .is_empty()
    );
}

// ---- more than one call's worth ----

#[tokio::test]
async fn more_than_100_keys_are_read_and_more_than_100_ids_claimed_in_chunks() {
    let (store, _, calls) = moto_store().await;
    let names: Vec<String> = (0..250).map(|i| format!("grant#{i:03}")).collect();
    let batch = writes(
        names
            .iter()
            .map(|k| write(k, &format!(r#"{{"k":"{k}"}}"#), LATER, None))
            .collect(),
    );
    assert!(store.commit(&batch).await.unwrap().conflicts.is_empty());
    assert_eq!(calls.take(), counts(&[("TransactWriteItems", 3)]));
    let mut asked = names.clone();
    asked.extend((0..10).map(|i| format!("grant#missing-{i}")));
    let got = store.read(&asked, 0).await.unwrap();
    assert_eq!(got.len(), 250);
    assert!(
        names
            .iter()
            .all(|k| got[k].json == format!(r#"{{"k":"{k}"}}"#))
    );
    assert_eq!(calls.take(), counts(&[("BatchGetItem", 3)]));

    let ids: Vec<String> = (0..230).map(|i| Key::delivered(&format!("e{i}"))).collect();
    assert!(store.claim(&ids, 100, 1000).await.unwrap().is_empty());
    assert_eq!(calls.take(), counts(&[("TransactWriteItems", 3)]));
    // 230 held and 20 new: every chunk is cancelled once, then the new ones are written.
    let mut more = ids.clone();
    more.extend((230..250).map(|i| Key::delivered(&format!("e{i}"))));
    let mut held = store.claim(&more, 200, 1000).await.unwrap();
    held.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(held, expected);
    assert_eq!(calls.take(), counts(&[("TransactWriteItems", 4)]));
}

#[tokio::test]
async fn every_item_carries_the_ttl_attribute() {
    let (store, client, _) = moto_store().await;
    let ttl = client
        .describe_time_to_live()
        .table_name(store.table())
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.attribute_name(), Some(EXPIRES_AT));
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
    store
        .claim(
            &keys(&["delivered#a", "delivered#b", "delivered#c"]),
            100,
            1000,
        )
        .await
        .unwrap();
    let batch = Commit {
        now: 0,
        writes: vec![
            write("session#k", "{}", 3000, None),
            write("grant#g", "{}", 4000, None),
        ],
        delivered: keys(&["delivered#a"]),
        failed: keys(&["delivered#b"]),
        keep_until: 5000,
    };
    store.commit(&batch).await.unwrap();
    let all = items(&client, store.table()).await;
    let expiry: BTreeMap<&str, i64> = all
        .iter()
        .map(|(k, item)| (k.as_str(), number(item, EXPIRES_AT)))
        .collect();
    assert_eq!(
        expiry,
        BTreeMap::from([
            ("delivered#a", 5000),
            ("delivered#c", 1000),
            ("grant#g", 4000),
            ("session#k", 3000),
        ])
    );
    for (key, item) in &all {
        let records = key.starts_with("session#") || key.starts_with("grant#");
        assert_eq!(item.contains_key(VERSION), records, "{key}: {item:?}");
    }
}

// ---- the SDK's retries and errors, with mocks ----

fn mocked(rules: &[&aws_smithy_mocks::Rule]) -> DynamoStore {
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, rules, |b| b
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1))
        ));
    DynamoStore::new(client, "state")
}

fn record_item(key: &str, version: u64) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (KEY.to_string(), AttributeValue::S(key.into())),
        (VALUE.to_string(), AttributeValue::S("{}".into())),
        (VERSION.to_string(), AttributeValue::N(version.to_string())),
        (EXPIRES_AT.to_string(), AttributeValue::N(LATER.to_string())),
    ])
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk_then_succeeds() {
    let rule = mock!(Client::batch_get_item)
        .sequence()
        .http_response(|| error_response(400, "ThrottlingException", "Rate exceeded"))
        .output(|| {
            BatchGetItemOutput::builder()
                .responses("state", vec![record_item("session#k", 3)])
                .build()
        })
        .build();
    let store = mocked(&[&rule]);
    let got = store.read(&keys(&["session#k"]), 0).await.unwrap();
    assert_eq!(got["session#k"].version, 3);
    assert_eq!(rule.num_calls(), 2, "the SDK retried");
}

#[tokio::test]
async fn unprocessed_keys_are_asked_for_again() {
    let rule = mock!(Client::batch_get_item)
        .sequence()
        .output(|| {
            let rest = KeysAndAttributes::builder()
                .keys(HashMap::from([(
                    KEY.to_string(),
                    AttributeValue::S("grant#b".into()),
                )]))
                .build()
                .unwrap();
            BatchGetItemOutput::builder()
                .responses("state", vec![record_item("grant#a", 1)])
                .unprocessed_keys("state", rest)
                .build()
        })
        .output(|| {
            BatchGetItemOutput::builder()
                .responses("state", vec![record_item("grant#b", 2)])
                .build()
        })
        .build();
    let store = mocked(&[&rule]);
    let got = store.read(&keys(&["grant#a", "grant#b"]), 0).await.unwrap();
    assert_eq!((got["grant#a"].version, got["grant#b"].version), (1, 2));
    assert_eq!(rule.num_calls(), 2);
}

#[tokio::test]
async fn a_transaction_conflict_is_waited_out_and_sent_again() {
    let rule = mock!(Client::transact_write_items)
        .sequence()
        .error(|| {
            TransactWriteItemsError::TransactionCanceledException(
                TransactionCanceledException::builder()
                    .message("Transaction cancelled")
                    .cancellation_reasons(CancellationReason::builder().code("None").build())
                    .cancellation_reasons(
                        CancellationReason::builder()
                            .code("TransactionConflict")
                            .build(),
                    )
                    .build(),
            )
        })
        .output(|| TransactWriteItemsOutput::builder().build())
        .build();
    let store = mocked(&[&rule]);
    let held = store
        .claim(&keys(&["delivered#a", "delivered#b"]), 100, 1000)
        .await
        .unwrap();
    assert!(held.is_empty(), "{held:?}");
    assert_eq!(rule.num_calls(), 2);
}

#[tokio::test]
async fn access_denied_becomes_a_store_error_naming_the_operation_and_the_code() {
    let denied = || {
        error_response(
            400,
            "AccessDeniedException",
            "User is not authorized to perform: dynamodb:PutItem",
        )
    };
    let claim = mock!(Client::transact_write_items).then_http_response(denied);
    let read = mock!(Client::batch_get_item).then_http_response(denied);
    let store = mocked(&[&claim, &read]);
    let e = store
        .claim(&keys(&["delivered#a"]), 100, 1000)
        .await
        .unwrap_err();
    assert_eq!(
        e.0,
        "DynamoDB table state: TransactWriteItems: AccessDeniedException: User is not authorized to perform: dynamodb:PutItem"
    );
    assert_eq!(claim.num_calls(), 1, "a refusal is not retried");
    let e = store.read(&keys(&["session#k"]), 0).await.unwrap_err();
    assert!(
        e.0.starts_with("DynamoDB table state: BatchGetItem: AccessDeniedException"),
        "{e}"
    );
    let e = store
        .commit(&writes(vec![write("grant#g", "{}", LATER, None)]))
        .await;
    assert!(
        e.unwrap_err()
            .0
            .contains("TransactWriteItems: AccessDeniedException"),
        "commit"
    );
}

// ---- the Lambda, end to end, on moto ----

const SESSION_KEY: &str = "ASIA2XF2R5R7X4QVCDK6";
const SESSION_ARN: &str =
    "arn:aws:sts::111122223333:assumed-role/eks-break-glass/jdoe-incident-4411";

fn sample(name: &str) -> Value {
    let path = crate::util::events_dir().join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The break-glass AssumeRole of the sample, which issued `SESSION_KEY`.
fn assume_role() -> Value {
    let event = sample("AssumeRole-break-glass.json");
    assert_eq!(
        event["detail"]["responseElements"]["credentials"]["accessKeyId"],
        SESSION_KEY
    );
    event
}

/// A cluster-admin association made with the break-glass session's credentials, `minutes`
/// after the AssumeRole.
fn associate_with_session(event_id: &str, principal: &str, minutes: u32) -> Value {
    let mut event = sample("AssociateAccessPolicy-cluster-admin-by-human.json");
    let time = format!("2026-11-26T03:{:02}:40Z", 11 + minutes);
    let detail = &mut event["detail"];
    detail["eventID"] = json!(event_id);
    detail["eventTime"] = json!(time);
    detail["requestParameters"]["principalArn"] =
        json!(principal.replace(':', "%3A").replace('/', "%2F"));
    let identity = &mut detail["userIdentity"];
    identity["accessKeyId"] = json!(SESSION_KEY);
    identity["arn"] = json!(SESSION_ARN);
    identity["principalId"] = json!("AROABEZIPKLT56LMB5JGN:jdoe-incident-4411");
    identity["sessionContext"]["sessionIssuer"]["arn"] =
        json!("arn:aws:iam::111122223333:role/eks-break-glass");
    identity["sessionContext"]["sessionIssuer"]["userName"] = json!("eks-break-glass");
    event["time"] = json!(time);
    event
}

/// The sample's aws-auth patch (kubectl edit by jdoe), made with the break-glass session.
fn aws_auth_patch_with_session(audit_id: &str) -> Value {
    let payload = sample("k8s-aws-auth.subscription.json");
    let doc = unzip(&payload);
    let mut audit: Value = doc["logEvents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| serde_json::from_str::<Value>(e["message"].as_str().unwrap()).unwrap())
        .find(|m| m["verb"] == "patch" && m["user"]["username"] == "platform-engineer:jdoe")
        .unwrap();
    audit["auditID"] = json!(audit_id);
    audit["requestReceivedTimestamp"] = json!("2026-11-26T03:31:40.000000Z");
    audit["stageTimestamp"] = json!("2026-11-26T03:31:40.000000Z");
    let user = &mut audit["user"];
    user["username"] = json!("eks-break-glass:jdoe-incident-4411");
    user["extra"]["accessKeyId"] = json!([SESSION_KEY]);
    user["extra"]["arn"] = json!([SESSION_ARN]);
    user["extra"]["canonicalArn"] = json!(["arn:aws:iam::111122223333:role/eks-break-glass"]);
    user["extra"]["sessionName"] = json!(["jdoe-incident-4411"]);
    audit
}

/// A CloudWatch Logs subscription payload (base64 gzip) of audit events, as the log group of
/// cluster `prod` delivers them.
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
    use std::io::Read;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload["awslogs"]["data"].as_str().unwrap())
        .unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The handler with a DynamoDB store and a capturing SNS client; every alert is published.
fn handler(
    store: DynamoStore,
) -> (
    Handler,
    Arc<Mutex<Vec<aws_sdk_sns::operation::publish::PublishInput>>>,
) {
    let (sns, published) = sns_capturing();
    let mut settings = settings_for(Some(TOPIC));
    settings.min_severity = Severity::Info;
    let mut clients = clients(None, Some(sns), None);
    clients.state = Some(Arc::new(store) as Arc<dyn Store>);
    (Handler::new(settings, clients), published)
}

/// The alert documents published since `from`.
fn alerts(
    published: &Mutex<Vec<aws_sdk_sns::operation::publish::PublishInput>>,
    from: usize,
) -> Vec<Value> {
    published.lock().unwrap()[from..]
        .iter()
        .map(|m| serde_json::from_str(json_message(m)["default"].as_str().unwrap()).unwrap())
        .collect()
}

fn rules_of(alert: &Value) -> Vec<&str> {
    alert["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_break_glass_session_is_followed_across_invocations_and_planes_and_alerts_once() {
    let (store, _, calls) = moto_store().await;
    let (handler, published) = handler(store);
    let one_event = counts(&[("BatchGetItem", 1), ("TransactWriteItems", 2)]);
    // An event that continues an incident also reads whether the topic holds it (one more
    // BatchGetItem), so that an update below MIN_SEVERITY still reaches it.
    let continuing = counts(&[("BatchGetItem", 2), ("TransactWriteItems", 2)]);

    // 1. The AssumeRole opens the session's incident.
    let resp = handler.handle(&raw(&assume_role())).await.unwrap();
    assert_eq!(resp.alerts.len(), 1, "{resp:?}");
    let opened = alerts(&published, 0);
    assert!(
        rules_of(&opened[0]).contains(&"break-glass-assumed"),
        "{:#}",
        opened[0]
    );
    let incident = opened[0]["incident"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        opened[0]["incident"]["rule"],
        "break-glass-session-activity"
    );
    assert_eq!(calls.take(), one_event, "claim, read, commit");

    // 2. A grant with the session's key, in another invocation: the same incident.
    let grant = associate_with_session(
        "7d3c1e9a-0b6f-4f2e-9c51-2a8d4e6f1b01",
        "arn:aws:iam::111122223333:role/ci-deployer",
        10,
    );
    handler.handle(&raw(&grant)).await.unwrap();
    let granted = alerts(&published, 1);
    assert_eq!(granted.len(), 1);
    assert!(
        rules_of(&granted[0]).contains(&"break-glass-session-activity"),
        "{:#}",
        granted[0]
    );
    assert_eq!(granted[0]["severity"], "critical");
    assert_eq!(granted[0]["incident"]["id"], incident.as_str());
    assert_eq!(calls.take(), continuing);

    // 3. The Kubernetes plane: an aws-auth patch made with the same key.
    let patch = subscription(&[aws_auth_patch_with_session(
        "9e2b7c41-5d3a-4f6e-8a10-3c4d5e6f7a02",
    )]);
    let resp = handler.handle(&raw(&patch)).await.unwrap();
    assert_eq!(resp.alerts.len(), 1, "{resp:?}");
    let patched = alerts(&published, 2);
    assert!(
        rules_of(&patched[0]).contains(&"break-glass-session-activity"),
        "{:#}",
        patched[0]
    );
    assert_eq!(patched[0]["severity"], "critical");
    assert_eq!(patched[0]["incident"]["id"], incident.as_str());
    let listed: Vec<&str> = patched[0]["incident"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed[..2],
        ["AssumeRole", "AssociateAccessPolicy"],
        "{listed:?}"
    );
    assert_eq!(calls.take(), continuing);

    // 4. The grant delivered again (a retry, a second path): nothing is published, and the
    // only call is the claim the delivered mark refuses.
    let resp = handler.handle(&raw(&grant)).await.unwrap();
    assert!(resp.alerts.is_empty(), "{resp:?}");
    assert!(
        resp.skipped.iter().any(|s| s.contains("already delivered")),
        "{resp:?}"
    );
    assert_eq!(published.lock().unwrap().len(), 3);
    assert_eq!(calls.take(), counts(&[("TransactWriteItems", 1)]));
}

/// An SQS message record carrying an EventBridge event (a redriven dead letter).
fn sqs_record(i: usize, event: &Value) -> Value {
    json!({"messageId": format!("m{i}"), "receiptHandle": "h", "body": event.to_string(),
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "md5OfBody": "x",
        "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:eu-west-1:111122223333:redrive",
        "awsRegion": "eu-west-1"})
}

#[tokio::test]
async fn a_batch_of_ten_events_costs_three_calls() {
    let (store, _, calls) = moto_store().await;
    let (handler, published) = handler(store);
    let records: Vec<Value> = (0..10)
        .map(|i| {
            let event = associate_with_session(
                &format!("00000000-0000-4000-8000-{i:012}"),
                &format!("arn:aws:iam::111122223333:role/team-{i}"),
                i as u32,
            );
            sqs_record(i, &event)
        })
        .collect();
    let resp = handler
        .handle(&raw(&json!({"Records": records})))
        .await
        .unwrap();
    assert_eq!(resp.alerts.len(), 10, "{resp:?}");
    assert_eq!(published.lock().unwrap().len(), 10);
    assert_eq!(
        calls.take(),
        counts(&[("BatchGetItem", 1), ("TransactWriteItems", 2)]),
        "one claim, one read, one commit for the batch"
    );
}

#[tokio::test]
async fn a_store_that_fails_still_publishes_the_alert_saying_correlation_is_unavailable() {
    let calls = Calls::default();
    let missing = moto::unique("no-such-table");
    let store = DynamoStore::new(moto_client(&calls), &missing);
    let (handler, published) = handler(store);
    let grant = associate_with_session(
        "5a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c04",
        "arn:aws:iam::111122223333:role/ci-deployer",
        10,
    );
    let resp = handler.handle(&raw(&grant)).await.unwrap();
    assert_eq!(resp.alerts.len(), 1, "{resp:?}");
    assert!(resp.alerts[0].delivery.starts_with("published"), "{resp:?}");
    let alert = &alerts(&published, 0)[0];
    let said = alert["correlation"].as_str().unwrap();
    assert!(
        said.starts_with("correlation unavailable (DynamoDB table "),
        "{said}"
    );
    assert!(said.contains(&missing), "{said}");
    assert!(said.contains("TransactWriteItems"), "{said}");
    assert!(
        rules_of(alert).contains(&"cluster-admin-granted"),
        "{alert:#}"
    );
}
