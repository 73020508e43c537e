use std::collections::BTreeSet;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use eks_access_watch::ingest::ReadMode;
use eks_access_watch::render;
use eks_access_watch::rules::{CATALOGUE, Eval};

use crate::util::{events_dir, run_file, run_file_with, run_sequence, sample_config, sequences};

/// Rules no sample in `events/` can fire, and where their tests are instead.
pub const ELSEWHERE: &[(&str, &str)] = &[
    (
        "lockout-risk",
        "needs enrichment: tests/aws.rs and the handler goldens",
    ),
    (
        "no-trail-logging",
        "made by the scheduled self-check: tests/aws.rs",
    ),
    (
        "tuning-invalid",
        "made at the Lambda's cold start from the tuning file it read: tests/tuning_lambda.rs",
    ),
    (
        "no-trail-notifications",
        "made by the scheduled self-check: tests/s3trail.rs",
    ),
    (
        "trail-gap",
        "made by verify-trail over digests: tests/trail_digest.rs",
    ),
    (
        "trail-log-altered",
        "made by verify-trail over digests: tests/trail_digest.rs",
    ),
    (
        "unparseable-watched-event",
        "its record is also a problem (exit 2), so it lives in tests/data: tests/ingest.rs, tests/aws.rs",
    ),
];

/// The single-input samples (the sequences in events/sequences/ are read as wholes).
pub fn samples() -> Vec<PathBuf> {
    eks_access_watch::ingest::expand_paths(&[events_dir()])
        .unwrap()
        .into_iter()
        .filter(|p| !p.starts_with(events_dir().join("sequences")))
        .collect()
}

/// `events/X.json` -> `events/X.golden` (also for `.json.gz`, `.ndjson`).
pub fn golden_path(sample: &Path) -> PathBuf {
    let name = sample.file_name().unwrap().to_string_lossy();
    let stem = [".json.gz", ".json", ".ndjson", ".jsonl", ".gz"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext))
        .unwrap_or(&name);
    sample.with_file_name(format!("{stem}.golden"))
}

fn render(sample: &Path) -> String {
    render_result(&run_file(sample, &sample_config()))
}

fn render_result(result: &crate::util::FileResult) -> String {
    let mut out = String::new();
    for p in &result.problems {
        let _ = writeln!(out, "# problem: {p}");
    }
    if result.alerts.is_empty() {
        let _ = writeln!(out, "# no alert");
        for s in &result.skipped {
            let _ = writeln!(out, "# skipped {s}");
        }
    }
    for (i, alert) in result.alerts.iter().enumerate() {
        let _ = writeln!(
            out,
            "# alert {}\n{}\n",
            i + 1,
            eks_access_watch::render::json::to_string_pretty(alert)
        );
        let _ = writeln!(out, "{}", render::text(alert));
    }
    out
}

/// Each sample's alerts (JSON and text) equal its golden file. Regenerate deliberately with
/// `UPDATE_GOLDEN=1 cargo test golden`, then review the diff.
#[test]
fn every_sample_matches_its_golden_output() {
    let mut failures = Vec::new();
    for sample in samples() {
        if let Err(f) = crate::util::check_golden(&sample, &golden_path(&sample), &render(&sample))
        {
            failures.push(f);
        }
    }
    assert!(
        failures.is_empty(),
        "samples differing from their golden output: {failures:#?}"
    );
}

/// Each sequence's alerts, correlated across its inputs, equal its golden file
/// (`events/sequences/<name>.golden`).
#[test]
fn every_sequence_matches_its_golden_output() {
    let mut failures = Vec::new();
    let all = sequences();
    assert!(
        all.len() >= 8,
        "the correlation sequences are there: {all:?}"
    );
    for (dir, files) in all {
        let result = run_sequence(&files, &sample_config());
        assert!(
            result.problems.is_empty(),
            "{}: {:?}",
            dir.display(),
            result.problems
        );
        let golden = dir.with_extension("golden");
        if let Err(f) = crate::util::check_golden(&dir, &golden, &render_result(&result)) {
            failures.push(f);
        }
    }
    assert!(
        failures.is_empty(),
        "sequences differing from their golden output: {failures:#?}"
    );
}

#[test]
fn every_sample_is_read_without_problems() {
    for sample in samples() {
        let result = run_file(&sample, &sample_config());
        assert!(
            result.problems.is_empty(),
            "{}: {:?}",
            sample.display(),
            result.problems
        );
    }
}

#[test]
fn every_rule_fires_on_some_sample() {
    let config = sample_config();
    let fired: BTreeSet<&str> = samples()
        .iter()
        .flat_map(|s| run_file(s, &config).alerts)
        .chain(
            sequences()
                .into_iter()
                .flat_map(|(_, files)| run_sequence(&files, &config).alerts),
        )
        .flat_map(|a| a.findings.into_iter().map(|f| f.rule.id))
        .collect();
    // Rules whose findings other commands make (audit, migrate) have their own goldens.
    let missing: Vec<&str> = CATALOGUE
        .iter()
        .filter(|r| matches!(r.eval, Eval::Change(_)))
        .map(|r| r.id)
        .filter(|id| !fired.contains(*id) && !ELSEWHERE.iter().any(|(e, _)| e == id))
        .collect();
    assert!(
        missing.is_empty(),
        "rules that fire on no sample: {missing:?}"
    );
}

#[test]
fn every_golden_file_has_its_sample() {
    let samples: BTreeSet<PathBuf> = samples().iter().map(|s| golden_path(s)).collect();
    for entry in std::fs::read_dir(events_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "golden") {
            // `X.sns.golden` (published messages) belongs to the same sample as `X.golden`.
            let name = path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .replace(".sns.golden", ".golden");
            assert!(
                samples.contains(&path.with_file_name(name)),
                "orphan golden file {}",
                path.display()
            );
        }
    }
}

#[test]
fn encoded_principals_are_decoded_in_every_alert() {
    for sample in samples() {
        for alert in run_file(&sample, &sample_config()).alerts {
            for arn in [&alert.principal_arn, &alert.policy_arn, &alert.actor_arn]
                .into_iter()
                .flatten()
            {
                assert!(
                    !arn.contains('%'),
                    "{}: undecoded ARN {arn}",
                    sample.display()
                );
            }
        }
    }
}

/// The byte pre-filter and the splitter never hide a watched record: the fast path and a
/// strict parse of every record give the same alerts on every sample.
#[test]
fn fast_path_and_full_parse_agree_on_samples() {
    let config = sample_config();
    for sample in samples() {
        let fast = run_file_with(&sample, &config, ReadMode::Fast);
        let strict = run_file_with(&sample, &config, ReadMode::Strict);
        assert_eq!(fast.alerts, strict.alerts, "{}", sample.display());
    }
}

#[test]
fn every_sample_alert_is_graded_as_its_rules_declare() {
    for sample in samples() {
        for alert in run_file(&sample, &sample_config()).alerts {
            crate::fuzz_body::assert_graded_as_declared(&alert);
        }
    }
}
