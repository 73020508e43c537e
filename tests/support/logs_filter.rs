//! CloudWatch Logs JSON filter patterns, for what our subscription filter uses: enough to say
//! which audit events a pattern passes, for the template tests.

use serde_json::Value as Json;

/// Parse a `{ ... }` JSON filter pattern.
pub fn parse(pattern: &str) -> Filter {
    parse_filter(&tokens(pattern), &mut 0)
}

/// A CloudWatch Logs JSON filter pattern, for what ours uses: `$.a.b = "text"` comparisons
/// joined by `&&` or `||`, grouped with parentheses (mixing `&&` and `||` at one level without
/// parentheses is refused, so precedence never decides).
#[derive(Debug)]
pub enum Filter {
    All(Vec<Filter>),
    Any(Vec<Filter>),
    Equals(Vec<String>, String),
}

fn tokens(pattern: &str) -> Vec<String> {
    let inner = pattern
        .trim()
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .expect("a JSON filter pattern is { ... }");
    let mut out = Vec::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\n' => {}
            '(' | ')' | '=' => out.push(c.to_string()),
            '&' | '|' => {
                assert_eq!(chars.next(), Some(c), "{c}{c} expected");
                out.push(format!("{c}{c}"));
            }
            '"' => {
                let text: String = chars.by_ref().take_while(|c| *c != '"').collect();
                out.push(format!("\"{text}"));
            }
            '$' => {
                let mut sel = String::from("$");
                while let Some(c) = chars.next_if(|c| c.is_alphanumeric() || *c == '.') {
                    sel.push(c);
                }
                out.push(sel);
            }
            other => panic!("unexpected `{other}` in the filter pattern"),
        }
    }
    out
}

fn parse_filter(tokens: &[String], at: &mut usize) -> Filter {
    let mut terms = vec![parse_term(tokens, at)];
    let mut joiner: Option<String> = None;
    while let Some(op) = tokens.get(*at).filter(|t| *t == "&&" || *t == "||") {
        assert!(
            joiner.as_ref().is_none_or(|j| j == op),
            "`&&` and `||` mixed without parentheses"
        );
        joiner = Some(op.clone());
        *at += 1;
        terms.push(parse_term(tokens, at));
    }
    match joiner.as_deref() {
        Some("||") => Filter::Any(terms),
        _ => Filter::All(terms),
    }
}

fn parse_term(tokens: &[String], at: &mut usize) -> Filter {
    let t = &tokens[*at];
    *at += 1;
    if t == "(" {
        let f = parse_filter(tokens, at);
        assert_eq!(tokens[*at], ")");
        *at += 1;
        return f;
    }
    let path: Vec<String> = t
        .strip_prefix("$.")
        .expect("a selector")
        .split('.')
        .map(str::to_string)
        .collect();
    assert_eq!(
        tokens[*at], "=",
        "only = comparisons are understood by this test"
    );
    let value = tokens[*at + 1]
        .strip_prefix('"')
        .expect("a quoted value")
        .to_string();
    *at += 2;
    Filter::Equals(path, value)
}

impl Filter {
    /// Whether CloudWatch Logs would pass `event` (a JSON log event) through this filter.
    pub fn passes(&self, event: &Json) -> bool {
        match self {
            Filter::All(f) => f.iter().all(|f| f.passes(event)),
            Filter::Any(f) => f.iter().any(|f| f.passes(event)),
            Filter::Equals(path, value) => path
                .iter()
                .fold(event, |v, k| &v[k.as_str()])
                .as_str()
                .is_some_and(|s| eks_access_watch::model::wildcard_match(value, s)),
        }
    }
}
