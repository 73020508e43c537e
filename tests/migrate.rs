//! `migrate` without the cluster: each sample ConfigMap against its goldens in every format,
//! the input forms, the pitfalls, and the generated Terraform, CloudFormation and shell script
//! read back by their own parsers.

use std::path::{Path, PathBuf};
use std::process::Command;

use eks_access_watch::awsauth::{self, AwsAuth};
use eks_access_watch::migrate::{self, Format, Options, Plan};
use eks_access_watch::rules::{CATALOGUE, Topic};
use serde_json::Value;

use crate::util::{check_golden, events_dir, sample_config};

pub const CLUSTER: &str = "prod";
pub const REGION: &str = "eu-west-1";

pub fn samples() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(events_dir().join("aws-auth"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    v.sort();
    v
}

pub fn sample(name: &str) -> AwsAuth {
    let text = std::fs::read_to_string(events_dir().join("aws-auth").join(name)).unwrap();
    awsauth::parse_document(&text).unwrap()
}

/// The plan of a sample, offline, with the sample configuration and cluster `prod`.
pub fn offline(auth: &AwsAuth) -> Plan {
    let config = sample_config();
    let options = Options {
        cluster: Some(CLUSTER),
        config: &config,
    };
    migrate::plan(auth, &options, None).unwrap()
}

/// `events/aws-auth/eksctl.yaml` -> `events/aws-auth/eksctl.<format>.golden`.
pub fn golden(sample: &Path, suffix: &str) -> PathBuf {
    let stem = sample.file_stem().unwrap().to_string_lossy();
    sample.with_file_name(format!("{stem}.{suffix}.golden"))
}

#[test]
fn every_sample_configmap_matches_its_golden_in_every_format() {
    let mut failures = Vec::new();
    for path in samples() {
        let auth = awsauth::parse_document(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let plan = offline(&auth);
        for format in Format::ALL {
            let got = migrate::render(&plan, *format, Some(REGION));
            if let Err(f) = check_golden(&path, &golden(&path, format.as_str()), &got) {
                failures.push(format!("{f} ({format})"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "differing from their goldens: {failures:#?}"
    );
}

#[test]
fn there_is_a_sample_from_eksctl_the_terraform_module_and_a_hand_edit() {
    let names: Vec<String> = samples()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["eksctl.yaml", "hand-edited.yaml", "terraform-module.yaml"]
    );
}

#[test]
fn the_json_form_and_the_data_section_alone_plan_the_same() {
    for path in samples() {
        let yaml = std::fs::read_to_string(&path).unwrap();
        let doc: Value = serde_yaml_ng::from_str(&yaml).unwrap();
        let from_yaml = offline(&awsauth::parse_document(&yaml).unwrap());
        let json = serde_json::to_string_pretty(&doc).unwrap();
        let from_json = offline(&awsauth::parse_document(&json).unwrap());
        assert_eq!(from_yaml, from_json, "{} as -o json", path.display());
        let data = serde_yaml_ng::to_string(&doc["data"]).unwrap();
        let from_data = offline(&awsauth::parse_document(&data).unwrap());
        assert_eq!(from_yaml, from_data, "{} data only", path.display());
    }
}

fn rules_of(plan: &Plan) -> Vec<&'static str> {
    plan.findings.iter().map(|f| f.rule.id).collect()
}

#[test]
fn the_hand_edited_configmap_shows_every_offline_pitfall() {
    let plan = offline(&sample("hand-edited.yaml"));
    let fired = rules_of(&plan);
    for id in [
        "migration-account-mapping",
        "migration-system-masters",
        "migration-role-path",
        "migration-session-arn",
        "migration-duplicate-principal",
        "migration-malformed-groups",
        "migration-unsupported-group",
        "migration-paths-unverified",
    ] {
        assert!(fired.contains(&id), "{id} missing from {fired:?}");
    }
    assert_eq!(
        fired
            .iter()
            .filter(|r| **r == "migration-paths-unverified")
            .count(),
        1,
        "one finding for unchecked paths, not one per row"
    );
    assert_eq!(plan.safe_to_switch, None);
    assert!(plan.entries.iter().all(|e| e.status.is_none()));
}

#[test]
fn system_masters_advice_spares_break_glass_and_the_approved_automation() {
    let plan = offline(&sample("terraform-module.yaml"));
    let masters: Vec<&str> = plan
        .findings
        .iter()
        .filter(|f| f.rule.id == "migration-system-masters")
        .map(|f| f.summary.as_str())
        .collect();
    assert_eq!(masters.len(), 2);
    assert!(
        masters
            .iter()
            .all(|s| !s.contains("AmazonEKSAdminPolicy instead")),
        "{masters:?}"
    );
    let plan = offline(&sample("eksctl.yaml"));
    let human = plan
        .findings
        .iter()
        .find(|f| f.summary.starts_with("role/platform-admin"))
        .unwrap();
    assert!(
        human
            .summary
            .contains("consider AmazonEKSAdminPolicy instead"),
        "{}",
        human.summary
    );
}

#[test]
fn node_roles_become_node_entries_and_system_masters_cluster_admin() {
    let plan = offline(&sample("eksctl.yaml"));
    let types: Vec<&str> = plan.entries.iter().map(|e| e.entry_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "EC2_LINUX",
            "EC2_WINDOWS",
            "FARGATE_LINUX",
            "STANDARD",
            "STANDARD",
            "STANDARD"
        ]
    );
    assert!(
        plan.entries[..3].iter().all(|e| e.username.is_none()
            && e.kubernetes_groups.is_empty()
            && e.policies.is_empty())
    );
    let admin = &plan.entries[3];
    assert_eq!(
        admin.policies[0].describe(),
        "AmazonEKSClusterAdminPolicy (cluster)"
    );
    assert!(
        admin.kubernetes_groups.is_empty(),
        "system:masters is never carried as a group"
    );
}

#[test]
fn duplicates_are_merged_and_session_rows_use_the_role() {
    let plan = offline(&sample("hand-edited.yaml"));
    let dev = plan
        .entries
        .iter()
        .find(|e| e.principal_arn.ends_with(":role/developers"))
        .unwrap();
    assert_eq!(dev.kubernetes_groups, ["dev-readers", "dev-writers"]);
    assert_eq!(dev.source.label(), "mapRoles[5]");
    assert_eq!(plan.entries.iter().filter(|e| e.key == dev.key).count(), 1);
    assert!(
        plan.entries
            .iter()
            .any(|e| e.principal_arn == "arn:aws:iam::111122223333:role/oncall")
    );
    assert!(
        plan.entries
            .iter()
            .all(|e| !e.principal_arn.contains(":sts:"))
    );
}

#[test]
fn a_row_that_cannot_be_a_principal_is_an_error_naming_it_not_a_partial_plan() {
    let auth = awsauth::parse_document(
        "mapRoles: |\n  - rolearn: arn:aws:iam::111122223333:role/ok\n  - rolearn: not-an-arn\n  - rolearn: arn:aws:iam::111122223333:policy/p\nmapUsers: |\n  - userarn: arn:aws:iam::12:user/x\n",
    )
    .unwrap();
    let config = sample_config();
    let err = migrate::plan(
        &auth,
        &Options {
            cluster: None,
            config: &config,
        },
        None,
    )
    .unwrap_err();
    assert_eq!(err.problems.len(), 3, "{err}");
    assert!(
        err.problems[0].starts_with("mapRoles[1]: `rolearn` `not-an-arn` is not an ARN"),
        "{err}"
    );
    assert!(err.problems[1].starts_with("mapRoles[2]:"), "{err}");
    assert!(err.problems[2].contains("12-digit account"), "{err}");
}

#[test]
fn every_migration_rule_fires_in_a_golden_or_a_live_test() {
    // The live-only rules fire in tests/migrate_live.rs; the rest must appear in the goldens.
    let live_only = ["migration-principal-missing", "migration-creator-admin"];
    let mut fired = std::collections::BTreeSet::new();
    for path in samples() {
        let auth = awsauth::parse_document(&std::fs::read_to_string(&path).unwrap()).unwrap();
        fired.extend(rules_of(&offline(&auth)));
    }
    for rule in CATALOGUE.iter().filter(|r| r.topic == Topic::Migration) {
        assert!(
            fired.contains(rule.id) || live_only.contains(&rule.id),
            "{} fires on no sample ConfigMap",
            rule.id
        );
    }
}

// ---- the generated code, read back ----

/// A ConfigMap whose values try to break out of every output language.
const HOSTILE: &str = r#"mapRoles: |
  - rolearn: arn:aws:iam::111122223333:role/odd
    username: "x:{{SessionName}}'$(touch /tmp/pwned)"
    groups:
      - "${file(\"/etc/passwd\")}"
      - "%{ if true }yes%{ endif }"
      - "a\"b\\c 'q' `id` \nnext"
"#;

fn hostile_plan() -> Plan {
    offline(&awsauth::parse_document(HOSTILE).unwrap())
}

#[test]
fn generated_terraform_parses_and_each_association_depends_on_its_entry() {
    for path in samples() {
        let auth = awsauth::parse_document(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let plan = offline(&auth);
        let tf = migrate::render(&plan, Format::Terraform, None);
        let body = hcl::parse(&tf).unwrap_or_else(|e| panic!("{}: {e}\n{tf}", path.display()));
        let resources: Vec<&hcl::Block> = body
            .blocks()
            .filter(|b| b.identifier() == "resource")
            .collect();
        let label = |b: &hcl::Block, i: usize| b.labels()[i].as_str().to_string();
        let entries: Vec<String> = resources
            .iter()
            .filter(|b| label(b, 0) == "aws_eks_access_entry")
            .map(|b| label(b, 1))
            .collect();
        let creatable = plan.entries.iter().filter(|e| !e.absent).count();
        assert_eq!(entries.len(), creatable, "{}", path.display());
        let mut unique = entries.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), entries.len(), "names are unique");
        for assoc in resources
            .iter()
            .filter(|b| label(b, 0) == "aws_eks_access_policy_association")
        {
            for attr in ["cluster_name", "principal_arn"] {
                let expr = &assoc
                    .body()
                    .attributes()
                    .find(|a| a.key() == attr)
                    .unwrap()
                    .expr;
                let hcl::Expression::Traversal(t) = expr else {
                    panic!(
                        "{attr} of {} is not a reference to its entry",
                        label(assoc, 1)
                    );
                };
                let text = hcl::format::to_string(&**t).unwrap();
                let entry = text.split('.').nth(1).unwrap();
                assert!(
                    text.starts_with("aws_eks_access_entry.")
                        && entries.contains(&entry.to_string()),
                    "{text}"
                );
                assert!(
                    label(assoc, 1).starts_with(entry),
                    "{} belongs to {entry}",
                    label(assoc, 1)
                );
            }
        }
    }
}

#[test]
fn terraform_strings_are_literals_whatever_the_configmap_holds() {
    let plan = hostile_plan();
    let tf = migrate::render(&plan, Format::Terraform, None);
    let body = hcl::parse(&tf).unwrap();
    let entry = body
        .blocks()
        .find(|b| b.identifier() == "resource")
        .unwrap();
    let groups = &entry
        .body()
        .attributes()
        .find(|a| a.key() == "kubernetes_groups")
        .unwrap()
        .expr;
    let ctx = hcl::eval::Context::new();
    let value = hcl::eval::Evaluate::evaluate(groups, &ctx).unwrap();
    let got: Vec<String> = value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(got, plan.entries[0].kubernetes_groups);
    assert_eq!(got[0], "${file(\"/etc/passwd\")}");
}

#[test]
fn generated_cloudformation_is_a_template_of_access_entries() {
    for path in samples().into_iter().chain([PathBuf::from("hostile")]) {
        let plan = if path.ends_with("hostile") {
            hostile_plan()
        } else {
            offline(&awsauth::parse_document(&std::fs::read_to_string(&path).unwrap()).unwrap())
        };
        let text = migrate::render(&plan, Format::CloudFormation, None);
        let doc: Value = serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let resources = doc["Resources"].as_object().unwrap();
        assert_eq!(
            resources.len(),
            plan.entries.iter().filter(|e| !e.absent).count()
        );
        for (e, (id, r)) in plan.entries.iter().zip(resources) {
            assert!(id.chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
            assert_eq!(r["Type"], "AWS::EKS::AccessEntry");
            let p = &r["Properties"];
            assert_eq!(p["ClusterName"]["Ref"], "ClusterName");
            assert_eq!(p["PrincipalArn"], e.principal_arn.as_str());
            assert_eq!(p["Type"], e.entry_type.as_str());
            assert_eq!(p["Username"].as_str(), e.username.as_deref());
            let groups: Vec<&str> = p["KubernetesGroups"]
                .as_array()
                .map(|g| g.iter().map(|v| v.as_str().unwrap()).collect())
                .unwrap_or_default();
            assert_eq!(groups, e.kubernetes_groups);
            assert_eq!(
                p["AccessPolicies"].as_array().map_or(0, Vec::len),
                e.policies.len()
            );
        }
    }
}

/// Run a generated script with a stand-in `aws` that records its arguments, one per line
/// (newlines inside an argument escaped), so quoting is judged by what a shell really passes.
fn run_script(script: &str) -> Vec<Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls");
    let fake = dir.path().join("aws");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s' \"$a\" | sed ':a;N;$!ba;s/\\n/\\\\n/g' >> '{0}'; printf '\\n' >> '{0}'; done\nprintf -- '--end--\\n' >> '{0}'\n",
            log.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap()
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("PATH", path)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let calls = std::fs::read_to_string(&log).unwrap_or_default();
    calls
        .split("--end--\n")
        .filter(|c| !c.is_empty())
        .map(|c| c.lines().map(str::to_string).collect())
        .collect()
}

#[test]
fn the_cli_script_passes_every_value_exactly() {
    let plan = hostile_plan();
    let script = migrate::render(&plan, Format::Cli, Some(REGION));
    let calls = run_script(&script);
    let e = &plan.entries[0];
    let mut expected = vec![
        "eks",
        "create-access-entry",
        "--region",
        REGION,
        "--cluster-name",
        CLUSTER,
        "--principal-arn",
    ]
    .into_iter()
    .map(str::to_string)
    .collect::<Vec<_>>();
    expected.extend([e.principal_arn.clone(), "--type".into(), "STANDARD".into()]);
    assert!(
        e.username.is_some(),
        "the hostile username is a valid one: x:{{SessionName}}..."
    );
    expected.extend([
        "--username".into(),
        e.username.clone().unwrap(),
        "--kubernetes-groups".into(),
    ]);
    expected.extend(e.kubernetes_groups.iter().map(|g| g.replace('\n', "\\n")));
    assert_eq!(calls, vec![expected]);
    assert!(!Path::new("/tmp/pwned").exists());
}

#[test]
fn the_cli_scripts_of_the_samples_make_one_call_per_entry_and_policy() {
    for path in samples() {
        let plan =
            offline(&awsauth::parse_document(&std::fs::read_to_string(&path).unwrap()).unwrap());
        let calls = run_script(&migrate::render(&plan, Format::Cli, None));
        let expected: usize = plan.entries.iter().map(|e| 1 + e.policies.len()).sum();
        assert_eq!(calls.len(), expected, "{}", path.display());
        for (call, e) in calls
            .iter()
            .filter(|c| c[1] == "create-access-entry")
            .zip(&plan.entries)
        {
            assert_eq!(call[5], e.principal_arn, "{}", path.display());
        }
    }
}

#[test]
fn only_account_mappings_plan_no_entry_and_say_so() {
    let plan = offline(&awsauth::parse_document("mapAccounts: |\n  - \"444455556666\"\n").unwrap());
    assert!(plan.entries.is_empty());
    assert_eq!(rules_of(&plan), ["migration-account-mapping"]);
    assert_eq!(plan.findings[0].severity, eks_access_watch::Severity::High);
    let cfn = migrate::render(&plan, Format::CloudFormation, None);
    assert!(cfn.ends_with("nothing to create\nResources: {}\n"), "{cfn}");
    let tf = migrate::render(&plan, Format::Terraform, None);
    assert!(
        hcl::parse(&tf)
            .unwrap()
            .blocks()
            .all(|b| b.identifier() == "variable")
    );
}

#[test]
fn a_principal_spelled_as_a_session_and_with_a_path_gets_both_findings() {
    let plan = offline(
        &awsauth::parse_document(
            "mapRoles: |\n  - rolearn: arn:aws:iam::111122223333:role/ops\n  - rolearn: arn:aws:sts::111122223333:assumed-role/ops/jdoe\n  - rolearn: arn:aws:iam::111122223333:role/teams/ops\n",
        )
        .unwrap(),
    );
    assert_eq!(plan.entries.len(), 1);
    let fired = rules_of(&plan);
    assert!(
        fired.contains(&"migration-session-arn") && fired.contains(&"migration-role-path"),
        "{fired:?}"
    );
    let dup = plan
        .findings
        .iter()
        .find(|f| f.rule.id == "migration-duplicate-principal")
        .unwrap();
    assert!(
        dup.summary
            .contains("mapped 3 times (mapRoles[0], mapRoles[1], mapRoles[2])"),
        "{}",
        dup.summary
    );
}

// ---- rows and documents no plan can take, and groups written other than meant ----

fn plan_of(text: &str) -> Result<Plan, awsauth::AwsAuthError> {
    let config = sample_config();
    let options = Options {
        cluster: Some(CLUSTER),
        config: &config,
    };
    migrate::plan(&awsauth::parse_document(text)?, &options, None)
}

#[test]
fn a_wildcard_arn_is_an_error_naming_its_row_not_an_entry() {
    let err = plan_of(
        "mapRoles: |\n  - rolearn: arn:aws:iam::111122223333:role/ok\n  - rolearn: arn:aws:iam::111122223333:role/teams/*\n    groups: [team-readers]\nmapUsers: |\n  - userarn: arn:aws:iam::*:user/alice\n",
    )
    .unwrap_err();
    assert_eq!(err.problems.len(), 2, "{err}");
    assert!(
        err.problems[0].starts_with(
            "mapRoles[1]: `rolearn` `arn:aws:iam::111122223333:role/teams/*` contains `*`: EKS accepts no wildcard principal"
        ) && err.problems[0].contains("write one row per role or user"),
        "{err}"
    );
    assert!(
        err.problems[1]
            .starts_with("mapUsers[0]: `userarn` `arn:aws:iam::*:user/alice` contains `*`"),
        "a wildcard account is a wildcard, not a bad account: {err}"
    );
    let auth =
        awsauth::parse_document("mapRoles: |\n  - rolearn: arn:aws:iam::111122223333:role/*\n")
            .unwrap();
    assert_eq!(
        migrate::check(&auth).unwrap_err(),
        err_of("mapRoles: |\n  - rolearn: arn:aws:iam::111122223333:role/*\n")
    );
}

fn err_of(text: &str) -> awsauth::AwsAuthError {
    plan_of(text).unwrap_err()
}

#[test]
fn a_map_accounts_entry_that_is_not_12_digits_is_an_error_naming_it() {
    let err = err_of(
        "mapAccounts: |\n  - \"444455556666\"\n  - 4444555566\n  - \"1111-2222-3333\"\n  - 4444555566667\n",
    );
    assert_eq!(err.problems.len(), 3, "{err}");
    assert!(
        err.problems[0].starts_with("mapAccounts[1]: `4444555566` is not a 12-digit account id")
            && err.problems[0].contains("quoted (`- \"444455556666\"`)"),
        "{err}"
    );
    assert!(
        err.problems[1].starts_with("mapAccounts[2]: `1111-2222-3333`"),
        "{err}"
    );
    assert!(
        err.problems[2].starts_with("mapAccounts[3]: `4444555566667`"),
        "{err}"
    );
    assert!(plan_of("mapAccounts: |\n  - \"012345678901\"\n").is_ok());
}

#[test]
fn groups_written_in_brackets_get_a_finding_medium_on_a_node_row_low_elsewhere() {
    let plan = plan_of(
        "mapRoles: |\n  - rolearn: arn:aws:iam::111122223333:role/node\n    groups: ['<system:bootstrappers>', '<system:nodes>']\n  - rolearn: arn:aws:iam::111122223333:role/dev\n    groups: ['\"dev-readers\"', dev-writers]\n  - rolearn: arn:aws:iam::111122223333:role/fine\n    groups: [dev-readers]\n",
    )
    .unwrap();
    let found: Vec<(&str, eks_access_watch::Severity)> = plan
        .findings
        .iter()
        .filter(|f| f.rule.id == "migration-malformed-groups")
        .map(|f| (f.summary.as_str(), f.severity))
        .collect();
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].1, eks_access_watch::Severity::Medium);
    assert!(
        found[0].0.starts_with("role/node (mapRoles[0]) is a node role whose groups are written [`<system:bootstrappers>`, `<system:nodes>`], meant as [system:bootstrappers, system:nodes]")
            && found[0].0.ends_with("a STANDARD entry, not a node entry"),
        "{}",
        found[0].0
    );
    assert_eq!(found[1].1, eks_access_watch::Severity::Low);
    assert!(
        found[1].0.starts_with("role/dev (mapRoles[1]) lists groups written [`\"dev-readers\"`], meant as [dev-readers]"),
        "{}",
        found[1].0
    );
    // The plan takes the row as written: it does not guess a node entry.
    assert_eq!(plan.entries[0].entry_type.as_str(), "STANDARD");
    assert_eq!(
        plan.entries[0].kubernetes_groups,
        ["<system:bootstrappers>", "<system:nodes>"]
    );
}

