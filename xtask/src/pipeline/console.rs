//! Turning a guest's serial console into a verdict.
//!
//! The console is untrusted: lines are bounded, protocol records are only
//! read between BEGIN and END, nothing from it is ever used as a path or a
//! command, and anything that does not parse is ignored (and stays in the
//! log for a human).

use crate::report::{Outcome, Trial, Verdict};
use gsi_plan::protocol;
use std::collections::BTreeMap;

/// Longest console line kept; the rest of a longer line is dropped.
pub const MAX_LINE: usize = 4096;
/// Most SYSFS records kept from one console.
pub const MAX_SYSFS: usize = 4096;

/// Everything parsed out of one console.
#[derive(Debug, Default, Clone)]
pub struct Console {
    pub begun: bool,
    pub trials: Vec<Trial>,
    pub ended: bool,
    pub done: bool,
    pub init_errors: Vec<String>,
    /// The panic line and a few lines before it.
    pub panic: Vec<String>,
    /// QEMU's own error lines (`qemu-system-x86_64: ...`).
    pub qemu_errors: Vec<String>,
    /// The kernel printed its banner.
    pub kernel_started: bool,
    /// The guest's sysfs dump (SYSFS records): `(bdf, file) -> value`.
    pub sysfs: BTreeMap<(String, String), String>,
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
        let Some((tag, rest)) = split_record(line) else {
            return false;
        };
        match tag {
            protocol::BEGIN => self.begun = true,
            protocol::TRIAL if self.begun && !self.ended => {
                if let Some(trial) = parse_trial(rest) {
                    if self.trials.len() < 10_000 {
                        self.trials.push(trial);
                    }
                }
            }
            protocol::SYSFS if self.begun && !self.ended && self.sysfs.len() < MAX_SYSFS => {
                if let Some((key, value)) = parse_sysfs(rest) {
                    self.sysfs.insert(key, value);
                }
            }
            protocol::END if self.begun => self.ended = true,
            protocol::INIT_ERROR if self.init_errors.len() < 20 => {
                self.init_errors.push(protocol::unescape(rest))
            }
            protocol::DONE => {
                self.done = true;
                return true;
            }
            _ => {}
        }
        false
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

fn split_record(line: &str) -> Option<(&str, &str)> {
    if !line.starts_with("@@GSI-") {
        return None;
    }
    Some(line.split_once(' ').unwrap_or((line, "")))
}

fn parse_trial(rest: &str) -> Option<Trial> {
    let mut parts = rest.splitn(3, ' ');
    let outcome = match parts.next()? {
        "passed" => Outcome::Passed,
        "failed" => Outcome::Failed,
        "ignored" => Outcome::Ignored,
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

/// The verdict and the trials with expected failures applied. `xfail`
/// returns the reason when a trial is a listed expected failure.
pub fn judge(
    console: &Console,
    ending: Ending,
    xfail: &dyn Fn(&str) -> Option<String>,
) -> (Verdict, Vec<Trial>) {
    let trials: Vec<Trial> = console
        .trials
        .iter()
        .map(|t| {
            let mut t = t.clone();
            if let Some(reason) = xfail(&t.name) {
                match t.outcome {
                    Outcome::Failed => {
                        t.outcome = Outcome::Xfail;
                        t.message = format!("{} [expected failure: {reason}]", t.message);
                    }
                    Outcome::Passed => {
                        t.outcome = Outcome::Xpass;
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
    let verdict = if !console.panic.is_empty() {
        Verdict::KernelPanic
    } else if console.ended {
        let bad = trials
            .iter()
            .any(|t| matches!(t.outcome, Outcome::Failed | Outcome::Xpass));
        let ran = trials.iter().any(|t| t.outcome != Outcome::Ignored);
        if bad || !ran {
            Verdict::TestFailed
        } else {
            Verdict::Passed
        }
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
    (verdict, trials)
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
        let (v, _) = judge(&c, Ending::Done, &none);
        assert_eq!(v, Verdict::TestFailed);
    }

    #[test]
    fn expected_failures_pass_the_run_and_xpass_fails_it() {
        let c = Console::parse(GOOD);
        let xfail_edu = |n: &str| (n == "edu::gsi").then(|| "v4 reads 0".to_string());
        let (v, trials) = judge(&c, Ending::Done, &xfail_edu);
        assert_eq!(v, Verdict::Passed);
        assert_eq!(trials[1].outcome, Outcome::Xfail);
        let xfail_rng = |n: &str| (n == "rng::gsi").then(|| "why".to_string());
        let (v, trials) = judge(&c, Ending::Done, &xfail_rng);
        assert_eq!(v, Verdict::TestFailed);
        assert_eq!(trials[0].outcome, Outcome::Xpass);
    }

    #[test]
    fn records_before_begin_are_ignored() {
        let forged = "@@GSI-TRIAL passed forged::x\n@@GSI-END passed=1 failed=0 ignored=0\n";
        let c = Console::parse(forged);
        assert!(c.trials.is_empty() && !c.ended);
        assert_eq!(
            judge(&c, Ending::Exited(Some(0)), &none).0,
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
        assert_eq!(judge(&c, Ending::Done, &none).0, Verdict::TestFailed);
    }

    #[test]
    fn each_failure_mode_has_its_verdict() {
        let panic = "Linux version 6\n[ 1.0] Kernel panic - not syncing: Attempted to kill init!\n[ 1.0] CPU: 0\n";
        let c = Console::parse(panic);
        assert_eq!(
            judge(&c, Ending::Exited(Some(0)), &none).0,
            Verdict::KernelPanic
        );
        assert_eq!(c.panic.len(), 2);
        let stalled = "Linux version 6\n@@GSI-BEGIN v1 trials=3\n@@GSI-TRIAL passed a::b\n";
        assert_eq!(
            judge(&Console::parse(stalled), Ending::TimedOut, &none).0,
            Verdict::Timeout
        );
        assert_eq!(
            judge(&Console::parse(stalled), Ending::Exited(Some(0)), &none).0,
            Verdict::SuiteCrashed
        );
        let silent = "Linux version 6\n";
        assert_eq!(
            judge(&Console::parse(silent), Ending::TimedOut, &none).0,
            Verdict::Timeout
        );
        assert_eq!(
            judge(&Console::parse(silent), Ending::Exited(Some(0)), &none).0,
            Verdict::BootFailed
        );
        let qemu = "qemu-system-x86_64: -device bogus: 'bogus' is not a valid device model name\n";
        let c = Console::parse(qemu);
        assert_eq!(
            judge(&c, Ending::Exited(Some(1)), &none).0,
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
            if seed % 2 == 0 {
                lines.retain(|l| !l.contains("panic") && !l.starts_with("@@GSI-"));
                let mut run = vec!["@@GSI-BEGIN v1 trials=2".to_string()];
                for _ in 0..rng.below(6) {
                    run.push(
                        rng.pick(&[
                            "@@GSI-TRIAL passed a::b",
                            "@@GSI-TRIAL failed c::d expected 16",
                            "@@GSI-TRIAL ignored e::f",
                            "@@GSI-TRIAL bogus g::h",
                        ])
                        .to_string(),
                    );
                    if rng.below(3) == 0 {
                        run.push(rng.line().replace("panic", "p"));
                    }
                }
                if rng.below(4) != 0 {
                    run.push("@@GSI-END passed=1 failed=0 ignored=0".into());
                }
                if rng.below(4) != 0 {
                    run.push("@@GSI-DONE 0".into());
                }
                let at = rng.below(lines.len() + 1);
                lines.splice(at..at, run);
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
            let xfail = |n: &str| (n == "c::d").then(|| "listed".to_string());
            let (verdict, trials) = judge(&c, ending, &xfail);
            assert_eq!(trials.len(), c.trials.len(), "seed {seed}");
            if verdict.is_success() {
                assert!(c.begun && c.ended && c.panic.is_empty(), "seed {seed}");
            }
            seen.insert(verdict.name());
        }
        // The generator reaches the interesting verdicts, not only noise.
        for v in [
            "passed",
            "test-failed",
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
                assert!(!judge(&c, ending, &none).0.is_success(), "seed {seed}");
            }
            // After BEGIN only the real records count, and without END the
            // run is never a pass.
            c.feed("@@GSI-BEGIN v1 trials=1");
            c.feed("@@GSI-TRIAL passed real::t");
            assert_eq!(c.trials.len(), 1, "seed {seed}: {:?}", c.trials);
            assert_eq!(c.trials[0].name, "real::t");
            let (v, _) = judge(&c, Ending::Exited(Some(0)), &none);
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
