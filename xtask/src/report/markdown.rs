//! The "Tested on" block: Markdown to paste under a patch series' cover
//! letter. It names the kernel the series was applied to, how the guests
//! ran, a revision x topology table of verdicts and pass counts, the
//! expected failures with their reasons, and what each topology is (the
//! `description` of its configs/topologies file), so a reviewer can judge
//! the coverage without opening the workbench.

use crate::report::Report;
use crate::report::TrialOutcome;
use anyhow::{Context, Result};
use std::path::Path;

/// Marker `console::judge` puts around an expected failure's reason.
const XFAIL_MARK: &str = "[expected failure: ";

/// The block for `report`; topology descriptions come from `topo_dir`.
pub fn render(report: &Report, topo_dir: &Path) -> String {
    let mut out = String::from("Tested on:\n\n");
    let short: String = report.pin.sha256.chars().take(12).collect();
    out.push_str(&format!(
        "- kernel: {} (linux {}, sha256 {short})\n",
        report.pin.source, report.pin.version
    ));
    out.push_str(&format!("- guests: QEMU, accel {}\n", report.accel));
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
    out.push_str(&format!(
        "- runs: {passed} of {} passed ({} revision(s) x {} topology(ies){reused})\n\n",
        report.runs.len(),
        revisions.len(),
        topologies.len()
    ));

    out.push_str(&row(
        std::iter::once("revision".to_string()).chain(topologies.iter().map(|t| format!("`{t}`")))
    ));
    out.push_str(&row(
        vec!["---".to_string(); topologies.len() + 1].into_iter()
    ));
    for rev in &revisions {
        let cells = topologies.iter().map(|topo| {
            match report
                .runs
                .iter()
                .find(|r| &r.revision == rev && &r.topology == topo)
            {
                None => "-".to_string(),
                Some(run) if run.verdict.is_success() => run.summary(),
                Some(run) => {
                    let mut text = format!("**{}**", run.summary());
                    if let Some(bad) = run.failing_trials().next() {
                        text.push_str(&format!(" (`{}`)", bad.name));
                    }
                    text
                }
            }
        });
        out.push_str(&row(std::iter::once(format!("`{rev}`")).chain(cells)));
    }

    let xfails = expected_failures(report);
    if !xfails.is_empty() {
        out.push_str("\nExpected failures (listed in configs/matrix.toml):\n\n");
        for x in xfails {
            out.push_str(&format!(
                "- {}: {} trial(s) on {}: {}\n",
                x.revision,
                x.count,
                x.topologies.join(", "),
                x.reason
            ));
        }
    }

    let failed: Vec<_> = report
        .runs
        .iter()
        .filter(|r| !r.verdict.is_success())
        .collect();
    if !failed.is_empty() {
        out.push_str("\nFailures:\n\n");
        for run in failed {
            let why = match run.failing_trials().next() {
                Some(t) => format!("{}: {}", t.name, first_line(&t.message)),
                None => first_line(&run.detail),
            };
            out.push_str(&format!(
                "- {}/{}: {}{}\n",
                run.revision,
                run.topology,
                run.verdict.name(),
                if why.is_empty() {
                    String::new()
                } else {
                    format!(" - {why}")
                }
            ));
        }
    }

    out.push_str("\nTopologies:\n\n");
    for topo in &topologies {
        let description = match crate::model::load_topology(topo_dir, topo) {
            Ok(t) => t.spec.description.trim().to_string(),
            // A report read on another checkout may name a topology this
            // one lacks or has changed: say so in place of a description.
            Err(err) => format!("(no description: {})", first_line(&format!("{err:#}"))),
        };
        out.push_str(&format!("- {topo}: {description}\n"));
    }
    out
}

/// Writes [`render`] to `path`.
pub fn write(report: &Report, topo_dir: &Path, path: &Path) -> Result<()> {
    crate::write_atomic(path, render(report, topo_dir).as_bytes())
        .with_context(|| format!("writing the Markdown report {}", path.display()))
}

/// Revisions and topologies in the order the runs first name them.
fn axes(report: &Report) -> (Vec<String>, Vec<String>) {
    let mut revisions: Vec<String> = Vec::new();
    let mut topologies: Vec<String> = Vec::new();
    for run in &report.runs {
        if !revisions.contains(&run.revision) {
            revisions.push(run.revision.clone());
        }
        if !topologies.contains(&run.topology) {
            topologies.push(run.topology.clone());
        }
    }
    (revisions, topologies)
}

fn row(cells: impl Iterator<Item = String>) -> String {
    let cells: Vec<String> = cells.map(|c| c.replace('|', "\\|")).collect();
    format!("| {} |\n", cells.join(" | "))
}

