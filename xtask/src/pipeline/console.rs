//! Turning a guest's serial console into a verdict.
//!
//! The console is untrusted: lines are bounded, protocol records are only
//! read between BEGIN and END, and nothing from it is ever used as a path
//! or a command. It is also unreliable: a kernel message can land in the
//! middle of a record, a line can be cut. So a run passes only on whole,
//! self-consistent evidence ([`judge`]): BEGIN's trial count, the TRIAL
//! lines and END's totals agree, every planned trial is reported exactly
//! once and no other, DONE reports the suite's exit status and it matches
//! the trials, and the kernel did not panic. Evidence that does not add
//! up is [`Verdict::ConsoleCorrupt`], naming what did not add up: never a
//! pass, and retried like a hang.

use crate::report::{Trial, TrialOutcome, Verdict};
use gsi_plan::protocol;
use std::collections::BTreeMap;

/// Longest console line kept; the rest of a longer line is dropped.
pub const MAX_LINE: usize = 4096;
/// Most SYSFS records kept from one console.
pub const MAX_SYSFS: usize = 4096;
/// Most garbled lines kept (for the message) from one console.
pub const MAX_GARBLED: usize = 20;
/// The part of a garbled line kept for the message.
const GARBLED_SHOWN: usize = 160;

/// The identity of the code that turns a console into a verdict: this
/// file and the protocol it reads ([`gsi_plan::SOURCE`]). A stored result
/// judged by other code is not reused ([`crate::pipeline::results`]).
pub fn judge_identity() -> String {
    const SOURCE: &str = include_str!("console.rs");
    let text = format!("{SOURCE}\n{}", gsi_plan::SOURCE);
    crate::sha256_hex(text.as_bytes())[..16].to_string()
}

/// END's totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub ignored: usize,
}

impl Counts {
    fn of(trials: &[Trial]) -> Counts {
        let mut counts = Counts::default();
        for t in trials {
            match t.outcome {
                TrialOutcome::Passed => counts.passed += 1,
                TrialOutcome::Failed => counts.failed += 1,
                TrialOutcome::Ignored => counts.ignored += 1,
                // Only the host makes these.
                TrialOutcome::Xfail | TrialOutcome::Xpass => {}
            }
        }
        counts
    }

    fn total(self) -> usize {
        self.passed + self.failed + self.ignored
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "passed={} failed={} ignored={}",
            self.passed, self.failed, self.ignored
        )
    }
}

/// How the suite ended, as DONE says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// The suite's exit code.
    Exited(i32),
    /// The suite was killed by this signal.
    Signaled(i32),
    /// /init could not run the suite.
    NotRun,
}

/// Everything parsed out of one console.
#[derive(Debug, Default, Clone)]
pub struct Console {
    pub begun: bool,
    /// BEGIN's `trials=N`: what the suite said it would run.
    pub announced: Option<usize>,
    pub trials: Vec<Trial>,
    pub ended: bool,
    /// END's totals, when they parse.
    pub counts: Option<Counts>,
    pub done: bool,
    /// DONE's status, when it parses.
    pub done_status: Option<Done>,
    /// Suite records between BEGIN and DONE that did not parse, or a
    /// record tag in the middle of a line (another writer's text spliced
    /// into it): the report is not whole. At most [`MAX_GARBLED`].
    pub garbled: Vec<String>,
    pub init_errors: Vec<String>,
    /// The panic line and a few lines before it.
    pub panic: Vec<String>,
    /// QEMU's own error lines (`qemu-system-x86_64: ...`).
    pub qemu_errors: Vec<String>,
    /// The kernel printed its banner.
    pub kernel_started: bool,
    /// The guest's sysfs dump (SYSFS records): `(bdf, file) -> value`.
    pub sysfs: BTreeMap<(String, String), String>,
    /// The same files after every `gsi` read (SYSFS-AFTER records).
    pub sysfs_after: BTreeMap<(String, String), String>,
}

