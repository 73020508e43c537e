//! The audit's reading speed: 100 clusters x 50 access entries x 2 policies behind mocked EKS
//! calls that each answer after 20 ms (the SDK's mock client with a delay in front, as in the
//! Lambda benchmark). Prints the calls made against the minimum the API allows, the wall time,
//! the serial sum (every call one after another) and the critical path the concurrency bound
//! allows.
//!
//! `cargo bench --bench audit` (numbers go to BENCHMARKS.md; nothing here asserts a time).
//! `AUDIT_BENCH_CONCURRENCY=16,64` chooses the bounds measured.

use std::time::{Duration, Instant};

use aws_sdk_eks::Client as Eks;
use aws_sdk_eks::operation::describe_access_entry::DescribeAccessEntryOutput;
use aws_sdk_eks::operation::describe_cluster::DescribeClusterOutput;
use aws_sdk_eks::operation::list_access_entries::ListAccessEntriesOutput;
use aws_sdk_eks::operation::list_associated_access_policies::ListAssociatedAccessPoliciesOutput;
use aws_sdk_eks::operation::list_clusters::ListClustersOutput;
use aws_sdk_eks::types::{
    AccessConfigResponse, AccessEntry, AccessScope, AccessScopeType, AssociatedAccessPolicy,
    AuthenticationMode, Cluster,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use eks_access_watch::audit::read::{Reader, Target};
use eks_access_watch::aws::eks::EksClients;

#[path = "../tests/support/delayed.rs"]
mod delayed;

const CLUSTERS: usize = 100;
const ENTRIES: usize = 50;
const POLICIES: usize = 2;
const LATENCY: Duration = Duration::from_millis(20);
/// The largest page the EKS list calls return.
const PAGE: usize = 100;

fn rules() -> Vec<Rule> {
    let clusters = mock!(Eks::list_clusters).then_output(|| {
        ListClustersOutput::builder()
            .set_clusters(Some(
                (0..CLUSTERS).map(|i| format!("cluster-{i:03}")).collect(),
            ))
            .build()
    });
    let describe = mock!(Eks::describe_cluster).then_compute_output(|req| {
        DescribeClusterOutput::builder()
            .cluster(
                Cluster::builder()
                    .name(req.name().unwrap_or_default())
                    .arn(format!(
                        "arn:aws:eks:eu-west-1:111122223333:cluster/{}",
                        req.name().unwrap_or_default()
                    ))
                    .access_config(
                        AccessConfigResponse::builder()
                            .authentication_mode(AuthenticationMode::Api)
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let entries = mock!(Eks::list_access_entries).then_output(|| {
        ListAccessEntriesOutput::builder()
            .set_access_entries(Some(
                (0..ENTRIES)
                    .map(|i| format!("arn:aws:iam::111122223333:role/team-{i:02}"))
                    .collect(),
            ))
            .build()
    });
    let entry = mock!(Eks::describe_access_entry).then_compute_output(|req| {
        DescribeAccessEntryOutput::builder()
            .access_entry(
                AccessEntry::builder()
                    .principal_arn(req.principal_arn().unwrap_or_default())
                    .r#type("STANDARD")
                    .build(),
            )
            .build()
    });
    let policies = mock!(Eks::list_associated_access_policies).then_output(|| {
        let grant = |name: &str| {
            AssociatedAccessPolicy::builder()
                .policy_arn(format!("arn:aws:eks::aws:cluster-access-policy/{name}"))
                .access_scope(
                    AccessScope::builder()
                        .r#type(AccessScopeType::Namespace)
                        .namespaces("team")
                        .build(),
                )
                .build()
        };
        ListAssociatedAccessPoliciesOutput::builder()
            .associated_access_policies(grant("AmazonEKSViewPolicy"))
            .associated_access_policies(grant("AmazonEKSEditPolicy"))
            .build()
    });
    vec![clusters, describe, entries, entry, policies]
}

fn client(rules: &[Rule]) -> Eks {
    let refs: Vec<&Rule> = rules.iter().collect();
    mock_client!(aws_sdk_eks, RuleMode::MatchAny, &refs, |b| b.http_client(
        delayed::Delayed {
            inner: aws_smithy_mocks::create_mock_http_client(),
            delay: LATENCY
        }
    ))
}

/// The fewest calls the API allows: list pages of 100, one DescribeCluster per cluster, one
/// DescribeAccessEntry and one policy page per entry (2 policies fit one page).
fn minimum_calls() -> usize {
    let pages = |n: usize| n.div_ceil(PAGE).max(1);
    pages(CLUSTERS) + CLUSTERS * (1 + pages(ENTRIES)) + CLUSTERS * ENTRIES * (1 + pages(POLICIES))
}

/// The shortest schedule with `bound` calls in flight: the cluster list first, then every
/// other call can run as soon as a slot is free (their dependencies finish well before the
/// slots do when the bound is below the fan-out), in rounds of `bound`.
fn critical_path(bound: usize) -> Duration {
    let list = CLUSTERS.div_ceil(PAGE).max(1);
    let rest = minimum_calls() - list;
    LATENCY * (list + rest.div_ceil(bound)) as u32
}

/// The same schedule with nothing but the delay: the cluster list, then every other call as a
/// bare `sleep(LATENCY)` behind the same bound. What the timer alone costs (tokio rounds each
/// sleep up to its 1 ms tick), so the rest of the wall time is the audit's own overhead.
async fn timer_floor(bound: usize) -> Duration {
    let permits = tokio::sync::Semaphore::new(bound);
    let start = Instant::now();
    tokio::time::sleep(LATENCY).await;
    let rest = minimum_calls() - CLUSTERS.div_ceil(PAGE).max(1);
    let calls = (0..rest).map(|_| async {
        let _permit = permits.acquire().await.ok();
        tokio::time::sleep(LATENCY).await;
    });
    futures::future::join_all(calls).await;
    start.elapsed()
}

fn main() {
    let bounds: Vec<usize> = std::env::var("AUDIT_BENCH_CONCURRENCY")
        .unwrap_or_else(|_| "16,64".to_string())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let target = [Target {
        account: Some("111122223333".to_string()),
        region: "eu-west-1".to_string(),
    }];
    println!(
        "audit of {CLUSTERS} clusters x {ENTRIES} entries x {POLICIES} policies, every EKS call answered after {} ms",
        LATENCY.as_millis()
    );
    println!(
        "| concurrency | calls made | minimum calls | wall time | critical path at the bound | timer floor | serial sum | wall / critical path |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for bound in bounds {
        let floor = runtime.block_on(timer_floor(bound));
        for _run in 0..3 {
            let rules = rules();
            let reader = Reader::new(EksClients::fixed(client(&rules)), bound);
            let start = Instant::now();
            let snapshot = runtime.block_on(reader.read(&target, "now".to_string()));
            let wall = start.elapsed();
            assert!(snapshot.unreadable.is_empty(), "{:?}", snapshot.unreadable);
            assert_eq!(snapshot.clusters.len(), CLUSTERS);
            let calls: usize = rules.iter().map(Rule::num_calls).sum();
            let serial = LATENCY * calls as u32;
            let path = critical_path(bound);
            println!(
                "| {bound} | {calls} | {} | {:.2} s | {:.2} s | {:.2} s | {:.1} s | {:.3} |",
                minimum_calls(),
                wall.as_secs_f64(),
                path.as_secs_f64(),
                floor.as_secs_f64(),
                serial.as_secs_f64(),
                wall.as_secs_f64() / path.as_secs_f64()
            );
        }
    }
}
