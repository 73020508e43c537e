//! The OCSF rendering (`--format ocsf`, the sinks' shared document) against the Detection
//! Finding schema the tests build (tests/data/ocsf/detection_finding.schema.json, from OCSF
//! 1.1.0's class, objects and types): every sample's alerts and every audit finding, every
//! field's type checked, then the lifecycle (`activity_id`, `type_uid`, `finding_info.uid`).

use std::path::Path;

use serde_json::Value;

use eks_access_watch::alert::Activity;
use eks_access_watch::render::ocsf;

use crate::golden::samples;
use crate::schema;
use crate::util::{run_file, run_sequence, sample_config, sequences};

fn schema() -> Value {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ocsf/detection_finding.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn every_samples_alerts_are_valid_detection_findings() {
    let schema = schema();
    let mut checked = 0;
    let mut problems = Vec::new();
    let mut alerts = Vec::new();
    for sample in samples() {
        for a in run_file(&sample, &sample_config()).alerts {
            alerts.push((sample.display().to_string(), a));
        }
    }
    for (dir, files) in sequences() {
        for a in run_sequence(&files, &sample_config()).alerts {
            alerts.push((dir.display().to_string(), a));
        }
    }
    for (from, alert) in &alerts {
        let doc = ocsf::alert(alert);
        // One JSON object per line: the text has no newline and reads back the same.
        let line = ocsf::to_string(alert);
        assert!(!line.contains('\n'));
        assert_eq!(serde_json::from_str::<Value>(&line).unwrap(), doc);
        for p in schema::check(&doc, &schema) {
            problems.push(format!("{from}: {p}"));
        }
        assert_eq!(
            doc["type_uid"].as_u64().unwrap(),
            200400 + doc["activity_id"].as_u64().unwrap(),
            "{from}"
        );
        assert_eq!(doc["finding_info"]["uid"], alert.finding_uid(), "{from}");
        let types: Vec<&str> = doc["finding_info"]["types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert_eq!(types, alert.rule_ids(), "{from}");
        checked += 1;
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(checked > 80, "only {checked} alerts checked");
}

#[test]
fn every_audit_finding_is_a_valid_detection_finding() {
    let schema = schema();
    let mut problems = Vec::new();
    let mut n = 0;
    for (current, baseline) in [
        ("org.json", None),
        ("org.json", Some("org-yesterday.json")),
        ("org.json", Some("declared-baseline.json")),
    ] {
        let report = crate::audit::report(current, baseline);
        for f in &report.findings {
            let doc = ocsf::audit_finding(f, report.taken_at.as_deref());
            problems.extend(schema::check(&doc, &schema));
            assert_eq!(doc["finding_info"]["types"][0], f.finding.rule.id);
            n += 1;
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(n > 10, "only {n} audit findings");
}

#[test]
fn a_wrong_type_is_caught_by_the_schema_check() {
    // The checker itself can fail: a string where OCSF wants an integer, an unknown attribute.
    let schema = schema();
    let alert = &run_file(
        &crate::util::events_dir().join("AssociateAccessPolicy-admin-cluster.json"),
        &sample_config(),
    )
    .alerts[0];
    let mut doc = ocsf::alert(alert);
    doc["severity_id"] = Value::from("4");
    doc["finding_info"]["colour"] = Value::from("red");
    let problems = schema::check(&doc, &schema);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("$.severity_id: expected integer")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("$.finding_info.colour: not an attribute")),
        "{problems:?}"
    );
}

#[test]
fn a_grant_then_its_revert_is_create_then_close_under_the_incident() {
    let (_, files) = sequences()
        .into_iter()
        .find(|(d, _)| d.ends_with("created-then-deleted"))
        .unwrap();
    let alerts = run_sequence(&files, &sample_config()).alerts;
    let revert = alerts.iter().find(|a| a.resolves.is_some()).unwrap();
    let grant = alerts
        .iter()
        .find(|a| a.event_id == revert.resolves)
        .unwrap();
    assert_eq!(grant.activity(), Activity::Create);
    assert_eq!(ocsf::alert(grant)["activity_id"], 1);
    assert_eq!(ocsf::alert(grant)["type_uid"], 200401);
    let doc = ocsf::alert(revert);
    assert_eq!(doc["activity_id"], 3);
    assert_eq!(doc["type_uid"], 200403);
    assert_eq!(doc["status"], "Resolved");
    assert_eq!(
        doc["finding_info"]["uid"],
        revert.incident.as_ref().unwrap().id
    );
    // The revert moves the grant's own finding too (it was reported under its event id).
    assert!(
        revert
            .lifecycle_uids()
            .contains(grant.event_id.as_ref().unwrap())
    );
    // Evidence: the revert's record and the grant's.
    let ids: Vec<&str> = doc["evidences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["data"]["event_id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&grant.event_id.as_deref().unwrap()), "{ids:?}");
    assert!(doc["remediation"]["desc"].as_str().unwrap().len() > 10);
}

#[test]
fn a_later_event_of_a_break_glass_session_is_an_update() {
    let (_, files) = sequences()
        .into_iter()
        .find(|(d, _)| d.ends_with("break-glass-session"))
        .unwrap();
    let alerts = run_sequence(&files, &sample_config()).alerts;
    let activities: Vec<Activity> = alerts
        .iter()
        .filter(|a| a.incident.is_some())
        .map(|a| a.activity())
        .collect();
    assert_eq!(
        activities.first(),
        Some(&Activity::Create),
        "{activities:?}"
    );
    assert!(
        activities[1..].iter().all(|a| *a == Activity::Update),
        "{activities:?}"
    );
    let ids: std::collections::BTreeSet<String> = alerts
        .iter()
        .filter(|a| a.incident.is_some())
        .map(|a| {
            ocsf::alert(a)["finding_info"]["uid"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1, "one finding for the session: {ids:?}");
}

#[test]
fn severities_map_onto_ocsf_ids() {
    use eks_access_watch::Severity;
    let got: Vec<u8> = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ]
    .into_iter()
    .map(|s| ocsf::severity_id(s).0)
    .collect();
    assert_eq!(got, [1, 2, 3, 4, 5]);
}

#[test]
fn replay_and_audit_print_one_valid_detection_finding_per_line_with_format_ocsf() {
    let schema = schema();
    let dir = crate::util::events_dir();
    let replay = crate::cli::bin()
        .args(["replay", "--format", "ocsf"])
        .arg(&dir)
        .output()
        .unwrap();
    let snapshot = Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots/org.json");
    let audit = crate::cli::bin()
        .args(["audit", "--format", "ocsf", "--snapshot"])
        .arg(&snapshot)
        .output()
        .unwrap();
    for (what, out, at_least) in [("replay", &replay, 80), ("audit", &audit, 10)] {
        let text = crate::cli::stdout(out);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() >= at_least, "{what}: {} lines", lines.len());
        for line in lines {
            let doc: Value = serde_json::from_str(line).unwrap();
            let problems = schema::check(&doc, &schema);
            assert!(problems.is_empty(), "{what}: {problems:?}");
        }
    }
}