impl Console {
    /// Feeds one line; returns true when the guest said it is done (the
    /// harness may stop QEMU then).
    pub fn feed(&mut self, raw: &str) -> bool {
        let line: &str = if raw.len() > MAX_LINE {
            let mut end = MAX_LINE;
            while !raw.is_char_boundary(end) {
                end -= 1;
            }
            &raw[..end]
        } else {
            raw
        };
        let line = line.trim_end_matches(['\r', '\n']);
        // Kernel lines carry a timestamp prefix; protocol lines start the line.
        if line.contains("Linux version ") {
            self.kernel_started = true;
        }
        if line.starts_with("qemu-system-") && self.qemu_errors.len() < 20 {
            self.qemu_errors.push(line.to_string());
        }
        // From the panic line on, keep what follows (CPU, call trace).
        let panicking = !self.panic.is_empty() && !self.done;
        if (panicking || line.contains("Kernel panic - not syncing")) && self.panic.len() < 40 {
            self.panic.push(line.to_string());
        }
        // While the suite reports, its records must be whole lines.
        let reporting = self.begun && !self.done;
        let Some((tag, rest)) = split_record(line) else {
            if reporting && line.contains(RECORD_PREFIX) {
                self.garble(line, "a suite record inside another line");
            }
            return false;
        };
        match tag {
            protocol::BEGIN if !self.begun => {
                self.begun = true;
                self.announced = parse_begin(rest);
                if self.announced.is_none() {
                    self.garble(line, "BEGIN without a readable trial count");
                }
            }
            protocol::TRIAL if self.begun && !self.ended => match parse_trial(rest) {
                Some(trial) if self.trials.len() < MAX_TRIALS => self.trials.push(trial),
                Some(_) => self.garble(line, "more trials than the host keeps"),
                None => self.garble(line, "a TRIAL record that does not parse"),
            },
            protocol::SYSFS | protocol::SYSFS_AFTER if self.begun && !self.ended => {
                let dump = if tag == protocol::SYSFS {
                    &mut self.sysfs
                } else {
                    &mut self.sysfs_after
                };
                match parse_sysfs(rest) {
                    Some((key, value)) if dump.len() < MAX_SYSFS => {
                        dump.insert(key, value);
                    }
                    Some(_) => {}
                    None => self.garble(line, "a SYSFS record that does not parse"),
                }
            }
            protocol::END if self.begun && !self.ended => {
                self.ended = true;
                self.counts = parse_end(rest);
                if self.counts.is_none() {
                    self.garble(line, "END without readable totals");
                }
            }
            protocol::INIT_ERROR if self.init_errors.len() < 20 => {
                self.init_errors.push(protocol::unescape(rest))
            }
            protocol::INIT_ERROR => {}
            protocol::DONE if !self.done => {
                self.done = true;
                self.done_status = parse_done(rest);
                if self.done_status.is_none() && self.begun {
                    self.garble(line, "DONE without a readable exit status");
                }
                return true;
            }
            // Before BEGIN anything goes (a forged record is not evidence);
            // after it, a record out of place means the report is not whole.
            _ if reporting => self.garble(line, "a suite record out of place"),
            _ => {}
        }
        false
    }

    fn garble(&mut self, line: &str, why: &str) {
        if self.garbled.len() < MAX_GARBLED {
            let mut end = line.len().min(GARBLED_SHOWN);
            while !line.is_char_boundary(end) {
                end -= 1;
            }
            self.garbled.push(format!("{why}: {:?}", &line[..end]));
        }
    }

    /// Parses a whole console at once (reports, tests).
    pub fn parse(text: &str) -> Console {
        let mut console = Console::default();
        for line in text.lines() {
            console.feed(line);
        }
        console
    }
}

/// What every record of the protocol starts with.
const RECORD_PREFIX: &str = "@@GSI-";
/// Most trials kept from one console.
pub const MAX_TRIALS: usize = 10_000;

fn split_record(line: &str) -> Option<(&str, &str)> {
    if !line.starts_with(RECORD_PREFIX) {
        return None;
    }
    Some(line.split_once(' ').unwrap_or((line, "")))
}

/// `v1 trials=N`
fn parse_begin(rest: &str) -> Option<usize> {
    let mut words = rest.split(' ');
    if words.next()? != protocol::VERSION {
        return None;
    }
    let count = words.next()?.strip_prefix("trials=")?.parse().ok()?;
    words.next().is_none().then_some(count)
}

