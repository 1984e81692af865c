//! `cargo xtask report render|merge`: the reports of a run rendered again
//! from its JSON, and the JSON of CI shards merged into one, so the last CI
//! job can publish one JUnit file and one "Tested on" block for the whole
//! matrix. `test-matrix` takes the same output flags ([`super::Outputs`]).

use crate::report::Report;
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Render a JSON report (from test-matrix --json or report merge) as
    /// JUnit XML, the "Tested on" block (Markdown or plain text) and/or
    /// the terminal table.
    Render {
        /// The JSON report to read.
        #[arg(long, value_name = "JSON")]
        from: PathBuf,
        #[command(flatten)]
        outputs: super::Outputs,
        /// Print the topology x revision table (the default when nothing
        /// else is asked for).
        #[arg(long)]
        table: bool,
    },
    /// Combine the JSON reports of CI shards into one.
    Merge {
        /// The shards' JSON reports (same pin; each pair in one only).
        #[arg(required = true, value_name = "JSON")]
        inputs: Vec<PathBuf>,
        /// Where to write the merged JSON report.
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
    },
}

pub fn run(command: Command) -> Result<()> {
    match command {
        Command::Render {
            from,
            outputs,
            table,
        } => {
            let report = read(&from)?;
            outputs.write(&report)?;
            if table || !outputs.any() {
                print!("{}", report.table());
            }
            Ok(())
        }
        Command::Merge { inputs, out } => {
            let mut parts = Vec::new();
            for path in &inputs {
                if inputs.iter().filter(|p| *p == path).count() > 1 {
                    bail!(
                        "{} is given twice; merge each shard's report once",
                        path.display()
                    );
                }
                parts.push((path.display().to_string(), read(path)?));
            }
            let merged = Report::merge(parts)?;
            merged.write_json(&out)?;
            let passed = merged
                .runs
                .iter()
                .filter(|r| r.verdict.is_success())
                .count();
            println!(
                "merged {} report(s): {} runs, {passed} passed -> {}",
                inputs.len(),
                merged.runs.len(),
                out.display()
            );
            Ok(())
        }
    }
}

/// A JSON report with its logs looked up from the file's directory.
fn read(path: &Path) -> Result<Report> {
    let mut report = Report::read_json(path)?;
    report.resolve_logs(path);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{PinInfo, Run, SCHEMA};
    use crate::report::{Trial, Verdict};

    fn report(version: &str, pairs: &[(&str, &str)]) -> Report {
        Report {
            schema: SCHEMA,
            pin: PinInfo {
                source: "debian linux-source-6.12".into(),
                version: version.into(),
                sha256: "ab".repeat(32),
            },
            accel: "tcg".into(),
            runs: pairs
                .iter()
                .map(|(r, t)| Run {
                    revision: r.to_string(),
                    topology: t.to_string(),
                    verdict: Verdict::Passed,
                    boot_s: 1.0,
                    log: format!("target/gsi/logs/{r}/{t}.console.log"),
                    trials: vec![Trial {
                        name: "a::gsi".into(),
                        outcome: crate::report::TrialOutcome::Passed,
                        message: String::new(),
                    }],
                    detail: String::new(),
                    sysfs: Default::default(),
                    sysfs_after: Default::default(),
                    differential: Default::default(),
                    reused_from: None,
                })
                .collect(),
        }
    }

    #[test]
    fn merge_sorts_runs_and_refuses_mixed_pins_and_duplicates() {
        let a = report("6.12.117", &[("v4", "q35"), ("baseline", "microvm")]);
        let mut b = report("6.12.117", &[("baseline", "q35")]);
        b.accel = "kvm".into();
        let merged =
            Report::merge(vec![("a.json".into(), a.clone()), ("b.json".into(), b)]).unwrap();
        let pairs: Vec<String> = merged
            .runs
            .iter()
            .map(|r| format!("{}/{}", r.revision, r.topology))
            .collect();
        assert_eq!(pairs, ["baseline/microvm", "baseline/q35", "v4/q35"]);
        assert_eq!(merged.accel, "tcg+kvm");

        let other = report("6.12.118", &[("v5", "q35")]);
        let err = Report::merge(vec![("a.json".into(), a.clone()), ("c.json".into(), other)])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("c.json") && err.contains("a.json") && err.contains("6.12.118"),
            "{err}"
        );

        let dup = report("6.12.117", &[("v4", "q35")]);
        let err = Report::merge(vec![("a.json".into(), a), ("d.json".into(), dup)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("v4/q35 is in both a.json and d.json"), "{err}");
        assert!(Report::merge(vec![]).is_err());
    }

    #[test]
    fn logs_are_found_next_to_the_json_they_came_with() {
        let dir = tempfile::tempdir().unwrap();
        let shard = dir.path().join("shard-0");
        let log = shard.join("target/gsi/logs/v4/q35.console.log");
        std::fs::create_dir_all(log.parent().unwrap()).unwrap();
        std::fs::write(&log, "console\n").unwrap();
        let json = shard.join("shard.json");
        report("6.12.117", &[("v4", "q35"), ("v4", "pc")])
            .write_json(&json)
            .unwrap();
        let back = read(&json).unwrap();
        assert_eq!(
            Path::new(&back.runs[0].log),
            std::path::absolute(&log).unwrap()
        );
        // Not found anywhere: kept as written, for the message.
        assert_eq!(back.runs[1].log, "target/gsi/logs/v4/pc.console.log");
    }
}
