//! `cargo xtask bench --flake N`: boots every topology N times, `--jobs` at
//! a time, while a kernel build runs beside them as load (a `make -j<cores>`
//! of the pinned tree into a throwaway `O=`, restarted when it finishes and
//! killed at the end), and counts what went wrong by cause, read from the
//! console logs. A hang is retried once, as `test-matrix` does, so a run
//! ends clean, passed on the retry (flaky), or failed.
//!
//! `--flake-drop WORD` / `--flake-append WORDS` change the kernel command
//! line of every topology, so a setting can be measured with and without.

use super::{round3, Setup, Stats};
use crate::config::topology::Topology;
use crate::pipeline::console::{self, Console};
use crate::pipeline::{boot, guest};
use crate::sys::process::{Cmd, Running};
use crate::sys::progress::{Event, Reporter};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the bench's command line asked of the flake run.
#[derive(Debug, Clone)]
pub struct Options {
    pub n: usize,
    pub jobs: usize,
    pub drop: Vec<String>,
    pub append: String,
}

/// How one boot attempt ended, read from its console log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// The guest said DONE (its verdict is judged separately).
    Completed,
    /// No DONE in time, and the kernel's last words were about TSC/PIT
    /// calibration: the early-boot hang of a guest without a reference
    /// timer under host load.
    PitCalibrationHang,
    /// No DONE in time and no kernel banner: QEMU, firmware or the
    /// kernel's decompression never got as far as the console.
    HangBeforeKernel,
    /// No DONE in time, the kernel started but never ran /init.
    HangInKernel,
    /// No DONE in time after /init ran: init or the suite stalled (or
    /// QEMU did not stop after the guest's end).
    HangInUserspace,
    /// No DONE in time, but the console was still talking just before the
    /// kill: too slow for the limit under this load, not stuck.
    SlowAtTimeout,
    /// The kernel's check that the timer interrupt arrives gave up ("IO-APIC
    /// + timer doesn't work!"): a starved vCPU misses the short window.
    TimerCheckPanic,
    KernelPanic,
    /// QEMU exited with its own error line (a bad device, a bad option).
    QemuError,
    /// QEMU exited without the guest's DONE, no panic, no error line.
    QemuExitWithoutMarker,
    /// The log has no ending written by the harness (cut short).
    Unfinished,
}

impl Cause {
    pub fn name(self) -> &'static str {
        match self {
            Cause::Completed => "completed",
            Cause::PitCalibrationHang => "pit-calibration-hang",
            Cause::HangBeforeKernel => "hang-before-kernel",
            Cause::HangInKernel => "hang-in-kernel",
            Cause::HangInUserspace => "hang-in-userspace",
            Cause::SlowAtTimeout => "slow-at-timeout",
            Cause::TimerCheckPanic => "timer-check-panic",
            Cause::KernelPanic => "kernel-panic",
            Cause::QemuError => "qemu-error",
            Cause::QemuExitWithoutMarker => "qemu-exit-without-marker",
            Cause::Unfinished => "unfinished",
        }
    }

    /// A hang: the harness had to kill QEMU at the time limit.
    pub fn is_hang(self) -> bool {
        matches!(
            self,
            Cause::PitCalibrationHang
                | Cause::HangBeforeKernel
                | Cause::HangInKernel
                | Cause::HangInUserspace
                | Cause::SlowAtTimeout
        )
    }
}

/// The lines of a console log that the kernel printed (`[ secs] ...`).
fn kernel_lines(log: &str) -> impl Iterator<Item = &str> {
    log.lines().filter(|l| {
        l.trim_start()
            .strip_prefix('[')
            .and_then(|r| r.split(']').next())
            .is_some_and(|t| t.trim().parse::<f64>().is_ok())
    })
}

/// Whether the kernel said its TSC could not be calibrated against the PIT
/// (seen on boots that still finish: q35 then falls back to the HPET).
pub fn pit_message(log: &str) -> bool {
    kernel_lines(log).any(|l| {
        l.contains("Unable to calibrate against PIT") || l.contains("could not calculate TSC khz")
    })
}

/// A guest silent for less than this before the time limit was still
/// booting, only slowly.
pub const SILENT_HANG_S: f64 = 5.0;

