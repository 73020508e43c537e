//! The Lambda entry point: configuration (the environment, then the tuning file from SSM) and
//! AWS clients are built once at init, then every invocation goes through
//! [`eks_access_watch::lambda::Handler`] (the same path as `replay`).

use std::sync::Arc;

use eks_access_watch::aws::dynamodb::DynamoStore;
use eks_access_watch::config::LambdaSettings;
use eks_access_watch::context::eks::Enricher;
use eks_access_watch::context::state::Store;
use eks_access_watch::lambda::{Budget, Clients, Handler, Setup, budget, load_tuning};
use eks_access_watch::sink::{PagerDutySettings, PagerDutySink};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::value::RawValue;

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
    let sdk = eks_access_watch::aws::load().await;
    // A tuning file that cannot be read or is invalid does not stop the function: it runs on
    // the environment's settings and publishes tuning-invalid (below).
    let ssm = settings
        .tuning_parameter
        .as_ref()
        .map(|_| aws_sdk_ssm::Client::new(&sdk));
    let setup: Setup = match &ssm {
        Some(ssm) => load_tuning(settings, ssm).await,
        None => settings.into(),
    };
    let tuning_problems = setup.tuning_problems.clone();
    let settings = &setup.settings;
    // An expired exception no longer suppresses anything; say so at every cold start (each
    // alert it would have covered also names it in `expired_exception`).
    if let Some(t) = &setup.tuning {
        for f in t.expired_findings(eks_access_watch::tuning::today_utc()) {
            tracing::warn!(rule = f.rule.id, "{}", f.summary);
        }
    }
    // The PagerDuty routing key, read once from its SecureString (never from the environment).
    let pagerduty = match &settings.sinks.pagerduty_routing_key_parameter {
        None => None,
        Some(name) => {
            let key = eks_access_watch::aws::ssm::get_secret(&aws_sdk_ssm::Client::new(&sdk), name)
                .await
                .map_err(|e| {
                    let e = format!(
                        "PAGERDUTY_ROUTING_KEY_PARAMETER: cannot read SSM parameter {name}: {e}"
                    );
                    tracing::error!("{e}");
                    e
                })?;
            let sink = PagerDutySink::new(PagerDutySettings::new(
                settings.sinks.pagerduty_events_url.clone(),
                key,
                settings.sinks.pagerduty_min_severity,
            ))
            .map_err(|e| {
                tracing::error!("{e}");
                e
            })?;
            Some(sink)
        }
    };
    let clients = Clients {
        enricher: settings
            .enrich
            .then(|| Enricher::from_sdk_config(&sdk, Handler::enrich_settings(settings))),
        sns: settings
            .topic
            .as_ref()
            .map(|_| aws_sdk_sns::Client::new(&sdk)),
        sqs: settings
            .failure_queue_url
            .as_ref()
            .map(|_| aws_sdk_sqs::Client::new(&sdk)),
        // The scheduled trail self-check's reader; building it costs no call.
        cloudtrail: Some(aws_sdk_cloudtrail::Client::new(&sdk)),
        // Reads the log objects S3 notifications announce (OrgTrailBucketName); no call until one does.
        // Path-style only with a custom endpoint (an S3-compatible server in a local run).
        s3: Some(eks_access_watch::aws::s3::client(&sdk)),
        // The correlation store: DynamoDB when STATE_TABLE_NAME is set (see aws::dynamodb).
        state: settings.state_table.as_ref().map(|table| {
            Arc::new(DynamoStore::new(
                aws_sdk_dynamodb::Client::new(&sdk),
                table.clone(),
            )) as Arc<dyn Store>
        }),
        securityhub: settings
            .sinks
            .security_hub
            .then(|| aws_sdk_securityhub::Client::new(&sdk)),
        pagerduty,
    };
    tracing::info!(
        dry_run = settings.topic.is_none(),
        enrich = settings.enrich,
        min_severity = %settings.min_severity,
        format = %settings.format,
        failure_queue = settings.failure_queue_url.is_some(),
        tuning = setup.tuning.as_ref().map(|t| t.source.as_str()),
        tuning_sha256 = setup.tuning_sha256.as_deref(),
        tuning_invalid = !setup.tuning_problems.is_empty(),
        audit = settings.audit.bucket.is_some(),
        state_table = settings.state_table.as_deref(),
        security_hub = settings.sinks.security_hub,
        pagerduty = settings.sinks.pagerduty_routing_key_parameter.is_some(),
        "eks-access-watch ready"
    );
    let audit = eks_access_watch::lambda::daily_audit::DailyAudit::from_settings(&sdk, settings);
    let mut handler = Handler::new(setup, clients);
    if let Some(audit) = audit {
        handler = handler.with_audit(audit);
    }
    if let Some(ssm) = ssm {
        handler = handler.with_ssm(ssm);
    }
    if let Some(delivery) = handler.report_tuning_problems(&tuning_problems).await {
        tracing::warn!(delivery = %delivery, "tuning-invalid published");
    }
    let handler = &handler;
    // The payload stays raw JSON: the handler reads it, so nothing is rejected unread.
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Box<RawValue>>| async move {
            let budget = Budget::from_deadline_ms(event.context.deadline, budget::DEFAULT_RESERVE);
            handler.handle_within(&event.payload, budget).await
        },
    ))
    .await
}
