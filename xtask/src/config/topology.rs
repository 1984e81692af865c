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
    /// QEMU's `-cpu` model under TCG (e.g. `max,-smap`). Default: QEMU's.
    #[serde(default)]
    pub cpu: Option<String>,
    /// Guest RAM for QEMU's `-m`. Default: `256M`.
    #[serde(default = "default_memory")]
    pub memory: String,
    /// vCPUs (`-smp`). Default: 1.
    #[serde(default = "default_smp")]
    pub smp: u32,
    /// Boot the kernel as a hypervisor's first domain. Default: none, the
    /// kernel runs on the machine.
    #[serde(default)]
    pub hypervisor: Option<HypervisorToml>,
}

fn default_memory() -> String {
    "256M".into()
}

fn default_smp() -> u32 {
    1
}

/// The `[hypervisor]` table: the pinned Xen (configs/xen.toml) boots from
/// QEMU's multiboot loader, the kernel (built with the dom0 fragments) and
/// the initramfs are its modules, and the suite runs as dom0's /init.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HypervisorToml {
    /// Which hypervisor; only `xen`. Required.
    pub kind: HypervisorKind,
    /// How dom0 runs: `pv` (Xen's default) or `pvh` (Xen's `dom0=pvh`).
    /// Required.
    pub dom0: Dom0Mode,
    /// Xen command line words after the harness's own (serial console on
    /// com1, log levels, `dom0=pvh` for a PVH dom0), e.g. dom0's memory.
    /// Default: none.
    #[serde(default)]
    pub cmdline: String,
}

/// The hypervisors a topology can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HypervisorKind {
    Xen,
}

/// How Xen runs dom0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dom0Mode {
    /// Paravirtualised: Xen owns the IOAPIC, dom0's INTx IRQs are
    /// event channels bound to physical IRQs (pirqs).
    Pv,
    /// PVH: an HVM container with Xen's emulated IOAPIC; needs an IOMMU.
    Pvh,
}

impl Dom0Mode {
    pub fn name(self) -> &'static str {
        match self {
            Dom0Mode::Pv => "pv",
            Dom0Mode::Pvh => "pvh",
        }
    }
}

/// The driver name of xen-pciback in sysfs: a device planned with it is
/// hidden from other drivers with `xen-pciback.hide=(BDF)`.
pub const PCIBACK: &str = gsi_plan::PCIBACK;

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
    /// Cross-field rules, naming file and device. Whether the GSIs agree
    /// with the routing model is [`crate::model::plan::check`].
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
            if dev.driver.as_deref() == Some(PCIBACK) && spec.hypervisor.is_none() {
                bail!(
                    "{at}: driver = \"{PCIBACK}\" is Xen's PCI backend: only a topology with a \
                     [hypervisor] table has it"
                );
            }
        }
        if spec.smp == 0 {
            bail!("{file}: smp = 0: at least one vCPU");
        }
        if let Some(h) = &spec.hypervisor {
            if spec.machine == Machine::Microvm {
                bail!(
                    "{file}: [hypervisor] on microvm: Xen panics there (\"Unable to find usable \
                     platform timer\": no HPET, no PM timer); use q35"
                );
            }
            for word in h.cmdline.split_whitespace() {
                let key = word.split('=').next().unwrap_or(word);
                if ["console", "com1", "dom0", "loglvl", "guest_loglvl"].contains(&key) {
                    bail!(
                        "{file}: hypervisor.cmdline sets {key}=, which the harness sets itself \
                         (the console it reads, log levels; dom0 = \"pvh\" for dom0=pvh): remove it"
                    );
                }
            }
            for word in spec.cmdline.split_whitespace() {
                if word.starts_with("xen-pciback.hide=") || word.starts_with("console=") {
                    bail!(
                        "{file}: cmdline has {word:?}, which the harness sets for a dom0 (hvc0 \
                         console; hide= from the devices with driver = \"{PCIBACK}\"): remove it"
                    );
                }
            }
        }
        Ok(())
    }

    /// The devices xen-pciback takes at boot (`driver = "pciback"`).
    pub fn pciback_devices(&self) -> impl Iterator<Item = &DeviceToml> {
        self.spec
            .devices
            .iter()
            .filter(|d| d.driver.as_deref() == Some(PCIBACK))
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
pub(crate) mod tests {
    use super::*;

    /// A topology from literal TOML, with the field rules applied.
    pub(crate) fn parse(text: &str) -> Result<Topology> {
        let spec: TopologyToml = config::parse(text, Path::new("t.toml"))?;
        let t = Topology {
            name: "t".into(),
            path: "t.toml".into(),
            spec,
        };
        t.validate()?;
        Ok(t)
    }

    pub(crate) const GOOD: &str = r#"
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
    fn a_good_topology_parses_with_its_defaults() {
        let t = parse(GOOD).unwrap();
        assert_eq!(t.spec.timeout_s, 60);
        assert!(t.spec.acpi_irq);
        assert_eq!((t.spec.memory.as_str(), t.spec.smp), ("256M", 1));
        assert!(t.spec.hypervisor.is_none() && t.spec.cpu.is_none());
    }

    #[test]
    fn a_hypervisor_is_named_and_checked() {
        let xen = format!(
            "{}[hypervisor]\nkind = 'xen'\ndom0 = 'pvh'\ncmdline = 'dom0_mem=384M'\n",
            GOOD.replace("[[device]]", "smp = 2\n[[device]]")
        );
        let t = parse(&xen).unwrap();
        let h = t.spec.hypervisor.as_ref().unwrap();
        assert_eq!((h.kind, h.dom0), (HypervisorKind::Xen, Dom0Mode::Pvh));
        let console = parse(&xen.replace("dom0_mem=384M", "console=vga"))
            .unwrap_err()
            .to_string();
        assert!(console.contains("sets console="), "{console}");
        let microvm = parse(&xen.replace("\"q35\"", "\"microvm\""))
            .unwrap_err()
            .to_string();
        assert!(microvm.contains("platform timer"), "{microvm}");
        let kind = parse(&xen.replace("'xen'", "'kvm'"))
            .unwrap_err()
            .to_string();
        assert!(kind.contains("kvm"), "{kind}");
        let hide = parse(&xen.replace(
            "machine = \"q35\"",
            "machine = \"q35\"\ncmdline = 'xen-pciback.hide=(0000:00:03.0)'",
        ))
        .unwrap_err()
        .to_string();
        assert!(hide.contains("pciback"), "{hide}");
        let pciback = parse(&GOOD.replace("virtio-pci", "pciback"))
            .unwrap_err()
            .to_string();
        assert!(pciback.contains("[hypervisor]"), "{pciback}");
        let pciback = parse(&xen.replace("virtio-pci", "pciback")).unwrap();
        assert_eq!(pciback.pciback_devices().count(), 1);
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
