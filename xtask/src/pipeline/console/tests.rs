//! Unit tests of the console parser and judge.

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
                    let bytes: Vec<u8> = (0..self.below(64)).map(|_| self.next() as u8).collect();
                    line.push_str(&String::from_utf8_lossy(&bytes));
                }
                1 if self.below(50) == 0 => line.push_str(&"y".repeat(self.below(3 * MAX_LINE))),
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

#[test]
fn a_xen_line_spliced_onto_a_record_is_cut_off_it() {
    // Seen under Xen 4.20 (PV dom0, the shared serial port): the record's
    // value ends where Xen's line starts.
    let mut c = Console::default();
    c.feed("@@GSI-BEGIN v1 trials=2");
    c.feed(
        "@@GSI-SYSFS 0000:00:03.0 subsystem_device 0x0004(XEN) uart interrupt taking more \
         than 4ms, switched to polling",
    );
    c.feed("@@GSI-TRIAL passed a::b fine(XEN) another line");
    c.feed("@@GSI-TRIAL fai(XEN) cut inside the outcome");
    assert_eq!(
        c.sysfs
            .get(&("0000:00:03.0".into(), "subsystem_device".into()))
            .map(String::as_str),
        Some("0x0004")
    );
    assert!(c.hypervisor);
    assert_eq!(c.trials.len(), 1, "{:?}", c.trials);
    assert_eq!(c.trials[0].message, "fine");
    assert_eq!(c.garbled.len(), 1, "{:?}", c.garbled);
}

#[test]
fn a_hypervisor_that_never_starts_init_is_its_own_verdict() {
    let stuck = "\
(XEN) Xen version 4.17.7 (Debian 4.17.7+13-g2445b30a44-0+deb12u1)
(XEN) *** Building a PV Dom0 ***
[    0.000000] Linux version 6.12.117+ (gsi@workbench)
(XEN) d0v0 Unhandled page fault fault/trap [#14, ec=0003]
(XEN) Hardware Dom0 crashed: rebooting machine in 5 seconds.
";
    let c = Console::parse(stuck);
    assert!(c.hypervisor && c.kernel_started && !c.init_started);
    let v = judge(&c, Ending::Exited(Some(0)), None, &none).verdict;
    assert_eq!(v, Verdict::HypervisorFailed);
    assert!(v.is_retried());
    let detail = c.hypervisor_failure();
    assert!(
        detail.starts_with("dom0's kernel started but never ran /init; its last lines:"),
        "{detail}"
    );
    assert!(detail.ends_with("\n  (XEN) Hardware Dom0 crashed: rebooting machine in 5 seconds."));
    // The same at a timeout: the hypervisor is named, not just the clock.
    assert_eq!(
        judge(&c, Ending::TimedOut, None, &none).verdict,
        Verdict::HypervisorFailed
    );
    // A panic of Xen's own, whatever else the console holds.
    let panic =
        format!("{GOOD}(XEN) ****************************************\n(XEN) Panic on CPU 0:\n");
    let c = Console::parse(&panic);
    assert_eq!(
        judge(&c, Ending::Done, None, &none).verdict,
        Verdict::HypervisorFailed
    );
    assert!(c
        .hypervisor_failure()
        .starts_with("the hypervisor panicked"));
    // Only the last lines are kept.
    let many: String = (0..50).map(|i| format!("(XEN) line {i}\n")).collect();
    let c = Console::parse(&many);
    assert_eq!(c.hypervisor_tail.len(), HYPERVISOR_TAIL);
    assert_eq!(
        c.hypervisor_tail.back().map(String::as_str),
        Some("(XEN) line 49")
    );
    assert!(c
        .hypervisor_failure()
        .starts_with("the hypervisor never started"));
}

#[test]
fn xen_reporting_dom0_dead_mid_suite_is_hypervisor_failed() {
    // Xen's line lands in the middle of one of dom0's on the shared port.
    let log = "\
(XEN) Xen version 4.17.7 (Debian 4.17.7+13-g2445b30a44-0+deb12u1)
[    0.000000] Linux version 6.12.117+ (gsi@workbench)
[    1.000000] Run /init as init process
@@GSI-BEGIN 3
test rng-s03::gsi-concurrent        ... (XEN) d0v0 Triple fault - invoking HVM shutdown action 1
(XEN) Hardware Dom0 shutdown: rebooting machine
";
    let c = Console::parse(log);
    assert!(c.dom0_crashed && c.init_started);
    let v = judge(&c, Ending::Exited(Some(0)), None, &none).verdict;
    assert_eq!(v, Verdict::HypervisorFailed);
    let detail = c.hypervisor_failure();
    assert!(
        detail.starts_with("the hypervisor reported dom0's death while /init ran"),
        "{detail}"
    );
    assert!(detail.contains("\n  (XEN) d0v0 Triple fault - invoking HVM shutdown action 1"));
}
