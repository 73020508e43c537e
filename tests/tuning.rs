//! The tuning file through the library: parsing and its errors, overrides, exceptions, expiry.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use eks_access_watch::alert::Alert;
use eks_access_watch::ingest::ReadMode;
use eks_access_watch::rules::{self, EXCEPTION_EXPIRED, Finding};
use eks_access_watch::tuning::{Scope, Tuning};
use eks_access_watch::{RuleConfig, Severity, render};
use proptest::prelude::*;

use crate::util::{
    BREAK_GLASS, TERRAFORM, events_dir, finding, run_file, run_file_tuned, sample_config,
};

const VENDOR: &str = "arn:aws:iam::444455556666:role/vendor-support";

pub fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// A day on which every exception of the sample file is in force.
fn in_force() -> NaiveDate {
    date("2026-06-01")
}

pub fn sample_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tuning.toml")
}

fn sample_tuning() -> Tuning {
    Tuning::read(&sample_file()).unwrap()
}

fn tuning(text: &str) -> Tuning {
    Tuning::parse(text, "test.toml").unwrap_or_else(|e| panic!("{e}"))
}

/// The one alert of a sample, graded with the sample configuration.
fn sample_alert(name: &str) -> Alert {
    let mut alerts = run_file(&events_dir().join(name), &sample_config()).alerts;
    assert_eq!(alerts.len(), 1, "{name}");
    alerts.remove(0)
}

/// A sample's alert through the pipeline with the tuning file `t` (judged on `today`); `None`
/// when the file disables every finding's rule.
fn tuned(t: &Tuning, name: &str, today: NaiveDate) -> Option<Alert> {
    sample_alert(name);
    let path = events_dir().join(name);
    let mut alerts =
        run_file_tuned(&path, &sample_config(), ReadMode::Fast, Some((t, today))).alerts;
    assert!(alerts.len() <= 1, "{name}");
    alerts.pop()
}

/// A sample's alert tuned by the sample file on a day its exceptions are in force.
fn tuned_by_sample_file(name: &str) -> Alert {
    tuned(&sample_tuning(), name, in_force()).unwrap()
}

fn find<'a>(alert: &'a Alert, rule: &str) -> &'a Finding {
    alert
        .findings
        .iter()
        .find(|f| f.rule.id == rule)
        .unwrap_or_else(|| panic!("no {rule} in {:?}", alert.rule_ids()))
}

// ---- the file ----

#[test]
fn the_sample_tuning_file_is_valid_and_complete() {
    let t = sample_tuning();
    assert!(t.rules.is_approved(Some(TERRAFORM)));
    assert!(t.rules.is_break_glass(Some(BREAK_GLASS)));
    assert_eq!(t.required_tags, ["owner"]);
    let overrides: Vec<(&str, bool, Option<Severity>)> = t
        .overrides
        .iter()
        .map(|o| (o.rule.id, o.enabled, o.severity))
        .collect();
    assert_eq!(
        overrides,
        [
            ("access-policy-associated", false, None),
            ("deletion-protection-disabled", true, Some(Severity::High)),
        ]
    );
    let exceptions: Vec<(String, &str, usize)> = t
        .exceptions
        .iter()
        .map(|e| (e.label(), e.rule.id, e.line))
        .collect();
    assert_eq!(
        exceptions,
        [
            ("vendor-support".to_string(), "cross-account-principal", 29),
            (
                "autoscaler-pod-identity".to_string(),
                "pod-identity-association",
                37
            ),
        ]
    );
}

