//! The bench's own report: each figure against its target (met, missed,
//! or not measured and why) and the table printed at the end.

use super::{flake, BenchReport, Measured, Stats, TopologyBoots};

/// One line of the targets table.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub what: String,
    pub measured: String,
    pub target: String,
    /// `None`: not measured.
    pub met: Option<bool>,
}

/// The targets against what was measured.
pub fn targets(r: &BenchReport) -> Vec<Target> {
    let mut rows = Vec::new();
    let not = |what: &str, target: &str, reason: String| Target {
        what: what.into(),
        measured: format!("not measured: {}", first_line(&reason)),
        target: target.into(),
        met: None,
    };
    match &r.warm {
        Some(Measured::Measured(w)) => {
            let full = w.profile == "full";
            rows.push(Target {
                what: format!(
                    "warm {} ({} runs, rebuilt: {})",
                    w.profile,
                    w.runs,
                    if w.rebuilt.is_empty() {
                        "none".into()
                    } else {
                        w.rebuilt.join(",")
                    }
                ),
                measured: format!("{:.1} s", w.secs),
                target: if full {
                    "<= 60 s".into()
                } else {
                    "(60 s is for full)".into()
                },
                met: full.then_some(w.secs <= 60.0),
            })
        }
        Some(Measured::NotMeasured { reason }) => rows.push(not("warm", "<= 60 s", reason.clone())),
        None => {}
    }
    match &r.edit {
        Some(Measured::Measured(e)) => rows.push(Target {
            what: format!(
                "one-line edit of {}: first verdict (rebuilt: {}, {} objects compiled)",
                e.revision,
                if e.matrix.rebuilt.is_empty() {
                    "none".into()
                } else {
                    e.matrix.rebuilt.join(",")
                },
                e.compiled.len()
            ),
            measured: e
                .first_verdict_s
                .map_or("no verdict".into(), |s| format!("{s:.1} s")),
            target: "<= 90 s".into(),
            met: e.first_verdict_s.map(|s| s <= 90.0),
        }),
        Some(Measured::NotMeasured { reason }) => {
            rows.push(not("one-line edit", "<= 90 s", reason.clone()))
        }
        None => {}
    }
    // Issue 16, target 5: the edit to its row's verdicts over the work
    // that row needs (its incremental build + its boots / jobs).
    if let Some(Measured::Measured(e)) = &r.edit {
        rows.push(Target {
            what: format!(
                "edit to row: {} s to {}'s {} verdicts / (build {} + {:.1} s of boots / {} jobs)",
                e.row_done_s.map_or("-".into(), |s| format!("{s:.1}")),
                e.revision,
                e.row_boots,
                opt_s(e.build_s),
                e.row_boot_secs,
                e.jobs
            ),
            measured: e
                .row_ratio()
                .map_or("no row".into(), |x| format!("{x:.2}x")),
            target: "<= 1.10x".into(),
            met: e.row_ratio().map(|x| x <= 1.10),
        });
    }
    let boot = |name: &str| -> Option<&TopologyBoots> {
        r.boots.as_ref()?.get()?.iter().find(|b| b.topology == name)
    };
    for (name, limit) in [("q35", 2.0), ("microvm", 1.2)] {
        if let Some(b) = boot(name) {
            rows.push(Target {
                what: format!("{name} boot to verdict, median of {}", b.wall.n),
                measured: format!(
                    "{:.2} s ({:.2}-{:.2}){}",
                    b.wall.median,
                    b.wall.min,
                    b.wall.max,
                    b.qemu_cpu
                        .map_or(String::new(), |c| format!(", QEMU CPU {:.2} s", c.median))
                ),
                target: format!("<= {limit:.1} s"),
                met: Some(b.wall.median <= limit),
            });
        }
    }
    if let Some(Measured::NotMeasured { reason }) = &r.boots {
        rows.push(not(
            "per-boot seconds",
            "q35 <= 2.0 s, microvm <= 1.2 s",
            reason.clone(),
        ));
    }
    if let Some(all) = r.boots.as_ref().and_then(|b| b.get()) {
        for ratio in [Ratio::Floor, Ratio::Compare] {
            if let Some(row) = worst_ratio(all, ratio) {
                rows.push(row);
            }
        }
    }
    if let Some(all) = r.boots.as_ref().and_then(|b| b.get()) {
        let peak = all
            .iter()
            .filter_map(|b| b.qemu_peak_mib.map(|p| (p, &b.topology)))
            .max_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
        if let Some((peak, topo)) = peak {
            rows.push(Target {
                what: format!("QEMU peak RSS per guest (highest: {topo})"),
                measured: format!("{peak:.0} MiB"),
                target: "<= 256 MB".into(),
                met: Some(peak * 1.048_576 <= 256.0),
            });
        }
    }
    rows.push(Target {
        what: "harness peak RSS".into(),
        measured: format!("{:.0} MiB", r.harness_peak_mib),
        target: "-".into(),
        met: None,
    });
    // The peers' target (issue 16): virtme-ng's boot >= 15x ours on q35
    // and >= 20x on microvm, in the same run.
    match &r.vng {
        Some(Measured::Measured(v)) => {
            for (name, times) in [("q35", 15.0), ("microvm", 20.0)] {
                let Some(ours) = boot(name) else { continue };
                let ratio = v.boots.median / ours.wall.median;
                rows.push(Target {
                    what: format!(
                        "virtme-ng {} boot + `true`, median of {}{} (vs our {name})",
                        v.version,
                        v.boots.n,
                        match v.retried {
                            0 => String::new(),
                            n => format!(", {n} ended 255 and ran again"),
                        }
                    ),
                    measured: format!("{:.2} s = {ratio:.1}x ours", v.boots.median),
                    target: format!(">= {times:.0}x ours"),
                    met: Some(ratio >= times),
                });
            }
        }
        Some(Measured::NotMeasured { reason }) => {
            rows.push(not("virtme-ng", ">= 15x q35, 20x microvm", reason.clone()))
        }
        None => {}
    }
    // Issue 16, target 4: README's first command from nothing over one
    // cold kernel build (the run's own first build, empty ccache).
    match &r.cold {
        Some(Measured::Measured(c)) => rows.push(Target {
            what: format!(
                "cold `{}`: {:.0} s / its cold kernel build {} (cargo {}, pin {}, guest {} beside the pin, {} builds, {} boots{})",
                c.command,
                c.secs,
                opt_s(c.cold_build_s()),
                opt_s(c.xtask_build_s),
                opt_s(c.pin_s),
                opt_s(c.guest_s),
                c.builds.len(),
                c.boots,
                match c.exit {
                    Some(0) => String::new(),
                    other => format!(", exit {other:?}"),
                }
            ),
            measured: c.ratio().map_or("-".into(), |x| format!("{x:.2}x")),
            target: "<= 1.50x".into(),
            met: c.ratio().map(|x| x <= 1.5),
        }),
        Some(Measured::NotMeasured { reason }) => {
            rows.push(not("cold", "<= 1.50x", reason.clone()))
        }
        None => {}
    }
    match &r.check_series {
        Some(Measured::Measured(b)) => {
            for (what, measured) in super::check_series::rows(b) {
                rows.push(Target {
                    what,
                    measured,
                    target: "-".into(),
                    met: None,
                });
            }
        }
        Some(Measured::NotMeasured { reason }) => {
            rows.push(not("check-series", "-", reason.clone()))
        }
        None => {}
    }
    rows
}

