//! The routing model: where a PCI function's legacy interrupt must land.
//!
//! Input: the machine shape (family, `-machine` options, kernel command
//! line), the root bus the device's bridge path starts on, the bridge path,
//! the device's slot and pin. The pin is swizzled up through every bridge
//! (QEMU's bridges have no `_PRT`, so the kernel's ACPI lookup applies the
//! PCI-to-PCI bridge rule, which is also how QEMU wires them), then the
//! root-bus slot and pin go through the `_PRT` of that root bus as QEMU's
//! DSDT describes it, and the link it names gives the GSI. Sources: QEMU
//! 7.2's hw/i386/acpi-build.c (`_PRT`s, link devices), hw/isa/lpc_ich9.c and
//! hw/isa/piix3.c (wiring), hw/pci-host/gpex-acpi.c (microvm), SeaBIOS
//! 1.16's pciinit.c (link IRQs), Linux 6.12's drivers/acpi/pci_link.c and
//! pci_irq.c. Every rule was confirmed in a booted guest: the topology
//! files, and pc with `noapic` (LNKS at 9) in a one-off boot.
//!
//! Link devices with a choice (`LNKA`-`LNKH`, `_PRS` {5,10,11}) are modelled
//! at the IRQ SeaBIOS programs (PIRQ A..D = 10,10,11,11; on ICH9 E..H the
//! same) because Linux keeps a link's `_CRS` IRQ: always in PIC mode
//! (`acpi_irq_balance` is 0 there), and in APIC mode as long as that IRQ's
//! penalty is not strictly higher than the other choice when the link is
//! first allocated. Each allocation adds `PIRQ_PENALTY_PCI_USING` to the
//! IRQ it takes (drivers/acpi/pci_link.c), so in APIC mode a topology must
//! allocate its links alternately on 10 and 11 (drivers bind in bus order)
//! or the kernel moves a link; the topology files are laid out that way.
//!
//! A link with a choice is set up (its IRQ picked, programmed with `_SRS`,
//! kept for good: Linux 6.12 never drops a link's reference) when the first
//! device on it is enabled; a link with a single IRQ (ICH9's `GSIA`-`GSIH`
//! in APIC mode, GPEX's `GSI0`-`GSI3`, `LNKS`) and a `_PRT` entry with a
//! GSI are decided by the firmware. [`Route::link`] names the links with a
//! choice, and [`links_set_up_at_boot`] says which of them the devices the
//! kernel enables during boot have set up, so that the plan can tell the
//! suite which GSIs a revision can know before a device is enabled.

use crate::config::topology::{slot_of, AcpiToml, DeviceToml, Machine, TopologyToml};
use std::collections::BTreeMap;

/// Where a pin's route ends, and the reason, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The GSI, or `None` when the route ends without one (the kernel
    /// refuses the link the `_PRT` names).
    pub gsi: Option<u32>,
    /// e.g. `ICH9 slot 0x03 INTA -> PIRQH`.
    pub why: String,
    /// The ACPI interrupt link the route goes through when that link
    /// offers a choice of IRQs (`LNKA`-`LNKH`, `_PRS` {5,10,11}), as the
    /// DSDT names it (one namespace, `\_SB`, for every root bus); `None`
    /// when the firmware fixes the GSI.
    pub link: Option<String>,
}

/// A model GSI for messages: the number, or `no GSI`.
pub fn describe(gsi: Option<u32>) -> String {
    gsi.map_or_else(|| "no GSI".to_owned(), |g| g.to_string())
}

/// What of a topology decides routing besides the device's own path.
#[derive(Debug, Clone, Copy)]
pub struct Shape<'a> {
    pub machine: Machine,
    /// `-machine` options, e.g. `pcie=on,ioapic2=off,acpi=on`.
    pub machine_options: &'a str,
    /// The topology's kernel command line words, e.g. `noapic`.
    pub cmdline: &'a str,
    /// Synthetic ACPI tables that replace the machine's `_PRT` and links.
    pub acpi: Option<&'a AcpiToml>,
}

impl<'a> Shape<'a> {
    pub fn of(spec: &'a TopologyToml) -> Shape<'a> {
        Shape {
            machine: spec.machine,
            machine_options: &spec.machine_options,
            cmdline: &spec.cmdline,
            acpi: spec.acpi.as_ref(),
        }
    }

    /// The value of `key=` in the `-machine` options.
    fn option(&self, key: &str) -> Option<&'a str> {
        self.machine_options
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim())
    }

    /// `noapic`: no IOAPIC, the 8259 PIC takes PCI interrupts and ACPI runs
    /// `_PIC(0)`, so `_PRT`s name the PIC link devices.
    fn pic_mode(&self) -> bool {
        self.cmdline.split_whitespace().any(|w| w == "noapic")
    }
}

