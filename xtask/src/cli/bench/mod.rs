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
//! - `cold` (opt-in, `--cold`): `test-matrix` for one revision x topology in
//!   an empty work dir with an empty ccache (only the pin's .deb present),
//!   run as a subprocess so nothing is shared; a full kernel build;
//! - `vng` (opt-in, `--vng`): virtme-ng from PyPI with its own recommended
//!   config, booting its kernel to run `true` under TCG, side by side;
//! - `flake` (opt-in, `--flake N`): [`flake`].
//!
//! Nothing here is asserted against a target: the table says met or missed.

pub mod flake;
pub mod vng;

use crate::config::matrix;
use crate::config::topology::Topology;
use crate::pipeline::qemu::Accel;
use crate::pipeline::selection;
use crate::pipeline::{boot, build, console, guest, pin, revision};
use crate::sys::progress::{Event, Progress, Reporter};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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
}

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Profile of the warm and edit runs (`full` is what the 60 s target
    /// is about; `smoke` is quicker).
    #[arg(long, short, default_value = "smoke")]
    pub profile: String,
    /// Revision booted for the per-boot figures and --flake, and edited by
    /// the edit run.
    #[arg(long, short, default_value = "v5")]
    pub revision: String,
    /// Topologies for the per-boot figures and --flake (default: all).
    #[arg(long = "topology", short = 't', value_name = "TOPO")]
    pub topologies: Vec<String>,
    /// Boots per topology for the per-boot figures (median, min, max).
    #[arg(long, default_value_t = 5)]
    pub boots: usize,
    /// Boots at once in the warm, edit and flake runs (default: cores).
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Also the cold run: an empty work dir and ccache, one revision x
    /// topology from scratch. A full kernel build: 15-40 minutes of 2 cores.
    #[arg(long)]
    pub cold: bool,
    /// Revision/topology of the cold run.
    #[arg(long, default_value = "v5/q35", value_name = "REV/TOPO")]
    pub cold_run: String,
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
}

/// The cold run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColdRun {
    pub revision: String,
    pub topology: String,
    pub secs: f64,
    /// Unpacking and committing the pinned tree.
    pub pin_s: Option<f64>,
    /// Building the guest crates (cached by cargo across runs: not cold).
    pub guest_s: Option<f64>,
    pub build_s: Option<f64>,
    pub boot_s: Option<f64>,
    pub verdict: String,
    pub exit: Option<i32>,
}

