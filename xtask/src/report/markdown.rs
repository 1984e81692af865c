//! The "Tested on" block ([`super::tested_on`]) as Markdown, for a CI
//! job's summary page: a revision x topology table of verdicts and pass
//! counts, failures in bold with their first failing check. The same
//! block for the cover letter itself is plain text ([`super::plain`]).

use super::tested_on::TestedOn;
use crate::report::Report;
use anyhow::{Context, Result};
use std::path::Path;

/// The block for `report`; topology descriptions come from `topo_dir`.
pub fn render(report: &Report, topo_dir: &Path) -> String {
    let block = TestedOn::gather(report, topo_dir);
    let mut out = String::from("Tested on:\n\n");
    out.push_str(&format!("- kernel: {}\n", block.kernel));
    out.push_str(&format!("- guests: {}\n", block.guests));
    out.push_str(&format!("- runs: {}\n\n", block.runs));

    out.push_str(&row(std::iter::once("revision".to_string())
        .chain(block.topologies.iter().map(|t| format!("`{t}`")))));
    out.push_str(&row(
        vec!["---".to_string(); block.topologies.len() + 1].into_iter()
    ));
    for rev in &block.revisions {
        let cells = block
            .topologies
            .iter()
            .map(|topo| match block.run(rev, topo) {
                None => "-".to_string(),
                Some(run) if run.verdict.is_success() => run.summary(),
                Some(run) => {
                    let mut text = format!("**{}**", run.summary());
                    if let Some(bad) = run.failing_trials().next() {
                        text.push_str(&format!(" (`{}`)", bad.name));
                    }
                    text
                }
            });
        out.push_str(&row(std::iter::once(format!("`{rev}`")).chain(cells)));
    }

    if !block.xfails.is_empty() {
        out.push_str("\nExpected failures (listed in configs/matrix.toml):\n\n");
        for x in &block.xfails {
            out.push_str(&format!(
                "- {}: {} trial(s) on {}: {}\n",
                x.revision,
                x.count,
                x.topologies.join(", "),
                x.reason
            ));
        }
    }

    if !block.failures.is_empty() {
        out.push_str("\nFailures:\n\n");
        for failure in &block.failures {
            out.push_str(&format!("- {failure}\n"));
        }
    }

    out.push_str("\nTopologies:\n\n");
    for (topo, description) in &block.descriptions {
        out.push_str(&format!("- {topo}: {description}\n"));
    }
    out
}

/// Writes [`render`] to `path`.
pub fn write(report: &Report, topo_dir: &Path, path: &Path) -> Result<()> {
    crate::write_atomic(path, render(report, topo_dir).as_bytes())
        .with_context(|| format!("writing the Markdown report {}", path.display()))
}

fn row(cells: impl Iterator<Item = String>) -> String {
    let cells: Vec<String> = cells.map(|c| c.replace('|', "\\|")).collect();
    format!("| {} |\n", cells.join(" | "))
}
