//! Kubernetes audit logs, line by line: raw audit NDJSON (one `audit.k8s.io/v1` Event per line,
//! as the API server writes it, or without its `apiVersion` as older clusters and re-exported
//! logs have it) and CloudWatch Logs exports to S3 (each line a timestamp, a space and the
//! event), in flat memory: one line buffer, grown to the longest line.
//!
//! The byte pre-filter ([`candidate`]) keeps the ~99% of audit lines that are gets, lists and
//! watches to a few byte searches. It never decides that a line is watched: it proves that a
//! line cannot be, because no object a watched call changes ([`KubeObject::needle`]) occurs
//! in it, literally or behind a `\u` escape that could spell one (the API server writes `\u`
//! only for `<`, `>`, `&` and control characters). Every other line is parsed and decided by
//! [`RawAuditEvent::watch`], exactly as `--strict` decides every line.

use std::io::BufRead;
use std::sync::{Arc, LazyLock};

use memchr::memmem;

use super::{InputError, Location, Outcomes, ReadMode, Verdict, io_error, preview};
use crate::kubernetes::{AUDIT_API_GROUP, Origin, RawAuditEvent, is_audit_api_version, normalise};
use crate::operation::{Skip, Source};
use crate::sanitize::clean;

/// How the API server starts every audit line (its struct order, no spaces).
const AUDIT_PREFIX: &[u8] = br#"{"kind":"Event","apiVersion":"audit.k8s.io/"#;

/// How a line of `kind` `Event` starts in the API server's key order: an audit event, one
/// whose `apiVersion` was left out, or (another `apiVersion` after it) a cluster event.
const EVENT_PREFIX: &[u8] = br#"{"kind":"Event","#;

/// Why a line is not a usable audit event.
#[derive(Debug, thiserror::Error)]
pub enum AuditEventError {
    #[error("not valid UTF-8 (at byte {0} of the line)")]
    Utf8(usize),
    #[error("not a usable Kubernetes audit event: {0}")]
    Json(#[from] serde_json::Error),
    /// `kind` `Event` of another API: `v1` and `events.k8s.io/v1` are cluster events.
    #[error(
        "a Kubernetes Event of apiVersion `{0}` is not an audit event (expected apiVersion {AUDIT_API_GROUP}v1, or none): cluster events (`kubectl get events`) say what happened to objects, not who changed access; replay the API server's audit log instead (log group /aws/eks/<cluster>/cluster, streams kube-apiserver-audit-*)"
    )]
    NotAudit(String),
}

impl AuditEventError {
    /// An `apiVersion` that is not the audit API's, as the error shows it.
    pub(super) fn not_audit(api_version: &str) -> Self {
        AuditEventError::NotAudit(clean(api_version, 64))
    }
}

/// The first line of an audit log read line by line: it starts with `kind` `Event`, in the
/// API server's order. Every line is then decided on its own ([`starts_like_audit_event`],
/// else the dispatcher), so a log of cluster events is refused line by line.
pub(super) fn looks_like_audit_lines(head: &[u8]) -> bool {
    head.starts_with(EVENT_PREFIX)
}