pub fn run(args: Args) -> Result<()> {
    if args.boots == 0 || args.vng_boots == 0 || args.flake == Some(0) {
        bail!("--boots, --vng-boots and --flake take at least 1");
    }
    if let Some(dir) = &args.classify {
        let matrix = matrix::load(&matrix::path())?;
        let rows = flake::from_logs(dir, &args.revision, &matrix)?;
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
    print!("\n{}", render(&report));
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
}

fn setup(args: &Args, reporter: &Reporter) -> Result<Setup> {
    let topologies = if args.topologies.is_empty() {
        vec!["*".to_string()]
    } else {
        args.topologies.clone()
    };
    let selection = selection::select(None, std::slice::from_ref(&args.revision), &topologies)?;
    crate::sys::tools::ensure(
        &[crate::sys::tools::BUILD, crate::sys::tools::BOOT].concat(),
        true,
        reporter,
    )?;
    let pin = pin::resolve(&crate::config::configs_dir().join("kernel.toml"), reporter)?;
    let binaries = guest::build_binaries(reporter, false)?;
    let revision = selection.revisions[0].clone();
    let built = build::build(&pin, &revision, selection::cores(), reporter)?;
    let accel = boot::detect_accel(&built.bzimage, reporter)?;
    Ok(Setup {
        pin,
        matrix: selection.matrix,
        binaries,
        revision,
        topologies: selection.topologies,
        accel,
        bzimage: built.bzimage,
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
        revision: args.revision.clone(),
        warm: None,
        edit: None,
        boots: None,
        cold: None,
        vng: None,
        flake: None,
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
    let setup = setup(args, reporter)?;
    report.accel = setup.accel.name().into();
    for section in sections {
        match section {
            Section::Warm => {
                report.warm = Some(Measured::from_result(warm(args, reporter)));
            }
            Section::Edit => {
                report.edit = Some(Measured::from_result(edit(args, &setup, reporter)));
            }
            Section::Boots => {
                report.boots = Some(Measured::from_result(boots(args, &setup, reporter)));
            }
            Section::Cold => {
                report.cold = Some(Measured::from_result(cold(args, &setup, reporter)));
            }
            Section::Vng => {
                report.vng = Some(Measured::from_result(vng::run(
                    &setup,
                    args.vng_boots,
                    reporter,
                )));
            }
            Section::Flake => {
                let options = flake::Options {
                    n: args.flake.unwrap_or(10),
                    jobs: args.jobs.unwrap_or_else(selection::cores).max(1),
                    drop: args.flake_drop.clone(),
                    append: args.flake_append.clone(),
                };
                report.flake = Some(Measured::from_result(flake::run(
                    &setup, &options, reporter,
                )));
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
    }
}

/// Events of an in-process `test-matrix` run, seen on their way to the
/// terminal, with the seconds since the tap was opened.
struct Tap {
    reporter: Reporter,
    thread: std::thread::JoinHandle<Vec<(f64, Event)>>,
}

impl Tap {
    fn open(forward: &Reporter) -> Tap {
        let (reporter, rx) = Reporter::collecting();
        let forward = forward.clone();
        let start = Instant::now();
        let thread = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for event in rx {
                // Of make's lines only the compiles are kept (the build
                // log is one per revision: another run may overwrite it).
                let keep = match &event {
                    Event::BuildLine { line, .. } => line.trim_start().starts_with("CC "),
                    _ => true,
                };
                if keep {
                    seen.push((start.elapsed().as_secs_f64(), event.clone()));
                }
                forward.send(event);
            }
            seen
        });
        Tap { reporter, thread }
    }

    fn close(self) -> Vec<(f64, Event)> {
        drop(self.reporter);
        self.thread.join().unwrap_or_default()
    }
}

/// The matrix run of a bench section: the profile (or `revisions` of
/// it), installing nothing, and with `--rerun`: identical earlier results
/// are booted again instead of reused, since the bench measures boots.
fn matrix_args(args: &Args, revisions: Vec<String>) -> crate::pipeline::run::Args {
    crate::pipeline::run::Args {
        profile: Some(args.profile.clone()),
        revisions,
        jobs: args.jobs,
        no_install: true,
        rerun: true,
        ..Default::default()
    }
}

/// Runs the matrix in this process and times it.
fn timed_matrix(
    args: crate::pipeline::run::Args,
    reporter: &Reporter,
) -> Result<(MatrixRun, Vec<(f64, Event)>)> {
    let (profile, rerun) = (args.profile.clone().unwrap_or_default(), args.rerun);
    let load = loadavg();
    let tap = Tap::open(reporter);
    let started = Instant::now();
    let result = crate::pipeline::run::run_with(&args, &tap.reporter);
    let secs = started.elapsed().as_secs_f64();
    let events = tap.close();
    let report = result?;
    let mut revisions: Vec<String> = Vec::new();
    for r in &report.runs {
        if !revisions.contains(&r.revision) {
            revisions.push(r.revision.clone());
        }
    }
    let topologies = {
        let mut t: Vec<&str> = report.runs.iter().map(|r| r.topology.as_str()).collect();
        t.sort();
        t.dedup();
        t.len()
    };
    let mut verdicts = BTreeMap::new();
    for r in &report.runs {
        *verdicts.entry(r.verdict.name().to_string()).or_insert(0) += 1;
    }
    Ok((
        MatrixRun {
            profile: profile.to_string(),
            revisions,
            topologies,
            runs: report.runs.len(),
            secs: round3(secs),
            rebuilt: rebuilt(&events),
            verdicts,
            boot_secs_sum: round3(report.runs.iter().map(|r| r.boot_s).sum()),
            rerun,
            load,
        },
        events,
    ))
}

/// Revisions whose build started, in order.
fn rebuilt(events: &[(f64, Event)]) -> Vec<String> {
    events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::BuildStart { revision } => Some(revision.clone()),
            _ => None,
        })
        .collect()
}

/// Builds every revision of `profile` outside the clock, so the warm run
/// starts with nothing to build.
fn build_profile(profile: &str, reporter: &Reporter) -> Result<Vec<String>> {
    let selection = selection::select(Some(profile), &[], &[])?;
    let pin = pin::resolve(&crate::config::configs_dir().join("kernel.toml"), reporter)?;
    for rev in &selection.revisions {
        build::build(&pin, rev, selection::cores(), reporter)?;
    }
    Ok(selection.revisions.iter().map(|r| r.name.clone()).collect())
}

fn warm(args: &Args, reporter: &Reporter) -> Result<MatrixRun> {
    reporter.stage(format!(
        "bench warm: every kernel of profile {} built first (outside the clock), then test-matrix timed",
        args.profile
    ));
    build_profile(&args.profile, reporter)?;
    let (run, _) = timed_matrix(matrix_args(args, vec![]), reporter)?;
    reporter.note(format!(
        "bench warm: {} runs in {:.1} s, rebuilt: {}",
        run.runs,
        run.secs,
        if run.rebuilt.is_empty() {
            "nothing".to_string()
        } else {
            run.rebuilt.join(", ")
        }
    ));
    Ok(run)
}

/// The edit the edit run makes: in the first added line of a `.c` file
/// that holds a string literal (a message), `bench-<nonce> ` goes in
/// right after the opening quote, so the object really changes and
/// compiles (a comment alone would be a ccache hit). Returns the new text,
/// the line before and after.
pub fn one_line_edit(patch: &str, nonce: &str) -> Option<(String, String, String)> {
    let mut file = "";
    let mut in_hunk = false;
    let mut out = String::with_capacity(patch.len() + 32);
    let mut edited = None;
    for line in patch.split_inclusive('\n') {
        if edited.is_none() {
            if let Some(rest) = line.strip_prefix("diff --git ") {
                file = rest.split_whitespace().last().unwrap_or("");
                in_hunk = false;
            } else if line.starts_with("@@ ") {
                in_hunk = true;
            } else if in_hunk
                && file.ends_with(".c")
                && line.starts_with('+')
                && !line.starts_with("+++")
                && !line[1..].trim_start().starts_with('#')
                && !line[1..].trim_start().starts_with("/*")
                && !line[1..].trim_start().starts_with('*')
            {
                if let Some(quote) = line.find('"') {
                    let new = format!("{}bench-{nonce} {}", &line[..=quote], &line[quote + 1..]);
                    edited = Some((line.trim_end().to_string(), new.trim_end().to_string()));
                    out.push_str(&new);
                    continue;
                }
            }
        }
        out.push_str(line);
    }
    edited.map(|(before, after)| (out, before, after))
}

/// The objects a kbuild log says were compiled (`  CC  path.o`).
pub fn compiled_objects(build_log: &str) -> Vec<String> {
    build_log
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some("CC")).then(|| words.next().map(str::to_string))?
        })
        .collect()
}

