//! Results of a matrix run: the types of the JSON document (a stable,
//! versioned schema: a [`Report`] of [`Run`]s, each with its [`Verdict`]
//! and [`Trial`]s), which the pipeline fills in, and their renderings:
//! the file itself and merging CI shards ([`json`]), the terminal table
//! ([`table`]), JUnit XML ([`junit`]) and the "Tested on" block
//! ([`markdown`]).

pub(crate) mod differential;
#[cfg(test)]
mod golden;
pub(crate) mod json;
pub mod junit;
pub(crate) mod markdown;
pub(crate) mod plain;
pub(crate) mod table;
pub(crate) mod tested_on;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What the guest said about one trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrialOutcome {
    Passed,
    Failed,
    Ignored,
    /// A listed expected failure that failed.
    Xfail,
    /// A listed expected failure that passed: fails the run.
    Xpass,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    pub name: String,
    pub outcome: TrialOutcome,
    pub message: String,
}

/// The verdict of one boot, most specific cause first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Passed,
    /// Passed on the retry after a hang.
    Flaky,
    TestFailed,
    /// The suite's report does not add up (a garbled or missing record,
    /// counts that disagree, a planned trial missing or twice, an exit
    /// status that contradicts the trials): nothing can be concluded.
    ConsoleCorrupt,
    SuiteCrashed,
    KernelPanic,
    BootFailed,
    /// Under a hypervisor: it panicked, or its dom0 never reached /init;
    /// the detail quotes its last console lines.
    HypervisorFailed,
    Timeout,
    QemuFailed,
    /// A patch of the revision does not apply to the pin (`git am`
    /// failed); nothing was built or booted.
    ApplyFailed,
    /// The revision applied but did not build; nothing was booted.
    BuildFailed,
    /// The kernel complained on the console (`WARNING:`, `BUG:`, a
    /// lockdep report, sleeping in atomic context, KASAN/UBSAN, an Oops):
    /// never a pass, whatever the trials say; the lines are in the detail.
    KernelWarning,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Flaky => "flaky",
            Verdict::TestFailed => "test-failed",
            Verdict::ConsoleCorrupt => "console-corrupt",
            Verdict::SuiteCrashed => "suite-crashed",
            Verdict::KernelPanic => "kernel-panic",
            Verdict::BootFailed => "boot-failed",
            Verdict::HypervisorFailed => "hypervisor-failed",
            Verdict::Timeout => "timeout",
            Verdict::QemuFailed => "qemu-failed",
            Verdict::ApplyFailed => "apply-failed",
            Verdict::BuildFailed => "build-failed",
            Verdict::KernelWarning => "kernel-warning",
        }
    }

    pub fn is_success(self) -> bool {
        matches!(self, Verdict::Passed | Verdict::Flaky)
    }

    /// Verdicts a host under load or a noisy console can cause, so a boot
    /// that ends with one is tried once more (and a pass on that retry is
    /// [`Verdict::Flaky`]).
    pub fn is_retried(self) -> bool {
        // A hypervisor that never started dom0's /init is retried too: a
        // starved TCG host can stall Xen's boot as it can the kernel's.
        matches!(
            self,
            Verdict::Timeout | Verdict::ConsoleCorrupt | Verdict::HypervisorFailed
        )
    }
}

/// Bumped on any change of the JSON layout a reader must know about.
/// 2: a run may carry `reused_from` (its result is an earlier boot's).
/// 3: a run may carry `sysfs_after` (the dump after the `gsi` reads) and
/// `differential` (compared with baseline, or why not).
/// 4: a run's verdict may be `apply-failed` (it was `build-failed`).
/// 5: a run's verdict may be `kernel-warning`.
pub const SCHEMA: u32 = 5;

