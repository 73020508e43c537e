//! The Lambda's tuning file: read from its SSM parameter at init (aws-smithy-mocks), applied to
//! what it publishes.

use std::sync::{Arc, Mutex};

use aws_sdk_sns::operation::publish::PublishInput;
use aws_sdk_ssm::Client as Ssm;
use aws_sdk_ssm::operation::get_parameter::GetParameterOutput;
use aws_sdk_ssm::types::{Parameter, ParameterType};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_runtime_api::http::{Response as HttpResponse, StatusCode};
use aws_smithy_types::body::SdkBody;
use chrono::NaiveDate;
use eks_access_watch::config::LambdaSettings;
use eks_access_watch::lambda::{
    Handler, Response, load_tuning, sha256_hex, silenced_metric, with_tuning,
};
use eks_access_watch::{Severity, Tuning};
use serde_json::{Value, json};

use crate::aws::{attribute, clients, json_message, sns_capturing};
use crate::tuning::sample_file;
use crate::util::{BREAK_GLASS, TERRAFORM, events_dir};

const PARAMETER: &str = "/eks-access-watch/tuning";
const TOPIC: &str = "arn:aws:sns:eu-west-1:111122223333:alerts";

fn settings(vars: &[(&str, &str)]) -> LambdaSettings {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    LambdaSettings::from_env(move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
        .unwrap()
}

/// The template's environment with a tuning parameter.
fn tuned_settings() -> LambdaSettings {
    settings(&[
        ("ALERT_TOPIC_ARN", TOPIC),
        ("BREAK_GLASS_ROLE_ARNS", BREAK_GLASS),
        ("TUNING_PARAMETER_NAME", PARAMETER),
        ("ENRICH", "false"),
    ])
}

fn parameter(value: &str, kind: ParameterType) -> Rule {
    let value = value.to_string();
    mock!(Ssm::get_parameter)
        .match_requests(|req| req.name() == Some(PARAMETER) && req.with_decryption().is_none())
        .then_output(move || {
            GetParameterOutput::builder()
                .parameter(
                    Parameter::builder()
                        .name(PARAMETER)
                        .r#type(kind.clone())
                        .value(value.clone())
                        .version(3)
                        .build(),
                )
                .build()
        })
}

fn ssm(rule: &Rule) -> Ssm {
    mock_client!(aws_sdk_ssm, RuleMode::MatchAny, &[rule])
}

fn sample_text() -> String {
    std::fs::read_to_string(sample_file()).unwrap()
}

fn june() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 1).unwrap()
}

fn next_year() -> NaiveDate {
    NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()
}

