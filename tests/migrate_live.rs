//! `migrate --live`: the EKS and IAM reads with the SDK's mocks (covered, missing, different,
//! the creator entry, paging, paths, AccessDenied as an error), and `--check`'s exit codes
//! through the binary against a loopback endpoint.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_eks::Client as Eks;
use aws_sdk_eks::operation::describe_access_entry::DescribeAccessEntryOutput;
use aws_sdk_eks::operation::describe_cluster::DescribeClusterOutput;
use aws_sdk_eks::operation::list_access_entries::ListAccessEntriesOutput;
use aws_sdk_eks::operation::list_associated_access_policies::ListAssociatedAccessPoliciesOutput;
use aws_sdk_eks::types::{AccessConfigResponse, AccessEntry, AuthenticationMode, Cluster};
use aws_sdk_iam::Client as Iam;
use aws_sdk_iam::operation::get_role::GetRoleOutput;
use aws_sdk_iam::operation::get_user::GetUserOutput;
use aws_sdk_iam::types::{Role, User};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_runtime_api::http::{Response as HttpResponse, StatusCode};
use aws_smithy_types::DateTime;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use eks_access_watch::aws::ErrorKind;
use eks_access_watch::awsauth::{self, AwsAuth};
use eks_access_watch::migrate::read::LiveReader;
use eks_access_watch::migrate::{self, Format, Options, Plan, Status};

use crate::aws::grant;
use crate::delayed::Delayed;
use crate::migrate::{CLUSTER, golden, sample};
use crate::util::{check_golden, events_dir, sample_config};

const ACCOUNT: &str = "111122223333";
const CLUSTER_CREATED: i64 = 1_741_079_551;
const ADMIN: &str = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy";
const VIEW: &str = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy";

