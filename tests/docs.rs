//! README.md and docs/*.md: every relative link names a file that exists, and every `#anchor`
//! a heading of its target, by GitHub's rules (lower case, spaces to `-`, punctuation other
//! than `-` and `_` removed, `-1`, `-2`... for repeated headings).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every markdown file of docs/, sorted.
fn documents() -> Vec<PathBuf> {
    let mut files = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

fn parser(text: &str) -> Parser<'_> {
    Parser::new_ext(text, Options::ENABLE_TABLES)
}

/// GitHub's anchor for a heading's text.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .collect()
}

/// Every anchor a markdown document's headings give, repeated headings numbered as GitHub does.
fn anchors(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut heading: Option<String> = None;
    for event in parser(text) {
        match event {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = heading.as_mut() {
                    h.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                let base = slug(&heading.take().unwrap());
                let n = seen.entry(base.clone()).or_insert(0);
                out.push(if *n == 0 { base } else { format!("{base}-{n}") });
                *n += 1;
            }
            _ => {}
        }
    }
    out
}

/// Every link and image destination of a markdown document, with the line it is on.
fn links(text: &str) -> Vec<(usize, String)> {
    parser(text)
        .into_offset_iter()
        .filter_map(|(event, range)| match event {
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
                let line = text[..range.start].matches('\n').count() + 1;
                Some((line, dest_url.into_string()))
            }
            _ => None,
        })
        .collect()
}

/// What is wrong with the relative links of `file` (whose text is `text`): one line per broken
/// link, `file:line: destination: reason`. Links with a scheme (`https:`, `mailto:`) are not
/// checked.
fn broken_links(file: &Path, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut cache: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    for (line, dest) in links(text) {
        if dest.contains("://") || dest.starts_with("mailto:") {
            continue;
        }
        let (path, anchor) = match dest.split_once('#') {
            Some((p, a)) => (p, Some(a)),
            None => (dest.as_str(), None),
        };
        let target = if path.is_empty() {
            file.to_path_buf()
        } else {
            file.parent().unwrap().join(path)
        };
        let at = format!("{}:{line}: {dest}", file.display());
        if !path.is_empty() && !target.exists() {
            problems.push(format!("{at}: {} does not exist", target.display()));
            continue;
        }
        let Some(anchor) = anchor else { continue };
        if target.extension().is_none_or(|e| e != "md") {
            problems.push(format!("{at}: an anchor into a file that is not markdown"));
            continue;
        }
        let known = cache.entry(target.clone()).or_insert_with(|| {
            let target_text = if target == file {
                text.to_string()
            } else {
                std::fs::read_to_string(&target).unwrap()
            };
            anchors(&target_text)
        });
        if !known.iter().any(|a| a == anchor) {
            problems.push(format!(
                "{at}: no heading of {} has the anchor #{anchor} (it has: {})",
                target.display(),
                known.join(", ")
            ));
        }
    }
    problems
}

#[test]
fn every_relative_link_in_the_readme_and_docs_names_a_file_and_anchor_that_exist() {
    let mut problems = Vec::new();
    for file in documents() {
        let text = std::fs::read_to_string(&file).unwrap();
        problems.extend(broken_links(&file, &text));
    }
    assert!(
        problems.is_empty(),
        "broken links:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_readme_links_every_docs_file() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let linked: Vec<String> = links(&readme).into_iter().map(|(_, d)| d).collect();
    for file in documents().into_iter().skip(1) {
        let name = format!("docs/{}", file.file_name().unwrap().to_str().unwrap());
        assert!(
            linked
                .iter()
                .any(|d| d.split('#').next() == Some(name.as_str())),
            "README.md does not link {name}"
        );
    }
}

#[test]
fn every_docs_file_opens_with_a_title_and_links_back_to_the_readme() {
    for file in documents().into_iter().skip(1) {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.starts_with("# "), "{}: no `# Title`", file.display());
        assert!(
            links(&text)
                .iter()
                .any(|(line, d)| *line <= 5 && d == "../README.md"),
            "{}: no link back to ../README.md under the title",
            file.display()
        );
    }
}

#[test]
fn heading_anchors_follow_github_rules() {
    let text = "# The Kubernetes plane: aws-auth and RBAC bindings\n\
                ## `eks-access-watch replay`\n\
                ### Daily, in the Lambda\n\
                ## Organisations: central vs per-account\n\
                ## snake_case and (parentheses)\n\
                ## Daily, in the Lambda\n";
    assert_eq!(
        anchors(text),
        [
            "the-kubernetes-plane-aws-auth-and-rbac-bindings",
            "eks-access-watch-replay",
            "daily-in-the-lambda",
            "organisations-central-vs-per-account",
            "snake_case-and-parentheses",
            "daily-in-the-lambda-1",
        ]
    );
}

#[test]
fn a_link_to_a_missing_file_or_heading_is_reported_and_a_good_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("other.md"),
        "# Other\n\n## The tuning file\n",
    )
    .unwrap();
    let file = dir.path().join("index.md");
    let text = "# Index\n\n\
                [ok](other.md#the-tuning-file) [ok](#index) [ok](other.md) \
                [web](https://example.com/#nowhere)\n\n\
                [gone](missing.md)\n\n\
                [no anchor](other.md#the-tuning-files)\n\n\
                [no local anchor](#nowhere)\n\n\
                `[in code](missing.md)`\n";
    let problems = broken_links(&file, text);
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(problems[0].contains(":5: missing.md: "), "{}", problems[0]);
    assert!(
        problems[1].contains(":7: other.md#the-tuning-files: no heading"),
        "{}",
        problems[1]
    );
    assert!(
        problems[2].contains(":9: #nowhere: no heading"),
        "{}",
        problems[2]
    );
}
