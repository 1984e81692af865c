//! The two build checks of `check-series`: the tree at every patch
//! (bisectable), and the final tree under the build-only configs.
//!
//! Both run in one tree shared by every `check-series` run of a pin
//! (`target/gsi/trees/<pin>/check-series`), made by
//! [`crate::pipeline::revision::prepare`] like any revision tree: a hard-link farm
//! of the pin with the series applied by `git am`. Its `O=` directories
//! (one per config, direct subdirectories of the tree so kbuild uses
//! `srctree := ..` and ccache hits across trees) survive when the next run
//! applies another series, so each config is built in full once and then
//! only what a series touches is rebuilt. Patches are visited with
//! `git checkout`, which replaces the files it changes (unlink, create)
//! and never writes through a hard link into the pin. While the tree is
//! not at the series' last commit a marker file names that commit, so an
//! interrupted run is repaired by the next one.

use super::mail::Mail;
use super::CheckResult;
use crate::config::kernel::KernelConfig;
use crate::pipeline::build;
use crate::pipeline::pin::Pin;
use crate::pipeline::revision::{self, Revision};
use crate::sys::git::git;
use crate::sys::lock::Lock;
use crate::sys::process::Cmd;
use crate::sys::progress::{Event, Reporter};
use anyhow::{bail, Context, Result};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Name (and slug) of the shared tree.
const CHECK_TREE: &str = "check-series";

/// What each build makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    /// `make vmlinux`: everything the config builds, linked.
    Vmlinux,
    /// kbuild directory targets (`make drivers/pci/`) for these objects:
    /// kbuild descends from the top as for vmlinux, so a directory the
    /// config leaves out is not built, and an object counts as built only
    /// when its directory's built-in.a lists it.
    Objects(Vec<String>),
}

impl Targets {
    pub(super) fn make_goals(&self) -> Vec<String> {
        match self {
            Targets::Vmlinux => vec!["vmlinux".to_string()],
            Targets::Objects(objects) => {
                let mut dirs: Vec<String> = Vec::new();
                for object in objects {
                    let dir = match object.rsplit_once('/') {
                        Some((dir, _)) => format!("{dir}/"),
                        None => "./".to_string(),
                    };
                    if !dirs.contains(&dir) {
                        dirs.push(dir);
                    }
                }
                dirs
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Targets::Vmlinux => "vmlinux".to_string(),
            Targets::Objects(objects) => format!(
                "the directories of {} ({})",
                objects.join(", "),
                self.make_goals().join(" ")
            ),
        }
    }
}

/// Objects (`.o`) built from the source files a series touches.
pub fn touched_objects(mails: &[Mail]) -> Vec<String> {
    let mut objects = BTreeSet::new();
    for mail in mails {
        for file in super::mail::touched_files(mail.diff()) {
            if let Some(stem) = file.strip_suffix(".c").or_else(|| file.strip_suffix(".S")) {
                objects.insert(format!("{stem}.o"));
            }
        }
    }
    objects.into_iter().collect()
}

/// The shared tree, locked, with the series applied.
pub struct CheckTree<'a> {
    pub(super) pin: &'a Pin,
    /// The revision under its tree name (for prepare and make's messages).
    pub(super) rev: Revision,
    /// The revision's own name, for messages.
    pub(super) label: String,
    pub(super) dir: PathBuf,
    /// One commit per patch, in order.
    pub(super) commits: Vec<String>,
    head: String,
    marker: PathBuf,
    _lock: Lock,
}

