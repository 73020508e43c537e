//! EKS: clients per (account, region), shared by enrichment, the audit and `migrate --live`,
//! and the reads they share (cleaned into the plain model types). Clients are built from the SDK
//! configuration, assuming the read-only reader role (`ENRICH_ROLE_ARN_TEMPLATE`, the
//! template's `EnrichRoleName`) in accounts other than the function's own, and cached for the
//! life of the process. Tests hand in one fixed client instead.

use std::collections::HashMap;

use aws_sdk_eks::Client;
use aws_smithy_types::retry::RetryConfig;
use tokio::sync::Mutex;

use crate::aws::{AwsError, ErrorKind};
use crate::model::{
    AccessScope, AuthMode, ClusterInfo, EntryInfo, EntryType, PolicyGrant, ScopeType,
};
use crate::sanitize::clean;

enum Source {
    /// One client for everything (tests, or a caller that knows its scope).
    Fixed(Client),
    /// Built from the SDK configuration per (account, region).
    Sdk {
        base: Box<aws_types::SdkConfig>,
        cache: Mutex<HashMap<(String, String), Client>>,
    },
}

/// Where EKS clients come from.
pub struct EksClients {
    source: Source,
    /// The account whose credentials the SDK configuration holds; `None`: unknown, every
    /// account is read with them.
    home_account: Option<String>,
    /// `arn:aws:iam::{account}:role/eks-access-watch-reader`; `None`: other accounts cannot
    /// be read.
    role_template: Option<String>,
    /// The retry behaviour of built clients (`None`: the SDK configuration's).
    retry: Option<RetryConfig>,
}

impl EksClients {
    /// Every call through `client` (tests, single-account tools).
    pub fn fixed(client: Client) -> Self {
        EksClients {
            source: Source::Fixed(client),
            home_account: None,
            role_template: None,
            retry: None,
        }
    }

    /// Clients built from `base` per (account, region).
    pub fn from_sdk_config(
        base: &aws_types::SdkConfig,
        home_account: Option<String>,
        role_template: Option<String>,
    ) -> Self {
        EksClients {
            source: Source::Sdk {
                base: Box::new(base.clone()),
                cache: Mutex::new(HashMap::new()),
            },
            home_account,
            role_template,
            retry: None,
        }
    }

    /// Built clients retry with `retry` (the audit uses the SDK's adaptive mode, which slows
    /// down on throttling instead of failing).
    pub fn with_retry(mut self, retry: RetryConfig) -> Self {
        self.retry = Some(retry);
        self
    }

    pub fn home_account(&self) -> Option<&str> {
        self.home_account.as_deref()
    }

    /// The client for `account` (empty: the home account) in `region` (empty: the SDK
    /// configuration's), or why there is none.
    pub async fn client(&self, account: &str, region: &str) -> Result<Client, String> {
        let (base, cache) = match &self.source {
            Source::Fixed(c) => return Ok(c.clone()),
            Source::Sdk { base, cache } => (base.as_ref(), cache),
        };
        let key = (account.to_string(), region.to_string());
        let mut cache = cache.lock().await;
        if let Some(c) = cache.get(&key) {
            return Ok(c.clone());
        }
        let mut builder = aws_sdk_eks::config::Builder::from(base);
        if !region.is_empty() {
            builder = builder.region(aws_types::region::Region::new(region.to_string()));
        }
        if let Some(retry) = &self.retry {
            builder = builder.retry_config(retry.clone());
        }
        let other_account = self
            .home_account
            .as_deref()
            .is_some_and(|home| !account.is_empty() && home != account);
        if other_account {
            let Some(template) = &self.role_template else {
                return Err(format!(
                    "account {account} is not this function's ({}); set ENRICH_ROLE_ARN_TEMPLATE to read other accounts",
                    self.home_account.as_deref().unwrap_or("?")
                ));
            };
            let role = template.replace("{account}", account);
            let provider = aws_config::sts::AssumeRoleProvider::builder(role)
                .session_name("eks-access-watch")
                .configure(base)
                .build()
                .await;
            builder = builder.credentials_provider(provider);
        }
        let client = Client::from_conf(builder.build());
        cache.insert(key, client.clone());
        Ok(client)
    }
}

/// Tags are chosen by whoever created the resource: sanitised and bounded like any caller text.
pub fn clean_tags(
    tags: Option<&std::collections::HashMap<String, String>>,
) -> std::collections::BTreeMap<String, String> {
    tags.into_iter()
        .flatten()
        .map(|(k, v)| (clean(k, 128), clean(v, 256)))
        .collect()
}

pub(crate) fn empty_answer(operation: &'static str) -> AwsError {
    AwsError {
        operation,
        code: None,
        kind: ErrorKind::Other,
        message: "empty answer".into(),
    }
}

