//! The daily audit's look at the watcher's own reach, read-only, through the same reader role
//! as the EKS reads: in each member account and region, the forwarding rules of
//! templates/member-account.yaml (EventBridge `ListRules`) and its dead-letter queue's depth
//! (SQS `GetQueueAttributes`); for each cluster whose aws-auth is live, whether its audit log
//! group has the watcher's subscription filter (CloudWatch Logs `DescribeSubscriptionFilters`).
//! What it reads goes into the snapshot ([`Forwarding`], `audit_log_subscribed`); the audit's
//! `forwarding-broken` and `watch-coverage-missing` rules judge it.

use std::collections::BTreeMap;

use crate::aws::AwsError;
use crate::aws::eks_reader::Target;
use crate::model::AuthMode;
use crate::model::snapshot::{FORWARD_DEAD_LETTER_QUEUE, Forwarding, Snapshot};
use crate::sanitize::clean;

/// The prefix every forwarding rule's name starts with.
pub const FORWARD_RULE_PREFIX: &str = "eks-access-watch-forward-";

/// The three clients one (account, region) is read with.
#[derive(Clone)]
pub struct CoverageClients {
    pub events: aws_sdk_eventbridge::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
}

enum Source {
    /// The same clients for every account and region (tests).
    Fixed(CoverageClients),
    /// Built from the SDK configuration per (account, region), assuming the reader role in
    /// other accounts.
    Sdk {
        base: Box<aws_types::SdkConfig>,
        home_account: Option<String>,
        role_template: Option<String>,
    },
}

/// Reads the watcher's coverage; built once per process.
pub struct CoverageReader {
    source: Source,
    /// The central region (the function's): its own account forwards nothing there.
    home_region: Option<String>,
    home_account: Option<String>,
}

impl CoverageReader {
    pub fn fixed(
        clients: CoverageClients,
        home_account: Option<String>,
        home_region: Option<String>,
    ) -> Self {
        CoverageReader {
            source: Source::Fixed(clients),
            home_region,
            home_account,
        }
    }

    pub fn from_sdk_config(
        base: &aws_types::SdkConfig,
        home_account: Option<String>,
        role_template: Option<String>,
        home_region: Option<String>,
    ) -> Self {
        CoverageReader {
            source: Source::Sdk {
                base: Box::new(base.clone()),
                home_account: home_account.clone(),
                role_template,
            },
            home_region,
            home_account,
        }
    }

    async fn clients(&self, account: &str, region: &str) -> Result<CoverageClients, String> {
        let (base, home, template) = match &self.source {
            Source::Fixed(c) => return Ok(c.clone()),
            Source::Sdk {
                base,
                home_account,
                role_template,
            } => (base.as_ref(), home_account, role_template),
        };
        let other = home
            .as_deref()
            .is_some_and(|h| !account.is_empty() && h != account);
        let region =
            (!region.is_empty()).then(|| aws_types::region::Region::new(region.to_string()));
        let role = match (other, template) {
            (false, _) => None,
            (true, Some(t)) => Some(t.replace("{account}", account)),
            (true, None) => {
                return Err(format!(
                    "account {account} cannot be read without ENRICH_ROLE_ARN_TEMPLATE"
                ));
            }
        };
        let provider = || async {
            match &role {
                Some(role) => Some(
                    aws_config::sts::AssumeRoleProvider::builder(role.clone())
                        .session_name("eks-access-watch-coverage")
                        .configure(base)
                        .build()
                        .await,
                ),
                None => None,
            }
        };
        let mut events = aws_sdk_eventbridge::config::Builder::from(base);
        let mut sqs = aws_sdk_sqs::config::Builder::from(base);
        let mut logs = aws_sdk_cloudwatchlogs::config::Builder::from(base);
        if let Some(r) = &region {
            events = events.region(r.clone());
            sqs = sqs.region(r.clone());
            logs = logs.region(r.clone());
        }
        if let Some(p) = provider().await {
            events = events.credentials_provider(p);
        }
        if let Some(p) = provider().await {
            sqs = sqs.credentials_provider(p);
        }
        if let Some(p) = provider().await {
            logs = logs.credentials_provider(p);
        }
        Ok(CoverageClients {
            events: aws_sdk_eventbridge::Client::from_conf(events.build()),
            sqs: aws_sdk_sqs::Client::from_conf(sqs.build()),
            logs: aws_sdk_cloudwatchlogs::Client::from_conf(logs.build()),
        })
    }