/// Copies each revision directory of `names` (and `baseline`) from the
/// series into `dest`.
fn copy_series(series: &Path, names: &[String], dest: &Path) -> Result<()> {
    let mut all: Vec<&str> = names.iter().map(String::as_str).collect();
    all.push("baseline");
    for name in all {
        let from = series.join(name);
        let to = dest.join(name);
        std::fs::create_dir_all(&to)?;
        for entry in std::fs::read_dir(&from)
            .with_context(|| format!("reading {}", from.display()))?
            .flatten()
        {
            if entry.file_type()?.is_file() {
                std::fs::copy(entry.path(), to.join(entry.file_name()))?;
            }
        }
    }
    Ok(())
}

fn edit(args: &Args, setup: &Setup, reporter: &Reporter) -> Result<EditRun> {
    let rev = &setup.revision;
    if rev.patches.is_empty() {
        bail!(
            "revision {} has no patch to edit: pick another with --revision",
            rev.name
        );
    }
    reporter.stage(format!(
        "bench edit: one line of one patch of {} changed, then test-matrix until its first verdict (one incremental kernel build)",
        rev.name
    ));
    let profile_revs = build_profile(&args.profile, reporter)?;
    let scratch = scratch_dir("edit")?;
    // The edited revision first: its build starts at once and its boots
    // lead the queue, as when a developer runs the revision they edit;
    // the others come after, to show that they do not rebuild.
    let mut names = vec![rev.name.clone()];
    names.extend(profile_revs.iter().filter(|r| **r != rev.name).cloned());
    let series = revision::series_dir();
    copy_series(&series, &names, &scratch)?;
    let nonce = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    );
    let mut edited = None;
    for patch in &rev.patches {
        let text = std::fs::read_to_string(patch)?;
        if let Some((new, before, after)) = one_line_edit(&text, &nonce) {
            let name = patch.file_name().unwrap();
            std::fs::write(scratch.join(&rev.name).join(name), new)?;
            edited = Some((name.to_string_lossy().to_string(), before, after));
            break;
        }
    }
    let (patch, line_before, line_after) = edited.with_context(|| {
        format!(
            "no added line with a string literal in a .c file in any patch of {}",
            rev.name
        )
    })?;
    reporter.note(format!("bench edit: {patch}: {line_after}"));
    // The matrix reads GSI_PATCHES_DIR at each step. Set while no other
    // thread of ours reads the environment, and put back after.
    let old = std::env::var_os("GSI_PATCHES_DIR");
    std::env::set_var("GSI_PATCHES_DIR", &scratch);
    let edited_rev = revision::load(&scratch, &rev.name);
    let result = timed_matrix(matrix_args(args, names.clone()), reporter);
    match old {
        Some(v) => std::env::set_var("GSI_PATCHES_DIR", v),
        None => std::env::remove_var("GSI_PATCHES_DIR"),
    }
    let (matrix, events) = result?;
    let edited_rev = edited_rev?;
    let first = events.iter().find_map(|(t, e)| match e {
        Event::BootEnd {
            revision,
            topology,
            verdict,
            ..
        } if revision == &rev.name => Some((*t, format!("{topology}: {}", verdict.name()))),
        _ => None,
    });
    let build_s = events.iter().find_map(|(_, e)| match e {
        Event::BuildEnd { revision, secs, .. } if revision == &rev.name => Some(round3(*secs)),
        _ => None,
    });
    let lock_wait_s = lock_wait(&events, &rev.name);
    let compiled = compiled_objects(
        &events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::BuildLine { revision, line } if revision == &rev.name => {
                    Some(format!("{line}\n"))
                }
                _ => None,
            })
            .collect::<String>(),
    );
    // The edited kernel is of no use to anyone after this: drop it from
    // the cache rather than let every bench run add one.
    let key = build::key(&setup.pin, &edited_rev);
    let _ = std::fs::remove_dir_all(
        crate::work_dir()
            .join("kernels")
            .join(format!("{}-{key}", rev.slug())),
    );
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(EditRun {
        revision: rev.name.clone(),
        patch,
        line_before,
        line_after,
        first_verdict_s: first.as_ref().map(|(t, _)| round3(*t)),
        first_verdict: first.map(|(_, v)| v),
        matrix,
        build_s,
        lock_wait_s,
        compiled,
    })
}

