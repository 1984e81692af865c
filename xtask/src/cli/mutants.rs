//! `cargo xtask mutants`: runs the matrix on every deliberately wrong
//! revision under `patches/gsi-sysfs/mutants/` and says which topology and
//! which trial killed each one. A mutant that survives means the oracle is
//! too weak: the fix is a topology or a check, never deleting the mutant.

use crate::report::Report;
use crate::report::{TrialOutcome, Verdict};
use crate::sys::progress::Progress;
use anyhow::{bail, Result};
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Only these mutants (names under patches/gsi-sysfs/mutants/).
    #[arg(long = "mutant", short = 'm', value_name = "NAME")]
    pub mutants: Vec<String>,
    /// Topologies to run them on (default: every topology).
    #[arg(long = "topology", short = 't', value_name = "TOPO")]
    pub topologies: Vec<String>,
    /// Write the verdicts as JSON here.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Boots run at once (default: number of cores).
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Boot every run, even where an identical earlier boot left a result
    /// that would otherwise be reused (as `test-matrix --rerun`).
    #[arg(long)]
    pub rerun: bool,
}

/// What happened to one mutant.
#[derive(Debug, Clone, Serialize)]
pub struct Fate {
    pub mutant: String,
    /// The mutant's README: what is wrong with it.
    pub wrong: String,
    pub killed: bool,
    /// `topology: trial (outcome)` or `topology: verdict` for each kill.
    pub killed_by: Vec<Kill>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Kill {
    pub topology: String,
    pub verdict: Verdict,
    /// The failing trials (empty when the run failed as a whole).
    pub trials: Vec<String>,
}

/// The kills in a report, per mutant revision.
pub fn fates(report: &Report, mutants: &[String]) -> Vec<Fate> {
    let dir = crate::pipeline::revision::series_dir();
    mutants
        .iter()
        .map(|m| {
            let killed_by: Vec<Kill> = report
                .runs
                .iter()
                .filter(|r| &r.revision == m && !r.verdict.is_success())
                .map(|r| Kill {
                    topology: r.topology.clone(),
                    verdict: r.verdict,
                    trials: r
                        .trials
                        .iter()
                        .filter(|t| matches!(t.outcome, TrialOutcome::Failed | TrialOutcome::Xpass))
                        .map(|t| t.name.clone())
                        .collect(),
                })
                .collect();
            Fate {
                mutant: m.clone(),
                wrong: std::fs::read_to_string(dir.join(m).join("README"))
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
                killed: !killed_by.is_empty(),
                killed_by,
            }
        })
        .collect()
}

pub fn run(args: Args) -> Result<()> {
    let known: Vec<String> =
        crate::pipeline::revision::known(&crate::pipeline::revision::series_dir())
            .into_iter()
            .filter(|r| r.starts_with("mutants/"))
            .collect();
    let mutants: Vec<String> = if args.mutants.is_empty() {
        known.clone()
    } else {
        args.mutants
            .iter()
            .map(|m| {
                let full = if m.starts_with("mutants/") {
                    m.clone()
                } else {
                    format!("mutants/{m}")
                };
                if known.contains(&full) {
                    Ok(full)
                } else {
                    bail!(
                        "unknown mutant {m:?}; known: {}",
                        crate::config::list(&known)
                    )
                }
            })
            .collect::<Result<_>>()?
    };
    if mutants.is_empty() {
        bail!("no mutants under patches/gsi-sysfs/mutants/");
    }
    let matrix_args = crate::pipeline::run::Args {
        revisions: mutants.clone(),
        topologies: if args.topologies.is_empty() {
            vec!["*".into()]
        } else {
            args.topologies.clone()
        },
        jobs: args.jobs,
        rerun: args.rerun,
        ..Default::default()
    };
    let progress = Progress::start();
    let report = crate::pipeline::run::run_with(&matrix_args, &progress.reporter());
    progress.finish();
    let report = report?;
    let fates = fates(&report, &mutants);
    println!("\n{:<32} {:<8} killed by", "mutant", "fate");
    for f in &fates {
        let by: Vec<String> = f
            .killed_by
            .iter()
            .map(|k| {
                if k.trials.is_empty() {
                    format!("{} ({})", k.topology, k.verdict.name())
                } else {
                    format!("{}: {}", k.topology, k.trials.join(", "))
                }
            })
            .collect();
        println!(
            "{:<32} {:<8} {}",
            f.mutant,
            if f.killed { "killed" } else { "SURVIVED" },
            if by.is_empty() {
                "-".to_string()
            } else {
                by.join("; ")
            }
        );
    }
    if let Some(path) = &args.json {
        crate::write_atomic(path, serde_json::to_string_pretty(&fates)?.as_bytes())?;
    }
    let survivors: Vec<&str> = fates
        .iter()
        .filter(|f| !f.killed)
        .map(|f| f.mutant.as_str())
        .collect();
    if !survivors.is_empty() {
        bail!(
            "{} mutant(s) survived: {}. The oracle is too weak: add the topology or check that kills them",
            survivors.len(),
            survivors.join(", ")
        );
    }
    println!("\nall {} mutants killed", fates.len());
    Ok(())
}
