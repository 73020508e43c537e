//! The fuzz harness body, shared by the cargo-fuzz target (`fuzz/`) and the regression test
//! that replays the kept corpus (`tests/fuzz.rs`), so both check the same properties:
//! - ingestion, classification and every rendering never panic, on any bytes;
//! - the fast path never hides what the strict path watches: every position the strict parse
//!   watches and the fast path reached is watched by the fast path too, with the same alert;
//!   when both read the input to the end, they produce the same alerts;
//! - every finding carries a severity its rule declares, and every alert has a headline;
//! - the same for the input read as one Kubernetes audit event: the audit-log byte pre-filter
//!   never skips a line the strict parse watches, and both give the same alert;
//! - all of it again with the audit events' `apiVersion` left out (as older clusters and
//!   re-exported logs write them), so every audit input of the corpus also covers that shape.

use std::collections::BTreeMap;

use eks_access_watch::config::AlertFormat;
use eks_access_watch::context::{Context, History};
use eks_access_watch::ingest::{self, Options, Outcome, ReadMode};
use eks_access_watch::kubernetes::Origin;
use eks_access_watch::model::AccessEvent;
use eks_access_watch::pipeline;
use eks_access_watch::render::sns::{SNS_MAX_BYTES, build_message};
use eks_access_watch::{Alert, RuleConfig, render};

/// The pipeline's alert for an event, offline and without a tuning file.
fn classify(event: &AccessEvent, config: &RuleConfig, _: Option<()>) -> Alert {
    let today = eks_access_watch::tuning::today_utc();
    pipeline::judge(event, &Context::default(), config, None, today)
        .alert()
        .expect("without a tuning file every event has an alert")
}

/// What a read mode made of each position: `Some(alert)` when watched, `None` otherwise.
struct Read {
    at: BTreeMap<String, Option<Alert>>,
    alerts: Vec<Alert>,
    clean: bool,
}

fn read(data: &[u8], mode: ReadMode, config: &RuleConfig) -> Read {
    let mut r = Read {
        at: BTreeMap::new(),
        alerts: Vec::new(),
        clean: true,
    };
    let options = Options::new(config).mode(mode);
    // The context stage's per-input history, as replay and the Lambda apply it.
    let mut history = History::default();
    let result = ingest::scan_slice("fuzz", data, &options, &mut |o| match o {
        Outcome::Watched {
            location,
            mut event,
        } => {
            if history.observe(&mut event).is_some() {
                r.at.insert(location.to_string(), None);
                return;
            }
            let alert = classify(&event, config, None);
            check_renderings(&alert);
            r.at.insert(location.to_string(), Some(alert.clone()));
            r.alerts.push(alert);
        }
        Outcome::Skipped { location, .. } => {
            r.at.insert(location.to_string(), None);
        }
        Outcome::Object { location, .. } => {
            r.at.insert(location.to_string(), None);
        }
        Outcome::Invalid(_) => r.clean = false,
    });
    r.clean &= result.is_ok();
    r
}

/// Every finding carries a severity its rule declares (for a failed call, also the cap), and
/// an alert's headline names the change: at least one finding is not a qualifier. A tuning
/// file may override a rule's severity with any other: the rule's own grade, kept in
/// `rule_severity`, is what must be declared.
pub fn assert_graded_as_declared(alert: &Alert) {
    let failed = alert.error_code.is_some();
    for f in &alert.findings {
        let graded = f.rule_severity.unwrap_or(f.severity);
        assert!(
            f.rule.may_emit(graded, failed),
            "{} graded {} which it does not declare ({:?})",
            f.rule.id,
            graded,
            f.rule.severities
        );
    }
    assert!(
        render::headline(alert).lead.is_some(),
        "no finding says what changed: {:?}",
        alert.rule_ids()
    );
}

fn check_renderings(alert: &Alert) {
    assert_graded_as_declared(alert);
    let subject = render::subject(alert);
    assert!(
        subject.len() <= 100 && subject.bytes().all(|b| (b' '..=b'~').contains(&b)),
        "{subject:?}"
    );
    let _ = render::text(alert);
    let _ = render::undo_command(alert);
    let _ = render::table_row(alert, true);
    let _ = render::json::to_string(alert);
    let msg = build_message(alert, true, AlertFormat::Chatbot, SNS_MAX_BYTES);
    assert!(msg.size() <= SNS_MAX_BYTES);
}

pub fn check(data: &[u8]) {
    check_as_written(data);
    if let Some(bare) = without_api_version(data) {
        check_as_written(&bare);
    }
}

/// The input with every audit event's `apiVersion` left out where the API server writes it
/// (`{"kind":"Event","apiVersion":"audit.k8s.io/v1",` becomes `{"kind":"Event",`); `None` when
/// there is none.
fn without_api_version(data: &[u8]) -> Option<Vec<u8>> {
    const WITH: &[u8] = br#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","#;
    const WITHOUT: &[u8] = br#"{"kind":"Event","#;
    let mut out = Vec::with_capacity(data.len());
    let mut rest = data;
    let mut found = false;
    while let Some(at) = rest.windows(WITH.len()).position(|w| w == WITH) {
        found = true;
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(WITHOUT);
        rest = &rest[at + WITH.len()..];
    }
    out.extend_from_slice(rest);
    found.then_some(out)
}

fn check_as_written(data: &[u8]) {
    let config = RuleConfig::new(
        &["arn:aws:iam::111122223333:role/terraform-deployer".to_string()],
        "approved",
        &["arn:aws:iam::111122223333:role/eks-break-glass".to_string()],
        "break-glass",
    )
    .unwrap();
    let fast = read(data, ReadMode::Fast, &config);
    let strict = read(data, ReadMode::Strict, &config);
    for (location, watched) in &strict.at {
        if let (Some(alert), Some(seen)) = (watched, fast.at.get(location)) {
            assert_eq!(
                seen.as_ref(),
                Some(alert),
                "the fast path hid or changed what the strict path watches at {location}"
            );
        }
    }
    if fast.clean && strict.clean {
        assert_eq!(fast.alerts, strict.alerts, "fast and strict paths disagree");
    }
    check_audit_line(data, &config);
}

/// The input as one audit event: the byte pre-filter's verdict agrees with a full parse.
fn check_audit_line(data: &[u8], config: &RuleConfig) {
    let origin = Origin {
        cluster: Some("prod"),
        account: Some("111122223333"),
        region: Some("eu-west-1"),
    };
    let fast = ingest::decide_audit_line(data, &origin, ReadMode::Fast);
    let strict = ingest::decide_audit_line(data, &origin, ReadMode::Strict);
    if let Ok(Ok(event)) = &strict {
        match &fast {
            Ok(Ok(seen)) => assert_eq!(seen, event, "fast and strict read the audit event apart"),
            other => panic!("the audit pre-filter hid a watched event: {other:?}"),
        }
        check_renderings(&classify(event, config, None));
    }
    if let Ok(Ok(event)) = &fast {
        assert!(
            matches!(&strict, Ok(Ok(e)) if e == event),
            "the fast path watched what the strict parse does not: {strict:?}"
        );
    }
}
