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

    out.push_str(&cost(&block));

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

/// What each revision adds to a boot over `baseline` on the same
/// topology, booted in the same run (both fresh, or both reused from one
/// earlier run): when the kernel reached /init (its printk timestamp in
/// the console log) and the boot to verdict. Empty without baseline.
fn cost(block: &TestedOn) -> String {
    if !block.revisions.iter().any(|r| r == "baseline") {
        return String::new();
    }
    let others: Vec<&String> = block
        .revisions
        .iter()
        .filter(|r| *r != "baseline")
        .collect();
    let console =
        |run: &crate::report::Run| std::fs::read_to_string(run.log_path(&[])).unwrap_or_default();
    let init = |console: &str| crate::cli::check_series::cost::init_time(console);
    let prt = |console: &str| crate::cli::check_series::cost::prt_hits(console);
    let mut rows = String::new();
    for rev in &others {
        let cells = block.topologies.iter().map(|topo| {
            let (Some(mine), Some(base)) = (block.run(rev, topo), block.run("baseline", topo))
            else {
                return "-".to_string();
            };
            // Only boots the suite ran to its end: a timeout's time says nothing.
            let whole = |r: &crate::report::Run| {
                matches!(
                    r.verdict,
                    crate::report::Verdict::Passed | crate::report::Verdict::TestFailed
                ) && r.boot_s > 0.0
            };
            if mine.reused_from != base.reused_from || !whole(mine) || !whole(base) {
                return "-".to_string();
            }
            let ratio = mine.boot_s / base.boot_s;
            let (mine, base) = (console(mine), console(base));
            let evaluations = match (prt(&mine), prt(&base)) {
                (Some((_, a)), Some((_, b))) => format!(", _PRT {a} vs {b}"),
                _ => String::new(),
            };
            match (init(&mine), init(&base)) {
                (Some(a), Some(b)) => format!("{:+.2} s, {ratio:.2}x{evaluations}", a - b),
                _ => format!("{ratio:.2}x{evaluations}"),
            }
        });
        rows.push_str(&row(std::iter::once(format!("`{rev}`")).chain(cells)));
    }
    let mut out = String::from(
        "\nOver baseline (same run; /init delta from the kernel's printk timestamps, then \
         boot to verdict as a ratio; TCG, so the host's load moves both; on the prt-count \
         kernel, `_PRT` evaluations after the suite against baseline's):\n\n",
    );
    out.push_str(&row(std::iter::once("revision".to_string())
        .chain(block.topologies.iter().map(|t| format!("`{t}`")))));
    out.push_str(&row(
        vec!["---".to_string(); block.topologies.len() + 1].into_iter()
    ));
    out.push_str(&rows);
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
