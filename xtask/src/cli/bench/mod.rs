//! `cargo xtask bench`: the workbench's own speed, measured on this
//! machine and printed as a table and JSON (`target/gsi/bench/`).
//!
//! Sections, each timed with the harness's own code (no subprocess except
//! where isolation is the point):
//! - `warm`: `test-matrix` on a profile with nothing changed (every kernel
//!   built first, outside the clock);
//! - `edit`: a one-line edit in one patch of one revision (a copy of the
//!   series in a scratch `GSI_PATCHES_DIR`), then the matrix again: time to
//!   the first verdict of that revision, which revisions rebuilt and which
//!   objects were compiled;
//! - `boots`: every topology booted `--boots` times one at a time: median,
//!   min and max seconds, where the time goes (before the kernel, kernel,
//!   init, suite) and QEMU's peak RSS;
//! - `cold` (opt-in, `--cold`): README's first command, `cargo xtask
//!   test-matrix`, in a fresh clone with an empty target/, work dir and
//!   ccache (only the pin's .deb present), run as a subprocess so nothing
//!   is shared: over its own first (cold) kernel build;
//! - `vng` (opt-in, `--vng`): virtme-ng from PyPI with its own recommended
//!   config, booting its kernel to run `true` under TCG, side by side;
//! - `flake` (opt-in, `--flake N`): [`flake`];
//! - `check-series` (opt-in, `--check-series`): `check-series` of the
//!   revision from cold `O=` dirs, then warm, every check timed
//!   ([`check_series`]).
//!
//! Nothing here is asserted against a target: the table says met or missed.

mod boots;
pub mod check_series;
mod cold;
mod edit;
pub mod flake;
mod floor;
mod table;
pub mod vng;
mod warm;

use crate::config::matrix;
use crate::config::topology::Topology;
use crate::pipeline::qemu::Accel;
use crate::pipeline::selection;
use crate::pipeline::{boot, build, guest, pin, revision};
use crate::sys::progress::{Event, Progress, Reporter};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Bumped on any incompatible change of the JSON layout.
pub const SCHEMA: u32 = 1;

/// A part of the bench that can be chosen with `--only`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Section {
    Warm,
    Edit,
    Boots,
    Cold,
    Vng,
    Flake,
    CheckSeries,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Profile of the warm and edit runs (`full` is what the 60 s target
    /// is about; `smoke` is quicker).
    #[arg(long, short, default_value = "smoke")]
    pub profile: String,
    /// Revision booted for the per-boot figures and --flake, and edited by
    /// the edit run (default: the newest, as `boot` takes it).
    #[arg(long, short)]
    pub revision: Option<String>,
    /// Revision booted in turn with --revision in the per-boot figures:
    /// the series' own cost is the ratio of the two (`none`: no compare).
    #[arg(long, default_value = "baseline", value_name = "REV")]
    pub compare: Option<String>,
    /// Topologies for the per-boot figures and --flake (default: all).
    #[arg(long = "topology", short = 't', value_name = "TOPO")]
    pub topologies: Vec<String>,
    /// Boots per topology for the per-boot figures (median, min, max).
    #[arg(long, default_value_t = 5)]
    pub boots: usize,
    /// Boots at once in the warm, edit and flake runs (default: cores).
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Also the cold run: README's first command (`cargo xtask
    /// test-matrix`) in a fresh clone of this checkout's HEAD with an empty
    /// work dir, ccache and target/. A cold kernel build, then every other
    /// revision from ccache and every boot: 10-40 minutes of 2 cores.
    #[arg(long)]
    pub cold: bool,
    /// Only this revision/topology in the cold run (`test-matrix -r REV
    /// -t TOPO`) instead of the whole command.
    #[arg(long, value_name = "REV/TOPO")]
    pub cold_run: Option<String>,
    /// Also virtme-ng side by side. The first time builds its kernel
    /// (x86 defconfig + virtme's options: about an hour of 2 cores; cached
    /// under target/gsi/vng/).
    #[arg(long)]
    pub vng: bool,
    /// virtme-ng boots to take the median of.
    #[arg(long, default_value_t = 3)]
    pub vng_boots: usize,
    /// Also the flake run: boot every topology N times at full --jobs
    /// beside a kernel build, and count what went wrong by cause.
    #[arg(long, value_name = "N")]
    pub flake: Option<usize>,
    /// Also `check-series` of the revision: first from cold `O=` dirs,
    /// then warm, each check timed.
    #[arg(long)]
    pub check_series: bool,
    /// In the flake run, drop kernel command-line words of the topologies
    /// that start with this (e.g. `tsc_early_khz`), to measure a setting.
    #[arg(long, value_name = "WORD")]
    pub flake_drop: Vec<String>,
    /// In the flake run, add these kernel command-line words.
    #[arg(long, value_name = "WORDS", default_value = "")]
    pub flake_append: String,
    /// Run only these sections (default: warm, edit, boots, plus the ones
    /// asked for with --cold, --vng, --flake).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub only: Vec<Section>,
    /// Only classify the console logs a flake run left in DIR again (no
    /// boot), with the revision of --revision.
    #[arg(long, value_name = "DIR")]
    pub classify: Option<PathBuf>,
    /// Also write the JSON here (it is always written to
    /// target/gsi/bench/bench-<time>.json).
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
}