#[test]
fn every_problem_in_a_file_is_reported_at_once_with_its_line() {
    let text = r#"# comment
approved_callers = ["arn:aws:iam::111122223333:role/tf", "terraform"]
required_tag = ["owner"]

[rules.cross-account-principa]
enabled = false

[rules.access-policy-associated]
enable = false
severity = "urgent"

[[exceptions]]
rule = "cross-account-principal"
principal = "vendor-*"
cluster = "prod eu"
account = "4444"
reason = "vendor"
expires = "2026-02-30"

[[exceptions]]
rule = "no-such-rule"
caller = "arn:aws:sts::111122223333:assumed-role/ci/run"

[[exceptions]]
rule = "cross-account-principal"
reason = "everything"
expires = 2026-12-31
"#;
    let err = Tuning::parse(text, "bad.toml").unwrap_err();
    let expected = [
        "bad.toml line 2: approved_callers: `terraform`: not an ARN",
        "bad.toml line 3: unknown key `required_tag`; valid keys: approved_callers, break_glass_roles, required_tags, rules, exceptions",
        "bad.toml line 5: rules.cross-account-principa: unknown rule; valid rules: root-caller, ",
        "bad.toml line 9: rules.access-policy-associated: unknown key `enable`; valid keys: enabled, severity",
        "bad.toml line 10: rules.access-policy-associated: severity: unknown severity `urgent`; valid values: info, low, medium, high, critical",
        "bad.toml line 14: exception #1: principal: `vendor-*`: not a principal ARN pattern",
        "bad.toml line 15: exception #1: cluster: `prod eu`: not a cluster name pattern",
        "bad.toml line 16: exception #1: account: `4444`: not an account id pattern",
        "bad.toml line 18: exception #1: expires: `2026-02-30` is not a date; expected YYYY-MM-DD",
        "bad.toml line 20: exception #2: missing `reason`",
        "bad.toml line 20: exception #2: missing `expires`",
        "bad.toml line 21: exception #2: rule: unknown rule `no-such-rule`; valid rules: root-caller, ",
        "bad.toml line 22: exception #2: caller: `arn:aws:sts::111122223333:assumed-role/ci/run`: an STS session ARN",
        "bad.toml line 24: exception #3: says nothing it covers: give at least one of principal, caller, cluster, account",
    ];
    assert_eq!(err.problems.len(), expected.len(), "{err}");
    for (got, want) in err.problems.iter().zip(expected) {
        assert!(got.starts_with(want), "expected `{want}...`, got `{got}`");
    }
    assert!(
        err.problems[2].contains("exception-expired")
            && err.problems[2].contains("unapproved-caller"),
        "unknown rule ids list every valid one: {}",
        err.problems[2]
    );
}

#[test]
fn a_file_that_is_not_toml_gets_its_syntax_errors_with_lines() {
    // An unquoted account id (TOML refuses the leading zero, where YAML would read a number)
    // and a key given twice.
    let err = Tuning::parse(
        "[[exceptions]]\naccount = 012345678901\naccount = \"012345678901\"\n",
        "broken.toml",
    )
    .unwrap_err();
    assert_eq!(err.problems.len(), 2, "{err}");
    assert!(
        err.problems[0].starts_with("broken.toml line 2: not valid TOML: unexpected leading zero")
    );
    assert!(err.problems[1].starts_with("broken.toml line 3: not valid TOML: duplicate key"));
    // An unclosed list echoes on the following lines: one error per line at most.
    let err = Tuning::parse(
        "approved_callers = [\"arn:aws:iam::111122223333:role/tf\"\n\n[rules.x\nenabled = false\n",
        "broken.toml",
    )
    .unwrap_err();
    let lines: Vec<&str> = err
        .problems
        .iter()
        .map(|p| p.split(':').next().unwrap())
        .collect();
    assert_eq!(lines, ["broken.toml line 3", "broken.toml line 4"], "{err}");
}

#[test]
fn a_yaml_tuning_file_is_told_the_format_is_toml() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("tuning.yaml");
    std::fs::write(
        &yaml,
        "approved_callers:\n  - arn:aws:iam::111122223333:role/terraform-deployer\n",
    )
    .unwrap();
    let err = Tuning::read(&yaml).unwrap_err();
    let last = err.problems.last().unwrap();
    assert!(
        last.contains("tuning.yaml: the tuning file is TOML") && last.contains("YAML"),
        "{err}"
    );
    // The same mistake in a file named .toml gets the syntax errors alone.
    let toml = dir.path().join("tuning.toml");
    std::fs::copy(&yaml, &toml).unwrap();
    let err = Tuning::read(&toml).unwrap_err();
    assert!(err.problems.iter().all(|p| !p.contains("YAML")), "{err}");
}

