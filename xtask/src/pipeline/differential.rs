//! The differential check: a patch that only adds the `gsi` attribute must
//! leave every other file of a device's sysfs directory as it was. Each
//! guest prints a dump of those files before any trial runs
//! (`gsi_suite::dump`); here each revision's dump is compared with
//! `baseline`'s on the same topology, and each file that differs or exists
//! on one side only becomes a failed trial `sysfs-diff::<bdf>/<file>`.

use crate::report::Run;
use crate::report::{Outcome, Trial, Verdict};
use std::collections::BTreeMap;

/// The revision every other one is compared with.
pub const BASELINE: &str = "baseline";

/// A console's dump keyed as [`Run::sysfs`] keeps it: `<bdf>/<file>`.
pub fn keyed(dump: &BTreeMap<(String, String), String>) -> BTreeMap<String, String> {
    dump.iter()
        .map(|((bdf, file), value)| (format!("{bdf}/{file}"), value.clone()))
        .collect()
}

/// Compares each non-baseline run with the baseline run of its topology.
/// Differences are added as failed trials and turn a pass into
/// `test-failed`. A run is compared only when both boots reached a verdict
/// on their trials (a crashed or unbooted run has no complete dump and
/// already fails); when the baseline did not pass, the run gets a note in
/// its detail instead of blame.
pub fn check(runs: &mut [Run]) {
    let baselines: BTreeMap<String, (Verdict, BTreeMap<String, String>)> = runs
        .iter()
        .filter(|r| r.revision == BASELINE)
        .map(|r| (r.topology.clone(), (r.verdict, r.sysfs.clone())))
        .collect();
    for run in runs.iter_mut().filter(|r| r.revision != BASELINE) {
        let Some((verdict, base)) = baselines.get(&run.topology) else {
            continue;
        };
        let complete = |v: Verdict| v.is_success() || v == Verdict::TestFailed;
        if !complete(run.verdict) {
            continue;
        }
        if !verdict.is_success() {
            note(
                run,
                &format!(
                    "sysfs differential check skipped: {BASELINE} on {} is {}",
                    run.topology,
                    verdict.name()
                ),
            );
            continue;
        }
        let diffs = differences(base, &run.sysfs, &run.revision);
        if diffs.is_empty() {
            continue;
        }
        run.trials.extend(diffs);
        if run.verdict.is_success() {
            run.verdict = Verdict::TestFailed;
        }
    }
}

/// One failed trial per file that differs or is on one side only.
fn differences(
    base: &BTreeMap<String, String>,
    other: &BTreeMap<String, String>,
    revision: &str,
) -> Vec<Trial> {
    let show = |v: Option<&String>| v.map_or_else(|| "(absent)".to_string(), |v| format!("{v:?}"));
    base.keys()
        .chain(other.keys().filter(|k| !base.contains_key(*k)))
        .filter(|k| base.get(*k) != other.get(*k))
        .map(|k| Trial {
            name: format!("sysfs-diff::{k}"),
            outcome: Outcome::Failed,
            message: format!(
                "{BASELINE}: {}, {revision}: {}",
                show(base.get(k)),
                show(other.get(k))
            ),
        })
        .collect()
}

fn note(run: &mut Run, text: &str) {
    if !run.detail.is_empty() {
        run.detail.push('\n');
    }
    run.detail.push_str(text);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(revision: &str, topology: &str, verdict: Verdict, sysfs: &[(&str, &str)]) -> Run {
        Run {
            revision: revision.into(),
            topology: topology.into(),
            verdict,
            boot_s: 1.0,
            log: String::new(),
            trials: vec![],
            detail: String::new(),
            sysfs: sysfs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            reused_from: None,
        }
    }

    const DEV: [(&str, &str); 2] = [
        ("0000:00:03.0/irq", "11"),
        ("0000:00:03.0/vendor", "0x1af4"),
    ];

    #[test]
    fn identical_dumps_add_nothing() {
        let mut runs = vec![
            run("baseline", "q35", Verdict::Passed, &DEV),
            run("v4", "q35", Verdict::Passed, &DEV),
            run("v4", "microvm", Verdict::Flaky, &[]),
        ];
        check(&mut runs);
        assert!(runs
            .iter()
            .all(|r| r.trials.is_empty() && r.detail.is_empty()));
        assert_eq!(runs[1].verdict, Verdict::Passed);
        assert_eq!(runs[2].verdict, Verdict::Flaky, "no baseline on microvm");
    }

    #[test]
    fn a_changed_irq_fails_the_run_naming_file_and_values() {
        let changed = [DEV[0], ("0000:00:03.0/irq", "10"), DEV[1]];
        let mut runs = vec![
            run("baseline", "q35", Verdict::Passed, &DEV),
            run("v4", "q35", Verdict::Flaky, &changed[1..]),
        ];
        check(&mut runs);
        assert_eq!(runs[1].verdict, Verdict::TestFailed);
        assert_eq!(runs[1].trials.len(), 1);
        let trial = &runs[1].trials[0];
        assert_eq!(trial.name, "sysfs-diff::0000:00:03.0/irq");
        assert_eq!(trial.outcome, Outcome::Failed);
        assert_eq!(trial.message, "baseline: \"11\", v4: \"10\"");
        assert!(runs[0].trials.is_empty() && runs[0].verdict == Verdict::Passed);
    }

    #[test]
    fn a_file_on_one_side_only_fails() {
        let extra = [DEV[0], DEV[1], ("0000:00:03.0/label", "x")];
        let mut runs = vec![
            run("baseline", "q35", Verdict::Passed, &DEV),
            run("v4", "q35", Verdict::Passed, &DEV[..1]),
            run("v5", "q35", Verdict::TestFailed, &extra),
        ];
        check(&mut runs);
        assert_eq!(runs[1].verdict, Verdict::TestFailed);
        assert_eq!(runs[1].trials[0].name, "sysfs-diff::0000:00:03.0/vendor");
        assert_eq!(
            runs[1].trials[0].message,
            "baseline: \"0x1af4\", v4: (absent)"
        );
        assert_eq!(runs[2].trials[0].name, "sysfs-diff::0000:00:03.0/label");
        assert_eq!(runs[2].trials[0].message, "baseline: (absent), v5: \"x\"");
    }

    #[test]
    fn a_failed_baseline_is_noted_not_blamed() {
        let mut runs = vec![
            run("baseline", "q35", Verdict::KernelPanic, &[]),
            run("v4", "q35", Verdict::Passed, &DEV),
            // A crashed run has no complete dump: left as it is.
            run("v5", "q35", Verdict::SuiteCrashed, &[]),
        ];
        check(&mut runs);
        assert_eq!(runs[1].verdict, Verdict::Passed);
        assert!(runs[1].trials.is_empty());
        assert!(
            runs[1].detail.contains("skipped") && runs[1].detail.contains("kernel-panic"),
            "{}",
            runs[1].detail
        );
        assert!(runs[2].detail.is_empty() && runs[2].trials.is_empty());
    }
}
