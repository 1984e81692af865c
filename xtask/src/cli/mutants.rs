//! `cargo xtask mutants`: runs the matrix on every deliberately wrong
//! revision under `patches/gsi-sysfs/mutants/` and says which topology and
//! which trial killed each one. A mutant that survives means the oracle is
//! too weak: the fix is a topology or a check, never deleting the mutant.
//!
//! The kill rule (cargo-mutants' words for the rest): a mutant is
//! **killed** only by a trial that failed (or a listed expected failure
//! that passed) in a run the suite finished whole (`test-failed`). A
//! mutant that was not killed is **unviable** when its patch did not apply
//! or its kernel did not build (it says nothing about the oracle),
//! **inconclusive** when a run ended without the suite's whole verdict
//! (timeout, QEMU failure, corrupt console, panic, kernel warning, a crashed
//! suite: boot it again), and **survived** when every run passed. The
//! command fails while any mutant is not killed.

use crate::report::{Report, Run};
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

/// What the matrix concluded about one mutant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// A trial failed (or XPASSed) in a run the suite finished whole.
    Killed,
    /// Every run passed: the oracle is too weak.
    Survived,
    /// Not killed, and its patch did not apply or its kernel did not build.
    Unviable,
    /// Not killed, and some run ended without the suite's whole verdict
    /// (timeout, QEMU failure, corrupt console, panic, ...): boot it again.
    Inconclusive,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Killed => "killed",
            Status::Survived => "survived",
            Status::Unviable => "unviable",
            Status::Inconclusive => "inconclusive",
        }
    }
}

/// What happened to one mutant.
#[derive(Debug, Clone, Serialize)]
pub struct Fate {
    pub mutant: String,
    /// The mutant's README: what is wrong with it.
    pub wrong: String,
    pub status: Status,
    /// Each failing trial that killed it, one entry per topology and trial.
    pub killed_by: Vec<Kill>,
    /// Runs that ended without the suite's whole verdict (and builds that
    /// failed): they neither kill nor clear the mutant.
    pub not_judged: Vec<NotJudged>,
    /// Topologies where every trial passed.
    pub passed_on: Vec<String>,
}

/// One failing trial that killed a mutant.
#[derive(Debug, Clone, Serialize)]
pub struct Kill {
    pub topology: String,
    pub trial: String,
    /// `failed` or `xpass`.
    pub outcome: TrialOutcome,
    /// The console log of the run.
    pub log: String,
}

/// A run that neither killed nor cleared a mutant.
#[derive(Debug, Clone, Serialize)]
pub struct NotJudged {
    pub topology: String,
    pub verdict: Verdict,
    /// The first line of the run's detail (the build error, the timeout).
    pub detail: String,
    /// The console log, or the build log when it did not build.
    pub log: String,
}

/// Whether a run's verdict says nothing about the trials because the
/// revision never became a kernel.
fn unbuilt(verdict: Verdict) -> bool {
    matches!(verdict, Verdict::ApplyFailed | Verdict::BuildFailed)
}

/// The fate of `mutant` from its runs in a report (the kill rule above).
pub fn fate(mutant: &str, wrong: String, runs: &[&Run]) -> Fate {
    let mut killed_by = Vec::new();
    let mut not_judged = Vec::new();
    let mut passed_on = Vec::new();
    for r in runs {
        let failing: Vec<_> = r.failing_trials().collect();
        if r.verdict == Verdict::TestFailed && !failing.is_empty() {
            killed_by.extend(failing.into_iter().map(|t| Kill {
                topology: r.topology.clone(),
                trial: t.name.clone(),
                outcome: t.outcome,
                log: r.log.clone(),
            }));
        } else if r.verdict.is_success() {
            passed_on.push(r.topology.clone());
        } else {
            not_judged.push(NotJudged {
                topology: r.topology.clone(),
                verdict: r.verdict,
                detail: r.detail.lines().next().unwrap_or("").trim().to_string(),
                log: r.log.clone(),
            });
        }
    }
    let status = if !killed_by.is_empty() {
        Status::Killed
    } else if not_judged.iter().any(|n| unbuilt(n.verdict)) {
        Status::Unviable
    } else if !not_judged.is_empty() || runs.is_empty() {
        Status::Inconclusive
    } else {
        Status::Survived
    };
    Fate {
        mutant: mutant.to_string(),
        wrong,
        status,
        killed_by,
        not_judged,
        passed_on,
    }
}

