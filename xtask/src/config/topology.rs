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
    /// Virtual CPUs (`-smp`), 1 or 2 (the kernel is built with
    /// NR_CPUS=2). With 2, every device whose driver the suite may unbind
    /// also gets `<device>::gsi-concurrent`. Default: 1.
    #[serde(default = "default_smp")]
    pub smp: u32,
    /// The kernel variant to boot: a config fragment
    /// `configs/kernel/<kernel>.config` added after kernel.toml's own
    /// (`"debug"`: lockdep and sleep-in-atomic checking). Built and cached
    /// like any kernel, under its own config hash. Default: the usual
    /// kernel.
    #[serde(default)]
    pub kernel: Option<String>,
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
    /// Boot the kernel as a hypervisor's first domain. Default: none, the
    /// kernel runs on the machine.
    #[serde(default)]
    pub hypervisor: Option<HypervisorToml>,
    /// ACPI tables the harness writes for this topology instead of the
    /// machine's own (see [`AcpiToml`]). Default: QEMU's tables.
    #[serde(default)]
    pub acpi: Option<AcpiToml>,
}

/// Synthetic ACPI tables: on microvm a DSDT whose root-bus `_PRT` and
/// interrupt links come from here; a MADT when `ioapic` or `override`
/// is given (on pc, only that). The harness compiles them with `iasl` and hands them to the
/// kernel through the initramfs table upgrade; the routing model reads the
/// same data. A DSDT is written for `microvm` with `pcie=on,acpi=on` only:
/// its DSDT is small enough to write whole (`xtask/src/pipeline/acpi.rs`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcpiToml {
    /// One line: the real machine these tables stand for. Required.
    pub stands_for: String,
    /// Interrupt link devices (`PNP0C0F`) under the host bridge. Default:
    /// none.
    #[serde(rename = "link", default)]
    pub links: Vec<LinkToml>,
    /// The root bus `_PRT`: one entry per slot and pin. Default: none.
    #[serde(rename = "route", default)]
    pub routes: Vec<RouteToml>,
    /// Slot pins the `_PRT` leaves out on purpose (firmware that forgot a
    /// slot); a device's pin that is neither routed nor listed here is an
    /// error. Default: none.
    #[serde(default)]
    pub unrouted: Vec<PinToml>,
    /// The MADT's IOAPICs. Default: the machine's own (microvm: ID 0 at
    /// 0xfec00000 with GSI base 0, and with ioapic2 ID 1 at 0xfec10000
    /// with GSI base 24, 24 pins each).
    #[serde(rename = "ioapic", default)]
    pub ioapics: Vec<IoapicToml>,
    /// The MADT's Interrupt Source Overrides (ISA IRQ -> GSI). Default:
    /// none (and QEMU's MADT is kept unless `ioapic` is given).
    #[serde(rename = "override", default)]
    pub overrides: Vec<OverrideToml>,
}

/// One `PNP0C0F` interrupt link with extended (GSI) interrupt descriptors.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkToml {
    /// The ACPI name: four characters A-Z, 0-9, `_`, starting with a
    /// letter. Required.
    pub name: String,
    /// `_PRS`: the GSIs the link offers. Exactly one (links with a choice
    /// are not modelled for synthetic tables). Required.
    pub possible: Vec<u32>,
    /// What `_CRS` reports before the kernel sets the link (`_SRS`);
    /// outside `possible` is allowed (the kernel forgets it). Default: the
    /// possible GSI.
    #[serde(default)]
    pub current: Option<u32>,
}

/// One `_PRT` entry of the root bus: a slot's pin to a link or a GSI.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteToml {
    /// Device number on the root bus, 0..=31. Required.
    pub slot: u8,
    /// 1..=4 for INTA..INTD. Required.
    pub pin: u8,
    /// The link the entry names. Exactly one of `link` and `gsi`.
    #[serde(default)]
    pub link: Option<String>,
    /// The GSI the entry names directly (source 0, index = GSI).
    #[serde(default)]
    pub gsi: Option<u32>,
}

