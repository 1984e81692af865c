//! What the "Tested on" block under a patch series' cover letter says,
//! gathered once from a report for its two renderings: plain text for the
//! mail itself ([`super::plain`]; LKML is plain text) and Markdown for a
//! CI summary ([`super::markdown`]). It names the kernel the series was
//! applied to, how the guests ran, every run's verdict and pass count, the
//! expected failures with their reasons, the failures, and what each
//! topology is (the `description` of its configs/topologies file), so a
//! reviewer can judge the coverage without opening the workbench.

use super::table::axes;
use super::{Report, Run, TrialOutcome};
use std::path::Path;

/// Marker `console::judge` puts around an expected failure's reason.
const XFAIL_MARK: &str = "[expected failure: ";

/// The block's content, renderer-neutral.
pub struct TestedOn<'r> {
    pub report: &'r Report,
    /// `kernel: ...`, `guests: ...`, `runs: ...`, without the key.
    pub kernel: String,
    pub guests: String,
    pub runs: String,
    pub revisions: Vec<String>,
    pub topologies: Vec<String>,
    pub xfails: Vec<Xfail>,
    /// `revision/topology: verdict - why` of each run that did not pass.
    pub failures: Vec<String>,
    /// `(topology, description)`.
    pub descriptions: Vec<(String, String)>,
}

/// Expected failures of one revision with one reason.
pub struct Xfail {
    pub revision: String,
    pub reason: String,
    pub count: usize,
    pub topologies: Vec<String>,
}

impl<'r> TestedOn<'r> {
    /// Gathers the block for `report`; topology descriptions come from
    /// `topo_dir`.
    pub fn gather(report: &'r Report, topo_dir: &Path) -> TestedOn<'r> {
        let short: String = report.pin.sha256.chars().take(12).collect();
        let (revisions, topologies) = axes(report);
        let passed = report
            .runs
            .iter()
            .filter(|r| r.verdict.is_success())
            .count();
        let reused = match report.reused() {
            0 => String::new(),
            n => format!("; {n} result(s) reused from identical earlier boots"),
        };
        let failures = report
            .runs
            .iter()
            .filter(|r| !r.verdict.is_success())
            .map(|run| {
                let why = match run.failing_trials().next() {
                    Some(t) => format!("{}: {}", t.name, first_line(&t.message)),
                    None => first_line(&run.detail),
                };
                let why = if why.is_empty() {
                    String::new()
                } else {
                    format!(" - {why}")
                };
                format!(
                    "{}/{}: {}{why}",
                    run.revision,
                    run.topology,
                    run.verdict.name()
                )
            })
            .collect();
        let descriptions = topologies
            .iter()
            .map(|topo| {
                let description = match crate::model::load_topology(topo_dir, topo) {
                    Ok(t) => t.spec.description.trim().to_string(),
                    // A report read on another checkout may name a topology
                    // this one lacks or has changed: say so in its place.
                    Err(err) => format!("(no description: {})", first_line(&format!("{err:#}"))),
                };
                (topo.clone(), description)
            })
            .collect();
        TestedOn {
            report,
            kernel: format!(
                "{} (linux {}, sha256 {short})",
                report.pin.source, report.pin.version
            ),
            guests: format!("QEMU, accel {}", report.accel),
            runs: format!(
                "{passed} of {} passed ({} revision(s) x {} topology(ies){reused})",
                report.runs.len(),
                revisions.len(),
                topologies.len()
            ),
            xfails: expected_failures(report),
            failures,
            descriptions,
            revisions,
            topologies,
        }
    }

    /// The run of `revision` on `topology`, if there is one.
    pub fn run(&self, revision: &str, topology: &str) -> Option<&'r Run> {
        self.report.run(revision, topology)
    }
}

/// The first line of `text`, without what a viewer cannot show.
pub fn first_line(text: &str) -> String {
    crate::report::junit::clean(text.lines().next().unwrap_or("").trim())
}

/// Xfail trials grouped by revision and reason, in order of appearance.
fn expected_failures(report: &Report) -> Vec<Xfail> {
    let mut out: Vec<Xfail> = Vec::new();
    for run in &report.runs {
        for t in run
            .trials
            .iter()
            .filter(|t| t.outcome == TrialOutcome::Xfail)
        {
            let reason = t
                .message
                .rfind(XFAIL_MARK)
                .map(|at| &t.message[at + XFAIL_MARK.len()..])
                .map(|r| r.strip_suffix(']').unwrap_or(r))
                .unwrap_or("no reason recorded")
                .to_string();
            let reason = first_line(&reason);
            match out
                .iter_mut()
                .find(|x| x.revision == run.revision && x.reason == reason)
            {
                Some(x) => {
                    x.count += 1;
                    if !x.topologies.contains(&run.topology) {
                        x.topologies.push(run.topology.clone());
                    }
                }
                None => out.push(Xfail {
                    revision: run.revision.clone(),
                    reason,
                    count: 1,
                    topologies: vec![run.topology.clone()],
                }),
            }
        }
    }
    out
}