impl Args {
    /// The revision of --revision, or the newest one.
    pub fn revision(&self) -> Result<String> {
        match &self.revision {
            Some(name) => Ok(name.clone()),
            None => selection::newest_revision(),
        }
    }

    /// The sections this invocation runs, in running order.
    pub fn sections(&self) -> Vec<Section> {
        let mut chosen: Vec<Section> = if self.only.is_empty() {
            let mut s = vec![Section::Warm, Section::Edit, Section::Boots];
            if self.cold {
                s.push(Section::Cold);
            }
            if self.vng {
                s.push(Section::Vng);
            }
            if self.flake.is_some() {
                s.push(Section::Flake);
            }
            if self.check_series {
                s.push(Section::CheckSeries);
            }
            s
        } else {
            self.only.clone()
        };
        chosen.sort();
        chosen.dedup();
        chosen
    }
}

/// Median, min and max of a few samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub n: usize,
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Stats {
    /// `None` for no samples; the median of an even count is the mean of
    /// the middle two.
    pub fn of(samples: &[f64]) -> Option<Stats> {
        let mut s: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
        if s.is_empty() {
            return None;
        }
        s.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let n = s.len();
        let median = if n % 2 == 1 {
            s[n / 2]
        } else {
            (s[n / 2 - 1] + s[n / 2]) / 2.0
        };
        Some(Stats {
            n,
            median: round3(median),
            min: round3(s[0]),
            max: round3(s[n - 1]),
        })
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A section's result, or why it has none (never a made-up number).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measured<T> {
    Measured(T),
    NotMeasured { reason: String },
}

impl<T> Measured<T> {
    pub fn get(&self) -> Option<&T> {
        match self {
            Measured::Measured(t) => Some(t),
            Measured::NotMeasured { .. } => None,
        }
    }

    fn from_result(result: Result<T>) -> Measured<T> {
        match result {
            Ok(t) => Measured::Measured(t),
            Err(err) => Measured::NotMeasured {
                reason: format!("{err:#}"),
            },
        }
    }
}

/// The whole bench as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchReport {
    pub schema: u32,
    /// Unix seconds at the start.
    pub started: u64,
    pub host: Host,
    pub accel: String,
    pub revision: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warm: Option<Measured<MatrixRun>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edit: Option<Measured<EditRun>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boots: Option<Measured<Vec<TopologyBoots>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cold: Option<Measured<ColdRun>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vng: Option<Measured<vng::VngRun>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flake: Option<Measured<flake::FlakeRun>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_series: Option<Measured<check_series::CheckSeriesBench>>,
    /// Peak RSS of this process (the harness, with every in-process
    /// section it ran), MiB.
    pub harness_peak_mib: f64,
}

