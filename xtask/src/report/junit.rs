//! The JUnit XML rendering of a report, for CI test viewers.
//!
//! One `<testsuite>` per run (`revision/topology`), one `<testcase>` per
//! trial (classname `revision.topology`). An expected failure is a pass
//! with a note in `<system-out>` (it is a pass: the run passed); ignored
//! trials are `<skipped/>`. A run that failed without a failing trial
//! (boot failed, timeout, panic, QEMU or build error, suite crash) gets one
//! synthetic `boot` testcase so CI counts it. Every failing run carries the
//! tail of its console log in the suite's `<system-out>`: the log is guest
//! output, so it is bounded and stripped of control characters before it
//! goes anywhere near XML. `quick-junit` writes the XML (escaping, the
//! element order the JUnit schema wants).

use crate::report::TrialOutcome;
use crate::report::{Report, Run};
use anyhow::{Context, Result};
use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::Duration;

/// How much of a console log goes into the XML: its last 64 KiB, which
/// holds the panic or the suite's last words.
pub const LOG_TAIL: u64 = 64 * 1024;

/// The XML of `report`. `bases` are the directories relative log paths are
/// tried against before the project root (see [`Run::log_path`]).
pub fn render(report: &Report, bases: &[&Path]) -> Result<String> {
    let mut junit = quick_junit::Report::new("gsi-workbench test-matrix");
    let total: f64 = report.runs.iter().map(|r| r.boot_s.max(0.0)).sum();
    junit.set_time(Duration::from_secs_f64(total));
    for run in &report.runs {
        junit.add_test_suite(suite(report, run, bases));
    }
    junit
        .to_string()
        .context("serializing the JUnit report (a bug: please report it)")
}

/// Writes [`render`] to `path`.
pub fn write(report: &Report, bases: &[&Path], path: &Path) -> Result<()> {
    let xml = render(report, bases)?;
    crate::write_atomic(path, xml.as_bytes())
        .with_context(|| format!("writing the JUnit report {}", path.display()))
}

fn suite(report: &Report, run: &Run, bases: &[&Path]) -> TestSuite {
    let mut suite = TestSuite::new(format!("{}/{}", run.revision, run.topology));
    suite.set_time(Duration::from_secs_f64(run.boot_s.max(0.0)));
    suite.add_properties([
        Property::new("verdict", run.verdict.name()),
        Property::new("log", &run.log),
        Property::new(
            "kernel",
            format!("{} (linux {})", report.pin.source, report.pin.version),
        ),
        Property::new("accel", &report.accel),
    ]);
    if let Some(from) = &run.reused_from {
        // The result of an identical earlier boot, not booted again.
        suite.add_property(Property::new("reused-from", from));
    }
    let classname = format!("{}.{}", run.revision, run.topology);
    let failed = !run.verdict.is_success();
    for trial in &run.trials {
        let status = match trial.outcome {
            TrialOutcome::Passed | TrialOutcome::Xfail => TestCaseStatus::success(),
            TrialOutcome::Ignored => TestCaseStatus::skipped(),
            TrialOutcome::Failed | TrialOutcome::Xpass => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status
                    .set_message(first_line(&trial.message))
                    .set_type(match trial.outcome {
                        TrialOutcome::Xpass => "xpass",
                        _ => "failed",
                    })
                    .set_description(format!("{}\nconsole log: {}", trial.message, run.log));
                status
            }
        };
        let mut case = TestCase::new(clean(&trial.name), status);
        case.set_classname(&classname);
        if trial.outcome == TrialOutcome::Xfail {
            case.set_system_out(format!("xfail, counted as a pass: {}", trial.message));
        }
        suite.add_test_case(case);
    }
    if failed && run.failing_trials().next().is_none() {
        let detail = if run.detail.trim().is_empty() {
            match run
                .trials
                .iter()
                .all(|t| t.outcome == TrialOutcome::Ignored)
            {
                true => "the suite ran no trial".to_string(),
                false => "no detail recorded".to_string(),
            }
        } else {
            run.detail.clone()
        };
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        status
            .set_message(format!("{}: {}", run.verdict.name(), first_line(&detail)))
            .set_type(run.verdict.name())
            .set_description(format!("{}\nlog: {}", clean(&detail), run.log));
        let mut case = TestCase::new("boot", status);
        case.set_classname(&classname);
        suite.add_test_case(case);
    }
    if failed {
        suite.set_system_out(log_tail(&run.log_path(bases), &run.log));
    }
    suite
}

fn first_line(text: &str) -> String {
    clean(text.lines().next().unwrap_or(""))
}

