//! Results of a matrix run: the JSON document (a stable, versioned schema)
//! and the terminal table.

use crate::console::{Trial, Verdict};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Bumped on any incompatible change of the JSON layout.
pub const SCHEMA: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub schema: u32,
    pub pin: PinInfo,
    /// `tcg` or `kvm`.
    pub accel: String,
    pub runs: Vec<Run>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
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
}

impl Report {
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
        if report.schema != SCHEMA {
            anyhow::bail!(
                "{} has schema {}, this workbench reads {SCHEMA}",
                path.display(),
                report.schema
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
            let count = |o| run.trials.iter().filter(|x| x.outcome == o).count();
            use crate::console::Outcome::*;
            let total = run.trials.len();
            let mut text = format!(
                "{} {}/{}",
                run.verdict.name(),
                count(Passed) + count(Xfail),
                total
            );
            if count(Xfail) > 0 {
                text.push_str(&format!(" ({} xfail)", count(Xfail)));
            }
            if let Some(bad) = run
                .trials
                .iter()
                .find(|x| matches!(x.outcome, Failed | Xpass))
            {
                text.push_str(&format!(" [{}]", bad.name));
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
        out
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
            for t in run.trials.iter().filter(|t| {
                matches!(
                    t.outcome,
                    crate::console::Outcome::Failed | crate::console::Outcome::Xpass
                )
            }) {
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
    use crate::console::Outcome;

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
                },
                Run {
                    revision: "v4".into(),
                    topology: "microvm".into(),
                    verdict: Verdict::TestFailed,
                    boot_s: 1.9,
                    log: "target/gsi/logs/v4/microvm.log".into(),
                    trials: vec![trial("a::gsi-bound", Outcome::Failed)],
                    detail: String::new(),
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
    }
}