/// From the harness's timeout line: how long the console had been silent
/// when QEMU was killed.
fn silent_for(trailer: &str) -> Option<f64> {
    let rest = trailer.split("its last console line came ").nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

/// Classifies one attempt from its console log, as `boot::run` wrote it
/// (its last line says how QEMU ended).
pub fn classify(log: &str) -> Cause {
    let console = Console::parse(log);
    let trailer = log
        .lines()
        .rev()
        .find(|l| l.starts_with("[gsi-workbench] "))
        .unwrap_or("");
    if console.done || trailer.contains("guest done") {
        return Cause::Completed;
    }
    if !console.panic.is_empty() {
        return if console.panic[0].contains("IO-APIC + timer doesn't work") {
            Cause::TimerCheckPanic
        } else {
            Cause::KernelPanic
        };
    }
    if trailer.contains("QEMU exited") {
        return if console.qemu_errors.is_empty() {
            Cause::QemuExitWithoutMarker
        } else {
            Cause::QemuError
        };
    }
    if !trailer.contains("no end after") {
        return Cause::Unfinished;
    }
    if silent_for(trailer).is_some_and(|s| s < SILENT_HANG_S) {
        return Cause::SlowAtTimeout;
    }
    if !console.kernel_started {
        return Cause::HangBeforeKernel;
    }
    let init_ran = log.contains("Run /init as init process") || log.contains("gsi-init:");
    if init_ran {
        return Cause::HangInUserspace;
    }
    let last = kernel_lines(log).last().unwrap_or("").to_lowercase();
    if last.contains("tsc") || last.contains("calibrat") || last.contains("pit") {
        Cause::PitCalibrationHang
    } else {
        Cause::HangInKernel
    }
}

/// One run: the first attempt and, after a hang, the retry.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub attempts: Vec<Attempt>,
}

#[derive(Debug, Clone)]
pub struct Attempt {
    pub cause: Cause,
    /// The judged verdict (`passed`, `test-failed`, `timeout`, ...).
    pub verdict: crate::report::Verdict,
    pub pit_message: bool,
    pub secs: f64,
}

impl RunResult {
    pub fn clean(&self) -> bool {
        self.attempts.len() == 1 && self.attempts[0].verdict.is_success()
    }

    pub fn passed_on_retry(&self) -> bool {
        self.attempts.len() > 1 && self.attempts.last().unwrap().verdict.is_success()
    }
}

/// Flake figures of one topology.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlakeTopology {
    pub topology: String,
    pub runs: usize,
    /// Passed on the first attempt.
    pub clean: usize,
    /// Hung, then passed on the retry.
    pub passed_on_retry: usize,
    /// Did not pass (after the retry, for a hang).
    pub failed: usize,
    /// Cause -> attempts, over every attempt that did not pass
    /// (`test-failed`: the guest completed but a check failed).
    pub causes: BTreeMap<String, usize>,
    /// Attempts whose kernel printed a PIT calibration failure.
    pub pit_message: usize,
    /// Seconds of the attempts that completed.
    pub boot_s: Option<Stats>,
}

impl FlakeTopology {
    /// Share of runs that were not clean.
    pub fn flake_rate(&self) -> f64 {
        if self.runs == 0 {
            0.0
        } else {
            (self.runs - self.clean) as f64 / self.runs as f64
        }
    }
}

/// Sums the runs of one topology.
pub fn summarize(topology: &str, runs: &[RunResult]) -> FlakeTopology {
    let mut causes = BTreeMap::new();
    let mut secs = Vec::new();
    let mut pit = 0;
    for attempt in runs.iter().flat_map(|r| &r.attempts) {
        if attempt.pit_message {
            pit += 1;
        }
        if attempt.cause == Cause::Completed {
            secs.push(attempt.secs);
        }
        if !attempt.verdict.is_success() {
            let name = if attempt.cause == Cause::Completed {
                attempt.verdict.name()
            } else {
                attempt.cause.name()
            };
            *causes.entry(name.to_string()).or_insert(0) += 1;
        }
    }
    let clean = runs.iter().filter(|r| r.clean()).count();
    let retry = runs.iter().filter(|r| r.passed_on_retry()).count();
    FlakeTopology {
        topology: topology.to_string(),
        runs: runs.len(),
        clean,
        passed_on_retry: retry,
        failed: runs.len() - clean - retry,
        causes,
        pit_message: pit,
        boot_s: Stats::of(&secs),
    }
}

