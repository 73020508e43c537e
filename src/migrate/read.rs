//! `migrate --live`: the read-only AWS calls behind the comparison, as [`LiveFacts`].
//!
//! - EKS: DescribeCluster (mode, account, creation time); ListAccessEntries (every page);
//!   DescribeAccessEntry and ListAssociatedAccessPolicies for every entry (the same calls, and
//!   the same code, as the watcher's enrichment).
//! - IAM: GetRole / GetUser by name, for each principal of the ConfigMap in the cluster's
//!   account (IAM reads only the caller's account), to learn its real ARN with its path.
//!
//! At most `concurrency` calls (8 by default) are in flight at once; throttling and server
//! errors are retried by the SDK. Any other failure, AccessDenied above all, is an error for the
//! whole read: a principal whose entry could not be read is never reported as missing (nor as
//! covered). Only IAM's `NoSuchEntity` is an answer: the principal does not exist.

use aws_sdk_eks::Client as Eks;
use aws_sdk_iam::Client as Iam;
use aws_smithy_types::date_time::{DateTime, Format};
use futures::stream::{self, StreamExt, TryStreamExt};

use super::live::{Identity, LiveEntry, LiveFacts};
use super::{PlannedPolicy, PlannedScope, path_and_name, principal_of};
use crate::arn::{PrincipalKey, PrincipalKind};
use crate::aws::eks::{cluster_facts, describe_entry, list_access_entry_arns, list_policies};
use crate::aws::{AwsError, ErrorKind};
use crate::awsauth::AwsAuth;
use crate::model::AuthMode;

/// Reads the live side of a migration. Build once.
pub struct LiveReader {
    eks: Eks,
    iam: Iam,
    concurrency: usize,
}

impl LiveReader {
    /// Clients from the shared SDK configuration (`sdk::load`).
    pub fn from_sdk_config(sdk: &aws_types::SdkConfig) -> Self {
        Self::with_clients(Eks::new(sdk), Iam::new(sdk))
    }

    /// Given clients (tests use the SDK's mocks).
    pub fn with_clients(eks: Eks, iam: Iam) -> Self {
        LiveReader {
            eks,
            iam,
            concurrency: 8,
        }
    }

    /// At most `n` calls at once (at least one).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Everything the comparison needs about `cluster` and the principals of `auth`.
    pub async fn read(&self, cluster: &str, auth: &AwsAuth) -> Result<LiveFacts, AwsError> {
        let c = cluster_facts(&self.eks, cluster).await?;
        let mode = c.authentication_mode.clone();
        let account = c.account.clone();
        let principals = principals(auth);
        // IAM first, then EKS: at most `concurrency` calls are in flight at any time.
        let identities =
            stream::iter(principals)
                .map(|(key, arn)| {
                    let home = account.as_deref();
                    async move {
                        Ok::<_, AwsError>((key.clone(), self.resolve(&key, &arn, home).await?))
                    }
                })
                .buffered(self.concurrency)
                .try_collect::<Vec<_>>()
                .await?;
        let entries = self.entries(cluster, &mode).await?;
        Ok(LiveFacts {
            authentication_mode: mode,
            cluster_created_epoch: c.created_epoch,
            identities,
            entries,
        })
    }

    /// IAM's answer for one principal; only principals of the cluster's account are looked up.
    async fn resolve(
        &self,
        key: &PrincipalKey,
        arn: &str,
        home: Option<&str>,
    ) -> Result<Identity, AwsError> {
        if home != Some(key.account.as_str()) {
            return Ok(Identity::NotChecked);
        }
        let name = path_and_name(arn).rsplit('/').next().unwrap_or_default();
        let found =
            crate::aws::iam::principal_arn(&self.iam, key.kind == PrincipalKind::User, name).await;
        match found {
            Ok(Some(arn)) => Ok(Identity::Found(arn)),
            Ok(None) => Ok(Identity::NotFound),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(Identity::NotFound),
            Err(e) => Err(e),
        }
    }

    /// Every access entry with its details; none can exist in `CONFIG_MAP` mode (EKS then
    /// refuses ListAccessEntries).
    async fn entries(&self, cluster: &str, mode: &AuthMode) -> Result<Vec<LiveEntry>, AwsError> {
        if *mode == AuthMode::ConfigMap {
            return Ok(Vec::new());
        }
        let arns = list_access_entry_arns(&self.eks, cluster).await?;
        stream::iter(arns)
            .map(|arn| async move {
                let (info, grants) = futures::try_join!(
                    describe_entry(&self.eks, cluster, &arn),
                    list_policies(&self.eks, cluster, &arn)
                )?;
                Ok::<_, AwsError>(LiveEntry {
                    created_epoch: info
                        .created_at
                        .as_deref()
                        .and_then(|t| DateTime::from_str(t, Format::DateTime).ok())
                        .map(|d| d.secs()),
                    created_at: info.created_at,
                    principal_arn: arn,
                    entry_type: info.entry_type,
                    username: info.username,
                    kubernetes_groups: info.kubernetes_groups,
                    policies: grants
                        .into_iter()
                        .map(|g| PlannedPolicy {
                            policy_arn: g.policy_arn,
                            access_scope: PlannedScope {
                                scope_type: g.access_scope.scope_type,
                                namespaces: g.access_scope.namespaces,
                            },
                        })
                        .collect(),
                })
            })
            // Two calls per entry.
            .buffered((self.concurrency / 2).max(1))
            .try_collect()
            .await
    }
}

/// Each principal of the ConfigMap once, with the ARN the plan names it by (rows the plan
/// refuses are left to it to report).
fn principals(auth: &AwsAuth) -> Vec<(PrincipalKey, String)> {
    let mut out: Vec<(PrincipalKey, String)> = Vec::new();
    for p in auth.mappings().filter_map(|m| principal_of(m).ok()) {
        if !out.iter().any(|(k, _)| *k == p.key) {
            out.push((p.key, p.arn));
        }
    }
    out
}
