//! Benchmark comparator, not a product: the minimal serial Lambda that the real one is measured
//! against (`scripts/lambda-loop.py --compare`). For each EventBridge event it reads the cluster
//! and principal, awaits DescribeAccessEntry, then ListAssociatedAccessPolicies (one page),
//! then publishes a small JSON message: the same SDK crates, HTTPS client and release profile
//! as the real function, and none of its work (no rules, no rendering, no concurrency).
//!
//! `cargo build --release --example serial_baseline`

use aws_sdk_eks::Client as Eks;
use aws_sdk_sns::Client as Sns;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let sdk = eks_access_watch::aws::load().await;
    let topic = std::env::var("ALERT_TOPIC_ARN")?;
    let (eks, sns) = (Eks::new(&sdk), Sns::new(&sdk));
    let (eks, sns, topic) = (&eks, &sns, topic.as_str());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let detail = &event.payload["detail"];
        let params = &detail["requestParameters"];
        let cluster = params["name"].as_str().unwrap_or_default();
        let principal =
            eks_access_watch::arn::decode(params["principalArn"].as_str().unwrap_or_default());
        let entry = eks
            .describe_access_entry()
            .cluster_name(cluster)
            .principal_arn(&principal)
            .send()
            .await?;
        let policies = eks
            .list_associated_access_policies()
            .cluster_name(cluster)
            .principal_arn(&principal)
            .send()
            .await?;
        let message = json!({
            "event_name": detail["eventName"],
            "cluster": cluster,
            "principal_arn": principal,
            "entry_type": entry.access_entry().and_then(|e| e.r#type()),
            "policies": policies
                .associated_access_policies()
                .iter()
                .filter_map(|p| p.policy_arn())
                .collect::<Vec<_>>(),
        });
        sns.publish()
            .topic_arn(topic)
            .subject("EKS access change")
            .message(message.to_string())
            .send()
            .await?;
        Ok::<_, Error>(json!({"published": true}))
    }))
    .await
}