fn role(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

/// One access entry on the mocked cluster.
#[derive(Clone)]
struct Entry {
    arn: String,
    kind: &'static str,
    username: Option<&'static str>,
    groups: Vec<&'static str>,
    policies: Vec<&'static str>,
    created: i64,
}

fn entry(arn: &str, kind: &'static str) -> Entry {
    Entry {
        arn: arn.to_string(),
        kind,
        username: None,
        groups: vec![],
        policies: vec![],
        created: CLUSTER_CREATED + 86_400,
    }
}

fn error(status: u16, code: &'static str) -> impl Fn() -> HttpResponse + Send + Sync + 'static {
    move || {
        let mut r = HttpResponse::new(
            StatusCode::try_from(status).unwrap(),
            SdkBody::from(format!(r#"{{"message":"{code} for the test"}}"#)),
        );
        r.headers_mut().insert("x-amzn-errortype", code);
        r.headers_mut().insert("content-type", "application/json");
        r
    }
}

/// EKS rules for a cluster in `mode` holding `entries`: ListAccessEntries answers two per page,
/// and each entry's policies come one per page, so every paginator is exercised.
fn eks_rules(mode: AuthenticationMode, entries: Vec<Entry>) -> Vec<Rule> {
    let cluster = mock!(Eks::describe_cluster).then_output(move || {
        DescribeClusterOutput::builder()
            .cluster(
                Cluster::builder()
                    .name(CLUSTER)
                    .arn(format!("arn:aws:eks:eu-west-1:{ACCOUNT}:cluster/{CLUSTER}"))
                    .created_at(DateTime::from_secs(CLUSTER_CREATED))
                    .access_config(
                        AccessConfigResponse::builder()
                            .authentication_mode(mode.clone())
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let arns: Vec<String> = entries.iter().map(|e| e.arn.clone()).collect();
    let list = mock!(Eks::list_access_entries).then_compute_output(move |req| {
        let start: usize = req.next_token().map_or(0, |t| t.parse().unwrap());
        let end = (start + 2).min(arns.len());
        let out =
            ListAccessEntriesOutput::builder().set_access_entries(Some(arns[start..end].to_vec()));
        (if end < arns.len() {
            out.next_token(end.to_string())
        } else {
            out
        })
        .build()
    });
    let table: HashMap<String, Entry> = entries.into_iter().map(|e| (e.arn.clone(), e)).collect();
    let t = table.clone();
    let describe = mock!(Eks::describe_access_entry).then_compute_output(move |req| {
        let e = &t[req.principal_arn().unwrap()];
        DescribeAccessEntryOutput::builder()
            .access_entry(
                AccessEntry::builder()
                    .principal_arn(&e.arn)
                    .r#type(e.kind)
                    .set_username(e.username.map(str::to_string))
                    .set_kubernetes_groups(Some(e.groups.iter().map(|g| g.to_string()).collect()))
                    .created_at(DateTime::from_secs(e.created))
                    .build(),
            )
            .build()
    });
    let policies = mock!(Eks::list_associated_access_policies).then_compute_output(move |req| {
        let e = &table[req.principal_arn().unwrap()];
        let i: usize = req.next_token().map_or(0, |t| t.parse().unwrap());
        let out = ListAssociatedAccessPoliciesOutput::builder();
        let out = match e.policies.get(i) {
            Some(p) => out.associated_access_policies(grant(p)),
            None => out,
        };
        (if i + 1 < e.policies.len() {
            out.next_token((i + 1).to_string())
        } else {
            out
        })
        .build()
    });
    vec![cluster, list, describe, policies]
}

fn eks(rules: &[Rule]) -> Eks {
    let refs: Vec<&Rule> = rules.iter().collect();
    mock_client!(aws_sdk_eks, RuleMode::MatchAny, &refs, |b| b.retry_config(
        RetryConfig::standard()
            .with_max_attempts(2)
            .with_initial_backoff(Duration::from_millis(1))
    ))
}

/// IAM answering GetRole / GetUser with the principal's ARN, or the given path for some names.
fn iam_with(paths: &'static [(&'static str, &'static str)]) -> (Iam, Rule, Rule) {
    let lookup = |name: &str, kind: &str| {
        paths.iter().find(|(n, _)| *n == name).map_or(
            format!("arn:aws:iam::{ACCOUNT}:{kind}/{name}"),
            |(_, arn)| arn.to_string(),
        )
    };
    let get_role = mock!(Iam::get_role).then_compute_output(move |req| {
        let name = req.role_name().unwrap();
        GetRoleOutput::builder()
            .role(
                Role::builder()
                    .path("/")
                    .role_name(name)
                    .role_id("AROAEXAMPLE")
                    .arn(lookup(name, "role"))
                    .create_date(DateTime::from_secs(0))
                    .build()
                    .unwrap(),
            )
            .build()
    });
    let get_user = mock!(Iam::get_user).then_compute_output(move |req| {
        let name = req.user_name().unwrap();
        GetUserOutput::builder()
            .user(
                User::builder()
                    .path("/")
                    .user_name(name)
                    .user_id("AIDAEXAMPLE")
                    .arn(lookup(name, "user"))
                    .create_date(DateTime::from_secs(0))
                    .build()
                    .unwrap(),
            )
            .build()
    });
    let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[&get_role, &get_user]);
    (client, get_role, get_user)
}

async fn live_plan(
    auth: &AwsAuth,
    eks: Eks,
    iam: Iam,
) -> Result<Plan, eks_access_watch::aws::AwsError> {
    let facts = LiveReader::with_clients(eks, iam)
        .concurrency(3)
        .read(CLUSTER, auth)
        .await?;
    let config = sample_config();
    let options = Options {
        cluster: Some(CLUSTER),
        config: &config,
    };
    Ok(migrate::plan(auth, &options, Some(&facts)).unwrap())
}

/// The eksctl cluster half-migrated: the Linux nodes and the admin are covered, alice's entry
/// has View instead of ClusterAdmin, payments' groups differ, the Windows and Fargate roles
/// have no entry, and the Terraform role still holds the creator's bootstrap entry.
fn half_migrated() -> Vec<Entry> {
    let mut admin = entry(&role("admins/platform-admin"), "STANDARD");
    admin.username = Some("platform-admin");
    admin.policies = vec![ADMIN, VIEW];
    let mut alice = entry(&format!("arn:aws:iam::{ACCOUNT}:user/alice"), "STANDARD");
    alice.username = Some("alice");
    alice.policies = vec![VIEW];
    let mut payments = entry(&role("payments-readonly"), "STANDARD");
    payments.username = Some("payments-readonly:{{SessionName}}");
    payments.groups = vec!["payments-admins"];
    let mut creator = entry(&role("terraform-deployer"), "STANDARD");
    creator.policies = vec![ADMIN];
    creator.created = CLUSTER_CREATED;
    vec![
        entry(
            &role("eksctl-prod-nodegroup-ng-1-NodeInstanceRole-1AB2CD3EF4GH"),
            "EC2_LINUX",
        ),
        admin,
        alice,
        payments,
        creator,
    ]
}

const ADMIN_PATH: &[(&str, &str)] = &[(
    "platform-admin",
    "arn:aws:iam::111122223333:role/admins/platform-admin",
)];

fn statuses(plan: &Plan) -> Vec<Option<&'static str>> {
    plan.entries
        .iter()
        .map(|e| e.status.map(Status::as_str))
        .collect()
}

#[tokio::test]
async fn a_half_migrated_cluster_is_not_safe_and_says_why() {
    let rules = eks_rules(AuthenticationMode::ApiAndConfigMap, half_migrated());
    let (iam, get_role, get_user) = iam_with(ADMIN_PATH);
    let plan = live_plan(&sample("eksctl.yaml"), eks(&rules), iam)
        .await
        .unwrap();
    assert_eq!(
        statuses(&plan),
        [
            Some("covered"),
            Some("missing"),
            Some("missing"),
            Some("different"),
            Some("different"),
            Some("different")
        ]
    );
    assert_eq!(plan.safe_to_switch, Some(false));
    assert_eq!(rules[1].num_calls(), 3, "five entries, two per page");
    assert_eq!(
        rules[3].num_calls(),
        5 + 1,
        "one page per policy, two for the admin"
    );
    assert_eq!((get_role.num_calls(), get_user.num_calls()), (5, 1));
    let missing: Vec<&str> = plan
        .findings
        .iter()
        .filter(|f| f.rule.id == "migration-principal-missing")
        .map(|f| f.summary.as_str())
        .collect();
    assert_eq!(missing.len(), 2);
    assert!(
        missing[0].contains("switching to API now locks it out"),
        "{}",
        missing[0]
    );
    let creator: Vec<&str> = plan
        .findings
        .iter()
        .filter(|f| f.rule.id == "migration-creator-admin")
        .map(|f| f.summary.as_str())
        .collect();
    assert_eq!(creator.len(), 1);
    assert!(
        creator[0].starts_with("role/terraform-deployer holds ClusterAdmin"),
        "{}",
        creator[0]
    );
    // GetRole gave the admin's path: the plan uses it and says so, and the entry is matched.
    let admin = &plan.entries[3];
    assert_eq!(admin.principal_arn, role("admins/platform-admin"));
    assert!(plan.findings.iter().any(|f| {
        f.rule.id == "migration-role-path"
            && f.summary
                .contains("real ARN is arn:aws:iam::111122223333:role/admins/platform-admin")
    }));
    assert!(
        !plan
            .findings
            .iter()
            .any(|f| f.rule.id == "migration-paths-unverified")
    );
    // API_AND_CONFIG_MAP: both sources apply, the principal gets the union of their groups.
    let payments = plan.entries[4].live.as_ref().unwrap();
    assert_eq!(payments.aws_auth_groups, ["payments-viewers"]);
    assert_eq!(
        payments.groups_in_effect,
        ["payments-admins", "payments-viewers"]
    );
    let alice = plan.entries[5].live.as_ref().unwrap();
    assert!(
        alice
            .differences
            .contains(&"policy missing: AmazonEKSClusterAdminPolicy (cluster)".to_string()),
        "{:?}",
        alice.differences
    );
    let path = events_dir().join("aws-auth/eksctl.yaml");
    for format in [Format::Text, Format::Json, Format::Terraform, Format::Cli] {
        let got = migrate::render(&plan, format, None);
        let name = format!("live.{format}");
        if let Err(f) = check_golden(&path, &golden(&path, &name), &got) {
            panic!("{f}: live {format} differs from its golden");
        }
    }
}

#[tokio::test]
async fn every_principal_covered_is_safe_to_switch() {
    let auth = awsauth::parse_document(
        "mapRoles: |\n  - rolearn: arn:aws:iam::111122223333:role/ops\n    groups: [ops]\n",
    )
    .unwrap();
    let mut ops = entry(&role("ops"), "STANDARD");
    ops.groups = vec!["ops"];
    let rules = eks_rules(AuthenticationMode::ApiAndConfigMap, vec![ops]);
    let (iam, ..) = iam_with(&[]);
    let plan = live_plan(&auth, eks(&rules), iam).await.unwrap();
    assert_eq!(statuses(&plan), [Some("covered")]);
    assert_eq!(plan.safe_to_switch, Some(true));
    assert!(plan.findings.is_empty(), "{:?}", plan.findings);
}

#[tokio::test]
async fn access_denied_is_an_error_never_a_missing_principal() {
    let auth = sample("eksctl.yaml");
    let mut rules = eks_rules(AuthenticationMode::ApiAndConfigMap, half_migrated());
    rules[1] =
        mock!(Eks::list_access_entries).then_http_response(error(403, "AccessDeniedException"));
    let (iam, ..) = iam_with(&[]);
    let err = live_plan(&auth, eks(&rules), iam).await.unwrap_err();
    assert_eq!(
        (err.operation, err.kind),
        ("ListAccessEntries", ErrorKind::Denied)
    );

    let mut rules = eks_rules(AuthenticationMode::ApiAndConfigMap, half_migrated());
    rules[3] = mock!(Eks::list_associated_access_policies)
        .then_http_response(error(403, "AccessDeniedException"));
    let (iam, ..) = iam_with(&[]);
    let err = live_plan(&auth, eks(&rules), iam).await.unwrap_err();
    assert_eq!(err.operation, "ListAssociatedAccessPolicies");

    let rules = eks_rules(AuthenticationMode::ApiAndConfigMap, half_migrated());
    let denied = mock!(Iam::get_role).then_http_response(|| {
        HttpResponse::new(
            StatusCode::try_from(403).unwrap(),
            SdkBody::from("<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>no</Message></Error></ErrorResponse>"),
        )
    });
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[&denied]);
    let err = live_plan(&auth, eks(&rules), iam).await.unwrap_err();
    assert_eq!((err.operation, err.kind), ("GetRole", ErrorKind::Denied));
}

/// Virtual time: DescribeCluster, the eight pages of ListAccessEntries (two entries each) one
/// after another, then 16 entries of two calls each with at most four calls in flight: eight
/// rounds. Unbounded, the 32 entry calls would take one round.
#[tokio::test(start_paused = true)]
async fn calls_stay_within_the_concurrency_bound() {
    let entries: Vec<Entry> = (0..16)
        .map(|i| entry(&role(&format!("r{i}")), "STANDARD"))
        .collect();
    let rules = eks_rules(AuthenticationMode::ApiAndConfigMap, entries);
    let refs: Vec<&Rule> = rules.iter().collect();
    let delay = Duration::from_millis(100);
    let eks = mock_client!(aws_sdk_eks, RuleMode::MatchAny, &refs, |b| b.http_client(
        Delayed {
            inner: aws_smithy_mocks::create_mock_http_client(),
            delay
        }
    ));
    let (iam, ..) = iam_with(&[]);
    let start = tokio::time::Instant::now();
    let facts = LiveReader::with_clients(eks, iam)
        .concurrency(4)
        .read(CLUSTER, &AwsAuth::default())
        .await
        .unwrap();
    let took = start.elapsed();
    assert_eq!(facts.entries.len(), 16);
    assert!(took >= delay * 17 && took < delay * 18, "took {took:?}");
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk() {
    let auth =
        awsauth::parse_document("mapRoles: |\n  - rolearn: arn:aws:iam::111122223333:role/ops\n")
            .unwrap();
    let mut rules = eks_rules(
        AuthenticationMode::ApiAndConfigMap,
        vec![entry(&role("ops"), "STANDARD")],
    );
    rules[1] = mock!(Eks::list_access_entries)
        .sequence()
        .http_response(error(429, "ThrottlingException"))
        .output(|| {
            ListAccessEntriesOutput::builder()
                .access_entries(role("ops"))
                .build()
        })
        .build();
    let (iam, ..) = iam_with(&[]);
    let plan = live_plan(&auth, eks(&rules), iam).await.unwrap();
    assert_eq!(statuses(&plan), [Some("covered")]);
    assert_eq!(rules[1].num_calls(), 2);
}

#[tokio::test]
async fn a_role_iam_does_not_know_is_missing_and_left_out_of_the_code() {
    let auth = awsauth::parse_document(
        "mapRoles: |\n  - rolearn: arn:aws:iam::111122223333:role/gone\n  - rolearn: arn:aws:iam::222233334444:role/vendor\n",
    )
    .unwrap();
    let rules = eks_rules(AuthenticationMode::ApiAndConfigMap, vec![]);
    let gone = mock!(Iam::get_role).then_http_response(|| {
        HttpResponse::new(
            StatusCode::try_from(404).unwrap(),
            SdkBody::from("<ErrorResponse><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>The role with name gone cannot be found.</Message></Error></ErrorResponse>"),
        )
    });
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[&gone]);
    let plan = live_plan(&auth, eks(&rules), iam).await.unwrap();
    assert_eq!(
        gone.num_calls(),
        1,
        "the other account's role is not looked up"
    );
    assert!(plan.entries[0].absent);
    assert!(
        plan.findings
            .iter()
            .any(|f| f.rule.id == "migration-principal-missing"
                && f.summary.contains("does not exist in IAM"))
    );
    let unverified = plan
        .findings
        .iter()
        .find(|f| f.rule.id == "migration-paths-unverified")
        .unwrap();
    assert!(
        unverified
            .summary
            .contains("arn:aws:iam::222233334444:role/vendor"),
        "{}",
        unverified.summary
    );
    let tf = migrate::render(&plan, Format::Terraform, None);
    assert!(
        !tf.contains("resource \"aws_eks_access_entry\" \"role_gone\""),
        "{tf}"
    );
    assert!(tf.contains("# skipped: the principal does not exist in IAM"));
}

#[tokio::test]
async fn in_config_map_mode_nothing_has_an_entry_and_entries_are_not_listed() {
    let rules = eks_rules(AuthenticationMode::ConfigMap, vec![]);
    let (iam, ..) = iam_with(&[]);
    let plan = live_plan(&sample("terraform-module.yaml"), eks(&rules), iam)
        .await
        .unwrap();
    assert_eq!(rules[1].num_calls(), 0);
    assert!(
        plan.entries
            .iter()
            .all(|e| e.status == Some(Status::Missing))
    );
    assert!(
        plan.findings
            .iter()
            .any(|f| f.summary.contains("CONFIG_MAP mode"))
    );
    let text = migrate::render(&plan, Format::Text, None);
    assert!(
        text.contains(
            "Enable access entries beside aws-auth: aws eks update-cluster-config --name prod"
        ),
        "{text}"
    );
}

// ---- through the binary, against a loopback endpoint ----

mod check {
    use std::process::{Command, Output, Stdio};

    use mockito::{Matcher, Server, ServerGuard};

    const OPS: &str =
        "mapRoles: |\n  - rolearn: arn:aws:iam::111122223333:role/ops\n    groups: [ops]\n";
    const ENTRY_PATH: &str =
        "^/clusters/prod/access-entries/arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fops";

    /// A loopback EKS + IAM answering for cluster `prod` with the given access entries.
    fn server(entries: &[&str]) -> ServerGuard {
        let mut s = Server::new();
        s.mock("GET", Matcher::Regex("^/clusters/prod(\\?.*)?$".into()))
            .with_header("content-type", "application/json")
            .with_body(r#"{"cluster":{"name":"prod","arn":"arn:aws:eks:eu-west-1:111122223333:cluster/prod","createdAt":1741079551,"accessConfig":{"authenticationMode":"API_AND_CONFIG_MAP"}}}"#)
            .create();
        s.mock(
            "GET",
            Matcher::Regex("^/clusters/prod/access-entries(\\?.*)?$".into()),
        )
        .with_header("content-type", "application/json")
        .with_body(serde_json::json!({ "accessEntries": entries }).to_string())
        .create();
        s.mock("GET", Matcher::Regex(format!("{ENTRY_PATH}(\\?.*)?$")))
            .with_header("content-type", "application/json")
            .with_body(r#"{"accessEntry":{"principalArn":"arn:aws:iam::111122223333:role/ops","type":"STANDARD","kubernetesGroups":["ops"],"createdAt":1741165951}}"#)
            .create();
        s.mock(
            "GET",
            Matcher::Regex(format!("{ENTRY_PATH}/access-policies(\\?.*)?$")),
        )
        .with_header("content-type", "application/json")
        .with_body(r#"{"associatedAccessPolicies":[]}"#)
        .create();
        s.mock("POST", "/")
            .match_body(Matcher::UrlEncoded("Action".into(), "GetRole".into()))
            .with_header("content-type", "text/xml")
            .with_body(r#"<GetRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetRoleResult><Role><Path>/</Path><RoleName>ops</RoleName><RoleId>AROAEXAMPLE</RoleId><Arn>arn:aws:iam::111122223333:role/ops</Arn><CreateDate>2025-01-01T00:00:00Z</CreateDate></Role></GetRoleResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetRoleResponse>"#)
            .create();
        s
    }

    fn migrate(endpoint: &str, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_eks-access-watch"))
            .arg("migrate")
            .args(args)
            .env_remove("APPROVED_CALLER_ARNS")
            .env_remove("BREAK_GLASS_ROLE_ARNS")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
            .env("AWS_SECRET_ACCESS_KEY", "not-a-secret")
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_MAX_ATTEMPTS", "1")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        // A command refused before reading stdin (a usage error) closes the pipe: not a failure.
        let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
        child.wait_with_output().unwrap()
    }

    const LIVE: &[&str] = &[
        "--live",
        "--check",
        "--cluster",
        "prod",
        "--region",
        "eu-west-1",
        "--format",
        "json",
        "-",
    ];

    #[test]
    fn check_exits_0_when_every_principal_is_covered() {
        let s = server(&["arn:aws:iam::111122223333:role/ops"]);
        let o = migrate(&s.url(), LIVE, OPS);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let plan: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(plan["safe_to_switch"], true);
        assert_eq!(plan["entries"][0]["status"], "covered");
    }

    #[test]
    fn check_exits_1_when_a_principal_would_be_locked_out() {
        let s = server(&[]);
        let o = migrate(&s.url(), LIVE, OPS);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let plan: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(plan["safe_to_switch"], false);
        assert_eq!(plan["findings"][0]["rule"], "migration-principal-missing");
        assert_eq!(plan["findings"][0]["severity"], "critical");
    }

    #[test]
    fn check_exits_2_on_access_denied_and_says_what_is_needed() {
        let mut s = Server::new();
        s.mock("GET", Matcher::Any)
            .with_status(403)
            .with_header("x-amzn-errortype", "AccessDeniedException")
            .with_header("content-type", "application/json")
            .with_body(r#"{"message":"User is not authorized to perform: eks:DescribeCluster"}"#)
            .create();
        let o = migrate(&s.url(), LIVE, OPS);
        assert_eq!(o.status.code(), Some(2));
        assert!(
            o.stdout.is_empty(),
            "no plan is printed as if it were complete"
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("reading cluster prod: DescribeCluster: AccessDeniedException"),
            "{err}"
        );
        assert!(err.contains("eks:ListAccessEntries"), "{err}");
    }

    #[test]
    fn check_exits_2_on_bad_input_naming_the_row() {
        let o = migrate(
            "http://127.0.0.1:9",
            LIVE,
            "mapRoles: |\n  - rolearn: arn:aws:iam::111122223333:role/ops\n    groups: [\n",
        );
        assert_eq!(o.status.code(), Some(2));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("-: invalid aws-auth ConfigMap") && err.contains("mapRoles line"),
            "{err}"
        );
        let o = migrate("http://127.0.0.1:9", &["--check", "-"], OPS);
        assert_eq!(o.status.code(), Some(2), "--check needs --live");
    }

    #[test]
    fn stdin_is_read_offline_without_credentials() {
        let o = migrate("http://127.0.0.1:9", &["--format", "cli", "-"], OPS);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let script = String::from_utf8(o.stdout).unwrap();
        assert!(
            script.contains("cluster=\"${CLUSTER:?set CLUSTER to the cluster name}\""),
            "{script}"
        );
        assert!(script.contains("--principal-arn arn:aws:iam::111122223333:role/ops --type STANDARD --kubernetes-groups ops"));
    }
}
