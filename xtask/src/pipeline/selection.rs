//! Which revisions and topologies a run covers: a profile of
//! `configs/matrix.toml`, narrowed by `--revision`/`--topology`, resolved
//! into loaded revisions and topologies (every unknown name an error that
//! lists the known ones), and how many cores a build may use.

use crate::config::matrix::{self, Matrix};
use crate::config::topology::{self, Topology};
use crate::pipeline::revision::{self, Revision};
use anyhow::{Context, Result};

/// One resolved selection.
pub struct Selection {
    pub matrix: Matrix,
    pub revisions: Vec<Revision>,
    pub topologies: Vec<Topology>,
}

/// Resolves profile and filters into loaded revisions and topologies;
/// every unknown name is an error listing the known ones.
pub fn select(
    profile: Option<&str>,
    revisions: &[String],
    topologies: &[String],
) -> Result<Selection> {
    let matrix = matrix::load(&matrix::path())?;
    let profile_name = profile.unwrap_or(&matrix.spec.default_profile).to_string();
    let profile = matrix.profile(&profile_name)?.clone();
    let rev_names = if revisions.is_empty() {
        profile.revisions.clone()
    } else {
        revisions.to_vec()
    };
    let topo_dir = topology::dir();
    let mut topo_names = if topologies.is_empty() {
        profile.topologies.clone()
    } else {
        topologies.to_vec()
    };
    // "*" is every topology that boots the usual kernel on the machine;
    // one that names a kernel variant (`kernel = "debug"`) costs a kernel
    // build per revision, and one under a hypervisor minutes of TCG, so
    // they run only where a profile or `-t` names them.
    if topo_names.iter().any(|t| t == "*") {
        topo_names = expand_star(&topo_names, &topo_dir)?;
    }
    let revisions = rev_names
        .iter()
        .map(|r| load_revision(r))
        .collect::<Result<Vec<_>>>()?;
    let topologies = topo_names
        .iter()
        .map(|t| crate::model::load_topology(&topo_dir, t))
        .collect::<Result<Vec<_>>>()?;
    Ok(Selection {
        matrix,
        revisions,
        topologies,
    })
}

/// `*` is every topology that boots on the machine; the ones that boot
/// under a hypervisor (minutes each under TCG) are named one by one (the
/// `xen` and `all` profiles). Order kept, duplicates dropped.
fn expand_star(names: &[String], dir: &std::path::Path) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        let add: Vec<String> = if name == "*" {
            let mut plain = Vec::new();
            for known in topology::known(dir) {
                let spec = topology::load(dir, &known)?.spec;
                if spec.hypervisor.is_none() && spec.kernel.is_none() {
                    plain.push(known);
                }
            }
            plain
        } else {
            vec![name.clone()]
        };
        for name in add {
            if !out.contains(&name) {
                out.push(name);
            }
        }
    }
    Ok(out)
}

/// A shipped revision by name, or a git range `NAME=TREE:BASE..BRANCH`
/// ([`crate::pipeline::git_range`]).
pub fn load_revision(word: &str) -> Result<Revision> {
    let series = revision::series_dir();
    if crate::pipeline::git_range::is_range(word) {
        return crate::pipeline::git_range::load(word, &revision::known(&series));
    }
    revision::load(&series, word)
}

/// The revision being developed: the last one the default profile of
/// configs/matrix.toml lists (`boot` boots it when no `--revision` is
/// given).
pub fn newest_revision() -> Result<String> {
    let matrix = matrix::load(&matrix::path())?;
    let profile = matrix.profile(&matrix.spec.default_profile)?;
    profile.revisions.last().cloned().with_context(|| {
        format!(
            "{}: profile {} lists no revision",
            crate::config::display(&matrix.path),
            matrix.spec.default_profile
        )
    })
}

/// The trial names the shipped configs plan for `revision` on
/// `topology`: what a whole report of that boot holds (tests compare
/// reports with it).
pub fn planned_trials(revision: &str, topology: &str) -> Result<Vec<String>> {
    let matrix = matrix::load(&matrix::path())?;
    let topology = topology::load(&topology::dir(), topology)?;
    let plan = crate::model::plan::of(
        &topology,
        revision,
        matrix.attribute(revision),
        matrix.policy(),
    );
    Ok(crate::pipeline::console::planned_trials(&plan))
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_defaults_to_the_last_revision_of_the_default_profile() {
        let m = matrix::load(&matrix::path()).unwrap();
        let default = &m.spec.profiles[&m.spec.default_profile];
        let newest = newest_revision().unwrap();
        assert_eq!(Some(&newest), default.revisions.last());
        assert_ne!(newest, "baseline");
    }

    #[test]
    fn star_leaves_out_the_hypervisor_topologies() {
        let dir = topology::dir();
        let star = expand_star(&["*".into()], &dir).unwrap();
        assert!(star.contains(&"q35".to_string()), "{star:?}");
        assert!(!star.iter().any(|t| t.starts_with("xen-")), "{star:?}");
        let all = expand_star(&["*".into(), "xen-pv-dom0".into(), "q35".into()], &dir).unwrap();
        assert_eq!(all.len(), star.len() + 1, "{all:?}");
        assert_eq!(all.last().map(String::as_str), Some("xen-pv-dom0"));
        let full = select(Some("full"), &[], &[]).unwrap();
        assert!(full.topologies.iter().all(|t| t.spec.hypervisor.is_none()));
        let every = select(Some("all"), &[], &[]).unwrap();
        assert_eq!(every.topologies.len(), topology::known(&dir).len());
    }

    #[test]
    fn star_leaves_out_topologies_on_a_kernel_variant() {
        let star = select(None, &["v5".into()], &["*".into()]).unwrap();
        let names: Vec<&str> = star.topologies.iter().map(|t| t.name.as_str()).collect();
        assert!(names.contains(&"q35-smp2"), "{names:?}");
        assert!(!names.contains(&"q35-smp2-debug"), "{names:?}");
        assert!(star.topologies.iter().all(|t| t.spec.kernel.is_none()));
        let all = select(Some("all"), &[], &[]).unwrap();
        let names: Vec<&str> = all.topologies.iter().map(|t| t.name.as_str()).collect();
        assert!(names.contains(&"q35-smp2-debug"), "{names:?}");
        assert!(names.contains(&"synth-amd"), "{names:?}");
        assert!(names.contains(&"xen-pvh-dom0"), "{names:?}");
    }

    #[test]
    fn every_shipped_profile_names_known_revisions_and_topologies() {
        let m = matrix::load(&matrix::path()).unwrap();
        let revisions = revision::known(&revision::series_dir());
        let topologies = topology::known(&topology::dir());
        for (name, p) in &m.spec.profiles {
            for r in &p.revisions {
                assert!(
                    revisions.contains(r),
                    "profile {name}: unknown revision {r}"
                );
            }
            for t in p.topologies.iter().filter(|t| *t != "*") {
                assert!(
                    topologies.contains(t),
                    "profile {name}: unknown topology {t}"
                );
            }
        }
    }
}