#[test]
fn wrong_types_and_empty_values_name_the_key_and_what_is_expected() {
    let err = Tuning::parse(
        r#"break_glass_roles = "arn:aws:iam::111122223333:role/bg"
required_tags = ["owner", 7, "bad{tag}"]
[rules.cluster-created]
[rules.cluster-deleted]
enabled = "no"
[[exceptions]]
id = "a"
rule = "cluster-created"
cluster = []
reason = " "
expires = 2026-12-31T10:00:00
caller = "arn:aws:iam::111122223333:role/terraform-deployer"
[[exceptions]]
id = "a"
rule = "cluster-created"
cluster = "x"
reason = "r"
expires = 2026-12-31
caller = "arn:aws:iam::111122223333:role/terraform-deployer"
"#,
        "types.toml",
    )
    .unwrap_err();
    let text = err.to_string();
    for want in [
        "types.toml line 1: break_glass_roles: expected a list of strings",
        "types.toml line 2: required_tags: expected a string, not `7`",
        "types.toml line 2: required_tags: `bad{tag}`: not a tag key",
        "types.toml line 3: rules.cluster-created: sets nothing",
        "types.toml line 5: rules.cluster-deleted: enabled: expected true or false, not `no`",
        "types.toml line 9: exception #1: cluster: the list is empty",
        "types.toml line 10: exception #1: reason: is empty",
        "types.toml line 11: exception #1: expires: `2026-12-31T10:00:00` is not a date",
    ] {
        assert!(text.contains(want), "missing `{want}` in:\n{text}");
    }
    // The second exception is fine on its own, so its duplicate id is no problem until the
    // first is fixed.
    assert_eq!(err.problems.len(), 8, "{text}");
}

#[test]
fn duplicate_exception_ids_are_refused() {
    let one = "rule = \"cluster-created\"\ncluster = \"x\"\nreason = \"r\"\nexpires = 2026-12-31\ncaller = \"arn:aws:iam::111122223333:role/terraform-deployer\"\n";
    let err = Tuning::parse(
        &format!("[[exceptions]]\nid = \"a\"\n{one}[[exceptions]]\nid = \"a\"\n{one}"),
        "dup.toml",
    )
    .unwrap_err();
    assert_eq!(
        err.problems,
        ["dup.toml line 8: exception #2: id `a` is already used by exception #1"]
    );
}

#[test]
fn the_file_adds_to_the_flags_and_never_replaces_them() {
    let flags = RuleConfig::new(
        &["arn:aws:iam::111122223333:role/other".to_string()],
        "--approved-caller",
        &[],
        "--break-glass",
    )
    .unwrap();
    let merged = flags.merge(&sample_tuning().rules);
    assert!(merged.is_approved(Some(TERRAFORM)));
    assert!(merged.is_approved(Some("arn:aws:iam::111122223333:role/other")));
    assert_eq!(merged.approved_callers.len(), 2);
    let again = merged.merge(&sample_tuning().rules);
    assert_eq!(
        again.approved_callers.len(),
        2,
        "a principal is listed once"
    );
}

// ---- applying it ----

#[test]
fn a_file_without_overrides_or_exceptions_changes_no_sample_alert() {
    let t = tuning("approved_callers = [\"arn:aws:iam::111122223333:role/terraform-deployer\"]");
    for sample in eks_access_watch::ingest::expand_paths(&[events_dir()]).unwrap() {
        let tuned = run_file_tuned(
            &sample,
            &sample_config(),
            ReadMode::Fast,
            Some((&t, in_force())),
        );
        let untuned = run_file(&sample, &sample_config()).alerts;
        assert_eq!(tuned.alerts.len(), untuned.len(), "{}", sample.display());
        for (after, alert) in tuned.alerts.iter().zip(&untuned) {
            let json = eks_access_watch::render::json::to_string(alert);
            assert_eq!(after, alert, "{}", sample.display());
            assert_eq!(eks_access_watch::render::json::to_string(after), json);
        }
    }
}

