use eks_access_watch::ingest::{self, Options, Outcome};
use eks_access_watch::{RuleConfig, render};

use crate::util::classify;
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Arbitrary JSON, biased towards CloudTrail keys so the classifier is reached.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("eventSource".to_string()),
        Just("eventName".to_string()),
        Just("requestParameters".to_string()),
        Just("userIdentity".to_string()),
        Just("principalArn".to_string()),
        Just("policyArn".to_string()),
        Just("accessScope".to_string()),
        Just("namespaces".to_string()),
        Just("kubernetesGroups".to_string()),
        Just("errorCode".to_string()),
        "[a-zA-Z]{1,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop_oneof![
            Just("eks.amazonaws.com".to_string()),
            Just("sts.amazonaws.com".to_string()),
            Just("AssociateAccessPolicy".to_string()),
            Just("CreateAccessEntry".to_string()),
            Just("UpdateClusterConfig".to_string()),
            Just("AssumeRole".to_string()),
            Just("arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx".to_string()),
            Just("arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy".to_string()),
            any::<String>(),
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn run_everything(bytes: &[u8]) {
    let config = RuleConfig::default();
    let _ = ingest::scan_slice("prop", bytes, &Options::new(&config), &mut |o| {
        if let Outcome::Watched { event, .. } = o {
            let alert = classify(&event, &config, None);
            crate::fuzz_body::assert_graded_as_declared(&alert);
            let _ = render::subject(&alert);
            let _ = render::text(&alert);
            let _ = render::json::to_string(&alert);
        }
    });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_json_never_panics(v in json_value()) {
        run_everything(v.to_string().as_bytes());
        // Also as the detail of an EventBridge event and inside a Records file.
        let wrapped = serde_json::json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.eks", "detail": v.clone()});
        run_everything(wrapped.to_string().as_bytes());
        run_everything(serde_json::json!({"Records": [v]}).to_string().as_bytes());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        run_everything(&bytes);
    }
}