/// Text as XML 1.0 allows it and a CI viewer can show it: ANSI escape
/// sequences and control characters other than tab and newline removed
/// (`\r` too: a console's CRLF would double every line), and the two
/// noncharacters XML forbids. Escaping `<&>` is left to the writer.
pub fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                // CSI `ESC [ params final`: drop the whole sequence; any
                // other escape drops the ESC and the next character.
                if chars.next() == Some('[') {
                    while let Some(&n) = chars.peek() {
                        chars.next();
                        if ('\u{40}'..='\u{7e}').contains(&n) {
                            break;
                        }
                    }
                }
            }
            '\t' | '\n' => out.push(c),
            c if c.is_control() => {}
            '\u{fffe}' | '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

/// The last [`LOG_TAIL`] bytes of the log at `path` (shown as `shown`),
/// cleaned, starting at a whole line; or a line saying why there is none.
pub fn log_tail(path: &Path, shown: &str) -> String {
    match read_tail(path, LOG_TAIL) {
        Ok((text, 0)) => format!("console log {shown}:\n{}", clean(&text)),
        Ok((text, skipped)) => format!(
            "console log {shown} (last {} KiB; {skipped} bytes before them left out):\n{}",
            LOG_TAIL / 1024,
            clean(&text)
        ),
        Err(err) => format!("console log {shown} not available here: {err:#}"),
    }
}

