//! Resolving the CloudFormation intrinsics our templates use, the way CloudFormation would for
//! given parameter values: Ref (parameters and pseudo parameters), Fn::Sub, Fn::Select,
//! Fn::Split, Fn::Join, Fn::FindInMap, Fn::If (with AWS::NoValue removing list items and keys), and the
//! Conditions section (Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition). Fn::GetAtt resolves to
//! a readable placeholder. Anything else panics, so a template change that needs more is seen.

use std::collections::BTreeMap;

use serde_yaml_ng::Value as Yaml;

pub const ACCOUNT: &str = "111122223333";
pub const REGION: &str = "eu-west-1";

/// A template with parameter values (the defaults, overridden by `params`).
pub struct Stack {
    template: Yaml,
    params: BTreeMap<String, String>,
    region: String,
}

impl Stack {
    pub fn new(template: Yaml, params: &[(&str, &str)]) -> Self {
        Self::in_region(template, params, REGION)
    }

    pub fn in_region(template: Yaml, params: &[(&str, &str)], region: &str) -> Self {
        let mut values = BTreeMap::new();
        if let Some(declared) = template["Parameters"].as_mapping() {
            for (name, spec) in declared {
                let default = match &spec["Default"] {
                    Yaml::String(s) => s.clone(),
                    Yaml::Number(n) => n.to_string(),
                    _ => String::new(),
                };
                values.insert(name.as_str().unwrap().to_string(), default);
            }
        }
        for (k, v) in params {
            assert!(values.contains_key(*k), "no parameter {k}");
            values.insert(k.to_string(), v.to_string());
        }
        Stack {
            template,
            params: values,
            region: region.to_string(),
        }
    }

    pub fn raw(&self) -> &Yaml {
        &self.template
    }

    /// The value of a condition of the Conditions section.
    pub fn condition(&self, name: &str) -> bool {
        let c = &self.template["Conditions"][name];
        assert!(!c.is_null(), "no condition {name}");
        self.truth(c)
    }

    fn truth(&self, v: &Yaml) -> bool {
        let Yaml::Tagged(t) = v else {
            panic!("not a condition expression: {v:?}")
        };
        let args = || t.value.as_sequence().unwrap();
        match t.tag.to_string().trim_start_matches('!') {
            "Equals" => self.resolve(&args()[0]) == self.resolve(&args()[1]),
            "Not" => !self.truth(&args()[0]),
            "And" => args().iter().all(|a| self.truth(a)),
            "Or" => args().iter().any(|a| self.truth(a)),
            "Condition" => self.condition(t.value.as_str().unwrap()),
            other => panic!("condition function {other} not understood by this test"),
        }
    }

    /// The descriptions of the Rules section's assertions these parameters fail: what
    /// CloudFormation would refuse the stack with (empty: it deploys).
    pub fn refusals(&self) -> Vec<String> {
        let Some(rules) = self.template["Rules"].as_mapping() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (_, rule) in rules {
            let applies = match &rule["RuleCondition"] {
                Yaml::Null => true,
                c => self.truth(c),
            };
            if !applies {
                continue;
            }
            for a in rule["Assertions"].as_sequence().unwrap() {
                if !self.truth(&a["Assert"]) {
                    out.push(a["AssertDescription"].as_str().unwrap_or("?").to_string());
                }
            }
        }
        out
    }

    /// A resource's resolved properties (`None` when its condition is false).
    pub fn resource(&self, name: &str) -> Option<Yaml> {
        let r = &self.template["Resources"][name];
        assert!(!r.is_null(), "no resource {name}");
        if let Some(c) = r["Condition"].as_str()
            && !self.condition(c)
        {
            return None;
        }
        Some(self.resolve(r))
    }

