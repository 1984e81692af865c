//! `configs/kernel.toml`: where the pinned tree comes from and how the
//! guest kernel is configured, checked field by field, and the config
//! fragments it names read once.

use crate::config;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// `configs/kernel.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelToml {
    /// Where the tree comes from. Required.
    pub source: Source,
    /// How the guest kernel is configured. Default: tinyconfig + kernel/boot.config.
    #[serde(default)]
    pub config: ConfigToml,
    /// Other trees `check-series` applies each patch to (`git am --3way`),
    /// besides the pin: an older stable kernel, a maintainer's branch.
    /// Nothing is built or booted on them.
    #[serde(default)]
    pub also: Vec<AlsoPin>,
}

/// One `[[also]]` entry: a tree of any source kind, fetched, verified and
/// cached like the pin.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlsoPin {
    /// Whether a patch that does not apply to it fails `other-trees`.
    /// Default false: reported with patch, file and line, informational.
    #[serde(default)]
    pub required: bool,
    /// Where the tree comes from, as `[source]`.
    pub source: Source,
}

/// Where the pinned tree comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Source {
    /// Debian's kernel source package, fetched with `apt-get download`.
    Debian {
        /// Package name, e.g. `linux-source-6.12`.
        package: String,
        /// Exact Debian version, e.g. `6.12.117-1~deb12u1`.
        version: String,
        /// sha256 of the .deb; a mismatch is an error.
        sha256: String,
    },
    /// A git repository (URL or local path) at a fixed commit.
    Git {
        /// Anything `git clone` takes.
        url: String,
        /// Full 40-hex commit id.
        commit: String,
    },
    /// A local git tree; its HEAD at the time of the run is the pin.
    Path {
        /// Relative paths resolve against kernel.toml's directory.
        path: PathBuf,
    },
}

/// The `[config]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigToml {
    /// The make target that starts the config. Default: `tinyconfig`.
    #[serde(default = "default_base")]
    pub base: String,
    /// Fragments appended before olddefconfig, relative to kernel.toml's
    /// directory. Default: `["kernel/boot.config"]`.
    #[serde(default = "default_fragments")]
    pub fragments: Vec<PathBuf>,
}

fn default_base() -> String {
    "tinyconfig".into()
}

fn default_fragments() -> Vec<PathBuf> {
    vec![PathBuf::from("kernel/boot.config")]
}

impl Default for ConfigToml {
    fn default() -> Self {
        ConfigToml {
            base: default_base(),
            fragments: default_fragments(),
        }
    }
}

impl KernelToml {
    pub fn load(path: &Path) -> Result<KernelToml> {
        let toml: KernelToml = config::load(path)?;
        toml.validate(path)?;
        Ok(toml)
    }

    /// Cross-field rules, named by file and key.
    pub fn validate(&self, path: &Path) -> Result<()> {
        let file = config::display(path);
        validate_source(&file, "source", &self.source)?;
        for (n, also) in self.also.iter().enumerate() {
            validate_source(&file, &format!("also[{n}].source"), &also.source)?;
            if also.source == self.source {
                bail!("{file}: also[{n}] is the pin itself ([source]): list other trees there");
            }
        }
        if !["tinyconfig", "allnoconfig", "defconfig"].contains(&self.config.base.as_str()) {
            bail!(
                "{file}: config.base = {:?}; known: tinyconfig, allnoconfig, defconfig",
                self.config.base
            );
        }
        Ok(())
    }
}

/// A source's hash or commit is well-formed; `key` names it in errors.
fn validate_source(file: &str, key: &str, source: &Source) -> Result<()> {
    match source {
        Source::Debian { sha256, .. } => {
            if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                bail!("{file}: {key}.sha256 must be 64 hex digits, found {sha256:?}");
            }
        }
        Source::Git { commit, .. } => {
            if commit.len() != 40 || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
                bail!("{file}: {key}.commit must be a full 40-hex commit id, found {commit:?}");
            }
        }
        Source::Path { .. } => {}
    }
    Ok(())
}

/// The config inputs, read once.
#[derive(Debug, Clone)]
pub struct KernelConfig {
    pub base: String,
    /// (path, contents) of each fragment, in order.
    pub fragments: Vec<(PathBuf, String)>,
    /// The kernel variant a topology named (`kernel = "debug"`), whose
    /// fragment is the last one; `None` for the usual kernel. Only names
    /// logs and progress: the hash is the fragments'.
    pub variant: Option<String>,
}

