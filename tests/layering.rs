//! No import circles: the top-level modules of the library (`src/<name>.rs`, `src/<name>/`)
//! form a directed acyclic graph, read from the source itself. A module "imports" another when
//! its code (tests included, comments and string literals not) names `crate::<other>`, also
//! inside a `use crate::{...}` group. Binaries (`src/bin/`) sit on top and are not checked.
//!
//! The graph is also checked against the layers the code is built in, bottom first, so that
//! a new edge that points down is fine and one that points up fails with the files that make it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, bottom first: a module may import modules of its own layer or below, never
/// above (within a layer the graph must still be acyclic).
const LAYERS: &[&[&str]] = &[
    &["closed", "severity", "arn", "sanitize", "policy", "awsauth"],
    &["config"],
    &["operation"],
    &["model", "trail"],
    &["cloudtrail", "kubernetes"],
    &["ingest"],
    &["aws"],
    &["context"],
    &["rules"],
    &["tuning", "alert"],
    &["pipeline"],
    &["audit"],
    &["render"],
    &["migrate", "sink"],
    &["lambda"],
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to; `None` for `lib.rs` and the binaries.
fn module_of(path: &Path) -> Option<String> {
    let rel = path.strip_prefix(src()).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?.to_string();
    match first.as_str() {
        "lib.rs" | "bin" => None,
        name => Some(name.trim_end_matches(".rs").to_string()),
    }
}

/// The code without comments, string and char literals (so a doc link or a message that says
/// `crate::x` is not an import).
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            b'r' if b.get(i + 1) == Some(&b'#') || b.get(i + 1) == Some(&b'"') => {
                // A raw string r"..." or r#"..."#, unless `r` ends an identifier.
                let ident_before = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
                let mut j = i + 1;
                let mut hashes = 0;
                while b.get(j) == Some(&b'#') {
                    hashes += 1;
                    j += 1;
                }
                if ident_before || b.get(j) != Some(&b'"') {
                    out.push('r');
                    i += 1;
                    continue;
                }
                j += 1;
                let close: Vec<u8> = std::iter::once(b'"')
                    .chain(std::iter::repeat_n(b'#', hashes))
                    .collect();
                while j < b.len() && !b[j..].starts_with(&close) {
                    j += 1;
                }
                i = j + close.len();
                out.push_str("\"\"");
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str("\"\"");
            }
            b'\'' if b.get(i + 2) == Some(&b'\'') || b.get(i + 1) == Some(&b'\\') => {
                // A char literal ('x', '\n'); a lifetime ('a) stays.
                i += 1;
                while i < b.len() && b[i] != b'\'' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str("' '");
            }
            c => {
                out.push(c as char);
                i += 1;
            }
        }
    }
    out
}

fn ident_at(code: &[u8], mut i: usize) -> (String, usize) {
    let start = i;
    while i < code.len() && (code[i].is_ascii_alphanumeric() || code[i] == b'_') {
        i += 1;
    }
    (String::from_utf8_lossy(&code[start..i]).into_owned(), i)
}