/// The schemas [`Report::read_json`] reads: each is the next without the
/// fields it added.
pub const READS: std::ops::RangeInclusive<u32> = 1..=SCHEMA;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub schema: u32,
    pub pin: PinInfo,
    /// `tcg` or `kvm`.
    pub accel: String,
    pub runs: Vec<Run>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PinInfo {
    /// e.g. `debian linux-source-6.12 6.12.117-1~deb12u1`.
    pub source: String,
    /// Kernel version of the tree, e.g. `6.12.117`.
    pub version: String,
    /// sha256 of the .deb, or the commit id.
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    pub revision: String,
    pub topology: String,
    pub verdict: Verdict,
    /// Seconds from QEMU start to the guest's end (0 when it never booted).
    pub boot_s: f64,
    /// Console log (or build log when the build failed).
    pub log: String,
    pub trials: Vec<Trial>,
    /// What went wrong, when the verdict is not a pass: panic lines, QEMU's
    /// error, the build error.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// The guest's sysfs dump, `<bdf>/<file> -> value`, for the
    /// differential check against `baseline` ([`crate::report::differential`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sysfs: BTreeMap<String, String>,
    /// The same files read again after every `gsi` read (schema 3).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sysfs_after: BTreeMap<String, String>,
    /// Whether the differential check compared this run with `baseline`,
    /// and if not, why (schema 3).
    #[serde(default, skip_serializing_if = "Differential::is_pending")]
    pub differential: Differential,
    /// Set when this result was not booted by this run but reused from an
    /// identical earlier boot ([`crate::pipeline::results`]): that run's log
    /// directory, e.g. `run-1764115200-4242`. `--rerun` boots instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reused_from: Option<String>,
}

/// Where a run stands with the differential check ([`crate::report::differential`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Differential {
    /// Not looked at yet (absent from the JSON).
    #[default]
    Pending,
    /// This run is the `baseline` the others are compared with.
    Baseline,
    /// Compared with `baseline` on the same topology.
    Compared,
    /// No `baseline` run of the same topology in this report: not compared
    /// (yet: merging the shard that has it compares it).
    NoBaseline,
    /// Not compared, for the reason given (the run or the baseline has no
    /// complete dump).
    Skipped(String),
}

impl Differential {
    pub fn is_pending(&self) -> bool {
        *self == Differential::Pending
    }
}

impl Run {
    pub fn count(&self, outcome: TrialOutcome) -> usize {
        self.trials.iter().filter(|t| t.outcome == outcome).count()
    }

    /// Trials that fail the run: failed, and expected failures that passed.
    pub fn failing_trials(&self) -> impl Iterator<Item = &Trial> {
        self.trials
            .iter()
            .filter(|t| matches!(t.outcome, TrialOutcome::Failed | TrialOutcome::Xpass))
    }

    /// `passed 5/6 (1 xfail)`: the verdict, trials that passed or failed
    /// as expected over all trials.
    pub fn summary(&self) -> String {
        let mut text = format!(
            "{} {}/{}",
            self.verdict.name(),
            self.count(TrialOutcome::Passed) + self.count(TrialOutcome::Xfail),
            self.trials.len()
        );
        if self.count(TrialOutcome::Xfail) > 0 {
            text.push_str(&format!(" ({} xfail)", self.count(TrialOutcome::Xfail)));
        }
        text
    }

    /// Where the log is on this machine: a relative path is tried against
    /// each of `bases` in order (the JSON file's directory first, so a CI
    /// artifact unpacked elsewhere still finds its logs), then the project
    /// root.
    pub fn log_path(&self, bases: &[&Path]) -> PathBuf {
        let log = Path::new(&self.log);
        if log.is_absolute() {
            return log.to_path_buf();
        }
        let root = crate::project_root();
        let found = bases
            .iter()
            .copied()
            .chain([root.as_path()])
            .map(|base| base.join(log))
            .find(|p| p.exists());
        found.unwrap_or_else(|| root.join(log))
    }
}

