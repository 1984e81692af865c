//! A whole matrix run, the pipeline end to end: builds run one after the
//! other (each uses every core); boots start as soon as their kernel
//! exists and run `--jobs` at a time, each reusing an identical earlier
//! boot's result where it can ([`crate::pipeline::results`]) and retrying
//! a hang once.

use crate::config::matrix::{self, Matrix};
use crate::config::topology::Topology;
use crate::pipeline::boot;
use crate::pipeline::console;
use crate::pipeline::pin::{self, Pin};
use crate::pipeline::qemu::Accel;
use crate::pipeline::revision::{DoesNotApply, Revision};
use crate::pipeline::selection::{cores, select};
use crate::pipeline::{build, guest};
use crate::report::Verdict;
use crate::report::{PinInfo, Report, Run};
use crate::sys::progress::{Event, Reporter};
use crate::sys::tools;
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;
/// What to run: the selection, how, and where the JSON report goes. The
/// `test-matrix` verb takes these as its flags; `mutants` and `bench`
/// build them for their own runs.
#[derive(Debug, Clone, Default, clap::Args)]
// No argument group of its own: the verb's `Args` (flattening this one)
// is already the group named `Args`.
#[group(skip)]
pub struct Args {
    /// Profile from configs/matrix.toml (default: its default_profile).
    #[arg(long, short)]
    pub profile: Option<String>,
    /// Only these revisions (repeatable); overrides the profile's list. A
    /// revision may also be a range of your own git tree:
    /// NAME=/path/to/linux:BASE..BRANCH (exported with git format-patch).
    #[arg(long = "revision", short = 'r', value_name = "REV")]
    pub revisions: Vec<String>,
    /// Only these topologies (repeatable); overrides the profile's list.
    #[arg(long = "topology", short = 't', value_name = "TOPO")]
    pub topologies: Vec<String>,
    /// Boots run at once (default: number of cores).
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Write the JSON report here (also always at target/gsi/last-run.json).
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Per-boot timeout in seconds, overriding each topology's timeout_s.
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    /// Do not install missing Debian packages even when running as root.
    #[arg(long)]
    pub no_install: bool,
    /// Run one slice of the pairs: i/n, 1-based (with --list, */n lists every slice).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<crate::pipeline::shard::Spec>,
    /// Boot every run, even where an identical earlier boot (same kernel,
    /// initramfs, topology, QEMU, timeout) left a passed or test-failed
    /// result that would otherwise be reused.
    #[arg(long)]
    pub rerun: bool,
}

struct BootJob {
    revision: Revision,
    topology: Topology,
    bzimage: PathBuf,
    /// The hypervisor, for a topology with a `[hypervisor]` table.
    hypervisor: Option<crate::pipeline::xen::Xen>,
}

