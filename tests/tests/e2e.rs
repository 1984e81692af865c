//! End to end, for real: the smoke profile fetches the pinned kernel,
//! applies baseline and v4 with `git am`, builds both, boots them under
//! QEMU on q35 and microvm and runs the in-guest suite. Then the same run
//! again must build nothing.
//!
//! Minutes of work on a cold cache, so `#[ignore]`d in a plain `cargo
//! test`; `cargo xtask ci` (and .ci/run) runs them.

use xtask::console::{Outcome, Verdict};
use xtask::progress::{Event, Progress, Reporter};
use xtask::report::{Report, Run};
use xtask::test_matrix::{run_with, Args};

fn smoke(json: &std::path::Path, reporter: &Reporter) -> Report {
    let json = json.display().to_string();
    let args = Args::from_words(&["--profile", "smoke", "--json", &json]).unwrap();
    run_with(&args, reporter).expect("the smoke pipeline runs")
}

fn run<'a>(report: &'a Report, revision: &str, topology: &str) -> &'a Run {
    report
        .runs
        .iter()
        .find(|r| r.revision == revision && r.topology == topology)
        .unwrap_or_else(|| panic!("no run {revision}/{topology} in {:#?}", report.runs))
}

fn outcome(run: &Run, trial: &str) -> Outcome {
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
    let progress = Progress::start();
    let report = smoke(&json, &progress.reporter());
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
        assert!(
            r.trials.len() >= 6,
            "{}/{}: only {} trials",
            r.revision,
            r.topology,
            r.trials.len()
        );
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
            assert_eq!(t.outcome, Outcome::Passed, "{t:?}");
        }
        assert!(base.trials.iter().any(|t| t.name.ends_with("::gsi-absent")));
    }

    // v4: a bound device shows its routed GSI; the unbound one reads 0
    // before enable, so the value changes at enable: both are listed
    // expected failures of v4.
    let q35 = run(&report, "v4", "q35");
    assert_eq!(outcome(q35, "rng-s03::gsi-bound"), Outcome::Passed);
    assert_eq!(outcome(q35, "rng-s1a::gsi-bound"), Outcome::Passed);
    assert_eq!(outcome(q35, "edu-s06::gsi-before-enable"), Outcome::Xfail);
    assert_eq!(outcome(q35, "edu-s06::gsi-after-enable"), Outcome::Xfail);
    assert_eq!(outcome(q35, "testdev-s07::gsi-none"), Outcome::Xfail);
    assert_eq!(outcome(q35, "rng-s03::irq-oracle"), Outcome::Passed);
    // v4 never clears its field: after disable and after unbind it still
    // shows the GSI, as the policy asks, so these pass.
    assert_eq!(outcome(q35, "edu-s06::gsi-after-disable"), Outcome::Passed);
    assert_eq!(outcome(q35, "rng-s03::gsi-after-unbind"), Outcome::Passed);
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
    assert_eq!(outcome(microvm, "rng-s01::gsi-bound"), Outcome::Passed);
    assert_eq!(outcome(microvm, "rng-s01::irq-vs-gsi"), Outcome::Passed);
    assert_eq!(outcome(microvm, "rng-s01::irq-oracle"), Outcome::Passed);

    // Nothing changed: the second run builds nothing.
    let (reporter, events) = Reporter::collecting();
    let again = smoke(&json, &reporter);
    drop(reporter);
    let builds: Vec<Event> = events
        .try_iter()
        .filter(|e| matches!(e, Event::BuildStart { .. }))
        .collect();
    assert!(builds.is_empty(), "a warm run rebuilt: {builds:?}");
    assert!(
        again.runs.iter().all(|r| r.verdict.is_success()),
        "{}",
        again.table()
    );
}
