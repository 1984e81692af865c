//! The pinned kernel tree: `configs/kernel.toml` resolved into a [`Pin`],
//! a git repository with one base commit, cached under `target/gsi/pin/`
//! and keyed by the source's hash (the .deb's sha256, or the commit).

use crate::config;
use crate::config::kernel::{KernelConfig, KernelToml, Source};
use crate::sys::git::{self, git};
use crate::sys::process::Cmd;
use crate::sys::progress::Reporter;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A resolved pin: a git repository whose `base` commit is the tree.
#[derive(Debug, Clone)]
pub struct Pin {
    pub source: Source,
    /// Human form, e.g. `linux-source-6.12 6.12.117-1~deb12u1`.
    pub description: String,
    /// The kernel version of the tree (`make kernelversion`).
    pub version: String,
    /// What the source is pinned by: the .deb's sha256, or a commit id.
    pub pinned_by: PinnedBy,
    /// Short key for cache directories.
    pub key: String,
    /// The git repository holding the base commit.
    pub repo: PathBuf,
    /// The base commit id.
    pub base: String,
    /// The kernel config inputs.
    pub config: KernelConfig,
    /// Which kernel of a revision this pin builds: empty for the guest
    /// kernel of kernel.toml, `xen` for the dom0 kernel ([`Pin::for_dom0`]).
    /// Names its build log and image directory; the config is in the key.
    pub flavor: String,
}

impl Pin {
    /// The same tree with the dom0 kernel's config (kernel.toml's
    /// fragments, then configs/xen.toml's): its own `O=`, image and log.
    pub fn for_dom0(&self, xen: &crate::pipeline::xen::Xen) -> Pin {
        Pin {
            config: xen.dom0_config(&self.config),
            flavor: "xen".into(),
            ..self.clone()
        }
    }
}

