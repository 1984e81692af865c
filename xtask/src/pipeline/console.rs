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
//! pass, and retried like a hang. A kernel that complained ([`COMPLAINTS`]:
//! a WARN, a BUG, a lockdep report, sleeping in atomic context, KASAN or
//! UBSAN, an Oops) is [`Verdict::KernelWarning`] with its lines quoted,
//! whatever the trials say.

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
/// The hypervisor lines kept for the detail of `hypervisor-failed`.
pub const HYPERVISOR_TAIL: usize = 12;
/// What Xen starts each of its own console lines with.
const XEN_PREFIX: &str = "(XEN)";

/// What the kernel prints when it complains about itself, matched in any
/// console line that is not a suite record. Each lockdep report starts
/// with a `WARNING:` line; the rest are here too for a report whose first
/// line was lost or cut.
pub const COMPLAINTS: &[&str] = &[
    // WARN()/WARN_ON() ("WARNING: CPU: 0 PID: 1 at ..."), lockdep's
    // headers ("WARNING: possible circular locking dependency detected",
    // "WARNING: inconsistent lock state", "WARNING: possible recursive
    // locking detected", "WARNING: suspicious RCU usage").
    "WARNING:",
    // "BUG: sleeping function called from invalid context", "BUG: KASAN:",
    // "BUG: kernel NULL pointer dereference", "BUG: spinlock ...",
    // "BUG: scheduling while atomic", "BUG: unable to handle page fault".
    "BUG:",
    "kernel BUG at",
    "possible circular locking dependency",
    "inconsistent lock state",
    "possible recursive locking",
    "possible irq lock inversion dependency",
    "suspicious RCU usage",
    "DEBUG_LOCKS_WARN_ON",
    "sleeping function called from invalid context",
    "KASAN:",
    "UBSAN:",
    "Oops:",
];

/// Most complaint lines kept from one console.
pub const MAX_COMPLAINT_LINES: usize = 40;
/// Lines kept after each complaint (what lockdep or the WARN says next).
const COMPLAINT_CONTEXT: usize = 8;

