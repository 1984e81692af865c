//! End to end, for real: the smoke profile fetches the pinned kernel,
//! applies baseline and v4 with `git am`, builds both, boots them under
//! QEMU on q35 and microvm and runs the in-guest suite. Then the same run
//! again must build nothing and boot nothing (every result is reused), and
//! once more with `--rerun` must boot everything again.
//!
//! Minutes of work on a cold cache, so `#[ignore]`d in a plain `cargo
//! test`; `cargo xtask ci` (and .ci/run) runs them.

use xtask::pipeline::run::{run_with, Args};
use xtask::report::{Differential, Report, Run};
use xtask::report::{TrialOutcome, Verdict};
use xtask::sys::progress::{Event, Progress, Reporter};

fn smoke(json: &std::path::Path, rerun: bool, reporter: &Reporter) -> Report {
    let args = Args {
        profile: Some("smoke".into()),
        json: Some(json.to_path_buf()),
        rerun,
        ..Default::default()
    };
    run_with(&args, reporter).expect("the smoke pipeline runs")
}

/// The events of one run of `f`, collected.
fn events_of(f: impl FnOnce(&Reporter) -> Report) -> (Report, Vec<Event>) {
    let (reporter, events) = Reporter::collecting();
    let report = f(&reporter);
    drop(reporter);
    (report, events.try_iter().collect())
}

fn planned(revision: &str, topology: &str) -> Vec<String> {
    xtask::pipeline::selection::planned_trials(revision, topology).unwrap()
}

fn run<'a>(report: &'a Report, revision: &str, topology: &str) -> &'a Run {
    report
        .runs
        .iter()
        .find(|r| r.revision == revision && r.topology == topology)
        .unwrap_or_else(|| panic!("no run {revision}/{topology} in {:#?}", report.runs))
}

fn outcome(run: &Run, trial: &str) -> TrialOutcome {
    run.trials
        .iter()
        .find(|t| t.name == trial)
        .unwrap_or_else(|| {
            panic!(
                "{}/{}: no trial {trial}: {:#?}",
                run.revision, run.topology, run.trials
            )
        })
        .outcome
}

