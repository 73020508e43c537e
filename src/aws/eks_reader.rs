//! The audit's EKS adapter: reads a [`Snapshot`] with read-only calls (ListClusters,
//! DescribeCluster, ListAccessEntries, DescribeAccessEntry, ListAssociatedAccessPolicies) for
//! every (account, region) asked for.
//!
//! - **Fewest calls the API allows**: list pages of 100 (the maximum), one DescribeCluster
//!   per cluster, one DescribeAccessEntry and one policy listing per entry; nothing is read
//!   twice.
//! - **Bounded concurrency**: every call, each page included, first takes a permit from one
//!   semaphore shared by the whole audit, so at most `concurrency` calls are in flight
//!   whatever the number of accounts, regions and clusters. Everything that can run is
//!   started at once (clusters, and then entries, in parallel), so the bound is the only
//!   limit: the wall time is close to `calls x latency / concurrency`.
//! - **Throttling** is absorbed by the SDK's adaptive retry mode on the clients
//!   ([`EksClients::with_retry`]), which slows its request rate down instead of failing.
//! - **Nothing fails the audit**: a call that still fails is recorded in the snapshot's
//!   `unreadable` list (and reported as `audit-incomplete`); everything else is still read.

use futures::future::join_all;
use tokio::sync::Semaphore;

use aws_sdk_eks::Client;
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;

use crate::aws::AwsError;
use crate::aws::eks::EksClients;
use crate::aws::eks::{clean_tags, scope_of};
use crate::model::snapshot::{
    ClusterState, EntryState, Logging, PolicyState, ReadStep, ScopeState, Snapshot, Unreadable,
};
use crate::model::{AuthMode, EntryType};
use crate::sanitize::clean;

/// The largest page the EKS list calls return.
const PAGE: i32 = 100;

/// Where to read: an account (`None`: whatever the credentials belong to) and a region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub account: Option<String>,
    pub region: String,
}

/// Every (account, region) pair: `home` (the credentials' own account; `None`: whatever it
/// is) and each of `others`, in each region, in that order, without repeats.
pub fn targets(home: Option<&str>, others: &[String], regions: &[String]) -> Vec<Target> {
    let mut out: Vec<Target> = Vec::new();
    for region in regions {
        let accounts = std::iter::once(home.map(str::to_string)).chain(
            others
                .iter()
                .filter(|a| Some(a.as_str()) != home)
                .map(|a| Some(a.clone())),
        );
        for account in accounts {
            let t = Target {
                account,
                region: region.clone(),
            };
            if !out.contains(&t) {
                out.push(t);
            }
        }
    }
    out
}

/// The retry behaviour of the audit's clients: the SDK's adaptive mode (it slows its request
/// rate down when EKS throttles, instead of failing), keeping the attempts and backoff of
/// `base` (the SDK configuration's: `AWS_MAX_ATTEMPTS`, profile settings).
pub fn retry(
    base: Option<&aws_smithy_types::retry::RetryConfig>,
) -> aws_smithy_types::retry::RetryConfig {
    base.cloned()
        .unwrap_or_else(aws_smithy_types::retry::RetryConfig::standard)
        .with_retry_mode(aws_smithy_types::retry::RetryMode::Adaptive)
}

/// Reads snapshots. Build once; `read` may be called repeatedly.
pub struct Reader {
    clients: EksClients,
    concurrency: usize,
}

/// What one (account, region, cluster) read is about, for error records.
#[derive(Clone, Copy)]
struct At<'a> {
    account: &'a str,
    region: &'a str,
    cluster: Option<&'a str>,
    principal: Option<&'a str>,
}

impl At<'_> {
    fn failed(&self, step: ReadStep, e: AwsError) -> Unreadable {
        Unreadable {
            account: self.account.to_string(),
            region: self.region.to_string(),
            cluster: self.cluster.map(str::to_string),
            principal_arn: self.principal.map(str::to_string),
            operation: step,
            code: e.code.map(|c| clean(&c, 128)),
            message: clean(&e.message, 512),
        }
    }
}

fn time(t: Option<&DateTime>) -> Option<String> {
    t.and_then(|t| t.fmt(Format::DateTime).ok())
}

impl Reader {
    /// At most `concurrency` EKS calls in flight (at least one).
    pub fn new(clients: EksClients, concurrency: usize) -> Self {
        Reader {
            clients,
            concurrency: concurrency.max(1),
        }
    }

    /// Read every target. `taken_at` is recorded as the snapshot's time.
    pub async fn read(&self, targets: &[Target], taken_at: String) -> Snapshot {
        let permits = Semaphore::new(self.concurrency);
        let reads = targets.iter().map(|t| self.target(t, &permits));
        let mut snapshot = Snapshot::new(Some(taken_at));
        for (clusters, unreadable) in join_all(reads).await {
            snapshot.clusters.extend(clusters);
            snapshot.unreadable.extend(unreadable);
        }
        snapshot.normalise();
        snapshot
    }