/// The machine the figures were taken on, and how busy it was.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Host {
    pub cores: usize,
    /// `/proc/loadavg`'s first three fields at the start and the end.
    pub load_start: String,
    pub load_end: String,
    pub qemu: String,
}

/// One timed `test-matrix` run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MatrixRun {
    pub profile: String,
    pub revisions: Vec<String>,
    pub topologies: usize,
    pub runs: usize,
    pub secs: f64,
    /// Revisions whose kernel build started during the timed run.
    pub rebuilt: Vec<String>,
    /// Verdict name -> count.
    pub verdicts: BTreeMap<String, usize>,
    /// Sum of the boots' own seconds (more than `secs` with --jobs > 1).
    pub boot_secs_sum: f64,
    /// Whether identical earlier results were re-run (`--rerun`) rather
    /// than reused, when test-matrix has that flag.
    pub rerun: bool,
    /// Load average before the run.
    pub load: String,
}

/// The one-line-edit run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EditRun {
    pub revision: String,
    pub patch: String,
    pub line_before: String,
    pub line_after: String,
    /// Seconds from the start of the run to the first verdict of the
    /// edited revision.
    pub first_verdict_s: Option<f64>,
    /// `topology: verdict` of that first verdict.
    pub first_verdict: Option<String>,
    pub matrix: MatrixRun,
    /// The edited revision's build, from its start to its end.
    pub build_s: Option<f64>,
    /// Seconds spent waiting for another run's lock before the build
    /// (included in `first_verdict_s`).
    #[serde(default)]
    pub lock_wait_s: Option<f64>,
    /// Objects make compiled (`CC` lines of the build log).
    pub compiled: Vec<String>,
    /// Seconds from the start of the run to the last verdict of the
    /// edited revision's row.
    #[serde(default)]
    pub row_done_s: Option<f64>,
    /// Boots of that row, and the sum of their seconds.
    #[serde(default)]
    pub row_boots: usize,
    #[serde(default)]
    pub row_boot_secs: f64,
    /// Boots at once in the run.
    #[serde(default)]
    pub jobs: usize,
}

impl EditRun {
    /// Edit to the row's verdicts / (its incremental build + its boots'
    /// seconds / jobs): what the run added to the work it had to do.
    pub fn row_ratio(&self) -> Option<f64> {
        let done = self.row_done_s?;
        let work = self.build_s? + self.row_boot_secs / self.jobs.max(1) as f64;
        (work > 0.0).then(|| done / work)
    }
}

/// Per-boot figures of one topology.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TopologyBoots {
    pub topology: String,
    pub revision: String,
    /// Wall seconds of each boot, QEMU start to the guest's DONE.
    pub wall: Stats,
    pub verdicts: BTreeMap<String, usize>,
    /// QEMU start to the kernel's start: QEMU, firmware, decompression
    /// (wall at `Run /init` minus the guest clock there).
    pub pre_kernel: Option<Stats>,
    /// The kernel's boot to `Run /init` by the guest clock.
    pub kernel: Option<Stats>,
    /// `Run /init` to the suite's BEGIN.
    pub init: Option<Stats>,
    /// BEGIN to DONE: the suite and the sysfs dump.
    pub suite: Option<Stats>,
    /// CPU seconds QEMU used per boot: the boot's cost with the host's
    /// other work taken out (on an idle host, wall is close to this).
    #[serde(default)]
    pub qemu_cpu: Option<Stats>,
    /// Highest QEMU VmHWM of the boots, MiB.
    pub qemu_peak_mib: Option<f64>,
    /// The console log of the slowest boot.
    pub slowest_log: String,
    /// The same kernel and topology with the floor `/init`, booted in
    /// turn with these: wall seconds to its DONE.
    #[serde(default)]
    pub floor: Option<Stats>,
    /// The `--compare` revision on the same topology, booted in turn.
    #[serde(default)]
    pub compare: Option<Compared>,
}

