//! Topologies: one QEMU machine shape per `configs/topologies/*.toml`, with
//! its devices and what each must show in the guest.

use crate::config;
use anyhow::{bail, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The QEMU machine family; it decides the routing model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Machine {
    /// i440FX + PIIX: ACPI link devices LNKA-D.
    Pc,
    /// Q35 + ICH9: PIRQA-H, GSI 16-23.
    Q35,
    /// microvm with a GPEX PCIe host (needs `pcie=on`).
    Microvm,
}

impl Machine {
    pub fn qemu_name(self) -> &'static str {
        match self {
            Machine::Pc => "pc",
            Machine::Q35 => "q35",
            Machine::Microvm => "microvm",
        }
    }
}

/// A `configs/topologies/<name>.toml` file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologyToml {
    /// One line for reports and `--list`. Required.
    pub description: String,
    /// QEMU machine family. Required.
    pub machine: Machine,
    /// Appended to `-machine <machine>,`. Default: none.
    #[serde(default)]
    pub machine_options: String,
    /// Extra kernel command line words (`acpi=off`, `noapic`). Default: none.
    #[serde(default)]
    pub cmdline: String,
    /// Whether ACPI routes PCI interrupts here; false with `acpi=off`,
    /// `acpi=noirq`, `pci=noacpi`. Default: true.
    #[serde(default = "default_true")]
    pub acpi_irq: bool,
    /// Asserted relation of `irq` and GSI for bound INTx devices. Default:
    /// nothing asserted.
    #[serde(default)]
    pub irq_is_gsi: Option<bool>,
    /// Wall-clock limit for one boot, seconds. Default: 60.
    #[serde(default = "default_timeout")]
    pub timeout_s: u64,
    /// Extra `-device` strings that are not checked themselves (bridges,
    /// root ports), in order. Default: none.
    #[serde(default)]
    pub bridges: Vec<String>,
    /// The checked devices. At least one.
    #[serde(rename = "device", default)]
    pub devices: Vec<DeviceToml>,
}

fn default_true() -> bool {
    true
}

fn default_timeout() -> u64 {
    60
}

/// One checked PCI function.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceToml {
    /// Short unique name used in trial names. Required.
    pub name: String,
    /// The QEMU `-device` string, with a fixed `addr` (and `bus`). Required.
    pub qemu: String,
    /// PCI address as the guest shows it. Required.
    pub bdf: String,
    /// Interrupt pin 0 (none) or 1..=4 (INTA..INTD). Required.
    pub pin: u8,
    /// Slots of the bridges between the root bus and the device, from the
    /// root down, for the swizzle. Default: on the root bus.
    #[serde(default)]
    pub via: Vec<u8>,
    /// Driver that must bind, or absent for a device that stays unbound.
    #[serde(default)]
    pub driver: Option<String>,
    /// The GSI the routing must give; absent when there is none. Checked
    /// against the routing model where the model decides.
    #[serde(default)]
    pub gsi: Option<u32>,
}

/// A loaded, validated topology.
#[derive(Debug, Clone)]
pub struct Topology {
    pub name: String,
    pub path: PathBuf,
    pub spec: TopologyToml,
}

/// `configs/topologies/`.
pub fn dir() -> PathBuf {
    config::configs_dir().join("topologies")
}

/// Every topology name in `dir`, sorted.
pub fn known(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            name.strip_suffix(".toml").map(str::to_string)
        })
        .collect();
    names.sort();
    names
}

pub fn load(dir: &Path, name: &str) -> Result<Topology> {
    let path = dir.join(format!("{name}.toml"));
    if !path.is_file() {
        bail!(
            "unknown topology {name:?}; known topologies in {}: {}",
            config::display(dir),
            config::list(known(dir))
        );
    }
    let spec: TopologyToml = config::load(&path)?;
    let topology = Topology {
        name: name.to_string(),
        path,
        spec,
    };
    topology.validate()?;
    Ok(topology)
}

