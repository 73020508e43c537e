//! Where CloudTrail writes in its bucket: which keys are log files, digests or Insights
//! events, and which day prefixes hold a date range.
//!
//! CloudTrail's layout (the optional `o-ORG/` is an organisation trail's):
//! ```text
//! [PREFIX/]AWSLogs/[o-ORG/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_UNIQUE.json.gz
//! [PREFIX/]AWSLogs/[o-ORG/]ACCOUNT/CloudTrail-Digest/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail-Digest_REGION_TRAIL_REGION_YYYYMMDDTHHMMSSZ.json.gz
//! [PREFIX/]AWSLogs/[o-ORG/]ACCOUNT/CloudTrail-Insight/REGION/YYYY/MM/DD/...
//! ```
//! Pure: no I/O, used by the Lambda (skip what is not a log file), `replay s3://`, `backfill`
//! and `verify-trail` (list only the days asked for).

use chrono::NaiveDate;

/// What one object key is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyKind {
    /// A CloudTrail log file: read it.
    LogFile(LogFile),
    /// Under `CloudTrail-Digest/`: integrity digests, no events.
    Digest,
    /// Under `CloudTrail-Insight/`: Insights events, not API calls.
    Insight,
    /// Anything else, with what does not match the layout.
    Other(&'static str),
}

/// A log file's place in the layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFile {
    pub account: String,
    pub region: String,
    pub date: NaiveDate,
}

/// The directory CloudTrail writes a kind of file under.
const LOGS: &str = "CloudTrail";
const DIGESTS: &str = "CloudTrail-Digest";
const INSIGHTS: &str = "CloudTrail-Insight";

/// The parts after `AWSLogs/`: optional `o-ORG`, the account, the directory, the rest.
fn after_awslogs(key: &str) -> Option<(&str, &str, Vec<&str>)> {
    let at = if key.starts_with("AWSLogs/") {
        0
    } else {
        key.find("/AWSLogs/")? + 1
    };
    let mut parts: Vec<&str> = key[at + "AWSLogs/".len()..].split('/').collect();
    if parts.first().is_some_and(|p| p.starts_with("o-")) {
        parts.remove(0);
    }
    if parts.len() < 2 {
        return None;
    }
    let account = parts.remove(0);
    let dir = parts.remove(0);
    Some((account, dir, parts))
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// What `key` is in CloudTrail's layout.
pub fn classify(key: &str) -> KeyKind {
    let Some((account, dir, rest)) = after_awslogs(key) else {
        return KeyKind::Other("not under AWSLogs/ACCOUNT/");
    };
    match dir {
        DIGESTS => return KeyKind::Digest,
        INSIGHTS => return KeyKind::Insight,
        LOGS => {}
        _ => return KeyKind::Other("not under AWSLogs/ACCOUNT/CloudTrail/"),
    }
    if !is_account(account) {
        return KeyKind::Other("the account is not 12 digits");
    }
    // REGION/YYYY/MM/DD/NAME
    let [region, y, m, d, name] = rest[..] else {
        return KeyKind::Other("not CloudTrail/REGION/YYYY/MM/DD/FILE");
    };
    let date = match (y.parse::<i32>(), m.parse::<u32>(), d.parse::<u32>()) {
        (Ok(y), Ok(m), Ok(d)) if y.to_string().len() == 4 => NaiveDate::from_ymd_opt(y, m, d),
        _ => None,
    };
    let Some(date) = date else {
        return KeyKind::Other("no YYYY/MM/DD date in the key");
    };
    if !name.ends_with(".json.gz") || !name.contains("_CloudTrail_") {
        return KeyKind::Other("the file name is not ACCOUNT_CloudTrail_..json.gz");
    }
    KeyKind::LogFile(LogFile {
        account: account.to_string(),
        region: region.to_string(),
        date,
    })
}

/// How far a listing prefix reaches into the layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// Down to a region (`.../CloudTrail/REGION/`, or deeper): the day prefixes can be built.
    Region { base: String },
    /// Above the region: accounts and regions must be listed first (with a delimiter);
    /// `level` says what the next path segment is.
    Above { base: String, next: Level },
    /// Not inside the layout (a prefix above `AWSLogs/`, or another path): list it all.
    Unknown,
}

/// The next segment of a prefix above the region level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `AWSLogs/`: `o-ORG/` or accounts next.
    OrgOrAccount,
    /// `AWSLogs/o-ORG/`: accounts next.
    Account,
    /// `AWSLogs/[o-ORG/]ACCOUNT/`: `CloudTrail/` next (the only one listed).
    Directory,
    /// `.../CloudTrail/`: regions next.
    Region,
}