#[test]
fn a_disabled_rule_drops_its_findings_and_an_alert_left_with_none() {
    let t = sample_tuning();
    assert_eq!(
        tuned(&t, "AssociateAccessPolicy-view-routine.json", in_force()),
        None
    );
    let alert = tuned(
        &t,
        "AssociateAccessPolicy-edit-kube-system.json",
        in_force(),
    )
    .unwrap();
    assert_eq!(
        alert.rule_ids(),
        ["system-namespace-write", "unapproved-caller"]
    );
}

#[test]
fn a_severity_override_replaces_the_grade_and_keeps_the_rules_own() {
    let alert = tuned_by_sample_file("UpdateClusterConfig-deletion-protection-off.json");
    let f = find(&alert, "deletion-protection-disabled");
    assert_eq!(
        (f.severity, f.rule_severity),
        (Severity::High, Some(Severity::Medium))
    );
    assert_eq!(alert.severity, Severity::High);
    let json = eks_access_watch::render::json::to_value(&alert);
    assert_eq!(json["findings"][0]["rule_severity"], "medium");
    assert!(
        render::text(&alert).contains("severity set by the tuning file; the rule graded it medium")
    );
    crate::fuzz_body::assert_graded_as_declared(&alert);
}

#[test]
fn lowering_a_finding_lowers_the_unapproved_caller_graded_over_it() {
    let t = tuning("[rules.cluster-admin-granted]\nseverity = \"low\"\n");
    let alert = tuned(
        &t,
        "AssociateAccessPolicy-cluster-admin-by-human.json",
        in_force(),
    )
    .unwrap();
    assert_eq!(
        finding(&alert, "cluster-admin-granted"),
        Some(Severity::Low)
    );
    assert_eq!(finding(&alert, "unapproved-caller"), Some(Severity::Medium));
    assert_eq!(alert.severity, Severity::Medium);
    let pinned = tuning(
        "[rules.cluster-admin-granted]\nseverity = \"low\"\n[rules.unapproved-caller]\nseverity = \"critical\"\n",
    );
    let alert = tuned(
        &pinned,
        "AssociateAccessPolicy-cluster-admin-by-human.json",
        in_force(),
    )
    .unwrap();
    assert_eq!(
        finding(&alert, "unapproved-caller"),
        Some(Severity::Critical)
    );
    assert_eq!(alert.severity, Severity::Critical);
}

#[test]
fn an_override_keeps_a_failed_call_capped_at_high() {
    let t = tuning(
        "[rules.self-grant]\nseverity = \"critical\"\n[rules.denied-attempt]\nseverity = \"critical\"\n",
    );
    let alert = tuned(&t, "AssociateAccessPolicy-denied-self.json", in_force()).unwrap();
    assert!(alert.error_code.is_some());
    assert_eq!(
        finding(&alert, "self-grant"),
        Some(Severity::High),
        "self-grant caps failed calls"
    );
    assert_eq!(
        finding(&alert, "denied-attempt"),
        Some(Severity::Critical),
        "denied-attempt keeps its grade on failed calls"
    );
}

#[test]
fn a_suppressed_finding_stays_marked_and_counts_towards_nothing() {
    let alert = tuned_by_sample_file("AssociateAccessPolicy-cross-account.json");
    let f = find(&alert, "cross-account-principal");
    let mark = f.suppressed_by.as_ref().unwrap();
    assert_eq!(
        (mark.exception.as_str(), mark.expires.as_str()),
        ("vendor-support", "2026-12-31")
    );
    assert!(mark.reason.starts_with("Vendor support contract SEC-1234"));
    assert_eq!(f.severity, Severity::High, "the finding keeps its grade");
    // Without it only the unapproved caller counts, graded over nothing.
    assert_eq!(alert.severity, Severity::Low);
    assert_eq!(alert.rule_ids(), ["unapproved-caller"]);
    assert_eq!(alert.suppressed_rule_ids(), ["cross-account-principal"]);
    let json = eks_access_watch::render::json::to_value(&alert);
    assert_eq!(
        json["findings"][0]["suppressed_by"]["exception"],
        "vendor-support"
    );
    assert!(json["findings"][1].get("suppressed_by").is_none());
    assert!(
        render::subject(&alert).starts_with(
            "[LOW] prod-eu: (suppressed, unapproved caller) Cluster access granted to role/vendor-support"
        ),
        "{}",
        render::subject(&alert)
    );
    let text = render::text(&alert);
    assert!(
        text.contains("(suppressed by exception vendor-support until 2026-12-31:"),
        "{text}"
    );
    assert!(
        !text.contains("Confirm the external account is a known partner"),
        "no next step for a suppressed finding"
    );
    assert!(
        render::table_row(&alert, false)
            .contains("unapproved-caller (suppressed: cross-account-principal)")
    );
}