impl Topology {
    /// Cross-field rules and the routing model, naming file and device.
    pub fn validate(&self) -> Result<()> {
        let file = config::display(&self.path);
        let spec = &self.spec;
        if spec.devices.is_empty() {
            bail!("{file}: no [[device]]: a topology with nothing to check proves nothing");
        }
        let mut names = std::collections::HashSet::new();
        for dev in &spec.devices {
            let at = format!("{file}: device {:?}", dev.name);
            if !names.insert(&dev.name) {
                bail!("{at}: the name is used twice");
            }
            if dev.name.is_empty()
                || !dev
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                bail!("{at}: names use letters, digits and '-' only");
            }
            if dev.pin > 4 {
                bail!("{at}: pin = {} (0 for none, 1..=4 for INTA..INTD)", dev.pin);
            }
            if !is_bdf(&dev.bdf) {
                bail!("{at}: bdf = {:?}, expected the form 0000:00:03.0", dev.bdf);
            }
            if dev.pin == 0 && dev.gsi.is_some() {
                bail!("{at}: a device without an interrupt pin has no GSI; remove gsi");
            }
            if !spec.acpi_irq && dev.gsi.is_some() {
                bail!("{at}: acpi_irq = false means no device has a GSI; remove gsi");
            }
            if spec.acpi_irq && dev.pin != 0 {
                let model = crate::model::routing::route_device(spec, dev);
                match (model, dev.gsi) {
                    (Some(route), Some(gsi)) if route.gsi != Some(gsi) => bail!(
                        "{at}: gsi = {gsi}, but the routing model says {} ({}): fix the file or the model",
                        crate::model::routing::describe(route.gsi),
                        route.why
                    ),
                    (Some(route), None) if route.gsi.is_some() => bail!(
                        "{at}: no gsi given, but the routing model says {} ({})",
                        crate::model::routing::describe(route.gsi),
                        route.why
                    ),
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// The plan for the guest for one revision, judged by `policy`.
    pub fn plan(
        &self,
        revision: &str,
        attribute: gsi_plan::Attribute,
        policy: gsi_plan::Policy,
    ) -> gsi_plan::Plan {
        let spec = &self.spec;
        let all = crate::model::routing::all_devices(spec);
        let enabled = crate::model::routing::enabled_at_boot(spec);
        let set_up = crate::model::routing::links_set_up_at_boot(spec);
        gsi_plan::Plan {
            revision: revision.to_string(),
            topology: self.name.clone(),
            attribute,
            acpi_irq: spec.acpi_irq,
            irq_is_gsi: spec.irq_is_gsi,
            policy,
            devices: spec
                .devices
                .iter()
                .zip(enabled)
                .map(|(d, enabled)| {
                    let route = crate::model::routing::route_device(spec, d);
                    let link = route.as_ref().and_then(|r| r.link.clone());
                    let mut why = route.map(|r| r.why).unwrap_or_default();
                    let mut link_undecided = false;
                    if let (Some(link), true) = (&link, spec.acpi_irq) {
                        match set_up.get(link) {
                            Some(by) if *by != d.name => {
                                why.push_str(&format!(", {link} set up at boot for {by}"))
                            }
                            Some(_) => {}
                            None => {
                                link_undecided = !enabled;
                                why.push_str(&format!(", {link} not set up at boot"));
                            }
                        }
                    }
                    gsi_plan::Device {
                        name: d.name.clone(),
                        bdf: d.bdf.clone(),
                        pin: d.pin,
                        driver: d.driver.clone(),
                        gsi: d.gsi,
                        route: why,
                        link_undecided,
                        unbind: d.driver.is_some()
                            && !crate::model::routing::has_children(&all, &d.qemu),
                    }
                })
                .collect(),
        }
    }
}

fn is_bdf(text: &str) -> bool {
    regex::Regex::new(r"^[0-9a-f]{4}:[0-9a-f]{2}:[0-1][0-9a-f]\.[0-7]$")
        .unwrap()
        .is_match(text)
}

/// The slot of a validated `dddd:bb:ss.f` address.
pub fn slot_of(bdf: &str) -> u8 {
    u8::from_str_radix(&bdf[8..10], 16).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Topology> {
        let spec: TopologyToml = config::parse(text, Path::new("t.toml"))?;
        let t = Topology {
            name: "t".into(),
            path: "t.toml".into(),
            spec,
        };
        t.validate()?;
        Ok(t)
    }

    const GOOD: &str = r#"
description = "q35 test"
machine = "q35"
[[device]]
name = "rng"
qemu = "virtio-rng-pci,addr=0x3"
bdf = "0000:00:03.0"
pin = 1
driver = "virtio-pci"
gsi = 23
"#;

    #[test]
    fn every_shipped_topology_loads_and_matches_the_model() {
        let names = known(&dir());
        assert!(names.len() >= 2, "{names:?}");
        for name in names {
            load(&dir(), &name).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        }
    }

    #[test]
    fn a_good_topology_parses() {
        let t = parse(GOOD).unwrap();
        assert_eq!(t.spec.timeout_s, 60);
        assert!(t.spec.acpi_irq);
        let plan = t.plan("v4", gsi_plan::Attribute::Present, policy());
        assert_eq!(plan.devices[0].gsi, Some(23));
        assert!(
            plan.devices[0].route.contains("PIRQH"),
            "{}",
            plan.devices[0].route
        );
        assert_eq!(plan.policy, policy());
    }

    fn policy() -> gsi_plan::Policy {
        crate::config::matrix::load(&crate::config::matrix::path())
            .unwrap()
            .policy()
    }

    fn shipped_plan(name: &str) -> gsi_plan::Plan {
        load(&dir(), name)
            .unwrap()
            .plan("v5", gsi_plan::Attribute::Present, policy())
    }

    fn device<'p>(plan: &'p gsi_plan::Plan, name: &str) -> &'p gsi_plan::Device {
        plan.devices
            .iter()
            .find(|d| d.name == name)
            .unwrap_or_else(|| panic!("{}: no device {name}", plan.topology))
    }

    #[test]
    fn pc_leaves_one_link_to_an_unbound_device() {
        let plan = shipped_plan("pc");
        // LNKA: only edu-s05 uses it, and nothing enables it at boot.
        let lnka = device(&plan, "edu-s05");
        assert!(lnka.link_undecided, "{lnka:?}");
        assert!(
            lnka.route.contains("LNKA not set up at boot"),
            "{}",
            lnka.route
        );
        // LNKB is set up for rng-s02 before the suite reads edu-s06.
        let lnkb = device(&plan, "edu-s06");
        assert!(!lnkb.link_undecided, "{lnkb:?}");
        assert!(
            lnkb.route.ends_with("LNKB set up at boot for rng-s02"),
            "{}",
            lnkb.route
        );
        // The device that set its link up is not told about itself.
        assert!(!device(&plan, "rng-s02").route.contains("set up"));
        // LNKS has no choice: no link named, nothing undecided.
        assert!(!device(&plan, "edu-s01f4").link_undecided);
        let undecided: Vec<&str> = plan
            .devices
            .iter()
            .filter(|d| d.link_undecided)
            .map(|d| d.name.as_str())
            .collect();
        assert_eq!(undecided, ["edu-s05"]);
    }

    #[test]
    fn only_link_devices_with_a_choice_can_be_undecided() {
        // PIC mode: q35's _PRT names LNKA-H; LNKG has no bound device.
        let noapic = shipped_plan("q35-noapic");
        assert!(device(&noapic, "edu-s06").link_undecided);
        assert!(!device(&noapic, "rng-s03").link_undecided);
        // Single-IRQ links (GSIA-H, GPEX GSI0-3) are fixed by the firmware.
        for name in ["q35", "q35-intb-intd", "microvm", "microvm-ioapic2-off"] {
            let plan = shipped_plan(name);
            assert!(
                plan.devices.iter().all(|d| !d.link_undecided),
                "{name}: {:?}",
                plan.devices
            );
        }
        // The bridge is enabled for the device bound behind it, so its
        // LNKA is set up before the unbound edu-b1s4 on it is read.
        let bridge = shipped_plan("pc-bridge");
        let edu = device(&bridge, "edu-b1s4");
        assert!(!edu.link_undecided);
        assert!(
            edu.route.ends_with("LNKA set up at boot for bridge-s05"),
            "{}",
            edu.route
        );
        // No ACPI routing: nothing to decide.
        assert!(shipped_plan("pc-acpi-off")
            .devices
            .iter()
            .all(|d| !d.link_undecided && !d.route.contains("set up")));
    }

    #[test]
    fn only_bound_devices_with_nothing_behind_them_are_unbound() {
        let unbind = |topology: &str| -> Vec<String> {
            shipped_plan(topology)
                .devices
                .into_iter()
                .filter(|d| d.unbind)
                .map(|d| d.name)
                .collect()
        };
        assert_eq!(unbind("pc"), ["rng-s02", "rng-s03", "serial-s04"]);
        // port-s06 is bound to pcieport, but rng-b1s0 sits behind it.
        assert_eq!(
            unbind("microvm-ioapic2-off"),
            ["rng-s01", "serial-s02", "rng-s04", "rng-b1s0"]
        );
        let bridges = unbind("q35-bridges");
        assert!(!bridges.iter().any(|d| d.contains("port")), "{bridges:?}");
        assert!(bridges.contains(&"rng-b4s0".to_owned()), "{bridges:?}");
        assert!(unbind("q35-intb-intd") == ["serial-s05"]);
    }

    #[test]
    fn a_gsi_the_model_disagrees_with_is_rejected() {
        let err = parse(&GOOD.replace("gsi = 23", "gsi = 16"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("routing model says 23"), "{err}");
    }

    #[test]
    fn bad_fields_are_named() {
        assert!(parse(&GOOD.replace("pin = 1", "pin = 7"))
            .unwrap_err()
            .to_string()
            .contains("pin = 7"));
        assert!(parse(&GOOD.replace("0000:00:03.0", "00:03.0"))
            .unwrap_err()
            .to_string()
            .contains("bdf"));
        assert!(
            parse(&GOOD.replace("machine = \"q35\"", "machine = \"sparc\""))
                .unwrap_err()
                .to_string()
                .contains("sparc")
        );
        assert!(parse(&format!("{GOOD}colour = 1\n"))
            .unwrap_err()
            .to_string()
            .contains("colour"));
        let no_devices = "description = 'x'\nmachine = 'q35'\n";
        assert!(parse(no_devices)
            .unwrap_err()
            .to_string()
            .contains("no [[device]]"));
    }

    #[test]
    fn unknown_topology_lists_known_ones() {
        let err = load(&dir(), "nope").unwrap_err().to_string();
        assert!(err.contains("nope") && err.contains("q35"), "{err}");
    }
}