/// `passed=N failed=N ignored=N`, exactly.
fn parse_end(rest: &str) -> Option<Counts> {
    let mut words = rest.split(' ');
    let mut field = |name: &str| -> Option<usize> {
        words
            .next()?
            .strip_prefix(name)?
            .strip_prefix('=')?
            .parse()
            .ok()
    };
    let counts = Counts {
        passed: field("passed")?,
        failed: field("failed")?,
        ignored: field("ignored")?,
    };
    words.next().is_none().then_some(counts)
}

/// `<code>`, `signal=<N>` or `none` (gsi-init's `Done`).
fn parse_done(rest: &str) -> Option<Done> {
    if rest == "none" {
        return Some(Done::NotRun);
    }
    if let Some(signal) = rest.strip_prefix("signal=") {
        return signal.parse().ok().map(Done::Signaled);
    }
    rest.parse().ok().map(Done::Exited)
}

fn parse_trial(rest: &str) -> Option<Trial> {
    let mut parts = rest.splitn(3, ' ');
    let outcome = match parts.next()? {
        "passed" => TrialOutcome::Passed,
        "failed" => TrialOutcome::Failed,
        "ignored" => TrialOutcome::Ignored,
        _ => return None,
    };
    let name = parts.next()?;
    if name.is_empty() || name.len() > 200 || !name.chars().all(|c| c.is_ascii_graphic()) {
        return None;
    }
    Some(Trial {
        name: name.to_string(),
        outcome,
        message: protocol::unescape(parts.next().unwrap_or("")),
    })
}

/// `<bdf> <file> <escaped value>`; the value may be empty.
fn parse_sysfs(rest: &str) -> Option<((String, String), String)> {
    let mut parts = rest.splitn(3, ' ');
    let bdf = parts.next()?;
    let file = parts.next()?;
    let plain =
        |s: &str| !s.is_empty() && s.len() <= 200 && s.chars().all(|c| c.is_ascii_graphic());
    if !plain(bdf) || !plain(file) {
        return None;
    }
    let value = protocol::unescape(parts.next().unwrap_or(""));
    Some(((bdf.to_string(), file.to_string()), value))
}

/// How the QEMU process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The guest said DONE and the harness stopped QEMU.
    Done,
    /// QEMU exited on its own with this code (`None`: killed by a signal).
    Exited(Option<i32>),
    /// The wall-clock limit passed.
    TimedOut,
}

impl Ending {
    /// How QEMU ended, read back from the last line the harness writes to
    /// every console log (`crate::pipeline::boot`); `None` when a log has no such
    /// line (cut short, or not written by the harness).
    pub fn from_log(text: &str) -> Option<Ending> {
        let last = text
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("[gsi-workbench] "))?;
        if last.starts_with("guest done after ") {
            Some(Ending::Done)
        } else if last.starts_with("no end after ") {
            Some(Ending::TimedOut)
        } else if let Some(code) = last.strip_prefix("QEMU exited with ") {
            match code.trim() {
                "None" => Some(Ending::Exited(None)),
                code => code
                    .strip_prefix("Some(")?
                    .strip_suffix(')')?
                    .parse()
                    .ok()
                    .map(|c| Ending::Exited(Some(c))),
            }
        } else {
            None
        }
    }

    /// How QEMU ended, for a run's detail when the console alone does not
    /// say it (a QEMU killed from outside prints nothing).
    pub fn describe(self) -> String {
        match self {
            Ending::Done => "the guest said DONE; the harness stopped QEMU".into(),
            Ending::Exited(Some(code)) => {
                format!("QEMU exited with status {code} before the guest said DONE")
            }
            Ending::Exited(None) => "QEMU was killed by a signal before the guest said DONE".into(),
            Ending::TimedOut => "no DONE within the time limit: the harness killed QEMU".into(),
        }
    }
}

/// A verdict, the trials with expected failures applied, and, when the
/// suite's report did not add up, what did not.
#[derive(Debug, Clone)]
pub struct Judgement {
    pub verdict: Verdict,
    pub trials: Vec<Trial>,
    /// One line per inconsistency; empty unless the verdict is
    /// [`Verdict::ConsoleCorrupt`].
    pub problems: Vec<String>,
}