impl KernelConfig {
    /// Reads the fragments `toml` names (relative to `kernel_toml`).
    pub fn read(kernel_toml: &Path, toml: &ConfigToml) -> Result<KernelConfig> {
        let mut fragments = Vec::new();
        for fragment in &toml.fragments {
            let path = config::resolve(kernel_toml, fragment);
            let contents = std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "{}: config.fragments names {}, which cannot be read",
                    config::display(kernel_toml),
                    config::display(&path)
                )
            })?;
            fragments.push((path, contents));
        }
        Ok(KernelConfig {
            base: toml.base.clone(),
            fragments,
            variant: None,
        })
    }

    /// This config with `configs/kernel/<variant>.config` added last: the
    /// kernel a topology with `kernel = "<variant>"` boots.
    pub fn with_variant(&self, variant: &str) -> Result<KernelConfig> {
        let path = config::configs_dir()
            .join("kernel")
            .join(format!("{variant}.config"));
        let contents = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "kernel variant {variant:?}: reading {}",
                config::display(&path)
            )
        })?;
        let mut fragments = self.fragments.clone();
        fragments.push((path, contents));
        Ok(KernelConfig {
            base: self.base.clone(),
            fragments,
            variant: Some(variant.to_string()),
        })
    }

    pub fn hash(&self) -> String {
        let mut text = format!("base={}\n", self.base);
        // By file name, not full path: the same configs in another checkout
        // (a CI clone, a second worktree) must give the same key.
        for (path, contents) in &self.fragments {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            text.push_str(&format!("fragment {name}\n{contents}\n"));
        }
        crate::sha256_hex(text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<KernelToml> {
        let toml: KernelToml = config::parse(text, Path::new("kernel.toml"))?;
        toml.validate(Path::new("kernel.toml"))?;
        Ok(toml)
    }

    #[test]
    fn the_shipped_pin_parses() {
        let toml = KernelToml::load(&crate::project_root().join("configs/kernel.toml")).unwrap();
        assert!(matches!(toml.source, Source::Debian { .. }));
        assert_eq!(toml.config.base, "tinyconfig");
    }

    #[test]
    fn a_variant_adds_its_fragment_last_and_changes_the_hash() {
        let kernel_toml = crate::config::configs_dir().join("kernel.toml");
        let usual = KernelConfig::read(&kernel_toml, &ConfigToml::default()).unwrap();
        let debug = usual.with_variant("debug").unwrap();
        assert_eq!(debug.variant.as_deref(), Some("debug"));
        assert_eq!(debug.fragments.len(), usual.fragments.len() + 1);
        let (path, contents) = debug.fragments.last().unwrap();
        assert_eq!(path.file_name().unwrap(), "debug.config");
        assert!(contents.contains("CONFIG_PROVE_LOCKING=y"));
        assert_ne!(debug.hash(), usual.hash());
        // The same fragments listed in kernel.toml build the same kernel.
        let listed = KernelConfig::read(
            &kernel_toml,
            &ConfigToml {
                fragments: vec!["kernel/boot.config".into(), "kernel/debug.config".into()],
                ..ConfigToml::default()
            },
        )
        .unwrap();
        assert_eq!(listed.hash(), debug.hash());
        let err = usual.with_variant("nosuch").unwrap_err();
        assert!(format!("{err:#}").contains("nosuch.config"), "{err:#}");
    }

    #[test]
    fn sources_of_each_kind_parse() {
        let git = parse(&format!(
            "[source]\nkind='git'\nurl='/src/linux'\ncommit='{}'\n",
            "a".repeat(40)
        ))
        .unwrap();
        assert!(matches!(git.source, Source::Git { .. }));
        let path = parse("[source]\nkind='path'\npath='../linux'\n").unwrap();
        assert_eq!(
            path.source,
            Source::Path {
                path: "../linux".into()
            }
        );
        assert_eq!(path.config.fragments, default_fragments());
    }

    #[test]
    fn bad_pins_are_rejected_with_the_key() {
        let short = parse("[source]\nkind='debian'\npackage='p'\nversion='1'\nsha256='abc'\n");
        assert!(short.unwrap_err().to_string().contains("source.sha256"));
        let unknown = parse("[source]\nkind='debian'\npackage='p'\nversion='1'\nsha='x'\n");
        assert!(unknown.unwrap_err().to_string().contains("sha"));
        let kind = parse("[source]\nkind='svn'\n");
        assert!(kind.unwrap_err().to_string().contains("svn"));
        let base = parse("[source]\nkind='path'\npath='x'\n[config]\nbase='bogusconfig'\n");
        assert!(base.unwrap_err().to_string().contains("config.base"));
        let also = parse(
            "[source]\nkind='path'\npath='x'\n[[also]]\n[also.source]\nkind='debian'\n\
             package='p'\nversion='1'\nsha256='abc'\n",
        );
        assert!(also
            .unwrap_err()
            .to_string()
            .contains("also[0].source.sha256"));
        let itself =
            parse("[source]\nkind='path'\npath='x'\n[[also]]\nsource={kind='path',path='x'}\n");
        assert!(itself.unwrap_err().to_string().contains("the pin itself"));
    }

    #[test]
    fn the_shipped_also_pin_is_debian_6_1_and_informational() {
        let toml = KernelToml::load(&crate::project_root().join("configs/kernel.toml")).unwrap();
        assert_eq!(toml.also.len(), 1);
        assert!(!toml.also[0].required);
        assert!(matches!(&toml.also[0].source,
            Source::Debian { package, .. } if package == "linux-source-6.1"));
    }
}