/// What a pin's source is fixed by.
impl Pin {
    /// The pin with the kernel config `topology` boots: its `kernel`
    /// variant's fragment added, or this pin as it is.
    pub fn for_topology(&self, topology: &crate::config::topology::Topology) -> Result<Pin> {
        Ok(match &topology.spec.kernel {
            Some(variant) => Pin {
                config: self.config.with_variant(variant)?,
                ..self.clone()
            },
            None => self.clone(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinnedBy {
    /// The sha256 of the .deb (a Debian pin).
    Sha256(String),
    /// A commit id: a git pin's, or a path pin's HEAD at the time of the run.
    Commit(String),
}

impl PinnedBy {
    /// The hash or commit id itself.
    pub fn id(&self) -> &str {
        match self {
            PinnedBy::Sha256(id) | PinnedBy::Commit(id) => id,
        }
    }
}

/// What the pin cache remembers about a finished tree.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stamp {
    base: String,
    version: String,
}

/// Loads `configs/kernel.toml` (or `path`) and makes sure the tree exists.
pub fn resolve(kernel_toml: &Path, reporter: &Reporter) -> Result<Pin> {
    let toml = KernelToml::load(kernel_toml)?;
    let config = KernelConfig::read(kernel_toml, &toml.config)?;
    resolve_source(
        kernel_toml,
        &toml.source,
        config,
        crate::pipeline::debian::KERNEL_PIN,
        reporter,
    )
}

/// Every `[[also]]` tree of `configs/kernel.toml` (or `path`), each
/// resolved like the pin (downloaded, verified, cached under
/// `target/gsi/pin/`), or the error that stopped it, in file order.
pub fn resolve_also(
    kernel_toml: &Path,
    reporter: &Reporter,
) -> Result<Vec<(crate::config::kernel::AlsoPin, Result<Pin>)>> {
    let toml = KernelToml::load(kernel_toml)?;
    let config = KernelConfig::read(kernel_toml, &toml.config)?;
    Ok(toml
        .also
        .iter()
        .map(|also| {
            let pin = resolve_source(
                kernel_toml,
                &also.source,
                config.clone(),
                crate::pipeline::debian::ALSO_PIN,
                reporter,
            );
            (also.clone(), pin)
        })
        .collect())
}

/// One source made a [`Pin`]: its tree cached under `target/gsi/pin/`,
/// keyed by the source's hash. `pinned` names the file for errors.
fn resolve_source(
    kernel_toml: &Path,
    source: &Source,
    config: KernelConfig,
    pinned: crate::pipeline::debian::PinFile,
    reporter: &Reporter,
) -> Result<Pin> {
    let (key, pinned_by, description) = match source {
        Source::Debian {
            package,
            version,
            sha256,
        } => (
            format!("debian-{}", &sha256[..16]),
            PinnedBy::Sha256(sha256.clone()),
            format!("{package} {version}"),
        ),
        Source::Git { url, commit } => (
            format!("git-{}", &commit[..16]),
            PinnedBy::Commit(commit.clone()),
            format!("{url} @ {}", &commit[..12]),
        ),
        Source::Path { path } => {
            let path = config::resolve(kernel_toml, path);
            let commit = head_of(&path)?;
            (
                format!("git-{}", &commit[..16]),
                PinnedBy::Commit(commit.clone()),
                format!("{} @ {}", path.display(), &commit[..12]),
            )
        }
    };
    let dir = crate::work_dir().join("pin").join(&key);
    let repo = dir.join("src");
    let stamp_path = dir.join("pin.toml");
    let _lock = crate::sys::lock::Lock::acquire(&dir.with_extension("lock"), reporter)?;
    let stamp = match std::fs::read_to_string(&stamp_path) {
        Ok(text) if repo.join(".git").is_dir() => config::parse::<Stamp>(&text, &stamp_path).ok(),
        _ => None,
    };
    let stamp = match stamp {
        Some(stamp) => stamp,
        None => {
            reporter.stage(format!("pin: preparing {description} (once per pin)"));
            let started = Instant::now();
            if dir.exists() {
                std::fs::remove_dir_all(&dir)
                    .with_context(|| format!("removing the incomplete pin {}", dir.display()))?;
            }
            std::fs::create_dir_all(&dir)?;
            let scratch = tempfile::tempdir_in(&dir).context("creating a scratch directory")?;
            let tree = match source {
                Source::Debian {
                    package,
                    version,
                    sha256,
                } => unpack_debian(package, version, sha256, pinned, scratch.path(), reporter)?,
                Source::Git { url, commit } => clone_git(url, commit, scratch.path(), reporter)?,
                Source::Path { path } => {
                    let path = config::resolve(kernel_toml, path);
                    clone_git(
                        &path.display().to_string(),
                        pinned_by.id(),
                        scratch.path(),
                        reporter,
                    )?
                }
            };
            let base = head_of(&tree)?;
            let version = kernel_version(&tree)?;
            std::fs::rename(&tree, &repo)
                .with_context(|| format!("moving the tree to {}", repo.display()))?;
            let stamp = Stamp { base, version };
            crate::write_atomic(&stamp_path, toml::to_string(&stamp)?.as_bytes())?;
            reporter.note(format!(
                "pin: {description} is linux {} at {} ({:.0} s)",
                stamp.version,
                &stamp.base[..12],
                started.elapsed().as_secs_f64()
            ));
            stamp
        }
    };
    Ok(Pin {
        source: source.clone(),
        description,
        version: stamp.version,
        pinned_by,
        key,
        repo,
        base: stamp.base,
        config,
        flavor: String::new(),
    })
}

fn head_of(tree: &Path) -> Result<String> {
    let head = git(tree, &["rev-parse", "HEAD"])
        .with_context(|| format!("{} is not a git tree with a HEAD commit", tree.display()))?;
    Ok(head.trim().to_string())
}

fn kernel_version(tree: &Path) -> Result<String> {
    let makefile = std::fs::read_to_string(tree.join("Makefile")).with_context(|| {
        format!(
            "{} has no top-level Makefile: not a kernel tree",
            tree.display()
        )
    })?;
    let field = |name: &str| {
        makefile
            .lines()
            .find_map(|l| {
                l.strip_prefix(name)?
                    .trim()
                    .strip_prefix('=')
                    .map(|v| v.trim().to_string())
            })
            .unwrap_or_default()
    };
    Ok(format!(
        "{}.{}.{}",
        field("VERSION"),
        field("PATCHLEVEL"),
        field("SUBLEVEL")
    ))
}

/// Downloads (or reuses) the verified .deb and unpacks its tarball into a
/// fresh git repository under `scratch`. Returns the tree's directory.
fn unpack_debian(
    package: &str,
    version: &str,
    sha256: &str,
    pinned: crate::pipeline::debian::PinFile,
    scratch: &Path,
    reporter: &Reporter,
) -> Result<PathBuf> {
    let deb = download_deb(package, version, sha256, None, pinned, reporter)?;
    reporter.note(format!("pin: unpacking {}", deb.display()));
    let unpacked = scratch.join("unpacked");
    std::fs::create_dir_all(&unpacked)?;
    // Registered like make and QEMU: Ctrl-C stops the unpack too, instead
    // of leaving tar writing into a directory the next run deletes.
    Cmd::new("dpkg-deb")
        .arg("--fsys-tarfile")
        .arg(&deb)
        .pipe(Cmd::new("tar").args(["-xO", "--wildcards", "./usr/src/*.tar.*"]))
        .pipe(Cmd::new("tar").args(["-xJ", "-C"]).arg(&unpacked))
        .stdout_null()
        // Checked: a tar that stops half way (a full disk) is an error.
        .run()
        .map_err(|err| {
            let not_found = err
                .root_cause()
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound);
            let hint = if not_found {
                "starting dpkg-deb and tar (apt-get install dpkg tar xz-utils)".to_string()
            } else {
                format!("is the disk full? `df -h {}`", unpacked.display())
            };
            err.context(format!(
                "unpacking the kernel tarball from {} into {} ({hint})",
                deb.display(),
                unpacked.display(),
            ))
        })?;
    let mut entries = std::fs::read_dir(&unpacked)?.collect::<std::io::Result<Vec<_>>>()?;
    if entries.len() != 1 {
        bail!(
            "{} should contain one top-level directory, found {}",
            deb.display(),
            entries.len()
        );
    }
    let tree = entries.remove(0).path();
    commit_tree(&tree, &format!("{package} {version}"), reporter)?;
    Ok(tree)
}

/// Makes `tree` a git repository with one commit. git runs in groups of
/// their own (`git add` of the whole tree takes about 30 s): a SIGTERM to
/// the harness stops them too, so no git is left writing objects into a
/// scratch directory the next run deletes. The commit is trusted only
/// once the stamp is written, after this returns.
fn commit_tree(tree: &Path, what: &str, reporter: &Reporter) -> Result<()> {
    reporter.note(format!("pin: committing {what} as the base (about 30 s)"));
    let run = |args: &[&str]| git::with_identity(git::cmd(tree, args)).run();
    run(&["init", "-q", "-b", "base"])?;
    run(&["config", "gc.auto", "0"])?;
    run(&["config", "core.autocrlf", "false"])?;
    // Debian's tarball ignores everything (`/*` in the top .gitignore).
    run(&["add", "-f", "-A"]).with_context(|| format!("git add in {}", tree.display()))?;
    let message = format!("base: {what}");
    run(&["commit", "-q", "--no-verify", "-m", &message])
        .with_context(|| format!("git commit in {}", tree.display()))?;
    Ok(())
}

/// The verified .deb in `target/gsi/downloads/`, downloading it when it is
/// missing or does not match (a truncated download is replaced). `pinned`
/// names the file that pins it, for the errors.
pub(crate) fn download_deb(
    package: &str,
    version: &str,
    sha256: &str,
    suite: Option<&str>,
    pinned: crate::pipeline::debian::PinFile,
    reporter: &Reporter,
) -> Result<PathBuf> {
    let downloads = crate::work_dir().join("downloads");
    std::fs::create_dir_all(&downloads)?;
    let deb = downloads.join(format!("{package}_{}.deb", version.replace(':', "%3a")));
    if deb.exists() {
        let found = crate::sha256_file(&deb)?;
        if found == sha256 {
            return Ok(deb);
        }
        reporter.send(crate::sys::progress::Event::Warn(format!(
            "{} has sha256 {found}, expected {sha256}: downloading it again",
            deb.display()
        )));
        std::fs::remove_file(&deb)?;
    }
    reporter.note(format!("pin: apt-get download {package}={version}"));
    // An interrupted run cannot remove its scratch directory (the process
    // ends in the signal handler): the name carries the pin, whose lock
    // the caller holds, so the next download of this pin clears it.
    let prefix = format!(".partial-{}-", &sha256[..16]);
    for entry in std::fs::read_dir(&downloads)?.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            std::fs::remove_dir_all(entry.path()).with_context(|| {
                format!("removing the partial download {}", entry.path().display())
            })?;
        }
    }
    let scratch = tempfile::Builder::new()
        .prefix(&prefix)
        .tempdir_in(&downloads)?;
    let spec = format!("{package}={version}");
    let other = match suite {
        Some(suite) => Some(crate::pipeline::debian::OtherSuite::new(suite)?),
        None => None,
    };
    let apt_options = other.as_ref().map(|o| o.options()).unwrap_or_default();
    // In a group of its own like every long child: a SIGTERM to the
    // harness stops the download (and apt's fetch methods) too.
    let attempt = || {
        Cmd::new("apt-get")
            .args(&apt_options)
            .args(["download", "-q", &spec])
            .dir(scratch.path())
            .stderr_to_stdout()
            .output()
    };
    if let Some(other) = other.as_ref().filter(|o| !o.has_lists()) {
        reporter.note(format!("pin: fetching {}'s package list", other.suite));
        other.update()?;
    }
    let mut output = attempt().context("running apt-get download (is apt installed?)")?;
    if !output.status.success() {
        if let Some(other) = &other {
            // The release's list is older than the version pinned.
            reporter.note(format!(
                "pin: apt-get download failed; fetching {}'s package list again",
                other.suite
            ));
            other.update()?;
            output = attempt()?;
        } else if crate::sys::tools::is_root() {
            // A fresh machine has no package lists yet.
            reporter.note("pin: apt-get download failed; running apt-get update and trying again");
            crate::pipeline::debian::refresh_lists();
            output = attempt()?;
        }
    }
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stdout).trim().to_string();
        // An aged pin: the archive dropped this build for newer ones.
        let served = crate::pipeline::debian::served_versions_with(package, &apt_options)
            .unwrap_or_default();
        if !served.iter().any(|v| v == version) {
            bail!(
                "apt-get download {spec} failed:\n{said}\n{}",
                crate::pipeline::debian::not_served_in(pinned, package, version, &served)
            );
        }
        bail!(
            "apt-get download {spec} failed although apt lists that version:\n{said}\nthe \
             package lists may be stale: run `apt-get update` (as root) and try again"
        );
    }
    let fetched = std::fs::read_dir(scratch.path())?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .context("apt-get download succeeded but left no .deb")?;
    let found = crate::sha256_file(&fetched)?;
    if found != sha256 {
        bail!(
            "{spec}: the downloaded .deb has sha256 {found}, but {} pins {sha256}. \
             The mirror serves a different file under the same version: check it, and only if you \
             trust it, update source.sha256",
            pinned.file
        );
    }
    std::fs::rename(&fetched, &deb)?;
    Ok(deb)
}

fn clone_git(url: &str, commit: &str, scratch: &Path, reporter: &Reporter) -> Result<PathBuf> {
    reporter.note(format!("pin: cloning {url} at {commit}"));
    let tree = scratch.join("tree");
    // Clone and checkout take minutes on a kernel: in groups of their own,
    // like every long child, so a SIGTERM to the harness stops them.
    Cmd::new("git")
        .args(["clone", "-q", "--no-checkout", url])
        .arg(&tree)
        .run()
        .with_context(|| format!("git clone {url}"))?;
    git(&tree, &["checkout", "-q", "--detach", commit]).with_context(|| {
        format!("{url} has no commit {commit}: fix source.commit in configs/kernel.toml")
    })?;
    git(&tree, &["config", "gc.auto", "0"])?;
    Ok(tree)
}