/// The root bus a device's bridge path (`via`) starts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootBus {
    /// The machine's own host bridge (`PCI0`: pcie.0 on q35, pci.0 on pc).
    Main,
    /// An extra host bridge made by `pxb`/`pxb-pcie` (`\_SB.PCxx`), whose
    /// `_PRT` names `LNKA`-`LNKD` on every machine.
    Expander,
}

/// The PIIX-style `_PRT` (pc's root bus and every expander bus): link
/// LNK[A + (slot + pin) % 4 - 1] at the IRQ SeaBIOS programmed for it.
fn link_route(chipset: &str, path: &str, at: &str, root_slot: u8, root_pin: u8) -> Route {
    let link = (root_slot + root_pin + 2) % 4;
    let name = format!("LNK{}", (b'A' + link) as char);
    Route {
        gsi: Some(seabios_irq(link)),
        why: format!(
            "{chipset} {path}{at} -> {name} (SeaBIOS IRQ {})",
            seabios_irq(link)
        ),
        link: Some(name),
    }
}

/// The pin seen on the parent bus of a device at `slot` asserting `pin`
/// (1..=4): the bridge swizzle.
pub fn swizzle(slot: u8, pin: u8) -> u8 {
    ((pin - 1 + slot) % 4) + 1
}

fn pin_letter(pin: u8) -> char {
    (b'A' + pin - 1) as char
}

/// The driver name and the `key=value` properties of a QEMU `-device`
/// string.
fn device_props(qemu: &str) -> (&str, Vec<(&str, &str)>) {
    let mut parts = qemu.split(',');
    let driver = parts.next().unwrap_or("").trim();
    let props = parts
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect();
    (driver, props)
}

fn prop<'q>(props: &[(&str, &'q str)], key: &str) -> Option<&'q str> {
    props.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// Whether a QEMU device type makes an extra host bridge (its bus is a
/// root bus, with its own `_PRT`).
fn is_expander(driver: &str) -> bool {
    driver == "pxb" || driver == "pxb-pcie"
}

/// The `-device` strings of the bridges above `qemu`, nearest first:
/// follows `bus=` through the `id=`s of `others` (every other `-device`
/// string of the topology) up to the machine's own root bus, or up to and
/// including an expander host bridge (`pxb`, `pxb-pcie`).
fn upstream<'q>(others: &[&'q str], qemu: &str) -> Vec<&'q str> {
    let mut path = Vec::new();
    let mut bus = prop(&device_props(qemu).1, "bus").map(str::to_owned);
    // Each step moves one bridge up; more steps than bridges means a cycle.
    for _ in 0..=others.len() {
        let Some(id) = bus.take() else {
            break;
        };
        // No match: pcie.0, pci.0 or a bus QEMU names itself.
        let Some(&parent) = others
            .iter()
            .find(|b| prop(&device_props(b).1, "id") == Some(id.as_str()))
        else {
            break;
        };
        path.push(parent);
        let (driver, props) = device_props(parent);
        if is_expander(driver) {
            break;
        }
        bus = prop(&props, "bus").map(str::to_owned);
    }
    path
}

/// The root bus `qemu` sits on, behind its bridges (see [`upstream`]).
pub fn root_bus(others: &[&str], qemu: &str) -> RootBus {
    match upstream(others, qemu).last() {
        Some(top) if is_expander(device_props(top).0) => RootBus::Expander,
        _ => RootBus::Main,
    }
}

/// Whether some device of `others` sits on a bus `qemu` provides (a bridge
/// or port with something behind it).
pub fn has_children(others: &[&str], qemu: &str) -> bool {
    let Some(id) = prop(&device_props(qemu).1, "id") else {
        return false;
    };
    others
        .iter()
        .any(|other| prop(&device_props(other).1, "bus") == Some(id))
}

/// Every `-device` string of a topology: unchecked bridges, then the
/// checked devices (which can be bridges and ports too).
pub fn all_devices(spec: &TopologyToml) -> Vec<&str> {
    spec.bridges
        .iter()
        .chain(spec.devices.iter().map(|d| &d.qemu))
        .map(String::as_str)
        .collect()
}

/// `pci=routeirq` among the kernel command line words (`pci=` takes a
/// comma-separated list).
fn routeirq(cmdline: &str) -> bool {
    cmdline
        .split_whitespace()
        .filter_map(|word| word.strip_prefix("pci="))
        .any(|options| options.split(',').any(|o| o == "routeirq"))
}

