//! The differential check: a patch that only adds the `gsi` attribute must
//! leave every other file of a device's sysfs directory as it was. Each
//! guest prints a dump of those files twice (`gsi_suite::dump`): before
//! anything reads `gsi`, and again after every `gsi` read (the guest
//! itself requires the two to be equal, trial `sysfs-after-reads`). Here
//! each revision's dumps are compared with `baseline`'s on the same
//! topology, and each file that differs or exists on one side only becomes
//! a failed trial: `sysfs-diff::<bdf>/<file>` for the first dump,
//! `sysfs-diff-after-reads::<bdf>/<file>` for the second.
//!
//! Every run records whether it was compared ([`Differential`]). A run
//! whose baseline is not in the report (another CI shard) is
//! `no-baseline`, and [`check`] runs again when shards are merged
//! (`report merge`), so the comparison happens wherever the two meet.

use crate::report::{Differential, Run, Trial, TrialOutcome, Verdict};
use std::collections::BTreeMap;

/// The revision every other one is compared with.
pub const BASELINE: &str = "baseline";

/// A console's dump keyed as [`Run::sysfs`] keeps it: `<bdf>/<file>`.
pub fn keyed(dump: &BTreeMap<(String, String), String>) -> BTreeMap<String, String> {
    dump.iter()
        .map(|((bdf, file), value)| (format!("{bdf}/{file}"), value.clone()))
        .collect()
}

/// Compares each run not compared yet with the baseline run of its
/// topology. Differences are added as failed trials and turn a pass into
/// `test-failed`. A run is compared only when both boots reached a verdict
/// on their trials (a crashed or unbooted run has no complete dump and
/// already fails); when the baseline did not pass, the run gets a note in
/// its detail instead of blame. Runs already compared are left alone, so
/// running it again on merged shards adds nothing twice.
pub fn check(runs: &mut [Run]) {
    type Dumps = (BTreeMap<String, String>, BTreeMap<String, String>);
    let baselines: BTreeMap<String, (Verdict, Dumps)> = runs
        .iter()
        .filter(|r| r.revision == BASELINE)
        .map(|r| {
            let dumps = (r.sysfs.clone(), r.sysfs_after.clone());
            (r.topology.clone(), (r.verdict, dumps))
        })
        .collect();
    let complete = |v: Verdict| v.is_success() || v == Verdict::TestFailed;
    for run in runs.iter_mut() {
        if !matches!(
            run.differential,
            Differential::Pending | Differential::NoBaseline
        ) {
            continue;
        }
        if run.revision == BASELINE {
            run.differential = Differential::Baseline;
            continue;
        }
        if !complete(run.verdict) {
            run.differential =
                Differential::Skipped(format!("{} has no complete sysfs dump", run.verdict.name()));
            continue;
        }
        let Some((verdict, (base, base_after))) = baselines.get(&run.topology) else {
            run.differential = Differential::NoBaseline;
            continue;
        };
        if !verdict.is_success() {
            let why = format!("{BASELINE} on {} is {}", run.topology, verdict.name());
            note(run, &format!("sysfs differential check skipped: {why}"));
            run.differential = Differential::Skipped(why);
            continue;
        }
        let mut diffs = differences("sysfs-diff", base, &run.sysfs, &run.revision);
        diffs.extend(differences(
            "sysfs-diff-after-reads",
            base_after,
            &run.sysfs_after,
            &run.revision,
        ));
        run.differential = Differential::Compared;
        if diffs.is_empty() {
            continue;
        }
        run.trials.extend(diffs);
        if run.verdict.is_success() {
            run.verdict = Verdict::TestFailed;
        }
    }
}

/// The runs the check could not compare for want of a baseline run of
/// their topology, as `revision/topology`: for the report's own line.
pub fn without_baseline(runs: &[Run]) -> Vec<String> {
    runs.iter()
        .filter(|r| r.differential == Differential::NoBaseline)
        .map(|r| format!("{}/{}", r.revision, r.topology))
        .collect()
}

