//! The routing model: where a PCI function's legacy interrupt must land.
//!
//! Input: the machine, the bridge path from the root bus, the device's slot
//! and pin. The pin is swizzled up through every bridge (the PCI-to-PCI
//! bridge rule the kernel's ACPI lookup also applies when a bus has no
//! `_PRT`), then the root-bus slot and pin go through the chipset's table,
//! as QEMU's DSDT describes it. Where the firmware or the kernel decides at
//! run time (the PIIX link devices), the model says so by returning `None`.

use crate::topology::Machine;

/// A routed interrupt and the reason, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub gsi: u32,
    /// e.g. `ICH9 slot 0x03 INTA -> PIRQH`.
    pub why: String,
}

/// The pin seen on the parent bus of a device at `slot` asserting `pin`
/// (1..=4): the bridge swizzle.
pub fn swizzle(slot: u8, pin: u8) -> u8 {
    ((pin - 1 + slot) % 4) + 1
}

fn pin_letter(pin: u8) -> char {
    (b'A' + pin - 1) as char
}

/// Where `pin` (1..=4) of the device at `slot`, behind bridges at the
/// root-down slots `via`, must land; `None` when decided at run time or
/// the machine has no model for it.
pub fn route(
    machine: Machine,
    machine_options: &str,
    via: &[u8],
    slot: u8,
    pin: u8,
) -> Option<Route> {
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
    match machine {
        Machine::Q35 => {
            // ICH9 (QEMU's DSDT and D<N>IR defaults): slots 0x00-0x18
            // rotate over PIRQE-H; 0x1e uses PIRQE-H unrotated; 0x19-0x1d and
            // 0x1f use PIRQA-D unrotated. PIRQx is IOAPIC pin 16 + x.
            let pirq = match root_slot {
                0x19..=0x1d | 0x1f => root_pin - 1,
                0x1e => 4 + root_pin - 1,
                _ => 4 + (root_slot + root_pin - 1) % 4,
            };
            Some(Route {
                gsi: 16 + pirq as u32,
                why: format!(
                    "ICH9 {path}slot 0x{root_slot:02x} INT{} -> PIRQ{}",
                    pin_letter(root_pin),
                    (b'A' + pirq) as char
                ),
            })
        }
        Machine::Microvm if machine_options.contains("pcie=on") => {
            // GPEX: link GSI(slot + pin) % 4, each with one fixed interrupt
            // from 16 (12 with ioapic2=off, where only one IOAPIC exists).
            let link = (root_slot + root_pin - 1) % 4;
            let base = if machine_options.contains("ioapic2=off") {
                12
            } else {
                16
            };
            Some(Route {
                gsi: base + link as u32,
                why: format!(
                    "GPEX {path}slot 0x{root_slot:02x} INT{} -> GSI{link}",
                    pin_letter(root_pin)
                ),
            })
        }
        // PIIX link devices LNKA-D: the IRQ (5, 10 or 11) is chosen at run
        // time; the suite reads the kernel's choice instead.
        Machine::Pc | Machine::Microvm => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swizzle_rotates_by_slot() {
        assert_eq!(swizzle(0, 1), 1);
        assert_eq!(swizzle(1, 1), 2);
        assert_eq!(swizzle(3, 2), 1);
        assert_eq!(swizzle(2, 4), 2);
    }

    #[test]
    fn q35_root_bus() {
        let gsi = |slot, pin| route(Machine::Q35, "", &[], slot, pin).unwrap().gsi;
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
        let r = route(Machine::Q35, "", &[0x10], 0, 1).unwrap();
        assert_eq!(r.gsi, 20); // slot 0x10 INTA -> (0x10 + 0) % 4 = 0 -> PIRQE
        assert!(r.why.contains("swizzled"), "{}", r.why);
        // A root port in 0x1c (unrotated range): INTA -> PIRQA.
        assert_eq!(route(Machine::Q35, "", &[0x1c], 0, 1).unwrap().gsi, 16);
        // Two levels: port 0x10, bridge at slot 0 below it, device slot 2 INTA:
        // swizzle(2, A) = C at the bridge, swizzle(0, C) = C at the port,
        // slot 0x10 INTC -> PIRQG.
        let r = route(Machine::Q35, "", &[0x10, 0], 2, 1).unwrap();
        assert_eq!(r.gsi, 22);
    }

    #[test]
    fn microvm_gpex() {
        let gsi = |slot, pin| {
            route(Machine::Microvm, "pcie=on", &[], slot, pin)
                .unwrap()
                .gsi
        };
        assert_eq!(gsi(1, 1), 17);
        assert_eq!(gsi(3, 2), 16);
        assert!(route(Machine::Microvm, "pcie=off", &[], 1, 1).is_none());
        let r = route(Machine::Microvm, "pcie=on,ioapic2=off", &[], 1, 1).unwrap();
        assert_eq!(r.gsi, 13);
    }

    #[test]
    fn pc_links_are_decided_at_run_time() {
        assert!(route(Machine::Pc, "", &[], 3, 1).is_none());
        assert!(route(Machine::Q35, "", &[], 3, 0).is_none());
    }
}