#[test]
fn an_alert_whose_every_finding_is_suppressed_is_info_and_says_why() {
    let t = tuning(
        r#"[[exceptions]]
rule = "cluster-admin-granted"
principal = "arn:aws:iam::111122223333:role/ci-deployer"
reason = "CI deploys cluster add-ons"
expires = 2026-12-31
[[exceptions]]
rule = "unapproved-caller"
caller = "arn:aws:iam::111122223333:role/platform-engineer"
reason = "Platform engineers may grant by hand this quarter"
expires = 2026-12-31
"#,
    );
    let alert = tuned(
        &t,
        "AssociateAccessPolicy-cluster-admin-by-human.json",
        in_force(),
    )
    .unwrap();
    assert_eq!(alert.severity, Severity::Info);
    assert!(alert.rule_ids().is_empty());
    assert!(
        render::subject(&alert)
            .starts_with("[INFO] prod-eu: (suppressed, unapproved caller) ClusterAdmin granted"),
        "{}",
        render::subject(&alert)
    );
    assert!(render::next_steps(&alert).is_empty());
}

#[test]
fn an_exception_applies_through_its_last_day_then_is_reported() {
    let t = sample_tuning();
    let last_day = tuned(
        &t,
        "AssociateAccessPolicy-cross-account.json",
        date("2026-12-31"),
    )
    .unwrap();
    assert!(!find(&last_day, "cross-account-principal").counts());
    let after = tuned(
        &t,
        "AssociateAccessPolicy-cross-account.json",
        date("2027-01-01"),
    )
    .unwrap();
    let f = find(&after, "cross-account-principal");
    assert!(f.counts());
    assert_eq!(
        f.expired_exception.as_ref().unwrap().exception,
        "vendor-support"
    );
    assert_eq!(after.severity, Severity::High, "counted again");
    assert!(
        render::text(&after)
            .contains("(exception vendor-support expired on 2026-12-31: renew or remove it;")
    );
    let json = eks_access_watch::render::json::to_value(&after);
    assert_eq!(
        json["findings"][0]["expired_exception"]["expires"],
        "2026-12-31"
    );

    let expired: Vec<String> = t.expired(date("2026-10-01")).map(|e| e.label()).collect();
    assert_eq!(expired, ["autoscaler-pod-identity"]);
    let report = t.expired_findings(date("2027-01-01"));
    assert_eq!(report.len(), 2);
    assert!(
        report
            .iter()
            .all(|f| f.rule == &EXCEPTION_EXPIRED && f.severity == Severity::Low)
    );
    assert!(
        report[0].summary.starts_with(&format!(
            "Exception vendor-support for cross-account-principal ({} line 29) expired on 2026-12-31",
            sample_file().display()
        )),
        "{}",
        report[0].summary
    );
    assert!(t.expired_findings(in_force()).is_empty());
}

#[test]
fn expired_exception_reports_follow_the_files_own_overrides() {
    let base = "rule = \"cluster-created\"\ncluster = \"x\"\nreason = \"r\"\nexpires = 2026-01-31\ncaller = \"arn:aws:iam::111122223333:role/terraform-deployer\"\n";
    let off = tuning(&format!(
        "[rules.exception-expired]\nenabled = false\n[[exceptions]]\n{base}"
    ));
    assert!(off.expired_findings(in_force()).is_empty());
    let louder = tuning(&format!(
        "[rules.exception-expired]\nseverity = \"high\"\n[[exceptions]]\n{base}"
    ));
    assert_eq!(
        louder.expired_findings(in_force())[0].severity,
        Severity::High
    );
}