/// Reads at most `limit` bytes from the end of `path`; returns the text
/// (invalid UTF-8 replaced, a cut first line dropped) and how many bytes
/// came before it.
fn read_tail(path: &Path, limit: u64) -> Result<(String, u64)> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let len = file
        .metadata()
        .with_context(|| format!("reading the size of {}", path.display()))?
        .len();
    let start = len.saturating_sub(limit);
    file.seek(SeekFrom::Start(start))
        .with_context(|| format!("seeking in {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(limit)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", path.display()))?;
    let mut skipped = start;
    if start > 0 {
        if let Some(nl) = bytes.iter().position(|&b| b == b'\n') {
            bytes.drain(..=nl);
            skipped += nl as u64 + 1;
        }
    }
    Ok((String::from_utf8_lossy(&bytes).into_owned(), skipped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{PinInfo, SCHEMA};
    use crate::report::{Trial, Verdict};

    fn trial(name: &str, outcome: TrialOutcome, message: &str) -> Trial {
        Trial {
            name: name.into(),
            outcome,
            message: message.into(),
        }
    }

    fn run(topology: &str, verdict: Verdict, trials: Vec<Trial>, log: &str) -> Run {
        Run {
            revision: "v4".into(),
            topology: topology.into(),
            verdict,
            boot_s: 1.5,
            log: log.into(),
            trials,
            detail: String::new(),
            sysfs: Default::default(),
            sysfs_after: Default::default(),
            differential: Default::default(),
            reused_from: None,
        }
    }

    fn report(runs: Vec<Run>) -> Report {
        Report {
            schema: SCHEMA,
            pin: PinInfo {
                source: "debian linux-source-6.12 6.12.117-1~deb12u1".into(),
                version: "6.12.117".into(),
                sha256: "e8".repeat(32),
            },
            accel: "tcg".into(),
            runs,
        }
    }

    #[test]
    fn cleaning_keeps_text_and_drops_what_xml_or_a_viewer_cannot_take() {
        assert_eq!(
            clean("a\u{1b}[1;31mred\u{1b}[0m\tb\r\n\u{0}\u{7}c\u{fffe}<&>"),
            "ared\tb\nc<&>"
        );
        assert_eq!(clean("\u{1b}"), "");
        assert_eq!(clean("é ü \u{fffd}"), "é ü \u{fffd}");
    }

    #[test]
    fn a_long_log_is_cut_to_its_tail_at_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.log");
        let line = "[    1.000000] a kernel line that repeats\n";
        let mut text = line.repeat(4000);
        text.push_str("Kernel panic - not syncing: the end\n");
        std::fs::write(&path, &text).unwrap();
        let tail = log_tail(&path, "logs/x.log");
        assert!(tail.len() <= LOG_TAIL as usize + 200, "{}", tail.len());
        assert!(
            tail.contains("bytes before them left out"),
            "{}",
            &tail[..200]
        );
        assert!(tail.ends_with("Kernel panic - not syncing: the end\n"));
        let body = tail.split_once(":\n").unwrap().1;
        assert!(body.starts_with("[    1.000000]"), "{}", &body[..60]);

        let short = dir.path().join("short.log");
        std::fs::write(&short, "ok\n").unwrap();
        assert_eq!(log_tail(&short, "s.log"), "console log s.log:\nok\n");
        let missing = log_tail(&dir.path().join("nope.log"), "nope.log");
        assert!(missing.contains("not available here"), "{missing}");
    }

    #[test]
    fn outcomes_map_to_junit_elements() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("microvm.log");
        std::fs::write(&log, "boot \u{1b}[31m<oops>\u{1b}[0m ]]> & \u{2}done\n").unwrap();
        let report = report(vec![
            run(
                "q35",
                Verdict::Passed,
                vec![
                    trial("rng::gsi", TrialOutcome::Passed, ""),
                    trial(
                        "none::gsi-none",
                        TrialOutcome::Xfail,
                        "0 [expected failure: v4 prints 0]",
                    ),
                    trial("msi::gsi", TrialOutcome::Ignored, ""),
                ],
                "logs/q35.log",
            ),
            run(
                "microvm",
                Verdict::TestFailed,
                vec![
                    trial(
                        "rng::gsi",
                        TrialOutcome::Failed,
                        "gsi = 0, expected 16\nsecond line",
                    ),
                    trial("x::gsi-none", TrialOutcome::Xpass, "listed but passed"),
                ],
                log.to_str().unwrap(),
            ),
            Run {
                detail: "Kernel panic - not syncing: VFS\nCPU: 0".into(),
                ..run("pc", Verdict::KernelPanic, vec![], "logs/none.log")
            },
        ]);
        let xml = render(&report, &[]).unwrap();
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        assert_eq!(root.attribute("tests"), Some("6"));
        assert_eq!(root.attribute("failures"), Some("3"));
        assert_eq!(root.attribute("skipped"), Some("1"));
        let suites: Vec<_> = root.children().filter(|n| n.is_element()).collect();
        assert_eq!(suites.len(), 3);
        assert_eq!(suites[0].attribute("name"), Some("v4/q35"));
        let cases = |s: &roxmltree::Node| -> Vec<String> {
            s.children()
                .filter(|n| n.has_tag_name("testcase"))
                .map(|c| {
                    let kids: Vec<&str> = c
                        .children()
                        .filter(|n| n.is_element())
                        .map(|n| n.tag_name().name())
                        .collect();
                    format!(
                        "{} {} {}",
                        c.attribute("classname").unwrap(),
                        c.attribute("name").unwrap(),
                        kids.join(",")
                    )
                })
                .collect()
        };
        assert_eq!(
            cases(&suites[0]),
            [
                "v4.q35 rng::gsi ",
                "v4.q35 none::gsi-none system-out",
                "v4.q35 msi::gsi skipped"
            ]
        );
        assert_eq!(
            cases(&suites[1]),
            [
                "v4.microvm rng::gsi failure",
                "v4.microvm x::gsi-none failure"
            ]
        );
        assert_eq!(cases(&suites[2]), ["v4.pc boot failure"]);
        let failure = doc
            .descendants()
            .find(|n| n.has_tag_name("failure"))
            .unwrap();
        assert_eq!(failure.attribute("message"), Some("gsi = 0, expected 16"));
        assert!(failure.text().unwrap().contains("second line"));
        let boot = suites[2]
            .descendants()
            .find(|n| n.has_tag_name("failure"))
            .unwrap();
        assert_eq!(
            boot.attribute("message"),
            Some("kernel-panic: Kernel panic - not syncing: VFS")
        );
        assert_eq!(boot.attribute("type"), Some("kernel-panic"));
        let out = |s: &roxmltree::Node| {
            s.children()
                .find(|n| n.has_tag_name("system-out"))
                .map(|n| n.text().unwrap_or("").to_string())
        };
        assert_eq!(out(&suites[0]), None, "a passing run carries no log");
        let console = out(&suites[1]).unwrap();
        assert!(console.ends_with("boot <oops> ]]> & done\n"), "{console:?}");
        assert!(out(&suites[2]).unwrap().contains("not available here"));
    }

    #[test]
    fn a_failed_run_without_trials_or_detail_still_says_why() {
        let xml = render(
            &report(vec![run(
                "q35",
                Verdict::TestFailed,
                vec![trial("a::b", TrialOutcome::Ignored, "")],
                "x.log",
            )]),
            &[],
        )
        .unwrap();
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let boot = doc
            .descendants()
            .find(|n| n.has_tag_name("failure"))
            .unwrap();
        assert_eq!(
            boot.attribute("message"),
            Some("test-failed: the suite ran no trial")
        );
    }
}
