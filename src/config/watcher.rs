//! What belongs to this deployment: the resources whose change would blind or redirect the
//! watcher (its rules, functions, subscription filters, topics, keys, tuning parameter, queues
//! and stacks), so that `watcher-tampered` alerts on a call against one of them and on no one
//! else's.
//!
//! A resource is the watcher's when it is named (by name, ARN or URL) in one of the variables
//! the template sets ([`WATCHER_ENV_VARS`]), or when its name starts with the stack's name
//! followed by `-`, `/`, `_` or `.` (CloudFormation names what it creates
//! `<stack>-<logical id>-<random>`; the template names its own `<stack>-watcher`,
//! `/<stack>/...`). `replay` reads the same variables and takes the stack's name from
//! `--stack-name` (default [`DEFAULT_STACK_NAME`]).

use crate::arn;

/// The stack name the README deploys.
pub const DEFAULT_STACK_NAME: &str = "eks-access-watch";

/// The variables the watcher learns its own resources from (besides `ALERT_TOPIC_ARN`,
/// `FAILURE_QUEUE_URL` and `TUNING_PARAMETER_NAME`, which name some of them too).
pub const WATCHER_ENV_VARS: &[&str] = &["WATCHER_STACK_NAME", "WATCHER_RESOURCES"];

/// The deployment's own resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatcherResources {
    stack_name: String,
    /// Every name, ARN or URL given, as written.
    resources: Vec<String>,
    /// The tuning parameter's name (`TUNING_PARAMETER_NAME`), when there is one.
    tuning_parameter: Option<String>,
}

impl Default for WatcherResources {
    fn default() -> Self {
        WatcherResources::new(DEFAULT_STACK_NAME, &[], None)
    }
}

impl WatcherResources {
    /// The stack `stack_name` (blank: [`DEFAULT_STACK_NAME`]) and the named `resources`.
    pub fn new(stack_name: &str, resources: &[String], tuning_parameter: Option<&str>) -> Self {
        let stack_name = match stack_name.trim() {
            "" => DEFAULT_STACK_NAME.to_string(),
            s => s.to_string(),
        };
        let tuning_parameter = tuning_parameter
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        let mut all: Vec<String> = resources
            .iter()
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
            .collect();
        all.extend(tuning_parameter.clone());
        WatcherResources {
            stack_name,
            resources: all,
            tuning_parameter,
        }
    }

    /// From the environment: `WATCHER_STACK_NAME` (or `stack_name` when given: replay's
    /// `--stack-name`), `WATCHER_RESOURCES` (comma-separated names, ARNs and URLs) and the
    /// variables that name a resource of the deployment anyway.
    pub fn from_env(stack_name: Option<&str>, get: &dyn Fn(&str) -> Option<String>) -> Self {
        let stack = stack_name
            .map(str::to_string)
            .or_else(|| get("WATCHER_STACK_NAME"))
            .unwrap_or_default();
        let mut resources: Vec<String> = get("WATCHER_RESOURCES")
            .map(|v| super::RuleConfig::split_list(&v))
            .unwrap_or_default();
        for var in ["ALERT_TOPIC_ARN", "FAILURE_QUEUE_URL"] {
            resources.extend(get(var).filter(|v| !v.trim().is_empty()));
        }
        let tuning = get("TUNING_PARAMETER_NAME");
        WatcherResources::new(&stack, &resources, tuning.as_deref())
    }

    pub fn stack_name(&self) -> &str {
        &self.stack_name
    }

    pub fn tuning_parameter(&self) -> Option<&str> {
        self.tuning_parameter.as_deref()
    }

    /// True when `reference` (a name, an ARN, a queue URL, an alias) is one of the
    /// deployment's resources.
    pub fn owns(&self, reference: &str) -> bool {
        let reference = arn::decode(reference);
        let reference = reference.trim();
        if reference.is_empty() {
            return false;
        }
        let name = resource_name(reference);
        self.resources
            .iter()
            .any(|r| r == reference || resource_name(r) == name)
            || self.under_stack(&name)
    }

    /// True when `name` is the tuning parameter (or, with none configured, a parameter under
    /// the stack's name).
    pub fn is_tuning_parameter(&self, name: &str) -> bool {
        let name = resource_name(&arn::decode(name));
        match &self.tuning_parameter {
            Some(t) => resource_name(t) == name,
            None => self.under_stack(&name),
        }
    }

    /// The name starts with the stack's name, then a separator (or is the stack's name).
    fn under_stack(&self, name: &str) -> bool {
        name.strip_prefix(self.stack_name.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['-', '/', '_', '.']))
    }
}