/// From the lock module's "waiting for another ... run" note to the start
/// of `revision`'s build: time the edit run spent behind someone else.
fn lock_wait(events: &[(f64, Event)], revision: &str) -> Option<f64> {
    let waited = events.iter().find_map(|(t, e)| match e {
        Event::Note(n) if n.starts_with("waiting for another gsi-workbench run") => Some(*t),
        _ => None,
    })?;
    events.iter().find_map(|(t, e)| match e {
        Event::BuildStart { revision: r } if r == revision && *t >= waited => {
            Some(round3(t - waited))
        }
        _ => None,
    })
}

/// The guest clock (`[  1.234567]`) of the first kernel line containing
/// `needle`.
pub fn guest_stamp(console: &str, needle: &str) -> Option<f64> {
    console.lines().find(|l| l.contains(needle)).and_then(|l| {
        let rest = l.trim_start().strip_prefix('[')?;
        rest.split(']').next()?.trim().parse().ok()
    })
}

fn boots(args: &Args, setup: &Setup, reporter: &Reporter) -> Result<Vec<TopologyBoots>> {
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
                bzimage: &setup.bzimage,
                initrd: &initrd,
                accel: setup.accel,
                timeout: Duration::from_secs(topology.spec.timeout_s),
                log: log.clone(),
                extra_cmdline: String::new(),
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

/// `[  12.3s] text` of the plain progress output, as (seconds, text).
pub fn progress_line(line: &str) -> Option<(f64, &str)> {
    let rest = line.strip_prefix('[')?;
    let (secs, text) = rest.split_once("s] ")?;
    Some((secs.trim().parse().ok()?, text))
}

/// `... (12.3 s)` at the end of a line: the seconds.
fn trailing_secs(text: &str) -> Option<f64> {
    let inner = text.strip_suffix(" s)")?;
    inner.rsplit('(').next()?.trim().parse().ok()
}

/// The cold run's time split from its progress lines.
pub fn cold_split(lines: &[String], revision: &str, topology: &str) -> ColdRun {
    let mut run = ColdRun {
        revision: revision.into(),
        topology: topology.into(),
        secs: 0.0,
        pin_s: None,
        guest_s: None,
        build_s: None,
        boot_s: None,
        verdict: "none".into(),
        exit: None,
    };
    let mut guest_start = None;
    let boot_prefix = format!("boot {revision}/{topology}: ");
    let build_prefix = format!("build {revision}: built ");
    for (at, text) in lines.iter().filter_map(|l| progress_line(l)) {
        if text.starts_with("pin: ") && text.contains(" is linux ") {
            run.pin_s = trailing_secs(text);
        } else if text.starts_with("guest: building") {
            guest_start = Some(at);
        } else if text == "== build and boot" {
            run.guest_s = guest_start.map(|g| round3(at - g));
        } else if text.starts_with(&build_prefix) {
            run.build_s = trailing_secs(text);
        } else if let Some(rest) = text.strip_prefix(&boot_prefix) {
            run.boot_s = trailing_secs(text);
            run.verdict = rest.split_whitespace().next().unwrap_or("").to_string();
        }
    }
    run
}

fn cold(args: &Args, setup: &Setup, reporter: &Reporter) -> Result<ColdRun> {
    let (rev, topo) = args
        .cold_run
        .split_once('/')
        .context("--cold-run takes REV/TOPO, e.g. v5/q35")?;
    reporter.stage(format!(
        "bench cold: test-matrix -r {rev} -t {topo} in an empty work dir and ccache \
         (a full kernel build: 15-40 min on 2 cores; progress below)"
    ));
    let dir = scratch_dir("cold")?;
    if let crate::config::kernel::Source::Debian {
        package, version, ..
    } = &setup.pin.source
    {
        let name = format!("{package}_{}.deb", version.replace(':', "%3a"));
        let deb = crate::work_dir().join("downloads").join(&name);
        let to = dir.join("downloads");
        std::fs::create_dir_all(&to)?;
        if std::fs::hard_link(&deb, to.join(&name)).is_err() {
            std::fs::copy(&deb, to.join(&name)).with_context(|| {
                format!("copying the pin's .deb {} for the cold run", deb.display())
            })?;
        }
    }
    let exe = std::env::current_exe().context("finding the xtask binary")?;
    let argv = ["test-matrix", "-r", rev, "-t", topo, "--no-install"];
    let started = Instant::now();
    let handle = crate::sys::process::Cmd::new(&exe)
        .args(argv)
        .env("GSI_WORK_DIR", &dir)
        .env_remove("GSI_PATCHES_DIR")
        .stderr_to_stdout()
        .reader()
        .context("starting the cold test-matrix")?;
    let mut lines = Vec::new();
    {
        use std::io::BufRead;
        for line in std::io::BufReader::new(&handle)
            .lines()
            .map_while(Result::ok)
        {
            reporter.note(format!("cold | {line}"));
            lines.push(line);
        }
    }
    crate::sys::process::park_if_interrupted();
    let secs = started.elapsed().as_secs_f64();
    let exit = handle.try_wait()?.and_then(|o| o.status.code());
    let mut run = cold_split(&lines, rev, topo);
    run.secs = round3(secs);
    run.exit = exit;
    let _ = std::fs::remove_dir_all(&dir);
    if run.build_s.is_none() {
        bail!(
            "the cold run built no kernel (exit {exit:?}); its last lines:\n{}",
            lines[lines.len().saturating_sub(15)..].join("\n")
        );
    }
    Ok(run)
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

/// One line of the targets table.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub what: String,
    pub measured: String,
    pub target: String,
    /// `None`: not measured.
    pub met: Option<bool>,
}

/// The issue's targets against what was measured.
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
    match &r.vng {
        Some(Measured::Measured(v)) => {
            let ours = boot("q35").or_else(|| boot("microvm"));
            let ratio = ours.map(|b| v.boots.median / b.wall.median);
            rows.push(Target {
                what: format!(
                    "virtme-ng {} boot + `true`, median of {}{}",
                    v.version,
                    v.boots.n,
                    ours.map_or(String::new(), |b| format!(" (vs our {})", b.topology))
                ),
                measured: format!(
                    "{:.2} s{}",
                    v.boots.median,
                    ratio.map_or(String::new(), |x| format!(" = {x:.1}x ours"))
                ),
                target: ">= 5x ours".into(),
                met: ratio.map(|x| x >= 5.0),
            })
        }
        Some(Measured::NotMeasured { reason }) => {
            rows.push(not("virtme-ng", ">= 5x ours", reason.clone()))
        }
        None => {}
    }
    match &r.cold {
        Some(Measured::Measured(c)) => rows.push(Target {
            what: format!(
                "cold {}/{} (pin {}, guest {}, build {}, boot {})",
                c.revision,
                c.topology,
                opt_s(c.pin_s),
                opt_s(c.guest_s),
                opt_s(c.build_s),
                opt_s(c.boot_s)
            ),
            measured: format!("{:.0} s, {}", c.secs, c.verdict),
            target: "-".into(),
            met: None,
        }),
        Some(Measured::NotMeasured { reason }) => rows.push(not("cold", "-", reason.clone())),
        None => {}
    }
    rows
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
             pre-kernel = QEMU + firmware + decompression, kernel = guest clock at /init)\n",
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
            parse(&["--cold", "--flake", "3"]),
            vec![
                Section::Warm,
                Section::Edit,
                Section::Boots,
                Section::Cold,
                Section::Flake
            ]
        );
        assert_eq!(
            parse(&["--only", "flake,boots"]),
            vec![Section::Boots, Section::Flake]
        );
    }

    #[test]
    fn the_edit_changes_one_message_line_of_a_c_file() {
        let patch = "\
Subject: [PATCH] x\n\
---\n\
diff --git a/Documentation/x.rst b/Documentation/x.rst\n\
@@ -1,1 +1,2 @@\n\
+\"quoted\" in a doc\n\
diff --git a/drivers/pci/pci-sysfs.c b/drivers/pci/pci-sysfs.c\n\
@@ -10,3 +10,5 @@\n\
 #include \"pci.h\"\n\
+#include \"new.h\"\n\
+/* a \"comment\" */\n\
+\tpr_info(\"gsi %d\\n\", gsi);\n\
+\tpr_info(\"second\\n\");\n";
        let (new, before, after) = one_line_edit(patch, "1f").unwrap();
        assert_eq!(before, "+\tpr_info(\"gsi %d\\n\", gsi);");
        assert_eq!(after, "+\tpr_info(\"bench-1f gsi %d\\n\", gsi);");
        assert_eq!(new.lines().count(), patch.lines().count());
        let changed: Vec<_> = patch
            .lines()
            .zip(new.lines())
            .filter(|(a, b)| a != b)
            .collect();
        assert_eq!(changed.len(), 1);
        assert!(one_line_edit("diff --git a/x.h b/x.h\n@@ -1 +1 @@\n+\"s\"\n", "1").is_none());
    }

    #[test]
    fn the_shipped_v5_has_a_line_to_edit() {
        let rev = revision::load(&revision::series_dir(), "v5").unwrap();
        let edited = rev
            .patches
            .iter()
            .find_map(|p| one_line_edit(&std::fs::read_to_string(p).unwrap(), "0"));
        assert!(edited.is_some());
    }

    #[test]
    fn the_lock_wait_runs_from_the_note_to_the_build() {
        let events = vec![
            (
                1.0,
                Event::Note("waiting for another gsi-workbench run that holds x.lock".into()),
            ),
            (
                3.0,
                Event::BuildStart {
                    revision: "v4".into(),
                },
            ),
            (
                43.5,
                Event::BuildStart {
                    revision: "v5".into(),
                },
            ),
        ];
        assert_eq!(lock_wait(&events, "v5"), Some(42.5));
        assert_eq!(lock_wait(&events[1..], "v5"), None);
    }

    #[test]
    fn compiled_objects_come_from_cc_lines() {
        let log = "  CALL    scripts/checksyscalls.sh\n  CC      drivers/acpi/pci_irq.o\n  AR      drivers/acpi/built-in.a\n  CC      init/version.o\n  LD      vmlinux\n";
        assert_eq!(
            compiled_objects(log),
            vec!["drivers/acpi/pci_irq.o", "init/version.o"]
        );
    }

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

    #[test]
    fn the_cold_split_comes_from_progress_lines() {
        let lines: Vec<String> = [
            "[    0.0s] == test-matrix: 1 revision(s) x 1 topology(ies)",
            "[    0.1s] == pin: preparing linux-source-6.12 6.12.117-1~deb12u1 (once per pin)",
            "[   95.2s] pin: linux-source-6.12 6.12.117-1~deb12u1 is linux 6.12.117 at 5fdc7cc8c49b (95 s)",
            "[   95.3s] guest: building the static /init and suite",
            "[   97.3s] == build and boot",
            "[   97.4s] build v5: started",
            "[ 1297.4s] build v5: built (1200.0 s)",
            "[ 1301.0s] boot v5/q35: passed (3.4 s)",
        ]
        .map(String::from)
        .to_vec();
        let run = cold_split(&lines, "v5", "q35");
        assert_eq!(run.pin_s, Some(95.0));
        assert_eq!(run.guest_s, Some(2.0));
        assert_eq!(run.build_s, Some(1200.0));
        assert_eq!(run.boot_s, Some(3.4));
        assert_eq!(run.verdict, "passed");
        assert_eq!(progress_line("no prefix"), None);
    }

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
        let vng = find("virtme-ng");
        assert_eq!(vng.met, None);
        assert_eq!(vng.measured, "not measured: vng: qemu failed");
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
