//! EKS clients per (account, region), shared by enrichment and the audit: built from the SDK
//! configuration, assuming the read-only reader role (`ENRICH_ROLE_ARN_TEMPLATE`, the
//! template's `EnrichRoleName`) in accounts other than the function's own, and cached for the
//! life of the process. Tests hand in one fixed client instead.

use std::collections::HashMap;

use aws_sdk_eks::Client;
use aws_smithy_types::retry::RetryConfig;
use tokio::sync::Mutex;

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
