//! `configs/matrix.toml`: how revisions behave, named profiles of
//! revisions x topologies, and the list of expected failures (LKFT style:
//! a listed failure is `xfail`; a listed trial that passes is `xpass` and
//! fails the run, so the list cannot silently rot).

use crate::config;
use anyhow::{bail, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixToml {
    /// The profile used when `--profile` is not given. Default: `full`.
    #[serde(default = "default_profile")]
    pub default_profile: String,
    /// Per-revision facts; a revision not listed provides the attribute.
    #[serde(default)]
    pub revisions: BTreeMap<String, RevisionToml>,
    /// What a `gsi` read must give where a revision could answer either
    /// way; every revision with the attribute (mutants too) is judged by
    /// it, and one that answers otherwise lists the trials under `xfail`.
    /// Required: the oracle's strength is not left to a default.
    pub policy: gsi_plan::Policy,
    /// Named selections. At least one.
    pub profiles: BTreeMap<String, Profile>,
    /// Expected failures.
    #[serde(default)]
    pub xfail: Vec<Xfail>,
}

fn default_profile() -> String {
    "full".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevisionToml {
    /// Whether the revision adds the `gsi` attribute. Default: present.
    #[serde(default = "default_attribute")]
    pub attribute: gsi_plan::Attribute,
    /// The revision this one follows (for `git range-diff` and the
    /// changelog), when its version number does not say it: `rfc1`
    /// follows `v5`. Must name another entry of `[revisions]`. Default:
    /// none.
    #[serde(default)]
    pub previous: Option<String>,
}

fn default_attribute() -> gsi_plan::Attribute {
    gsi_plan::Attribute::Present
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// One line for `--help` and reports. Default: empty.
    #[serde(default)]
    pub description: String,
    /// Revision names (directories under patches/gsi-sysfs). Required.
    pub revisions: Vec<String>,
    /// Topology names, or `["*"]` for every file in configs/topologies.
    pub topologies: Vec<String>,
}

/// One expected failure; `*` in any field matches any run of characters.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Xfail {
    /// Revision pattern, e.g. `v4`. Required.
    pub revision: String,
    /// Topology pattern. Default: `*`.
    #[serde(default = "star")]
    pub topology: String,
    /// Trial name pattern, e.g. `*::gsi-none`. Required.
    pub trial: String,
    /// Why it is expected; shown beside the failure. Required.
    pub reason: String,
}

fn star() -> String {
    "*".into()
}

/// The loaded matrix with its path, for messages.
#[derive(Debug, Clone)]
pub struct Matrix {
    pub path: PathBuf,
    pub spec: MatrixToml,
}

pub fn path() -> PathBuf {
    config::configs_dir().join("matrix.toml")
}

pub fn load(path: &Path) -> Result<Matrix> {
    let spec: MatrixToml = config::load(path)?;
    let matrix = Matrix {
        path: path.to_path_buf(),
        spec,
    };
    matrix.validate()?;
    Ok(matrix)
}

impl Matrix {
    pub fn validate(&self) -> Result<()> {
        let file = config::display(&self.path);
        if !self.spec.profiles.contains_key(&self.spec.default_profile) {
            bail!(
                "{file}: default_profile = {:?} is not a profile; profiles: {}",
                self.spec.default_profile,
                config::list(self.spec.profiles.keys())
            );
        }
        for (name, profile) in &self.spec.profiles {
            if profile.revisions.is_empty() || profile.topologies.is_empty() {
                bail!("{file}: profiles.{name} needs at least one revision and one topology");
            }
        }
        for (name, revision) in &self.spec.revisions {
            if let Some(previous) = &revision.previous {
                if previous == name || !self.spec.revisions.contains_key(previous) {
                    bail!(
                        "{file}: revisions.{name}.previous = {previous:?} names no other revision; \
                         revisions: {}",
                        config::list(self.spec.revisions.keys())
                    );
                }
            }
        }
        let p = &self.spec.policy;
        for (key, answer) in [
            ("no_pin", p.no_pin),
            ("no_acpi_irq", p.no_acpi_irq),
            ("no_route", p.no_route),
            ("no_route_before_enable", p.no_route_before_enable),
        ] {
            if answer == gsi_plan::Answer::Gsi {
                bail!(
                    "{file}: policy.{key} = \"gsi\", but such a device has no GSI to show: \
                     say \"absent\" or an error (\"enodata\", \"enxio\", \"eagain\")"
                );
            }
        }
        for (i, x) in self.spec.xfail.iter().enumerate() {
            if x.reason.trim().is_empty() {
                bail!(
                    "{file}: xfail entry {} ({} {}) needs a reason",
                    i + 1,
                    x.revision,
                    x.trial
                );
            }
        }
        Ok(())
    }

    pub fn profile(&self, name: &str) -> Result<&Profile> {
        self.spec.profiles.get(name).ok_or_else(|| {
            anyhow::anyhow!(
                "unknown profile {name:?}; profiles in {}: {}",
                config::display(&self.path),
                config::list(self.spec.profiles.keys())
            )
        })
    }

    pub fn attribute(&self, revision: &str) -> gsi_plan::Attribute {
        self.spec
            .revisions
            .get(revision)
            .map_or(default_attribute(), |r| r.attribute)
    }

    /// The revision `revision` follows, when `[revisions]` names one.
    pub fn previous(&self, revision: &str) -> Option<&str> {
        self.spec
            .revisions
            .get(revision)
            .and_then(|r| r.previous.as_deref())
    }

    /// The policy every revision is judged by.
    pub fn policy(&self) -> gsi_plan::Policy {
        self.spec.policy
    }

    /// The reason when `trial` of `revision` on `topology` is listed.
    pub fn xfail(&self, revision: &str, topology: &str, trial: &str) -> Option<String> {
        self.spec
            .xfail
            .iter()
            .find(|x| {
                glob(&x.revision, revision) && glob(&x.topology, topology) && glob(&x.trial, trial)
            })
            .map(|x| x.reason.clone())
    }
}

/// `*` matches any run of characters; everything else is literal.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_like_a_shell() {
        assert!(glob("*", "anything"));
        assert!(glob("v4", "v4"));
        assert!(!glob("v4", "v45"));
        assert!(glob("*::gsi-none", "edu::gsi-none"));
        assert!(!glob("*::gsi-none", "edu::gsi-bound"));
        assert!(glob("mutants/*", "mutants/prints-irq"));
        assert!(glob("a*b*c", "aXbYc"));
        assert!(!glob("a*b*c", "aXcYb"));
        assert!(!glob("ab*ba", "aba"));
    }

    #[test]
    fn the_shipped_matrix_is_valid_and_consistent() {
        let m = load(&path()).unwrap();
        assert_eq!(m.attribute("baseline"), gsi_plan::Attribute::Absent);
        assert_eq!(m.attribute("v4"), gsi_plan::Attribute::Present);
        // rfc1's documented ABI (its cover letter and sysfs-bus-pci entry).
        use gsi_plan::Answer::{Absent, Enodata, Enxio, Gsi};
        assert_eq!(
            m.policy(),
            gsi_plan::Policy {
                before_enable: Enodata,
                link_undecided: Enodata,
                after_disable: Gsi,
                after_unbind: Gsi,
                no_pin: Absent,
                no_acpi_irq: Absent,
                no_route: Enxio,
                no_route_before_enable: Enodata,
            }
        );
        assert_eq!(m.previous("rfc1"), Some("v5"));
        assert_eq!(m.previous("v4"), None);
        // The newest revision runs by default, with the one before it.
        let full = m.profile(&m.spec.default_profile).unwrap();
        assert!(full.revisions.iter().any(|r| r == "rfc1"), "{full:?}");
        assert!(full.revisions.iter().any(|r| r == "v5"), "{full:?}");
    }

    #[test]
    fn bad_matrices_are_rejected_with_the_key() {
        let parse = |t: &str| -> Result<Matrix> {
            let m = Matrix {
                path: "m.toml".into(),
                spec: config::parse(t, Path::new("m.toml"))?,
            };
            m.validate()?;
            Ok(m)
        };
        let good = "default_profile='s'\n[profiles.s]\nrevisions=['v4']\ntopologies=['q35']\n\
                    [policy]\nbefore_enable='gsi'\nlink_undecided='eagain'\n\
                    after_disable='gsi'\nafter_unbind='eagain'\nno_pin='absent'\n\
                    no_acpi_irq='absent'\nno_route='enxio'\nno_route_before_enable='enodata'\n";
        assert_eq!(
            parse(good).unwrap().policy().after_unbind,
            gsi_plan::Answer::Eagain
        );
        let no_policy = good.split("[policy]").next().unwrap();
        assert!(parse(no_policy).unwrap_err().to_string().contains("policy"));
        let half = good.replace("after_unbind='eagain'\n", "");
        assert!(parse(&half)
            .unwrap_err()
            .to_string()
            .contains("after_unbind"));
        let typo = good.replace("'gsi'", "'zero'");
        assert!(parse(&typo).unwrap_err().to_string().contains("zero"));
        let gsi_without_one = good.replace("no_route='enxio'", "no_route='gsi'");
        let err = parse(&gsi_without_one).unwrap_err().to_string();
        assert!(
            err.contains("policy.no_route") && err.contains("no GSI"),
            "{err}"
        );
        let orphan = format!("{good}[revisions.rfc1]\nprevious='v9'\n");
        let err = parse(&orphan).unwrap_err().to_string();
        assert!(err.contains("revisions.rfc1.previous = \"v9\""), "{err}");
        let chained = format!("{good}[revisions.v5]\n[revisions.rfc1]\nprevious='v5'\n");
        assert_eq!(parse(&chained).unwrap().previous("rfc1"), Some("v5"));
        assert!(parse(&good.replace("'s'\n[", "'x'\n["))
            .unwrap_err()
            .to_string()
            .contains("default_profile"));
        let no_reason = format!("{good}[[xfail]]\nrevision='v4'\ntrial='*'\nreason=''\n");
        assert!(parse(&no_reason)
            .unwrap_err()
            .to_string()
            .contains("reason"));
        let typo = format!("{good}[[xfail]]\nrevison='v4'\ntrial='*'\nreason='r'\n");
        assert!(parse(&typo).unwrap_err().to_string().contains("revison"));
        let m = parse(good).unwrap();
        let err = m.profile("nope").unwrap_err().to_string();
        assert!(err.contains("nope") && err.contains("s"), "{err}");
    }
}