/// The complaint `line` holds, if any.
pub fn complaint(line: &str) -> Option<&'static str> {
    COMPLAINTS.iter().copied().find(|c| line.contains(c))
}

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
    /// The kernel started /init (`Run /init as init process`).
    pub init_started: bool,
    /// Lines a hypervisor printed (`(XEN) ...`) were seen: this boot ran
    /// under one.
    pub hypervisor: bool,
    /// The hypervisor panicked (`(XEN) Panic on CPU`).
    pub hypervisor_panic: bool,
    /// The hypervisor reported dom0's death (`(XEN) d0v0 Triple fault`,
    /// `(XEN) Hardware Dom0 crashed`), whatever dom0 was doing then.
    pub dom0_crashed: bool,
    /// The hypervisor's last lines, at most [`HYPERVISOR_TAIL`], for the
    /// verdict's detail when it failed.
    pub hypervisor_tail: std::collections::VecDeque<String>,
    /// The guest's sysfs dump (SYSFS records): `(bdf, file) -> value`.
    pub sysfs: BTreeMap<(String, String), String>,
    /// The same files after every `gsi` read (SYSFS-AFTER records).
    pub sysfs_after: BTreeMap<(String, String), String>,
    /// Each kernel complaint ([`COMPLAINTS`]) and the lines after it, at
    /// most [`MAX_COMPLAINT_LINES`].
    pub complaints: Vec<String>,
    /// Lines after the last complaint still to keep.
    complaint_tail: usize,
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
        if line.contains("Run /init as init process") {
            self.init_started = true;
        }
        // Xen and dom0 share the serial port: a Xen line can start in the
        // middle of one of dom0's (`test x ... (XEN) d0v0 Triple fault`).
        if let Some(xen) = line.find(XEN_PREFIX).map(|at| &line[at..]) {
            self.hypervisor = true;
            if xen.contains("Panic on CPU") {
                self.hypervisor_panic = true;
            }
            if xen.contains("Triple fault") || xen.contains("Dom0 crashed") {
                self.dom0_crashed = true;
            }
            if self.hypervisor_tail.len() == HYPERVISOR_TAIL {
                self.hypervisor_tail.pop_front();
            }
            self.hypervisor_tail.push_back(xen.to_string());
        }
        // The other way round: a Xen line spliced onto the end of one of
        // the suite's records (`@@GSI-SYSFS ... 0x0004(XEN) uart interrupt
        // taking more than 4ms, switched to polling`): the record is what
        // came before it. A record cut inside its outcome or counts no
        // longer parses and is garbled, never a pass.
        let line = match line.find(XEN_PREFIX) {
            Some(at) if at > 0 && line.starts_with(RECORD_PREFIX) => &line[..at],
            _ => line,
        };
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
        let record = split_record(line);
        // The harness's own lines, the suite's records and Xen's own lines
        // (its "(XEN) WARNING: PVH is an experimental mode" is not the
        // kernel's; a Xen failure is hypervisor-failed) are not the kernel.
        if record.is_none()
            && !line.starts_with("[gsi-workbench] ")
            && !line.trim_start().starts_with(XEN_PREFIX)
        {
            if complaint(line).is_some() {
                self.complaint_tail = COMPLAINT_CONTEXT;
                self.keep_complaint(line);
            } else if self.complaint_tail > 0 {
                self.complaint_tail -= 1;
                self.keep_complaint(line);
            }
        }
        let Some((tag, rest)) = record else {
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

    fn keep_complaint(&mut self, line: &str) {
        if self.complaints.len() < MAX_COMPLAINT_LINES {
            self.complaints.push(line.to_string());
        }
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
    /// One line per inconsistency of the suite's report; empty unless the
    /// verdict is [`Verdict::ConsoleCorrupt`] (or the report also failed to
    /// add up under [`Verdict::KernelWarning`]).
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
    } else if console.hypervisor_panic || console.dom0_crashed {
        // Xen's word that dom0 died outranks the suite's missing end.
        Verdict::HypervisorFailed
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
    } else if console.begun
        && console.init_errors.is_empty()
        && matches!(
            console.done_status,
            Some(Done::Exited(0 | protocol::SUITE_FAILED))
        )
    {
        // The suite exited as it does after END, but END never arrived.
        problems = console.problems(planned);
        problems.push("DONE without END: the suite's totals were never read".into());
        Verdict::ConsoleCorrupt
    } else if console.begun || !console.init_errors.is_empty() {
        if ending == Ending::TimedOut {
            Verdict::Timeout
        } else {
            Verdict::SuiteCrashed
        }
    } else if console.hypervisor && !console.init_started {
        // dom0 never started /init: Xen stopped, or never got it going.
        Verdict::HypervisorFailed
    } else if ending == Ending::TimedOut {
        Verdict::Timeout
    } else if !console.qemu_errors.is_empty() || (!console.kernel_started && ending != Ending::Done)
    {
        Verdict::QemuFailed
    } else {
        Verdict::BootFailed
    };
    // The kernel's own complaint outranks everything the suite said: a
    // pass beside a lockdep report is no pass. Only a panic says more.
    let verdict = if !console.complaints.is_empty() && verdict != Verdict::KernelPanic {
        Verdict::KernelWarning
    } else {
        verdict
    };
    Judgement {
        verdict,
        trials,
        problems,
    }
}

impl Console {
    /// For the detail of `hypervisor-failed`: what happened and the
    /// hypervisor's last lines, quoted.
    pub fn hypervisor_failure(&self) -> String {
        let what = if self.hypervisor_panic {
            "the hypervisor panicked"
        } else if self.dom0_crashed && self.init_started {
            "the hypervisor reported dom0's death while /init ran"
        } else if self.kernel_started {
            "dom0's kernel started but never ran /init"
        } else {
            "the hypervisor never started dom0's kernel"
        };
        let mut text = format!("{what}; its last lines:");
        for line in &self.hypervisor_tail {
            text.push_str("\n  ");
            text.push_str(line);
        }
        text
    }

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
mod tests;
