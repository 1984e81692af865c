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

use crate::config::topology::{slot_of, DeviceToml, Machine, TopologyToml};
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
}

impl<'a> Shape<'a> {
    pub fn of(spec: &'a TopologyToml) -> Shape<'a> {
        Shape {
            machine: spec.machine,
            machine_options: &spec.machine_options,
            cmdline: &spec.cmdline,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(
        machine: Machine,
        machine_options: &'static str,
        cmdline: &'static str,
    ) -> Shape<'static> {
        Shape {
            machine,
            machine_options,
            cmdline,
        }
    }

    fn gsi(s: Shape, root: RootBus, via: &[u8], slot: u8, pin: u8) -> u32 {
        route(&s, root, via, slot, pin).unwrap().gsi.unwrap()
    }

    const Q35: Shape = Shape {
        machine: Machine::Q35,
        machine_options: "",
        cmdline: "",
    };
    const PC: Shape = Shape {
        machine: Machine::Pc,
        machine_options: "",
        cmdline: "",
    };

    #[test]
    fn swizzle_rotates_by_slot() {
        assert_eq!(swizzle(0, 1), 1);
        assert_eq!(swizzle(1, 1), 2);
        assert_eq!(swizzle(3, 2), 1);
        assert_eq!(swizzle(2, 4), 2);
    }

    #[test]
    fn q35_root_bus() {
        let gsi = |slot, pin| gsi(Q35, RootBus::Main, &[], slot, pin);
        assert_eq!(gsi(0x03, 1), 23); // (3 + 0) % 4 = 3 -> PIRQH
        assert_eq!(gsi(0x04, 1), 20); // PIRQE
        assert_eq!(gsi(0x04, 2), 21);
        assert_eq!(gsi(0x18, 1), 20);
        assert_eq!(gsi(0x1a, 1), 16); // PIRQA, unrotated
        assert_eq!(gsi(0x1d, 4), 19);
        assert_eq!(gsi(0x1f, 2), 17);
        assert_eq!(gsi(0x1e, 1), 20); // PIRQE-H, unrotated
        assert_eq!(gsi(0x1e, 4), 23);
        for slot in 0..0x19 {
            for pin in 1..=4 {
                assert!((20..=23).contains(&gsi(slot, pin)), "slot {slot} pin {pin}");
            }
        }
    }

    #[test]
    fn q35_behind_a_root_port_swizzles_to_the_port_slot() {
        // Device at slot 0 behind a root port in slot 0x10: pin unchanged.
        let r = route(&Q35, RootBus::Main, &[0x10], 0, 1).unwrap();
        assert_eq!(r.gsi, Some(20)); // slot 0x10 INTA -> (0x10 + 0) % 4 = 0 -> PIRQE
        assert!(r.why.contains("swizzled"), "{}", r.why);
        // A root port in 0x1c (unrotated range): INTA -> PIRQA.
        assert_eq!(gsi(Q35, RootBus::Main, &[0x1c], 0, 1), 16);
        // Two levels: port 0x10, bridge at slot 0 below it, device slot 2 INTA:
        // swizzle(2, A) = C at the bridge, swizzle(0, C) = C at the port,
        // slot 0x10 INTC -> PIRQG.
        assert_eq!(gsi(Q35, RootBus::Main, &[0x10, 0], 2, 1), 22);
        // Research measurement: root port 0x07 -> pcie-pci-bridge at 0 ->
        // devices at 1..=4 INTA -> 20, 21, 22, 23.
        for (d, want) in (1..=4).zip(20..=23) {
            assert_eq!(gsi(Q35, RootBus::Main, &[0x07, 0], d, 1), want);
        }
    }

    #[test]
    fn q35_pic_mode_uses_the_link_irq_seabios_set() {
        let pic = shape(Machine::Q35, "", "acpi_irq_nobalance noapic");
        let r = route(&pic, RootBus::Main, &[], 0x03, 1).unwrap();
        assert_eq!(r.gsi, Some(11)); // PIRQH -> LNKH = 11
        assert!(r.why.contains("LNKH") && r.why.contains("PIC"), "{}", r.why);
        let irq = |slot, pin| gsi(pic, RootBus::Main, &[], slot, pin);
        assert_eq!(irq(0x04, 1), 10); // PIRQE
        assert_eq!(irq(0x05, 1), 10); // PIRQF
        assert_eq!(irq(0x06, 1), 11); // PIRQG
        assert_eq!(irq(0x1a, 1), 10); // PIRQA
        assert_eq!(irq(0x1a, 3), 11); // PIRQC
        assert_eq!(irq(0x1e, 2), 10); // PIRQF
                                      // A word that only contains "noapic" is not PIC mode.
        let apic = shape(Machine::Q35, "", "xnoapic");
        assert_eq!(gsi(apic, RootBus::Main, &[], 0x03, 1), 23);
    }

    #[test]
    fn pc_links_follow_the_piix_prt_at_the_seabios_irqs() {
        let r = route(&PC, RootBus::Main, &[], 2, 1).unwrap();
        assert_eq!(r.gsi, Some(10));
        assert!(r.why.contains("LNKB"), "{}", r.why);
        let irq = |slot, pin| gsi(PC, RootBus::Main, &[], slot, pin);
        // The research table, one row per slot % 4.
        assert_eq!(
            [irq(5, 1), irq(5, 2), irq(5, 3), irq(5, 4)],
            [10, 10, 11, 11]
        );
        assert_eq!(
            [irq(2, 1), irq(2, 2), irq(2, 3), irq(2, 4)],
            [10, 11, 11, 10]
        );
        assert_eq!(
            [irq(3, 1), irq(3, 2), irq(3, 3), irq(3, 4)],
            [11, 11, 10, 10]
        );
        assert_eq!(
            [irq(4, 1), irq(4, 2), irq(4, 3), irq(4, 4)],
            [11, 10, 10, 11]
        );
        // PIC mode changes nothing on pc: the links already hold ISA IRQs.
        let pic = shape(Machine::Pc, "", "noapic");
        assert_eq!(gsi(pic, RootBus::Main, &[], 3, 1), 11);
    }

    #[test]
    fn pc_slot_1_inta_is_the_sci_link_linux_refuses_in_apic_mode() {
        let r = route(&PC, RootBus::Main, &[], 1, 1).unwrap();
        assert_eq!(r.gsi, None);
        assert!(
            r.why.contains("LNKS") && r.why.contains("refuses"),
            "{}",
            r.why
        );
        assert_eq!(describe(r.gsi), "no GSI");
        let pic = shape(Machine::Pc, "", "noapic");
        assert_eq!(gsi(pic, RootBus::Main, &[], 1, 1), 9);
        // Only INTA: the other pins of slot 1 use the ordinary links.
        assert_eq!(gsi(PC, RootBus::Main, &[], 1, 2), 10); // LNKB
        assert_eq!(gsi(PC, RootBus::Main, &[], 1, 4), 11); // LNKD
    }

    #[test]
    fn pc_behind_a_pci_bridge_swizzles() {
        // Research measurement: bridge at 6, devices at 0..=3 INTA ->
        // 10, 11, 11, 10.
        let got: Vec<u32> = (0..4).map(|d| gsi(PC, RootBus::Main, &[6], d, 1)).collect();
        assert_eq!(got, [10, 11, 11, 10]);
    }

    #[test]
    fn pxb_buses_name_the_pic_links_on_q35_too() {
        // Root ports at slots 0..=3 of the expander bus, device at 0 INTA:
        // LNKD 11, LNKA 10, LNKB 10, LNKC 11.
        let got: Vec<u32> = (0..4)
            .map(|r| gsi(Q35, RootBus::Expander, &[r], 0, 1))
            .collect();
        assert_eq!(got, [11, 10, 10, 11]);
        let r = route(&Q35, RootBus::Expander, &[1], 0, 1).unwrap();
        assert!(r.why.contains("LNKA"), "{}", r.why);
        // Never LNKS, even at slot 1 INTA.
        assert!(!r.why.contains("LNKS"), "{}", r.why);
        assert!(route(
            &shape(Machine::Microvm, "pcie=on", ""),
            RootBus::Expander,
            &[0],
            0,
            1
        )
        .is_none());
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

    #[test]
    fn microvm_gpex() {
        let mvm = shape(Machine::Microvm, "pcie=on,acpi=on", "");
        assert_eq!(gsi(mvm, RootBus::Main, &[], 1, 1), 17);
        assert_eq!(gsi(mvm, RootBus::Main, &[], 3, 2), 16);
        assert!(route(
            &shape(Machine::Microvm, "pcie=off", ""),
            RootBus::Main,
            &[],
            1,
            1
        )
        .is_none());
    }

    #[test]
    fn microvm_ioapic2_off_starts_the_gpex_links_at_12() {
        let off = shape(Machine::Microvm, "pcie=on,ioapic2=off,acpi=on", "");
        // Research measurement: slots 1..=5 -> 13, 14, 15, 12, 13.
        let got: Vec<u32> = (1..=5)
            .map(|s| gsi(off, RootBus::Main, &[], s, 1))
            .collect();
        assert_eq!(got, [13, 14, 15, 12, 13]);
        // Root port at 6, device at 0: 14 (18 with ioapic2=on).
        assert_eq!(gsi(off, RootBus::Main, &[6], 0, 1), 14);
        let on = shape(Machine::Microvm, "pcie=on,ioapic2=on,acpi=on", "");
        assert_eq!(gsi(on, RootBus::Main, &[6], 0, 1), 18);
        let r = route(&off, RootBus::Main, &[], 1, 1).unwrap();
        assert!(r.why.contains("base 12"), "{}", r.why);
        assert_eq!(describe(r.gsi), "13");
    }

    #[test]
    fn no_pin_means_no_route() {
        assert!(route(&Q35, RootBus::Main, &[], 3, 0).is_none());
        assert!(route(&PC, RootBus::Main, &[], 3, 0).is_none());
    }

    fn link(s: Shape, root: RootBus, via: &[u8], slot: u8, pin: u8) -> Option<String> {
        route(&s, root, via, slot, pin).unwrap().link
    }

    #[test]
    fn only_links_with_a_choice_are_named() {
        // PIIX: LNKA-D offer 5/10/11; slot 1 INTA's LNKS has only IRQ 9.
        assert_eq!(link(PC, RootBus::Main, &[], 2, 1).as_deref(), Some("LNKB"));
        assert_eq!(link(PC, RootBus::Main, &[], 5, 1).as_deref(), Some("LNKA"));
        assert_eq!(link(PC, RootBus::Main, &[6], 1, 1).as_deref(), Some("LNKC"));
        assert_eq!(link(PC, RootBus::Main, &[], 1, 1), None);
        let pc_pic = shape(Machine::Pc, "", "noapic");
        assert_eq!(link(pc_pic, RootBus::Main, &[], 1, 1), None);
        // ICH9 in APIC mode: GSIA-H, one IRQ each; in PIC mode LNKA-H.
        assert_eq!(link(Q35, RootBus::Main, &[], 6, 1), None);
        assert_eq!(link(Q35, RootBus::Main, &[0x1c], 0, 1), None);
        let q35_pic = shape(Machine::Q35, "", "noapic");
        assert_eq!(
            link(q35_pic, RootBus::Main, &[], 6, 1).as_deref(),
            Some("LNKG")
        );
        assert_eq!(
            link(q35_pic, RootBus::Main, &[], 0x1a, 3).as_deref(),
            Some("LNKC")
        );
        // Expander buses name LNKA-D on q35 in APIC mode too.
        assert_eq!(
            link(Q35, RootBus::Expander, &[2], 0, 1).as_deref(),
            Some("LNKB")
        );
        // GPEX: GSI0-3, one IRQ each.
        let mvm = shape(Machine::Microvm, "pcie=on,ioapic2=off", "");
        assert_eq!(link(mvm, RootBus::Main, &[], 3, 1), None);
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
