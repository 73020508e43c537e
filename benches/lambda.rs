//! Lambda cost: classification alone, parse + classify, and the handler with mocked AWS calls
//! (enrichment concurrent vs the same three lookups awaited one after another).
//!
//! `cargo bench --bench lambda`. Numbers go to BENCHMARKS.md; nothing here asserts a time.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use aws_sdk_eks::Client as Eks;
use aws_sdk_eks::operation::describe_access_entry::DescribeAccessEntryOutput;
use aws_sdk_eks::operation::describe_cluster::DescribeClusterOutput;
use aws_sdk_eks::operation::list_associated_access_policies::ListAssociatedAccessPoliciesOutput;
use aws_sdk_eks::types::{AccessEntry, Cluster};
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use criterion::{Criterion, criterion_group, criterion_main};
use eks_access_watch::config::{AlertFormat, LambdaSettings};
use eks_access_watch::context::Context;
use eks_access_watch::context::eks::{EnrichSettings, Enricher};
use eks_access_watch::ingest::{ReadMode, decide_record};
use eks_access_watch::lambda::{Clients, Handler};
use eks_access_watch::pipeline;
use eks_access_watch::{AccessEvent, Alert, RuleConfig};

/// The pipeline's judgement of one event, offline and untuned (what the Lambda runs per event
/// between enrichment and delivery).
fn classify(event: &AccessEvent, config: &RuleConfig, _: Option<()>) -> Alert {
    let today = eks_access_watch::tuning::today_utc();
    pipeline::judge(event, &Context::default(), config, None, today)
        .alert()
        .expect("untuned")
}

#[path = "../tests/support/delayed.rs"]
mod delayed;

fn sample_events() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            out.push(std::fs::read_to_string(path).unwrap());
        }
    }
    out.sort();
    out
}

fn config() -> RuleConfig {
    RuleConfig::new(
        &["arn:aws:iam::111122223333:role/terraform-deployer".to_string()],
        "approved",
        &["arn:aws:iam::111122223333:role/eks-break-glass".to_string()],
        "break-glass",
    )
    .unwrap()
}

/// The CloudTrail record inside each sample (EventBridge `detail`, or the record itself).
fn records() -> Vec<String> {
    sample_events()
        .iter()
        .map(|s| {
            let v: serde_json::Value = serde_json::from_str(s).unwrap();
            v.get("detail").cloned().unwrap_or(v).to_string()
        })
        .collect()
}

fn classification(c: &mut Criterion) {
    let config = config();
    let records = records();
    let events: Vec<AccessEvent> = records
        .iter()
        .filter_map(|r| match decide_record(r, &config, ReadMode::Fast) {
            Ok(Ok(e)) => Some(*e),
            _ => None,
        })
        .collect();
    let mut g = c.benchmark_group("per_event");
    g.bench_function("classify", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % events.len();
            black_box(classify(black_box(&events[i]), &config, None))
        })
    });
    g.bench_function("parse_normalise_classify", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % records.len();
            if let Ok(Ok(e)) = decide_record(black_box(&records[i]), &config, ReadMode::Fast) {
                black_box(classify(&e, &config, None));
            }
        })
    });
    g.bench_function("classify_and_render_sns_message", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % events.len();
            let alert = classify(&events[i], &config, None);
            black_box(eks_access_watch::render::sns::build_message(
                &alert,
                false,
                AlertFormat::Default,
                eks_access_watch::render::sns::SNS_MAX_BYTES,
            ))
        })
    });
    g.finish();
}

const EKS_DELAY: Duration = Duration::from_millis(20);

fn mocked_eks() -> Eks {
    let entry = mock!(Eks::describe_access_entry).then_output(|| {
        DescribeAccessEntryOutput::builder()
            .access_entry(AccessEntry::builder().r#type("STANDARD").build())
            .build()
    });
    let policies = mock!(Eks::list_associated_access_policies)
        .then_output(|| ListAssociatedAccessPoliciesOutput::builder().build());
    let cluster = mock!(Eks::describe_cluster).then_output(|| {
        DescribeClusterOutput::builder()
            .cluster(Cluster::builder().version("1.31").build())
            .build()
    });
    mock_client!(
        aws_sdk_eks,
        RuleMode::MatchAny,
        &[&entry, &policies, &cluster],
        |b| b.http_client(delayed::Delayed {
            inner: aws_smithy_mocks::create_mock_http_client(),
            delay: EKS_DELAY
        })
    )
}

fn handler_latency(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let payload: Box<serde_json::value::RawValue> = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/events/AssociateAccessPolicy-cluster-admin-by-human.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let publish = mock!(aws_sdk_sns::Client::publish)
        .then_output(|| PublishOutput::builder().message_id("m").build());
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&publish]);
    let env = |k: &str| match k {
        "ALERT_TOPIC_ARN" => Some("arn:aws:sns:eu-west-1:111122223333:alerts".to_string()),
        "APPROVED_CALLER_ARNS" => {
            Some("arn:aws:iam::111122223333:role/terraform-deployer".to_string())
        }
        _ => None,
    };
    let settings = LambdaSettings::from_env(env).unwrap();
    let enricher = Enricher::with_client(mocked_eks(), EnrichSettings::default());
    let handler = Handler::new(
        settings,
        Clients {
            enricher: Some(enricher),
            sns: Some(sns),
            ..Clients::default()
        },
    );

    let mut g = c.benchmark_group("handler_eks_20ms_per_call");
    g.sample_size(20).measurement_time(Duration::from_secs(4));
    g.bench_function("concurrent_enrichment_and_publish", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(handler.handle(&payload).await.unwrap()) })
    });
    // The same three lookups awaited one after another: what a serial implementation would pay.
    let eks = mocked_eks();
    g.bench_function("serial_lookups_baseline", |b| {
        b.to_async(&rt).iter(|| async {
            let p = "arn:aws:iam::111122223333:role/ci-deployer";
            let _ = eks
                .describe_access_entry()
                .cluster_name("prod-eu")
                .principal_arn(p)
                .send()
                .await;
            let _ = eks
                .list_associated_access_policies()
                .cluster_name("prod-eu")
                .principal_arn(p)
                .send()
                .await;
            let _ = eks.describe_cluster().name("prod-eu").send().await;
        })
    });
    g.finish();
}

criterion_group!(benches, classification, handler_latency);
criterion_main!(benches);