/// The name a reference comes down to, so that a name, an ARN and a URL of one resource
/// compare equal: the resource part of an ARN without its type (`function:`, `rule/`,
/// `log-group:`, `key/`, `alias/`, `parameter/`, `stack/`, `stackset/`) and without what
/// follows the name (a function's qualifier, a log group's `:*`, a stack's id, a
/// subscription's id), the last segment of a queue URL; no leading `/`.
pub fn resource_name(reference: &str) -> String {
    let text = reference.trim();
    if let Some(parsed) = arn::Arn::parse(text) {
        let resource = parsed.resource;
        let (kind, rest) = match resource.find([':', '/']) {
            Some(i) => (&resource[..i], &resource[i + 1..]),
            None => ("", resource),
        };
        let name = match (parsed.service, kind) {
            // arn:aws:sns:<region>:<account>:<topic>[:<subscription id>]
            ("sns", _) => resource.split(':').next().unwrap_or(resource),
            // arn:aws:sqs:<region>:<account>:<queue>
            ("sqs", _) => resource,
            ("lambda", "function") => rest.split(':').next().unwrap_or(rest),
            ("logs", "log-group") => rest.strip_suffix(":*").unwrap_or(rest),
            ("events", "rule") => rest.rsplit('/').next().unwrap_or(rest),
            ("cloudformation", "stack") | ("cloudformation", "stackset") => {
                rest.split(['/', ':']).next().unwrap_or(rest)
            }
            ("kms", "key") | ("kms", "alias") | ("ssm", "parameter") => rest,
            _ if kind.is_empty() => resource,
            _ => rest,
        };
        return name.trim_start_matches('/').to_string();
    }
    if let Some(url) = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
    {
        // https://sqs.<region>.amazonaws.com/<account>/<queue>
        return url
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or(url)
            .to_string();
    }
    let text = text.strip_prefix("alias/").unwrap_or(text);
    text.trim_start_matches('/').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_arns_and_urls_of_one_resource_compare_equal() {
        for (reference, name) in [
            (
                "arn:aws:lambda:eu-west-1:111122223333:function:eks-access-watch-watcher:live",
                "eks-access-watch-watcher",
            ),
            (
                "arn:aws:events:eu-west-1:111122223333:rule/eks-access-watch-Forward",
                "eks-access-watch-Forward",
            ),
            (
                "arn:aws:events:eu-west-1:111122223333:rule/bus/eks-access-watch-Forward",
                "eks-access-watch-Forward",
            ),
            (
                "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/eks/prod/cluster:*",
                "aws/eks/prod/cluster",
            ),
            ("/aws/eks/prod/cluster", "aws/eks/prod/cluster"),
            (
                "arn:aws:sns:eu-west-1:111122223333:alarms:0f1e2d3c-aaaa",
                "alarms",
            ),
            (
                "https://sqs.eu-west-1.amazonaws.com/111122223333/eks-access-watch-FailureQueue-X",
                "eks-access-watch-FailureQueue-X",
            ),
            (
                "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab",
                "1234abcd-12ab",
            ),
            ("alias/eks-access-watch-alerts", "eks-access-watch-alerts"),
            (
                "arn:aws:ssm:eu-west-1:111122223333:parameter/eks-access-watch/tuning",
                "eks-access-watch/tuning",
            ),
            (
                "arn:aws:cloudformation:eu-west-1:111122223333:stack/eks-access-watch/9f8e-77",
                "eks-access-watch",
            ),
        ] {
            assert_eq!(resource_name(reference), name, "{reference}");
        }
    }

    #[test]
    fn the_stack_s_prefix_and_the_named_resources_are_the_watcher_s() {
        let w = WatcherResources::new(
            "eks-access-watch",
            &[
                "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab".into(),
                "/aws/eks/prod/cluster".into(),
            ],
            Some("/platform/tuning"),
        );
        assert!(w.owns("eks-access-watch-WatcherFunctionTrailChange-1AB2"));
        assert!(w.owns("eks-access-watch"));
        assert!(w.owns("1234abcd-12ab"));
        assert!(w.owns("arn%3Aaws%3Akms%3Aeu-west-1%3A111122223333%3Akey%2F1234abcd-12ab"));
        assert!(w.owns("arn:aws:logs:eu-west-1:111122223333:log-group:/aws/eks/prod/cluster:*"));
        assert!(w.owns("/platform/tuning"));
        assert!(w.is_tuning_parameter("/platform/tuning"));
        assert!(!w.is_tuning_parameter("/eks-access-watch/other"));
        assert!(!w.owns("eks-access-watchdog"));
        assert!(!w.owns("payments-rule"));
        assert!(!w.owns("/aws/eks/staging/cluster"));
        assert!(!w.owns(""));
        let default = WatcherResources::default();
        assert!(default.is_tuning_parameter("/eks-access-watch/tuning"));
    }

    #[test]
    fn the_environment_names_the_stack_and_its_resources() {
        let env = |k: &str| match k {
            "WATCHER_STACK_NAME" => Some("prod-watch".to_string()),
            "WATCHER_RESOURCES" => Some("alias/x, /aws/eks/a/cluster".to_string()),
            "ALERT_TOPIC_ARN" => Some("arn:aws:sns:eu-west-1:111122223333:sec-alerts".into()),
            _ => None,
        };
        let w = WatcherResources::from_env(None, &env);
        assert_eq!(w.stack_name(), "prod-watch");
        assert!(w.owns("prod-watch-watcher") && w.owns("sec-alerts") && w.owns("x"));
        assert!(!w.owns("eks-access-watch-watcher"));
        let w = WatcherResources::from_env(Some("other"), &env);
        assert_eq!(w.stack_name(), "other");
    }
}