/// Where `prefix` stands in the layout for `dir` (`CloudTrail` or `CloudTrail-Digest`).
/// A prefix is read as a directory: a trailing `/` is added when missing.
pub fn reach(prefix: &str, dir: &str) -> Reach {
    let mut p = prefix.to_string();
    if !p.is_empty() && !p.ends_with('/') {
        p.push('/');
    }
    let at = if p.starts_with("AWSLogs/") {
        Some(0)
    } else {
        p.find("/AWSLogs/").map(|i| i + 1)
    };
    let Some(at) = at else {
        return Reach::Unknown;
    };
    let parts: Vec<&str> = p[at + "AWSLogs/".len()..]
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let org = parts.first().is_some_and(|s| s.starts_with("o-")) as usize;
    let rest = &parts[org..];
    match rest.len() {
        0 if org == 1 => Reach::Above {
            base: p,
            next: Level::Account,
        },
        0 => Reach::Above {
            base: p,
            next: Level::OrgOrAccount,
        },
        1 => Reach::Above {
            base: p,
            next: Level::Directory,
        },
        2 if rest[1] == dir => Reach::Above {
            base: p,
            next: Level::Region,
        },
        n if n >= 3 && rest[1] == dir => {
            // Keep the base at the region: the dates come from the range.
            let keep = at + "AWSLogs/".len() + parts[..org + 3].join("/").len() + 1;
            Reach::Region {
                base: p[..keep].to_string(),
            }
        }
        _ => Reach::Unknown,
    }
}

/// The day prefixes under a region `base` (`.../CloudTrail/REGION/`) from `since` to `until`
/// inclusive.
pub fn day_prefixes(base: &str, since: NaiveDate, until: NaiveDate) -> Vec<String> {
    since
        .iter_days()
        .take_while(|d| *d <= until)
        .map(|d| format!("{base}{}/", d.format("%Y/%m/%d")))
        .collect()
}

/// The date of a key's `YYYY/MM/DD/` segment under the layout, for filtering what a wider
/// listing returned; `None` when the key has none.
pub fn key_date(key: &str) -> Option<NaiveDate> {
    let (_, _, rest) = after_awslogs(key)?;
    let [_, y, m, d, ..] = rest[..] else {
        return None;
    };
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "AWSLogs/o-abc123/111122223333/CloudTrail/eu-west-1/2026/03/04/111122223333_CloudTrail_eu-west-1_20260304T1205Z_AbCd.json.gz";

    #[test]
    fn log_digest_insight_and_other_keys_are_told_apart() {
        assert_eq!(
            classify(LOG),
            KeyKind::LogFile(LogFile {
                account: "111122223333".into(),
                region: "eu-west-1".into(),
                date: NaiveDate::from_ymd_opt(2026, 3, 4).unwrap(),
            })
        );
        assert!(matches!(
            classify(&format!("prefix/{}", &LOG.replace("o-abc123/", ""))),
            KeyKind::LogFile(_)
        ));
        assert_eq!(
            classify("AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2026/03/04/x.json.gz"),
            KeyKind::Digest
        );
        assert_eq!(
            classify("AWSLogs/111122223333/CloudTrail-Insight/eu-west-1/2026/03/04/x.json.gz"),
            KeyKind::Insight
        );
        assert!(matches!(classify("notes/readme.txt"), KeyKind::Other(_)));
        assert!(matches!(
            classify("AWSLogs/111122223333/CloudTrail/eu-west-1/2026/03/04/other.txt"),
            KeyKind::Other(_)
        ));
        assert!(matches!(
            classify("AWSLogs/111122223333/CloudTrail/eu-west-1/2026/13/04/a_CloudTrail_b.json.gz"),
            KeyKind::Other(_)
        ));
    }

    #[test]
    fn a_prefix_at_the_region_gives_one_prefix_per_day() {
        let p = "logs/AWSLogs/o-abc/111122223333/CloudTrail/eu-west-1/2026/03";
        let Reach::Region { base } = reach(p, "CloudTrail") else {
            panic!("{:?}", reach(p, "CloudTrail"))
        };
        assert_eq!(
            base,
            "logs/AWSLogs/o-abc/111122223333/CloudTrail/eu-west-1/"
        );
        let days = day_prefixes(
            &base,
            NaiveDate::from_ymd_opt(2026, 2, 28).unwrap(),
            NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
        );
        assert_eq!(
            days,
            [
                "logs/AWSLogs/o-abc/111122223333/CloudTrail/eu-west-1/2026/02/28/",
                "logs/AWSLogs/o-abc/111122223333/CloudTrail/eu-west-1/2026/03/01/"
            ]
        );
        assert_eq!(
            reach("AWSLogs/o-abc", "CloudTrail"),
            Reach::Above {
                base: "AWSLogs/o-abc/".into(),
                next: Level::Account
            }
        );
        assert_eq!(
            reach("AWSLogs/", "CloudTrail"),
            Reach::Above {
                base: "AWSLogs/".into(),
                next: Level::OrgOrAccount
            }
        );
        assert!(matches!(
            reach("AWSLogs/111122223333/CloudTrail", "CloudTrail"),
            Reach::Above {
                next: Level::Region,
                ..
            }
        ));
        assert_eq!(reach("", "CloudTrail"), Reach::Unknown);
        assert_eq!(key_date(LOG), NaiveDate::from_ymd_opt(2026, 3, 4));
    }
}