impl<'a> CheckTree<'a> {
    /// Locks the shared tree, repairs an interrupted run, applies `rev`.
    pub fn open(pin: &'a Pin, rev: &Revision, reporter: &Reporter) -> Result<CheckTree<'a>> {
        let trees = crate::work_dir().join("trees").join(&pin.key);
        let check = Revision {
            name: CHECK_TREE.to_string(),
            ..rev.clone()
        };
        let lock = Lock::acquire(&trees.join(format!("{CHECK_TREE}.build.lock")), reporter)?;
        let dir = trees.join(check.slug());
        let marker = trees.join(format!("{CHECK_TREE}.bisect-head"));
        if let Ok(head) = std::fs::read_to_string(&marker) {
            reporter.note(format!(
                "check-series: the last run stopped at a middle patch; putting {} back at {}",
                dir.display(),
                head.trim()
            ));
            let restored = dir.join(".git").exists() && checkout(&dir, head.trim()).is_ok();
            if !restored && dir.exists() {
                std::fs::remove_dir_all(&dir)
                    .with_context(|| format!("removing the broken tree {}", dir.display()))?;
            }
            std::fs::remove_file(&marker)?;
        }
        let tree = revision::prepare(pin, &check, reporter)?;
        let head = git(&tree.dir, &["rev-parse", "HEAD"])?.trim().to_string();
        let range = format!("{}..HEAD", pin.base);
        let commits: Vec<String> = git(&tree.dir, &["rev-list", "--reverse", &range])?
            .lines()
            .map(str::to_string)
            .collect();
        if commits.len() != rev.patches.len() {
            bail!(
                "{} holds {} commits over the base, expected one per patch ({}): remove it and \
                 run again",
                tree.dir.display(),
                commits.len(),
                rev.patches.len()
            );
        }
        Ok(CheckTree {
            pin,
            rev: check,
            label: rev.name.clone(),
            dir: tree.dir,
            commits,
            head,
            marker,
            _lock: lock,
        })
    }

    /// Before the tree leaves the series' last commit: the marker names
    /// it, so an interrupted run is repaired by the next one.
    pub(super) fn leave_head(&self) -> Result<()> {
        std::fs::write(&self.marker, &self.head)?;
        Ok(())
    }

    /// Back at the series' last commit, the marker gone.
    pub(super) fn back_to_head(&self) -> Result<()> {
        checkout(&self.dir, &self.head)?;
        std::fs::remove_file(&self.marker)?;
        Ok(())
    }

    pub(super) fn log(&self, what: &str) -> PathBuf {
        crate::work_dir().join("logs").join(format!(
            "check-series-{}-{what}.log",
            self.label.replace('/', "-")
        ))
    }

    /// Builds `targets` with the base config at every patch of the series.
    pub fn bisect(
        &self,
        mails: &[Mail],
        targets: &Targets,
        jobs: usize,
        reporter: &Reporter,
    ) -> Result<CheckResult> {
        let out = self.dir.join(build::build_dir_name(self.pin));
        std::fs::create_dir_all(&out)?;
        let n = self.commits.len();
        let mut evidence = vec![format!(
            "base config ({}), O={}, make -j{jobs} {}",
            config_label(&self.pin.config),
            crate::config::display(&out),
            targets.make_goals().join(" ")
        )];
        let config_log = self.log("bisect-config");
        if let Err(err) = configure(self.pin, &self.dir, &out, &config_log, &self.rev, reporter) {
            evidence.push(format!("{err:#}"));
            return Ok(CheckResult::fail(
                "the base config could not be made; no patch was built",
                evidence,
            ));
        }
        std::fs::write(&self.marker, &self.head)?;
        let mut first_failure: Option<(usize, String)> = None;
        let mut built = Vec::new();
        for (k, commit) in self.commits.iter().enumerate() {
            let k = k + 1;
            let file = &mails[k - 1].file;
            checkout(&self.dir, commit)?;
            let started = Instant::now();
            let label = format!("{} patch {k}/{n}", self.label);
            reporter.send(Event::BuildStart {
                revision: label.clone(),
            });
            let log = self.log(&format!("bisect-{k}"));
            let result = make(&self.dir, &out, targets, jobs, &log, &self.rev, reporter);
            let secs = started.elapsed().as_secs_f64();
            reporter.send(Event::BuildEnd {
                revision: label,
                built: result.is_ok(),
                secs,
            });
            match result {
                Ok(()) => {
                    built.push(k);
                    evidence.push(format!("patch {k}/{n} {file}: builds ({secs:.1} s)"));
                    if let Targets::Objects(objects) = targets {
                        for (object, yes) in membership(&out, objects) {
                            if !yes {
                                evidence.push(format!(
                                    "  {object} is not built by the base config: nothing was \
                                     compiled for it"
                                ));
                            }
                        }
                    }
                }
                Err(err) => {
                    evidence.push(format!(
                        "patch {k}/{n} {file}: BREAKS THE BUILD ({secs:.1} s), log {}",
                        crate::config::display(&log)
                    ));
                    if first_failure.is_none() {
                        first_failure = Some((k, make_failure(&err)));
                    }
                }
            }
        }
        checkout(&self.dir, &self.head)?;
        std::fs::remove_file(&self.marker)?;
        if *targets == Targets::Vmlinux {
            let (yes, no): (Vec<_>, Vec<_>) = membership(&out, &touched_objects(mails))
                .into_iter()
                .partition(|(_, b)| *b);
            let names = |v: Vec<(String, bool)>| {
                v.into_iter().map(|(o, _)| o).collect::<Vec<_>>().join(", ")
            };
            if !yes.is_empty() {
                evidence.push(format!(
                    "touched objects the base config compiles: {}",
                    names(yes)
                ));
            }
            if !no.is_empty() {
                evidence.push(format!(
                    "touched objects the base config does not build: {}",
                    names(no)
                ));
            }
        }
        match first_failure {
            None => Ok(CheckResult::pass(
                format!("all {n} patches build ({})", targets.make_goals().join(" ")),
                evidence,
            )),
            Some((k, tail)) => {
                evidence.push(format!("first break, patch {k}/{n}, last lines:"));
                evidence.extend(tail.lines().map(|l| format!("  {l}")));
                let later = built.iter().filter(|&&b| b > k).count();
                Ok(CheckResult::fail(
                    format!(
                        "patch {k}/{n} ({}) breaks the build{}",
                        mails[k - 1].file,
                        if later > 0 {
                            format!("; {later} later patch(es) build again")
                        } else {
                            String::new()
                        }
                    ),
                    evidence,
                ))
            }
        }
    }

    /// Builds the final tree with each build-only fragment on top of the
    /// base config.
    pub fn build_only(
        &self,
        fragments: &[PathBuf],
        mails: &[Mail],
        targets: &Targets,
        jobs: usize,
        reporter: &Reporter,
    ) -> Result<CheckResult> {
        let mut evidence = Vec::new();
        let mut summary = Vec::new();
        let mut failed = false;
        let touched = touched_objects(mails);
        for fragment in fragments {
            let contents = std::fs::read_to_string(fragment).with_context(|| {
                format!(
                    "reading the build-only fragment {}",
                    crate::config::display(fragment)
                )
            })?;
            let stem = fragment
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default();
            let label = settings(&contents).join(" ");
            let pin = Pin {
                config: layered(&self.pin.config, fragment, &contents),
                ..self.pin.clone()
            };
            let out = self.dir.join(build::build_dir_name(&pin));
            std::fs::create_dir_all(&out)?;
            evidence.push(format!(
                "{label} ({}): O={}",
                crate::config::display(fragment),
                crate::config::display(&out)
            ));
            let log = self.log(&stem);
            if let Err(err) = configure(&pin, &self.dir, &out, &log, &self.rev, reporter) {
                failed = true;
                summary.push(format!("{label}: config FAILED"));
                evidence.push(format!("  {err:#}"));
                continue;
            }
            // configure() already failed on any dropped setting; say what
            // the final .config holds for each one.
            let config = std::fs::read_to_string(out.join(".config"))?;
            for line in settings(&contents) {
                evidence.push(format!("  verified in .config: {}", found(&config, &line)));
            }
            let started = Instant::now();
            let name = format!("{} {label}", self.label);
            reporter.send(Event::BuildStart {
                revision: name.clone(),
            });
            let result = make(&self.dir, &out, targets, jobs, &log, &self.rev, reporter);
            let secs = started.elapsed().as_secs_f64();
            reporter.send(Event::BuildEnd {
                revision: name,
                built: result.is_ok(),
                secs,
            });
            let checked: Vec<String> = match targets {
                Targets::Vmlinux => touched.clone(),
                Targets::Objects(objects) => objects.clone(),
            };
            match result {
                Ok(()) => {
                    summary.push(format!(
                        "{label}: {} builds",
                        targets.make_goals().join(" ")
                    ));
                    evidence.push(format!(
                        "  make {} builds ({secs:.1} s), log {}",
                        targets.make_goals().join(" "),
                        crate::config::display(&log)
                    ));
                    let (yes, no): (Vec<_>, Vec<_>) = membership(&out, &checked)
                        .into_iter()
                        .partition(|(_, b)| *b);
                    let names = |v: Vec<(String, bool)>| {
                        v.into_iter().map(|(o, _)| o).collect::<Vec<_>>().join(", ")
                    };
                    let what = match targets {
                        Targets::Vmlinux => "touched objects",
                        Targets::Objects(_) => "requested objects",
                    };
                    if !yes.is_empty() {
                        evidence.push(format!("  {what} compiled in this config: {}", names(yes)));
                    }
                    if !no.is_empty() {
                        evidence.push(format!(
                            "  {what} this config does not build: {}",
                            names(no)
                        ));
                    }
                }
                Err(err) => {
                    failed = true;
                    summary.push(format!("{label}: build FAILED"));
                    evidence.push(format!(
                        "  make {} FAILED ({secs:.1} s), log {}",
                        targets.make_goals().join(" "),
                        crate::config::display(&log)
                    ));
                    evidence.extend(make_failure(&err).lines().map(|l| format!("    {l}")));
                }
            }
        }
        let summary = summary.join("; ");
        Ok(if failed {
            CheckResult::fail(summary, evidence)
        } else {
            CheckResult::pass(summary, evidence)
        })
    }
}

/// The base config with `fragment` layered on top: the base fragments
/// lose their lines for the symbols `fragment` sets (so the survival check
/// does not demand both), then `fragment` follows.
pub fn layered(base: &KernelConfig, fragment: &Path, contents: &str) -> KernelConfig {
    let overridden: BTreeSet<String> = settings(contents)
        .iter()
        .filter_map(|l| symbol(l))
        .collect();
    let mut fragments: Vec<(PathBuf, String)> = base
        .fragments
        .iter()
        .map(|(path, text)| {
            let kept: Vec<&str> = text
                .lines()
                .filter(|l| symbol(l.trim()).is_none_or(|s| !overridden.contains(&s)))
                .collect();
            (path.clone(), kept.join("\n") + "\n")
        })
        .collect();
    fragments.push((fragment.to_path_buf(), contents.to_string()));
    KernelConfig {
        base: base.base.clone(),
        fragments,
        variant: None,
    }
}

/// The symbol a config line sets: `CONFIG_X=y` or `# CONFIG_X is not set`.
fn symbol(line: &str) -> Option<String> {
    if let Some((name, _)) = line.strip_prefix("CONFIG_").and_then(|l| l.split_once('=')) {
        return Some(name.to_string());
    }
    line.strip_prefix("# CONFIG_")
        .and_then(|l| l.strip_suffix(" is not set"))
        .map(str::to_string)
}

/// The setting lines of a fragment, shown as `CONFIG_X=n` / `CONFIG_X=y`.
pub(super) fn settings(contents: &str) -> Vec<String> {
    contents
        .lines()
        .map(str::trim)
        .filter_map(|l| {
            if l.starts_with("CONFIG_") && l.contains('=') {
                Some(l.to_string())
            } else {
                symbol(l).map(|s| format!("CONFIG_{s}=n"))
            }
        })
        .collect()
}

/// What the final .config says about a `CONFIG_X=v` setting.
pub(super) fn found(config: &str, setting: &str) -> String {
    let name = setting.split('=').next().unwrap_or(setting);
    let line = config
        .lines()
        .find(|l| l.starts_with(&format!("{name}=")) || *l == format!("# {name} is not set"));
    match line {
        Some(l) => l.to_string(),
        None => format!("{name} absent (not set)"),
    }
}

fn config_label(config: &KernelConfig) -> String {
    let mut parts = vec![config.base.clone()];
    parts.extend(
        config
            .fragments
            .iter()
            .map(|(p, _)| crate::config::display(p)),
    );
    parts.join(" + ")
}

/// For each object: did this config's build compile it? Its directory's
/// built-in.a lists it, or, for a part of a composite object (acpi-y
/// parts such as drivers/acpi/pci_irq.o live inside acpi.o), kbuild left
/// it in this config's O= dir.
pub(super) fn membership(out: &Path, objects: &[String]) -> Vec<(String, bool)> {
    objects
        .iter()
        .map(|object| {
            let dir = object.rsplit_once('/').map_or("", |(d, _)| d);
            // A thin archive names its members relative to where `ar`
            // runs: from O= they read as `drivers/pci/pci-sysfs.o`.
            let archive = Path::new(dir).join("built-in.a");
            let listed = Cmd::new("ar")
                .arg("t")
                .arg(&archive)
                .dir(out)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .is_some_and(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .lines()
                        .any(|l| l == object)
                });
            (object.clone(), listed || out.join(object).is_file())
        })
        .collect()
}

