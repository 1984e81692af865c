//! `cargo xtask pin list|update`: the Debian pin against what the archive
//! serves now, and moving it.
//!
//! Debian's archive serves a few builds of `linux-source-6.12` at once
//! and drops old ones as new ones come; the day the pinned build is
//! dropped, a fresh machine cannot fetch it (a checkout that already has
//! the verified .deb in `target/gsi/downloads/` keeps working). `update`
//! downloads the new build with apt (checked against the archive's signed
//! index, and its control fields against the version asked for), stores
//! it where the pin step finds it, and rewrites `version` and `sha256` in
//! configs/kernel.toml, keeping every other line and comment. `list`
//! also names the `[[also]]` trees check-series applies the series to
//! (check `other-trees`) and whether the archive still serves them.

use crate::config::kernel::{KernelToml, Source};
use crate::pipeline::debian;
use anyhow::{bail, Context, Result};
use std::path::Path;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// The pinned version and the versions the archive serves now.
    List,
    /// Move the pin to VERSION (default: the newest served build): download
    /// and verify it, rewrite version and sha256 in configs/kernel.toml.
    Update {
        /// An exact Debian version, e.g. 6.12.118-1~deb12u1.
        version: Option<String>,
    },
}

pub fn run(command: Command) -> Result<()> {
    let path = crate::config::configs_dir().join("kernel.toml");
    let toml = KernelToml::load(&path)?;
    let Source::Debian {
        package,
        version: pinned,
        ..
    } = &toml.source
    else {
        bail!(
            "{}: the pin is not a Debian package (kind = \"debian\"); a git or path pin moves by \
             editing its commit or its tree",
            crate::config::display(&path)
        );
    };
    debian::refresh_lists();
    let served = debian::served_versions(package)?;
    match command {
        Command::List => {
            println!("pinned: {package} {pinned}");
            if served.is_empty() {
                println!("served: none known to apt (run `apt-get update` as root)");
            }
            for version in &served {
                let mark = if version == pinned { "  (pinned)" } else { "" };
                println!("served: {package} {version}{mark}");
            }
            if !served.iter().any(|v| v == pinned) {
                println!("the pinned build is not served any more: cargo xtask pin update");
            }
            // The [[also]] trees check-series applies the series to.
            for also in &toml.also {
                let role = if also.required {
                    "required"
                } else {
                    "informational"
                };
                match &also.source {
                    Source::Debian {
                        package, version, ..
                    } => {
                        let now = debian::served_versions(package).unwrap_or_default();
                        let state = if now.iter().any(|v| v == version) {
                            "served".to_string()
                        } else {
                            format!(
                                "not served any more (served: {}); edit that [[also]] entry",
                                if now.is_empty() {
                                    "none".to_string()
                                } else {
                                    now.join(", ")
                                }
                            )
                        };
                        println!("also ({role}): {package} {version}, {state}");
                    }
                    Source::Git { url, commit } => {
                        println!("also ({role}): {url} @ {}", &commit[..12])
                    }
                    Source::Path { path } => println!("also ({role}): {}", path.display()),
                }
            }
            Ok(())
        }
        Command::Update { version } => {
            let Some(target) = version.or_else(|| served.first().cloned()) else {
                bail!("{}", debian::not_served(package, pinned, &served));
            };
            if !served.contains(&target) {
                bail!(
                    "{package} {target} is not served by the configured archive; served now: {}",
                    if served.is_empty() {
                        "none (run `apt-get update` as root)".to_string()
                    } else {
                        served.join(", ")
                    }
                );
            }
            update(&path, package, pinned, &target)
        }
    }
}