/// One failed trial `<prefix>::<key>` per file that differs or is on one
/// side only.
fn differences(
    prefix: &str,
    base: &BTreeMap<String, String>,
    other: &BTreeMap<String, String>,
    revision: &str,
) -> Vec<Trial> {
    let show = |v: Option<&String>| v.map_or_else(|| "(absent)".to_string(), |v| format!("{v:?}"));
    base.keys()
        .chain(other.keys().filter(|k| !base.contains_key(*k)))
        .filter(|k| base.get(*k) != other.get(*k))
        .map(|k| Trial {
            name: format!("{prefix}::{k}"),
            outcome: TrialOutcome::Failed,
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
        let dump: BTreeMap<String, String> = sysfs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Run {
            revision: revision.into(),
            topology: topology.into(),
            verdict,
            boot_s: 1.0,
            log: String::new(),
            trials: vec![],
            detail: String::new(),
            sysfs: dump.clone(),
            // Unless a test changes it: the reads changed nothing.
            sysfs_after: dump,
            differential: Differential::Pending,
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
        // In both dumps: the revision changed irq from the start.
        assert_eq!(runs[1].trials.len(), 2);
        let trial = &runs[1].trials[0];
        assert_eq!(trial.name, "sysfs-diff::0000:00:03.0/irq");
        assert_eq!(
            runs[1].trials[1].name,
            "sysfs-diff-after-reads::0000:00:03.0/irq"
        );
        assert_eq!(trial.outcome, TrialOutcome::Failed);
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

    #[test]
    fn a_file_changed_by_the_reads_fails_the_after_reads_comparison() {
        let mut runs = vec![
            run("baseline", "q35", Verdict::Passed, &DEV),
            run("v5", "q35", Verdict::Passed, &DEV),
        ];
        runs[1]
            .sysfs_after
            .insert("0000:00:03.0/enable".into(), "1".into());
        check(&mut runs);
        assert_eq!(runs[1].verdict, Verdict::TestFailed);
        assert_eq!(runs[1].trials.len(), 1, "{:?}", runs[1].trials);
        let trial = &runs[1].trials[0];
        assert_eq!(trial.name, "sysfs-diff-after-reads::0000:00:03.0/enable");
        assert_eq!(trial.message, "baseline: (absent), v5: \"1\"");
        assert_eq!(runs[0].differential, Differential::Baseline);
        assert_eq!(runs[1].differential, Differential::Compared);
    }

    #[test]
    fn shards_without_their_baseline_are_compared_when_merged() {
        let changed = [("0000:00:03.0/irq", "10"), DEV[1]];
        // Shard 1 has v5/q35 and baseline/microvm; shard 2 baseline/q35.
        let mut shard1 = vec![
            run("baseline", "microvm", Verdict::Passed, &DEV),
            run("v5", "q35", Verdict::Passed, &changed),
        ];
        check(&mut shard1);
        assert_eq!(shard1[1].differential, Differential::NoBaseline);
        assert_eq!(shard1[1].verdict, Verdict::Passed, "nothing to compare yet");
        assert_eq!(without_baseline(&shard1), ["v5/q35"]);
        let mut shard2 = vec![run("baseline", "q35", Verdict::Passed, &DEV)];
        check(&mut shard2);
        // Merged: the comparison happens, once, however often it runs.
        let mut merged: Vec<Run> = shard1.into_iter().chain(shard2).collect();
        check(&mut merged);
        check(&mut merged);
        let v5 = &merged[1];
        assert_eq!(v5.differential, Differential::Compared);
        assert_eq!(v5.verdict, Verdict::TestFailed);
        let names: Vec<&str> = v5.trials.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "sysfs-diff::0000:00:03.0/irq",
                "sysfs-diff-after-reads::0000:00:03.0/irq"
            ]
        );
        assert!(without_baseline(&merged).is_empty());
    }
}
