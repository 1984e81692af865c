//! The `boots` section: each topology booted `--boots` times, one at a
//! time: wall-clock and QEMU CPU seconds, where the time goes (before the
//! kernel, kernel, /init, suite) and QEMU's peak RSS; alternating with the
//! same kernel's floor boot and the `--compare` revision's boot, so the
//! harness's overhead and the series' own cost are ratios taken in one run.

use super::{floor, round3, Args, Compared, Setup, Stats, TopologyBoots};
use crate::pipeline::{boot, build, console, guest, selection};
use crate::report::Verdict;
use crate::sys::progress::{Event, Reporter};
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// The guest clock (`[  1.234567]`) of the first kernel line containing
/// `needle`.
pub fn guest_stamp(console: &str, needle: &str) -> Option<f64> {
    console.lines().find(|l| l.contains(needle)).and_then(|l| {
        let rest = l.trim_start().strip_prefix('[')?;
        rest.split(']').next()?.trim().parse().ok()
    })
}

/// One kind of boot the section alternates per topology.
enum Kind {
    /// The bench's revision with its suite: the figure itself.
    Suite,
    /// The same kernel with the floor `/init` ([`floor`]).
    Floor,
    /// The `--compare` revision with its suite.
    Compare,
}

pub(super) fn boots(args: &Args, setup: &Setup, reporter: &Reporter) -> Result<Vec<TopologyBoots>> {
    let rev = &setup.revision.name;
    let compare = match args.compare.as_deref() {
        Some(name) if name != "none" && name != rev => {
            let selection = selection::select(None, &[name.to_string()], &[])?;
            let revision = selection.revisions[0].clone();
            let built = build::build(&setup.pin, &revision, selection::cores(), reporter)?;
            // Its dom0 kernel too, when a selected topology boots under Xen.
            let dom0 = match &setup.dom0 {
                Some((_, xen)) => Some(
                    build::build(
                        &setup.pin.for_dom0(xen),
                        &revision,
                        selection::cores(),
                        reporter,
                    )?
                    .bzimage,
                ),
                None => None,
            };
            Some((revision.name, built.bzimage, dom0))
        }
        _ => None,
    };
    let kinds_per_round = 2 + usize::from(compare.is_some());
    let total = setup.topologies.len() * args.boots * kinds_per_round;
    reporter.stage(format!(
        "bench boots: {} topologies x {} rounds of {rev}, the floor /init{}, one boot at a time ({} boots, about {} min)",
        setup.topologies.len(),
        args.boots,
        compare
            .as_ref()
            .map_or(String::new(), |(c, _, _)| format!(" and {c}")),
        total,
        (total * 4).div_ceil(60)
    ));
    let log_dir = crate::work_dir().join("bench").join("logs");
    let floor_dir = crate::work_dir().join("bench").join("floor");
    let mut all = Vec::new();
    for topology in &setup.topologies {
        // The floor of a synthetic shape boots its tables too.
        let floor_initrd =
            floor::initramfs(&floor_dir, &crate::pipeline::acpi::tables_cpio(topology)?)?;
        let plan_of = |name: &str| {
            crate::model::plan::of(
                topology,
                name,
                setup.matrix.attribute(name),
                setup.matrix.policy(),
            )
        };
        let plan = plan_of(rev);
        let (initrd, _) = guest::write_initramfs(&setup.binaries, &plan, topology)?;
        let planned = console::planned_trials(&plan);
        let compare_image = match &compare {
            Some((name, bzimage, dom0)) => {
                let bzimage = match (&topology.spec.hypervisor, dom0) {
                    (Some(_), Some(dom0)) => dom0,
                    _ => bzimage,
                };
                let plan = plan_of(name);
                let (initrd, _) = guest::write_initramfs(&setup.binaries, &plan, topology)?;
                Some((name, bzimage, initrd, console::planned_trials(&plan)))
            }
            None => None,
        };
        let mut walls = Vec::new();
        let (mut floors, mut compared) = (Vec::new(), Vec::new());
        let (mut pre, mut kernel, mut init, mut suite) = (vec![], vec![], vec![], vec![]);
        let mut cpu = Vec::new();
        let mut peak: Option<u64> = None;
        let mut verdicts = BTreeMap::new();
        let mut slowest = (0.0, PathBuf::new());
        for i in 0..args.boots {
            // Each round boots every kind once, starting with a different
            // one each round, so a drift of the host's speed is shared.
            let mut kinds = vec![Kind::Suite, Kind::Floor];
            if compare_image.is_some() {
                kinds.push(Kind::Compare);
            }
            let turn = i % kinds.len();
            kinds.rotate_left(turn);
            let (own, hypervisor) = setup.kernel_for(topology);
            for kind in kinds {
                let (name, bzimage, initrd, planned) = match (&kind, &compare_image) {
                    (Kind::Suite, _) => (rev.as_str(), own, &initrd, Some(&planned)),
                    (Kind::Floor, _) => (rev.as_str(), own, &floor_initrd, None),
                    (Kind::Compare, Some((n, b, i, p))) => (n.as_str(), b.as_path(), i, Some(p)),
                    (Kind::Compare, None) => unreachable!("compare boots only with an image"),
                };
                let label = match kind {
                    Kind::Floor => format!("{} #{} (floor)", topology.name, i + 1),
                    _ => format!("{} #{}", topology.name, i + 1),
                };
                let slug = match kind {
                    Kind::Floor => "floor".to_string(),
                    _ => name.replace('/', "-"),
                };
                let log = log_dir.join(format!("{slug}-{}-{i}.console.log", topology.name));
                reporter.send(Event::BootStart {
                    revision: name.to_string(),
                    topology: label.clone(),
                });
                let outcome = boot::run(&boot::Request {
                    topology,
                    bzimage,
                    initrd,
                    accel: setup.accel,
                    timeout: Duration::from_secs(topology.spec.timeout_s),
                    log: log.clone(),
                    extra_cmdline: String::new(),
                    hypervisor,
                })?;
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let verdict = match planned {
                    Some(planned) => {
                        let xfail = |trial: &str| setup.matrix.xfail(name, &topology.name, trial);
                        console::judge(&outcome.console, outcome.ending, Some(planned), &xfail)
                            .verdict
                    }
                    None if outcome.ending == console::Ending::Done && floor::ran(&text) => {
                        Verdict::Passed
                    }
                    // A floor that did not print its lines is no floor:
                    // counted by cause, never a time.
                    None => {
                        console::judge(&outcome.console, outcome.ending, None, &|_| None).verdict
                    }
                };
                reporter.send(Event::BootEnd {
                    revision: name.to_string(),
                    topology: label,
                    verdict,
                    secs: outcome.secs,
                });
                if verdict != Verdict::Passed {
                    *verdicts
                        .entry(format!("{slug}: {}", verdict.name()))
                        .or_insert(0) += 1;
                    continue; // a failed or hung boot is not a boot time
                }
                match kind {
                    Kind::Floor => {
                        floors.push(outcome.secs);
                        continue;
                    }
                    Kind::Compare => {
                        compared.push(outcome.secs);
                        continue;
                    }
                    Kind::Suite => {}
                }
                *verdicts.entry(verdict.name().to_string()).or_insert(0) += 1;
                walls.push(outcome.secs);
                if outcome.secs > slowest.0 {
                    slowest = (outcome.secs, log.clone());
                }
                let m = outcome.marks;
                if let (Some(at), Some(guest)) =
                    (m.init, guest_stamp(&text, "Run /init as init process"))
                {
                    pre.push(at - guest);
                    kernel.push(guest);
                }
                if let (Some(a), Some(b)) = (m.init, m.begin) {
                    init.push(b - a);
                }
                if let Some(b) = m.begin {
                    suite.push(outcome.secs - b);
                }
                peak = peak.max(outcome.qemu_peak_kib);
                cpu.extend(outcome.qemu_cpu_s);
            }
        }
        let wall = Stats::of(&walls).with_context(|| {
            format!(
                "{}: none of {} boots of {rev} passed ({verdicts:?}); logs in {}",
                topology.name,
                args.boots,
                crate::config::display(&log_dir)
            )
        })?;
        all.push(TopologyBoots {
            topology: topology.name.clone(),
            revision: rev.clone(),
            wall,
            verdicts,
            pre_kernel: Stats::of(&pre),
            kernel: Stats::of(&kernel),
            init: Stats::of(&init),
            suite: Stats::of(&suite),
            qemu_cpu: Stats::of(&cpu),
            qemu_peak_mib: peak.map(|k| round3(k as f64 / 1024.0)),
            slowest_log: crate::config::display(&slowest.1),
            floor: Stats::of(&floors),
            compare: compare.as_ref().and_then(|(name, _, _)| {
                Stats::of(&compared).map(|wall| Compared {
                    revision: name.clone(),
                    wall,
                })
            }),
        });
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_stamps_are_read_from_kernel_lines() {
        let text = "[    0.000000] Linux version 6.12\n[    1.832917] Run /init as init process\ngsi-init: starting\n";
        assert_eq!(
            guest_stamp(text, "Run /init as init process"),
            Some(1.832917)
        );
        assert_eq!(guest_stamp(text, "absent"), None);
        assert_eq!(
            guest_stamp("gsi-init: Run /init as init process", "Run /init"),
            None
        );
    }
}