/// The pipeline; returns the report (also written to disk).
pub fn run_with(args: &Args, reporter: &Reporter) -> Result<Report> {
    let mut selection = select(args.profile.as_deref(), &args.revisions, &args.topologies)?;
    let slice = crate::pipeline::shard::Slice::of_selection(args.shard, &selection)?;
    selection
        .revisions
        .retain(|r| slice.needs_revision(&r.name));
    reporter.stage(format!(
        "test-matrix: {} revision(s) x {} topology(ies)",
        selection.revisions.len(),
        selection.topologies.len()
    ));
    tools::ensure(
        &[tools::BUILD, tools::BOOT].concat(),
        !args.no_install,
        reporter,
    )?;
    // Synthetic ACPI tables compile (or come from the cache) before any
    // kernel is built: an iasl error names its topology file now.
    for topology in &selection.topologies {
        crate::pipeline::acpi::tables_cpio(topology)?;
    }
    // The guest crates build while the pin is fetched and unpacked (on a
    // fresh machine: cargo's compiles beside xz, tar and git's hashing).
    let (pin, xen, binaries) = std::thread::scope(|scope| {
        let guest = scope.spawn(|| guest::build_binaries(reporter, false));
        let pin = pin::resolve(&crate::config::configs_dir().join("kernel.toml"), reporter);
        // Fetched, verified and unpacked only when a selected topology
        // runs under it.
        let xen = match &pin {
            Ok(_) => selection
                .topologies
                .iter()
                .any(|t| t.spec.hypervisor.is_some())
                .then(|| crate::pipeline::xen::resolve(&crate::config::xen::path(), reporter))
                .transpose(),
            Err(_) => Ok(None),
        };
        let binaries = guest
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("building the guest crates panicked")));
        Ok::<_, anyhow::Error>((pin?, xen?, binaries?))
    })?;
    let jobs = args.jobs.unwrap_or_else(cores).max(1);
    let reuse = Reuse {
        store: crate::pipeline::results::Store::open(),
        qemu: crate::pipeline::results::qemu_identity(),
        rerun: args.rerun,
    };

    let (tx, rx) = mpsc::channel::<BootJob>();
    let rx = Arc::new(Mutex::new(rx));
    let runs: Arc<Mutex<Vec<Run>>> = Arc::default();
    let accel: Arc<Mutex<Option<Accel>>> = Arc::default();
    let log_dir = new_log_dir()?;

    std::thread::scope(|scope| -> Result<()> {
        // Owned here, so every way out of this closure (an error included)
        // closes the queue and lets the boot workers finish.
        let tx = tx;
        for _ in 0..jobs {
            let rx = Arc::clone(&rx);
            let runs = Arc::clone(&runs);
            let accel = Arc::clone(&accel);
            let binaries = &binaries;
            let matrix = &selection.matrix;
            let log_dir = &log_dir;
            let reuse = &reuse;
            scope.spawn(move || loop {
                let job = match rx.lock().unwrap().recv() {
                    Ok(job) => job,
                    Err(_) => break,
                };
                let accel = accel.lock().unwrap().unwrap_or(Accel::Tcg);
                let run = boot_one(
                    &job,
                    binaries,
                    matrix,
                    accel,
                    args.timeout,
                    log_dir,
                    reuse,
                    reporter,
                );
                runs.lock().unwrap().push(run);
            });
        }
        reporter.stage("build and boot");
        // Each kernel the selected topologies boot, per revision: the
        // usual one, a variant (`kernel = "debug"`), and the dom0 kernel
        // (Xen's fragments on top) for those that boot under Xen.
        let mut kinds: Vec<(Option<String>, bool)> = Vec::new();
        for t in &selection.topologies {
            let kind = (t.spec.kernel.clone(), t.spec.hypervisor.is_some());
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        for rev in &selection.revisions {
            for (variant, dom0) in &kinds {
                let topologies: Vec<&Topology> = selection
                    .topologies
                    .iter()
                    .filter(|t| slice.keeps(&rev.name, &t.name))
                    .filter(|t| t.spec.kernel == *variant)
                    .filter(|t| t.spec.hypervisor.is_some() == *dom0)
                    .collect();
                if topologies.is_empty() {
                    continue;
                }
                let hypervisor = if *dom0 { xen.as_ref() } else { None };
                let mut kernel_pin = match hypervisor {
                    Some(x) => pin.for_dom0(x),
                    None => pin.clone(),
                };
                if let Some(v) = variant {
                    kernel_pin.config = kernel_pin.config.with_variant(v)?;
                }
                let kernel_pin = &kernel_pin;
                let label = build::label(kernel_pin, rev);
                let built = build::build(kernel_pin, rev, cores(), reporter);
                match built {
                    Ok(b) => {
                        if b.cached {
                            let dir = b.bzimage.parent().and_then(|d| d.file_name());
                            let dir = dir.map(|d| d.to_string_lossy().to_string());
                            let own = build::name(kernel_pin, rev);
                            let other = match dir {
                                Some(d) if d != format!("{own}-{}", b.key) => {
                                    format!(" (the same patches, built as {d})")
                                }
                                _ => String::new(),
                            };
                            reporter.note(format!("build {label}: cached kernel {}{other}", b.key));
                        }
                        let mut chosen = accel.lock().unwrap();
                        if chosen.is_none() {
                            *chosen = Some(boot::detect_accel(&b.bzimage, reporter)?);
                        }
                        drop(chosen);
                        for topology in topologies {
                            tx.send(BootJob {
                                revision: rev.clone(),
                                topology: topology.clone(),
                                bzimage: b.bzimage.clone(),
                                hypervisor: hypervisor.cloned(),
                            })
                            .context("boot workers are gone")?;
                        }
                    }
                    Err(err) => {
                        let log = build::log_path(kernel_pin, rev);
                        reporter.send(Event::Warn(format!("{label}: {err:#}")));
                        let verdict = build_error_verdict(&err);
                        let mut runs = runs.lock().unwrap();
                        for topology in topologies {
                            runs.push(Run {
                                revision: rev.name.clone(),
                                topology: topology.name.clone(),
                                verdict,
                                boot_s: 0.0,
                                log: crate::config::display(&log),
                                trials: vec![],
                                detail: format!("{err:#}"),
                                sysfs: Default::default(),
                                sysfs_after: Default::default(),
                                differential: Default::default(),
                                reused_from: None,
                            });
                        }
                    }
                }
            }
        }
        drop(tx);
        Ok(())
    })?;

    let mut runs = Arc::try_unwrap(runs)
        .expect("workers joined")
        .into_inner()
        .unwrap();
    let order = |r: &Run| {
        (
            selection
                .revisions
                .iter()
                .position(|x| x.name == r.revision),
            selection
                .topologies
                .iter()
                .position(|x| x.name == r.topology),
        )
    };
    runs.sort_by_key(order);
    crate::report::differential::check(&mut runs);
    let report = Report {
        schema: crate::report::SCHEMA,
        pin: pin_info(&pin),
        accel: accel.lock().unwrap().unwrap_or(Accel::Tcg).name().into(),
        runs,
    };
    report.write_json(&crate::work_dir().join("last-run.json"))?;
    if let Some(path) = &args.json {
        report.write_json(path)?;
    }
    Ok(report)
}

