//! The suite's side of the console protocol (see `gsi_plan::protocol`):
//! one BEGIN, one TRIAL line per trial that ran, one END with the counts.
//! The counts come from these lines, not from libtest, so the host can
//! check that END agrees with the TRIAL lines it parsed.

use gsi_plan::protocol;

use crate::checks::Verdict;

/// `@@GSI-BEGIN v1 trials=N`
pub fn begin_line(trials: usize) -> String {
    format!("{} {} trials={trials}", protocol::BEGIN, protocol::VERSION)
}

/// `@@GSI-TRIAL <passed|failed|ignored> <name> <escaped message>`
pub fn trial_line(name: &str, verdict: &Verdict) -> String {
    format!(
        "{} {} {name} {}",
        protocol::TRIAL,
        verdict.status(),
        protocol::escape(verdict.message())
    )
}

/// Counts of the TRIAL lines printed so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub passed: usize,
    pub failed: usize,
    pub ignored: usize,
}

impl Tally {
    pub fn record(&mut self, verdict: &Verdict) {
        match verdict {
            Verdict::Passed(_) => self.passed += 1,
            Verdict::Failed(_) => self.failed += 1,
            Verdict::Ignored(_) => self.ignored += 1,
        }
    }

    /// `@@GSI-END passed=N failed=N ignored=N`
    pub fn end_line(&self) -> String {
        format!(
            "{} passed={} failed={} ignored={}",
            protocol::END,
            self.passed,
            self.failed,
            self.ignored
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_follow_the_protocol() {
        assert_eq!(begin_line(3), "@@GSI-BEGIN v1 trials=3");
        let failed = Verdict::Failed("gsi = 0\nexpected 23".into());
        assert_eq!(
            trial_line("rng::gsi", &failed),
            "@@GSI-TRIAL failed rng::gsi gsi = 0\\nexpected 23"
        );
        let mut tally = Tally::default();
        tally.record(&failed);
        tally.record(&Verdict::Passed(String::new()));
        tally.record(&Verdict::Ignored("msi".into()));
        assert_eq!(tally.end_line(), "@@GSI-END passed=1 failed=1 ignored=1");
    }
}