/// A root-bus slot and pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinToml {
    /// Device number on the root bus, 0..=31. Required.
    pub slot: u8,
    /// 1..=4 for INTA..INTD. Required.
    pub pin: u8,
}

/// One MADT I/O APIC entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IoapicToml {
    /// I/O APIC ID. Required.
    pub id: u8,
    /// MMIO address; must be one QEMU's machine has (0xfec00000, and
    /// 0xfec10000 with ioapic2). Required.
    pub address: u32,
    /// The GSI of its pin 0. Required.
    pub gsi_base: u32,
}

/// One MADT Interrupt Source Override: ISA `irq` arrives at `gsi`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideToml {
    /// The ISA IRQ, 0..=15. Required.
    pub irq: u8,
    /// The GSI it is wired to. Required.
    pub gsi: u32,
    /// `"edge"`, `"level"` or `"conforms"` (to the bus). Default: `"edge"`.
    #[serde(default = "default_edge")]
    pub trigger: String,
    /// `"high"`, `"low"` or `"conforms"`. Default: `"high"`.
    #[serde(default = "default_high")]
    pub polarity: String,
}

fn default_edge() -> String {
    "edge".into()
}

fn default_high() -> String {
    "high".into()
}

/// Pins of each of QEMU's IOAPICs.
pub const IOAPIC_PINS: u32 = 24;

impl AcpiToml {
    /// The IOAPICs the kernel will see: the file's, or the machine's.
    pub fn ioapics(&self, machine: Machine, machine_options: &str) -> Vec<IoapicToml> {
        if !self.ioapics.is_empty() {
            return self.ioapics.clone();
        }
        let mut all = vec![IoapicToml {
            id: 0,
            address: 0xfec0_0000,
            gsi_base: 0,
        }];
        if machine == Machine::Microvm && option(machine_options, "ioapic2") != Some("off") {
            all.push(IoapicToml {
                id: 1,
                address: 0xfec1_0000,
                gsi_base: 24,
            });
        }
        all
    }

    /// Whether the harness writes the DSDT: on microvm (on pc it writes
    /// only the MADT).
    pub fn has_dsdt(&self, machine: Machine) -> bool {
        machine == Machine::Microvm
    }

    /// Whether the harness writes a MADT too.
    pub fn has_madt(&self) -> bool {
        !self.ioapics.is_empty() || !self.overrides.is_empty()
    }

    /// The `_PRT` entry for a root-bus slot and pin.
    pub fn route(&self, slot: u8, pin: u8) -> Option<&RouteToml> {
        self.routes.iter().find(|r| r.slot == slot && r.pin == pin)
    }

    pub fn link(&self, name: &str) -> Option<&LinkToml> {
        self.links.iter().find(|l| l.name == name)
    }

