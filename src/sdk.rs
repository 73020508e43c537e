//! The AWS SDK configuration both binaries use, built once.
//!
//! One HTTPS client, rustls with ring, replaces the SDK's default (rustls with aws-lc): the
//! binary is smaller and there is no C crypto library to build. Credentials, region and
//! endpoints come from the usual chain (environment, profile, SSO, container/instance roles).

use aws_config::BehaviorVersion;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// Load the shared SDK configuration.
pub async fn load() -> aws_types::SdkConfig {
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https)
        .load()
        .await
}