/// The two ratios the boots section takes in one run.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ratio {
    /// Boot to verdict / the same kernel's floor boot: the harness's own
    /// overhead.
    Floor,
    /// Boot to verdict / the compare revision's (baseline's): what the
    /// series itself costs.
    Compare,
}

impl Ratio {
    fn of(self, b: &TopologyBoots) -> Option<f64> {
        let other = match self {
            Ratio::Floor => b.floor?,
            Ratio::Compare => b.compare.as_ref()?.wall,
        };
        (other.median > 0.0).then(|| b.wall.median / other.median)
    }

    fn limit(self) -> f64 {
        match self {
            Ratio::Floor => 1.15,
            Ratio::Compare => 1.10,
        }
    }
}

/// The target row of a ratio: the worst topology, every one listed in the
/// ratio table below the targets.
fn worst_ratio(all: &[TopologyBoots], ratio: Ratio) -> Option<Target> {
    let (worst, b) = all
        .iter()
        .filter_map(|b| ratio.of(b).map(|x| (x, b)))
        .max_by(|a, b| a.0.partial_cmp(&b.0).unwrap())?;
    let met = all
        .iter()
        .filter_map(|b| ratio.of(b))
        .all(|x| x <= ratio.limit());
    let what = match ratio {
        Ratio::Floor => format!(
            "harness overhead: {} / floor boot (worst: {})",
            b.revision, b.topology
        ),
        Ratio::Compare => format!(
            "series cost: {} / {} (worst: {})",
            b.revision,
            b.compare.as_ref().map_or("-", |c| c.revision.as_str()),
            b.topology
        ),
    };
    Some(Target {
        what,
        measured: format!("{worst:.2}x"),
        target: format!("<= {:.2}x everywhere", ratio.limit()),
        met: Some(met),
    })
}