    fn validate(&self, file: &str, machine: Machine, machine_options: &str) -> Result<()> {
        let at = format!("{file}: [acpi]");
        let microvm = machine == Machine::Microvm
            && option(machine_options, "pcie") == Some("on")
            && option(machine_options, "acpi") == Some("on");
        let madt_only = self.links.is_empty() && self.routes.is_empty() && self.unrouted.is_empty();
        if machine == Machine::Pc && !(madt_only && self.has_madt()) {
            bail!(
                "{at}: on machine = \"pc\" only the MADT is written ([[acpi.ioapic]], \
                 [[acpi.override]]), at least one entry and no link, route or unrouted pin: \
                 its DSDT stays QEMU's"
            );
        }
        if !microvm && machine != Machine::Pc {
            bail!(
                "{at}: synthetic tables are written for machine = \"microvm\" with \
                 machine_options holding pcie=on and acpi=on (its DSDT is the one the \
                 harness can write whole), or a MADT alone for \"pc\"; this file has {:?} \
                 with {machine_options:?}",
                machine.qemu_name()
            );
        }
        if self.stands_for.trim().is_empty() || self.stands_for.contains('\n') {
            bail!("{at}: stands_for must be one line naming the real machine");
        }
        let ioapics = self.ioapics(machine, machine_options);
        let known = [0xfec0_0000u32, 0xfec1_0000];
        for (i, a) in ioapics.iter().enumerate() {
            if !known.contains(&a.address) {
                bail!(
                    "{file}: MADT [[acpi.ioapic]] {i}: address {:#x} is not an IOAPIC of the \
                     machine (0xfec00000, and 0xfec10000 with ioapic2)",
                    a.address
                );
            }
            for b in &ioapics[..i] {
                if b.id == a.id || b.address == a.address {
                    bail!("{file}: MADT [[acpi.ioapic]] {i}: ID or address used twice");
                }
                let overlap =
                    a.gsi_base < b.gsi_base + IOAPIC_PINS && b.gsi_base < a.gsi_base + IOAPIC_PINS;
                if overlap {
                    bail!(
                        "{file}: MADT [[acpi.ioapic]] {i}: GSIs {}-{} overlap another IOAPIC's",
                        a.gsi_base,
                        a.gsi_base + IOAPIC_PINS - 1
                    );
                }
            }
        }
        let on_an_ioapic = |gsi: u32| {
            ioapics
                .iter()
                .any(|a| (a.gsi_base..a.gsi_base + IOAPIC_PINS).contains(&gsi))
        };
        let ranges = ioapics
            .iter()
            .map(|a| format!("{}-{}", a.gsi_base, a.gsi_base + IOAPIC_PINS - 1))
            .collect::<Vec<_>>()
            .join(", ");
        let mut names = std::collections::HashSet::new();
        for link in &self.links {
            let at = format!("{file}: DSDT link {:?}", link.name);
            let n = link.name.as_bytes();
            if n.len() != 4
                || !n[0].is_ascii_uppercase()
                || !n
                    .iter()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
            {
                bail!("{at}: a name is four characters A-Z, 0-9 or _, starting with a letter");
            }
            if ["RES0", "PCI0", "GED_", "COM1", "FWCF", "PWRB"].contains(&link.name.as_str()) {
                bail!("{at}: the name is taken by the DSDT's own devices");
            }
            if !names.insert(&link.name) {
                bail!("{at}: the name is used twice");
            }
            match link.possible.as_slice() {
                [gsi] if on_an_ioapic(*gsi) => {}
                [gsi] => bail!("{at}: possible GSI {gsi} is on no IOAPIC (GSIs {ranges})"),
                _ => bail!(
                    "{at}: possible = {:?}: give exactly one GSI (links with a choice are \
                     not modelled for synthetic tables)",
                    link.possible
                ),
            }
        }
        let mut seen = std::collections::HashSet::new();
        for r in &self.routes {
            let at = format!("{file}: DSDT _PRT entry slot {:#04x} pin {}", r.slot, r.pin);
            if r.slot > 31 || !(1..=4).contains(&r.pin) {
                bail!("{at}: slot is 0..=31 and pin 1..=4 (INTA..INTD)");
            }
            if !seen.insert((r.slot, r.pin)) {
                bail!("{at}: the slot and pin have two entries");
            }
            match (&r.link, r.gsi) {
                (Some(name), None) => {
                    if self.link(name).is_none() {
                        bail!("{at}: link {name:?} is not among the [[acpi.link]]s");
                    }
                }
                (None, Some(gsi)) if on_an_ioapic(gsi) => {}
                (None, Some(gsi)) => bail!("{at}: GSI {gsi} is on no IOAPIC (GSIs {ranges})"),
                _ => bail!("{at}: give exactly one of link and gsi"),
            }
        }
        for link in &self.links {
            if !self
                .routes
                .iter()
                .any(|r| r.link.as_ref() == Some(&link.name))
            {
                bail!(
                    "{file}: DSDT link {:?}: no [[acpi.route]] names it; remove it or route a pin to it",
                    link.name
                );
            }
        }
        for u in &self.unrouted {
            if self.route(u.slot, u.pin).is_some() {
                bail!(
                    "{file}: [[acpi.unrouted]] slot {:#04x} pin {} also has a _PRT entry",
                    u.slot,
                    u.pin
                );
            }
        }
        for (i, o) in self.overrides.iter().enumerate() {
            let at = format!("{file}: MADT [[acpi.override]] {i} (IRQ {})", o.irq);
            if o.irq > 15 {
                bail!("{at}: an override is for an ISA IRQ, 0..=15");
            }
            if !on_an_ioapic(o.gsi) {
                bail!("{at}: GSI {} is on no IOAPIC (GSIs {ranges})", o.gsi);
            }
            if !["edge", "level", "conforms"].contains(&o.trigger.as_str())
                || !["high", "low", "conforms"].contains(&o.polarity.as_str())
            {
                bail!(
                    "{at}: trigger is \"edge\", \"level\" or \"conforms\", polarity \"high\", \
                     \"low\" or \"conforms\""
                );
            }
            if self.overrides[..i].iter().any(|p| p.irq == o.irq) {
                bail!("{at}: the IRQ is overridden twice");
            }
        }
        Ok(())
    }
}

