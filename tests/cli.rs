use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::util::{BREAK_GLASS, TERRAFORM, events_dir, run_file, sample_config};

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_eks-access-watch"));
    c.env_remove("APPROVED_CALLER_ARNS")
        .env_remove("BREAK_GLASS_ROLE_ARNS")
        .env_remove("WATCHER_STACK_NAME")
        .env_remove("WATCHER_RESOURCES")
        .env_remove("ALERT_TOPIC_ARN")
        .env_remove("FAILURE_QUEUE_URL")
        .env_remove("TUNING_PARAMETER_NAME");
    c
}

fn replay(args: &[&str]) -> Output {
    bin().arg("replay").args(args).output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[test]
fn ndjson_over_the_samples_prints_one_alert_per_watched_event() {
    let dir = events_dir();
    let o = replay(&[
        "--format",
        "ndjson",
        "--approved-caller",
        TERRAFORM,
        "--break-glass",
        BREAK_GLASS,
        dir.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let expected: usize = eks_access_watch::ingest::expand_paths(&[dir])
        .unwrap()
        .iter()
        .map(|p| run_file(p, &sample_config()).alerts.len())
        .sum();
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), expected);
    assert!(
        lines
            .iter()
            .all(|l| l["findings"].as_array().is_some_and(|f| !f.is_empty()))
    );
}

#[test]
fn config_comes_from_the_same_environment_variables_as_the_lambda() {
    let sample = events_dir().join("AssociateAccessPolicy-view-routine.json");
    let o = bin()
        .args(["replay", "--format", "ndjson"])
        .arg(&sample)
        .env(
            "APPROVED_CALLER_ARNS",
            format!("{TERRAFORM},arn:aws:iam::111122223333:role/other"),
        )
        .output()
        .unwrap();
    let alert: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(alert["severity"], "low");
    let o = bin()
        .args(["replay", "--format", "ndjson"])
        .arg(&sample)
        .env(
            "APPROVED_CALLER_ARNS",
            "arn:aws:iam::111122223333:role/someone-else",
        )
        .output()
        .unwrap();
    let alert: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(
        alert["severity"], "medium",
        "unapproved-caller raises low to medium"
    );
}

#[test]
fn a_malformed_file_is_named_on_stderr_and_the_rest_still_prints() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        events_dir().join("AssociateAccessPolicy-cluster-admin-by-human.json"),
        dir.path().join("a-good.json"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b-broken.json"),
        "{\"Records\": [ {\"eventName\": ",
    )
    .unwrap();
    std::fs::copy(
        events_dir().join("CreateAccessEntry-standard-by-terraform.json"),
        dir.path().join("c-good.json"),
    )
    .unwrap();
    let o = replay(&["--format", "ndjson", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stdout(&o).lines().count(), 2);
    let err = stderr(&o);
    assert!(
        err.contains("b-broken.json") && err.contains("truncated"),
        "{err}"
    );
}

#[test]
fn a_missing_file_is_named_and_exits_2() {
    let o = replay(&["/nonexistent/trail.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("/nonexistent/trail.json"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn fail_on_exits_1_when_an_alert_reaches_the_threshold() {
    let crit = events_dir().join("AssociateAccessPolicy-cluster-admin-by-human.json");
    let low = events_dir().join("AssociateAccessPolicy-view-routine.json");
    assert_eq!(
        replay(&["--fail-on", "high", crit.to_str().unwrap()])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        replay(&["--fail-on", "high", low.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn min_severity_filters_output() {
    let low = events_dir().join("AssociateAccessPolicy-view-routine.json");
    let o = replay(&[
        "--format",
        "ndjson",
        "--min-severity",
        "medium",
        "--approved-caller",
        TERRAFORM,
        low.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).is_empty());
}

#[test]
fn json_format_is_one_array() {
    let dir = events_dir();
    let o = replay(&[
        "--format",
        "json",
        dir.join("DeleteCluster-by-console.json").to_str().unwrap(),
        dir.join("RunInstances-other-service.json")
            .to_str()
            .unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
}

#[test]
fn stdin_is_read_with_a_dash() {
    let mut child = bin()
        .args(["replay", "--format", "ndjson", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let sample = std::fs::read(events_dir().join("mixed-shapes.ndjson")).unwrap();
    child.stdin.take().unwrap().write_all(&sample).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout(&o).lines().count(), 2);
}

#[test]
fn invalid_configuration_names_the_flag_and_every_bad_value() {
    let o = replay(&[
        "--approved-caller",
        "terraform",
        "--break-glass",
        "arn:aws:sts::111122223333:assumed-role/bg/s",
        "events",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("--approved-caller/APPROVED_CALLER_ARNS: `terraform`"),
        "{err}"
    );
    assert!(err.contains("--break-glass/BREAK_GLASS_ROLE_ARNS"), "{err}");
}

#[test]
fn an_invalid_severity_lists_the_valid_ones() {
    let o = replay(&["--min-severity", "urgent", "events"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("info, low, medium, high, critical"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn text_output_has_no_colour_when_not_a_terminal() {
    let o = replay(&[events_dir()
        .join("DeleteCluster-by-console.json")
        .to_str()
        .unwrap()]);
    let out = stdout(&o);
    assert!(
        out.starts_with("SEVERITY") && !out.contains('\u{1b}'),
        "{out}"
    );
}

#[test]
fn rules_markdown_lists_every_rule() {
    let o = bin()
        .args(["rules", "--format", "markdown"])
        .output()
        .unwrap();
    let out = stdout(&o);
    for r in eks_access_watch::rules::CATALOGUE {
        assert!(out.contains(&format!("| `{}` |", r.id)), "{}", r.id);
    }
}

#[test]
fn the_docs_rule_table_matches_the_catalogue() {
    let o = bin()
        .args(["rules", "--format", "markdown"])
        .output()
        .unwrap();
    let rules_doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/rules.md")).unwrap();
    let table = rules_doc
        .split("<!-- rules:begin -->\n")
        .nth(1)
        .and_then(|s| s.split("<!-- rules:end -->").next())
        .unwrap();
    pretty_assertions::assert_eq!(
        table.trim(),
        stdout(&o).trim(),
        "regenerate the table in docs/rules.md with `eks-access-watch rules --format markdown`"
    );
}

/// Credentials, a region, and an EKS endpoint that is a closed loopback port: every AWS call
/// fails fast, once.
fn unreachable_aws(c: &mut Command) -> &mut Command {
    c.env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "not-a-secret")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_MAX_ATTEMPTS", "1")
}

/// `--enrich` goes through the Lambda's enrichment code; here the EKS endpoint is a closed
/// loopback port, so the lookups fail fast and the alert must still come out, saying why.
#[test]
fn replay_enrich_reports_unreachable_api_and_still_alerts() {
    let o = unreachable_aws(bin().args(["replay", "--enrich", "--format", "ndjson"]))
        .arg(events_dir().join("AssociateAccessPolicy-cluster-admin-by-human.json"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let alert: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(alert["severity"], "critical");
    assert_eq!(alert["enrichment"]["status"], "failed");
    let first = alert["enrichment"]["errors"][0].as_str().unwrap();
    assert!(
        first.starts_with("DescribeAccessEntry: could not reach AWS"),
        "{first}"
    );
}

// ---- audit ----

fn snapshot_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("snapshots")
        .join(name)
}

fn audit(args: &[&str]) -> Output {
    bin().arg("audit").args(args).output().unwrap()
}

/// The sample snapshot without what could not be read (so the audit is complete).
fn complete_snapshot(dir: &tempfile::TempDir) -> String {
    let mut s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(snapshot_path("org.json")).unwrap()).unwrap();
    s.as_object_mut().unwrap().remove("unreadable");
    let path = dir.path().join("complete.json");
    std::fs::write(&path, s.to_string()).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn audit_of_a_saved_snapshot_is_offline_and_exits_by_what_it_found() {
    let dir = tempfile::tempdir().unwrap();
    let complete = complete_snapshot(&dir);
    let config = ["--approved-caller", TERRAFORM, "--break-glass", BREAK_GLASS];
    let o = audit(&[&["--snapshot", &complete][..], &config].concat());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("EKS access posture: 6 clusters, 0 critical, "));
    let o = audit(&[&["--snapshot", &complete, "--fail-on", "high"][..], &config].concat());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    // What could not be read is an error, named on stderr, whatever --fail-on says.
    let incomplete = snapshot_path("org.json");
    let o = audit(&["--snapshot", incomplete.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("Could not read the clusters of account 555566667777 in eu-west-1"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn audit_formats_are_json_ndjson_and_markdown() {
    let path = snapshot_path("org.json");
    let path = path.to_str().unwrap();
    let o = audit(&["--snapshot", path, "--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(report["clusters"], 6);
    let o = audit(&["--snapshot", path, "--format", "ndjson"]);
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), findings.len());
    for l in &lines {
        for field in ["rule", "severity", "summary", "account", "region"] {
            assert!(l.get(field).is_some(), "{field} missing from {l}");
        }
    }
    let o = audit(&["--snapshot", path, "--format", "markdown"]);
    assert!(stdout(&o).starts_with("### EKS access posture: 6 clusters"));
    assert!(stdout(&o).contains("| severity | rule | principal | summary |"));
}

#[test]
fn a_written_baseline_shows_no_drift_and_a_written_snapshot_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let complete = complete_snapshot(&dir);
    let snapshot = dir.path().join("snap.json");
    let baseline = dir.path().join("baseline.json");
    let o = audit(&[
        "--snapshot",
        &complete,
        "--write-snapshot",
        snapshot.to_str().unwrap(),
        "--write-baseline",
        baseline.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = audit(&[
        "--snapshot",
        snapshot.to_str().unwrap(),
        "--baseline",
        baseline.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(report["drift"], 0);
    assert!(
        !std::fs::read_to_string(&baseline)
            .unwrap()
            .contains("created_at")
    );
}

#[test]
fn a_bad_baseline_is_reported_with_its_file_and_line_before_anything_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("declared.json");
    std::fs::write(
        &bad,
        "{\"version\": 1,\n\"clusters\": [{\"nmae\": \"prod\"}]}",
    )
    .unwrap();
    // No --snapshot: a live audit would need AWS, but the baseline is checked first.
    let o = bin()
        .args(["audit", "--region", "eu-west-1", "--baseline"])
        .arg(&bad)
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("declared.json: line 2 column"), "{err}");
    assert!(err.contains("unknown field `nmae`"), "{err}");
}

#[test]
fn every_bad_audit_setting_is_named_at_once() {
    let o = audit(&[
        "--region",
        "europe",
        "--account",
        "12",
        "--require-tag",
        " ",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    for p in [
        "--region: `europe` is not an AWS region",
        "--account: `12` is not a 12-digit account id",
        "--require-tag: ` ` is not a tag key",
        "--account: reading other accounts needs --role-template",
    ] {
        assert!(err.contains(p), "{p} missing from {err}");
    }
}

/// A live audit through the real SDK path; the EKS endpoint is a closed loopback port, so the
/// region cannot be listed: reported as audit-incomplete, exit 2.
#[test]
fn a_live_audit_that_cannot_reach_eks_says_so_and_exits_2() {
    let o = unreachable_aws(bin().args(["audit", "--format", "ndjson"]))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let finding: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(finding["rule"], "audit-incomplete");
    assert_eq!(finding["region"], "eu-west-1");
    assert_eq!(finding["severity"], "high");
    assert!(
        finding["summary"]
            .as_str()
            .unwrap()
            .contains("ListClusters: could not reach AWS"),
        "{finding}"
    );
}

/// `audit --config`: the tuning file decides what counts for `--fail-on`, and a bad file is an
/// error naming its line, before anything is read.
#[test]
fn audit_reads_the_tuning_file() {
    let dir = tempfile::tempdir().unwrap();
    let complete = complete_snapshot(&dir);
    let config = ["--approved-caller", TERRAFORM, "--break-glass", BREAK_GLASS];
    let o = audit(
        &[
            &[
                "--snapshot",
                &complete,
                "--fail-on",
                "high",
                "--format",
                "json",
            ][..],
            &config,
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let highs: std::collections::BTreeSet<String> =
        serde_json::from_str::<serde_json::Value>(&stdout(&o)).unwrap()["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["severity"] == "high" || f["severity"] == "critical")
            .map(|f| f["rule"].as_str().unwrap().to_string())
            .collect();
    assert!(!highs.is_empty());
    let mut toml = String::new();
    for rule in &highs {
        toml.push_str(&format!("[rules.{rule}]\nseverity = \"medium\"\n"));
    }
    let file = dir.path().join("tuning.toml");
    std::fs::write(&file, &toml).unwrap();
    let tuned = [
        &["--snapshot", &complete, "--fail-on", "high", "--config"][..],
        &[file.to_str().unwrap()],
        &config,
    ]
    .concat();
    let o = audit(&tuned);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("severity set by the tuning file"),
        "{}",
        stdout(&o)
    );
    std::fs::write(&file, "[rules.no-such-rule]\nenabled = false\n").unwrap();
    let o = audit(&tuned);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("line 1"), "{}", stderr(&o));
    assert!(stderr(&o).contains("no-such-rule"), "{}", stderr(&o));
}

/// `replay` knows the watcher's parts like the Lambda: by `--stack-name` (default
/// eks-access-watch, or WATCHER_STACK_NAME) and the resources WATCHER_RESOURCES names.
#[test]
fn replay_learns_the_watcher_s_parts_from_the_stack_name_and_the_environment() {
    let rule = events_dir().join("DisableRule-forwarding-rule.json");
    let key = events_dir().join("DisableKey-unnamed-key.json");
    let alerts = |o: &Output| -> Vec<serde_json::Value> {
        assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
        stdout(o)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let rules = |a: &serde_json::Value| a["findings"].to_string();
    let by_default = alerts(&replay(&["--format", "ndjson", rule.to_str().unwrap()]));
    assert_eq!(by_default.len(), 1);
    assert!(
        rules(&by_default[0]).contains("watcher-tampered"),
        "{}",
        by_default[0]
    );
    let other = alerts(&replay(&[
        "--format",
        "ndjson",
        "--stack-name",
        "other-watch",
        rule.to_str().unwrap(),
    ]));
    assert!(other.is_empty(), "another stack's rule: {other:?}");
    let via_env = alerts(
        &bin()
            .env("WATCHER_STACK_NAME", "other-watch")
            .args(["replay", "--format", "ndjson"])
            .arg(&rule)
            .output()
            .unwrap(),
    );
    assert!(via_env.is_empty());
    assert!(alerts(&replay(&["--format", "ndjson", key.to_str().unwrap()])).is_empty());
    let named = alerts(
        &bin()
            .env(
                "WATCHER_RESOURCES",
                "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            )
            .args(["replay", "--format", "ndjson"])
            .arg(&key)
            .output()
            .unwrap(),
    );
    assert_eq!(named.len(), 1);
    assert!(
        rules(&named[0]).contains("watcher-tampered"),
        "{}",
        named[0]
    );
    assert_eq!(named[0]["severity"], "critical");
}