#[test]
#[ignore = "builds and boots real kernels (minutes): run by `cargo xtask ci`"]
fn smoke_profile_patches_builds_boots_and_tests() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("smoke.json");
    // Booted for real, whatever earlier runs left to reuse.
    let progress = Progress::start();
    let report = smoke(&json, true, &progress.reporter());
    progress.finish();
    println!("{}", report.table());

    // The JSON on disk is the report, with the documented fields.
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(value["pin"]["version"], "6.12.117");
    assert_eq!(value["runs"].as_array().unwrap().len(), 4);

    for r in &report.runs {
        assert_eq!(
            r.verdict,
            Verdict::Passed,
            "{}/{}: {:#?}",
            r.revision,
            r.topology,
            r
        );
        // Exactly the trials the plan of this boot makes, each once, and
        // no sysfs-diff trial (a pass compared equal with baseline).
        let mut reported: Vec<&str> = r.trials.iter().map(|t| t.name.as_str()).collect();
        reported.sort();
        let mut planned = planned(&r.revision, &r.topology);
        planned.sort();
        assert_eq!(reported, planned, "{}/{}", r.revision, r.topology);
        let compared = if r.revision == "baseline" {
            Differential::Baseline
        } else {
            Differential::Compared
        };
        assert_eq!(r.differential, compared, "{}/{}", r.revision, r.topology);
        assert!(
            std::path::Path::new(&xtask::project_root().join(&r.log)).is_file()
                || std::path::Path::new(&r.log).is_file()
        );
        assert!(r.boot_s > 0.0);
    }

    // Baseline: the attribute exists nowhere; nothing else changes.
    for topo in ["q35", "microvm"] {
        let base = run(&report, "baseline", topo);
        for t in base
            .trials
            .iter()
            .filter(|t| t.name.ends_with("::gsi-absent"))
        {
            assert_eq!(t.outcome, TrialOutcome::Passed, "{t:?}");
        }
        assert!(base.trials.iter().any(|t| t.name.ends_with("::gsi-absent")));
    }

    // v4: a bound device shows its routed GSI; the unbound one reads 0
    // before enable, so the value changes at enable: both are listed
    // expected failures of v4.
    let q35 = run(&report, "v4", "q35");
    assert_eq!(outcome(q35, "rng-s03::gsi-bound"), TrialOutcome::Passed);
    assert_eq!(outcome(q35, "rng-s1a::gsi-bound"), TrialOutcome::Passed);
    assert_eq!(
        outcome(q35, "edu-s06::gsi-before-enable"),
        TrialOutcome::Xfail
    );
    assert_eq!(
        outcome(q35, "edu-s06::gsi-after-enable"),
        TrialOutcome::Xfail
    );
    assert_eq!(outcome(q35, "testdev-s07::gsi-no-pin"), TrialOutcome::Xfail);
    assert_eq!(outcome(q35, "rng-s03::irq-oracle"), TrialOutcome::Passed);
    // v4 never clears its field: after disable and after unbind it still
    // shows the GSI, as the policy asks, so these pass.
    assert_eq!(
        outcome(q35, "edu-s06::gsi-after-disable"),
        TrialOutcome::Passed
    );
    assert_eq!(
        outcome(q35, "rng-s03::gsi-after-unbind"),
        TrialOutcome::Passed
    );
    // The unbinds run last: every read-only trial saw the driver bound.
    let names: Vec<&str> = q35.trials.iter().map(|t| t.name.as_str()).collect();
    let first_unbind = names
        .iter()
        .position(|n| n.ends_with("::gsi-after-unbind"))
        .expect("an unbind trial");
    assert!(
        names[first_unbind..]
            .iter()
            .all(|n| n.ends_with("::gsi-after-unbind")),
        "{names:?}"
    );

    // microvm: the IRQ number is not the GSI, and v4 still reports the GSI.
    let microvm = run(&report, "v4", "microvm");
    assert_eq!(outcome(microvm, "rng-s01::gsi-bound"), TrialOutcome::Passed);
    assert_eq!(
        outcome(microvm, "rng-s01::irq-vs-gsi"),
        TrialOutcome::Passed
    );
    assert_eq!(
        outcome(microvm, "rng-s01::irq-oracle"),
        TrialOutcome::Passed
    );

    // Nothing changed: the second run builds nothing and boots nothing;
    // every result is the first run's, with its log copied into this run's.
    let (again, events) = events_of(|r| smoke(&json, false, r));
    let builds: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e, Event::BuildStart { .. }))
        .collect();
    assert!(builds.is_empty(), "a warm run rebuilt: {builds:?}");
    let boots: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e, Event::BootStart { .. }))
        .collect();
    assert!(boots.is_empty(), "a warm run booted: {boots:?}");
    let reused = events
        .iter()
        .filter(|e| matches!(e, Event::BootReused { .. }))
        .count();
    assert_eq!(reused, 4, "{events:?}");
    println!("{}", again.table());
    assert!(
        again
            .table()
            .contains("\n* reused: the result of an identical earlier boot\n"),
        "{}",
        again.table()
    );
    let first_dir = |r: &Run| {
        std::path::Path::new(&r.log)
            .ancestors()
            .nth(2)
            .and_then(|d| d.file_name())
            .map(|d| d.to_string_lossy().to_string())
    };
    for r in &again.runs {
        let booted = run(&report, &r.revision, &r.topology);
        assert_eq!(r.reused_from, first_dir(booted), "{r:#?}");
        assert_eq!(r.verdict, booted.verdict);
        assert_eq!(r.trials, booted.trials);
        assert_ne!(
            r.log, booted.log,
            "the reused log is copied into this run's"
        );
        let log = xtask::project_root().join(&r.log);
        let log = if log.is_file() {
            log
        } else {
            r.log.clone().into()
        };
        assert_eq!(
            std::fs::read(&log).unwrap(),
            std::fs::read(xtask::project_root().join(&booted.log))
                .or_else(|_| std::fs::read(&booted.log))
                .unwrap()
        );
    }
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(value["schema"], xtask::report::SCHEMA);
    assert!(value["runs"][0]["reused_from"].is_string(), "{value}");
    let junit = xtask::report::junit::render(&again, &[]).unwrap();
    assert_eq!(junit.matches("name=\"reused-from\"").count(), 4, "{junit}");

    // --rerun: every pair boots again, nothing is reused.
    let (fresh, events) = events_of(|r| smoke(&json, true, r));
    let boots = events
        .iter()
        .filter(|e| matches!(e, Event::BootStart { .. }))
        .count();
    assert_eq!(boots, 4, "{events:?}");
    assert!(fresh.runs.iter().all(|r| r.reused_from.is_none()));
    assert!(
        fresh.runs.iter().all(|r| r.verdict.is_success()),
        "{}",
        fresh.table()
    );
}