/// The value of `key=` in `-machine` options.
pub fn option<'a>(machine_options: &'a str, key: &str) -> Option<&'a str> {
    machine_options
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim())
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

/// Most virtual CPUs a topology may ask for: boot.config's tinyconfig base
/// builds the kernel with NR_CPUS=2.
pub const MAX_SMP: u32 = 2;

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
    /// The driver switches the device to plain MSI, so its `irq` becomes
    /// the MSI's and leaves the GSI (ioh3420 under pcieport). Needs a
    /// driver and a pin. Default: false.
    #[serde(default)]
    pub msi: bool,
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
        if !(1..=MAX_SMP).contains(&spec.smp) {
            bail!(
                "{file}: smp = {}; 1 to {MAX_SMP} (the guest kernel is built with NR_CPUS={MAX_SMP})",
                spec.smp
            );
        }
        if let Some(kernel) = &spec.kernel {
            let fragment = config::configs_dir()
                .join("kernel")
                .join(format!("{kernel}.config"));
            if kernel.is_empty()
                || !kernel
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
                || !fragment.is_file()
            {
                bail!(
                    "{file}: kernel = {kernel:?} names no config fragment {}: write it or remove the key",
                    config::display(&fragment)
                );
            }
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
            if dev.msi
                && (dev.gsi.is_none() || matches!(dev.driver.as_deref(), None | Some(PCIBACK)))
            {
                bail!(
                    "{at}: msi = true promises a driver that moves irq from the GSI to an MSI: \
                     it needs a gsi and a driver other than \"{PCIBACK}\" (which releases the \
                     IRQ); remove msi or add them"
                );
            }
            if dev.driver.as_deref() == Some(PCIBACK) && spec.hypervisor.is_none() {
                bail!(
                    "{at}: driver = \"{PCIBACK}\" is Xen's PCI backend: only a topology with a \
                     [hypervisor] table has it"
                );
            }
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
        if let Some(acpi) = &spec.acpi {
            if !spec.acpi_irq {
                bail!("{file}: [acpi] tables route interrupts: acpi_irq = false makes no sense with them");
            }
            acpi.validate(&file, spec.machine, &spec.machine_options)?;
            if acpi.has_dsdt(spec.machine) {
                self.validate_coverage(&file, acpi)?;
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

impl Topology {
    /// Every checked device with a pin reaches a root-bus `_PRT` entry or
    /// a pin the file says the firmware forgot: a gap nobody meant is
    /// caught here, before any boot.
    fn validate_coverage(&self, file: &str, acpi: &AcpiToml) -> Result<()> {
        for dev in self.spec.devices.iter().filter(|d| d.pin != 0) {
            let (slot, pin) = root_pin(&dev.via, slot_of(&dev.bdf), dev.pin);
            let forgotten = acpi.unrouted.contains(&PinToml { slot, pin });
            if acpi.route(slot, pin).is_none() && !forgotten {
                bail!(
                    "{file}: device {:?}: the DSDT _PRT has no entry for root-bus slot {slot:#04x} \
                     INT{} (where its pin arrives); add an [[acpi.route]] for it, or list it \
                     under [[acpi.unrouted]] if the firmware is meant to forget it",
                    dev.name,
                    (b'A' + pin - 1) as char
                );
            }
            if forgotten && dev.gsi.is_some() {
                bail!(
                    "{file}: device {:?}: its pin has no _PRT entry ([[acpi.unrouted]]), so it has no GSI; remove gsi",
                    dev.name
                );
            }
        }
        Ok(())
    }
}

/// The root-bus slot and pin a device's pin arrives at: swizzled up
/// through every bridge (QEMU's bridges have no `_PRT`).
pub fn root_pin(via: &[u8], slot: u8, pin: u8) -> (u8, u8) {
    let mut chain: Vec<u8> = via.to_vec();
    chain.push(slot);
    let mut root_pin = pin;
    for &s in chain[1..].iter().rev() {
        root_pin = ((root_pin - 1 + s) % 4) + 1;
    }
    (chain[0], root_pin)
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
    fn msi_needs_a_driver_and_a_gsi() {
        let msi = GOOD.replace("gsi = 23", "gsi = 23\nmsi = true");
        assert!(parse(&msi).unwrap().spec.devices[0].msi);
        assert!(!parse(GOOD).unwrap().spec.devices[0].msi);
        for bad in [
            msi.replace("driver = \"virtio-pci\"\n", ""),
            msi.replace("gsi = 23\n", ""),
        ] {
            let err = parse(&bad).unwrap_err().to_string();
            assert!(err.contains("msi = true promises a driver"), "{err}");
        }
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
        let smp = |n: &str| {
            parse(&GOOD.replace(
                "machine = \"q35\"",
                &format!("machine = \"q35\"\nsmp = {n}"),
            ))
        };
        assert_eq!(smp("2").unwrap().spec.smp, 2);
        assert_eq!(parse(GOOD).unwrap().spec.smp, 1);
        for bad in ["0", "3"] {
            let err = smp(bad).unwrap_err().to_string();
            assert!(
                err.contains(&format!("smp = {bad}")) && err.contains("NR_CPUS=2"),
                "{err}"
            );
        }
        let kernel = |k: &str| {
            parse(&GOOD.replace(
                "machine = \"q35\"",
                &format!("machine = \"q35\"\nkernel = {k:?}"),
            ))
        };
        assert_eq!(
            kernel("debug").unwrap().spec.kernel.as_deref(),
            Some("debug")
        );
        for bad in ["nosuch", "../kernel/boot", ""] {
            let err = kernel(bad).unwrap_err().to_string();
            assert!(err.contains("names no config fragment"), "{err}");
        }
        let no_devices = "description = 'x'\nmachine = 'q35'\n";
        assert!(parse(no_devices)
            .unwrap_err()
            .to_string()
            .contains("no [[device]]"));
    }

    /// microvm with synthetic tables: a link, a GSI entry, a forgotten pin.
    pub(crate) const SYNTH: &str = r#"
description = "t"
machine = "microvm"
machine_options = "pcie=on,ioapic2=on,acpi=on"
[acpi]
stands_for = "an AMD board"
[[acpi.link]]
name = "LNKA"
possible = [30]
[[acpi.route]]
slot = 1
pin = 1
link = "LNKA"
[[acpi.route]]
slot = 4
pin = 1
gsi = 33
[[acpi.unrouted]]
slot = 3
pin = 1
[[device]]
name = "rng"
qemu = "virtio-rng-pci,addr=0x1"
bdf = "0000:00:01.0"
pin = 1
gsi = 30
[[device]]
name = "edu"
qemu = "edu,addr=0x3"
bdf = "0000:00:03.0"
pin = 1
[[device]]
name = "behind"
qemu = "edu,bus=rp1,addr=0x0"
bdf = "0000:01:00.0"
pin = 1
via = [0x04]
gsi = 33
"#;

    /// Every malformed `[acpi]` table is refused naming the file, the
    /// table and what to fix.
    #[test]
    fn bad_acpi_data_is_named_with_the_table() {
        assert!(parse(SYNTH).is_ok());
        let cases: &[(&str, &str, &[&str])] = &[
            ("possible = [30]", "possible = [30, 31]", &["t.toml: DSDT link \"LNKA\"", "exactly one GSI"]),
            ("possible = [30]", "possible = [99]", &["GSI 99 is on no IOAPIC", "0-23, 24-47"]),
            ("name = \"LNKA\"", "name = \"lnka\"", &["DSDT link \"lnka\"", "four characters"]),
            ("link = \"LNKA\"", "link = \"LNKZ\"", &["DSDT _PRT entry slot 0x01 pin 1", "LNKZ"]),
            ("gsi = 33\n[[acpi.unrouted]]", "gsi = 33\nlink = \"LNKA\"\n[[acpi.unrouted]]", &["exactly one of link and gsi"]),
            ("slot = 3\npin = 1\n[[device]]", "slot = 1\npin = 1\n[[device]]", &["[[acpi.unrouted]] slot 0x01 pin 1 also has a _PRT entry"]),
            ("machine = \"microvm\"", "machine = \"q35\"", &["t.toml: [acpi]", "microvm"]),
            ("stands_for = \"an AMD board\"", "stands_for = \"\"", &["stands_for"]),
            ("[[acpi.unrouted]]\nslot = 3\npin = 1\n", "", &["device \"edu\"", "no entry for root-bus slot 0x03 INTA", "[[acpi.unrouted]]"]),
            ("bdf = \"0000:00:03.0\"\npin = 1\n", "bdf = \"0000:00:03.0\"\npin = 1\ngsi = 5\n", &["device \"edu\"", "remove gsi"]),
            ("[[device]]\nname = \"rng\"", "[[acpi.override]]\nirq = 16\ngsi = 20\n[[device]]\nname = \"rng\"", &["MADT [[acpi.override]] 0", "ISA IRQ"]),
            ("[[device]]\nname = \"rng\"", "[[acpi.ioapic]]\nid = 0\naddress = 0xfec20000\ngsi_base = 0\n[[device]]\nname = \"rng\"", &["MADT [[acpi.ioapic]] 0", "0xfec20000"]),
            ("[acpi]", "[acpi]\ncolour = 1", &["colour"]),
        ];
        for (from, to, wants) in cases {
            assert!(SYNTH.contains(from), "{from:?}");
            let err = format!("{:#}", parse(&SYNTH.replacen(from, to, 1)).unwrap_err());
            for want in *wants {
                assert!(
                    err.contains(want),
                    "{from:?} -> {to:?}: {want:?} missing from {err}"
                );
            }
        }
    }

    #[test]
    fn a_device_behind_a_bridge_arrives_at_the_swizzled_root_pin() {
        assert_eq!(root_pin(&[], 3, 2), (3, 2));
        assert_eq!(root_pin(&[4], 0, 1), (4, 1));
        assert_eq!(root_pin(&[4], 1, 1), (4, 2));
        assert_eq!(root_pin(&[6, 0], 2, 1), (6, 3));
    }

    #[test]
    fn unknown_topology_lists_known_ones() {
        let err = load(&dir(), "nope").unwrap_err().to_string();
        assert!(err.contains("nope") && err.contains("q35"), "{err}");
    }
}
