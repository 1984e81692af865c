//! `cost`: what the series adds to a boot over baseline, per topology,
//! from boots test-matrix already made (check-series boots nothing).
//!
//! Honest pairs only: a stored result (`target/gsi/results/`) of this
//! revision's current kernel image (booted under any name: a git range of
//! the same patches boots the same image) and one of baseline's, booted
//! in the same `test-matrix` run (same machine, same load, one after the
//! other), the newest such run per topology. Two figures per topology:
//! when the kernel reached `/init` (its own printk timestamp of "Run /init
//! as init process", the cost of device_add() and of every initcall the
//! series touches) and the boot to verdict (the run record's `boot_s`,
//! which also holds the suite's reads of the file). A topology with no
//! such pair is listed as not measured; no pair at all is a SKIP.
//! Informational: TCG timings move with the host's load, so no threshold
//! fails the check; the figures name their run and time.
//!
//! `_PRT` evaluations are counted on the topologies that boot the
//! prt-count kernel (`pc-prt-count`, `q35-prt-count`: `test-matrix
//! --profile cost`): a kprobe on acpi_get_irq_routing_table() from
//! fs_initcall on, its hits printed by the suite before its first `gsi`
//! read and after its last trial. Enumeration (device_add, where an
//! `is_visible()` would look `_PRT` up) runs before fs_initcall and is not
//! in the count: the `/init` delta measures it.

use super::CheckResult;
use crate::pipeline::build;
use crate::pipeline::pin::Pin;
use crate::pipeline::revision::{self, Revision};
use anyhow::Result;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One stored boot, as the cost needs it.
#[derive(Debug, Clone)]
struct Boot {
    run: String,
    boot_s: f64,
    init_s: Option<f64>,
    /// `_PRT` evaluations before the suite's reads and after its trials.
    prt: Option<(u64, u64)>,
}

/// The printk timestamp of "Run /init as init process" in a console log.
pub fn init_time(console: &str) -> Option<f64> {
    console
        .lines()
        .find(|l| l.contains("Run /init as init process"))
        .and_then(|l| {
            let open = l.find('[')?;
            let close = l[open..].find(']')? + open;
            l[open + 1..close].trim().parse().ok()
        })
}

/// The hits of the suite's `prt` kprobe line before and after its trials
/// (`gsi-suite: kprobe hits prt=N before the trials`).
pub fn prt_hits(console: &str) -> Option<(u64, u64)> {
    let hits = |when: &str| {
        console.lines().find_map(|l| {
            let rest = l.split(gsi_plan::protocol::PROBE_HITS).nth(1)?;
            let rest = rest.trim().strip_prefix("prt=")?;
            let (n, tail) = rest.split_once(' ')?;
            tail.starts_with(when).then(|| n.parse().ok()).flatten()
        })
    };
    Some((hits("before")?, hits("after")?))
}

/// The sha256 of every kernel image of `rev` built for some topology's
/// config in `target/gsi/kernels/` (the images its current patches give).
fn current_kernels(pin: &Pin, rev: &Revision, topologies: &[String]) -> BTreeSet<String> {
    let kernels = crate::work_dir().join("kernels");
    let mut keys = BTreeSet::new();
    for name in topologies {
        let Ok(topology) = crate::config::topology::load(&crate::config::topology::dir(), name)
        else {
            continue;
        };
        if topology.spec.hypervisor.is_some() {
            continue; // a dom0 kernel: another config, another image
        }
        if let Ok(tpin) = pin.for_topology(&topology) {
            keys.insert(build::key(&tpin, rev));
        }
    }
    let mut shas = BTreeSet::new();
    for entry in std::fs::read_dir(&kernels).into_iter().flatten().flatten() {
        let dir = entry.file_name().to_string_lossy().to_string();
        if keys.iter().any(|k| dir.ends_with(&format!("-{k}"))) {
            if let Ok(sha) = std::fs::read_to_string(entry.path().join("bzImage.sha256")) {
                shas.insert(sha.trim().to_string());
            }
        }
    }
    shas
}