#[test]
fn a_node_row_with_one_group_in_brackets_is_still_a_node_entry_and_named() {
    let plan = plan_of(
        "mapRoles: |\n  - rolearn: arn:aws:iam::111122223333:role/win\n    username: system:node:{{EC2PrivateDNSName}}\n    groups: [system:bootstrappers, system:nodes, '<eks:kube-proxy-windows>']\n",
    )
    .unwrap();
    assert_eq!(plan.entries[0].entry_type.as_str(), "EC2_LINUX");
    let f = plan
        .findings
        .iter()
        .find(|f| f.rule.id == "migration-malformed-groups")
        .unwrap();
    assert_eq!(f.severity, eks_access_watch::Severity::Medium);
    assert!(
        f.summary
            .ends_with("a EC2_LINUX entry from the groups written right"),
        "{}",
        f.summary
    );
}

// ---- the migrate errors of docs/migrate.md, one test per row, through the binary ----

/// `migrate FILE` with `text` as the file: the output and the file's path as shown.
fn migrate_file(text: &str, extra: &[&str]) -> (std::process::Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aws-auth-backup.yaml");
    std::fs::write(&path, text).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_eks-access-watch"))
        .arg("migrate")
        .args(extra)
        .arg(&path)
        .env_remove("APPROVED_CALLER_ARNS")
        .env_remove("BREAK_GLASS_ROLE_ARNS")
        // Should a call to AWS be made, it goes to a closed loopback port and fails at once.
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "not-a-secret")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_MAX_ATTEMPTS", "1")
        .output()
        .unwrap();
    (o, path.display().to_string())
}