    async fn target(
        &self,
        t: &Target,
        permits: &Semaphore,
    ) -> (Vec<ClusterState>, Vec<Unreadable>) {
        let account = t.account.as_deref().unwrap_or_default();
        let at = At {
            account,
            region: &t.region,
            cluster: None,
            principal: None,
        };
        let client = match self.clients.client(account, &t.region).await {
            Ok(c) => c,
            Err(reason) => {
                let e = AwsError {
                    operation: "ListClusters",
                    code: None,
                    kind: crate::aws::ErrorKind::Denied,
                    message: reason,
                };
                return (Vec::new(), vec![at.failed(ReadStep::ListClusters, e)]);
            }
        };
        let names = match list_clusters(&client, permits).await {
            Ok(names) => names,
            Err(e) => return (Vec::new(), vec![at.failed(ReadStep::ListClusters, e)]),
        };
        let reads = names.iter().map(|name| {
            let at = At {
                cluster: Some(name),
                ..at
            };
            read_cluster(&client, permits, at)
        });
        let mut clusters = Vec::new();
        let mut unreadable = Vec::new();
        for (cluster, problems) in join_all(reads).await {
            clusters.extend(cluster);
            unreadable.extend(problems);
        }
        // Without a named account, the clusters' ARNs say whose credentials these are.
        if account.is_empty() {
            let own = clusters
                .iter()
                .find_map(|c| c.arn.as_deref().and_then(crate::arn::account_of));
            if let Some(own) = own {
                for c in clusters.iter_mut().filter(|c| c.account().is_empty()) {
                    c.account = Some(own.clone());
                }
                for u in unreadable.iter_mut().filter(|u| u.account.is_empty()) {
                    u.account = own.clone();
                }
            }
        }
        (clusters, unreadable)
    }
}

/// Run `call` once a permit is free.
async fn permitted<T>(permits: &Semaphore, call: impl Future<Output = T>) -> T {
    // The semaphore is never closed, so acquiring only waits.
    let _permit = permits.acquire().await.ok();
    call.await
}

/// Every page of a list call: `page(token)` sends one request (each page takes its own
/// permit) and returns its items and the next token.
async fn all_pages<T, F, Fut>(permits: &Semaphore, mut page: F) -> Result<Vec<T>, AwsError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, Option<String>), AwsError>>,
{
    let mut items = Vec::new();
    let mut token = None;
    loop {
        let (mut got, next) = permitted(permits, page(token.take())).await?;
        items.append(&mut got);
        match next {
            Some(t) => token = Some(t),
            None => return Ok(items),
        }
    }
}

async fn list_clusters(client: &Client, permits: &Semaphore) -> Result<Vec<String>, AwsError> {
    all_pages(permits, |token| async move {
        let out = client
            .list_clusters()
            .max_results(PAGE)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListClusters", &e))?;
        Ok((
            out.clusters().to_vec(),
            out.next_token().map(str::to_string),
        ))
    })
    .await
}

async fn list_entries(
    client: &Client,
    permits: &Semaphore,
    cluster: &str,
) -> Result<Vec<String>, AwsError> {
    all_pages(permits, |token| async move {
        let out = client
            .list_access_entries()
            .cluster_name(cluster)
            .max_results(PAGE)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListAccessEntries", &e))?;
        Ok((
            out.access_entries().to_vec(),
            out.next_token().map(str::to_string),
        ))
    })
    .await
}

async fn list_policies(
    client: &Client,
    permits: &Semaphore,
    cluster: &str,
    principal: &str,
) -> Result<Vec<PolicyState>, AwsError> {
    all_pages(permits, |token| async move {
        let out = client
            .list_associated_access_policies()
            .cluster_name(cluster)
            .principal_arn(principal)
            .max_results(PAGE)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListAssociatedAccessPolicies", &e))?;
        let policies = out
            .associated_access_policies()
            .iter()
            .map(|p| PolicyState {
                policy_arn: clean(p.policy_arn().unwrap_or_default(), 512),
                access_scope: Some(ScopeState::from_scope(&scope_of(p.access_scope()))),
                associated_at: time(p.associated_at()),
            })
            .collect();
        Ok((policies, out.next_token().map(str::to_string)))
    })
    .await
}

