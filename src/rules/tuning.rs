//! Findings about the tuning file itself (made by [`crate::tuning`], never by an event).

use super::{Rule, Topic};
use crate::severity::Severity::Low;

pub static EXCEPTION_EXPIRED: Rule = Rule::external(
    "exception-expired",
    Topic::Tuning,
    &[Low],
    "an exception in the tuning file is past its `expires` date: it no longer suppresses anything (reported by `audit`; `replay` and the Lambda warn at start and mark each finding it would have suppressed)",
    "An exception is a time-boxed acceptance of a risk; when it lapses, the findings it hid count again, and an entry nobody renews is either forgotten access or forgotten paperwork.",
    "Review the exception: if the access is still accepted, renew `expires` with a fresh reason; otherwise remove the exception and the access it covered.",
);