/// The whole flake run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlakeRun {
    pub revision: String,
    pub n: usize,
    pub jobs: usize,
    /// Kernel command-line words dropped / added for this run.
    pub dropped: Vec<String>,
    pub appended: String,
    /// The load beside the boots, and how many of its builds finished.
    pub load: String,
    pub load_builds_finished: usize,
    pub load_start: String,
    pub load_end: String,
    pub secs: f64,
    pub logs: String,
    pub topologies: Vec<FlakeTopology>,
}

/// The flake table.
pub fn render(f: &FlakeRun) -> String {
    let mut out = format!(
        "flake: {} x {} runs per topology at --jobs {} beside {} ({} load builds finished); \
         load average {} -> {}{}{}\n",
        f.revision,
        f.n,
        f.jobs,
        f.load,
        f.load_builds_finished,
        f.load_start,
        f.load_end,
        if f.dropped.is_empty() {
            String::new()
        } else {
            format!("; cmdline without {}", f.dropped.join(", "))
        },
        if f.appended.trim().is_empty() {
            String::new()
        } else {
            format!("; cmdline plus `{}`", f.appended.trim())
        },
    );
    out.push_str(&render_table(&f.topologies));
    out.push_str(&format!("logs: {}\n", f.logs));
    out
}

/// The per-topology rows of a flake run.
pub fn render_table(topologies: &[FlakeTopology]) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{:<22} {:>4} {:>5} {:>10} {:>6} {:>6} {:>7} {:>8}  causes (attempts)\n",
        "topology", "runs", "clean", "retry-pass", "failed", "flaky", "PIT msg", "median s"
    ));
    for t in topologies {
        let causes: Vec<String> = t.causes.iter().map(|(c, n)| format!("{c} {n}")).collect();
        out.push_str(&format!(
            "{:<22} {:>4} {:>5} {:>10} {:>6} {:>5.0}% {:>7} {:>8}  {}\n",
            t.topology,
            t.runs,
            t.clean,
            t.passed_on_retry,
            t.failed,
            t.flake_rate() * 100.0,
            t.pit_message,
            t.boot_s.map_or("-".into(), |s| format!("{:.2}", s.median)),
            if causes.is_empty() {
                "-".to_string()
            } else {
                causes.join(", ")
            }
        ));
    }
    out
}

/// Classifies the console logs a flake run left in `dir` again, without
/// booting (`bench --classify DIR`): `<topology>-<n>.console.log`, and
/// `.console.attempt1.log` beside it for a retried run.
pub fn from_logs(
    dir: &Path,
    revision: &str,
    matrix: &crate::config::matrix::Matrix,
) -> Result<Vec<FlakeTopology>> {
    let mut runs: BTreeMap<String, Vec<RunResult>> = BTreeMap::new();
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".console.log"))
        .collect();
    names.sort();
    for name in names {
        let stem = name.trim_end_matches(".console.log");
        let Some((topology, _)) = stem.rsplit_once('-') else {
            continue;
        };
        let first = dir.join(format!("{stem}.console.attempt1.log"));
        let mut attempts = Vec::new();
        for path in [first, dir.join(&name)] {
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let cause = classify(&text);
            let ending = match cause {
                Cause::Completed => console::Ending::Done,
                c if c.is_hang() => console::Ending::TimedOut,
                _ => console::Ending::Exited(None),
            };
            let xfail = |trial: &str| matrix.xfail(revision, topology, trial);
            // Read back from a log: the plan is not at hand, so only the
            // protocol's own counts are checked.
            let verdict = console::judge(&Console::parse(&text), ending, None, &xfail).verdict;
            let secs = text
                .lines()
                .rev()
                .find_map(|l| l.strip_prefix("[gsi-workbench] guest done after "))
                .and_then(|r| r.split_whitespace().next()?.parse().ok())
                .unwrap_or(0.0);
            attempts.push(Attempt {
                cause,
                verdict,
                pit_message: pit_message(&text),
                secs,
            });
        }
        runs.entry(topology.to_string())
            .or_default()
            .push(RunResult { attempts });
    }
    if runs.is_empty() {
        anyhow::bail!("no <topology>-<n>.console.log files in {}", dir.display());
    }
    Ok(runs.iter().map(|(t, r)| summarize(t, r)).collect())
}