/// The part of build.rs's make error worth quoting: the last lines and
/// the log path (its first line names the tree, not the revision).
pub(super) fn make_failure(err: &anyhow::Error) -> String {
    let text = format!("{err:#}");
    let mut lines: Vec<&str> = text.lines().collect();
    if lines.len() > 1 && lines[0].starts_with("building revision") {
        lines.remove(0);
    }
    let keep = lines.len().saturating_sub(16);
    lines[keep..].join("\n")
}

fn configure(
    pin: &Pin,
    tree: &Path,
    out: &Path,
    log: &Path,
    rev: &Revision,
    reporter: &Reporter,
) -> Result<()> {
    std::fs::create_dir_all(log.parent().unwrap())?;
    let mut file =
        std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    build::configure(pin, tree, out, &mut file, rev, reporter)
}

fn make(
    tree: &Path,
    out: &Path,
    targets: &Targets,
    jobs: usize,
    log: &Path,
    rev: &Revision,
    reporter: &Reporter,
) -> Result<()> {
    use std::io::Write;
    // Append: the config step of the same O= dir may have written first.
    let mut file = std::fs::File::options()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    writeln!(file, "# check-series: {}", targets.describe())?;
    let jobs = format!("-j{}", jobs.max(1));
    let goals = targets.make_goals();
    let mut args: Vec<&str> = vec![&jobs];
    args.extend(goals.iter().map(String::as_str));
    build::make(tree, out, &args, &mut file, rev, reporter)
}