/// Each pattern field on its own: it must match for the exception to apply, and a finding
/// without that value (standing access has no caller) is never covered by it.
#[test]
fn each_pattern_field_must_match_for_the_exception_to_apply() {
    let cases = [
        ("principal", VENDOR, "arn:aws:iam::444455556666:role/other"),
        (
            "principal",
            "arn:aws:iam::*:role/vendor-*",
            "arn:aws:iam::444455556666:role/partner",
        ),
        (
            "caller",
            TERRAFORM,
            "arn:aws:iam::111122223333:role/platform-engineer",
        ),
        ("cluster", "prod-*", "staging-eu"),
        ("account", "111122223333", "999988887777"),
    ];
    for (field, pattern, other) in cases {
        // An exception always names who it covers: the cluster and account cases also name
        // the base principal.
        let who = match field {
            "cluster" | "account" => format!("principal = \"{VENDOR}\"\n"),
            _ => String::new(),
        };
        let t = tuning(&format!(
            "[[exceptions]]\nrule = \"cross-account-principal\"\n{field} = \"{pattern}\"\n{who}reason = \"r\"\nexpires = 2026-12-31\n"
        ));
        let base = Scope {
            cluster: Some("prod-eu"),
            account: Some("111122223333"),
            principal: Some(VENDOR),
            caller: Some(TERRAFORM),
            failed: false,
        };
        let with = |value: Option<&'static str>| {
            let mut c = base;
            match field {
                "principal" => c.principal = value,
                "caller" => c.caller = value,
                "cluster" => c.cluster = value,
                _ => c.account = value,
            }
            c
        };
        let f = || {
            Finding::new(
                rules::find("cross-account-principal").unwrap(),
                Severity::High,
                "x".into(),
            )
        };
        let covered = |c: Scope| !t.tune(f(), &c, in_force()).unwrap().counts();
        assert!(
            covered(base),
            "{field} = {pattern} should cover the base context"
        );
        assert!(
            !covered(with(Some(other))),
            "{field} = {pattern} must not cover {other}"
        );
        assert!(
            !covered(with(None)),
            "{field} = {pattern} must not cover a finding without one"
        );
        let other_rule = Finding::new(
            rules::find("access-entry-created").unwrap(),
            Severity::Low,
            "x".into(),
        );
        assert!(
            t.tune(other_rule, &base, in_force()).unwrap().counts(),
            "only its own rule"
        );
    }
}

#[test]
fn every_field_an_exception_sets_must_match_and_a_list_matches_any() {
    let t = tuning(
        r#"[[exceptions]]
rule = "cross-account-principal"
principal = "arn:aws:iam::444455556666:role/vendor-support"
cluster = ["prod-*", "staging-eu"]
reason = "r"
expires = 2026-12-31
"#,
    );
    let f = || {
        Finding::new(
            rules::find("cross-account-principal").unwrap(),
            Severity::High,
            "x".into(),
        )
    };
    let at = |cluster: &'static str, principal: &'static str| Scope {
        cluster: Some(cluster),
        principal: Some(principal),
        ..Scope::default()
    };
    let covered = |c: Scope| !t.tune(f(), &c, in_force()).unwrap().counts();
    assert!(covered(at("prod-eu", VENDOR)));
    assert!(covered(at(
        "staging-eu",
        "arn:aws:sts::444455556666:assumed-role/vendor-support/s"
    )));
    assert!(!covered(at("dev-eu", VENDOR)), "the cluster must match too");
    assert!(!covered(at(
        "prod-eu",
        "arn:aws:iam::444455556666:role/vendor-other"
    )));
}

/// The audit's path: findings that each carry their own context, tuned in one call.
#[test]
fn findings_with_their_own_context_are_tuned_one_by_one() {
    let t = sample_tuning();
    let rule = rules::find("cross-account-principal").unwrap();
    let on = |cluster: &'static str| Scope {
        cluster: Some(cluster),
        account: Some("111122223333"),
        principal: Some(VENDOR),
        ..Scope::default()
    };
    let tuned = t.tune_each(
        [
            (
                Finding::new(rule, Severity::High, "prod".into()),
                on("prod-eu"),
            ),
            (
                Finding::new(rule, Severity::High, "dev".into()),
                on("dev-eu"),
            ),
            (
                Finding::new(
                    rules::find("access-policy-associated").unwrap(),
                    Severity::Low,
                    "view".into(),
                ),
                on("dev-eu"),
            ),
        ],
        in_force(),
    );
    let shown: Vec<(&str, bool)> = tuned
        .iter()
        .map(|f| (f.summary.as_str(), f.counts()))
        .collect();
    assert_eq!(shown, [("prod", false), ("dev", true)]);
    assert_eq!(rules::grade(&mut tuned.clone()), Severity::High);
}

