//! The `boots` section: each topology booted `--boots` times, one at a
//! time: wall-clock and QEMU CPU seconds, where the time goes (before the
//! kernel, kernel, /init, suite) and QEMU's peak RSS.

use super::{round3, Args, Setup, Stats, TopologyBoots};
use crate::pipeline::{boot, console, guest};
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

pub(super) fn boots(args: &Args, setup: &Setup, reporter: &Reporter) -> Result<Vec<TopologyBoots>> {
    let total = setup.topologies.len() * args.boots;
    reporter.stage(format!(
        "bench boots: {} topologies x {} boots of {}, one at a time ({} boots, about {} min)",
        setup.topologies.len(),
        args.boots,
        setup.revision.name,
        total,
        (total * 5).div_ceil(60)
    ));
    let log_dir = crate::work_dir().join("bench").join("logs");
    let rev = &setup.revision.name;
    let mut all = Vec::new();
    for topology in &setup.topologies {
        let plan = crate::model::plan::of(
            topology,
            rev,
            setup.matrix.attribute(rev),
            setup.matrix.policy(),
        );
        let (initrd, _) = guest::write_initramfs(&setup.binaries, &plan)?;
        let planned = console::planned_trials(&plan);
        let mut walls = Vec::new();
        let (mut pre, mut kernel, mut init, mut suite) = (vec![], vec![], vec![], vec![]);
        let mut cpu = Vec::new();
        let mut peak: Option<u64> = None;
        let mut verdicts = BTreeMap::new();
        let mut slowest = (0.0, PathBuf::new());
        for i in 0..args.boots {
            let log = log_dir.join(format!(
                "{}-{}-{i}.console.log",
                setup.revision.slug(),
                topology.name
            ));
            reporter.send(Event::BootStart {
                revision: rev.clone(),
                topology: format!("{} #{}", topology.name, i + 1),
            });
            let outcome = boot::run(&boot::Request {
                topology,
                bzimage: setup.kernel_for(topology).0,
                initrd: &initrd,
                accel: setup.accel,
                timeout: Duration::from_secs(topology.spec.timeout_s),
                log: log.clone(),
                extra_cmdline: String::new(),
                hypervisor: setup.kernel_for(topology).1,
            })?;
            let xfail = |trial: &str| setup.matrix.xfail(rev, &topology.name, trial);
            let verdict =
                console::judge(&outcome.console, outcome.ending, Some(&planned), &xfail).verdict;
            *verdicts.entry(verdict.name().to_string()).or_insert(0) += 1;
            reporter.send(Event::BootEnd {
                revision: rev.clone(),
                topology: format!("{} #{}", topology.name, i + 1),
                verdict,
                secs: outcome.secs,
            });
            if outcome.ending != console::Ending::Done {
                continue; // a hang is not a boot time
            }
            walls.push(outcome.secs);
            if outcome.secs > slowest.0 {
                slowest = (outcome.secs, log.clone());
            }
            let text = std::fs::read_to_string(&log).unwrap_or_default();
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
        let wall = Stats::of(&walls).with_context(|| {
            format!(
                "{}: none of {} boots reached DONE ({verdicts:?}); logs in {}",
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