/// The fates of `mutants` from their runs in a report.
pub fn fates(report: &Report, mutants: &[String]) -> Vec<Fate> {
    let dir = crate::pipeline::revision::series_dir();
    mutants
        .iter()
        .map(|m| {
            let runs: Vec<&Run> = report.runs.iter().filter(|r| &r.revision == m).collect();
            let wrong = std::fs::read_to_string(dir.join(m).join("README"))
                .unwrap_or_default()
                .trim()
                .to_string();
            fate(m, wrong, &runs)
        })
        .collect()
}

/// The terminal table: killed mutants with the trials that killed them,
/// then each class that was not killed, apart, with why.
pub fn table(fates: &[Fate]) -> String {
    let mut out = format!("{:<32} {:<12} by\n", "mutant", "fate");
    let joined = |items: Vec<String>| {
        if items.is_empty() {
            "-".to_string()
        } else {
            items.join("; ")
        }
    };
    for f in fates.iter().filter(|f| f.status == Status::Killed) {
        let mut by: Vec<(String, Vec<&str>)> = Vec::new();
        for k in &f.killed_by {
            match by.last_mut() {
                Some((topo, trials)) if *topo == k.topology => trials.push(&k.trial),
                _ => by.push((k.topology.clone(), vec![&k.trial])),
            }
        }
        let by = by
            .into_iter()
            .map(|(topo, trials)| format!("{topo}: {}", trials.join(", ")))
            .collect();
        out.push_str(&format!(
            "{:<32} {:<12} {}\n",
            f.mutant,
            "killed",
            joined(by)
        ));
    }
    let classes = [
        (
            Status::Survived,
            "every run passed: the oracle is too weak (add the topology or check that kills it)",
        ),
        (
            Status::Unviable,
            "the patch did not apply or the kernel did not build: it says nothing about the oracle",
        ),
        (
            Status::Inconclusive,
            "no trial failed and some run ended without the suite's whole verdict: boot it again",
        ),
    ];
    for (status, why) in classes {
        let of: Vec<&Fate> = fates.iter().filter(|f| f.status == status).collect();
        if of.is_empty() {
            continue;
        }
        out.push_str(&format!("\n{} ({why}):\n", status.name()));
        for f in of {
            let runs = f
                .not_judged
                .iter()
                .map(|n| {
                    let detail = if n.detail.is_empty() {
                        String::new()
                    } else {
                        format!(" - {}", n.detail)
                    };
                    format!(
                        "{}: {}{detail} (log: {})",
                        n.topology,
                        n.verdict.name(),
                        n.log
                    )
                })
                .collect();
            out.push_str(&format!(
                "{:<32} {:<12} {}\n",
                f.mutant,
                status.name(),
                joined(runs)
            ));
        }
    }
    out
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
    println!("\n{}", table(&fates));
    if let Some(path) = &args.json {
        crate::write_atomic(path, serde_json::to_string_pretty(&fates)?.as_bytes())?;
    }
    let not_killed: Vec<String> = fates
        .iter()
        .filter(|f| f.status != Status::Killed)
        .map(|f| format!("{} ({})", f.mutant, f.status.name()))
        .collect();
    if !not_killed.is_empty() {
        bail!(
            "{} of {} mutant(s) not killed: {}. Only a failing trial kills a mutant; see the table above",
            not_killed.len(),
            fates.len(),
            not_killed.join(", ")
        );
    }
    println!("\nall {} mutants killed", fates.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Trial;

    /// The revision every mutant is squashed from. When a newer revision
    /// becomes the newest, re-base the mutants on it and change this.
    const MUTANT_BASE: &str = "rfc1";

    /// The `+`/`-` lines of the diffs of a revision's series, counted.
    fn changed_lines(dir: &std::path::Path) -> std::collections::HashMap<String, usize> {
        let series = std::fs::read_to_string(dir.join("series")).unwrap();
        let mut lines = std::collections::HashMap::new();
        for patch in series
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let text = std::fs::read_to_string(dir.join(patch)).unwrap();
            let mut in_diff = false;
            for line in text.lines() {
                if line.starts_with("diff --git ") {
                    in_diff = true;
                } else if line == "-- " {
                    in_diff = false;
                } else if in_diff
                    && (line.starts_with('+') || line.starts_with('-'))
                    && !line.starts_with("+++")
                    && !line.starts_with("---")
                {
                    *lines.entry(line.to_string()).or_insert(0) += 1;
                }
            }
        }
        lines
    }

    /// Each mutant is the newest revision squashed plus its one mistake:
    /// its diff differs from that revision's in a few lines, not in the
    /// hundreds a mutant left on an older revision does (a v5-based one
    /// differs from rfc1 in about 250, so under rfc1's policy it would be
    /// killed by v5's own answers, not by its mistake).
    #[test]
    fn every_mutant_is_the_newest_revision_plus_one_small_change() {
        let dir = crate::pipeline::revision::series_dir();
        let base = changed_lines(&dir.join(MUTANT_BASE));
        let mutants: Vec<String> = crate::pipeline::revision::known(&dir)
            .into_iter()
            .filter(|r| r.starts_with("mutants/"))
            .collect();
        assert!(mutants.len() >= 13, "{mutants:?}");
        for m in &mutants {
            let lines = changed_lines(&dir.join(m));
            let differ: usize = lines
                .keys()
                .chain(base.keys())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .map(|l| {
                    lines
                        .get(l)
                        .copied()
                        .unwrap_or(0)
                        .abs_diff(base.get(l).copied().unwrap_or(0))
                })
                .sum();
            assert!(
                (1..=40).contains(&differ),
                "{m}: its diff differs from {MUTANT_BASE}'s in {differ} changed lines; \
                 a mutant is {MUTANT_BASE} squashed plus one mistake (1-40 lines)"
            );
        }
    }

    /// A run as the matrix records it: its trials and, when it did not
    /// end whole, the detail `run.rs` writes.
    fn run(topology: &str, verdict: Verdict, trials: &[(&str, TrialOutcome)], detail: &str) -> Run {
        Run {
            revision: "mutants/m".into(),
            topology: topology.into(),
            verdict,
            boot_s: 1.0,
            log: format!("target/gsi/logs/run-1-1/mutants-m/{topology}.console.log"),
            trials: trials
                .iter()
                .map(|(name, outcome)| Trial {
                    name: (*name).into(),
                    outcome: *outcome,
                    message: String::new(),
                })
                .collect(),
            detail: detail.into(),
            sysfs: Default::default(),
            sysfs_after: Default::default(),
            differential: Default::default(),
            reused_from: None,
        }
    }

    fn fate_of(runs: &[Run]) -> Fate {
        fate("mutants/m", String::new(), &runs.iter().collect::<Vec<_>>())
    }

    use TrialOutcome::{Failed, Ignored, Passed, Xfail, Xpass};

    #[test]
    fn a_failing_trial_in_a_whole_run_kills_and_names_topology_and_trial() {
        let f = fate_of(&[
            run(
                "q35",
                Verdict::Passed,
                &[("edu-s03::gsi-bound", Passed)],
                "",
            ),
            run(
                "pc",
                Verdict::TestFailed,
                &[
                    ("edu-s05::gsi-bound", Failed),
                    ("edu-s05::pin", Passed),
                    ("edu-s06::gsi-none", Xpass),
                    ("edu-s07::gsi-none", Xfail),
                ],
                "",
            ),
            run(
                "microvm",
                Verdict::Timeout,
                &[],
                "no DONE within the time limit",
            ),
        ]);
        assert_eq!(f.status, Status::Killed);
        let kills: Vec<(&str, &str, TrialOutcome)> = f
            .killed_by
            .iter()
            .map(|k| (k.topology.as_str(), k.trial.as_str(), k.outcome))
            .collect();
        assert_eq!(
            kills,
            [
                ("pc", "edu-s05::gsi-bound", Failed),
                ("pc", "edu-s06::gsi-none", Xpass)
            ]
        );
        assert_eq!(f.passed_on, ["q35"]);
        // The timeout is still listed, apart.
        assert_eq!(f.not_judged.len(), 1);
        assert_eq!(f.not_judged[0].verdict, Verdict::Timeout);
        let table = table(&[f]);
        assert!(
            table.contains("pc: edu-s05::gsi-bound, edu-s06::gsi-none"),
            "{table}"
        );
    }

    #[test]
    fn a_build_failure_is_unviable_not_killed() {
        let f = fate_of(&[
            run(
                "q35",
                Verdict::BuildFailed,
                &[],
                "make bzImage failed (log: target/gsi/logs/build-mutants-m.log)\nmore",
            ),
            run("microvm", Verdict::BuildFailed, &[], "make bzImage failed"),
        ]);
        assert_eq!(f.status, Status::Unviable);
        assert!(f.killed_by.is_empty());
        assert_eq!(
            f.not_judged[0].detail,
            "make bzImage failed (log: target/gsi/logs/build-mutants-m.log)"
        );
        let apply = fate_of(&[run("q35", Verdict::ApplyFailed, &[], "git am failed")]);
        assert_eq!(apply.status, Status::Unviable);
    }

    #[test]
    fn runs_without_the_suites_whole_verdict_are_inconclusive() {
        for verdict in [
            Verdict::Timeout,
            Verdict::QemuFailed,
            Verdict::ConsoleCorrupt,
            Verdict::KernelPanic,
            Verdict::SuiteCrashed,
            Verdict::BootFailed,
        ] {
            // Even with a failed trial in it: a report that is not whole is
            // no evidence.
            let f = fate_of(&[
                run("q35", Verdict::Passed, &[("a::pin", Passed)], ""),
                run("pc", verdict, &[("a::gsi-bound", Failed)], "why"),
            ]);
            assert_eq!(f.status, Status::Inconclusive, "{verdict:?}");
            assert!(f.killed_by.is_empty(), "{verdict:?}");
        }
        // A test-failed run with no failing trial (no trial ran) kills nothing.
        let empty = fate_of(&[run("q35", Verdict::TestFailed, &[("a::pin", Ignored)], "")]);
        assert_eq!(empty.status, Status::Inconclusive);
        // No run at all is no verdict either.
        assert_eq!(fate_of(&[]).status, Status::Inconclusive);
    }

    #[test]
    fn every_run_passing_is_survived_and_flaky_counts_as_passed() {
        let f = fate_of(&[
            run("q35", Verdict::Passed, &[("a::pin", Passed)], ""),
            run(
                "pc",
                Verdict::Flaky,
                &[("a::pin", Passed)],
                "first attempt timed out",
            ),
        ]);
        assert_eq!(f.status, Status::Survived);
        assert_eq!(f.passed_on, ["q35", "pc"]);
    }

    #[test]
    fn the_table_and_json_list_each_class_apart() {
        let killed = fate_of(&[run(
            "q35",
            Verdict::TestFailed,
            &[("a::gsi-bound", Failed)],
            "",
        )]);
        let mut unviable = fate_of(&[run("q35", Verdict::BuildFailed, &[], "make failed")]);
        unviable.mutant = "mutants/u".into();
        let mut inconclusive = fate_of(&[run("pc", Verdict::Timeout, &[], "no DONE")]);
        inconclusive.mutant = "mutants/i".into();
        let fates = [inconclusive, unviable, killed];
        let table = table(&fates);
        let at = |needle: &str| {
            table
                .find(needle)
                .unwrap_or_else(|| panic!("{needle}: {table}"))
        };
        assert!(at("mutants/m") < at("\nunviable ("));
        assert!(at("\nunviable (") < at("mutants/u"));
        assert!(at("mutants/u") < at("\ninconclusive ("));
        assert!(at("\ninconclusive (") < at("mutants/i"));
        assert!(table.contains("pc: timeout - no DONE"), "{table}");
        let json: serde_json::Value = serde_json::to_value(&fates).unwrap();
        assert_eq!(json[0]["status"], "inconclusive");
        assert_eq!(json[1]["status"], "unviable");
        assert_eq!(json[1]["not_judged"][0]["verdict"], "build-failed");
        assert_eq!(json[2]["status"], "killed");
        assert_eq!(json[2]["killed_by"][0]["topology"], "q35");
        assert_eq!(json[2]["killed_by"][0]["trial"], "a::gsi-bound");
        assert_eq!(json[2]["killed_by"][0]["outcome"], "failed");
    }
}