/// DescribeAccessEntry, cleaned (enrichment and `migrate --live`).
pub async fn describe_entry(
    client: &Client,
    cluster: &str,
    principal: &str,
) -> Result<EntryInfo, AwsError> {
    let out = client
        .describe_access_entry()
        .cluster_name(cluster)
        .principal_arn(principal)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeAccessEntry", &e))?;
    let entry = out
        .access_entry()
        .ok_or_else(|| empty_answer("DescribeAccessEntry"))?;
    Ok(EntryInfo {
        entry_type: entry.r#type().map(|s| EntryType::parse(&clean(s, 64))),
        kubernetes_groups: entry
            .kubernetes_groups()
            .iter()
            .map(|g| clean(g, 256))
            .collect(),
        username: entry.username().map(|s| clean(s, 256)),
        tags: clean_tags(entry.tags()),
        created_at: entry.created_at().map(|d| d.to_string()),
    })
}

/// ListAssociatedAccessPolicies, every page (enrichment and `migrate --live`).
pub async fn list_policies(
    client: &Client,
    cluster: &str,
    principal: &str,
) -> Result<Vec<PolicyGrant>, AwsError> {
    let mut pages = client
        .list_associated_access_policies()
        .cluster_name(cluster)
        .principal_arn(principal)
        .into_paginator()
        .items()
        .send();
    let mut grants = Vec::new();
    while let Some(item) = pages.next().await {
        let p = item.map_err(|e| AwsError::from_sdk("ListAssociatedAccessPolicies", &e))?;
        grants.push(PolicyGrant {
            policy_arn: clean(p.policy_arn().unwrap_or_default(), 512),
            access_scope: scope_of(p.access_scope()),
        });
    }
    Ok(grants)
}

pub fn scope_of(scope: Option<&aws_sdk_eks::types::AccessScope>) -> AccessScope {
    match scope.and_then(|s| s.r#type().map(|t| (s, t))) {
        Some((s, t)) => AccessScope::new(
            ScopeType::parse(t.as_str()),
            s.namespaces().iter().map(|n| clean(n, 256)).collect(),
        ),
        None => AccessScope::cluster(),
    }
}

/// DescribeCluster's cluster (`migrate --live`, and [`describe_cluster`] for enrichment).
pub async fn fetch_cluster(
    client: &Client,
    cluster: &str,
) -> Result<aws_sdk_eks::types::Cluster, AwsError> {
    let out = client
        .describe_cluster()
        .name(cluster)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeCluster", &e))?;
    out.cluster.ok_or_else(|| empty_answer("DescribeCluster"))
}

/// DescribeCluster as the plain facts enrichment hands the rules.
pub async fn describe_cluster(client: &Client, cluster: &str) -> Result<ClusterInfo, AwsError> {
    let c = &fetch_cluster(client, cluster).await?;
    let vpc = c.resources_vpc_config();
    Ok(ClusterInfo {
        authentication_mode: c
            .access_config()
            .and_then(|a| a.authentication_mode())
            .map(|m| AuthMode::parse(m.as_str())),
        version: c.version().map(|v| clean(v, 32)),
        endpoint_public_access: vpc.map(|v| v.endpoint_public_access()),
        public_access_cidrs: vpc
            .map(|v| v.public_access_cidrs().to_vec())
            .unwrap_or_default(),
        logging_enabled: c
            .logging()
            .map(|l| {
                l.cluster_logging()
                    .iter()
                    .filter(|s| s.enabled() == Some(true))
                    .flat_map(|s| s.types().iter().map(|t| t.as_str().to_string()))
                    .collect()
            })
            .unwrap_or_default(),
        tags: clean_tags(c.tags()),
    })
}

/// What `migrate --live` reads of a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterFacts {
    /// `CONFIG_MAP` when EKS does not say.
    pub authentication_mode: AuthMode,
    /// The account in the cluster's ARN.
    pub account: Option<String>,
    /// The cluster's creation, in seconds since the epoch.
    pub created_epoch: Option<i64>,
}

/// DescribeCluster, as `migrate --live` needs it.
pub async fn cluster_facts(client: &Client, cluster: &str) -> Result<ClusterFacts, AwsError> {
    let c = fetch_cluster(client, cluster).await?;
    Ok(ClusterFacts {
        authentication_mode: c
            .access_config()
            .and_then(|a| a.authentication_mode())
            .map_or(AuthMode::ConfigMap, |m| AuthMode::parse(m.as_str())),
        account: c.arn().and_then(crate::arn::account_of),
        created_epoch: c.created_at().map(aws_smithy_types::DateTime::secs),
    })
}

/// ListAccessEntries, every page: the principal ARNs of the cluster's entries.
pub async fn list_access_entry_arns(
    client: &Client,
    cluster: &str,
) -> Result<Vec<String>, AwsError> {
    client
        .list_access_entries()
        .cluster_name(cluster)
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .map_err(|e| AwsError::from_sdk("ListAccessEntries", &e))
}