    /// Resolve every intrinsic in `v`; `AWS::NoValue` comes back as `Yaml::Null`.
    pub fn resolve(&self, v: &Yaml) -> Yaml {
        match v {
            Yaml::Tagged(t) => self.function(t.tag.to_string().trim_start_matches('!'), &t.value),
            Yaml::Mapping(m) => Yaml::Mapping(
                m.iter()
                    .map(|(k, v)| (k.clone(), self.resolve(v)))
                    .filter(|(_, v)| !is_no_value(v))
                    .collect(),
            ),
            Yaml::Sequence(s) => Yaml::Sequence(
                s.iter()
                    .map(|v| self.resolve(v))
                    .filter(|v| !is_no_value(v))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn text(&self, v: &Yaml) -> String {
        match self.resolve(v) {
            Yaml::String(s) => s,
            Yaml::Number(n) => n.to_string(),
            other => panic!("not text: {other:?}"),
        }
    }

    fn function(&self, name: &str, arg: &Yaml) -> Yaml {
        let args = || arg.as_sequence().unwrap();
        match name {
            "Ref" => self.reference(arg.as_str().unwrap()),
            "GetAtt" => Yaml::String(format!("<{}>", scalar_or_join(arg))),
            "If" => {
                let branch = if self.condition(args()[0].as_str().unwrap()) {
                    &args()[1]
                } else {
                    &args()[2]
                };
                self.resolve(branch)
            }
            "Select" => {
                let index: usize = self.text(&args()[0]).parse().unwrap();
                let list = self.resolve(&args()[1]);
                let items = list.as_sequence().unwrap();
                assert!(
                    index < items.len(),
                    "Fn::Select {index} out of range: {items:?}"
                );
                items[index].clone()
            }
            "Split" => {
                let sep = self.text(&args()[0]);
                let text = self.text(&args()[1]);
                Yaml::Sequence(text.split(&sep).map(|s| Yaml::String(s.into())).collect())
            }
            "Join" => {
                let sep = self.text(&args()[0]);
                let items = self.resolve(&args()[1]);
                let parts: Vec<String> = items
                    .as_sequence()
                    .unwrap()
                    .iter()
                    .map(|i| self.text(i))
                    .collect();
                Yaml::String(parts.join(&sep))
            }
            "Sub" => {
                let (template, vars) = match arg {
                    Yaml::String(s) => (s.clone(), BTreeMap::new()),
                    Yaml::Sequence(s) => (
                        s[0].as_str().unwrap().to_string(),
                        s[1].as_mapping()
                            .unwrap()
                            .iter()
                            .map(|(k, v)| (k.as_str().unwrap().to_string(), self.text(v)))
                            .collect(),
                    ),
                    other => panic!("Fn::Sub of {other:?}"),
                };
                Yaml::String(self.substitute(&template, &vars))
            }
            "Condition" => Yaml::Bool(self.condition(arg.as_str().unwrap())),
            "FindInMap" => {
                let keys: Vec<String> = args().iter().map(|k| self.text(k)).collect();
                let v = &self.template["Mappings"][keys[0].as_str()][keys[1].as_str()]
                    [keys[2].as_str()];
                assert!(!v.is_null(), "no mapping value {keys:?}");
                self.resolve(v)
            }
            other => panic!("function {other} not understood by this test"),
        }
    }

    fn reference(&self, name: &str) -> Yaml {
        let text = match name {
            "AWS::AccountId" => ACCOUNT.to_string(),
            "AWS::Region" => self.region.clone(),
            "AWS::Partition" => "aws".to_string(),
            "AWS::StackName" => "eks-access-watch".to_string(),
            "AWS::NoValue" => return Yaml::Null,
            p if self.params.contains_key(p) => self.params[p].clone(),
            resource => format!("<{resource}>"),
        };
        Yaml::String(text)
    }

    fn substitute(&self, template: &str, vars: &BTreeMap<String, String>) -> String {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = start + rest[start..].find('}').unwrap();
            let name = &rest[start + 2..end];
            out.push_str(&match vars.get(name) {
                Some(v) => v.clone(),
                None if name.contains('.') => format!("<{name}>"),
                None => match self.reference(name) {
                    Yaml::String(s) => s,
                    other => panic!("${{{name}}} is {other:?}"),
                },
            });
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }
}

fn is_no_value(v: &Yaml) -> bool {
    v.is_null()
}

fn scalar_or_join(arg: &Yaml) -> String {
    match arg {
        Yaml::String(s) => s.clone(),
        Yaml::Sequence(s) => s
            .iter()
            .map(|v| v.as_str().unwrap_or("?").to_string())
            .collect::<Vec<_>>()
            .join("."),
        other => format!("{other:?}"),
    }
}

/// YAML -> JSON, for patterns handed to the EventBridge evaluator.
pub fn json(v: &Yaml) -> serde_json::Value {
    serde_json::to_value(v).unwrap()
}