/// The trial names the suite runs for `plan`, from the suite's own code
/// (the host links it), so the judge knows what a whole report holds.
pub fn planned_trials(plan: &gsi_plan::Plan) -> Vec<String> {
    gsi_suite::checks::trials(plan)
        .into_iter()
        .map(|t| t.name)
        .collect()
}

/// Judges a console. `planned` is the trial names the plan of this boot
/// makes (`gsi_suite::checks::trials`); `None` where it is not known (a
/// log read back without its plan), and then only the protocol's own
/// counts are checked. `xfail` returns the reason when a trial is a listed
/// expected failure.
pub fn judge(
    console: &Console,
    ending: Ending,
    planned: Option<&[String]>,
    xfail: &dyn Fn(&str) -> Option<String>,
) -> Judgement {
    let trials: Vec<Trial> = console
        .trials
        .iter()
        .map(|t| {
            let mut t = t.clone();
            if let Some(reason) = xfail(&t.name) {
                match t.outcome {
                    TrialOutcome::Failed => {
                        t.outcome = TrialOutcome::Xfail;
                        t.message = format!("{} [expected failure: {reason}]", t.message);
                    }
                    TrialOutcome::Passed => {
                        t.outcome = TrialOutcome::Xpass;
                        t.message = format!(
                            "listed as an expected failure ({reason}) but passed: remove the entry from configs/matrix.toml"
                        );
                    }
                    _ => {}
                }
            }
            t
        })
        .collect();
    let mut problems = Vec::new();
    let verdict = if !console.panic.is_empty() {
        Verdict::KernelPanic
    } else if console.ended && console.done {
        problems = console.problems(planned);
        let bad = trials
            .iter()
            .any(|t| matches!(t.outcome, TrialOutcome::Failed | TrialOutcome::Xpass));
        let ran = trials.iter().any(|t| t.outcome != TrialOutcome::Ignored);
        if !problems.is_empty() {
            Verdict::ConsoleCorrupt
        } else if bad || !ran {
            Verdict::TestFailed
        } else {
            Verdict::Passed
        }
    } else if console.ended && ending != Ending::TimedOut {
        // The suite reported, but /init never said how it ended.
        problems = console.problems(planned);
        problems.push("END without DONE: the suite's exit status was never reported".into());
        Verdict::ConsoleCorrupt
    } else if console.begun || !console.init_errors.is_empty() {
        if ending == Ending::TimedOut {
            Verdict::Timeout
        } else {
            Verdict::SuiteCrashed
        }
    } else if ending == Ending::TimedOut {
        Verdict::Timeout
    } else if !console.qemu_errors.is_empty() || (!console.kernel_started && ending != Ending::Done)
    {
        Verdict::QemuFailed
    } else {
        Verdict::BootFailed
    };
    Judgement {
        verdict,
        trials,
        problems,
    }
}

impl Console {
    /// Every way the suite's report (BEGIN to DONE) fails to add up; empty
    /// when it is whole and consistent.
    pub fn problems(&self, planned: Option<&[String]>) -> Vec<String> {
        let mut problems: Vec<String> = self.garbled.clone();
        let seen = Counts::of(&self.trials);
        match self.announced {
            Some(n) if n != self.trials.len() => problems.push(format!(
                "BEGIN announced {n} trials, {} TRIAL lines were read",
                self.trials.len()
            )),
            _ => {}
        }
        match self.counts {
            Some(end) if end != seen => {
                problems.push(format!("END says {end}, the TRIAL lines say {seen}"))
            }
            _ => {}
        }
        let mut names = std::collections::BTreeMap::<&str, usize>::new();
        for t in &self.trials {
            *names.entry(t.name.as_str()).or_default() += 1;
        }
        let twice: Vec<&str> = names
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(name, _)| *name)
            .collect();
        if !twice.is_empty() {
            problems.push(format!("reported more than once: {}", short_list(&twice)));
        }
        if let Some(planned) = planned {
            let planned_set: std::collections::BTreeSet<&str> =
                planned.iter().map(String::as_str).collect();
            let missing: Vec<&str> = planned_set
                .iter()
                .copied()
                .filter(|name| !names.contains_key(name))
                .collect();
            let unplanned: Vec<&str> = names
                .keys()
                .copied()
                .filter(|name| !planned_set.contains(name))
                .collect();
            if !missing.is_empty() {
                problems.push(format!(
                    "{} planned trial(s) never reported: {}",
                    missing.len(),
                    short_list(&missing)
                ));
            }
            if !unplanned.is_empty() {
                problems.push(format!(
                    "{} trial(s) reported that the plan does not have: {}",
                    unplanned.len(),
                    short_list(&unplanned)
                ));
            }
        }
        // The suite exits 0 when no trial failed, and libtest's 101 when
        // one failed or there was none to run.
        let want = if seen.failed > 0 || seen.total() == 0 {
            protocol::SUITE_FAILED
        } else {
            0
        };
        match self.done_status {
            Some(Done::Exited(code)) if code == want => {}
            Some(Done::Exited(code)) => problems.push(format!(
                "DONE reports exit status {code}, the trials call for {want} ({seen})"
            )),
            Some(Done::Signaled(signal)) => {
                problems.push(format!("DONE reports the suite killed by signal {signal}"))
            }
            Some(Done::NotRun) => problems.push("DONE says the suite never ran".into()),
            // A garbled DONE is already among the garbled lines.
            None => {}
        }
        problems
    }
}

