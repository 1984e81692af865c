//! The console judge over real console logs: one trial per
//! `xtask/tests/fixtures/consoles/<name>.log`, each with
//! `<name>.expected.toml` beside it saying what the judge must conclude,
//! and, where the boot's plan was kept, `<name>.plan.toml` (the plan from
//! that boot's initramfs), so that the planned trials are checked too.
//!
//! The logs are what the harness wrote (QEMU's command line first, its
//! ending last); the corrupt ones are real logs with one realistic fault
//! put in by hand, each named in its expected file.
//!
//! A log without an expected file fails: every fixture states its verdict.

use libtest_mimic::{Arguments, Failed, Trial};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use xtask::pipeline::console::{self, Console, Ending};
use xtask::report::Verdict;

/// `<name>.expected.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    /// Where the log comes from and what was done to it. Required.
    #[allow(dead_code)]
    about: String,
    /// The verdict's name as reports print it (`passed`, `console-corrupt`,
    /// ...). Required.
    verdict: String,
    /// TRIAL records the parser must read. Default: not checked.
    #[serde(default)]
    trials: Option<usize>,
    /// Text each of which must appear among the judge's problems (the
    /// lines that say what did not add up). Default: none.
    #[serde(default)]
    problems: Vec<String>,
    /// Expected-failure patterns (`configs/matrix.toml` syntax) for this
    /// log's revision; a fixture lists its own so the shipped file can
    /// change without changing what the fixture proves. Default: none.
    #[serde(default)]
    xfail: Vec<String>,
    /// Text each of which must appear among the kernel's complaint lines
    /// the judge quotes. Default: none (and then there must be none).
    #[serde(default)]
    complaints: Vec<String>,
}

fn dir() -> PathBuf {
    xtask::project_root().join("xtask/tests/fixtures/consoles")
}

fn check(log: &Path) -> Result<(), Failed> {
    // Lossy, as the harness reads a console: a real one can hold bytes
    // that are not UTF-8 (a firmware table's name, printed raw).
    let bytes = std::fs::read(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let stem = log.file_stem().unwrap().to_string_lossy();
    let expected_path = log.with_file_name(format!("{stem}.expected.toml"));
    let expected: Expected = toml::from_str(
        &std::fs::read_to_string(&expected_path)
            .map_err(|e| format!("{}: {e} (every log needs one)", expected_path.display()))?,
    )
    .map_err(|e| format!("{}: {e}", expected_path.display()))?;
    let plan_path = log.with_file_name(format!("{stem}.plan.toml"));
    let planned = match std::fs::read_to_string(&plan_path) {
        Ok(plan) => Some(console::planned_trials(
            &gsi_plan::Plan::from_toml(&plan)
                .map_err(|e| format!("{}: {e}", plan_path.display()))?,
        )),
        Err(_) => None,
    };
    let ending = Ending::from_log(&text)
        .ok_or_else(|| format!("{}: no [gsi-workbench] ending line", log.display()))?;
    let parsed = Console::parse(&text);
    let xfail = |trial: &str| {
        expected
            .xfail
            .iter()
            .any(|pattern| xtask::config::matrix::glob(pattern, trial))
            .then(|| "listed by the fixture".to_string())
    };
    let judged = console::judge(&parsed, ending, planned.as_deref(), &xfail);
    let mut wrong = Vec::new();
    if judged.verdict.name() != expected.verdict {
        wrong.push(format!(
            "verdict {}, expected {}",
            judged.verdict.name(),
            expected.verdict
        ));
    }
    if let Some(n) = expected.trials {
        if parsed.trials.len() != n {
            wrong.push(format!(
                "{} TRIAL records read, expected {n}",
                parsed.trials.len()
            ));
        }
    }
    for want in &expected.problems {
        if !judged.problems.iter().any(|p| p.contains(want.as_str())) {
            wrong.push(format!("no problem says {want:?}"));
        }
    }
    for want in &expected.complaints {
        if !parsed.complaints.iter().any(|c| c.contains(want.as_str())) {
            wrong.push(format!("no complaint line says {want:?}"));
        }
    }
    if expected.complaints.is_empty() && !parsed.complaints.is_empty() {
        wrong.push(format!(
            "complaint lines found in a log that has none: {:#?}",
            parsed.complaints
        ));
    }
    if judged.verdict == Verdict::KernelWarning && parsed.complaints.is_empty() {
        wrong.push("kernel-warning without a line quoted".into());
    }
    if judged.verdict == Verdict::ConsoleCorrupt && judged.problems.is_empty() {
        wrong.push("console-corrupt without a problem named".into());
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}:\n  {}\n  problems found: {:#?}",
            log.display(),
            wrong.join("\n  "),
            judged.problems
        )
        .into())
    }
}

fn main() {
    let args = Arguments::from_args();
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir())
        .expect("the console fixtures directory")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    assert!(
        !logs.is_empty(),
        "no console fixtures in {}",
        dir().display()
    );
    let trials = logs
        .into_iter()
        .map(|log| {
            let name = log.file_stem().unwrap().to_string_lossy().into_owned();
            Trial::test(name, move || check(&log))
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