/// Which checked devices (by index in `spec.devices`) the kernel runs the
/// ACPI IRQ path for during boot: every bound device (its driver calls
/// `pci_enable_device()`), every checked bridge above one
/// (`pci_enable_bridge()` enables the path up to the root bus first), and
/// with `pci=routeirq` every device (`acpi_pci_irq_enable()` for each at
/// boot). Bridges listed only under `bridges` are enabled too, but without
/// a pin and address they are not modelled: list a bridge as a
/// `[[device]]` when its link matters.
pub fn enabled_at_boot(spec: &TopologyToml) -> Vec<bool> {
    let all = all_devices(spec);
    let mut enabled: Vec<bool> = spec
        .devices
        .iter()
        .map(|dev| dev.driver.is_some() || routeirq(&spec.cmdline))
        .collect();
    for dev in spec.devices.iter().filter(|d| d.driver.is_some()) {
        for bridge in upstream(&all, &dev.qemu) {
            if let Some(i) = spec.devices.iter().position(|d| d.qemu == bridge) {
                enabled[i] = true;
            }
        }
    }
    enabled
}

/// The links with a choice ([`Route::link`]) that are set up by the end of
/// boot, each with the first device (in file order) enabled at boot on it:
/// the IRQ of such a link is decided, and stays, before the suite runs.
pub fn links_set_up_at_boot(spec: &TopologyToml) -> BTreeMap<String, String> {
    let mut links = BTreeMap::new();
    if !spec.acpi_irq {
        return links;
    }
    for (dev, enabled) in spec.devices.iter().zip(enabled_at_boot(spec)) {
        if !enabled {
            continue;
        }
        if let Some(link) = route_device(spec, dev).and_then(|r| r.link) {
            links.entry(link).or_insert_with(|| dev.name.clone());
        }
    }
    links
}

/// The route of one device of a topology file.
pub fn route_device(spec: &TopologyToml, dev: &DeviceToml) -> Option<Route> {
    // Checked devices can be bridges too (root ports bound to pcieport).
    route(
        &Shape::of(spec),
        root_bus(&all_devices(spec), &dev.qemu),
        &dev.via,
        slot_of(&dev.bdf),
        dev.pin,
    )
}

/// The IRQ SeaBIOS programs into PIRQ A..D (and ICH9's E..H): 10,10,11,11.
fn seabios_irq(pirq: u8) -> u32 {
    if pirq % 4 < 2 {
        10
    } else {
        11
    }
}