async fn read_cluster(
    client: &Client,
    permits: &Semaphore,
    at: At<'_>,
) -> (Option<ClusterState>, Vec<Unreadable>) {
    let name = at.cluster.unwrap_or_default();
    let describe = permitted(permits, client.describe_cluster().name(name).send());
    let (described, listed) = tokio::join!(describe, list_entries(client, permits, name));
    let mut problems = Vec::new();
    let mut cluster = ClusterState {
        account: (!at.account.is_empty()).then(|| at.account.to_string()),
        region: Some(at.region.to_string()),
        name: clean(name, 256),
        ..ClusterState::default()
    };
    match described.map_err(|e| AwsError::from_sdk("DescribeCluster", &e)) {
        Ok(out) => {
            if let Some(c) = out.cluster() {
                describe_into(&mut cluster, c);
            }
        }
        Err(e) => {
            let u = at.failed(ReadStep::DescribeCluster, e);
            if u.gone() {
                // Deleted since ListClusters: there is nothing left to audit.
                return (None, vec![u]);
            }
            problems.push(u);
        }
    }
    match listed {
        Ok(principals) => {
            let reads = principals.iter().map(|p| {
                let at = At {
                    principal: Some(p),
                    ..at
                };
                read_entry(client, permits, at)
            });
            let mut entries = Vec::new();
            for (entry, more) in join_all(reads).await {
                entries.extend(entry);
                problems.extend(more);
            }
            cluster.access_entries = Some(entries);
        }
        // EKS refuses to list entries while only the ConfigMap is honoured: there are none.
        Err(e)
            if e.kind == crate::aws::ErrorKind::Invalid
                && cluster.authentication_mode == Some(AuthMode::ConfigMap) =>
        {
            cluster.access_entries = Some(Vec::new())
        }
        Err(e) => problems.push(at.failed(ReadStep::ListAccessEntries, e)),
    }
    (Some(cluster), problems)
}

/// The cluster's settings from DescribeCluster.
fn describe_into(cluster: &mut ClusterState, c: &aws_sdk_eks::types::Cluster) {
    let vpc = c.resources_vpc_config();
    cluster.arn = c.arn().map(|a| clean(a, 512));
    if cluster.account.is_none() {
        cluster.account = cluster.arn.as_deref().and_then(crate::arn::account_of);
    }
    cluster.authentication_mode = c
        .access_config()
        .and_then(|a| a.authentication_mode())
        .map(|m| AuthMode::parse(m.as_str()));
    cluster.endpoint_public_access = vpc.map(|v| v.endpoint_public_access());
    cluster.public_access_cidrs = vpc.map(|v| {
        v.public_access_cidrs()
            .iter()
            .map(|c| clean(c, 64))
            .collect()
    });
    cluster.endpoint_private_access = vpc.map(|v| v.endpoint_private_access());
    cluster.logging = c.logging().map(|l| {
        // Every type EKS reports on starts off; the setups say which are on.
        let mut logging = Logging {
            api: Some(false),
            audit: Some(false),
            authenticator: Some(false),
            controller_manager: Some(false),
            scheduler: Some(false),
        };
        for setup in l.cluster_logging() {
            for t in setup.types() {
                logging.set(t.as_str(), setup.enabled() == Some(true));
            }
        }
        logging
    });
    // EKS leaves the field out for clusters that never set it: they are not protected.
    cluster.deletion_protection = Some(c.deletion_protection().unwrap_or(false));
    cluster.version = c.version().map(|v| clean(v, 32));
    cluster.tags = Some(clean_tags(c.tags()));
    cluster.created_at = time(c.created_at());
}

async fn read_entry(
    client: &Client,
    permits: &Semaphore,
    at: At<'_>,
) -> (Option<EntryState>, Vec<Unreadable>) {
    let (cluster, principal) = (
        at.cluster.unwrap_or_default(),
        at.principal.unwrap_or_default(),
    );
    let describe = permitted(
        permits,
        client
            .describe_access_entry()
            .cluster_name(cluster)
            .principal_arn(principal)
            .send(),
    );
    let (described, policies) =
        tokio::join!(describe, list_policies(client, permits, cluster, principal));
    let mut problems = Vec::new();
    let mut entry = EntryState {
        principal_arn: clean(principal, 512),
        ..EntryState::default()
    };
    match described.map_err(|e| AwsError::from_sdk("DescribeAccessEntry", &e)) {
        Ok(out) => {
            if let Some(e) = out.access_entry() {
                entry.entry_type = e.r#type().map(|t| EntryType::parse(&clean(t, 64)));
                entry.username = e.username().map(|u| clean(u, 256));
                entry.kubernetes_groups = Some(
                    e.kubernetes_groups()
                        .iter()
                        .map(|g| clean(g, 256))
                        .collect(),
                );
                entry.tags = Some(clean_tags(e.tags()));
                entry.created_at = time(e.created_at());
                entry.modified_at = time(e.modified_at());
            }
        }
        Err(e) => {
            let u = at.failed(ReadStep::DescribeAccessEntry, e);
            if u.gone() {
                return (None, vec![u]);
            }
            problems.push(u);
        }
    }
    match policies {
        Ok(p) => entry.policies = Some(p),
        Err(e) => {
            let u = at.failed(ReadStep::ListAssociatedAccessPolicies, e);
            if u.gone() {
                return (None, vec![u]);
            }
            problems.push(u);
        }
    }
    (Some(entry), problems)
}
