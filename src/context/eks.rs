//! EKS lookups -> [`Enrichment`]: the only module that reads the EKS API (read-only calls).
//!
//! For an access change we describe the entry, list its policy associations (every page) and
//! describe the cluster **concurrently**, each under one shared deadline, so latency is the
//! slowest call, not the sum, and a call that is late or fails costs only its own part. For
//! changes that can remove the last admin (switch to API mode, entry deletion, admin
//! disassociation) we also take a census of who still holds admin: list the cluster's entries
//! (bounded count) and their associations (bounded concurrency).
//!
//! Every failure is survivable: not found, AccessDenied, throttling after the SDK's retries, a
//! missed deadline, no role for another account. The enrichment then says what failed and why;
//! it is never treated as "safe".
//!
//! DescribeCluster answers are kept for a short time per (account, region, cluster): most
//! alerts in a burst are about the same cluster. Events that change cluster settings read it
//! fresh (and refresh the cache).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_eks::Client;
use futures::stream::{self, StreamExt};
use tokio::sync::Mutex;
use tokio::time::{Instant, timeout_at};

use crate::aws::AwsError;
use crate::aws::eks::{EksClients, describe_cluster, describe_entry, list_policies};
use crate::model::{AccessEvent, Change};
use crate::model::{AdminCensus, ClusterInfo, Enrichment, EnrichmentStatus, PolicyGrant};
use crate::operation::Touches;
use crate::policy::{PolicyClass, classify_policy};
use crate::sanitize::clean;

/// Limits and cross-account settings.
#[derive(Debug, Clone)]
pub struct EnrichSettings {
    /// One deadline for all lookups of an event (`ENRICH_TIMEOUT_MS`).
    pub timeout: Duration,
    /// At most this many access entries are examined for the admin census.
    pub max_entries: usize,
    /// At most this many association listings run at once for the census.
    pub concurrency: usize,
    /// The account the function runs in; events from other accounts need `role_template`.
    pub home_account: Option<String>,
    /// `arn:aws:iam::{account}:role/eks-access-watch-reader`: the read-only role to assume in
    /// other accounts. `None`: other accounts are not enriched.
    pub role_template: Option<String>,
    /// How long a DescribeCluster answer is reused for events that do not change settings.
    pub cluster_ttl: Duration,
}

impl Default for EnrichSettings {
    fn default() -> Self {
        EnrichSettings {
            timeout: Duration::from_millis(3000),
            max_entries: 200,
            concurrency: 8,
            home_account: None,
            role_template: None,
            cluster_ttl: Duration::from_secs(60),
        }
    }
}

/// Cached DescribeCluster answers, by (account, region, cluster).
type ClusterCache = Mutex<HashMap<(String, String, String), (Instant, ClusterInfo)>>;

/// The lookups that failed for a cluster earlier in one payload (throttling, a denial, a
/// missed deadline, a service error), by (account, region, cluster): the rest of the payload's
/// events for that cluster are not looked up again, each saying why, so a payload of
/// thousands of events about a throttled cluster costs one round of calls, not thousands.
/// Build one per payload ([`Enricher::enrich_remembering`]); "not found" is not remembered
/// (it is about one principal, not the cluster).
#[derive(Debug, Default)]
pub struct Remembered {
    failures: std::sync::Mutex<HashMap<(String, String, String), String>>,
}

impl Remembered {
    fn get(&self, key: &(String, String, String)) -> Option<String> {
        self.failures.lock().ok()?.get(key).cloned()
    }

