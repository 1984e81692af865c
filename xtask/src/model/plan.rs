//! From a topology and the matrix's policy to the plan the guest suite is
//! judged by: every device's expected GSI checked against the routing
//! model, and which links the kernel sets up during boot (so which GSIs a
//! revision can know before a device is enabled).

use super::routing;
use crate::config;
use crate::config::topology::Topology;
use anyhow::{bail, Result};

/// Whether every GSI `topology` names agrees with the routing model
/// (and none is missing where the model decides one), naming the file and
/// the device.
pub fn check(topology: &Topology) -> Result<()> {
    let file = config::display(&topology.path);
    let spec = &topology.spec;
    for dev in &spec.devices {
        let at = format!("{file}: device {:?}", dev.name);
        if spec.acpi_irq && dev.pin != 0 {
            let model = routing::route_device(spec, dev);
            match (model, dev.gsi) {
                (Some(route), Some(gsi)) if route.gsi != Some(gsi) => bail!(
                    "{at}: gsi = {gsi}, but the routing model says {} ({}): fix the file or the model",
                    routing::describe(route.gsi),
                    route.why
                ),
                (Some(route), None) if route.gsi.is_some() => bail!(
                    "{at}: no gsi given, but the routing model says {} ({})",
                    routing::describe(route.gsi),
                    route.why
                ),
                _ => {}
            }
        }
    }
    Ok(())
}

/// The plan for the guest for one revision on `topology`, judged by
/// `policy`.
pub fn of(
    topology: &Topology,
    revision: &str,
    attribute: gsi_plan::Attribute,
    policy: gsi_plan::Policy,
) -> gsi_plan::Plan {
    let spec = &topology.spec;
    let all = routing::all_devices(spec);
    let enabled = routing::enabled_at_boot(spec);
    let set_up = routing::links_set_up_at_boot(spec);
    gsi_plan::Plan {
        revision: revision.to_string(),
        topology: topology.name.clone(),
        attribute,
        acpi_irq: spec.acpi_irq,
        irq_is_gsi: spec.irq_is_gsi,
        policy,
        xen_dom0: spec.hypervisor.as_ref().map(|h| match h.dom0 {
            crate::config::topology::Dom0Mode::Pv => gsi_plan::Dom0::Pv,
            crate::config::topology::Dom0Mode::Pvh => gsi_plan::Dom0::Pvh,
        }),
        cpus: spec.smp,
        devices: spec
            .devices
            .iter()
            .zip(enabled)
            .map(|(d, enabled)| {
                let route = routing::route_device(spec, d);
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
                    routed_at_boot: enabled && spec.acpi_irq,
                    unbind: d.driver.is_some() && !routing::has_children(&all, &d.qemu),
                    msi: d.msi,
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::topology::tests::GOOD;
    use crate::config::topology::{dir, known};

    fn parse(text: &str) -> Result<Topology> {
        let t = crate::config::topology::tests::parse(text)?;
        check(&t)?;
        Ok(t)
    }

    #[test]
    fn every_shipped_topology_loads_and_matches_the_model() {
        let names = known(&dir());
        assert!(names.len() >= 2, "{names:?}");
        for name in names {
            crate::model::load_topology(&dir(), &name).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        }
    }

    #[test]
    fn a_good_topology_gets_its_plan() {
        let t = parse(GOOD).unwrap();
        let plan = of(&t, "v4", gsi_plan::Attribute::Present, policy());
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
        let t = crate::model::load_topology(&dir(), name).unwrap();
        of(&t, "v5", gsi_plan::Attribute::Present, policy())
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
    fn synthetic_shapes_plan_their_own_routes() {
        // A pin the _PRT forgets has no GSI, bound or not; the device
        // with no pin beside it has none either, for another reason.
        let noroute = shipped_plan("synth-noroute");
        for name in ["edu-s03", "serial-s05"] {
            let d = device(&noroute, name);
            assert_eq!((d.pin, d.gsi), (1, None), "{d:?}");
            assert!(d.route.contains("has no entry"), "{}", d.route);
        }
        assert_eq!(device(&noroute, "testdev-s04").pin, 0);
        // One-GSI links are fixed by the firmware: nothing undecided,
        // and the unbound device on the shared link reads 44 at boot.
        let links = shipped_plan("synth-links");
        assert!(links.devices.iter().all(|d| !d.link_undecided));
        assert_eq!(device(&links, "edu-s01").gsi, Some(44));
        // GSI 0 is a GSI.
        assert_eq!(device(&shipped_plan("synth-gsi0"), "rng-s01").gsi, Some(0));
        // A MADT alone leaves pc's own _PRT model in charge.
        let iso_pc = shipped_plan("synth-iso-pc");
        assert!(device(&iso_pc, "rng-s03").route.contains("LNKC"));
        assert!(device(&iso_pc, "edu-s05").link_undecided);
    }

    #[test]
    fn a_gsi_the_model_disagrees_with_is_rejected() {
        let err = parse(&GOOD.replace("gsi = 23", "gsi = 16"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("routing model says 23"), "{err}");
    }
}