/// Stored boots of the kernels `shas`, by (run, topology), whatever
/// revision name they were booted as (a git range holding the same
/// patches boots the same image).
fn stored_boots(results: &Path, shas: &BTreeSet<String>) -> BTreeMap<(String, String), Boot> {
    let mut boots = BTreeMap::new();
    for entry in std::fs::read_dir(results).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let Ok(record) = std::fs::read_to_string(&path)
            .map_err(anyhow::Error::from)
            .and_then(|t| Ok(serde_json::from_str::<serde_json::Value>(&t)?))
        else {
            continue;
        };
        let run = &record["run"];
        let kernel = record["inputs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i.as_str()?.strip_prefix("kernel-sha256 "))
            .next();
        if !kernel.is_some_and(|k| shas.contains(k)) {
            continue;
        }
        let (Some(topology), Some(booted_in), Some(boot_s), Some(log)) = (
            run["topology"].as_str(),
            record["booted_in"].as_str(),
            run["boot_s"].as_f64(),
            record["log"].as_str(),
        ) else {
            continue;
        };
        let console = std::fs::read_to_string(results.join(log)).unwrap_or_default();
        let init_s = init_time(&console);
        let prt = prt_hits(&console);
        boots.insert(
            (booted_in.to_string(), topology.to_string()),
            Boot {
                run: booted_in.to_string(),
                boot_s,
                init_s,
                prt,
            },
        );
    }
    boots
}

/// `run-<unix seconds>-<pid>`: the time it started, as UTC.
fn run_time(run: &str) -> Option<(i64, String)> {
    let secs: i64 = run.strip_prefix("run-")?.split('-').next()?.parse().ok()?;
    let text = crate::sys::process::Cmd::new("date")
        .args(["-u", "-d", &format!("@{secs}"), "+%Y-%m-%d %H:%M UTC"])
        .read()
        .ok()?;
    Some((secs, text.trim().to_string()))
}

/// One topology's figures, and the text for them.
#[derive(Debug, Clone)]
pub struct Cost {
    pub topology: String,
    pub run: String,
    pub init_delta_s: Option<f64>,
    pub boot_ratio: f64,
    /// `_PRT` evaluations (before, after the suite) of the revision and of
    /// baseline, on a prt-count topology.
    pub prt: Option<((u64, u64), (u64, u64))>,
    pub line: String,
}

/// The newest same-run pair per topology of `rev` and baseline.
pub fn measure(pin: &Pin, rev: &Revision) -> Result<(Vec<Cost>, Vec<String>)> {
    let topologies = crate::config::topology::known(&crate::config::topology::dir());
    let baseline = revision::load(&revision::series_dir(), "baseline")?;
    let results = crate::work_dir().join("results");
    let ours = stored_boots(&results, &current_kernels(pin, rev, &topologies));
    let theirs = stored_boots(&results, &current_kernels(pin, &baseline, &topologies));
    let mut costs = Vec::new();
    let mut missing = Vec::new();
    for topology in &topologies {
        let newest = ours
            .iter()
            .filter(|((_, t), _)| t == topology)
            .filter_map(|((run, _), b)| Some((b, theirs.get(&(run.clone(), topology.clone()))?)))
            .max_by_key(|(b, _)| run_time(&b.run).map(|(s, _)| s).unwrap_or(0));
        let Some((mine, base)) = newest else {
            missing.push(topology.clone());
            continue;
        };
        let when = run_time(&mine.run).map(|(_, t)| t).unwrap_or_default();
        let init_delta_s = match (mine.init_s, base.init_s) {
            (Some(a), Some(b)) => Some(a - b),
            _ => None,
        };
        let init = match (mine.init_s, base.init_s, init_delta_s) {
            (Some(a), Some(b), Some(d)) => format!("/init at {a:.2} s vs {b:.2} s ({d:+.2} s)"),
            _ => "/init: no timestamp in a log".to_string(),
        };
        let boot_ratio = if base.boot_s > 0.0 {
            mine.boot_s / base.boot_s
        } else {
            0.0
        };
        let prt = mine.prt.zip(base.prt);
        let evaluations = match prt {
            Some(((a0, a1), (b0, b1))) => format!(
                "; _PRT evaluations at the first gsi read {a0} vs {b0}, after the suite {a1} vs \
                 {b1} ({:+})",
                a1 as i64 - b1 as i64
            ),
            None => String::new(),
        };
        costs.push(Cost {
            topology: topology.clone(),
            run: mine.run.clone(),
            init_delta_s,
            boot_ratio,
            prt,
            line: format!(
                "{topology}: {init}; boot to verdict {:.2} s vs {:.2} s ({boot_ratio:.2}x)\
                 {evaluations} [{}, {when}]",
                mine.boot_s, base.boot_s, mine.run
            ),
        });
    }
    Ok((costs, missing))
}

