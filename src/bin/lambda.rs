//! The Lambda entry point: configuration and AWS clients are built once at init, then every
//! invocation goes through [`eks_access_watch::lambda::Handler`] (the same path as `replay`).

use eks_access_watch::enrich::Enricher;
use eks_access_watch::lambda::{Handler, Settings};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // Honours AWS_LAMBDA_LOG_FORMAT (JSON) and AWS_LAMBDA_LOG_LEVEL / RUST_LOG.
    lambda_runtime::tracing::init_default_subscriber();
    let settings = match Settings::from_env(|k| std::env::var(k).ok()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            return Err(e.into());
        }
    };
    let sdk = eks_access_watch::sdk::load().await;
    let enricher = settings
        .enrich
        .then(|| Enricher::from_sdk_config(&sdk, settings.enrich_settings()));
    let sns = settings
        .topic_arn
        .as_ref()
        .map(|_| aws_sdk_sns::Client::new(&sdk));
    tracing::info!(
        dry_run = settings.topic_arn.is_none(),
        enrich = settings.enrich,
        min_severity = %settings.min_severity,
        format = %settings.format,
        "eks-access-watch ready"
    );
    let handler = Handler::new(settings, enricher, sns);
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler.handle(&event.payload).await
    }))
    .await
}