fn opt_s(s: Option<f64>) -> String {
    s.map_or("-".into(), |s| format!("{s:.0} s"))
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// The terminal rendering: targets, per-topology boots, flakes.
pub fn render(r: &BenchReport) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "bench on {} cores, {} ({}); load average {} at the start, {} at the end\n\n",
        r.host.cores, r.accel, r.host.qemu, r.host.load_start, r.host.load_end
    ));
    let rows = targets(r);
    let w = rows.iter().map(|t| t.what.len()).max().unwrap_or(0).max(6);
    let m = rows
        .iter()
        .map(|t| t.measured.len())
        .max()
        .unwrap_or(0)
        .max(8);
    out.push_str(&format!(
        "{:<w$}  {:<m$}  {:<18}  met\n",
        "figure", "measured", "target"
    ));
    for t in &rows {
        let met = match t.met {
            Some(true) => "yes",
            Some(false) => "MISSED",
            None => "-",
        };
        out.push_str(&format!(
            "{:<w$}  {:<m$}  {:<18}  {met}\n",
            t.what, t.measured, t.target
        ));
    }
    if let Some(all) = r.boots.as_ref().and_then(|b| b.get()) {
        out.push_str(&format!(
            "\nper boot ({}, seconds; wall median/min/max, then medians: QEMU CPU = CPU seconds QEMU used, \
             pre-kernel = QEMU + firmware (+ decompression of a bzImage under Xen), kernel = guest clock at /init)\n",
            r.revision
        ));
        out.push_str(&format!(
            "{:<22} {:>5} {:>6} {:>6} {:>6} {:>8} {:>10} {:>7} {:>6} {:>6} {:>9}\n",
            "topology",
            "boots",
            "median",
            "min",
            "max",
            "QEMU CPU",
            "pre-kernel",
            "kernel",
            "init",
            "suite",
            "QEMU MiB"
        ));
        let med = |s: &Option<Stats>| s.map_or("-".to_string(), |s| format!("{:.2}", s.median));
        for b in all {
            out.push_str(&format!(
                "{:<22} {:>5} {:>6.2} {:>6.2} {:>6.2} {:>8} {:>10} {:>7} {:>6} {:>6} {:>9}\n",
                b.topology,
                b.wall.n,
                b.wall.median,
                b.wall.min,
                b.wall.max,
                med(&b.qemu_cpu),
                med(&b.pre_kernel),
                med(&b.kernel),
                med(&b.init),
                med(&b.suite),
                b.qemu_peak_mib.map_or("-".into(), |p| format!("{p:.0}"))
            ));
        }
    }
    if let Some(all) = r.boots.as_ref().and_then(|b| b.get()) {
        let compare = all
            .iter()
            .find_map(|b| b.compare.as_ref().map(|c| c.revision.clone()))
            .unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "\nratios in the same rounds (wall medians, seconds; floor = the same kernel, /init only ends the machine)\n{:<22} {:>7} {:>6} {:>8} {:>8} {:>9}\n",
            "topology", r.revision, "floor", "x floor", compare, "x compare"
        ));
        let ratio = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.2}"));
        for b in all {
            out.push_str(&format!(
                "{:<22} {:>7.2} {:>6} {:>8} {:>8} {:>9}\n",
                b.topology,
                b.wall.median,
                b.floor.map_or("-".into(), |f| format!("{:.2}", f.median)),
                ratio(Ratio::Floor.of(b)),
                b.compare
                    .as_ref()
                    .map_or("-".into(), |c| format!("{:.2}", c.wall.median)),
                ratio(Ratio::Compare.of(b)),
            ));
        }
    }
    if let Some(Measured::Measured(e)) = &r.edit {
        out.push_str(&format!(
            "\nedit: {} `{}`\n  -> `{}`\n  rebuilt: {}; build {}{}; compiled: {}\n",
            e.patch,
            e.line_before.trim(),
            e.line_after.trim(),
            if e.matrix.rebuilt.is_empty() {
                "none".into()
            } else {
                e.matrix.rebuilt.join(", ")
            },
            e.build_s.map_or("-".into(), |s| format!("{s:.1} s")),
            e.lock_wait_s.map_or(String::new(), |s| format!(
                " (after {s:.1} s waiting for another run's lock)"
            )),
            if e.compiled.is_empty() {
                "-".into()
            } else {
                e.compiled.join(" ")
            }
        ));
    }
    match &r.flake {
        Some(Measured::Measured(f)) => out.push_str(&format!("\n{}", flake::render(f))),
        Some(Measured::NotMeasured { reason }) => {
            out.push_str(&format!("\nflake: not measured: {reason}\n"))
        }
        None => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::bench::{Host, MatrixRun, SCHEMA};
    use std::collections::BTreeMap;

    fn sample_report() -> BenchReport {
        let stats = |m| Stats {
            n: 5,
            median: m,
            min: m - 0.5,
            max: m + 1.0,
        };
        let boots = |topology: &str, m: f64, peak: f64| TopologyBoots {
            topology: topology.into(),
            revision: "v5".into(),
            wall: stats(m),
            verdicts: BTreeMap::from([("passed".to_string(), 5)]),
            pre_kernel: Some(stats(0.6)),
            kernel: Some(stats(1.2)),
            init: Some(stats(0.1)),
            suite: Some(stats(0.4)),
            qemu_cpu: Some(stats(m - 0.2)),
            qemu_peak_mib: Some(peak),
            slowest_log: "x.log".into(),
            floor: Some(stats(m / 1.2)),
            compare: Some(crate::cli::bench::Compared {
                revision: "baseline".into(),
                wall: stats(m / 1.05),
            }),
        };
        BenchReport {
            schema: SCHEMA,
            started: 1,
            host: Host::default(),
            accel: "tcg".into(),
            revision: "v5".into(),
            warm: Some(Measured::Measured(MatrixRun {
                profile: "full".into(),
                revisions: vec!["baseline".into()],
                topologies: 13,
                runs: 39,
                secs: 75.0,
                rebuilt: vec![],
                verdicts: BTreeMap::new(),
                boot_secs_sum: 140.0,
                rerun: false,
                load: "1.0".into(),
            })),
            edit: None,
            boots: Some(Measured::Measured(vec![
                boots("q35", 3.0, 120.0),
                boots("microvm", 1.1, 300.0),
            ])),
            cold: None,
            vng: Some(Measured::NotMeasured {
                reason: "vng: qemu failed\nmore".into(),
            }),
            flake: None,
            check_series: None,
            harness_peak_mib: 20.0,
        }
    }

    #[test]
    fn targets_say_met_missed_or_not_measured() {
        let rows = targets(&sample_report());
        let find = |what: &str| rows.iter().find(|r| r.what.starts_with(what)).unwrap();
        assert_eq!(find("warm full").met, Some(false));
        assert_eq!(find("q35 boot").met, Some(false));
        assert_eq!(find("microvm boot").met, Some(true));
        let rss = find("QEMU peak RSS");
        assert_eq!((rss.met, rss.measured.as_str()), (Some(false), "300 MiB"));
        let overhead = find("harness overhead");
        assert_eq!(
            (overhead.met, overhead.measured.as_str()),
            (Some(false), "1.20x")
        );
        let cost = find("series cost: v5 / baseline");
        assert_eq!((cost.met, cost.measured.as_str()), (Some(true), "1.05x"));
        let vng = find("virtme-ng");
        assert_eq!(vng.met, None);
        assert_eq!(vng.measured, "not measured: vng: qemu failed");
    }

    #[test]
    fn the_edit_and_cold_ratios_are_rows() {
        let mut r = sample_report();
        let matrix = match r.warm.clone().unwrap() {
            Measured::Measured(m) => m,
            Measured::NotMeasured { .. } => unreachable!(),
        };
        r.edit = Some(Measured::Measured(crate::cli::bench::EditRun {
            revision: "rfc1".into(),
            patch: "0001.patch".into(),
            line_before: "a".into(),
            line_after: "b".into(),
            first_verdict_s: Some(50.0),
            first_verdict: Some("q35: passed".into()),
            matrix,
            build_s: Some(40.0),
            lock_wait_s: None,
            compiled: vec![],
            row_done_s: Some(66.0),
            row_boots: 20,
            row_boot_secs: 40.0,
            jobs: 2,
        }));
        r.cold = Some(Measured::Measured(crate::cli::bench::ColdRun {
            command: "cargo xtask test-matrix --no-install".into(),
            secs: 900.0,
            xtask_build_s: Some(60.0),
            pin_s: Some(65.0),
            guest_s: Some(80.0),
            builds: vec![("baseline".into(), 400.0), ("v4".into(), 120.0)],
            boots: 84,
            verdicts: BTreeMap::new(),
            exit: Some(0),
        }));
        let rows = targets(&r);
        let find = |what: &str| rows.iter().find(|r| r.what.starts_with(what)).unwrap();
        let edit = find("edit to row");
        // 66 / (40 + 40 / 2)
        assert_eq!((edit.met, edit.measured.as_str()), (Some(true), "1.10x"));
        let cold = find("cold `cargo xtask test-matrix");
        assert_eq!((cold.met, cold.measured.as_str()), (Some(false), "2.25x"));
        assert!(
            cold.what.contains("/ its cold kernel build 400 s"),
            "{}",
            cold.what
        );
    }

    #[test]
    fn the_table_and_json_carry_every_figure() {
        let r = sample_report();
        let table = render(&r);
        assert!(table.contains("MISSED") && table.contains("yes"), "{table}");
        assert!(table.contains("not measured: vng: qemu failed"), "{table}");
        let q35 = table
            .lines()
            .skip_while(|l| !l.starts_with("per boot"))
            .find(|l| l.starts_with("q35 "))
            .unwrap();
        assert!(q35.contains("3.00") && q35.contains("120"), "{q35}");
        let json = serde_json::to_string(&r).unwrap();
        let back: BenchReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back.boots.unwrap().get().unwrap()[1].wall.median, 1.1);
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            value["vng"]["not_measured"]["reason"],
            "vng: qemu failed\nmore"
        );
        assert_eq!(value["warm"]["measured"]["secs"], 75.0);
        assert!(value.get("cold").is_none());
    }
}