impl Report {
    /// How many runs reused an earlier boot's result.
    pub fn reused(&self) -> usize {
        self.runs.iter().filter(|r| r.reused_from.is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let trial = |name: &str, outcome| Trial {
            name: name.into(),
            outcome,
            message: String::new(),
        };
        Report {
            schema: SCHEMA,
            pin: PinInfo {
                source: "debian linux-source-6.12 6.12.117-1~deb12u1".into(),
                version: "6.12.117".into(),
                sha256: "e8".into(),
            },
            accel: "tcg".into(),
            runs: vec![
                Run {
                    revision: "v4".into(),
                    topology: "q35".into(),
                    verdict: Verdict::Passed,
                    boot_s: 2.4,
                    log: "target/gsi/logs/v4/q35.log".into(),
                    trials: vec![
                        trial("a::gsi-bound", TrialOutcome::Passed),
                        trial("b::gsi-none", TrialOutcome::Xfail),
                    ],
                    detail: String::new(),
                    sysfs: Default::default(),
                    sysfs_after: Default::default(),
                    differential: Default::default(),
                    reused_from: None,
                },
                Run {
                    revision: "v4".into(),
                    topology: "microvm".into(),
                    verdict: Verdict::TestFailed,
                    boot_s: 1.9,
                    log: "target/gsi/logs/v4/microvm.log".into(),
                    trials: vec![trial("a::gsi-bound", TrialOutcome::Failed)],
                    detail: String::new(),
                    sysfs: Default::default(),
                    sysfs_after: Default::default(),
                    differential: Default::default(),
                    reused_from: None,
                },
            ],
        }
    }

    #[test]
    fn json_round_trips_with_the_documented_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        sample().write_json(&path).unwrap();
        let value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(value["pin"]["version"], "6.12.117");
        let run = &value["runs"][0];
        for key in ["revision", "topology", "verdict", "boot_s", "log", "trials"] {
            assert!(run.get(key).is_some(), "missing {key}");
        }
        assert_eq!(run["verdict"], "passed");
        assert_eq!(run["trials"][1]["outcome"], "xfail");
        assert_eq!(value["runs"][1]["verdict"], "test-failed");
        let back = Report::read_json(&path).unwrap();
        assert_eq!(back.runs.len(), 2);
    }

    #[test]
    fn table_names_the_failing_check() {
        let table = sample().table();
        let lines: Vec<&str> = table.lines().collect();
        // A row per topology, a column per revision; the check under it.
        assert_eq!(
            lines[..3],
            [
                "topology  v4",
                "q35       passed 2/2 (1 xfail)",
                "microvm   test-failed 0/1 [1]",
            ],
            "{table}"
        );
        assert_eq!(lines[3], "[1] v4/microvm: a::gsi-bound", "{table}");
        assert!(!table.contains("reused") && !table.contains('*'), "{table}");
    }

    #[test]
    fn reused_runs_say_so_and_older_schemas_still_read() {
        let mut report = sample();
        report.runs[0].reused_from = Some("run-1764115200-4242".into());
        assert_eq!(report.reused(), 1);
        let table = report.table();
        assert!(
            table.contains("q35       passed 2/2 (1 xfail)*\n"),
            "{table}"
        );
        assert!(table.contains("test-failed 0/1 [1]\n"), "{table}");
        assert!(
            table.contains("\n* reused: the result of an identical earlier boot\n"),
            "{table}"
        );

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        report.write_json(&path).unwrap();
        let value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(value["schema"], SCHEMA);
        assert_eq!(value["runs"][0]["reused_from"], "run-1764115200-4242");
        assert!(value["runs"][1].get("reused_from").is_none());
        assert_eq!(
            Report::read_json(&path).unwrap().runs[0].reused_from,
            report.runs[0].reused_from
        );

        // Schema 1 (no reused_from) reads; a newer one is refused.
        let mut old = value.clone();
        old["schema"] = 1.into();
        old["runs"][0]
            .as_object_mut()
            .unwrap()
            .remove("reused_from");
        std::fs::write(&path, old.to_string()).unwrap();
        assert_eq!(Report::read_json(&path).unwrap().reused(), 0);
        old["schema"] = (SCHEMA + 1).into();
        std::fs::write(&path, old.to_string()).unwrap();
        let err = format!("{:#}", Report::read_json(&path).unwrap_err());
        assert!(
            err.contains(&format!("schema {}", SCHEMA + 1))
                && err.contains(&format!("reads 1 to {SCHEMA}")),
            "{err}"
        );
    }
}