fn first_line(text: &str) -> String {
    crate::report::junit::clean(text.lines().next().unwrap_or("").trim())
}

struct Xfail {
    revision: String,
    reason: String,
    count: usize,
    topologies: Vec<String>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{PinInfo, Run, SCHEMA};
    use crate::report::{Trial, Verdict};

    fn trial(name: &str, outcome: TrialOutcome, message: &str) -> Trial {
        Trial {
            name: name.into(),
            outcome,
            message: message.into(),
        }
    }

    fn run(revision: &str, topology: &str, verdict: Verdict, trials: Vec<Trial>) -> Run {
        Run {
            revision: revision.into(),
            topology: topology.into(),
            verdict,
            boot_s: 2.0,
            log: format!("target/gsi/logs/{revision}/{topology}.console.log"),
            trials,
            detail: String::new(),
            sysfs: Default::default(),
            sysfs_after: Default::default(),
            differential: Default::default(),
            reused_from: None,
        }
    }

    #[test]
    fn the_block_names_pin_table_xfails_failures_and_topologies() {
        let reason = "v4 prints 0 for a device without a GSI";
        let xfail = |n: &str| {
            trial(
                n,
                TrialOutcome::Xfail,
                &format!("gsi = 0 [expected failure: {reason}]"),
            )
        };
        let ok = |n: &str| trial(n, TrialOutcome::Passed, "");
        let report = Report {
            schema: SCHEMA,
            pin: PinInfo {
                source: "debian linux-source-6.12 6.12.117-1~deb12u1".into(),
                version: "6.12.117".into(),
                sha256: "0123456789abcdef0123".into(),
            },
            accel: "tcg".into(),
            runs: vec![
                run("baseline", "q35", Verdict::Passed, vec![ok("a::absent")]),
                run(
                    "baseline",
                    "microvm",
                    Verdict::Passed,
                    vec![ok("a::absent")],
                ),
                run(
                    "v4",
                    "q35",
                    Verdict::Passed,
                    vec![ok("a::gsi"), xfail("n::gsi-none"), xfail("m::gsi-none")],
                ),
                run(
                    "v4",
                    "microvm",
                    Verdict::TestFailed,
                    vec![
                        trial(
                            "a|b::gsi",
                            TrialOutcome::Failed,
                            "gsi = 5, expected 16\nmore",
                        ),
                        xfail("n::gsi-none"),
                    ],
                ),
            ],
        };
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("q35.toml"),
            "description = 'q35 (ICH9) with PIRQE-H'\nmachine = 'q35'\n[[device]]\nname = 'rng'\nqemu = 'virtio-rng-pci,addr=0x3'\nbdf = '0000:00:03.0'\npin = 1\ngsi = 23\n",
        )
        .unwrap();
        let md = render(&report, dir.path());
        assert!(md.starts_with("Tested on:\n\n"), "{md}");
        assert!(
            md.contains("- kernel: debian linux-source-6.12 6.12.117-1~deb12u1 (linux 6.12.117, sha256 0123456789ab)\n"),
            "{md}"
        );
        assert!(md.contains("- guests: QEMU, accel tcg\n"), "{md}");
        assert!(
            md.contains("- runs: 3 of 4 passed (2 revision(s) x 2 topology(ies))"),
            "{md}"
        );
        let mut reused = report.clone();
        reused.runs[0].reused_from = Some("run-1-1".into());
        let with_reuse = render(&reused, dir.path());
        assert!(
            with_reuse.contains(
                "- runs: 3 of 4 passed (2 revision(s) x 2 topology(ies); 1 result(s) reused from identical earlier boots)"
            ),
            "{with_reuse}"
        );
        assert!(
            md.contains("| revision | `q35` | `microvm` |\n| --- | --- | --- |\n"),
            "{md}"
        );
        assert!(
            md.contains(
                "| `v4` | passed 3/3 (2 xfail) | **test-failed 1/2 (1 xfail)** (`a\\|b::gsi`) |\n"
            ),
            "{md}"
        );
        assert!(
            md.contains(&format!("- v4: 3 trial(s) on q35, microvm: {reason}\n")),
            "{md}"
        );
        assert!(
            md.contains("- v4/microvm: test-failed - a|b::gsi: gsi = 5, expected 16\n"),
            "{md}"
        );
        assert!(md.contains("- q35: q35 (ICH9) with PIRQE-H\n"), "{md}");
        assert!(
            md.contains("- microvm: (no description: unknown topology \"microvm\""),
            "{md}"
        );
    }
}
