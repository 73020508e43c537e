//! The Lambda entry point: configuration and AWS clients are built once at init, then every
//! invocation goes through [`eks_access_watch::lambda::Handler`] (the same path as `replay`).

use eks_access_watch::config::LambdaSettings;
use eks_access_watch::enrich::Enricher;
use eks_access_watch::lambda::Handler;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // Honours AWS_LAMBDA_LOG_FORMAT (JSON) and AWS_LAMBDA_LOG_LEVEL / RUST_LOG.
    lambda_runtime::tracing::init_default_subscriber();
    let settings = match LambdaSettings::from_env(|k| std::env::var(k).ok()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            return Err(e.into());
        }
    };
    let sdk = eks_access_watch::sdk::load().await;
    let enricher = settings
        .enrich
        .then(|| Enricher::from_sdk_config(&sdk, Handler::enrich_settings(&settings)));
    let sns = settings
        .topic
        .as_ref()
        .map(|_| aws_sdk_sns::Client::new(&sdk));
    let sqs = settings
        .failure_queue_url
        .as_ref()
        .map(|_| aws_sdk_sqs::Client::new(&sdk));
    tracing::info!(
        dry_run = settings.topic.is_none(),
        enrich = settings.enrich,
        min_severity = %settings.min_severity,
        format = %settings.format,
        failure_queue = settings.failure_queue_url.is_some(),
        audit = settings.audit.bucket.is_some(),
        "eks-access-watch ready"
    );
    let audit = eks_access_watch::audit::daily::DailyAudit::from_settings(&sdk, &settings);
    let mut handler = Handler::new(settings, enricher, sns, sqs);
    if let Some(audit) = audit {
        handler = handler.with_audit(audit);
    }
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler.handle(&event.payload).await
    }))
    .await
}