fn update(path: &Path, package: &str, pinned: &str, target: &str) -> Result<()> {
    let downloads = crate::work_dir().join("downloads");
    std::fs::create_dir_all(&downloads)
        .with_context(|| format!("creating {}", downloads.display()))?;
    println!("pin: apt-get download {package}={target}");
    let scratch = tempfile::Builder::new()
        .prefix(".pin-update-")
        .tempdir_in(&downloads)?;
    let fetched = debian::download(package, target, scratch.path())?;
    let sha256 = crate::sha256_file(&fetched)?;
    // Where the pin step looks for it (and checks it against the pin).
    let deb = downloads.join(format!("{package}_{}.deb", target.replace(':', "%3a")));
    std::fs::rename(&fetched, &deb)
        .with_context(|| format!("moving the download to {}", deb.display()))?;

    let old =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let new = rewrite_source(&old, target, &sha256)
        .with_context(|| format!("rewriting {}", crate::config::display(path)))?;
    // The result must load as a pin of the new build before it replaces
    // the file.
    let check = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile_in(path.parent().unwrap_or(Path::new(".")))?;
    std::fs::write(check.path(), &new)?;
    match KernelToml::load(check.path())?.source {
        Source::Debian {
            version, sha256: s, ..
        } if version == target && s == sha256 => {}
        other => bail!("the rewritten kernel.toml pins {other:?}, not {target} ({sha256})"),
    }
    drop(check);
    crate::write_atomic(path, new.as_bytes())?;
    println!("{}:", crate::config::display(path));
    for (before, after) in old.lines().zip(new.lines()).filter(|(a, b)| a != b) {
        println!("-{before}\n+{after}");
    }
    if pinned == target {
        println!("the pin already named {target}; its sha256 is now the download's");
    }
    println!(
        "pinned {package} {target} (sha256 {sha256}, verified by apt and stored as {}).\n\
         The next `cargo xtask test-matrix` unpacks the new tree and rebuilds every kernel on it \
         (objects from ccache where they are the same); commit configs/kernel.toml.",
        crate::config::display(&deb)
    );
    Ok(())
}

/// `text` with `version` and `sha256` of its `[source]` table replaced,
/// everything else as it was.
fn rewrite_source(text: &str, version: &str, sha256: &str) -> Result<String> {
    let mut out = Vec::new();
    let mut in_source = false;
    let (mut set_version, mut set_sha) = (false, false);
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            in_source = trimmed.starts_with("[source]");
        }
        let key = trimmed.split('=').next().unwrap_or("").trim();
        let replaced = match key {
            "version" if in_source && !trimmed.starts_with('#') => {
                set_version = true;
                Some(format!("version = {version:?}"))
            }
            "sha256" if in_source && !trimmed.starts_with('#') => {
                set_sha = true;
                Some(format!("sha256 = {sha256:?}"))
            }
            _ => None,
        };
        out.push(replaced.unwrap_or_else(|| line.to_string()));
    }
    if !(set_version && set_sha) {
        bail!("no `version = ` and `sha256 = ` lines in its [source] table");
    }
    let mut new = out.join("\n");
    if text.ends_with('\n') {
        new.push('\n');
    }
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = "# The pin.\n[source]\nkind = \"debian\"\npackage = \"linux-source-6.12\"\n\
        version = \"6.12.117-1~deb12u1\"\nsha256 = \"aa\"\n\n[config]\n# version = \"x\"\nbase = \"tinyconfig\"\n";

    #[test]
    fn only_the_source_version_and_sha256_change() {
        let new = rewrite_source(SHIPPED, "6.12.118-1~deb12u1", "bb").unwrap();
        assert_eq!(
            new,
            SHIPPED
                .replace("6.12.117-1~deb12u1", "6.12.118-1~deb12u1")
                .replace("sha256 = \"aa\"", "sha256 = \"bb\"")
        );
        let err = rewrite_source("[config]\nversion = \"1\"\n", "2", "cc").unwrap_err();
        assert!(err.to_string().contains("[source]"), "{err}");
    }

    #[test]
    fn the_shipped_kernel_toml_rewrites_into_a_loadable_pin() {
        let path = crate::config::configs_dir().join("kernel.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let sha = "0".repeat(64);
        let new = rewrite_source(&text, "6.12.999-1~deb12u1", &sha).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("kernel.toml");
        std::fs::write(&copy, &new).unwrap();
        match KernelToml::load(&copy).unwrap().source {
            Source::Debian {
                version, sha256, ..
            } => assert_eq!(
                (version.as_str(), sha256.as_str()),
                ("6.12.999-1~deb12u1", &*sha)
            ),
            other => panic!("{other:?}"),
        }
    }
}