/// `words` without those starting with any of `drop`.
pub fn drop_words(words: &str, drop: &[String]) -> String {
    words
        .split_whitespace()
        .filter(|w| !drop.iter().any(|d| w.starts_with(d.as_str())))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A kernel build running beside the boots as load, restarted whenever it
/// finishes, stopped (its whole process group) on [`LoadBuild::stop`] or
/// drop.
pub struct LoadBuild {
    stop: Arc<AtomicBool>,
    current: Arc<Mutex<Option<Arc<Running>>>>,
    thread: Option<std::thread::JoinHandle<usize>>,
    out: PathBuf,
    pub description: String,
}

impl LoadBuild {
    pub fn start(tree: &Path, out: PathBuf, jobs: usize) -> Result<LoadBuild> {
        std::fs::create_dir_all(&out)?;
        let stop = Arc::new(AtomicBool::new(false));
        let current: Arc<Mutex<Option<Arc<Running>>>> = Arc::default();
        let description = format!("make -j{jobs} of the pinned tree (tinyconfig, no ccache)");
        let thread = {
            let (stop, current, tree, out) = (
                Arc::clone(&stop),
                Arc::clone(&current),
                tree.to_path_buf(),
                out.clone(),
            );
            std::thread::spawn(move || {
                let mut finished = 0;
                while !stop.load(Ordering::SeqCst) {
                    let _ = std::fs::remove_dir_all(&out);
                    let _ = std::fs::create_dir_all(&out);
                    let o = format!("O={}", out.display());
                    let steps: [Vec<String>; 2] = [
                        vec![o.clone(), "tinyconfig".into()],
                        vec![o.clone(), format!("-j{jobs}"), "vmlinux".into()],
                    ];
                    let mut ok = true;
                    for step in steps {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let mut argv = vec!["-C".to_string(), tree.display().to_string()];
                        argv.extend(step);
                        let started = Cmd::new("make")
                            .args(&argv)
                            .env("LC_ALL", "C")
                            .stdout_null()
                            .stderr_null()
                            .start();
                        let Ok(handle) = started else {
                            return finished;
                        };
                        let handle = Arc::new(handle);
                        *current.lock().unwrap() = Some(Arc::clone(&handle));
                        // Stopped between the check and the registration:
                        // stop() may have found no handle to kill.
                        if stop.load(Ordering::SeqCst) {
                            kill(&handle);
                        }
                        let status = handle.wait().map(|o| o.status.success());
                        *current.lock().unwrap() = None;
                        if status.ok() != Some(true) {
                            ok = false;
                            break;
                        }
                    }
                    if ok && !stop.load(Ordering::SeqCst) {
                        finished += 1;
                    }
                    if !ok && !stop.load(Ordering::SeqCst) {
                        // A build that fails at once would spin: pause.
                        std::thread::sleep(Duration::from_secs(5));
                    }
                }
                finished
            })
        };
        Ok(LoadBuild {
            stop,
            current,
            thread: Some(thread),
            out,
            description,
        })
    }

    /// Stops the build and waits for it; returns how many builds finished.
    pub fn stop(mut self) -> usize {
        self.halt()
    }

    fn halt(&mut self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.current.lock().unwrap().as_ref() {
            kill(handle);
        }
        let finished = self
            .thread
            .take()
            .map_or(0, |t| t.join().unwrap_or_default());
        let _ = std::fs::remove_dir_all(&self.out);
        finished
    }
}

impl Drop for LoadBuild {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.halt();
        }
    }
}

fn kill(handle: &Running) {
    let _ = handle.kill();
}

/// One run of one topology: an attempt, and a retry after a hang.
fn one_run(
    setup: &Setup,
    topology: &Topology,
    (initrd, planned): &(PathBuf, Vec<String>),
    extra: &str,
    log: &Path,
) -> Result<RunResult> {
    let rev = &setup.revision.name;
    let xfail = |trial: &str| setup.matrix.xfail(rev, &topology.name, trial);
    let mut attempts = Vec::new();
    for attempt in 0..2 {
        let outcome = boot::run(&boot::Request {
            topology,
            bzimage: setup.kernel_for(topology).0,
            initrd,
            accel: setup.accel,
            timeout: Duration::from_secs(topology.spec.timeout_s),
            log: log.to_path_buf(),
            extra_cmdline: extra.to_string(),
            hypervisor: setup.kernel_for(topology).1,
        })?;
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let verdict =
            console::judge(&outcome.console, outcome.ending, Some(planned), &xfail).verdict;
        let cause = classify(&text);
        attempts.push(Attempt {
            cause,
            verdict,
            pit_message: pit_message(&text),
            secs: outcome.secs,
        });
        // Retried as test-matrix retries: a hang or a report that does
        // not add up.
        if !verdict.is_retried() || attempt == 1 {
            break;
        }
        let _ = std::fs::rename(log, log.with_extension("attempt1.log"));
    }
    Ok(RunResult { attempts })
}