// ---- arbitrary files ----

/// Lines of a tuning file: real headers, keys and values in any mix, and arbitrary text.
fn tuning_line() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "rule",
        "principal",
        "caller",
        "cluster",
        "account",
        "reason",
        "expires",
        "id",
        "enabled",
        "severity",
        "approved_callers",
        "break_glass_roles",
        "required_tags",
        "other",
    ]);
    let value = prop_oneof![
        Just("\"cross-account-principal\"".to_string()),
        Just(format!("\"{VENDOR}\"")),
        Just("[\"arn:aws:iam::*:role/x-*\", 1]".to_string()),
        Just("[\"prod-*\", \"staging-eu\"]".to_string()),
        Just("2026-12-31".to_string()),
        Just("true".to_string()),
        Just("\"high\"".to_string()),
        Just("\"*\"".to_string()),
        Just("[]".to_string()),
        any::<String>().prop_map(|s| format!("{s:?}")),
    ];
    prop_oneof![
        Just("[[exceptions]]".to_string()),
        Just("[rules.cluster-created]".to_string()),
        Just("[rules.not-a-rule]".to_string()),
        (key, value).prop_map(|(k, v)| format!("{k} = {v}")),
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any text is either a valid file, which tunes a sample alert without panicking, or
    /// refused with every problem naming its line.
    #[test]
    fn any_text_is_a_tuning_file_or_problems_with_lines(lines in prop::collection::vec(tuning_line(), 0..12)) {
        match Tuning::parse(&lines.join("\n"), "any.toml") {
            Ok(t) => {
                for today in [in_force(), date("2030-01-01")] {
                    if let Some(alert) = tuned(&t, "AssociateAccessPolicy-cross-account.json", today) {
                        let _ = render::text(&alert);
                        let _ = render::subject(&alert);
                    }
                    let _ = t.expired_findings(today);
                }
            }
            Err(e) => {
                prop_assert!(!e.problems.is_empty());
                for p in &e.problems {
                    prop_assert!(p.starts_with("any.toml line "), "{}", p);
                }
            }
        }
    }
}

#[test]
fn the_integrity_rules_may_be_raised_but_never_turned_off_lowered_or_excepted() {
    let err = Tuning::parse(
        "[rules.root-caller]\nenabled = false\n\n[rules.break-glass-session-activity]\nseverity = \"high\"\n\n[[exceptions]]\nrule = \"self-grant\"\nprincipal = \"arn:aws:iam::111122223333:role/x\"\nreason = \"r\"\nexpires = 2026-12-31\n",
        "t.toml",
    )
    .unwrap_err()
    .to_string();
    for part in [
        "t.toml line 1: rules.root-caller: root-caller reports the watcher being bypassed or blinded: the tuning file may raise it, never turn it off or lower it below critical",
        "t.toml line 4: rules.break-glass-session-activity: break-glass-session-activity reports",
        "line 8: exception #1: rule: self-grant reports the watcher being bypassed or blinded: no exception can suppress it",
    ] {
        assert!(err.contains(part), "{part}\nin\n{err}");
    }
    // Raising one is the team's call.
    assert!(Tuning::parse("[rules.self-grant]\nseverity = \"critical\"\n", "t.toml").is_ok());
    for rule in rules::LOCKED {
        assert!(rules::find(rule.id).is_some(), "{}", rule.id);
    }
}