/// At most five names, then how many more.
fn short_list(names: &[&str]) -> String {
    let mut text = names.iter().take(5).copied().collect::<Vec<_>>().join(", ");
    if names.len() > 5 {
        text.push_str(&format!(" and {} more", names.len() - 5));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Option<String> {
        None
    }

    const GOOD: &str = "\
[    0.000000] Linux version 6.12.117 (gsi@workbench)
gsi-init: starting
@@GSI-BEGIN v1 trials=2
test rng::gsi ... ok
@@GSI-TRIAL passed rng::gsi
@@GSI-TRIAL failed edu::gsi /sys/bus/pci/devices/0000:00:05.0/gsi = 0, expected 21\\nsecond line
@@GSI-END passed=1 failed=1 ignored=0
@@GSI-DONE 101
";

    #[test]
    fn a_full_console_parses() {
        let c = Console::parse(GOOD);
        assert!(c.begun && c.ended && c.done && c.kernel_started);
        assert_eq!(c.trials.len(), 2);
        assert_eq!(
            c.trials[1].message,
            "/sys/bus/pci/devices/0000:00:05.0/gsi = 0, expected 21\nsecond line"
        );
        let v = judge(&c, Ending::Done, None, &none).verdict;
        assert_eq!(v, Verdict::TestFailed);
    }

    #[test]
    fn expected_failures_pass_the_run_and_xpass_fails_it() {
        let c = Console::parse(GOOD);
        let xfail_edu = |n: &str| (n == "edu::gsi").then(|| "v4 reads 0".to_string());
        let Judgement {
            verdict: v, trials, ..
        } = judge(&c, Ending::Done, None, &xfail_edu);
        assert_eq!(v, Verdict::Passed);
        assert_eq!(trials[1].outcome, TrialOutcome::Xfail);
        let xfail_rng = |n: &str| (n == "rng::gsi").then(|| "why".to_string());
        let Judgement {
            verdict: v, trials, ..
        } = judge(&c, Ending::Done, None, &xfail_rng);
        assert_eq!(v, Verdict::TestFailed);
        assert_eq!(trials[0].outcome, TrialOutcome::Xpass);
    }

    #[test]
    fn records_before_begin_are_ignored() {
        let forged = "@@GSI-TRIAL passed forged::x\n@@GSI-END passed=1 failed=0 ignored=0\n";
        let c = Console::parse(forged);
        assert!(c.trials.is_empty() && !c.ended);
        assert_eq!(
            judge(&c, Ending::Exited(Some(0)), None, &none).verdict,
            Verdict::QemuFailed
        );
    }

    #[test]
    fn sysfs_records_are_kept_between_begin_and_end_only() {
        let c = Console::parse(
            "@@GSI-SYSFS 0000:00:03.0 irq 99\n\
             @@GSI-BEGIN v1 trials=1\n\
             @@GSI-SYSFS 0000:00:03.0 irq 11\n\
             @@GSI-SYSFS 0000:00:03.0 resource 0x1 0x2\\n0x0\n\
             @@GSI-SYSFS 0000:00:03.0 label\n\
             @@GSI-SYSFS 0000:00:03.0\n\
             @@GSI-TRIAL passed a::b\n\
             @@GSI-END passed=1 failed=0 ignored=0\n\
             @@GSI-SYSFS 0000:00:03.0 enable 1\n",
        );
        let key = |f: &str| ("0000:00:03.0".to_string(), f.to_string());
        assert_eq!(c.sysfs.len(), 3, "{:?}", c.sysfs);
        assert_eq!(c.sysfs[&key("irq")], "11");
        assert_eq!(c.sysfs[&key("resource")], "0x1 0x2\n0x0");
        assert_eq!(c.sysfs[&key("label")], "");
        let mut flood = Console::default();
        flood.feed("@@GSI-BEGIN v1 trials=1");
        for i in 0..2 * MAX_SYSFS {
            flood.feed(&format!("@@GSI-SYSFS 0000:00:03.0 f{i} v"));
        }
        assert_eq!(flood.sysfs.len(), MAX_SYSFS);
    }

    #[test]
    fn zero_trials_is_a_failure() {
        let c = Console::parse(
            "@@GSI-BEGIN v1 trials=0\n@@GSI-END passed=0 failed=0 ignored=0\n@@GSI-DONE 101\n",
        );
        assert_eq!(
            judge(&c, Ending::Done, None, &none).verdict,
            Verdict::TestFailed
        );
    }

    #[test]
    fn each_failure_mode_has_its_verdict() {
        let panic = "Linux version 6\n[ 1.0] Kernel panic - not syncing: Attempted to kill init!\n[ 1.0] CPU: 0\n";
        let c = Console::parse(panic);
        assert_eq!(
            judge(&c, Ending::Exited(Some(0)), None, &none).verdict,
            Verdict::KernelPanic
        );
        assert_eq!(c.panic.len(), 2);
        let stalled = "Linux version 6\n@@GSI-BEGIN v1 trials=3\n@@GSI-TRIAL passed a::b\n";
        assert_eq!(
            judge(&Console::parse(stalled), Ending::TimedOut, None, &none).verdict,
            Verdict::Timeout
        );
        assert_eq!(
            judge(
                &Console::parse(stalled),
                Ending::Exited(Some(0)),
                None,
                &none
            )
            .verdict,
            Verdict::SuiteCrashed
        );
        let silent = "Linux version 6\n";
        assert_eq!(
            judge(&Console::parse(silent), Ending::TimedOut, None, &none).verdict,
            Verdict::Timeout
        );
        assert_eq!(
            judge(
                &Console::parse(silent),
                Ending::Exited(Some(0)),
                None,
                &none
            )
            .verdict,
            Verdict::BootFailed
        );
        let qemu = "qemu-system-x86_64: -device bogus: 'bogus' is not a valid device model name\n";
        let c = Console::parse(qemu);
        assert_eq!(
            judge(&c, Ending::Exited(Some(1)), None, &none).verdict,
            Verdict::QemuFailed
        );
        assert_eq!(c.qemu_errors.len(), 1);
    }

    /// A tiny xorshift64* generator: deterministic, no dependency; a
    /// failing seed is printed and reproduces the case.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }

        /// Random bytes, biased to what a console carries: protocol tags,
        /// escapes, control and invalid UTF-8 bytes, very long runs.
        fn line(&mut self) -> String {
            let pieces = [
                "@@GSI-BEGIN v1 trials=3",
                "@@GSI-TRIAL passed a::b",
                "@@GSI-TRIAL failed c::d msg\\n\\",
                "@@GSI-TRIAL ignored e::f",
                "@@GSI-TRIAL passed",
                "@@GSI-TRIAL ",
                "@@GSI-END passed=1",
                "@@GSI-DONE 0",
                "@@GSI-INIT-ERROR x\\ny",
                "@@GSI-",
                "Kernel panic - not syncing: x",
                "qemu-system-x86_64: -device z",
                "Linux version 6",
                "\u{1b}[2J\u{1b}]0;title\u{7}",
                "\r",
                "\u{0}",
                "\u{feff}é漢🦀",
                " ",
                "\\",
            ];
            let mut line = String::new();
            for _ in 0..self.below(6) {
                match self.below(4) {
                    0 => {
                        let bytes: Vec<u8> =
                            (0..self.below(64)).map(|_| self.next() as u8).collect();
                        line.push_str(&String::from_utf8_lossy(&bytes));
                    }
                    1 if self.below(50) == 0 => {
                        line.push_str(&"y".repeat(self.below(3 * MAX_LINE)))
                    }
                    _ => line.push_str(self.pick(&pieces)),
                }
            }
            line
        }
    }

    fn check_bounds(c: &Console) {
        assert!(c.trials.len() <= 10_000);
        for t in &c.trials {
            assert!(t.name.len() <= 200 && t.message.len() <= MAX_LINE);
        }
        assert!(c.init_errors.len() <= 20 && c.qemu_errors.len() <= 20 && c.panic.len() <= 40);
        for l in c.init_errors.iter().chain(&c.qemu_errors).chain(&c.panic) {
            assert!(l.len() <= MAX_LINE, "{}", l.len());
        }
    }

    #[test]
    fn random_consoles_never_panic_and_stay_bounded() {
        let endings = [
            Ending::Done,
            Ending::Exited(Some(0)),
            Ending::Exited(Some(1)),
            Ending::Exited(None),
            Ending::TimedOut,
        ];
        let mut seen = std::collections::BTreeSet::new();
        for seed in 1..=400u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            // Half the seeds are pure noise; the others a suite run
            // (BEGIN, trials, maybe END and DONE) with noise in between.
            let mut lines: Vec<String> = (0..rng.below(200)).map(|_| rng.line()).collect();
            // The run's own records, to check a pass against.
            let mut report: Option<(usize, Counts, Vec<String>)> = None;
            if seed % 2 == 0 {
                lines.retain(|l| !l.contains("panic") && !l.contains("@@GSI-"));
                // A suite run whose records add up, then (sometimes) noise
                // between them, a wrong count or a bogus record.
                let mut records = Vec::new();
                let mut counts = Counts::default();
                let mut names = Vec::new();
                for i in 0..rng.below(6) {
                    let (outcome, name) = match rng.below(4) {
                        0 => ("failed", format!("c::d{i}")),
                        1 => ("ignored", format!("e::f{i}")),
                        _ => ("passed", format!("a::b{i}")),
                    };
                    match outcome {
                        "failed" => counts.failed += 1,
                        "ignored" => counts.ignored += 1,
                        _ => counts.passed += 1,
                    }
                    records.push(format!("@@GSI-TRIAL {outcome} {name} expected 16"));
                    names.push(name);
                }
                let announced = match rng.below(8) {
                    0 => records.len() + 1,
                    _ => records.len(),
                };
                let mut end = counts;
                if rng.below(8) == 0 {
                    end.passed += 1;
                }
                if rng.below(8) == 0 {
                    records.push("@@GSI-TRIAL bogus g::h".into());
                }
                let status = if counts.failed > 0 || counts.total() == 0 {
                    101
                } else {
                    0
                };
                let mut run = vec![format!("@@GSI-BEGIN v1 trials={announced}")];
                for record in records {
                    run.push(record);
                    if rng.below(3) == 0 {
                        run.push(rng.line().replace("panic", "p"));
                    }
                }
                if rng.below(4) != 0 {
                    run.push(format!("@@GSI-END {end}"));
                }
                if rng.below(4) != 0 {
                    run.push(format!(
                        "@@GSI-DONE {}",
                        [status, status, 0, 101][rng.below(4)]
                    ));
                }
                let at = rng.below(lines.len() + 1);
                lines.splice(at..at, run);
                report = Some((announced, end, names));
            }
            let mut c = Console::default();
            let mut text = String::new();
            for line in &lines {
                c.feed(line);
                text.push_str(line);
                text.push('\n');
            }
            check_bounds(&c);
            // Whole-text parsing splits on the newlines inside lines too;
            // it must hold the same bounds.
            check_bounds(&Console::parse(&text));
            let ending = endings[rng.below(endings.len())];
            let xfail = |n: &str| n.starts_with("c::d").then(|| "listed".to_string());
            let planned = report.as_ref().map(|(_, _, names)| names.clone());
            let judged = judge(&c, ending, planned.as_deref(), &xfail);
            assert_eq!(judged.trials.len(), c.trials.len(), "seed {seed}");
            if judged.verdict.is_success() {
                // Only whole evidence passes: every count agrees.
                let (announced, end, names) = report.as_ref().expect("noise never passes");
                assert!(
                    c.begun && c.ended && c.done && c.panic.is_empty(),
                    "seed {seed}"
                );
                assert!(c.garbled.is_empty(), "seed {seed}: {:?}", c.garbled);
                assert_eq!(*announced, names.len(), "seed {seed}");
                assert_eq!(*end, Counts::of(&c.trials), "seed {seed}");
                assert_eq!(c.trials.len(), names.len(), "seed {seed}");
            }
            if judged.verdict == Verdict::ConsoleCorrupt {
                assert!(!judged.problems.is_empty(), "seed {seed}");
            }
            seen.insert(judged.verdict.name());
        }
        // The generator reaches the interesting verdicts, not only noise.
        for v in [
            "passed",
            "test-failed",
            "console-corrupt",
            "kernel-panic",
            "suite-crashed",
            "timeout",
        ] {
            assert!(seen.contains(v), "no {v} in {seen:?}");
        }
    }

    #[test]
    fn forged_records_before_begin_are_never_results() {
        for seed in 1..=300u64 {
            let mut rng = Rng(seed.wrapping_mul(0xd1b5_4a32_d192_ed03));
            let mut c = Console::default();
            // Anything but a BEGIN, including forged results and ENDs.
            for i in 0..rng.below(100) {
                let forged = match rng.below(4) {
                    0 => format!("@@GSI-TRIAL passed forged::t{i}"),
                    1 => "@@GSI-END passed=9 failed=0 ignored=0".to_string(),
                    _ => rng.line(),
                };
                if !forged.contains(protocol::BEGIN) {
                    c.feed(&forged);
                }
            }
            assert!(!c.begun && !c.ended && c.trials.is_empty(), "seed {seed}");
            for ending in [Ending::Done, Ending::Exited(Some(0)), Ending::TimedOut] {
                assert!(
                    !judge(&c, ending, None, &none).verdict.is_success(),
                    "seed {seed}"
                );
            }
            // After BEGIN only the real records count, and without END the
            // run is never a pass.
            c.feed("@@GSI-BEGIN v1 trials=1");
            c.feed("@@GSI-TRIAL passed real::t");
            assert_eq!(c.trials.len(), 1, "seed {seed}: {:?}", c.trials);
            assert_eq!(c.trials[0].name, "real::t");
            let v = judge(&c, Ending::Exited(Some(0)), None, &none).verdict;
            assert!(!v.is_success(), "seed {seed}: missing END gave {v:?}");
            c.feed("@@GSI-END passed=1 failed=0 ignored=0");
            c.feed("@@GSI-TRIAL passed after::end");
            assert_eq!(c.trials.len(), 1, "seed {seed}: a trial after END counted");
        }
    }

    #[test]
    fn a_flood_of_trials_is_capped() {
        let mut c = Console::default();
        c.feed("@@GSI-BEGIN v1 trials=99999");
        for i in 0..20_000 {
            c.feed(&format!("@@GSI-TRIAL passed t::{i} {}", "m".repeat(100)));
        }
        assert_eq!(c.trials.len(), 10_000);
        let long = format!("@@GSI-INIT-ERROR {}", "\\n".repeat(MAX_LINE));
        for _ in 0..100 {
            c.feed(&long);
        }
        check_bounds(&c);
    }

    #[test]
    fn hostile_lines_are_bounded() {
        let mut c = Console::default();
        c.feed("@@GSI-BEGIN v1");
        let long = format!("@@GSI-TRIAL passed a::b {}", "x".repeat(100_000));
        c.feed(&long);
        assert!(c.trials[0].message.len() < MAX_LINE);
        c.feed("@@GSI-TRIAL passed ../../etc/passwd\u{1b}[31m x");
        c.feed("@@GSI-TRIAL maybe a::c");
        c.feed("\u{0}\u{ff}garbage");
        assert_eq!(c.trials.len(), 1, "{:?}", c.trials);
    }
}