pub(super) fn checkout(dir: &Path, commit: &str) -> Result<()> {
    git(
        dir,
        &[
            "-c",
            "advice.detachedHead=false",
            "checkout",
            "-q",
            "--detach",
            commit,
        ],
    )
    .map(|_| ())
    .with_context(|| format!("checking out {commit} in {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fragment_replaces_the_base_setting_of_its_symbols() {
        let base = KernelConfig {
            base: "tinyconfig".into(),
            fragments: vec![(
                PathBuf::from("boot.config"),
                "# c\nCONFIG_PCI=y\nCONFIG_PCI_MSI=y\nCONFIG_ACPI=y\n".into(),
            )],
            variant: None,
        };
        let config = layered(
            &base,
            Path::new("nopci.config"),
            "# CONFIG_PCI is not set\n# CONFIG_PCI_MSI is not set\n",
        );
        assert_eq!(config.fragments.len(), 2);
        assert_eq!(config.fragments[0].1, "# c\nCONFIG_ACPI=y\n");
        assert_ne!(config.hash(), base.hash());
        assert_eq!(
            settings(&config.fragments[1].1),
            vec!["CONFIG_PCI=n", "CONFIG_PCI_MSI=n"]
        );
        assert_eq!(
            found("CONFIG_A=y\n# CONFIG_PCI is not set\n", "CONFIG_PCI=n"),
            "# CONFIG_PCI is not set"
        );
    }

    #[test]
    fn object_targets_become_directory_goals() {
        let t = Targets::Objects(vec![
            "drivers/pci/pci-sysfs.o".into(),
            "drivers/pci/pci-acpi.o".into(),
            "drivers/acpi/pci_irq.o".into(),
        ]);
        assert_eq!(t.make_goals(), vec!["drivers/pci/", "drivers/acpi/"]);
        assert_eq!(Targets::Vmlinux.make_goals(), vec!["vmlinux"]);
    }

    #[test]
    fn the_shipped_build_only_fragments_turn_acpi_and_pci_off() {
        let dir = crate::project_root().join("configs/kernel");
        let noacpi = std::fs::read_to_string(dir.join("build-only-noacpi.config")).unwrap();
        let nopci = std::fs::read_to_string(dir.join("build-only-nopci.config")).unwrap();
        assert!(settings(&noacpi).contains(&"CONFIG_ACPI=n".to_string()));
        assert!(settings(&nopci).contains(&"CONFIG_PCI=n".to_string()));
    }
}