/// The verdict of a revision whose kernel could not be made: a patch that
/// does not apply (through whatever context the build added) is
/// `apply-failed`, anything else `build-failed`.
fn build_error_verdict(err: &anyhow::Error) -> Verdict {
    if err.downcast_ref::<DoesNotApply>().is_some() {
        Verdict::ApplyFailed
    } else {
        Verdict::BuildFailed
    }
}

/// A log directory of this run's own, `target/gsi/logs/run-<time>-<pid>`,
/// so runs at once never write one file; `logs/last` points at the newest,
/// and only the 20 newest are kept.
pub fn new_log_dir() -> Result<PathBuf> {
    let logs = crate::work_dir().join("logs");
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let name = format!("run-{secs}-{}", std::process::id());
    let dir = logs.join(&name);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let link = logs.join(format!(".last-{}", std::process::id()));
    let _ = std::fs::remove_file(&link);
    if std::os::unix::fs::symlink(&name, &link).is_ok() {
        let _ = std::fs::rename(&link, logs.join("last"));
    }
    let mut runs: Vec<_> = std::fs::read_dir(&logs)?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("run-"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    runs.sort();
    let excess = runs.len().saturating_sub(20);
    for (_, old) in runs.into_iter().take(excess) {
        let _ = std::fs::remove_dir_all(old);
    }
    Ok(dir)
}

pub fn pin_info(pin: &Pin) -> PinInfo {
    let kind = match &pin.source {
        crate::config::kernel::Source::Debian { .. } => "debian",
        crate::config::kernel::Source::Git { .. } => "git",
        crate::config::kernel::Source::Path { .. } => "path",
    };
    PinInfo {
        source: format!("{kind} {}", pin.description),
        version: pin.version.clone(),
        // The JSON field keeps its name (schema): for git and path pins it
        // holds the commit id.
        sha256: pin.pinned_by.id().to_string(),
    }
}

/// What the boot workers share to reuse earlier results.
struct Reuse {
    store: crate::pipeline::results::Store,
    /// [`crate::pipeline::results::qemu_identity`], taken once per run.
    qemu: String,
    /// `--rerun`: boot anyway (and store the new result).
    rerun: bool,
}

/// The file name of the image QEMU is handed for `job` (the vmlinux of
/// a direct boot, the bzImage under Xen), as [`boot::kernel_image`]
/// decides it for the boot itself.
fn entry_image(job: &BootJob) -> Result<String> {
    let hypervisor = job.hypervisor.as_ref().map(|x| x.elf.as_path());
    let image = boot::kernel_image(&job.bzimage, hypervisor)?;
    Ok(image
        .file_name()
        .map_or(String::new(), |n| n.to_string_lossy().into_owned()))
}

/// Everything that decides the verdict of `job` (see [`crate::pipeline::results`]).
fn result_inputs(
    job: &BootJob,
    matrix: &Matrix,
    accel: Accel,
    timeout_s: u64,
    initramfs: &str,
    qemu: &str,
) -> Result<crate::pipeline::results::Inputs> {
    let (rev, topo) = (&job.revision.name, &job.topology.name);
    // Recorded by the build beside the image and checked by it just now.
    let kernel = match std::fs::read_to_string(job.bzimage.with_extension("sha256")) {
        Ok(sum) => sum.trim().to_string(),
        Err(_) => crate::sha256_file(&job.bzimage)?,
    };
    let command = crate::pipeline::qemu::command(
        &job.topology,
        accel,
        std::path::Path::new("KERNEL"),
        std::path::Path::new("INITRD"),
        "",
        job.hypervisor
            .as_ref()
            .map(|_| std::path::Path::new("HYPERVISOR")),
    );
    let xfail: Vec<String> = matrix
        .spec
        .xfail
        .iter()
        .filter(|x| matrix::glob(&x.revision, rev) && matrix::glob(&x.topology, topo))
        .map(|x| format!("{} {:?}", x.trial, x.reason))
        .collect();
    let inputs = crate::pipeline::results::Inputs::new()
        .with("kernel-sha256", kernel)
        .with("kernel-image", entry_image(job)?)
        .with("initramfs", initramfs)
        .with(
            "topology",
            format!("{topo} {}", crate::sha256_file(&job.topology.path)?),
        )
        .with("qemu", qemu)
        .with("qemu-args", crate::sys::process::shell_words(&command))
        .with("accel", accel.name())
        .with("timeout-s", timeout_s)
        .with("xfail", xfail.join("\n"));
    // Only for a boot under a hypervisor: the other boots keep the keys
    // their stored results were saved under.
    Ok(match &job.hypervisor {
        Some(x) => inputs.with("hypervisor-sha256", &x.elf_sha256),
        None => inputs,
    })
}

/// The stored result as this run's: its log copied into this run's log
/// directory, marked as reused.
fn reuse_stored(stored: crate::pipeline::results::Stored, log: &std::path::Path) -> Result<Run> {
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::copy(&stored.log, log)
        .with_context(|| format!("copying {} to {}", stored.log.display(), log.display()))?;
    Ok(Run {
        log: crate::config::display(log),
        reused_from: Some(stored.booted_in),
        ..stored.run
    })
}

#[allow(clippy::too_many_arguments)]
fn boot_one(
    job: &BootJob,
    binaries: &guest::GuestBinaries,
    matrix: &Matrix,
    accel: Accel,
    timeout: Option<u64>,
    log_dir: &std::path::Path,
    reuse: &Reuse,
    reporter: &Reporter,
) -> Run {
    let rev = &job.revision.name;
    let topo = &job.topology.name;
    let log = log_dir
        .join(job.revision.slug())
        .join(format!("{topo}.console.log"));
    let mut run = Run {
        revision: rev.clone(),
        topology: topo.clone(),
        verdict: Verdict::BootFailed,
        boot_s: 0.0,
        log: crate::config::display(&log),
        trials: vec![],
        detail: String::new(),
        sysfs: Default::default(),
        sysfs_after: Default::default(),
        differential: Default::default(),
        reused_from: None,
    };
    let plan = crate::model::plan::of(&job.topology, rev, matrix.attribute(rev), matrix.policy());
    let planned = console::planned_trials(&plan);
    let timeout_s = timeout.unwrap_or(job.topology.spec.timeout_s);
    let packed = guest::write_initramfs(binaries, &plan, &job.topology);
    let inputs = packed.as_ref().ok().and_then(|(_, hash)| {
        result_inputs(job, matrix, accel, timeout_s, hash, &reuse.qemu)
            .inspect_err(|err| {
                reporter.send(Event::Warn(format!(
                    "{rev}/{topo}: results cannot be reused ({err:#})"
                )))
            })
            .ok()
    });
    if let (Some(inputs), false) = (&inputs, reuse.rerun) {
        let reused = match reuse.store.lookup(inputs) {
            crate::pipeline::results::Lookup::Hit(stored) => Some(reuse_stored(*stored, &log)),
            crate::pipeline::results::Lookup::Miss => None,
            crate::pipeline::results::Lookup::Stale(why) => {
                reporter.note(format!("{rev}/{topo}: {why}: booting it again"));
                None
            }
            crate::pipeline::results::Lookup::Damaged(why) => Some(Err(anyhow::anyhow!("{why}"))),
        };
        match reused {
            Some(Ok(run)) => {
                reporter.send(Event::BootReused {
                    revision: rev.clone(),
                    topology: topo.clone(),
                    verdict: run.verdict,
                    from: run.reused_from.clone().unwrap_or_default(),
                });
                return run;
            }
            Some(Err(err)) => reporter.send(Event::Warn(format!(
                "{rev}/{topo}: ignoring the stored result ({err:#}); booting it again"
            ))),
            None => {}
        }
    }
    reporter.send(Event::BootStart {
        revision: rev.clone(),
        topology: topo.clone(),
    });
    let attempt = |log: &std::path::Path| match &packed {
        Ok((initrd, _)) => boot::run(&boot::Request {
            topology: &job.topology,
            bzimage: &job.bzimage,
            initrd,
            accel,
            timeout: Duration::from_secs(timeout_s),
            log: log.to_path_buf(),
            extra_cmdline: String::new(),
            hypervisor: job.hypervisor.as_ref().map(|x| x.elf.as_path()),
        }),
        Err(err) => Err(anyhow::anyhow!("{err:#}")),
    };
    let xfail = |trial: &str| matrix.xfail(rev, topo, trial);
    let judge = |o: &boot::BootResult| console::judge(&o.console, o.ending, Some(&planned), &xfail);
    let mut outcome = attempt(&log);
    // A hang under TCG, or a report that does not add up, is retried once
    // (the first log is kept beside the second, and named in the detail); a
    // pass on the retry is reported as `flaky`, never hidden.
    let mut first_try = None;
    if let Ok(first) = &outcome {
        let first = judge(first);
        if first.verdict.is_retried() {
            let kept = log.with_extension("attempt1.log");
            let _ = std::fs::rename(&log, &kept);
            first_try = Some((kept, first.verdict));
            outcome = attempt(&log);
        }
    }
    match outcome {
        Ok(outcome) => {
            let judged = judge(&outcome);
            run.verdict = match (&first_try, judged.verdict) {
                (Some(_), Verdict::Passed) => Verdict::Flaky,
                (_, verdict) => verdict,
            };
            // A kernel that ignored the synthetic tables booted QEMU's
            // own: whatever the suite said is about another machine.
            let console_log = std::fs::read(&log).unwrap_or_default();
            let missing = crate::pipeline::acpi::missing_upgrades(
                &job.topology,
                &String::from_utf8_lossy(&console_log),
            );
            let no_upgrade = (!missing.is_empty())
                .then(|| crate::pipeline::acpi::missing_message(&job.topology, &missing));
            if no_upgrade.is_some() {
                run.verdict = Verdict::BootFailed;
            }
            run.trials = judged.trials;
            run.sysfs = crate::report::differential::keyed(&outcome.console.sysfs);
            run.sysfs_after = crate::report::differential::keyed(&outcome.console.sysfs_after);
            run.boot_s = crate::secs(Duration::from_secs_f64(outcome.secs));
            let c = &outcome.console;
            let retry = first_try.as_ref().map(|(kept, first)| {
                let what = match first {
                    Verdict::Timeout => "timed out".to_string(),
                    other => format!("was {}", other.name()),
                };
                format!(
                    "first attempt {what} (log: {}); this is the retry",
                    crate::config::display(kept)
                )
            });
            // How QEMU ended, when the console does not say it already.
            let ending = match run.verdict {
                Verdict::QemuFailed | Verdict::BootFailed | Verdict::SuiteCrashed => {
                    outcome.ending.describe()
                }
                Verdict::HypervisorFailed => format!(
                    "{}\n{}",
                    outcome.console.hypervisor_failure(),
                    outcome.ending.describe()
                ),
                Verdict::Timeout => format!(
                    "{} ({} s)",
                    outcome.ending.describe(),
                    timeout.unwrap_or(job.topology.spec.timeout_s)
                ),
                _ => String::new(),
            };
            let complaints = if c.complaints.is_empty() {
                String::new()
            } else {
                format!("the kernel complained:\n{}", c.complaints.join("\n"))
            };
            run.detail = [
                no_upgrade.unwrap_or_default(),
                retry.unwrap_or_default(),
                complaints,
                judged.problems.join("\n"),
                c.panic.join("\n"),
                c.qemu_errors.join("\n"),
                c.init_errors.join("\n"),
                ending,
            ]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        }
        Err(err) => {
            run.verdict = Verdict::QemuFailed;
            run.detail = format!("{err:#}");
        }
    }
    if let Some(inputs) =
        inputs.filter(|_| crate::pipeline::results::storable(&run, first_try.is_some()))
    {
        let booted_in = log_dir
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().to_string());
        if let Err(err) = reuse.store.save(&inputs, &run, &log, &booted_in) {
            reporter.send(Event::Warn(format!(
                "{rev}/{topo}: the result was not stored for reuse ({err:#})"
            )));
        }
    }
    reporter.send(Event::BootEnd {
        revision: rev.clone(),
        topology: topo.clone(),
        verdict: run.verdict,
        secs: run.boot_s,
    });
    run
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_that_does_not_apply_is_its_own_verdict() {
        let apply = anyhow::Error::new(DoesNotApply("0002.patch does not apply".into()))
            .context("preparing the tree of v9")
            .context("build v9");
        assert_eq!(build_error_verdict(&apply), Verdict::ApplyFailed);
        assert!(format!("{apply:#}").contains("0002.patch does not apply"));
        let make = anyhow::anyhow!("make failed").context("build v9");
        assert_eq!(build_error_verdict(&make), Verdict::BuildFailed);
    }
}
