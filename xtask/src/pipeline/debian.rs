//! What Debian's archive serves: the versions of a package it has now
//! (`apt-cache madison`), newest first, and a verified download of one.
//!
//! The archive serves a few builds of `linux-source-6.12` at once and drops
//! old ones as new ones come, so a pinned version ages out. The pin module
//! asks here which versions are served when its download fails, to say
//! what to move to; `cargo xtask pin update` moves it.

use crate::sys::process::Cmd;
use crate::sys::tools::is_root;
use anyhow::{bail, Context, Result};
use std::cmp::Ordering;
use std::path::{Path, PathBuf};

/// The versions of `package` the configured archives serve now, newest
/// first (apt's own ordering, through `dpkg --compare-versions`). Empty
/// when apt knows none (stale or missing package lists).
pub fn served_versions(package: &str) -> Result<Vec<String>> {
    served_versions_with(package, &[])
}

/// [`served_versions`] with apt `-o` options, e.g. [`OtherSuite::options`].
pub fn served_versions_with(package: &str, options: &[String]) -> Result<Vec<String>> {
    let output = Cmd::new("apt-cache")
        .args(options)
        .args(["madison", package])
        .output()
        .context("running apt-cache madison (is apt installed?)")?;
    let mut versions = parse_madison(package, &String::from_utf8_lossy(&output.stdout));
    versions.sort_by(|a, b| compare_versions(b, a));
    versions.dedup();
    Ok(versions)
}

/// The version column of `apt-cache madison` lines for `package`
/// (`pkg | version | archive`), in the order given.
fn parse_madison(package: &str, text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let mut cols = line.split('|').map(str::trim);
            (cols.next()? == package).then_some(())?;
            let version = cols.next()?;
            (!version.is_empty() && !version.contains(char::is_whitespace))
                .then(|| version.to_string())
        })
        .collect()
}

