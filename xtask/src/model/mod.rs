//! The routing model: where each device's interrupt must land on a machine
//! shape ([`routing`]), and from it the plan the guest suite is judged by
//! ([`plan`]).

pub mod plan;
pub mod routing;

use crate::config::topology::{self, Topology};
use anyhow::Result;
use std::path::Path;

/// Loads topology `name` from `dir` ([`topology::load`]) and checks its
/// GSIs against the routing model ([`plan::check`]): a topology the model
/// disagrees with never reaches a boot.
pub fn load_topology(dir: &Path, name: &str) -> Result<Topology> {
    let topology = topology::load(dir, name)?;
    plan::check(&topology)?;
    Ok(topology)
}