pub fn run(setup: &Setup, options: &Options, reporter: &Reporter) -> Result<FlakeRun> {
    let topologies: Vec<Topology> = setup
        .topologies
        .iter()
        .map(|t| {
            let mut t = t.clone();
            t.spec.cmdline = drop_words(&t.spec.cmdline, &options.drop);
            t
        })
        .collect();
    let total = topologies.len() * options.n;
    reporter.stage(format!(
        "bench flake: {} topologies x {} runs of {} at --jobs {} beside a kernel build \
         ({total} runs, about {} min)",
        topologies.len(),
        options.n,
        setup.revision.name,
        options.jobs,
        (total * 8 / options.jobs).div_ceil(60)
    ));
    let bench = crate::work_dir().join("bench");
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let logs = bench.join(format!("flake-{stamp}"));
    prune_old_logs(&bench, 6);
    let rev = &setup.revision.name;
    // Each topology's initramfs and the trials its plan makes.
    let initrds = topologies
        .iter()
        .map(|t| {
            let plan =
                crate::model::plan::of(t, rev, setup.matrix.attribute(rev), setup.matrix.policy());
            let planned = console::planned_trials(&plan);
            guest::write_initramfs(&setup.binaries, &plan, t).map(|(p, _)| (p, planned))
        })
        .collect::<Result<Vec<_>>>()?;
    // Interleaved, so every topology sees the same mix of load.
    let queue: Vec<(usize, usize)> = (0..options.n)
        .flat_map(|i| (0..topologies.len()).map(move |t| (t, i)))
        .collect();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, RunResult)>> = Mutex::default();
    let load_start = super::loadavg();
    let started = Instant::now();
    let load = LoadBuild::start(
        &setup.pin.repo,
        super::scratch_dir("load")?,
        crate::pipeline::selection::cores(),
    )?;
    let description = load.description.clone();
    let outcome = std::thread::scope(|scope| -> Result<()> {
        let workers: Vec<_> = (0..options.jobs)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(&(t, n)) = queue.get(i) else {
                            return Ok(());
                        };
                        let topology = &topologies[t];
                        let log = logs.join(format!("{}-{n}.console.log", topology.name));
                        reporter.send(Event::BootStart {
                            revision: format!("flake {}/{total}", i + 1),
                            topology: topology.name.clone(),
                        });
                        let result = one_run(setup, topology, &initrds[t], &options.append, &log)?;
                        let last = result.attempts.last().unwrap();
                        reporter.send(Event::BootEnd {
                            revision: format!("flake {}/{total}", i + 1),
                            topology: topology.name.clone(),
                            verdict: if result.passed_on_retry() {
                                crate::report::Verdict::Flaky
                            } else {
                                last.verdict
                            },
                            secs: last.secs,
                        });
                        results.lock().unwrap().push((t, result));
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().expect("a flake worker panicked")?;
        }
        Ok(())
    });
    let load_builds_finished = load.stop();
    outcome?;
    let secs = started.elapsed().as_secs_f64();
    let results = results.into_inner().unwrap();
    let summaries = topologies
        .iter()
        .enumerate()
        .map(|(t, topo)| {
            let runs: Vec<RunResult> = results
                .iter()
                .filter(|(x, _)| *x == t)
                .map(|(_, r)| r.clone())
                .collect();
            summarize(&topo.name, &runs)
        })
        .collect();
    Ok(FlakeRun {
        revision: rev.clone(),
        n: options.n,
        jobs: options.jobs,
        dropped: options.drop.clone(),
        appended: options.append.clone(),
        load: description,
        load_builds_finished,
        load_start,
        load_end: super::loadavg(),
        secs: round3(secs),
        logs: crate::config::display(&logs),
        topologies: summaries,
    })
}