pub fn check_cost(pin: &Pin, rev: &Revision) -> Result<CheckResult> {
    if rev.name == "baseline" {
        return Ok(CheckResult::skip(
            "baseline is what the cost is measured against",
        ));
    }
    let (costs, missing) = measure(pin, rev)?;
    if costs.is_empty() {
        return Ok(CheckResult::skip(format!(
            "no boot of {}'s current kernel stored beside one of baseline's from the same \
             test-matrix run: run `cargo xtask test-matrix -r baseline -r {}` (or with -t TOPO) \
             to measure it",
            rev.name, rev.name
        )));
    }
    let mut deltas: Vec<f64> = costs.iter().filter_map(|c| c.init_delta_s).collect();
    deltas.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let median = (!deltas.is_empty()).then(|| deltas[deltas.len() / 2]);
    let worst = costs
        .iter()
        .filter(|c| c.init_delta_s.is_some())
        .max_by(|a, b| a.init_delta_s.partial_cmp(&b.init_delta_s).unwrap());
    let mut evidence: Vec<String> = costs.iter().map(|c| c.line.clone()).collect();
    if !missing.is_empty() {
        evidence.push(format!(
            "not measured (no same-run pair of the current kernels): {}",
            missing.join(", ")
        ));
    }
    evidence.push(
        "source: target/gsi/results (stored test-matrix boots); /init from the kernel's printk \
         timestamp, boot to verdict from the run record; TCG timings move with the host's load"
            .to_string(),
    );
    evidence.push(if costs.iter().any(|c| c.prt.is_some()) {
        "_PRT evaluations: a kprobe on acpi_get_irq_routing_table() in the prt-count kernel, \
         from fs_initcall on (enumeration, and so is_visible() at device_add, comes before it: \
         the /init delta covers that)"
            .to_string()
    } else {
        "_PRT evaluations: not counted yet: `cargo xtask test-matrix --profile cost` boots the \
         prt-count kernel, which counts them"
            .to_string()
    });
    let evaluations = costs
        .iter()
        .filter_map(|c| Some((c.prt?, &c.topology)))
        .map(|(((_, mine), (_, base)), topology)| (mine as i64 - base as i64, topology))
        .max()
        .map(|(delta, topology)| format!("; _PRT evaluations {delta:+} on {topology}"))
        .unwrap_or_default();
    Ok(CheckResult::pass(
        format!(
            "informational: over baseline on {} topolog(ies){}{evaluations}",
            costs.len(),
            match (median, worst) {
                (Some(m), Some(w)) => format!(
                    ", /init delta median {m:+.2} s, largest {:+.2} s on {} (boot to verdict \
                     {:.2}x)",
                    w.init_delta_s.unwrap_or_default(),
                    w.topology,
                    w.boot_ratio
                ),
                _ => String::new(),
            }
        ),
        evidence,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_time_is_the_printk_stamp_of_run_init() {
        let log = "[    1.004138] Freeing unused kernel image (initmem) memory: 804K\n\
                   [    1.012984] Run /init as init process\n";
        assert_eq!(init_time(log), Some(1.012984));
        assert_eq!(init_time("Run /init as init process\n"), None);
        let console = "gsi-suite: kprobe hits prt=4 before the trials\n@@GSI-BEGIN v1 trials=1\n\
                       gsi-suite: kprobe hits prt=19 after the trials\n";
        assert_eq!(prt_hits(console), Some((4, 19)));
        assert_eq!(prt_hits(&console.replace("19 after", "19 later")), None);
        assert_eq!(prt_hits("Run /init as init process\n"), None);
        assert_eq!(
            run_time("run-1796586363-9840").map(|(s, _)| s),
            Some(1796586363)
        );
    }
}