/// An exception names who it covers (a principal or a caller pattern whose name is not only
/// wildcards): by account or cluster alone, or with `role/*`, it would hide whoever acts
/// there. And it lasts at most 180 days from the day the file is read. Each refusal names its
/// line.
#[test]
fn an_exception_names_who_it_covers_and_lasts_at_most_180_days() {
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
    let exception = |lines: &str| {
        format!("[[exceptions]]\nrule = \"cross-account-principal\"\nreason = \"r\"\n{lines}\n")
    };
    let refused = |lines: &str| -> Vec<String> {
        Tuning::parse_as_of(&exception(lines), "t.toml", today)
            .unwrap_err()
            .problems
    };
    let by_account = refused("account = \"444455556666\"\nexpires = 2026-12-31");
    assert_eq!(by_account.len(), 1, "{by_account:?}");
    assert!(
        by_account[0].starts_with("t.toml line 1: exception #1: names no principal or caller: an exception by account or cluster alone is refused"),
        "{by_account:?}"
    );
    assert!(
        refused("cluster = \"prod-*\"\nexpires = 2026-12-31")[0]
            .contains("names no principal or caller")
    );
    for everyone in [
        "arn:aws:iam::444455556666:role/*",
        "arn:aws:iam::*:*",
        "arn:aws:iam::444455556666:user/**",
    ] {
        let p = refused(&format!("principal = \"{everyone}\"\nexpires = 2026-12-31"));
        assert!(
            p.iter().any(
                |p| p.starts_with("t.toml line 4: exception #1: principal: `")
                    && p.contains("names no one")
            ),
            "{everyone}: {p:?}"
        );
    }
    let p = refused(
        "caller = [\"arn:aws:iam::111122223333:role/terraform-deployer\", \"arn:aws:iam::111122223333:role/*\"]\nexpires = 2026-12-31",
    );
    assert!(
        p.iter()
            .any(|p| p.contains("caller: `arn:aws:iam::111122223333:role/*` names no one")),
        "{p:?}"
    );
    // 180 days after 2026-12-04 is 2027-06-02.
    let late = refused(
        "principal = \"arn:aws:iam::444455556666:role/vendor-support\"\nexpires = 2027-06-03",
    );
    assert_eq!(
        late,
        [
            "t.toml line 5: exception #1: expires: 2027-06-03 is more than 180 days after today (2026-12-04): an exception lasts at most until 2027-06-02; renew it when it lapses"
        ]
    );
    for fine in [
        "principal = \"arn:aws:iam::444455556666:role/vendor-support\"\nexpires = 2027-06-02",
        "principal = \"arn:aws:iam::*:role/vendor-*\"\naccount = \"111122223333\"\nexpires = 2026-12-31",
        "caller = \"arn:aws:iam::111122223333:role/terraform-deployer\"\ncluster = \"prod-*\"\nexpires = 2026-01-31",
    ] {
        assert!(
            Tuning::parse_as_of(&exception(fine), "t.toml", today).is_ok(),
            "{fine}"
        );
    }
}

/// Every locked rule, the watcher's own included (`watcher-tampered`, `tuning-changed`),
/// refuses to be turned off, lowered or excepted, naming the line.
#[test]
fn no_locked_rule_can_be_turned_off_lowered_or_excepted() {
    assert!(rules::is_locked(rules::find("watcher-tampered").unwrap()));
    assert!(rules::is_locked(rules::find("tuning-changed").unwrap()));
    for rule in rules::LOCKED {
        let id = rule.id;
        let off = Tuning::parse(&format!("[rules.{id}]\nenabled = false\n"), "t.toml")
            .unwrap_err()
            .to_string();
        assert!(
            off.contains(&format!(
                "t.toml line 1: rules.{id}: {id} reports the watcher being bypassed or blinded"
            )),
            "{off}"
        );
        let err = Tuning::parse(&format!("[rules.{id}]\nseverity = \"info\"\n"), "t.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("never turn it off or lower it"), "{id}: {err}");
        let excepted = Tuning::parse(
            &format!("[[exceptions]]\nrule = \"{id}\"\nprincipal = \"arn:aws:iam::111122223333:role/x\"\nreason = \"r\"\nexpires = 2026-12-31\n"),
            "t.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            excepted.contains("no exception can suppress it"),
            "{id}: {excepted}"
        );
    }
}
