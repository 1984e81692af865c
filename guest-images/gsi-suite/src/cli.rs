//! The suite's command: in the guest a forked child of `/init`
//! ([`run_in_guest`]), or `/bin/gsi-suite` (a link to `/init`, which calls
//! [`run`] when started by that name, e.g. from the debug shell), or the
//! `gsi-suite` binary on a host. Loads the plan, snapshots the `gsi` files and the
//! sysfs dump (printed after BEGIN, see [`crate::dump`]), and runs one
//! libtest-mimic trial per check, sequentially in the order
//! [`checks::trials`] gives (read-only checks first, by name), printing
//! the protocol lines around libtest's own output. A TRIAL line starts with
//! a newline because libtest has already printed `test <name> ... ` on the
//! current line when the trial runs.
//!
//! Environment: `GSI_PLAN` replaces /etc/gsi/plan.json (JSON or TOML), `GSI_SYSFS_ROOT`
//! replaces /sys, `GSI_KMSG` replaces /dev/kmsg (host runs on fake trees).

use std::env;
use std::fs;
use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use crate::checks::{self, Suite, Verdict};
use crate::dump;
use crate::report::{self, Tally};
use crate::system::System;
use gsi_plan::{protocol, Plan, PLAN_PATH};
use libtest_mimic::{Arguments, ColorSetting, Completion, Failed, Trial};

const PLAN_ENV: &str = "GSI_PLAN";
/// libtest's exit code for failed tests; also used for zero trials.
const FAILED: u8 = protocol::SUITE_FAILED as u8;
/// The suite could not start: not a verdict.
const BROKEN: u8 = 2;

/// Runs the suite with the process's command line; returns the exit code.
pub fn run() -> u8 {
    run_with(Arguments::from_args())
}

/// Runs the suite as `/init` does, in a forked child: one trial at a time,
/// with no command line to parse (libtest's parser is code the emulated
/// CPU would translate on every boot for one fixed setting).
pub fn run_in_guest() -> u8 {
    run_with(Arguments {
        test_threads: Some(1),
        ..Arguments::default()
    })
}

fn run_with(mut args: Arguments) -> u8 {
    // Escape codes make console logs harder to read and diff.
    args.color.get_or_insert(ColorSetting::Never);

    let plan_path = env::var_os(PLAN_ENV).map_or_else(|| PathBuf::from(PLAN_PATH), PathBuf::from);
    let plan = match fs::read_to_string(&plan_path)
        .map_err(|err| err.to_string())
        .and_then(|text| Plan::parse(&text))
    {
        Ok(plan) => plan,
        Err(err) => {
            say(&format!(
                "{} {}",
                protocol::INIT_ERROR,
                protocol::escape(&format!(
                    "gsi-suite: cannot load the plan {}: {err}",
                    plan_path.display()
                ))
            ));
            return BROKEN;
        }
    };

    // The sysfs dump, then the gsi files, before any trial can change them.
    let system = System::from_env();
    // Counted before the suite's first `gsi` read (Suite::new reads them).
    let kprobe_profile = system.kprobe_profile();
    probe_hits(&kprobe_profile, "before");
    let suite = Arc::new(Suite::new(plan, system));
    let planned = checks::trials(&suite.plan);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let trials: Vec<Trial> = planned
        .into_iter()
        .map(|trial| {
            let suite = Arc::clone(&suite);
            let tally = Arc::clone(&tally);
            Trial::ignorable_test(trial.name.clone(), move || {
                let verdict = panic::catch_unwind(AssertUnwindSafe(|| suite.run(&trial)))
                    .unwrap_or_else(|payload| {
                        Verdict::Failed(format!("the check panicked: {}", panic_text(&*payload)))
                    });
                say(&format!("\n{}", report::trial_line(&trial.name, &verdict)));
                tally
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .record(&verdict);
                match verdict {
                    Verdict::Passed(_) => Ok(Completion::Completed),
                    Verdict::Ignored(reason) => Ok(Completion::ignored_with(reason)),
                    Verdict::Failed(message) => Err(Failed::from(message)),
                }
            })
        })
        .collect();

    if args.list {
        return exit_code(&libtest_mimic::run(&args, trials));
    }

    say(&format!(
        "gsi-suite: revision {}, topology {}, {} devices",
        suite.plan.revision,
        suite.plan.topology,
        suite.plan.devices.len()
    ));
    // What will run: a command-line filter (never given by /init) narrows it.
    let count = trials
        .iter()
        .filter(|trial| !args.is_filtered_out(trial))
        .count();
    say(&report::begin_line(count));
    for line in dump::lines(protocol::SYSFS, suite.boot_dump()) {
        say(&line);
    }
    let conclusion = libtest_mimic::run(&args, trials);
    // Taken by the sysfs-after-reads trials, in their phase; printed now,
    // on lines of their own.
    for line in dump::lines(protocol::SYSFS_AFTER, &suite.dump_after_reads()) {
        say(&line);
    }
    probe_hits(&kprobe_profile, "after");
    let tally = *tally.lock().unwrap_or_else(PoisonError::into_inner);
    say(&tally.end_line());

    if count == 0 {
        say("gsi-suite: no trial to run; zero trials is a failure");
        return FAILED;
    }
    exit_code(&conclusion)
}

/// The hit count of every kprobe event, on a kernel that has some (the
/// prt-count kernel's `_PRT` probe): nothing on any other.
fn probe_hits(kprobe_profile: &Path, when: &str) {
    let Ok(profile) = fs::read_to_string(kprobe_profile) else {
        return;
    };
    for (event, hits) in parse_kprobe_profile(&profile) {
        say(&format!(
            "{} {event}={hits} {when} the trials",
            protocol::PROBE_HITS
        ));
    }
}

/// `kprobe_profile`'s lines: event name, hits, misses.
fn parse_kprobe_profile(text: &str) -> Vec<(&str, u64)> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let event = words.next()?;
            let hits = words.next()?.parse().ok()?;
            Some((event, hits))
        })
        .collect()
}

/// libtest's convention: 101 when a trial failed.
fn exit_code(conclusion: &libtest_mimic::Conclusion) -> u8 {
    if conclusion.has_failed() {
        FAILED
    } else {
        0
    }
}

/// One line, flushed, so it cannot mix with a child's or the kernel's.
fn say(line: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The message of a panic payload (`/init` reports its own panics with it).
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kprobe_profile_lines_give_event_and_hits() {
        let text =
            "  prt                                                       42               0\n\
                    \n  other 7 1\n  broken x 0\n";
        assert_eq!(parse_kprobe_profile(text), [("prt", 42), ("other", 7)]);
    }
}