/// Another revision's boots in the same rounds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Compared {
    pub revision: String,
    pub wall: Stats,
}

/// The cold run: README's first command in a fresh clone with an empty
/// work dir and ccache.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColdRun {
    /// The command, as run in the clone.
    pub command: String,
    /// Wall seconds of the whole command, cargo's build of the harness
    /// included.
    pub secs: f64,
    /// Cargo building the harness before its first line.
    pub xtask_build_s: Option<f64>,
    /// Unpacking and committing the pinned tree.
    pub pin_s: Option<f64>,
    /// Building the guest crates (from nothing: the clone's own target/).
    pub guest_s: Option<f64>,
    /// Each kernel build, in the order they ended: the first one compiled
    /// with an empty ccache (the cold build), the others reused it.
    pub builds: Vec<(String, f64)>,
    /// Boots run and their verdicts (name -> count).
    pub boots: usize,
    pub verdicts: BTreeMap<String, usize>,
    pub exit: Option<i32>,
}

impl ColdRun {
    /// The first kernel build: the one with an empty ccache.
    pub fn cold_build_s(&self) -> Option<f64> {
        self.builds.first().map(|(_, s)| *s)
    }

    /// The whole command / one cold kernel build of the same config, both
    /// in this run.
    pub fn ratio(&self) -> Option<f64> {
        let build = self.cold_build_s()?;
        (build > 0.0).then(|| self.secs / build)
    }
}

pub fn run(args: Args) -> Result<()> {
    if args.boots == 0 || args.vng_boots == 0 || args.flake == Some(0) {
        bail!("--boots, --vng-boots and --flake take at least 1");
    }
    if let Some(dir) = &args.classify {
        let matrix = matrix::load(&matrix::path())?;
        let rows = flake::from_logs(dir, &args.revision()?, &matrix)?;
        print!("{}", flake::render_table(&rows));
        return Ok(());
    }
    let sections = args.sections();
    let progress = Progress::start();
    let reporter = progress.reporter();
    let report = run_sections(&args, &sections, &reporter);
    progress.finish();
    let report = report?;
    let dir = crate::work_dir().join("bench");
    let path = dir.join(format!("bench-{}.json", report.started));
    let json = serde_json::to_string_pretty(&report)?;
    crate::write_atomic(&path, json.as_bytes())?;
    if let Some(extra) = &args.json {
        crate::write_atomic(extra, json.as_bytes())?;
    }
    print!("\n{}", table::render(&report));
    println!("\nJSON: {}", crate::config::display(&path));
    Ok(())
}

/// What every section needs, resolved once.
pub struct Setup {
    pub pin: pin::Pin,
    pub matrix: matrix::Matrix,
    pub binaries: guest::GuestBinaries,
    pub revision: revision::Revision,
    pub topologies: Vec<Topology>,
    pub accel: Accel,
    pub bzimage: PathBuf,
    /// The dom0 kernel and the hypervisor, when a selected topology boots
    /// under Xen.
    pub dom0: Option<(PathBuf, crate::pipeline::xen::Xen)>,
}

impl Setup {
    /// The kernel `topology` boots, and the hypervisor ELF it boots under.
    pub fn kernel_for(&self, topology: &Topology) -> (&std::path::Path, Option<&std::path::Path>) {
        match (&topology.spec.hypervisor, &self.dom0) {
            (Some(_), Some((bzimage, xen))) => (bzimage, Some(&xen.elf)),
            _ => (&self.bzimage, None),
        }
    }
}