/// A line that starts as the API server writes an audit event, with its `apiVersion` or
/// without one: read as an audit event, the byte pre-filter first. A line whose `apiVersion`
/// sits later (another key order) is checked by the parse, when the pre-filter lets it through;
/// every other shape goes to the dispatcher.
pub(super) fn starts_like_audit_event(line: &[u8]) -> bool {
    line.starts_with(AUDIT_PREFIX)
        || line
            .strip_prefix(EVENT_PREFIX)
            .is_some_and(|rest| !rest.starts_with(br#""apiVersion":"#))
}

/// The length of the `2026-11-20T01:47:12.345Z ` that starts a line of a CloudWatch Logs export.
fn export_timestamp(line: &[u8]) -> Option<usize> {
    let digits = |r: std::ops::Range<usize>| {
        line.get(r)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let shaped = digits(0..4)
        && line.get(4) == Some(&b'-')
        && digits(5..7)
        && line.get(7) == Some(&b'-')
        && digits(8..10)
        && line.get(10) == Some(&b'T')
        && digits(11..13)
        && line.get(13) == Some(&b':');
    if !shaped {
        return None;
    }
    let end = memchr::memchr(b' ', &line[..line.len().min(64)])?;
    Some(end + 1)
}

/// The first line of a CloudWatch Logs export.
pub(super) fn looks_like_export(head: &[u8]) -> bool {
    export_timestamp(head).is_some()
}

/// The needles of every watched Kubernetes object (from the operations), without those
/// another contains (`rolebindings` finds `clusterrolebindings` too).
static NEEDLES: LazyLock<Vec<memmem::Finder<'static>>> = LazyLock::new(|| {
    let mut all: Vec<&'static str> = Source::Kubernetes
        .operations()
        .filter_map(|op| op.kubernetes_call())
        .map(|call| call.object.needle())
        .collect();
    all.sort_unstable();
    all.dedup();
    all.iter()
        .filter(|n| !all.iter().any(|o| o != *n && n.contains(o)))
        .map(|n| memmem::Finder::new(n.as_bytes()))
        .collect()
});

/// True when the line may be about a watched object; false proves it is not.
pub fn candidate(line: &[u8]) -> bool {
    static ESCAPE: LazyLock<memmem::Finder<'static>> =
        LazyLock::new(|| memmem::Finder::new(b"\\u"));
    NEEDLES.iter().any(|n| n.find(line).is_some())
        || ESCAPE
            .find_iter(line)
            .any(|at| spelling_escape(line.get(at + 2..at + 6)))
}

/// A `\uXXXX` escape that could spell part of a needle: any printable ASCII but the three the
/// API server's encoder escapes itself (`<`, `>`, `&`). Unreadable hex counts (parse it).
fn spelling_escape(hex: Option<&[u8]>) -> bool {
    let Some(value) = hex
        .and_then(|h| std::str::from_utf8(h).ok())
        .and_then(|h| u32::from_str_radix(h, 16).ok())
    else {
        return true;
    };
    (0x20..0x7f).contains(&value) && !matches!(value, 0x3c | 0x3e | 0x26)
}

/// Decide one audit event (one line of JSON) under `origin`. [`ReadMode::Fast`] first tries
/// the byte pre-filter; [`ReadMode::Strict`] always parses. Without `apiVersion` the line is
/// read as an audit event; with another API's (a cluster event) it is an error.
pub fn decide_audit_line(
    line: &[u8],
    origin: &Origin,
    mode: ReadMode,
) -> Result<Verdict, AuditEventError> {
    if mode == ReadMode::Fast && !candidate(line) {
        return Ok(Err(Skip::KubernetesNotWatched));
    }
    let text = std::str::from_utf8(line).map_err(|e| AuditEventError::Utf8(e.valid_up_to()))?;
    let raw: RawAuditEvent = serde_json::from_str(text)?;
    if let Some(api_version) = raw.api_version.as_deref()
        && !is_audit_api_version(api_version)
    {
        return Err(AuditEventError::not_audit(api_version));
    }
    Ok(raw.watch().map(|op| Box::new(normalise(&raw, op, origin))))
}

/// Read a line-oriented input to its end: raw audit NDJSON, or (`export`) a CloudWatch Logs
/// export whose lines start with a timestamp.
pub(super) fn read_lines(
    input: &str,
    mut reader: impl BufRead,
    export: bool,
    emitter: &mut Outcomes,
) -> Result<(), InputError> {
    let name: Arc<str> = Arc::from(input);
    let origin = emitter.options.origin();
    let mut buf = Vec::new();
    for index in 0.. {
        buf.clear();
        if reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| io_error(input, e))?
            == 0
        {
            break;
        }
        let line = buf.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let location = Location::at_line(&name, index);
        let message = if export {
            match export_timestamp(line) {
                Some(at) => &line[at..],
                None => {
                    emitter.invalid(InputError::Shape {
                        location,
                        message: format!(
                            "expected a CloudWatch Logs export line (`<timestamp> <event>`), found `{}`",
                            preview(&String::from_utf8_lossy(line))
                        ),
                    });
                    continue;
                }
            }
        } else {
            line
        };
        emitter.message(location, message, &origin, export);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gets_lists_and_watches_are_not_candidates_but_changes_and_escapes_are() {
        let get = br#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","verb":"watch","requestURI":"/api/v1/pods?watch=true\u0026resourceVersion=1","objectRef":{"resource":"pods"}}"#;
        assert!(!candidate(get), "\\u0026 is the API server's own escape");
        assert!(candidate(
            br#"{"verb":"patch","objectRef":{"resource":"configmaps","name":"aws-auth"}}"#
        ));
        assert!(candidate(
            br#"{"objectRef":{"resource":"clusterrolebindings"}}"#
        ));
        assert!(candidate(
            br#"{"objectRef":{"resource":"configmaps","name":"aws\u002dauth"}}"#
        ));
        assert!(candidate(
            br#"{"objectRef":{"resource":"role\u0062indings"}}"#
        ));
        assert!(
            candidate(br#"{"x":"\u00zz"}"#),
            "unreadable escapes are parsed"
        );
    }

    #[test]
    fn lines_start_like_audit_events_with_or_without_their_api_version() {
        assert!(starts_like_audit_event(
            br#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata"}"#
        ));
        assert!(starts_like_audit_event(
            br#"{"kind":"Event","level":"Metadata"}"#
        ));
        assert!(
            !starts_like_audit_event(br#"{"kind":"Event","apiVersion":"v1","reason":"Pulled"}"#),
            "a cluster event goes to the dispatcher, which refuses it"
        );
        assert!(!starts_like_audit_event(
            br#"{"eventSource":"eks.amazonaws.com"}"#
        ));
        assert!(looks_like_audit_lines(
            br#"{"kind":"Event","level":"Metadata"}"#
        ));
        assert!(looks_like_audit_lines(
            br#"{"kind":"Event","apiVersion":"v1"}"#
        ));
    }

    #[test]
    fn a_line_without_api_version_is_watched_and_one_of_another_api_is_refused_in_both_modes() {
        let origin = Origin::default();
        let bare = br#"{"kind":"Event","stage":"ResponseComplete","verb":"delete","objectRef":{"resource":"configmaps","namespace":"kube-system","name":"aws-auth"}}"#;
        let cluster_event = br#"{"kind":"Event","stage":"ResponseComplete","verb":"delete","objectRef":{"resource":"configmaps","namespace":"kube-system","name":"aws-auth"},"apiVersion":"events.k8s.io/v1"}"#;
        for mode in [ReadMode::Fast, ReadMode::Strict] {
            let event = decide_audit_line(bare, &origin, mode).unwrap().unwrap();
            assert_eq!(event.event_name(), "delete configmaps/aws-auth");
            let err = decide_audit_line(cluster_event, &origin, mode).unwrap_err();
            assert!(
                err.to_string().starts_with(
                    "a Kubernetes Event of apiVersion `events.k8s.io/v1` is not an audit event"
                ),
                "{err}"
            );
        }
    }

    #[test]
    fn export_lines_start_with_a_timestamp() {
        assert_eq!(export_timestamp(b"2026-11-20T01:47:12.345Z {}"), Some(25));
        assert_eq!(export_timestamp(b"{\"kind\":\"Event\"}"), None);
        assert_eq!(export_timestamp(b"2026-11-20T01:47"), None);
    }

    #[test]
    fn strict_and_fast_agree_on_a_watched_line_and_only_fast_skips_unparsed() {
        let line = br#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","stage":"ResponseComplete","verb":"delete","objectRef":{"resource":"configmaps","namespace":"kube-system","name":"aws-auth","apiVersion":"v1"},"responseStatus":{"code":200}}"#;
        let origin = Origin::default();
        for mode in [ReadMode::Fast, ReadMode::Strict] {
            let event = decide_audit_line(line, &origin, mode).unwrap().unwrap();
            assert_eq!(event.event_name(), "delete configmaps/aws-auth");
        }
        let broken = br#"{"kind":"Event","verb":"get","objectRef":{"resource":"pods"#;
        assert!(matches!(
            decide_audit_line(broken, &origin, ReadMode::Fast),
            Ok(Err(_))
        ));
        assert!(decide_audit_line(broken, &origin, ReadMode::Strict).is_err());
    }
}