/// Exit 2, no plan on stdout, and stderr names the file and says `problem`.
fn assert_refused(o: &std::process::Output, path: &str, problem: &str) {
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(o.stdout.is_empty(), "no partial plan");
    assert!(
        e.contains(&format!("{path}: invalid aws-auth ConfigMap:")) && e.contains(problem),
        "{e}"
    );
}

#[test]
fn migrate_refuses_a_configmap_whose_data_is_null() {
    let (o, path) = migrate_file(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: aws-auth\n  namespace: kube-system\ndata: null\n",
        &[],
    );
    assert_refused(
        &o,
        &path,
        "- `data` is null, so the ConfigMap maps nobody and a plan from it would be empty",
    );
}

#[test]
fn migrate_refuses_sections_outside_data() {
    let (o, path) = migrate_file(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: aws-auth\ndata:\nmapRoles: |\n  - rolearn: arn:aws:iam::111122223333:role/ops\n",
        &[],
    );
    assert_refused(
        &o,
        &path,
        "- mapRoles sits at the top level of the ConfigMap, outside `data`",
    );
    assert_refused(&o, &path, "indent it under `data:`");
}

#[test]
fn migrate_refuses_a_data_that_holds_no_section() {
    let (o, path) = migrate_file(
        "kind: ConfigMap\ndata:\n  mapRole: |\n    - rolearn: arn:aws:iam::111122223333:role/ops\n",
        &[],
    );
    assert_refused(
        &o,
        &path,
        "- `data` holds none of mapRoles, mapUsers or mapAccounts (its keys: [mapRole])",
    );
}

