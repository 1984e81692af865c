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
        for (run, verdict, why) in &block.failures {
            let why = if why.is_empty() {
                String::new()
            } else {
                format!(" - {why}")
            };
            out.push_str(&format!("- {run}: {verdict}{why}\n"));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{PinInfo, Run, SCHEMA};
    use crate::report::{Trial, TrialOutcome, Verdict};

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
