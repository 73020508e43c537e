//! The invocation's time budget: how long the handler may keep working before it must stop
//! and hand back what is left (parked in the failure queue, or returned as batch item
//! failures) so that the invocation never times out as a whole.
//!
//! Lambda tells each invocation its deadline (`Context::deadline`, milliseconds since the
//! epoch). The budget ends a reserve before it: the time needed to park or report what is
//! left. Tests and `replay` use [`Budget::unlimited`]; a test of the parking path uses
//! [`Budget::exhausted`], or [`Budget::until`] with an instant of its own.

use std::time::{Duration, Instant, SystemTime};

/// What the handler keeps for itself before the deadline by default: long enough to write
/// the rest of a batch to the failure queue.
pub const DEFAULT_RESERVE: Duration = Duration::from_secs(5);

/// The smallest deadline read as milliseconds since the epoch (2001-09-09): anything below
/// is a relative timeout (see [`Budget::from_deadline_ms`]).
pub const EPOCH_FLOOR_MS: u64 = 1_000_000_000_000;

/// When the work of one invocation must stop. Cheap to copy; `Instant` based, so a clock
/// change during the invocation does not move it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// `None`: no deadline (the command line, tests).
    ends: Option<Instant>,
}

impl Budget {
    /// No deadline: every check says there is time left.
    pub fn unlimited() -> Self {
        Budget { ends: None }
    }

    /// A budget that is already spent: everything not yet started is handed back.
    pub fn exhausted() -> Self {
        Budget {
            ends: Some(Instant::now()),
        }
    }

    /// The budget ends at `ends`.
    pub fn until(ends: Instant) -> Self {
        Budget { ends: Some(ends) }
    }

    /// The budget of an invocation whose deadline is `deadline_ms` (milliseconds since the
    /// epoch, as Lambda gives it), keeping `reserve` before it, but never more than a third
    /// of the time left: a function with a short timeout (Lambda's default is 3 s, and
    /// `cargo lambda watch` uses it) still does two thirds of its work instead of parking
    /// everything unread. A deadline of 0 (the runtime's default `Context`, as in local
    /// tests) means no deadline. A value too small to be a time since the epoch (before
    /// [`EPOCH_FLOOR_MS`]) is a timeout from now: `cargo lambda watch` sends its invoke
    /// timeout (600000) there instead of a deadline, and reading it as 1970 would make every
    /// local invocation park its events unread.
    pub fn from_deadline_ms(deadline_ms: u64, reserve: Duration) -> Self {
        if deadline_ms == 0 {
            return Budget::unlimited();
        }
        let until_deadline = if deadline_ms < EPOCH_FLOOR_MS {
            Duration::from_millis(deadline_ms)
        } else {
            (SystemTime::UNIX_EPOCH + Duration::from_millis(deadline_ms))
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO)
        };
        let left = until_deadline.saturating_sub(reserve.min(until_deadline / 3));
        Budget::until(Instant::now() + left)
    }

    /// Time left before the budget ends (`None`: no deadline).
    pub fn remaining(&self) -> Option<Duration> {
        self.ends
            .map(|ends| ends.saturating_duration_since(Instant::now()))
    }

    /// True once the budget has ended: stop starting new work.
    pub fn is_spent(&self) -> bool {
        self.remaining().is_some_and(|left| left.is_zero())
    }
}

impl Default for Budget {
    fn default() -> Self {
        Budget::unlimited()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_is_never_spent() {
        assert!(!Budget::unlimited().is_spent());
        assert_eq!(Budget::unlimited().remaining(), None);
        assert!(!Budget::from_deadline_ms(0, DEFAULT_RESERVE).is_spent());
    }

    #[test]
    fn exhausted_and_past_deadlines_are_spent() {
        assert!(Budget::exhausted().is_spent());
        // A deadline a second ago leaves nothing.
        let now_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        assert!(Budget::from_deadline_ms(now_ms - 1_000, DEFAULT_RESERVE).is_spent());
    }

    #[test]
    fn a_deadline_closer_than_the_reserve_keeps_a_third() {
        // Lambda's default timeout (3 s) is shorter than the reserve: the budget keeps a
        // third of the time for parking and works for the rest, instead of parking it all.
        let now_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let budget = Budget::from_deadline_ms(now_ms + 3_000, DEFAULT_RESERVE);
        assert!(!budget.is_spent());
        let left = budget.remaining().unwrap();
        assert!(left <= Duration::from_secs(2), "{left:?}");
        assert!(left > Duration::from_millis(1_500), "{left:?}");
    }

    #[test]
    fn a_relative_timeout_from_a_local_emulator_is_not_read_as_1970() {
        // cargo lambda watch: `Lambda-Runtime-Deadline-Ms: 600000`, ten minutes from now.
        let budget = Budget::from_deadline_ms(600_000, DEFAULT_RESERVE);
        assert!(!budget.is_spent());
        let left = budget.remaining().unwrap();
        assert!(left <= Duration::from_secs(595), "{left:?}");
        assert!(left > Duration::from_secs(590), "{left:?}");
    }

    #[test]
    fn a_far_deadline_leaves_time_minus_the_reserve() {
        let now_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let budget = Budget::from_deadline_ms(now_ms + 60_000, DEFAULT_RESERVE);
        assert!(!budget.is_spent());
        let left = budget.remaining().unwrap();
        assert!(left <= Duration::from_secs(55), "{left:?}");
        assert!(left > Duration::from_secs(50), "{left:?}");
    }
}
