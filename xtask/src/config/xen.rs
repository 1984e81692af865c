//! `configs/xen.toml`: the pinned hypervisor (Debian's Xen package at one
//! version and sha256) and the config fragments of its dom0 kernel.

use crate::config;
use anyhow::{bail, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// `configs/xen.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XenToml {
    /// The Debian package holding the hypervisor. Required.
    pub source: XenSource,
    /// How dom0's kernel differs from the others. Required.
    pub dom0: Dom0Toml,
}

/// The `[source]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XenSource {
    /// Package name, e.g. `xen-hypervisor-4.17-amd64`. Required.
    pub package: String,
    /// Exact Debian version. Required.
    pub version: String,
    /// sha256 of the .deb; a mismatch is an error. Required.
    pub sha256: String,
    /// The gzipped hypervisor ELF inside the package, e.g.
    /// `boot/xen-4.17-amd64.gz`. Required.
    pub image: String,
    /// The Debian release to take the package from when it is not the
    /// machine's own, e.g. `trixie`: apt downloads it (never installs it)
    /// through a package list of that release from the machine's own
    /// Debian mirror, kept apart from the machine's lists. Default: the
    /// machine's own sources.
    #[serde(default)]
    pub suite: Option<String>,
}

/// The `[dom0]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dom0Toml {
    /// Config fragments appended after kernel.toml's, relative to this
    /// file's directory. Required (at least one).
    pub fragments: Vec<PathBuf>,
}

/// `configs/xen.toml`.
pub fn path() -> PathBuf {
    config::configs_dir().join("xen.toml")
}

impl XenToml {
    pub fn load(path: &Path) -> Result<XenToml> {
        let toml: XenToml = config::load(path)?;
        toml.validate(path)?;
        Ok(toml)
    }

    /// Cross-field rules, named by file and key.
    pub fn validate(&self, path: &Path) -> Result<()> {
        let file = config::display(path);
        let s = &self.source;
        if s.sha256.len() != 64 || !s.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!(
                "{file}: source.sha256 must be 64 hex digits, found {:?}",
                s.sha256
            );
        }
        if s.package.is_empty() || s.version.is_empty() {
            bail!("{file}: source.package and source.version must not be empty");
        }
        let image = Path::new(&s.image);
        if image.is_absolute()
            || image
                .components()
                .any(|c| c == std::path::Component::ParentDir)
            || !s.image.ends_with(".gz")
        {
            bail!(
                "{file}: source.image = {:?}: the gzipped hypervisor's path inside the package, \
                 relative, ending in .gz (e.g. \"boot/xen-4.17-amd64.gz\")",
                s.image
            );
        }
        if self.dom0.fragments.is_empty() {
            bail!(
                "{file}: dom0.fragments is empty: dom0 needs at least CONFIG_XEN_DOM0 \
                 (e.g. [\"kernel/xen.config\"])"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<XenToml> {
        let toml: XenToml = config::parse(text, Path::new("xen.toml"))?;
        toml.validate(Path::new("xen.toml"))?;
        Ok(toml)
    }

    const GOOD: &str = "[source]\npackage='xen-hypervisor-4.17-amd64'\nversion='4.17.7'\n\
        sha256='fc074298a677325306662eea382cc4503339b8e1f4db54b24702b0b07cf6741d'\n\
        image='boot/xen-4.17-amd64.gz'\n[dom0]\nfragments=['kernel/xen.config']\n";

    #[test]
    fn the_shipped_pin_parses() {
        let toml = XenToml::load(&path()).unwrap();
        assert_eq!(toml.source.package, "xen-hypervisor-4.20-amd64");
        assert!(toml.source.version.starts_with("4.20.4"));
        assert_eq!(toml.source.suite.as_deref(), Some("trixie"));
        assert_eq!(parse(GOOD).unwrap().source.suite, None);
        assert_eq!(toml.dom0.fragments, [PathBuf::from("kernel/xen.config")]);
    }

    #[test]
    fn bad_pins_are_rejected_with_the_key() {
        assert!(parse(GOOD).is_ok());
        let short = parse(&GOOD.replace("fc0742", "")).unwrap_err().to_string();
        assert!(short.contains("source.sha256"), "{short}");
        let image = parse(&GOOD.replace("boot/xen-4.17-amd64.gz", "../xen"))
            .unwrap_err()
            .to_string();
        assert!(image.contains("source.image"), "{image}");
        let none = parse(&GOOD.replace("['kernel/xen.config']", "[]"))
            .unwrap_err()
            .to_string();
        assert!(none.contains("dom0.fragments"), "{none}");
        let unknown = parse(&format!("{GOOD}colour=1\n")).unwrap_err().to_string();
        assert!(unknown.contains("colour"), "{unknown}");
    }
}