/// Where `pin` (1..=4) of the device at `slot`, behind bridges at the
/// root-down slots `via` on `root`, must land; `None` when the machine has
/// no model for it.
pub fn route(shape: &Shape, root: RootBus, via: &[u8], slot: u8, pin: u8) -> Option<Route> {
    if !(1..=4).contains(&pin) {
        return None;
    }
    // Walk up: every bus but the root swizzles by the slot on that bus.
    let mut chain: Vec<u8> = via.to_vec();
    chain.push(slot);
    let root_slot = chain[0];
    let mut root_pin = pin;
    for &s in chain[1..].iter().rev() {
        root_pin = swizzle(s, root_pin);
    }
    let path = if via.is_empty() {
        String::new()
    } else {
        format!("slot 0x{slot:02x} INT{} swizzled to ", pin_letter(pin))
    };
    let at = format!("slot 0x{root_slot:02x} INT{}", pin_letter(root_pin));
    // A topology's own DSDT routes its root bus (a MADT alone does not).
    let own_prt = shape.acpi.filter(|a| a.has_dsdt(shape.machine));
    if let (Some(acpi), RootBus::Main) = (own_prt, root) {
        return Some(synthetic_route(acpi, &path, &at, root_slot, root_pin));
    }
    match (shape.machine, root) {
        (Machine::Pc | Machine::Q35, RootBus::Expander) => {
            // build_prt(false): LNK[A + (slot + pin) % 4 - 1], no LNKS.
            Some(link_route("expander", &path, &at, root_slot, root_pin))
        }
        (Machine::Q35, RootBus::Main) => {
            // ICH9 (QEMU's DSDT and D<N>IR defaults): slots 0x00-0x18
            // rotate over PIRQE-H; 0x1e uses PIRQE-H unrotated; 0x19-0x1d and
            // 0x1f use PIRQA-D unrotated. PIRQx is IOAPIC pin 16 + x; in PIC
            // mode `_PRT` names LNKx instead, at the ISA IRQ SeaBIOS set.
            let pirq = match root_slot {
                0x19..=0x1d | 0x1f => root_pin - 1,
                0x1e => 4 + root_pin - 1,
                _ => 4 + (root_slot + root_pin - 1) % 4,
            };
            let letter = (b'A' + pirq) as char;
            Some(if shape.pic_mode() {
                Route {
                    gsi: Some(seabios_irq(pirq)),
                    why: format!(
                        "ICH9 {path}{at} -> PIRQ{letter} -> LNK{letter} (PIC mode, SeaBIOS IRQ {})",
                        seabios_irq(pirq)
                    ),
                    link: Some(format!("LNK{letter}")),
                }
            } else {
                // APIC mode: `_PRT` names GSI<letter>, whose only IRQ is
                // 16 + x.
                Route {
                    gsi: Some(16 + pirq as u32),
                    why: format!("ICH9 {path}{at} -> PIRQ{letter}"),
                    link: None,
                }
            })
        }
        (Machine::Pc, RootBus::Main) => {
            // PIIX3 `_PRT`: LNK[A + (slot + pin) % 4 - 1], except slot 1
            // INTA (meant for the PIIX4 PM function) on LNKS, whose only
            // IRQ is the SCI's 9. In APIC mode the MADT makes the SCI
            // level/active-high, which acpi_penalize_sci_irq() turns into
            // PIRQ_PENALTY_ISA_ALWAYS: Linux refuses the link ("LNKS: No IRQ
            // available") and the device has no GSI. In PIC mode the SCI
            // is not penalised and LNKS gives 9. (QEMU itself wires a
            // non-PM function there to PIRQA: another reason not to trust
            // that entry.)
            if root_slot == 1 && root_pin == 1 {
                return Some(if shape.pic_mode() {
                    Route {
                        gsi: Some(9),
                        why: format!("PIIX {path}{at} -> LNKS (SCI, IRQ 9; PIC mode)"),
                        link: None,
                    }
                } else {
                    Route {
                        gsi: None,
                        why: format!(
                            "PIIX {path}{at} -> LNKS, the SCI's IRQ 9, which Linux refuses to share in APIC mode"
                        ),
                        link: None,
                    }
                });
            }
            Some(link_route("PIIX", &path, &at, root_slot, root_pin))
        }
        (Machine::Microvm, RootBus::Main) if shape.option("pcie") == Some("on") => {
            // GPEX: link GSI(slot + pin) % 4, each with one fixed interrupt
            // from 16, or from 12 with ioapic2=off (one IOAPIC: 16-23 go to
            // virtio-mmio then).
            let link = (root_slot + root_pin - 1) % 4;
            let base = if shape.option("ioapic2") == Some("off") {
                12
            } else {
                16
            };
            Some(Route {
                gsi: Some(base + link as u32),
                why: format!("GPEX {path}{at} -> GSI{link} (base {base})"),
                link: None,
            })
        }
        (Machine::Microvm, _) => None,
    }
}

