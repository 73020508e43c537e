//! The fuzz harness body, shared by the cargo-fuzz target (`fuzz/`) and the regression test
//! that replays the kept corpus (`tests/fuzz.rs`), so both check the same properties:
//! - ingestion, classification and every rendering never panic, on any bytes;
//! - the fast log-file path and the strict full parse agree: when both read the input to the
//!   end, they produce the same alerts (the byte pre-filter and the splitter hide nothing).

use eks_access_watch::ingest::{self, Item, ReadMode};
use eks_access_watch::pipeline::{Outcome, evaluate, evaluate_full};
use eks_access_watch::publish::{AlertFormat, SNS_MAX_BYTES, build_message};
use eks_access_watch::{Alert, RuleConfig, classify};

fn alerts(data: &[u8], mode: ReadMode, config: &RuleConfig) -> (Vec<Alert>, bool) {
    let mut out = Vec::new();
    let mut clean = true;
    let result = ingest::read_with("fuzz", data, mode, &mut |item| match item {
        Item::Record { json, .. } => {
            let fast = evaluate(json, config);
            let full = evaluate_full(json, config);
            // The pre-filter never hides a record the full parse would watch.
            if let Ok(Outcome::Watched(_)) = full {
                assert!(
                    matches!(fast, Ok(Outcome::Watched(_))),
                    "pre-filter hid a watched record: {json}"
                );
            }
            if let Ok(Outcome::Watched(event)) = fast {
                let alert = classify(&event, config, None);
                assert!(
                    !alert.findings.is_empty(),
                    "a watched event always explains itself"
                );
                let subject = alert.subject();
                assert!(
                    subject.len() <= 100 && subject.bytes().all(|b| (b' '..=b'~').contains(&b)),
                    "{subject:?}"
                );
                let _ = alert.text();
                let _ = alert.undo_command();
                let _ = serde_json::to_string(&alert).unwrap();
                let msg = build_message(
                    &alert,
                    "arn:aws:sns:eu-west-1:111122223333:t.fifo",
                    AlertFormat::Chatbot,
                    SNS_MAX_BYTES,
                );
                assert!(msg.size() <= SNS_MAX_BYTES);
                out.push(alert);
            }
        }
        Item::Skipped { .. } => {}
        Item::Invalid(_) => clean = false,
    });
    (out, clean && result.is_ok())
}

pub fn check(data: &[u8]) {
    let config = RuleConfig::new(
        &["arn:aws:iam::111122223333:role/terraform-deployer".to_string()],
        "approved",
        &["arn:aws:iam::111122223333:role/eks-break-glass".to_string()],
        "break-glass",
    )
    .unwrap();
    let (fast, fast_ok) = alerts(data, ReadMode::Fast, &config);
    let (strict, strict_ok) = alerts(data, ReadMode::Strict, &config);
    if fast_ok && strict_ok {
        assert_eq!(fast, strict, "fast and strict paths disagree");
    }
}
