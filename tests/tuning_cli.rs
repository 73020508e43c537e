//! `replay --config` through the binary, and docs/tuning.md's copy of the sample file.

use std::path::Path;

use serde_json::Value;

use crate::cli::{bin, stderr, stdout};
use crate::tuning::sample_file;
use crate::util::{TERRAFORM, events_dir};

#[test]
fn the_docs_show_the_sample_tuning_file() {
    let tuning_doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/tuning.md"))
            .unwrap();
    let shown = tuning_doc
        .split("## The tuning file")
        .nth(1)
        .and_then(|s| s.split("```toml\n").nth(1))
        .and_then(|s| s.split("```").next())
        .unwrap();
    pretty_assertions::assert_eq!(shown, std::fs::read_to_string(sample_file()).unwrap());
}

fn ndjson(o: &std::process::Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn replay_with_sample_file(as_of: &str, samples: &[&str], extra: &[&str]) -> std::process::Output {
    let mut c = bin();
    c.arg("replay")
        .arg("--config")
        .arg(sample_file())
        .args(["--as-of", as_of, "--format", "ndjson"])
        .args(extra);
    for s in samples {
        c.arg(events_dir().join(s));
    }
    c.output().unwrap()
}

#[test]
fn replay_config_drops_overrides_and_suppresses_as_the_file_says() {
    let o = replay_with_sample_file(
        "2026-06-01",
        &[
            "AssociateAccessPolicy-view-routine.json",
            "AssociateAccessPolicy-cross-account.json",
            "UpdateClusterConfig-deletion-protection-off.json",
        ],
        &["--summary", "--fail-on", "high"],
    );
    let alerts = ndjson(&o);
    assert_eq!(
        alerts.len(),
        2,
        "the routine View grant is disabled: {}",
        stdout(&o)
    );
    assert_eq!(alerts[0]["severity"], "low");
    assert_eq!(
        alerts[0]["findings"][0]["suppressed_by"]["exception"],
        "vendor-support"
    );
    assert_eq!(alerts[1]["severity"], "high");
    assert_eq!(alerts[1]["findings"][0]["rule_severity"], "medium");
    assert_eq!(
        o.status.code(),
        Some(1),
        "the override reaches --fail-on high"
    );
    assert!(
        stderr(&o).contains("skipped 1: every finding's rule disabled in the tuning file"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
}

#[test]
fn replay_fail_on_ignores_suppressed_findings_until_the_exception_expires() {
    let sample = ["AssociateAccessPolicy-cross-account.json"];
    let o = replay_with_sample_file("2026-12-31", &sample, &["--fail-on", "medium"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = replay_with_sample_file("2027-01-01", &sample, &["--fail-on", "medium"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        ndjson(&o)[0]["findings"][0]["expired_exception"]["exception"],
        "vendor-support"
    );
    let err = stderr(&o);
    assert!(
        err.contains(
            "eks-access-watch: warning: Exception vendor-support for cross-account-principal"
        ) && err.contains("line 29) expired on 2026-12-31"),
        "{err}"
    );
}

#[test]
fn replay_combines_the_file_with_the_environment_variables() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tuning.toml");
    std::fs::write(&file, format!("approved_callers = [\"{TERRAFORM}\"]\n")).unwrap();
    let run = |with_file: bool| {
        let mut c = bin();
        c.args(["replay", "--format", "ndjson"])
            .env(
                "APPROVED_CALLER_ARNS",
                "arn:aws:iam::111122223333:role/someone-else",
            )
            .arg(events_dir().join("AssociateAccessPolicy-view-routine.json"));
        if with_file {
            c.arg("--config").arg(&file);
        }
        ndjson(&c.output().unwrap())[0]["severity"].clone()
    };
    assert_eq!(
        run(false),
        "medium",
        "terraform is not approved by the variable alone"
    );
    assert_eq!(
        run(true),
        "low",
        "the file's approved caller joins the variable's"
    );
}

#[test]
fn replay_with_an_invalid_file_exits_2_naming_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tuning.toml");
    std::fs::write(
        &file,
        "approved_callers = [\"terraform\"]\n[rules.nope]\nenabled = false\n[rules.cluster-created]\nseverity = \"loud\"\n",
    )
    .unwrap();
    let o = bin()
        .args(["replay", "--config"])
        .arg(&file)
        .arg(events_dir())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).is_empty());
    let err = stderr(&o);
    let name = file.display().to_string();
    for want in [
        format!("{name} line 1: approved_callers: `terraform`"),
        format!("{name} line 2: rules.nope: unknown rule"),
        format!("{name} line 5: rules.cluster-created: severity: unknown severity `loud`"),
    ] {
        assert!(err.contains(&want), "missing `{want}` in:\n{err}");
    }
    let o = bin()
        .args(["replay", "--config", "/nonexistent/tuning.toml"])
        .arg(events_dir())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("/nonexistent/tuning.toml: cannot read the tuning file"),
        "{}",
        stderr(&o)
    );
}