/// A route through the topology's own `_PRT` (its `[acpi]` table data):
/// an entry with a GSI gives that GSI; an entry naming a link gives the
/// link's one possible GSI (Linux forgets a `_CRS` value outside `_PRS`
/// and programs the possible one, drivers/acpi/pci_link.c); no entry
/// gives no GSI (`acpi_pci_irq_enable()`: "no GSI").
fn synthetic_route(acpi: &AcpiToml, path: &str, at: &str, slot: u8, pin: u8) -> Route {
    let why = |rest: String| format!("synthetic _PRT {path}{at} {rest}");
    let Some(entry) = acpi.route(slot, pin) else {
        return Route {
            gsi: None,
            why: why("has no entry (the firmware forgot it)".into()),
            link: None,
        };
    };
    match (&entry.link, entry.gsi) {
        (Some(name), _) => {
            let link = acpi.link(name);
            let gsi = link.and_then(|l| l.possible.first().copied());
            let crs = match link.and_then(|l| l.current) {
                Some(c) if Some(c) != gsi => format!(", _CRS {c} outside _PRS"),
                _ => String::new(),
            };
            Route {
                gsi,
                why: why(format!("-> {name} (its one GSI {}{crs})", describe(gsi))),
                link: None,
            }
        }
        (None, gsi) => Route {
            gsi,
            why: why(format!("-> GSI {}", describe(gsi))),
            link: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use RootBus::{Expander, Main};
    use Want::{Gsi, NoGsi, NoModel};

    /// What [`route`] must answer.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Want {
        Gsi(u32),
        /// A route that ends without a GSI (the kernel refuses the link).
        NoGsi,
        /// No model for this machine, bus or pin.
        NoModel,
    }

    const fn shape(
        machine: Machine,
        machine_options: &'static str,
        cmdline: &'static str,
    ) -> Shape<'static> {
        Shape {
            machine,
            machine_options,
            cmdline,
            acpi: None,
        }
    }

    const Q35: Shape = shape(Machine::Q35, "", "");
    const Q35_PIC: Shape = shape(Machine::Q35, "", "acpi_irq_nobalance noapic");
    /// A word that only contains "noapic" is not PIC mode.
    const Q35_XNOAPIC: Shape = shape(Machine::Q35, "", "xnoapic");
    const PC: Shape = shape(Machine::Pc, "", "");
    const PC_PIC: Shape = shape(Machine::Pc, "", "noapic");
    const MVM: Shape = shape(Machine::Microvm, "pcie=on,acpi=on", "");
    const MVM_NO_PCIE: Shape = shape(Machine::Microvm, "pcie=off", "");
    const MVM_IOAPIC2_OFF: Shape = shape(Machine::Microvm, "pcie=on,ioapic2=off,acpi=on", "");
    const MVM_IOAPIC2_ON: Shape = shape(Machine::Microvm, "pcie=on,ioapic2=on,acpi=on", "");

    /// (shape, root bus, bridge slots from the root down, slot, pin) ->
    /// (GSI, the link with a choice it goes through, part of the reason).
    type Case = (
        Shape<'static>,
        RootBus,
        &'static [u8],
        u8,
        u8,
        Want,
        Option<&'static str>,
        &'static str,
    );

    /// The routing model's cases; the "measured" rows were read in booted
    /// guests.
    #[rustfmt::skip]
    const CASES: &[Case] = &[
        // ICH9 root bus: 0x00-0x18 rotate over PIRQE-H, 0x1e uses E-H and
        // 0x19-0x1d, 0x1f use A-D unrotated; APIC mode, GSIx = 16 + x.
        (Q35, Main, &[], 0x03, 1, Gsi(23), None, "ICH9 slot 0x03 INTA -> PIRQH"),
        (Q35, Main, &[], 0x04, 1, Gsi(20), None, "PIRQE"),
        (Q35, Main, &[], 0x04, 2, Gsi(21), None, "PIRQF"),
        (Q35, Main, &[], 0x06, 1, Gsi(22), None, "PIRQG"),
        (Q35, Main, &[], 0x18, 1, Gsi(20), None, "PIRQE"),
        (Q35, Main, &[], 0x1a, 1, Gsi(16), None, "PIRQA"),
        (Q35, Main, &[], 0x1d, 4, Gsi(19), None, "PIRQD"),
        (Q35, Main, &[], 0x1f, 2, Gsi(17), None, "PIRQB"),
        (Q35, Main, &[], 0x1e, 1, Gsi(20), None, "PIRQE"),
        (Q35, Main, &[], 0x1e, 4, Gsi(23), None, "PIRQH"),
        // Behind a root port: swizzled to the port's slot.
        (Q35, Main, &[0x10], 0, 1, Gsi(20), None, "slot 0x00 INTA swizzled to slot 0x10 INTA -> PIRQE"),
        (Q35, Main, &[0x1c], 0, 1, Gsi(16), None, "PIRQA"),
        // Port 0x10, bridge at 0, device 2 INTA: C at the bridge, C at the port.
        (Q35, Main, &[0x10, 0], 2, 1, Gsi(22), None, "slot 0x10 INTC -> PIRQG"),
        // Measured: root port 0x07 -> pcie-pci-bridge -> devices 1..=4.
        (Q35, Main, &[0x07, 0], 1, 1, Gsi(20), None, "PIRQE"),
        (Q35, Main, &[0x07, 0], 2, 1, Gsi(21), None, "PIRQF"),
        (Q35, Main, &[0x07, 0], 3, 1, Gsi(22), None, "PIRQG"),
        (Q35, Main, &[0x07, 0], 4, 1, Gsi(23), None, "PIRQH"),
        // PIC mode: the _PRT names LNKA-H, at the IRQ SeaBIOS set.
        (Q35_PIC, Main, &[], 0x03, 1, Gsi(11), Some("LNKH"), "PIRQH -> LNKH (PIC mode, SeaBIOS IRQ 11)"),
        (Q35_PIC, Main, &[], 0x04, 1, Gsi(10), Some("LNKE"), "PIC mode"),
        (Q35_PIC, Main, &[], 0x05, 1, Gsi(10), Some("LNKF"), "PIC mode"),
        (Q35_PIC, Main, &[], 0x06, 1, Gsi(11), Some("LNKG"), "PIC mode"),
        (Q35_PIC, Main, &[], 0x1a, 1, Gsi(10), Some("LNKA"), "PIC mode"),
        (Q35_PIC, Main, &[], 0x1a, 3, Gsi(11), Some("LNKC"), "PIC mode"),
        (Q35_PIC, Main, &[], 0x1e, 2, Gsi(10), Some("LNKF"), "PIC mode"),
        (Q35_XNOAPIC, Main, &[], 0x03, 1, Gsi(23), None, "PIRQH"),
        // PIIX _PRT: LNK[A + (slot + pin) % 4 - 1] at 10,10,11,11 (measured).
        (PC, Main, &[], 5, 1, Gsi(10), Some("LNKA"), "PIIX slot 0x05 INTA -> LNKA (SeaBIOS IRQ 10)"),
        (PC, Main, &[], 5, 2, Gsi(10), Some("LNKB"), "LNKB"),
        (PC, Main, &[], 5, 3, Gsi(11), Some("LNKC"), "LNKC"),
        (PC, Main, &[], 5, 4, Gsi(11), Some("LNKD"), "LNKD"),
        (PC, Main, &[], 2, 1, Gsi(10), Some("LNKB"), "LNKB"),
        (PC, Main, &[], 2, 2, Gsi(11), Some("LNKC"), "LNKC"),
        (PC, Main, &[], 2, 3, Gsi(11), Some("LNKD"), "LNKD"),
        (PC, Main, &[], 2, 4, Gsi(10), Some("LNKA"), "LNKA"),
        (PC, Main, &[], 3, 1, Gsi(11), Some("LNKC"), "LNKC"),
        (PC, Main, &[], 3, 2, Gsi(11), Some("LNKD"), "LNKD"),
        (PC, Main, &[], 3, 3, Gsi(10), Some("LNKA"), "LNKA"),
        (PC, Main, &[], 3, 4, Gsi(10), Some("LNKB"), "LNKB"),
        (PC, Main, &[], 4, 1, Gsi(11), Some("LNKD"), "LNKD"),
        (PC, Main, &[], 4, 2, Gsi(10), Some("LNKA"), "LNKA"),
        (PC, Main, &[], 4, 3, Gsi(10), Some("LNKB"), "LNKB"),
        (PC, Main, &[], 4, 4, Gsi(11), Some("LNKC"), "LNKC"),
        // PIC mode changes nothing on pc: the links hold ISA IRQs already.
        (PC_PIC, Main, &[], 3, 1, Gsi(11), Some("LNKC"), "LNKC"),
        // Slot 1 INTA is LNKS, the SCI's IRQ 9: refused in APIC mode.
        (PC, Main, &[], 1, 1, NoGsi, None, "LNKS, the SCI's IRQ 9, which Linux refuses"),
        (PC_PIC, Main, &[], 1, 1, Gsi(9), None, "LNKS (SCI, IRQ 9; PIC mode)"),
        (PC, Main, &[], 1, 2, Gsi(10), Some("LNKB"), "LNKB"),
        (PC, Main, &[], 1, 4, Gsi(11), Some("LNKD"), "LNKD"),
        // Measured: a pci-bridge at 6, devices at 0..=3 INTA.
        (PC, Main, &[6], 0, 1, Gsi(10), Some("LNKB"), "swizzled to slot 0x06 INTA"),
        (PC, Main, &[6], 1, 1, Gsi(11), Some("LNKC"), "swizzled to slot 0x06 INTB"),
        (PC, Main, &[6], 2, 1, Gsi(11), Some("LNKD"), "LNKD"),
        (PC, Main, &[6], 3, 1, Gsi(10), Some("LNKA"), "LNKA"),
        // A pxb's bus names LNKA-D on q35 too, and never LNKS.
        (Q35, Expander, &[0], 0, 1, Gsi(11), Some("LNKD"), "expander"),
        (Q35, Expander, &[1], 0, 1, Gsi(10), Some("LNKA"), "swizzled to slot 0x01 INTA -> LNKA"),
        (Q35, Expander, &[2], 0, 1, Gsi(10), Some("LNKB"), "LNKB"),
        (Q35, Expander, &[3], 0, 1, Gsi(11), Some("LNKC"), "LNKC"),
        (MVM, Expander, &[0], 0, 1, NoModel, None, ""),
        // GPEX: GSI(slot + pin) % 4, one fixed interrupt each from 16, or
        // from 12 with ioapic2=off (measured: slots 1..=5 -> 13..15, 12, 13).
        (MVM, Main, &[], 1, 1, Gsi(17), None, "GPEX slot 0x01 INTA -> GSI1 (base 16)"),
        (MVM, Main, &[], 3, 2, Gsi(16), None, "GSI0"),
        (MVM_NO_PCIE, Main, &[], 1, 1, NoModel, None, ""),
        (MVM_IOAPIC2_OFF, Main, &[], 1, 1, Gsi(13), None, "base 12"),
        (MVM_IOAPIC2_OFF, Main, &[], 2, 1, Gsi(14), None, "base 12"),
        (MVM_IOAPIC2_OFF, Main, &[], 3, 1, Gsi(15), None, "base 12"),
        (MVM_IOAPIC2_OFF, Main, &[], 4, 1, Gsi(12), None, "base 12"),
        (MVM_IOAPIC2_OFF, Main, &[], 5, 1, Gsi(13), None, "base 12"),
        (MVM_IOAPIC2_OFF, Main, &[6], 0, 1, Gsi(14), None, "base 12"),
        (MVM_IOAPIC2_ON, Main, &[6], 0, 1, Gsi(18), None, "base 16"),
        // No pin, no route.
        (Q35, Main, &[], 3, 0, NoModel, None, ""),
        (PC, Main, &[], 3, 0, NoModel, None, ""),
    ];

    #[test]
    fn every_case_of_the_routing_table() {
        let mut wrong = Vec::new();
        for &(shape, root, via, slot, pin, want, link, why) in CASES {
            let case = format!(
                "{:?} {:?} {:?} via {via:02x?} slot {slot:#04x} pin {pin}",
                shape.machine, shape.cmdline, root
            );
            let got = route(&shape, root, via, slot, pin);
            let got_want = match &got {
                None => NoModel,
                Some(r) => r.gsi.map_or(NoGsi, Gsi),
            };
            if got_want != want {
                wrong.push(format!("{case}: {got_want:?}, want {want:?}"));
                continue;
            }
            let Some(got) = got else { continue };
            if got.link.as_deref() != link {
                wrong.push(format!("{case}: link {:?}, want {link:?}", got.link));
            }
            if !got.why.contains(why) {
                wrong.push(format!("{case}: why {:?} lacks {why:?}", got.why));
            }
        }
        assert!(
            wrong.is_empty(),
            "{} case(s) wrong:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
    }

    #[test]
    fn synthetic_tables_route_through_their_own_prt() {
        let t =
            crate::config::topology::tests::parse(crate::config::topology::tests::SYNTH).unwrap();
        let spec = &t.spec;
        let got: Vec<(Option<u32>, String)> = spec
            .devices
            .iter()
            .map(|d| {
                let r = route_device(spec, d).unwrap();
                assert_eq!(r.link, None, "{r:?}");
                (r.gsi, r.why)
            })
            .collect();
        assert_eq!(got[0].0, Some(30));
        assert!(
            got[0].1.contains("-> LNKA (its one GSI 30)"),
            "{}",
            got[0].1
        );
        assert_eq!(got[1].0, None);
        assert!(got[1].1.contains("has no entry"), "{}", got[1].1);
        assert_eq!(got[2].0, Some(33));
        assert!(
            got[2].1.contains("swizzled to slot 0x04 INTA -> GSI 33"),
            "{}",
            got[2].1
        );
        // A _CRS outside _PRS is named; the GSI stays the possible one.
        let mut acpi = spec.acpi.clone().unwrap();
        acpi.links[0].current = Some(31);
        let shape = Shape {
            acpi: Some(&acpi),
            ..Shape::of(spec)
        };
        let r = route(&shape, Main, &[], 1, 1).unwrap();
        assert_eq!(r.gsi, Some(30));
        assert!(r.why.contains("_CRS 31 outside _PRS"), "{}", r.why);
        // An expander's bus is not described by the synthetic tables.
        assert_eq!(route(&shape, Expander, &[0], 0, 1).map(|r| r.gsi), None);
    }

    #[test]
    fn swizzle_rotates_by_slot() {
        assert_eq!(swizzle(0, 1), 1);
        assert_eq!(swizzle(1, 1), 2);
        assert_eq!(swizzle(3, 2), 1);
        assert_eq!(swizzle(2, 4), 2);
    }

    #[test]
    fn every_rotated_q35_slot_lands_on_pirqe_to_h() {
        for slot in 0..0x19 {
            for pin in 1..=4 {
                let gsi = route(&Q35, Main, &[], slot, pin).unwrap().gsi.unwrap();
                assert!((20..=23).contains(&gsi), "slot {slot} pin {pin}: {gsi}");
            }
        }
    }

    #[test]
    fn a_model_gsi_is_described_for_messages() {
        assert_eq!(describe(None), "no GSI");
        assert_eq!(describe(Some(13)), "13");
    }

    #[test]
    fn root_bus_follows_bus_ids_up_to_an_expander() {
        let bridges = [
            "pxb-pcie,id=pxb1,bus_nr=0x80,bus=pcie.0,addr=0x10",
            "pcie-root-port,id=rp1,bus=pxb1,addr=0x0,chassis=1",
            "pcie-root-port,id=rp2,bus=pcie.0,addr=0x4,chassis=2",
            "pcie-pci-bridge,id=ppb,bus=rp2,addr=0x0",
        ];
        assert_eq!(
            root_bus(&bridges, "edu,bus=rp1,addr=0x0"),
            RootBus::Expander
        );
        assert_eq!(root_bus(&bridges, "edu,bus=ppb,addr=0x1"), RootBus::Main);
        assert_eq!(root_bus(&bridges, "edu,addr=0x3"), RootBus::Main);
        assert_eq!(root_bus(&bridges, "edu,bus=pcie.0,addr=0x3"), RootBus::Main);
        // A cycle ends instead of looping.
        let cycle = ["pci-bridge,id=a,bus=b", "pci-bridge,id=b,bus=a"];
        assert_eq!(root_bus(&cycle, "edu,bus=a"), RootBus::Main);
    }

    fn topology(text: &str) -> TopologyToml {
        crate::config::parse(text, std::path::Path::new("t.toml")).unwrap()
    }

    /// pc with a bridge at slot 5: a bound device behind it, an unbound
    /// one on the bridge's link, an unbound one on a link nobody enables.
    const PC_TOPOLOGY: &str = r#"
description = "t"
machine = "pc"
bridges = ["pci-bridge,id=hidden,chassis_nr=2,addr=0x9"]
[[device]]
name = "bridge"
qemu = "pci-bridge,id=br1,chassis_nr=1,addr=0x5"
bdf = "0000:00:05.0"
pin = 1
[[device]]
name = "rng"
qemu = "virtio-rng-pci,bus=br1,addr=0x2"
bdf = "0000:01:02.0"
pin = 1
via = [0x05]
driver = "virtio-pci"
[[device]]
name = "edu-a"
qemu = "edu,bus=br1,addr=0x4"
bdf = "0000:01:04.0"
pin = 1
via = [0x05]
[[device]]
name = "edu-b"
qemu = "edu,addr=0x6"
bdf = "0000:00:06.0"
pin = 1
[[device]]
name = "edu-d"
qemu = "edu,bus=hidden,addr=0x0"
bdf = "0000:02:00.0"
pin = 1
via = [0x09]
"#;

    #[test]
    fn bound_devices_and_the_bridges_above_them_are_enabled_at_boot() {
        let spec = topology(PC_TOPOLOGY);
        assert_eq!(enabled_at_boot(&spec), [true, true, false, false, false]);
        // rng behind slot 5: slot 2 INTA -> slot 5 INTC -> LNKC; the
        // bridge itself, slot 5 INTA -> LNKA. Nothing enables LNKB.
        let links = links_set_up_at_boot(&spec);
        assert_eq!(
            links.into_iter().collect::<Vec<_>>(),
            [
                ("LNKA".to_owned(), "bridge".to_owned()),
                ("LNKC".to_owned(), "rng".to_owned())
            ]
        );
    }

    #[test]
    fn pci_routeirq_enables_every_device_at_boot() {
        let mut spec = topology(PC_TOPOLOGY);
        spec.cmdline = "quiet pci=nomsi,routeirq".into();
        assert!(enabled_at_boot(&spec).iter().all(|&e| e));
        assert!(links_set_up_at_boot(&spec).contains_key("LNKB"));
        spec.cmdline = "pci=noroute routeirq".into();
        assert!(!enabled_at_boot(&spec)[3]);
    }

    #[test]
    fn no_link_is_set_up_without_acpi_irq_routing() {
        let mut spec = topology(PC_TOPOLOGY);
        spec.acpi_irq = false;
        assert!(links_set_up_at_boot(&spec).is_empty());
    }

    #[test]
    fn children_are_found_by_bus_id() {
        let spec = topology(PC_TOPOLOGY);
        let all = all_devices(&spec);
        assert!(has_children(&all, &spec.devices[0].qemu));
        assert!(has_children(&all, &spec.bridges[0]));
        assert!(!has_children(&all, &spec.devices[1].qemu));
        assert!(!has_children(&all, "edu,addr=0x7"));
        // The bridge listed under `bridges` is followed for the swizzle.
        assert_eq!(
            upstream(&all, &spec.devices[4].qemu),
            [spec.bridges[0].as_str()]
        );
    }
}