#[test]
fn migrate_refuses_a_row_that_is_not_a_role_user_or_session_naming_it() {
    let (o, path) = migrate_file(
        "mapRoles: |\n  - rolearn: arn:aws:iam::111122223333:role/ok\n  - rolearn: arn:aws:iam::111122223333:policy/p\n",
        &[],
    );
    assert_refused(
        &o,
        &path,
        "- mapRoles[1]: `rolearn` `arn:aws:iam::111122223333:policy/p` is not an IAM role, IAM user or assumed-role session ARN",
    );
}

#[test]
fn migrate_refuses_a_wildcard_row_naming_it() {
    let (o, path) = migrate_file(
        "mapRoles: |\n  - rolearn: arn:aws:iam::111122223333:role/teams/*\n",
        &[],
    );
    assert_refused(
        &o,
        &path,
        "- mapRoles[0]: `rolearn` `arn:aws:iam::111122223333:role/teams/*` contains `*`",
    );
}

#[test]
fn migrate_refuses_an_account_id_that_is_not_12_digits_naming_it() {
    let (o, path) = migrate_file("mapAccounts: |\n  - 4444555566\n", &[]);
    assert_refused(
        &o,
        &path,
        "- mapAccounts[0]: `4444555566` is not a 12-digit account id",
    );
}

#[test]
fn migrate_live_refuses_a_row_before_calling_aws() {
    // Any call to AWS would fail with the call's name (the endpoint is a closed port).
    let (o, path) = migrate_file(
        "mapRoles: |\n  - rolearn: arn:aws:iam::111122223333:role/*\n",
        &[
            "--live",
            "--check",
            "--cluster",
            "prod",
            "--region",
            "eu-west-1",
        ],
    );
    assert_refused(&o, &path, "contains `*`");
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        !e.contains("DescribeCluster") && !e.contains("credentials"),
        "{e}"
    );
}
