//! The JSON report on disk: written whole or not at all, read back with
//! its schema checked, its logs found again from wherever the file was
//! unpacked, and the reports of CI shards merged into one.

use super::{Report, Run, READS, SCHEMA};
use anyhow::{bail, Context, Result};
use std::path::Path;

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
        crate::report::differential::check(&mut runs);
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
}
