//! Results of a matrix run: the JSON document (a stable, versioned schema),
//! the terminal table, and merging the JSON of CI shards. The JUnit and
//! Markdown renderings live in [`crate::junit`] and [`crate::markdown`].

use crate::console::{Outcome, Trial, Verdict};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Bumped on any change of the JSON layout a reader must know about.
/// 2: a run may carry `reused_from` (its result is an earlier boot's).
/// 3: a run may carry `sysfs_after` (the dump after the `gsi` reads) and
/// `differential` (compared with baseline, or why not).
pub const SCHEMA: u32 = 3;

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
    /// differential check against `baseline` ([`crate::differential`]).
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
    /// identical earlier boot ([`crate::results`]): that run's log
    /// directory, e.g. `run-1764115200-4242`. `--rerun` boots instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reused_from: Option<String>,
}

/// Where a run stands with the differential check ([`crate::differential`]).
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
    pub fn count(&self, outcome: Outcome) -> usize {
        self.trials.iter().filter(|t| t.outcome == outcome).count()
    }

    /// Trials that fail the run: failed, and expected failures that passed.
    pub fn failing_trials(&self) -> impl Iterator<Item = &Trial> {
        self.trials
            .iter()
            .filter(|t| matches!(t.outcome, Outcome::Failed | Outcome::Xpass))
    }

    /// `passed 5/6 (1 xfail)`: the verdict, trials that passed or failed
    /// as expected over all trials.
    pub fn summary(&self) -> String {
        let mut text = format!(
            "{} {}/{}",
            self.verdict.name(),
            self.count(Outcome::Passed) + self.count(Outcome::Xfail),
            self.trials.len()
        );
        if self.count(Outcome::Xfail) > 0 {
            text.push_str(&format!(" ({} xfail)", self.count(Outcome::Xfail)));
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
    /// Points every relative `log` at the file as found from `json`'s
    /// directory, written as the user reads paths (relative to the project
    /// root when inside it), so a re-rendered or merged report still
    /// attaches its logs. Logs found nowhere are left as they are.
    pub fn resolve_logs(&mut self, json: &Path) {
        let dir = json.parent().unwrap_or(Path::new("."));
        for run in &mut self.runs {
            let found = run.log_path(&[dir]);
            if found.exists() {
                let found = std::path::absolute(&found).unwrap_or(found);
                run.log = crate::config::display(&found);
            }
        }
    }

    /// Combines the reports of CI shards, each named for messages (its
    /// file). They must share the pin; a revision/topology pair may appear
    /// only once. Runs come out sorted by revision then topology.
    pub fn merge(parts: Vec<(String, Report)>) -> Result<Report> {
        let Some((first_name, first)) = parts.first().cloned() else {
            bail!("report merge needs at least one JSON report");
        };
        let mut seen: Vec<(String, String, String)> = Vec::new();
        let mut accels: Vec<String> = Vec::new();
        let mut runs: Vec<Run> = Vec::new();
        for (name, report) in parts {
            if report.pin != first.pin {
                bail!(
                    "{name} was tested on a different kernel than {first_name}:\n  {first_name}: {} (linux {}, sha256 {})\n  {name}: {} (linux {}, sha256 {})\nmerge only shards of one run (same configs/kernel.toml)",
                    first.pin.source,
                    first.pin.version,
                    first.pin.sha256,
                    report.pin.source,
                    report.pin.version,
                    report.pin.sha256
                );
            }
            if !accels.contains(&report.accel) {
                accels.push(report.accel.clone());
            }
            for run in report.runs {
                if let Some((_, _, other)) = seen
                    .iter()
                    .find(|(r, t, _)| *r == run.revision && *t == run.topology)
                {
                    bail!(
                        "{}/{} is in both {other} and {name}; each pair must come from one shard (were the same shards downloaded twice?)",
                        run.revision,
                        run.topology
                    );
                }
                seen.push((run.revision.clone(), run.topology.clone(), name.clone()));
                runs.push(run);
            }
        }
        runs.sort_by(|a, b| (&a.revision, &a.topology).cmp(&(&b.revision, &b.topology)));
        // A run whose baseline was in another shard is compared now.
        crate::differential::check(&mut runs);
        Ok(Report {
            schema: SCHEMA,
            pin: first.pin,
            // Shards may land on machines with and without KVM.
            accel: accels.join("+"),
            runs,
        })
    }

    pub fn write_json(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        crate::write_atomic(path, text.as_bytes())
            .with_context(|| format!("writing the JSON report {}", path.display()))
    }

    pub fn read_json(path: &Path) -> Result<Report> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let report: Report = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a gsi-workbench JSON report", path.display()))?;
        if !READS.contains(&report.schema) {
            anyhow::bail!(
                "{} has schema {}, this workbench reads {} to {}",
                path.display(),
                report.schema,
                READS.start(),
                READS.end()
            );
        }
        Ok(report)
    }

    /// Revision x topology table, failing check named.
    pub fn table(&self) -> String {
        let mut revisions: Vec<&str> = Vec::new();
        let mut topologies: Vec<&str> = Vec::new();
        for run in &self.runs {
            if !revisions.contains(&run.revision.as_str()) {
                revisions.push(&run.revision);
            }
            if !topologies.contains(&run.topology.as_str()) {
                topologies.push(&run.topology);
            }
        }
        let cell = |r: &str, t: &str| -> String {
            let Some(run) = self
                .runs
                .iter()
                .find(|x| x.revision == r && x.topology == t)
            else {
                return "-".into();
            };
            let mut text = run.summary();
            if let Some(bad) = run.failing_trials().next() {
                text.push_str(&format!(" [{}]", bad.name));
            }
            if run.reused_from.is_some() {
                text.push_str(" (reused)");
            }
            text
        };
        let mut rows = vec![std::iter::once("revision".to_string())
            .chain(topologies.iter().map(|t| t.to_string()))
            .collect::<Vec<_>>()];
        for r in &revisions {
            rows.push(
                std::iter::once(r.to_string())
                    .chain(topologies.iter().map(|t| cell(r, t)))
                    .collect(),
            );
        }
        let widths: Vec<usize> = (0..rows[0].len())
            .map(|c| rows.iter().map(|row| row[c].len()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for row in rows {
            let line: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(text, w)| format!("{text:<w$}"))
                .collect();
            out.push_str(line.join("  ").trim_end());
            out.push('\n');
        }
        out.push_str(&self.differential_note());
        out
    }

    /// A line naming the runs the differential check could not compare
    /// for want of a baseline run of their topology; empty when none.
    pub fn differential_note(&self) -> String {
        let missing = crate::differential::without_baseline(&self.runs);
        if missing.is_empty() {
            return String::new();
        }
        let mut topologies: Vec<String> = missing
            .iter()
            .filter_map(|pair| pair.split_once('/'))
            .map(|(_, t)| format!("{}/{t}", crate::differential::BASELINE))
            .collect();
        topologies.dedup();
        format!(
            "differential: not run for {} - no {} in this report\n",
            missing.join(", "),
            topologies.join(", ")
        )
    }

    /// How many runs reused an earlier boot's result.
    pub fn reused(&self) -> usize {
        self.runs.iter().filter(|r| r.reused_from.is_some()).count()
    }

    /// One line per run that did not pass, with where to look.
    pub fn failures(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for run in self.runs.iter().filter(|r| !r.verdict.is_success()) {
            lines.push(format!(
                "{}/{}: {} - log: {}",
                run.revision,
                run.topology,
                run.verdict.name(),
                run.log
            ));
            if !run.detail.is_empty() {
                for l in run.detail.lines().take(12) {
                    lines.push(format!("    {l}"));
                }
            }
            for t in run.failing_trials() {
                lines.push(format!(
                    "    {}: {}",
                    t.name,
                    t.message.replace('\n', "\n      ")
                ));
            }
        }
        lines
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
                        trial("a::gsi-bound", Outcome::Passed),
                        trial("b::gsi-none", Outcome::Xfail),
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
                    trials: vec![trial("a::gsi-bound", Outcome::Failed)],
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
        assert!(table.contains("revision  q35"), "{table}");
        assert!(table.contains("passed 2/2 (1 xfail)"), "{table}");
        assert!(table.contains("test-failed 0/1 [a::gsi-bound]"), "{table}");
        assert!(!table.contains("reused"), "{table}");
    }

    #[test]
    fn reused_runs_say_so_and_older_schemas_still_read() {
        let mut report = sample();
        report.runs[0].reused_from = Some("run-1764115200-4242".into());
        assert_eq!(report.reused(), 1);
        let table = report.table();
        assert!(table.contains("passed 2/2 (1 xfail) (reused)"), "{table}");
        assert!(!table.contains("[a::gsi-bound] (reused)"), "{table}");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        report.write_json(&path).unwrap();
        let value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(value["schema"], 3);
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
        old["schema"] = 4.into();
        std::fs::write(&path, old.to_string()).unwrap();
        let err = format!("{:#}", Report::read_json(&path).unwrap_err());
        assert!(
            err.contains("schema 4") && err.contains("reads 1 to 3"),
            "{err}"
        );
    }
}