/// Every module named after `crate::` in the code, with `use crate::{a, b::c}` groups opened.
fn imports(code: &str) -> BTreeSet<String> {
    let b = code.as_bytes();
    let mut found = BTreeSet::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("crate::") {
        let start = from + at;
        from = start + "crate::".len();
        if start > 0 && (b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_') {
            continue;
        }
        if b.get(from) == Some(&b'{') {
            // Top-level items of the group: the first identifier after `{` and after each
            // comma at depth one.
            let mut depth = 0;
            let mut i = from;
            let mut expect = true;
            while i < b.len() {
                match b[i] {
                    b'{' => {
                        depth += 1;
                        i += 1;
                    }
                    b'}' => {
                        depth -= 1;
                        i += 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    b',' if depth == 1 => {
                        expect = true;
                        i += 1;
                    }
                    c if depth == 1 && expect && (c.is_ascii_alphabetic() || c == b'_') => {
                        let (name, end) = ident_at(b, i);
                        if name != "self" {
                            found.insert(name);
                        }
                        expect = false;
                        i = end;
                    }
                    _ => i += 1,
                }
            }
        } else {
            let (name, _) = ident_at(b, from);
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

/// module -> module it imports -> the files that do.
fn graph() -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut graph: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for file in files {
        let Some(module) = module_of(&file) else {
            continue;
        };
        let code = code_only(&std::fs::read_to_string(&file).unwrap());
        let entry = graph.entry(module.clone()).or_default();
        let name = file.strip_prefix(src()).unwrap().display().to_string();
        for target in imports(&code) {
            if target != module {
                entry.entry(target).or_default().insert(name.clone());
            }
        }
    }
    graph
}

/// A cycle through `start`, if there is one: the modules in order.
fn cycle_from(
    graph: &BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
    start: &str,
) -> Option<Vec<String>> {
    fn walk(
        graph: &BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
        at: &str,
        start: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in graph.get(at).into_iter().flat_map(|m| m.keys()) {
            if next == start {
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(graph, next, start, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_string()];
    walk(graph, start, start, &mut path, &mut BTreeSet::new()).then_some(path)
}

#[test]
fn no_two_modules_of_the_library_import_each_other_directly_or_through_others() {
    let graph = graph();
    assert!(graph.len() > 10, "the walk found the modules: {graph:?}");
    let cycles: Vec<String> = graph
        .keys()
        .filter_map(|m| cycle_from(&graph, m))
        .map(|c| {
            let steps: Vec<String> = c
                .iter()
                .zip(c.iter().cycle().skip(1))
                .map(|(a, b)| format!("  {a} -> {b} ({:?})", graph[a][b]))
                .collect();
            format!("{}\n{}", c.join(" -> "), steps.join("\n"))
        })
        .collect();
    assert!(
        cycles.is_empty(),
        "import circles:\n{}",
        cycles.join("\n\n")
    );
}

#[test]
fn every_module_imports_only_its_own_layer_and_below() {
    let layer_of = |m: &str| LAYERS.iter().position(|l| l.contains(&m));
    let graph = graph();
    let mut problems = Vec::new();
    for (module, targets) in &graph {
        let Some(own) = layer_of(module) else {
            problems.push(format!("{module} is in no layer of tests/layering.rs"));
            continue;
        };
        for (target, files) in targets {
            match layer_of(target) {
                Some(l) if l <= own => {}
                Some(_) => problems.push(format!(
                    "{module} imports {target}, a layer above it: {files:?}"
                )),
                // Names after `crate::` that are not modules (a macro, a re-export) are fine
                // only when lib.rs declares no such module.
                None if src().join(format!("{target}.rs")).exists()
                    || src().join(target).is_dir() =>
                {
                    problems.push(format!("{target} is in no layer of tests/layering.rs"))
                }
                None => {}
            }
        }
    }
    problems.sort();
    problems.dedup();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_import_reader_sees_groups_and_ignores_comments_and_strings() {
    let code = code_only(
        "use crate::{alert::Alert, model::{self, Change}, rules};\n\
         // crate::lambda in a comment\n\
         /* crate::sink */ let s = \"crate::render\"; let r = r#\"crate::aws\"#;\n\
         let c = '\"'; let x = crate::severity::Severity::High; fn f<'a>(_: &'a str) {}\n",
    );
    let got: Vec<String> = imports(&code).into_iter().collect();
    assert_eq!(got, ["alert", "model", "rules", "severity"]);
    // A cycle is found and named.
    let mut g: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (a, b) in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")] {
        g.entry(a.into())
            .or_default()
            .insert(b.into(), BTreeSet::new());
    }
    assert_eq!(cycle_from(&g, "a").unwrap(), ["a", "b", "c"]);
    assert!(cycle_from(&g, "d").is_none());
}

#[test]
fn only_the_aws_adapters_the_context_stage_and_the_shells_call_aws() {
    // An SDK request is sent with `.send()`; the rest of the library never calls AWS.
    let allowed = ["aws/", "context/", "sink/", "lambda/", "bin/"];
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut outside: Vec<String> = files
        .iter()
        .filter(|f| {
            let code = code_only(&std::fs::read_to_string(f).unwrap());
            code.contains(".send()")
        })
        .map(|f| f.strip_prefix(src()).unwrap().display().to_string())
        .filter(|name| !allowed.iter().any(|a| name.starts_with(a)))
        .collect();
    outside.sort();
    assert!(
        outside.is_empty(),
        "AWS calls outside src/aws/, the context stage, the sinks and the shells: {outside:?}"
    );
}