fn setup(args: &Args, reporter: &Reporter) -> Result<Setup> {
    let topologies = if args.topologies.is_empty() {
        vec!["*".to_string()]
    } else {
        args.topologies.clone()
    };
    let selection = selection::select(None, &[args.revision()?], &topologies)?;
    if let Some(t) = selection
        .topologies
        .iter()
        .find(|t| t.spec.kernel.is_some())
    {
        anyhow::bail!(
            "{}: bench boots the usual kernel, and this topology boots the kernel variant {:?}; \
             time it with `cargo xtask test-matrix -t {}` (each run's boot_s)",
            crate::config::display(&t.path),
            t.spec.kernel.as_deref().unwrap_or_default(),
            t.name
        );
    }
    crate::sys::tools::ensure(
        &[crate::sys::tools::BUILD, crate::sys::tools::BOOT].concat(),
        true,
        reporter,
    )?;
    let pin = pin::resolve(&crate::config::configs_dir().join("kernel.toml"), reporter)?;
    let binaries = guest::build_binaries(reporter, false)?;
    let revision = selection.revisions[0].clone();
    let built = build::build(&pin, &revision, selection::cores(), reporter)?;
    let dom0 = if selection
        .topologies
        .iter()
        .any(|t| t.spec.hypervisor.is_some())
    {
        let xen = crate::pipeline::xen::resolve(&crate::config::xen::path(), reporter)?;
        let b = build::build(&pin.for_dom0(&xen), &revision, selection::cores(), reporter)?;
        Some((b.bzimage, xen))
    } else {
        None
    };
    let accel = boot::detect_accel(&built.bzimage, reporter)?;
    Ok(Setup {
        pin,
        matrix: selection.matrix,
        binaries,
        revision,
        topologies: selection.topologies,
        accel,
        bzimage: built.bzimage,
        dom0,
    })
}

fn run_sections(args: &Args, sections: &[Section], reporter: &Reporter) -> Result<BenchReport> {
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    clean_stale_scratch();
    let mut report = BenchReport {
        schema: SCHEMA,
        started,
        host: Host {
            cores: selection::cores(),
            load_start: loadavg(),
            load_end: String::new(),
            qemu: qemu_version(),
        },
        accel: String::new(),
        revision: args.revision()?,
        warm: None,
        edit: None,
        boots: None,
        cold: None,
        vng: None,
        flake: None,
        check_series: None,
        harness_peak_mib: 0.0,
    };
    reporter.stage(format!(
        "bench: {} (load average {}; other work on this machine slows every figure)",
        sections
            .iter()
            .map(|s| format!("{s:?}").to_lowercase())
            .collect::<Vec<_>>()
            .join(", "),
        report.host.load_start
    ));
    // check-series builds its own trees: it needs no kernel or guest.
    let setup = if sections.iter().any(|s| *s != Section::CheckSeries) {
        let setup = setup(args, reporter)?;
        report.accel = setup.accel.name().into();
        Some(setup)
    } else {
        report.accel = "-".into();
        None
    };
    for section in sections {
        if *section == Section::CheckSeries {
            report.check_series = Some(Measured::from_result(check_series::run(
                &report.revision,
                reporter,
            )));
            if let Some(Err(reason)) = section_error(&report, *section) {
                reporter.send(Event::Warn(format!(
                    "bench {section:?}: not measured: {reason}"
                )));
            }
            continue;
        }
        let setup = setup.as_ref().expect("set up for every other section");
        match section {
            Section::Warm => {
                report.warm = Some(Measured::from_result(warm::warm(args, reporter)));
            }
            Section::Edit => {
                report.edit = Some(Measured::from_result(edit::edit(args, setup, reporter)));
            }
            Section::Boots => {
                report.boots = Some(Measured::from_result(boots::boots(args, setup, reporter)));
            }
            Section::Cold => {
                report.cold = Some(Measured::from_result(cold::cold(args, setup, reporter)));
            }
            Section::Vng => {
                report.vng = Some(Measured::from_result(vng::run(
                    setup,
                    args.vng_boots,
                    reporter,
                )));
            }
            Section::CheckSeries => unreachable!("run above"),
            Section::Flake => {
                let options = flake::Options {
                    n: args.flake.unwrap_or(10),
                    jobs: args.jobs.unwrap_or_else(selection::cores).max(1),
                    drop: args.flake_drop.clone(),
                    append: args.flake_append.clone(),
                };
                report.flake = Some(Measured::from_result(flake::run(setup, &options, reporter)));
            }
        }
        if let Some(Err(reason)) = section_error(&report, *section) {
            reporter.send(Event::Warn(format!(
                "bench {section:?}: not measured: {reason}"
            )));
        }
    }
    report.host.load_end = loadavg();
    report.harness_peak_mib = self_peak_mib();
    Ok(report)
}