    fn remember(&self, key: &(String, String, String), reason: String) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.entry(key.clone()).or_insert(reason);
        }
    }

    /// How many clusters had a failure remembered.
    pub fn len(&self) -> usize {
        self.failures.lock().map(|f| f.len()).unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A failure worth remembering for the rest of the payload: one that says the cluster (or
/// its API) cannot answer now, not that one principal has no entry.
fn cluster_wide<T>(result: &Option<Result<T, AwsError>>) -> Option<String> {
    use crate::aws::ErrorKind;
    match result {
        Some(Err(e))
            if matches!(
                e.kind,
                ErrorKind::Throttled
                    | ErrorKind::Denied
                    | ErrorKind::Timeout
                    | ErrorKind::Server
                    | ErrorKind::Network
            ) =>
        {
            Some(clean(&e.to_string(), 512))
        }
        _ => None,
    }
}

/// Looks up context for events. Build once, share across invocations.
pub struct Enricher {
    settings: EnrichSettings,
    clients: EksClients,
    clusters: ClusterCache,
}

/// How DescribeCluster is wanted for an event.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum ClusterRead {
    #[default]
    No,
    /// A recent answer will do.
    Cached,
    /// The event changes cluster settings: read what they are now.
    Fresh,
}

/// What to look up for one event.
#[derive(Debug, Default, PartialEq, Eq)]
struct Plan {
    cluster: Option<String>,
    principal: Option<String>,
    describe_cluster: ClusterRead,
    census: bool,
}

impl Plan {
    fn for_event(event: &AccessEvent) -> Plan {
        let Some(cluster) = event.cluster.clone() else {
            return Plan::default();
        };
        let principal = match &event.change {
            // A deleted entry can only answer "not found": its census is what matters.
            Change::DeleteAccessEntry { .. } => None,
            c if c.is_access_change() => c.principal_arn().map(str::to_string),
            _ => None,
        };
        let describe_cluster = match event.operation.facts().touches {
            Touches::Settings => ClusterRead::Fresh,
            Touches::Access => ClusterRead::Cached,
            Touches::Deletion | Touches::Nothing => ClusterRead::No,
        };
        Plan {
            cluster: Some(cluster),
            principal,
            describe_cluster,
            census: event.change.may_leave_no_admin(),
        }
    }

    fn is_empty(&self) -> bool {
        self.principal.is_none() && self.describe_cluster == ClusterRead::No && !self.census
    }
}

impl Enricher {
    /// Enrich with clients built from the SDK configuration (Lambda, `replay --enrich`).
    pub fn from_sdk_config(base: &aws_types::SdkConfig, settings: EnrichSettings) -> Self {
        Enricher {
            clients: EksClients::from_sdk_config(
                base,
                settings.home_account.clone(),
                settings.role_template.clone(),
            ),
            settings,
            clusters: Mutex::new(HashMap::new()),
        }
    }

    /// Enrich every event through one client (tests, single-account tools).
    pub fn with_client(client: Client, settings: EnrichSettings) -> Self {
        Enricher {
            settings,
            clients: EksClients::fixed(client),
            clusters: Mutex::new(HashMap::new()),
        }
    }

    pub fn settings(&self) -> &EnrichSettings {
        &self.settings
    }

    /// Context for one event, or `None` when the event names no cluster to look at (STS).
    pub async fn enrich(&self, event: &AccessEvent) -> Option<Enrichment> {
        self.enrich_remembering(event, &Remembered::default()).await
    }

    /// [`Enricher::enrich`] within one payload: a cluster whose lookups failed earlier in
    /// `memo` is not asked again; the enrichment is `failed`, naming the earlier failure.
    pub async fn enrich_remembering(
        &self,
        event: &AccessEvent,
        memo: &Remembered,
    ) -> Option<Enrichment> {
        let plan = Plan::for_event(event);
        if plan.is_empty() {
            return None;
        }
        let client = match self.client_for(&event.account, &event.region).await {
            Ok(c) => c,
            Err(reason) => return Some(Enrichment::skipped(reason)),
        };
        let key = (
            event.account.clone(),
            event.region.clone(),
            plan.cluster.clone().unwrap_or_default(),
        );
        if let Some(reason) = memo.get(&key) {
            return Some(Enrichment {
                status: EnrichmentStatus::Failed,
                errors: vec![format!(
                    "not looked up: {reason} (earlier in this payload, for cluster {})",
                    key.2
                )],
                ..Enrichment::skipped("")
            });
        }
        Some(self.lookup(&client, &plan, key, memo).await)
    }

    /// A recent DescribeCluster answer for this cluster, if the plan may use one.
    async fn cached_cluster(
        &self,
        plan: &Plan,
        key: &(String, String, String),
    ) -> Option<ClusterInfo> {
        if plan.describe_cluster != ClusterRead::Cached {
            return None;
        }
        let cache = self.clusters.lock().await;
        let (at, info) = cache.get(key)?;
        (at.elapsed() < self.settings.cluster_ttl).then(|| info.clone())
    }

    async fn client_for(&self, account: &str, region: &str) -> Result<Client, String> {
        self.clients
            .client(account, region)
            .await
            .map_err(|reason| format!("event from {reason}"))
    }

    async fn lookup(
        &self,
        client: &Client,
        plan: &Plan,
        key: (String, String, String),
        memo: &Remembered,
    ) -> Enrichment {
        let deadline = Deadline {
            at: Instant::now() + self.settings.timeout,
            ms: self.settings.timeout.as_millis(),
        };
        let cluster = plan.cluster.as_deref().unwrap_or_default();
        let principal = plan.principal.as_deref();
        let cached = self.cached_cluster(plan, &key).await;
        let read_cluster = plan.describe_cluster != ClusterRead::No && cached.is_none();
        let (entry, policies, cluster_info, census) = tokio::join!(
            deadline.run(
                principal.is_some(),
                "DescribeAccessEntry",
                describe_entry(client, cluster, principal.unwrap_or_default())
            ),
            deadline.run(
                principal.is_some(),
                "ListAssociatedAccessPolicies",
                list_policies(client, cluster, principal.unwrap_or_default())
            ),
            deadline.run(
                read_cluster,
                "DescribeCluster",
                describe_cluster(client, cluster)
            ),
            deadline.run(
                plan.census,
                "admin census (ListAccessEntries)",
                admin_census(
                    client,
                    cluster,
                    self.settings.max_entries,
                    self.settings.concurrency
                )
            ),
        );

        if let Some(reason) = cluster_wide(&entry)
            .or_else(|| cluster_wide(&policies))
            .or_else(|| cluster_wide(&cluster_info))
            .or_else(|| cluster_wide(&census))
        {
            memo.remember(&key, reason);
        }
        let mut tally = Tally::default();
        let access_entry = tally.take(entry);
        let associated_policies = tally.take(policies);
        let cluster = match cached {
            Some(info) => Some(info),
            None => {
                let info = tally.take(cluster_info);
                if let Some(info) = &info {
                    self.clusters
                        .lock()
                        .await
                        .insert(key, (Instant::now(), info.clone()));
                }
                info
            }
        };
        let remaining_admins = tally.take(census);
        let Tally {
            asked,
            answered,
            errors,
        } = tally;
        let status = match (asked, answered) {
            (a, b) if a == b => EnrichmentStatus::Complete,
            (_, 0) => EnrichmentStatus::Failed,
            _ => EnrichmentStatus::Partial,
        };
        Enrichment {
            status,
            errors,
            access_entry,
            associated_policies,
            cluster,
            remaining_admins,
            trimmed: false,
        }
    }
}

/// The one deadline all lookups of an event share.
struct Deadline {
    at: Instant,
    ms: u128,
}

impl Deadline {
    /// `None` when the lookup is not wanted (its future is never polled, so it costs nothing);
    /// otherwise its result, or why it missed the deadline.
    async fn run<T>(
        &self,
        wanted: bool,
        op: &'static str,
        lookup: impl std::future::Future<Output = Result<T, AwsError>>,
    ) -> Option<Result<T, AwsError>> {
        if !wanted {
            return None;
        }
        Some(timeout_at(self.at, lookup).await.unwrap_or_else(|_| {
            Err(AwsError::deadline(
                op,
                format!(
                    "no answer within the {} ms deadline (ENRICH_TIMEOUT_MS)",
                    self.ms
                ),
            ))
        }))
    }
}

/// Counts the lookups that were asked and answered, and keeps the reasons of the others.
#[derive(Default)]
struct Tally {
    asked: usize,
    answered: usize,
    errors: Vec<String>,
}

impl Tally {
    /// `DescribeAccessEntry: ResourceNotFoundException: The specified access entry ...`
    fn take<T>(&mut self, result: Option<Result<T, AwsError>>) -> Option<T> {
        let result = result?;
        self.asked += 1;
        match result {
            Ok(v) => {
                self.answered += 1;
                Some(v)
            }
            Err(e) => {
                self.errors.push(clean(&e.to_string(), 512));
                None
            }
        }
    }
}

/// Who still holds ClusterAdmin or Admin at cluster scope.
async fn admin_census(
    client: &Client,
    cluster: &str,
    max_entries: usize,
    concurrency: usize,
) -> Result<AdminCensus, AwsError> {
    let mut pages = client
        .list_access_entries()
        .cluster_name(cluster)
        .into_paginator()
        .items()
        .send();
    let mut entries = Vec::new();
    let mut truncated = false;
    while let Some(item) = pages.next().await {
        let arn = item.map_err(|e| AwsError::from_sdk("ListAccessEntries", &e))?;
        if entries.len() == max_entries {
            truncated = true;
            break;
        }
        entries.push(arn);
    }
    let checked = entries.len();
    let results: Vec<(String, Result<Vec<PolicyGrant>, AwsError>)> = stream::iter(entries)
        .map(|arn| async move {
            let r = list_policies(client, cluster, &arn).await;
            (arn, r)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut admins = Vec::new();
    for (arn, r) in results {
        // An entry we could not read might hold admin: the census is then incomplete, never "empty".
        let grants = r.map_err(|e| AwsError {
            message: format!("admin census: {}", e.message),
            ..e
        })?;
        let admin = grants.iter().any(|g| {
            matches!(
                classify_policy(&g.policy_arn).class,
                PolicyClass::ClusterAdmin | PolicyClass::Admin
            ) && g.access_scope.is_cluster_wide()
        });
        if admin {
            admins.push(arn);
        }
    }
    admins.sort();
    Ok(AdminCensus {
        admins,
        entries_checked: checked,
        truncated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> AccessEvent {
        let config = crate::config::RuleConfig::default();
        *crate::ingest::decide_record(json, &config, crate::ingest::ReadMode::Strict)
            .unwrap()
            .unwrap()
    }

    #[test]
    fn plans_follow_the_change() {
        let e = event(
            r#"{"eventSource":"eks.amazonaws.com","eventName":"UpdateClusterConfig","requestParameters":{"name":"c","accessConfig":{"authenticationMode":"API"}}}"#,
        );
        let p = Plan::for_event(&e);
        assert!(p.census && p.principal.is_none());
        assert_eq!(
            p.describe_cluster,
            ClusterRead::Fresh,
            "settings change: read fresh"
        );
        let e = event(
            r#"{"eventSource":"eks.amazonaws.com","eventName":"AssociateAccessPolicy","requestParameters":{"name":"c","principalArn":"arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx"}}"#,
        );
        let p = Plan::for_event(&e);
        assert_eq!(p.principal.as_deref(), Some("arn:aws:iam::1:role/x"));
        assert!(!p.census);
        assert_eq!(p.describe_cluster, ClusterRead::Cached);
        let e = event(
            r#"{"eventSource":"sts.amazonaws.com","eventName":"AssumeRole","requestParameters":{"roleArn":"arn:aws:iam::111122223333:role/break-glass"}}"#,
        );
        assert!(Plan::for_event(&e).is_empty());
    }
}