/// Keeps the `keep` newest `flake-*` log directories.
fn prune_old_logs(bench: &Path, keep: usize) {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(bench)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("flake-"))
        .map(|e| e.path())
        .collect();
    dirs.sort();
    let excess = dirs.len().saturating_sub(keep);
    for old in dirs.into_iter().take(excess) {
        let _ = std::fs::remove_dir_all(old);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Verdict;

    /// Real console logs from target/gsi/logs, kept as fixtures.
    fn fixture(name: &str) -> String {
        let path = crate::project_root()
            .join("xtask/tests/fixtures/consoles")
            .join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn real_logs_are_classified() {
        assert_eq!(
            classify(&fixture("microvm-pit-hang.log")),
            Cause::PitCalibrationHang
        );
        assert!(pit_message(&fixture("microvm-pit-hang.log")));
        assert_eq!(classify(&fixture("microvm-passed.log")), Cause::Completed);
        assert!(!pit_message(&fixture("microvm-passed.log")));
        assert_eq!(classify(&fixture("q35-passed.log")), Cause::Completed);
        assert_eq!(
            classify(&fixture("q35-killed-mid-boot.log")),
            Cause::QemuExitWithoutMarker
        );
        assert_eq!(classify(&fixture("q35-bad-device.log")), Cause::QemuError);
        assert_eq!(classify(&fixture("q35-panic.log")), Cause::KernelPanic);
        assert_eq!(
            classify(&fixture("q35-bridges-timer-check-panic.log")),
            Cause::TimerCheckPanic
        );
    }

    #[test]
    fn hangs_are_told_apart_by_how_far_the_boot_got() {
        let hung = "\n[gsi-workbench] no end after 60s: QEMU killed\n";
        assert_eq!(
            classify(&format!("$ qemu ...{hung}")),
            Cause::HangBeforeKernel
        );
        let kernel = "[    0.000000] Linux version 6.12.117+\n[    0.3] Mount-cache hash table entries: 512\n";
        assert_eq!(classify(&format!("{kernel}{hung}")), Cause::HangInKernel);
        let user = format!("{kernel}[    1.8] Run /init as init process\ngsi-init: starting\n");
        assert_eq!(classify(&format!("{user}{hung}")), Cause::HangInUserspace);
        // The trailer says how long the console had been silent.
        let still = "\n[gsi-workbench] no end after 60s: QEMU killed; its last console line came 0.4 s before\n";
        assert_eq!(classify(&format!("{kernel}{still}")), Cause::SlowAtTimeout);
        let silent = "\n[gsi-workbench] no end after 60s: QEMU killed; its last console line came 41.0 s before\n";
        assert_eq!(classify(&format!("{user}{silent}")), Cause::HangInUserspace);
        // A q35 prints the PIT message and goes on with the HPET: only the
        // last kernel words decide.
        let q35 = format!("{kernel}[    0.05] tsc: Unable to calibrate against PIT\n[    0.06] tsc: using HPET reference calibration\n[    0.4] smpboot: CPU0: AMD\n");
        assert_eq!(classify(&format!("{q35}{hung}")), Cause::HangInKernel);
        assert!(pit_message(&q35));
        assert_eq!(classify(kernel), Cause::Unfinished);
        // Forged output is no kernel line.
        assert!(!pit_message("gsi-suite: Unable to calibrate against PIT\n"));
    }

    fn attempt(cause: Cause, verdict: Verdict) -> Attempt {
        Attempt {
            cause,
            verdict,
            pit_message: cause == Cause::PitCalibrationHang,
            secs: 3.0,
        }
    }

    #[test]
    fn runs_are_summed_by_outcome_and_cause() {
        let clean = RunResult {
            attempts: vec![attempt(Cause::Completed, Verdict::Passed)],
        };
        let retried = RunResult {
            attempts: vec![
                attempt(Cause::PitCalibrationHang, Verdict::Timeout),
                attempt(Cause::Completed, Verdict::Passed),
            ],
        };
        let failed = RunResult {
            attempts: vec![
                attempt(Cause::HangInKernel, Verdict::Timeout),
                attempt(Cause::HangInKernel, Verdict::Timeout),
            ],
        };
        let wrong = RunResult {
            attempts: vec![attempt(Cause::Completed, Verdict::TestFailed)],
        };
        let t = summarize("microvm", &[clean.clone(), retried, failed, wrong, clean]);
        assert_eq!((t.runs, t.clean, t.passed_on_retry, t.failed), (5, 2, 1, 2));
        assert_eq!(t.causes["pit-calibration-hang"], 1);
        assert_eq!(t.causes["hang-in-kernel"], 2);
        assert_eq!(t.causes["test-failed"], 1);
        assert_eq!(t.pit_message, 1);
        assert_eq!(t.boot_s.unwrap().n, 4);
        assert!((t.flake_rate() - 0.6).abs() < 1e-9);
        let f = FlakeRun {
            revision: "v5".into(),
            n: 5,
            jobs: 2,
            dropped: vec!["tsc_early_khz".into()],
            appended: String::new(),
            load: "make".into(),
            load_builds_finished: 0,
            load_start: "2.0".into(),
            load_end: "3.0".into(),
            secs: 10.0,
            logs: "target/gsi/bench/flake-1".into(),
            topologies: vec![t],
        };
        let table = render(&f);
        let row = table.lines().find(|l| l.starts_with("microvm")).unwrap();
        assert!(
            row.contains("pit-calibration-hang 1") && row.contains("60%"),
            "{row}"
        );
        assert!(table.contains("without tsc_early_khz"), "{table}");
    }

    #[test]
    fn a_log_directory_is_classified_again() {
        let dir = tempfile::tempdir().unwrap();
        let copy = |fixture_name: &str, to: &str| {
            std::fs::write(dir.path().join(to), fixture(fixture_name)).unwrap();
        };
        copy("microvm-passed.log", "microvm-0.console.log");
        copy("microvm-pit-hang.log", "microvm-1.console.attempt1.log");
        copy("microvm-passed.log", "microvm-1.console.log");
        copy(
            "q35-bridges-timer-check-panic.log",
            "q35-bridges-0.console.log",
        );
        // The fixtures are v5 logs from before rfc1's policy, under which
        // v5's gsi-before-enable passes would be XPASS; what caused each
        // boot's end does not depend on the expected-failure list.
        let mut matrix = crate::config::matrix::load(&crate::config::matrix::path()).unwrap();
        matrix.spec.xfail.clear();
        let t = from_logs(dir.path(), "v5", &matrix).unwrap();
        let microvm = t.iter().find(|t| t.topology == "microvm").unwrap();
        assert_eq!(
            (microvm.runs, microvm.clean, microvm.passed_on_retry),
            (2, 1, 1)
        );
        assert_eq!(microvm.causes["pit-calibration-hang"], 1);
        assert_eq!(microvm.boot_s.unwrap().median, 6.99);
        let bridges = t.iter().find(|t| t.topology == "q35-bridges").unwrap();
        assert_eq!(
            (bridges.failed, bridges.causes["timer-check-panic"]),
            (1, 1)
        );
        assert!(render_table(&t).contains("pit-calibration-hang 1"));
        assert!(from_logs(&dir.path().join("none"), "v5", &matrix).is_err());
    }

    #[test]
    fn cmdline_words_are_dropped_by_prefix() {
        assert_eq!(
            drop_words("tsc_early_khz=2000000 acpi=off", &["tsc_early_khz".into()]),
            "acpi=off"
        );
        assert_eq!(drop_words("a b", &[]), "a b");
    }

    #[test]
    fn a_load_build_is_stopped_with_its_children() {
        // Not a kernel tree: make fails at once and the loop pauses; stop
        // must still return promptly and leave nothing running.
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("Makefile"),
            "tinyconfig:\n\t@true\nvmlinux:\n\tsleep 300\n",
        )
        .unwrap();
        let load = LoadBuild::start(tmp.path(), tmp.path().join("out"), 1).unwrap();
        std::thread::sleep(Duration::from_millis(700));
        let pgid = load
            .current
            .lock()
            .unwrap()
            .as_ref()
            .map(|h| h.pids()[0] as i32)
            .expect("the second step runs");
        assert!(crate::sys::process::group_is_running(pgid));
        assert_eq!(load.stop(), 0);
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            !crate::sys::process::group_is_running(pgid),
            "sleep outlived the stop"
        );
    }
}