fn section_error(report: &BenchReport, section: Section) -> Option<Result<(), String>> {
    fn err<T>(m: &Option<Measured<T>>) -> Option<Result<(), String>> {
        match m.as_ref()? {
            Measured::Measured(_) => Some(Ok(())),
            Measured::NotMeasured { reason } => Some(Err(reason.clone())),
        }
    }
    match section {
        Section::Warm => err(&report.warm),
        Section::Edit => err(&report.edit),
        Section::Boots => err(&report.boots),
        Section::Cold => err(&report.cold),
        Section::Vng => err(&report.vng),
        Section::Flake => err(&report.flake),
        Section::CheckSeries => err(&report.check_series),
    }
}

/// A scratch directory of this process under `target/gsi/bench/`, removed
/// by the section that made it, or by the next bench when this one was
/// interrupted.
fn scratch_dir(what: &str) -> Result<PathBuf> {
    let dir = crate::work_dir()
        .join("bench")
        .join(format!("scratch-{}-{what}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// Removes scratch directories of bench processes that no longer run.
fn clean_stale_scratch() {
    let dir = crate::work_dir().join("bench");
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(pid) = name
            .strip_prefix("scratch-")
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn qemu_version() -> String {
    crate::sys::process::Cmd::new(crate::pipeline::qemu::QEMU)
        .arg("--version")
        .stderr_null()
        .read()
        .map(|s| s.lines().next().unwrap_or("").to_string())
        .unwrap_or_default()
}

/// This process's peak RSS (VmHWM), MiB. Not getrusage: Linux carries
/// ru_maxrss across execve, so under `cargo xtask` it reports cargo's own
/// peak.
fn self_peak_mib() -> f64 {
    boot::peak_rss_kib(std::process::id()).map_or(0.0, |k| round3(k as f64 / 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_min_max() {
        let s = Stats::of(&[3.0, 1.0, 2.0, 10.0, 4.0]).unwrap();
        assert_eq!((s.n, s.median, s.min, s.max), (5, 3.0, 1.0, 10.0));
        let even = Stats::of(&[4.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!(even.median, 2.5);
        assert!(Stats::of(&[]).is_none());
        assert_eq!(Stats::of(&[f64::NAN, 2.0]).unwrap().n, 1);
    }

    #[test]
    fn sections_default_and_opt_in() {
        let parse = |words: &[&str]| {
            #[derive(clap::Parser)]
            struct W {
                #[command(flatten)]
                a: Args,
            }
            use clap::Parser;
            W::try_parse_from(std::iter::once("bench").chain(words.iter().copied()))
                .unwrap()
                .a
                .sections()
        };
        assert_eq!(
            parse(&[]),
            vec![Section::Warm, Section::Edit, Section::Boots]
        );
        assert_eq!(
            parse(&["--cold", "--flake", "3", "--check-series"]),
            vec![
                Section::Warm,
                Section::Edit,
                Section::Boots,
                Section::Cold,
                Section::Flake,
                Section::CheckSeries
            ]
        );
        assert_eq!(
            parse(&["--only", "flake,boots"]),
            vec![Section::Boots, Section::Flake]
        );
    }
}