/// Debian version order, as dpkg decides it.
fn compare_versions(a: &str, b: &str) -> Ordering {
    let is = |op: &str| {
        Cmd::new("dpkg")
            .args(["--compare-versions", a, op, b])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if is("lt") {
        Ordering::Less
    } else if is("gt") {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

/// `apt-get update`, when root; a fresh machine has no package lists and
/// a stale one does not know the newest builds. Failures are left to the
/// next apt command to report.
pub fn refresh_lists() {
    if is_root() {
        let _ = Cmd::new("apt-get")
            .args(["update", "-q"])
            .stdout_null()
            .stderr_null()
            .output();
    }
}

/// A Debian release other than the machine's, reachable through the
/// machine's own Debian mirror: its package list lives under
/// `target/gsi/apt/<suite>/`, apart from the machine's, so packages of it
/// can be downloaded (checked against its signed index with the machine's
/// archive keyring) and nothing about the machine's apt changes.
pub struct OtherSuite {
    pub suite: String,
    dir: PathBuf,
}

impl OtherSuite {
    pub fn new(suite: &str) -> Result<OtherSuite> {
        if suite.is_empty() || !suite.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
            bail!("suite = {suite:?}: a Debian release name such as trixie");
        }
        let dir = crate::work_dir().join("apt").join(suite);
        for sub in ["lists/partial", "cache/archives/partial", "parts"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        Ok(OtherSuite {
            suite: suite.to_string(),
            dir,
        })
    }

    /// The `-o` options that point apt at this release's list only.
    pub fn options(&self) -> Vec<String> {
        let d = self.dir.display();
        vec![
            format!("-oDir::Etc::SourceList={d}/sources.list"),
            format!("-oDir::Etc::SourceParts={d}/parts"),
            format!("-oDir::State::Lists={d}/lists"),
            format!("-oDir::Cache={d}/cache"),
            "-oAcquire::Languages=none".to_string(),
        ]
    }

    pub fn has_lists(&self) -> bool {
        std::fs::read_dir(self.dir.join("lists"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with("_Packages"))
    }

    /// Writes the sources line from the machine's own mirror and fetches
    /// the release's package list.
    pub fn update(&self) -> Result<()> {
        let policy = Cmd::new("apt-cache")
            .arg("policy")
            .output()
            .context("running apt-cache policy (is apt installed?)")?;
        let mirror = main_mirror(&String::from_utf8_lossy(&policy.stdout)).context(
            "apt-cache policy names no Debian main archive (`<uri> <release>/main`): add the \
             machine's Debian sources (/etc/apt/sources.list.d/debian.sources) and run \
             `apt-get update`",
        )?;
        crate::write_atomic(
            &self.dir.join("sources.list"),
            format!("deb {mirror} {} main\n", self.suite).as_bytes(),
        )?;
        let output = Cmd::new("apt-get")
            .args(self.options())
            .args(["update", "-q"])
            .stderr_to_stdout()
            .output()
            .context("running apt-get update (is apt installed?)")?;
        let said = String::from_utf8_lossy(&output.stdout);
        if !output.status.success()
            || said
                .lines()
                .any(|l| l.starts_with("E:") || l.starts_with("W: GPG"))
        {
            bail!(
                "apt-get update of {} from {mirror} failed:\n{}",
                self.suite,
                said.trim()
            );
        }
        Ok(())
    }
}

/// The URI of the machine's main Debian archive in `apt-cache policy`'s
/// output: the line `<prio> <uri> <release>/main <arch> Packages` whose
/// release has no `-updates`/`-security` suffix.
fn main_mirror(policy: &str) -> Option<String> {
    policy.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        let _priority: i64 = words.next()?.parse().ok()?;
        let uri = words.next()?;
        let (release, component) = words.next()?.split_once('/')?;
        (component == "main" && !release.contains('-') && uri.contains("://"))
            .then(|| uri.to_string())
    })
}

/// Downloads `package=version` with `apt-get download` into `dir` (apt
/// checks it against the archive's signed index) and checks that the
/// package says it is that version. Returns the file.
pub fn download(package: &str, version: &str, dir: &Path) -> Result<PathBuf> {
    let spec = format!("{package}={version}");
    let output = Cmd::new("apt-get")
        .args(["download", "-q", &spec])
        .dir(dir)
        .stderr_to_stdout()
        .output()
        .context("running apt-get download (is apt installed?)")?;
    if !output.status.success() {
        bail!(
            "apt-get download {spec} failed:\n{}",
            String::from_utf8_lossy(&output.stdout).trim()
        );
    }
    let deb = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .with_context(|| format!("apt-get download {spec} succeeded but left no .deb"))?;
    let said = Cmd::new("dpkg-deb")
        .args(["--field"])
        .arg(&deb)
        .args(["Package", "Version"])
        .output()
        .context("running dpkg-deb --field")?;
    let said = String::from_utf8_lossy(&said.stdout).to_string();
    let field = |name: &str| {
        said.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .map(str::trim)
            .unwrap_or("")
            .to_string()
    };
    if field("Package") != package || field("Version") != version {
        bail!(
            "{}: the package says it is {} {}, not {package} {version}",
            deb.display(),
            field("Package"),
            field("Version")
        );
    }
    Ok(deb)
}

/// Where a Debian pin is written and how to move it, for the errors of
/// [`not_served`] and a download whose hash does not match.
#[derive(Debug, Clone, Copy)]
pub struct PinFile {
    /// The file that pins the package, e.g. `configs/kernel.toml`.
    pub file: &'static str,
    /// How to move the pin, in one or more lines.
    pub how_to_move: &'static str,
}

/// The kernel's pin: `cargo xtask pin update` moves it.
pub const KERNEL_PIN: PinFile = PinFile {
    file: "configs/kernel.toml",
    how_to_move: "Move the pin to the newest build: cargo xtask pin update\n\
         or to one of them: cargo xtask pin update <VERSION>\n\
         (it downloads and verifies the .deb and rewrites version and sha256 in \
         configs/kernel.toml; every kernel then rebuilds on the new tree)",
};

/// An `[[also]]` tree of configs/kernel.toml (check-series' other-trees).
pub const ALSO_PIN: PinFile = PinFile {
    file: "configs/kernel.toml ([[also]])",
    how_to_move: "Set version and sha256 of that [[also]] entry to a build the archive serves \
         (`apt-cache policy <package>` lists them; `apt-get download <package>=<version>` and \
         `sha256sum` give the hash), or remove the entry",
};

/// Xen's pin: moved by hand (no verb rewrites it).
pub const XEN_PIN: PinFile = PinFile {
    file: "configs/xen.toml",
    how_to_move: "Move the pin by hand: `apt-get download <package>=<VERSION>`, then put that \
         version and the .deb's `sha256sum` into source.version and source.sha256 of \
         configs/xen.toml (the next run unpacks the new hypervisor)",
};

/// The error for a pinned version the archive no longer serves: what is
/// served now and the one command that moves the pin.
pub fn not_served(package: &str, version: &str, served: &[String]) -> String {
    not_served_in(KERNEL_PIN, package, version, served)
}

/// [`not_served`] for a package pinned in `pin.file`.
pub fn not_served_in(pin: PinFile, package: &str, version: &str, served: &[String]) -> String {
    let now = if served.is_empty() {
        format!(
            "apt knows no version of {package} at all: refresh the package lists (`apt-get update`, as root)"
        )
    } else {
        format!("served now: {}", served.join(", "))
    };
    format!(
        "{package} {version}, the version {} pins, is not served by the \
         configured archive any more ({now}).\n{}",
        pin.file, pin.how_to_move
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn madison_lines_give_the_versions_of_the_package() {
        let text = "\
linux-source-6.12 | 6.12.118-1~deb12u1 | https://archive.example/debian-security bookworm-security/main amd64 Packages
linux-source-6.12 | 6.12.117-1~deb12u1 | https://archive.example/debian-security bookworm-security/main amd64 Packages
linux-source-6.1 | 6.1.192-1 | https://archive.example/debian bookworm/main amd64 Packages
garbage without columns
linux-source-6.12 |  | empty version
";
        assert_eq!(
            parse_madison("linux-source-6.12", text),
            ["6.12.118-1~deb12u1", "6.12.117-1~deb12u1"]
        );
        assert!(parse_madison("linux-source-6.13", text).is_empty());
    }

    #[test]
    fn the_main_mirror_is_the_release_without_a_suffix() {
        let policy = "Package files:\n 100 /var/lib/dpkg/status\n     release a=now\n \
                      500 https://security.example/debian-security bookworm-security/main amd64 Packages\n \
                      500 https://archive.example/debian bookworm-updates/main amd64 Packages\n \
                      500 https://archive.example/debian bookworm/main amd64 Packages\n";
        assert_eq!(
            main_mirror(policy).as_deref(),
            Some("https://archive.example/debian")
        );
        assert_eq!(
            main_mirror("Package files:\n 100 /var/lib/dpkg/status\n"),
            None
        );
    }

    #[test]
    fn versions_compare_as_dpkg_does() {
        if crate::sys::tools::find_on_path("dpkg").is_none() {
            panic!("dpkg is missing: this workbench runs on Debian (apt-get install dpkg)");
        }
        assert_eq!(
            compare_versions("6.12.107-1~deb12u1", "6.12.118-1~deb12u1"),
            Ordering::Less
        );
        // ~ sorts before anything, so a backport is older than the release.
        assert_eq!(
            compare_versions("6.12.118-1", "6.12.118-1~deb12u1"),
            Ordering::Greater
        );
        assert_eq!(
            compare_versions("6.12.118-1", "6.12.118-1"),
            Ordering::Equal
        );
    }

    #[test]
    fn the_error_names_the_served_versions_and_the_command() {
        let text = not_served(
            "linux-source-6.12",
            "6.12.117-1~deb12u1",
            &["6.12.118-1~deb12u1".into(), "6.12.116-1~deb12u1".into()],
        );
        assert!(text.contains("6.12.117-1~deb12u1, the version configs/kernel.toml pins"));
        assert!(text.contains("served now: 6.12.118-1~deb12u1, 6.12.116-1~deb12u1"));
        assert!(text.contains("cargo xtask pin update\n"), "{text}");
        let none = not_served("linux-source-6.12", "6.12.117-1~deb12u1", &[]);
        assert!(none.contains("apt-get update"), "{none}");
        let xen = not_served_in(XEN_PIN, "xen-hypervisor-4.17-amd64", "4.17.7", &[]);
        assert!(xen.contains("the version configs/xen.toml pins"), "{xen}");
        assert!(xen.contains("source.sha256 of configs/xen.toml"), "{xen}");
    }
}