/// A sample as the runtime hands it over: raw JSON.
fn sample_event(name: &str) -> Box<serde_json::value::RawValue> {
    serde_json::value::RawValue::from_string(
        std::fs::read_to_string(events_dir().join(name)).unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn the_lambda_reads_its_tuning_file_from_the_parameter_at_init() {
    let rule = parameter(&sample_text(), ParameterType::String);
    let settings = load_tuning(tuned_settings(), &ssm(&rule)).await;
    assert_eq!(rule.num_calls(), 1);
    let tuning = settings.tuning.as_ref().unwrap();
    assert_eq!(tuning.source, format!("SSM parameter {PARAMETER}"));
    assert_eq!(tuning.exceptions.len(), 2);
    assert!(
        settings.settings.rules.is_approved(Some(TERRAFORM)),
        "the file's approved callers join the environment's"
    );
    assert!(settings.settings.rules.is_break_glass(Some(BREAK_GLASS)));
}

#[tokio::test]
async fn without_the_variable_the_parameter_is_never_read() {
    let rule = parameter(&sample_text(), ParameterType::String);
    let plain = settings(&[("ALERT_TOPIC_ARN", TOPIC)]);
    let settings = load_tuning(plain, &ssm(&rule)).await;
    assert_eq!(rule.num_calls(), 0);
    assert!(settings.tuning.is_none());
}

/// A tuning file that cannot be read or is invalid no longer stops the function: it runs on
/// the environment's settings, with every problem named (by line), and publishes
/// `tuning-invalid` with them at the cold start; the file's hash is kept for the log.
#[tokio::test]
async fn a_bad_tuning_parameter_leaves_the_function_on_its_environment_and_alerts_tuning_invalid() {
    let text = "approved_callers = [\"terraform\"]\n[rules.nope]\nenabled = false\n";
    let invalid = parameter(text, ParameterType::String);
    let setup = load_tuning(tuned_settings(), &ssm(&invalid)).await;
    assert!(setup.tuning.is_none());
    assert_eq!(
        setup.tuning_sha256.as_deref(),
        Some(sha256_hex(text).as_str())
    );
    assert_eq!(sha256_hex("").len(), 64);
    assert_eq!(
        setup
            .tuning_problems
            .iter()
            .map(|p| &p[..p.find(": ").unwrap()])
            .collect::<Vec<_>>(),
        [
            format!("SSM parameter {PARAMETER} line 1"),
            format!("SSM parameter {PARAMETER} line 2")
        ]
    );
    // The environment's settings stand: its break-glass role, no approved caller of the file.
    assert!(setup.settings.rules.is_break_glass(Some(BREAK_GLASS)));
    assert!(!setup.settings.rules.has_approved_callers());
    let problems = setup.tuning_problems.clone();
    let (sns, published) = sns_capturing();
    let handler = Handler::new(setup, clients(None, Some(sns), None));
    let delivery = handler.report_tuning_problems(&problems).await.unwrap();
    assert!(delivery.starts_with("published"), "{delivery}");
    let messages = published.lock().unwrap().clone();
    assert_eq!(messages.len(), 1);
    assert_eq!(
        attribute(&messages[0], "rules"),
        Some(("String.Array", r#"["tuning-invalid"]"#))
    );
    assert_eq!(
        attribute(&messages[0], "severity"),
        Some(("String", "high"))
    );
    let alert: Value =
        serde_json::from_str(json_message(&messages[0])["default"].as_str().unwrap()).unwrap();
    let summary = alert["findings"][0]["summary"].as_str().unwrap();
    for part in [
        format!("The tuning file in SSM parameter {PARAMETER} is not applied"),
        "2 problem(s)".to_string(),
        format!("SSM parameter {PARAMETER} line 2: rules.nope"),
    ] {
        assert!(summary.contains(&part), "{part} in {summary}");
    }
    assert!(handler.report_tuning_problems(&[]).await.is_none());
    // A sample alert still goes out, graded by the environment's settings.
    let response = handler
        .handle(&sample_event("AssociateAccessPolicy-cross-account.json"))
        .await
        .unwrap();
    assert_eq!(response.alerts[0].severity, Severity::High);

    let missing = mock!(Ssm::get_parameter).then_http_response(|| {
        let mut r = HttpResponse::new(
            StatusCode::try_from(400).unwrap(),
            SdkBody::from(json!({"__type": "ParameterNotFound", "message": ""}).to_string()),
        );
        r.headers_mut()
            .insert("content-type", "application/x-amz-json-1.1");
        r
    });
    let setup = load_tuning(tuned_settings(), &ssm(&missing)).await;
    assert!(setup.tuning.is_none() && setup.tuning_sha256.is_none());
    assert_eq!(setup.tuning_problems.len(), 1);
    assert!(
        setup.tuning_problems[0].starts_with(&format!(
            "cannot read the tuning file from SSM parameter {PARAMETER}: GetParameter: ParameterNotFound"
        )),
        "{:?}",
        setup.tuning_problems
    );

    let secret = parameter("ciphertext", ParameterType::SecureString);
    let setup = load_tuning(tuned_settings(), &ssm(&secret)).await;
    assert!(
        setup.tuning_problems[0]
            .contains("is a SecureString parameter; store the tuning file as a String parameter"),
        "{:?}",
        setup.tuning_problems
    );
}

#[tokio::test]
async fn a_break_glass_role_the_event_rule_would_not_deliver_leaves_the_file_unapplied() {
    let other = "arn:aws:iam::111122223333:role/emergency-admin";
    let file = format!("break_glass_roles = [\"{BREAK_GLASS}\", \"{other}\"]\n");
    let rule = parameter(&file, ParameterType::String);
    let setup = load_tuning(tuned_settings(), &ssm(&rule)).await;
    assert!(setup.tuning.is_none());
    let text = setup.tuning_problems.join("\n");
    assert!(
        text.contains(&format!(
            "break_glass_roles: `{other}` is not in BREAK_GLASS_ROLE_ARNS"
        )),
        "{text}"
    );
    assert!(!text.contains(&format!("`{BREAK_GLASS}`")), "{text}");
    // With BREAK_GLASS_ROLE_ARNS empty, EventBridge delivers roles named like break-glass.
    let by_name = settings(&[("TUNING_PARAMETER_NAME", PARAMETER)]);
    let tuning = Tuning::parse(&file, "f").unwrap();
    let err = with_tuning(by_name.clone(), tuning).unwrap_err();
    assert_eq!(err.problems.len(), 1, "{err}");
    let fine = Tuning::parse(&format!("break_glass_roles = [\"{BREAK_GLASS}\"]"), "f").unwrap();
    assert!(with_tuning(by_name, fine).is_ok());
}

#[test]
fn the_tuning_parameter_variable_is_validated_with_the_others() {
    let err = LambdaSettings::from_env(|k| match k {
        "TUNING_PARAMETER_NAME" => Some("tuning file!".into()),
        "MIN_SEVERITY" => Some("loud".into()),
        _ => None,
    })
    .unwrap_err();
    assert_eq!(err.problems.len(), 2, "{err}");
    assert!(
        err.problems[1]
            .starts_with("TUNING_PARAMETER_NAME: `tuning file!` is not an SSM parameter name")
    );
}

type Published = Arc<Mutex<Vec<PublishInput>>>;

/// One sample through a handler set up from the sample tuning file (read through the mocked
/// parameter) with a fixed date: the response and what was published.
async fn handle_tuned(today: fn() -> NaiveDate, sample: &str) -> (Response, Published) {
    let rule = parameter(&sample_text(), ParameterType::String);
    let settings = load_tuning(tuned_settings(), &ssm(&rule)).await;
    let (sns, published) = sns_capturing();
    let handler = Handler::new(settings, clients(None, Some(sns), None)).with_clock(today);
    let response = handler.handle(&sample_event(sample)).await.unwrap();
    (response, published)
}

#[tokio::test]
async fn a_suppressed_finding_is_published_marked_and_left_out_of_severity_and_rules() {
    let (response, published) =
        handle_tuned(june, "AssociateAccessPolicy-cross-account.json").await;
    let delivery = &response.alerts[0];
    assert_eq!(delivery.severity, Severity::Low);
    assert_eq!(delivery.rules, ["unapproved-caller"]);
    assert_eq!(delivery.suppressed, ["cross-account-principal"]);
    let messages = published.lock().unwrap();
    let m = &messages[0];
    assert_eq!(attribute(m, "severity"), Some(("String", "low")));
    assert_eq!(
        attribute(m, "rules"),
        Some(("String.Array", r#"["unapproved-caller"]"#))
    );
    assert_eq!(
        attribute(m, "suppressed_rules"),
        Some(("String.Array", r#"["cross-account-principal"]"#))
    );
    assert!(
        m.subject()
            .unwrap()
            .starts_with("[LOW] prod-eu: (suppressed, unapproved caller)")
    );
    let body = json_message(m);
    let alert: Value = serde_json::from_str(body["default"].as_str().unwrap()).unwrap();
    assert_eq!(
        alert["findings"][0]["suppressed_by"]["exception"],
        "vendor-support"
    );
    assert!(
        body["email"]
            .as_str()
            .unwrap()
            .contains("suppressed by exception vendor-support until 2026-12-31")
    );
}

#[tokio::test]
async fn after_expiry_the_lambda_alerts_and_names_the_lapsed_exception() {
    let (response, published) =
        handle_tuned(next_year, "AssociateAccessPolicy-cross-account.json").await;
    assert_eq!(response.alerts[0].severity, Severity::High);
    assert!(response.alerts[0].suppressed.is_empty());
    let messages = published.lock().unwrap();
    assert_eq!(attribute(&messages[0], "suppressed_rules"), None);
    let alert: Value =
        serde_json::from_str(json_message(&messages[0])["default"].as_str().unwrap()).unwrap();
    assert_eq!(
        alert["findings"][0]["expired_exception"]["expires"],
        "2026-12-31"
    );
}

#[tokio::test]
async fn an_event_whose_every_finding_is_disabled_is_not_alerted() {
    let (response, published) = handle_tuned(june, "AssociateAccessPolicy-view-routine.json").await;
    assert!(response.alerts.is_empty());
    assert_eq!(response.skipped.len(), 1);
    assert!(
        response.skipped[0].ends_with(&format!(
            "every finding's rule is disabled in SSM parameter {PARAMETER}"
        )),
        "{:?}",
        response.skipped
    );
    assert!(published.lock().unwrap().is_empty());
}

/// An alert the tuning file silences entirely is never nothing: the invocation names it, and
/// a metric line counts it by reason.
#[test]
fn a_silenced_alert_is_counted_by_reason() {
    let line: Value =
        serde_json::from_str(&silenced_metric("disabled", 1, 1_700_000_000_000)).unwrap();
    assert_eq!(line["SilencedAlerts"], 1);
    assert_eq!(line["Reason"], "disabled");
    assert_eq!(
        line["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "EksAccessWatch"
    );
    assert_eq!(
        line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
        "SilencedAlerts"
    );
    assert_eq!(
        line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["Reason"]])
    );
}

fn version(v: i64, text: &str) -> Rule {
    let text = text.to_string();
    let selector = format!("{PARAMETER}:{v}");
    mock!(Ssm::get_parameter)
        .match_requests(move |req| req.name() == Some(selector.as_str()))
        .then_output(move || {
            GetParameterOutput::builder()
                .parameter(
                    Parameter::builder()
                        .name(PARAMETER)
                        .r#type(ParameterType::String)
                        .value(text.clone())
                        .version(v)
                        .build(),
                )
                .build()
        })
}

/// A write of the tuning parameter (CloudTrail PutParameter, version 4): the function reads
/// versions 3 and 4 and `tuning-changed` lists, in words, what the new one silences.
#[tokio::test]
async fn a_tuning_parameter_write_lists_what_the_new_version_silences() {
    let old = "approved_callers = [\"arn:aws:iam::111122223333:role/terraform-deployer\"]\n[rules.cluster-deleted]\nseverity = \"low\"\n";
    let new = format!(
        "approved_callers = [\"arn:aws:iam::111122223333:role/terraform-deployer\", \"arn:aws:iam::111122223333:role/platform-engineer\"]\n\
         [rules.cluster-created]\nenabled = false\n\
         [rules.access-entry-created]\nseverity = \"info\"\n\
         [[exceptions]]\nid = \"quiet\"\nrule = \"cross-account-principal\"\nprincipal = \"arn:aws:iam::444455556666:role/vendor-*\"\nreason = \"r\"\nexpires = {}\n",
        chrono::Utc::now().date_naive() + chrono::Days::new(30)
    );
    let (v3, v4) = (version(3, old), version(4, &new));
    let reader = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, &[&v3, &v4]);
    let (sns, published) = sns_capturing();
    let handler = Handler::new(
        settings(&[
            ("ALERT_TOPIC_ARN", TOPIC),
            ("TUNING_PARAMETER_NAME", PARAMETER),
            ("ENRICH", "false"),
        ]),
        clients(None, Some(sns), None),
    )
    .with_ssm(reader);
    let response = handler
        .handle(&sample_event("PutParameter-tuning.json"))
        .await
        .unwrap();
    assert_eq!((v3.num_calls(), v4.num_calls()), (1, 1));
    assert_eq!(
        response.alerts[0].rules,
        ["watcher-tampered", "tuning-changed"]
    );
    let messages = published.lock().unwrap();
    let alert: Value =
        serde_json::from_str(json_message(&messages[0])["default"].as_str().unwrap()).unwrap();
    let changed = alert["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "tuning-changed")
        .unwrap()["summary"]
        .as_str()
        .unwrap()
        .to_string();
    for part in [
        format!("Tuning file {PARAMETER} changed (version 3 -> 4): "),
        "rule cluster-created disabled".to_string(),
        "rule access-entry-created lowered to info (was its own grade, up to low)".to_string(),
        "exception quiet added: suppresses cross-account-principal for principal arn:aws:iam::444455556666:role/vendor-*".to_string(),
        "approved caller arn:aws:iam::111122223333:role/platform-engineer added".to_string(),
        "rule cluster-deleted raised to its own grade".to_string(),
    ] {
        assert!(changed.contains(&part), "`{part}` in {changed}");
    }
    // What silences comes before what does not.
    assert!(changed.find("disabled").unwrap() < changed.find("raised").unwrap());
}

/// Offline (replay, or no SSM client), the finding still fires and says the versions were not
/// read, naming the command that compares them.
#[tokio::test]
async fn without_a_reader_tuning_changed_says_the_versions_were_not_read() {
    let (sns, published) = sns_capturing();
    let handler = Handler::new(
        settings(&[("ALERT_TOPIC_ARN", TOPIC), ("ENRICH", "false")]),
        clients(None, Some(sns), None),
    );
    let response = handler
        .handle(&sample_event("PutParameter-tuning.json"))
        .await
        .unwrap();
    assert!(response.alerts[0].rules.contains(&"tuning-changed"));
    let messages = published.lock().unwrap();
    let body = json_message(&messages[0]);
    assert!(
        body["default"]
            .as_str()
            .unwrap()
            .contains("its versions were not read: compare them with `aws ssm get-parameter-history --name /eks-access-watch/tuning`"),
        "{body}"
    );
}
