//! The `warm` section: every kernel of the profile built first, outside
//! the clock, then `test-matrix` timed with nothing changed; and the
//! timed in-process matrix run (with its events tapped) that `edit` uses
//! too.

use super::{loadavg, round3, Args, MatrixRun};
use crate::pipeline::{build, pin, selection};
use crate::sys::progress::{Event, Reporter};
use anyhow::Result;
use std::collections::BTreeMap;
use std::time::Instant;

/// Events of an in-process `test-matrix` run, seen on their way to the
/// terminal, with the seconds since the tap was opened.
struct Tap {
    reporter: Reporter,
    thread: std::thread::JoinHandle<Vec<(f64, Event)>>,
}

impl Tap {
    fn open(forward: &Reporter) -> Tap {
        let (reporter, rx) = Reporter::collecting();
        let forward = forward.clone();
        let start = Instant::now();
        let thread = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for event in rx {
                // Of make's lines only the compiles are kept (the build
                // log is one per revision: another run may overwrite it).
                let keep = match &event {
                    Event::BuildLine { line, .. } => line.trim_start().starts_with("CC "),
                    _ => true,
                };
                if keep {
                    seen.push((start.elapsed().as_secs_f64(), event.clone()));
                }
                forward.send(event);
            }
            seen
        });
        Tap { reporter, thread }
    }

    fn close(self) -> Vec<(f64, Event)> {
        drop(self.reporter);
        self.thread.join().unwrap_or_default()
    }
}

/// The matrix run of a bench section: the profile (or `revisions` of
/// it), installing nothing, and with `--rerun`: identical earlier results
/// are booted again instead of reused, since the bench measures boots.
pub(super) fn matrix_args(args: &Args, revisions: Vec<String>) -> crate::pipeline::run::Args {
    crate::pipeline::run::Args {
        profile: Some(args.profile.clone()),
        revisions,
        jobs: args.jobs,
        no_install: true,
        rerun: true,
        ..Default::default()
    }
}

/// Runs the matrix in this process and times it.
pub(super) fn timed_matrix(
    args: crate::pipeline::run::Args,
    reporter: &Reporter,
) -> Result<(MatrixRun, Vec<(f64, Event)>)> {
    let (profile, rerun) = (args.profile.clone().unwrap_or_default(), args.rerun);
    let load = loadavg();
    let tap = Tap::open(reporter);
    let started = Instant::now();
    let result = crate::pipeline::run::run_with(&args, &tap.reporter);
    let secs = started.elapsed().as_secs_f64();
    let events = tap.close();
    let report = result?;
    let mut revisions: Vec<String> = Vec::new();
    for r in &report.runs {
        if !revisions.contains(&r.revision) {
            revisions.push(r.revision.clone());
        }
    }
    let topologies = {
        let mut t: Vec<&str> = report.runs.iter().map(|r| r.topology.as_str()).collect();
        t.sort();
        t.dedup();
        t.len()
    };
    let mut verdicts = BTreeMap::new();
    for r in &report.runs {
        *verdicts.entry(r.verdict.name().to_string()).or_insert(0) += 1;
    }
    Ok((
        MatrixRun {
            profile: profile.to_string(),
            revisions,
            topologies,
            runs: report.runs.len(),
            secs: round3(secs),
            rebuilt: rebuilt(&events),
            verdicts,
            boot_secs_sum: round3(report.runs.iter().map(|r| r.boot_s).sum()),
            rerun,
            load,
        },
        events,
    ))
}

/// Revisions whose build started, in order.
fn rebuilt(events: &[(f64, Event)]) -> Vec<String> {
    events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::BuildStart { revision } => Some(revision.clone()),
            _ => None,
        })
        .collect()
}

/// Builds every revision of `profile` outside the clock, so the warm run
/// starts with nothing to build.
pub(super) fn build_profile(profile: &str, reporter: &Reporter) -> Result<Vec<String>> {
    let selection = selection::select(Some(profile), &[], &[])?;
    let pin = pin::resolve(&crate::config::configs_dir().join("kernel.toml"), reporter)?;
    for rev in &selection.revisions {
        build::build(&pin, rev, selection::cores(), reporter)?;
    }
    Ok(selection.revisions.iter().map(|r| r.name.clone()).collect())
}

pub(super) fn warm(args: &Args, reporter: &Reporter) -> Result<MatrixRun> {
    reporter.stage(format!(
        "bench warm: every kernel of profile {} built first (outside the clock), then test-matrix timed",
        args.profile
    ));
    build_profile(&args.profile, reporter)?;
    let (run, _) = timed_matrix(matrix_args(args, vec![]), reporter)?;
    reporter.note(format!(
        "bench warm: {} runs in {:.1} s, rebuilt: {}",
        run.runs,
        run.secs,
        if run.rebuilt.is_empty() {
            "nothing".to_string()
        } else {
            run.rebuilt.join(", ")
        }
    ));
    Ok(run)
}