    /// Add to `snapshot` the forwarding of every target but the central region of the home
    /// account, and whether each live-aws-auth cluster's audit log is subscribed.
    pub async fn complete(&self, snapshot: &mut Snapshot, targets: &[Target]) {
        for t in targets {
            let account = t
                .account
                .clone()
                .or_else(|| self.home_account.clone())
                .unwrap_or_default();
            let home = t.account.is_none() || t.account == self.home_account;
            let clients = match self.clients(&account, &t.region).await {
                Ok(c) => c,
                Err(why) => {
                    if !(home && Some(&t.region) == self.home_region.as_ref()) {
                        snapshot.forwarding.push(Forwarding {
                            account: account.clone(),
                            region: t.region.clone(),
                            unreadable: vec![why],
                            ..Forwarding::default()
                        });
                    }
                    continue;
                }
            };
            if !(home && Some(&t.region) == self.home_region.as_ref()) {
                snapshot
                    .forwarding
                    .push(forwarding(&clients, &account, &t.region).await);
            }
            for c in snapshot.clusters.iter_mut().filter(|c| {
                c.region() == t.region
                    && (c.account() == account || (home && c.account().is_empty()))
            }) {
                let live = matches!(
                    c.authentication_mode,
                    Some(AuthMode::ConfigMap | AuthMode::ApiAndConfigMap)
                );
                let logged = c.logging.as_ref().and_then(|l| l.audit) == Some(true);
                if !(live && logged) {
                    continue;
                }
                match subscribed(&clients.logs, &c.name).await {
                    Ok(yes) => c.audit_log_subscribed = Some(yes),
                    Err(e) => {
                        tracing::warn!(cluster = %c.name, error = %e, "audit-log subscription not checked")
                    }
                }
            }
        }
        snapshot
            .forwarding
            .sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
    }
}

/// One member region's forwarding rules and dead-letter queue.
async fn forwarding(clients: &CoverageClients, account: &str, region: &str) -> Forwarding {
    let mut f = Forwarding {
        account: account.to_string(),
        region: region.to_string(),
        ..Forwarding::default()
    };
    match rules(&clients.events).await {
        Ok(r) => f.rules = Some(r),
        Err(e) => f.unreadable.push(clean(&e.to_string(), 512)),
    }
    match dead_letters(&clients.sqs).await {
        Ok(n) => f.dead_letters = n,
        Err(e) => f.unreadable.push(clean(&e.to_string(), 512)),
    }
    f
}

/// Every rule named `eks-access-watch-forward-*` on the default bus, with its state.
async fn rules(client: &aws_sdk_eventbridge::Client) -> Result<BTreeMap<String, String>, AwsError> {
    let mut out = BTreeMap::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .list_rules()
            .name_prefix(FORWARD_RULE_PREFIX)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListRules", &e))?;
        for r in page.rules() {
            let state = r
                .state()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            out.insert(clean(r.name().unwrap_or_default(), 256), clean(&state, 64));
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => return Ok(out),
        }
    }
}

/// Messages waiting in the forwarding dead-letter queue; `None` when there is no such queue
/// (its absence shows as missing rules too).
async fn dead_letters(client: &aws_sdk_sqs::Client) -> Result<Option<u64>, AwsError> {
    let url = match client
        .get_queue_url()
        .queue_name(FORWARD_DEAD_LETTER_QUEUE)
        .send()
        .await
    {
        Ok(out) => out.queue_url().unwrap_or_default().to_string(),
        Err(e) => {
            let e = AwsError::from_sdk("GetQueueUrl", &e);
            let missing = e.kind == crate::aws::ErrorKind::NotFound
                || e.code
                    .as_deref()
                    .is_some_and(|c| c.contains("NonExistentQueue"));
            return if missing { Ok(None) } else { Err(e) };
        }
    };
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetQueueAttributes", &e))?;
    Ok(out
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages))
        .and_then(|n| n.parse().ok()))
}

/// Whether `/aws/eks/<cluster>/cluster` has the watcher's subscription: a filter named
/// `<stack>-aws-auth-rbac` (the template's name) delivering to a Lambda function. A missing
/// log group has none.
async fn subscribed(
    client: &aws_sdk_cloudwatchlogs::Client,
    cluster: &str,
) -> Result<bool, AwsError> {
    let group = format!("/aws/eks/{cluster}/cluster");
    match client
        .describe_subscription_filters()
        .log_group_name(&group)
        .send()
        .await
    {
        Ok(out) => Ok(out.subscription_filters().iter().any(|f| {
            f.filter_name()
                .is_some_and(|n| n.ends_with("-aws-auth-rbac"))
                && f.destination_arn().is_some_and(|d| d.contains(":lambda:"))
        })),
        Err(e) => {
            let e = AwsError::from_sdk("DescribeSubscriptionFilters", &e);
            if e.kind == crate::aws::ErrorKind::NotFound {
                Ok(false)
            } else {
                Err(e)
            }
        }
    }
}
