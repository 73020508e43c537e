//! The one severity scale every finding, alert, digest and threshold uses.

use crate::closed::closed_enum;

closed_enum! {
    /// How urgently a human should look. Ordered: `info < low < medium < high < critical`.
    pub enum Severity ("severity") {
        Info = "info",
        Low = "low",
        Medium = "medium",
        High = "high",
        Critical = "critical",
    }
}

impl Severity {
    /// 0 (info) to 4 (critical): for numeric SNS filter policies.
    pub fn rank(self) -> u8 {
        self as u8
    }

    /// One level up, saturating at critical.
    pub fn raised(self) -> Self {
        Self::ALL[(self.rank() as usize + 1).min(Self::ALL.len() - 1)]
    }

    /// `CRITICAL`, for headlines and tables.
    pub fn upper(self) -> String {
        self.as_str().to_ascii_uppercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_are_ordered_and_parse() {
        assert!(Severity::Info < Severity::Low && Severity::High < Severity::Critical);
        assert_eq!("HIGH".parse::<Severity>().unwrap(), Severity::High);
        let err = "urgent".parse::<Severity>().unwrap_err().to_string();
        assert!(err.contains("info, low, medium, high, critical"), "{err}");
        assert_eq!(Severity::Critical.raised(), Severity::Critical);
        assert_eq!(Severity::Low.raised(), Severity::Medium);
        assert_eq!(Severity::Critical.rank(), 4);
    }
}
