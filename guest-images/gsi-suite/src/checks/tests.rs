//! Each check against fake sysfs trees laid out as the kernel lays them out.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use gsi_plan::{Answer, Attribute, Device, Dom0, Plan, Policy, PCIBACK};
use tempfile::TempDir;

use super::*;

const BDF: &str = "0000:00:03.0";
const ROUTE: &str = "ICH9 slot 0x03 INTA -> PIRQH";

struct Fake {
    _dir: TempDir,
    sys: PathBuf,
    kmsg: PathBuf,
}

impl Fake {
    fn new() -> Fake {
        let dir = tempfile::tempdir().unwrap();
        let sys = dir.path().join("sys");
        let kmsg = dir.path().join("kmsg");
        fs::create_dir_all(&sys).unwrap();
        Fake {
            sys,
            kmsg,
            _dir: dir,
        }
    }

    fn system(&self) -> System {
        System::new(&self.sys, &self.kmsg)
    }

    fn dev(&self) -> PathBuf {
        self.sys.join("bus/pci/devices").join(BDF)
    }

    fn write(&self, relative: &str, contents: impl AsRef<[u8]>) {
        let path = self.sys.join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, contents).unwrap();
    }

    /// A PCI function with a config header, `enable`, and an optional
    /// driver link, `irq` and `gsi`.
    fn device(&self, pin: u8, driver: Option<&str>, irq: u32, gsi: Option<&str>) {
        let dev = self.dev();
        fs::create_dir_all(&dev).unwrap();
        let mut config = vec![0u8; 64];
        config[0x3d] = pin;
        fs::write(dev.join("config"), config).unwrap();
        fs::write(dev.join("enable"), "0\n").unwrap();
        fs::write(dev.join("irq"), format!("{irq}\n")).unwrap();
        if let Some(driver) = driver {
            symlink(
                format!("../../../bus/pci/drivers/{driver}"),
                dev.join("driver"),
            )
            .unwrap();
        }
        if let Some(gsi) = gsi {
            fs::write(dev.join("gsi"), gsi).unwrap();
        }
    }

    /// An interrupt as /sys/kernel/irq and the IRQ debugfs show it.
    fn irq(&self, irq: u32, chip: &str, domain: &str, hwirq: u32) {
        self.write(&format!("kernel/irq/{irq}/chip_name"), format!("{chip}\n"));
        self.write(&format!("kernel/irq/{irq}/hwirq"), format!("{hwirq}\n"));
        self.write(
            &format!("kernel/debug/irq/irqs/{irq}"),
            format!(
                "handler:  handle_fasteoi_irq\ndevice:   {BDF}\nnode:     0\n\
                 domain:  {domain}\n hwirq:   0x{hwirq:x}\n chip:    {chip}\n  flags:   0x10\n \
                 parent:\n    domain:  VECTOR\n     hwirq:   0x{irq:x}\n"
            ),
        );
    }

    fn kmsg(&self, text: &str) {
        fs::write(&self.kmsg, text).unwrap();
    }
}

fn device(pin: u8, driver: Option<&str>, gsi: Option<u32>) -> Device {
    Device {
        name: "rng".into(),
        bdf: BDF.into(),
        pin,
        driver: driver.map(Into::into),
        gsi,
        route: ROUTE.into(),
        link_undecided: false,
        routed_at_boot: driver.is_some(),
        unbind: driver.is_some(),
        msi: false,
    }
}

/// rfc1's documented ABI, as configs/matrix.toml states it.
const POLICY: Policy = Policy {
    before_enable: Answer::Enodata,
    link_undecided: Answer::Enodata,
    after_disable: Answer::Gsi,
    after_unbind: Answer::Gsi,
    no_pin: Answer::Absent,
    no_acpi_irq: Answer::Absent,
    no_route: Answer::Enxio,
    no_route_before_enable: Answer::Enodata,
};

fn plan(attribute: Attribute, devices: Vec<Device>) -> Plan {
    Plan {
        revision: "v5".into(),
        topology: "q35".into(),
        attribute,
        acpi_irq: true,
        irq_is_gsi: None,
        policy: POLICY,
        cpus: 1,
        devices,
        xen_dom0: None,
    }
}

/// Runs one check of the plan's first device on the fake tree.
fn run(fake: &Fake, plan: Plan, check: Check) -> Verdict {
    let suite = Suite::new(plan, fake.system());
    suite.run(&Trial {
        name: format!("rng::{}", check.name()),
        device: 0,
        check,
    })
}

#[track_caller]
fn passed(verdict: Verdict) -> String {
    match verdict {
        Verdict::Passed(message) => message,
        other => panic!("expected a pass, got {other:?}"),
    }
}

#[track_caller]
fn failed(verdict: Verdict) -> String {
    match verdict {
        Verdict::Failed(message) => message,
        other => panic!("expected a failure, got {other:?}"),
    }
}

fn bound() -> Device {
    device(1, Some("virtio-pci"), Some(23))
}

fn unbound() -> Device {
    device(1, None, Some(23))
}

/// One run of one check of the plan's first device on a fake tree.
struct Case {
    /// What the row shows, for the failure message.
    what: &'static str,
    tree: fn(&Fake),
    plan: fn() -> Plan,
    check: Check,
    want: Want,
    /// Parts the message must contain.
    says: &'static [&'static str],
    /// How the message must end ("" for anything).
    ends: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    Pass,
    Fail,
    Ignore,
}

fn bound_plan() -> Plan {
    plan(Attribute::Present, vec![bound()])
}

fn unbound_plan() -> Plan {
    plan(Attribute::Present, vec![unbound()])
}

fn bound_device(fake: &Fake) {
    fake.device(1, Some("virtio-pci"), 23, None);
}

fn unbound_device(fake: &Fake) {
    fake.device(1, None, 0, None);
}

/// A plan of one bound device, with no ACPI interrupt routing.
fn no_acpi(mut plan: Plan) -> Plan {
    plan.acpi_irq = false;
    plan
}

/// A bound device on q35 whose plan promises irq == GSI, or not.
fn promise(same: bool) -> Plan {
    let mut plan = bound_plan();
    plan.irq_is_gsi = Some(same);
    plan
}

/// A bound device on plain MSI (`msi = true`), with or without a promise
/// about INTx irqs.
fn on_msi(same: Option<bool>) -> Plan {
    let mut plan = bound_plan();
    plan.irq_is_gsi = same;
    plan.devices[0].msi = true;
    plan
}

/// The device's `irq` and its `msi_irqs/<irq>` entry.
fn msi_device(fake: &Fake, irq: u32, kind: &str) {
    fake.device(1, Some("pcieport"), irq, None);
    fake.write(
        &format!("bus/pci/devices/{BDF}/msi_irqs/{irq}"),
        format!("{kind}\n"),
    );
}

/// `enable` replaced by a directory: writing it fails with EISDIR.
fn enable_unwritable(fake: &Fake) {
    fake.device(1, None, 0, Some("23\n"));
    fs::remove_file(fake.dev().join("enable")).unwrap();
    fs::create_dir(fake.dev().join("enable")).unwrap();
}

use Want::{Fail, Ignore, Pass};

#[rustfmt::skip]
const CASES: &[Case] = &[
    // present, and any other check on a missing function
    Case { what: "no function", tree: |_| {}, plan: bound_plan, check: Check::Present, want: Fail,
        says: &["does not exist: no PCI function 0000:00:03.0"], ends: "" },
    Case { what: "the function exists", tree: unbound_device, plan: bound_plan, check: Check::Present, want: Pass,
        says: &[], ends: " exists" },
    Case { what: "baseline's gsi check on a missing function", tree: |_| {},
        plan: || plan(Attribute::Absent, vec![bound()]), check: Check::Gsi, want: Fail,
        says: &["does not exist, nothing to check"], ends: "" },
    // pin
    Case { what: "the planned pin", tree: unbound_device, plan: unbound_plan, check: Check::Pin, want: Pass,
        says: &[], ends: "/config[0x3d] = 1 (INTA)" },
    Case { what: "another pin", tree: unbound_device,
        plan: || plan(Attribute::Present, vec![device(2, None, Some(23))]), check: Check::Pin, want: Fail,
        says: &[], ends: "= 1 (INTA), expected 2 (INTB)" },
    Case { what: "a short config space",
        tree: |f| { unbound_device(f); fs::write(f.dev().join("config"), [0u8; 16]).unwrap() },
        plan: unbound_plan, check: Check::Pin, want: Fail, says: &["has 16 bytes"], ends: "" },
    // driver
    Case { what: "the planned driver", tree: bound_device, plan: bound_plan, check: Check::Driver, want: Pass,
        says: &[], ends: "/driver -> virtio-pci" },
    Case { what: "another driver", tree: bound_device,
        plan: || plan(Attribute::Present, vec![device(1, Some("ahci"), Some(23))]), check: Check::Driver,
        want: Fail, says: &[], ends: "-> virtio-pci, expected ahci" },
    Case { what: "a driver where none is planned", tree: bound_device, plan: unbound_plan, check: Check::Driver,
        want: Fail, says: &["expected no driver"], ends: "" },
    Case { what: "no driver, as planned", tree: unbound_device, plan: unbound_plan, check: Check::Driver,
        want: Pass, says: &[], ends: "" },
    Case { what: "no driver where one is planned", tree: unbound_device, plan: bound_plan, check: Check::Driver,
        want: Fail, says: &["no driver bound), expected virtio-pci"], ends: "" },
    // gsi at boot
    Case { what: "baseline: no gsi file", tree: bound_device, plan: || plan(Attribute::Absent, vec![bound()]),
        check: Check::Gsi, want: Pass, says: &["is absent at boot: v5 has no gsi attribute"], ends: "" },
    Case { what: "baseline: a gsi file", tree: |f| f.device(1, Some("virtio-pci"), 23, Some("23\n")),
        plan: || plan(Attribute::Absent, vec![bound()]), check: Check::Gsi, want: Fail,
        says: &["/gsi = 23 at boot, expected the file to be absent"], ends: "" },
    Case { what: "bound: the model's GSI", tree: |f| f.device(1, Some("virtio-pci"), 23, Some("23\n")),
        plan: bound_plan, check: Check::Gsi, want: Pass, says: &[],
        ends: "/gsi = 23 at boot (ICH9 slot 0x03 INTA -> PIRQH)" },
    Case { what: "bound: another number", tree: |f| f.device(1, Some("virtio-pci"), 23, Some("0\n")),
        plan: bound_plan, check: Check::Gsi, want: Fail, says: &[],
        ends: "/sys/bus/pci/devices/0000:00:03.0/gsi = 0 at boot, expected 23 (ICH9 slot 0x03 INTA -> PIRQH) (driver bound)" },
    Case { what: "bound: no gsi file", tree: bound_device, plan: bound_plan, check: Check::Gsi, want: Fail,
        says: &["is absent at boot, expected 23"], ends: "" },
    Case { what: "no pin: absent", tree: |f| f.device(0, None, 0, None),
        plan: || plan(Attribute::Present, vec![device(0, None, None)]), check: Check::Gsi, want: Pass,
        says: &[], ends: "is absent at boot: no interrupt pin; policy no_pin = absent" },
    Case { what: "no pin: a read that fails, where the policy says absent",
        tree: |f| { f.device(0, None, 0, None); fs::create_dir(f.dev().join("gsi")).unwrap() },
        plan: || plan(Attribute::Present, vec![device(0, None, None)]), check: Check::Gsi, want: Fail,
        says: &["read fails with EISDIR", "expected absent: no interrupt pin"], ends: "" },
    Case { what: "no pin: a number", tree: |f| f.device(0, None, 0, Some("0\n")),
        plan: || plan(Attribute::Present, vec![device(0, None, None)]), check: Check::Gsi, want: Fail,
        says: &["/gsi = 0 at boot, expected absent: no interrupt pin, so no number is right"], ends: "" },
    Case { what: "no ACPI routing: absent", tree: |f| f.device(1, Some("virtio-pci"), 11, None),
        plan: || no_acpi(bound_plan()), check: Check::Gsi, want: Pass,
        says: &["ACPI does not route interrupts on this boot; policy no_acpi_irq = absent"], ends: "" },
    Case { what: "no ACPI routing: a number", tree: |f| f.device(1, Some("virtio-pci"), 11, Some("11\n")),
        plan: || no_acpi(bound_plan()), check: Check::Gsi, want: Fail,
        says: &["expected absent: ACPI does not route interrupts on this boot"], ends: "" },
    Case { what: "bound, no route: the file hidden like a missing pin", tree: bound_device,
        plan: || plan(Attribute::Present, vec![device(1, Some("virtio-pci"), None)]), check: Check::Gsi,
        want: Fail, says: &["is absent at boot, expected ENXIO: a pin whose route gives no GSI; policy no_route = ENXIO"],
        ends: "" },
    // gsi after enable and disable
    Case { what: "baseline: still absent after enable", tree: unbound_device,
        plan: || plan(Attribute::Absent, vec![unbound()]), check: Check::GsiAfterEnable, want: Pass,
        says: &[], ends: "" },
    Case { what: "no ACPI routing: still absent after enable", tree: unbound_device,
        plan: || no_acpi(unbound_plan()), check: Check::GsiAfterEnable, want: Pass, says: &[], ends: "" },
    Case { what: "baseline: a gsi file after enable", tree: |f| f.device(1, None, 0, Some("0\n")),
        plan: || plan(Attribute::Absent, vec![unbound()]), check: Check::GsiAfterEnable, want: Fail,
        says: &[], ends: "" },
    Case { what: "no ACPI routing: a number after enable", tree: |f| f.device(1, None, 0, Some("0\n")),
        plan: || no_acpi(unbound_plan()), check: Check::GsiAfterEnable, want: Fail,
        says: &["expected absent", "no number is right"], ends: "" },
    Case { what: "enable cannot be written", tree: enable_unwritable, plan: unbound_plan,
        check: Check::GsiAfterEnable, want: Fail, says: &["writing 1 to ", "EISDIR"], ends: "" },
    Case { what: "disable cannot be written", tree: enable_unwritable, plan: unbound_plan,
        check: Check::GsiAfterDisable, want: Fail, says: &["writing 0 to ", "EISDIR"], ends: "" },
    // irq-oracle: IOAPIC GSI base from the kernel log + the pin
    Case { what: "first IOAPIC",
        tree: |f| { f.kmsg(KMSG); f.device(1, Some("virtio-pci"), 23, Some("23\n")); f.irq(23, "IO-APIC", "IO-APIC-0", 23) },
        plan: bound_plan, check: Check::IrqOracle, want: Pass,
        says: &["is pin 23", "GSI base 0 (IOAPIC[0] in the kernel log) -> GSI 23"], ends: "" },
    Case { what: "second IOAPIC, dynamic domain: irq 51 is pin 1 of apic_id 2",
        tree: |f| { f.kmsg(KMSG); f.device(1, Some("virtio-pci"), 51, None); f.irq(51, "IO-APIC", "IO-APIC-2", 1) },
        plan: || plan(Attribute::Present, vec![device(1, Some("virtio-pci"), Some(25))]),
        check: Check::IrqOracle, want: Pass, says: &["-> GSI 25"], ends: "" },
    Case { what: "second IOAPIC, another GSI planned",
        tree: |f| { f.kmsg(KMSG); f.device(1, Some("virtio-pci"), 51, None); f.irq(51, "IO-APIC", "IO-APIC-2", 1) },
        plan: bound_plan, check: Check::IrqOracle, want: Fail, says: &["-> GSI 25, expected 23"], ends: "" },
    Case { what: "no IOAPIC line in the kernel log",
        tree: |f| { f.kmsg("6,1,0,-;Linux version 6.12\n"); f.device(1, Some("virtio-pci"), 23, None); f.irq(23, "IO-APIC", "IO-APIC-0", 23) },
        plan: bound_plan, check: Check::IrqOracle, want: Fail,
        says: &["matches no IOAPIC[..] line", "(found: none)"], ends: "" },
    Case { what: "no kernel log",
        tree: |f| { f.device(1, Some("virtio-pci"), 23, None); f.irq(23, "IO-APIC", "IO-APIC-0", 23) },
        plan: bound_plan, check: Check::IrqOracle, want: Fail, says: &["ENOENT"], ends: "" },
    Case { what: "MSI: nothing to compare",
        tree: |f| { f.device(1, Some("virtio-pci"), 24, None); f.irq(24, "PCI-MSI-0000:00:03.0", "PCI-MSI-3", 0) },
        plan: bound_plan, check: Check::IrqOracle, want: Ignore, says: &["MSI"], ends: "" },
    Case { what: "no IRQ at all", tree: |f| f.device(1, Some("virtio-pci"), 0, None),
        plan: bound_plan, check: Check::IrqOracle, want: Fail,
        says: &["/irq = 0: the kernel assigned no IRQ"], ends: "" },
    Case { what: "PIC mode: the ISA IRQ is the GSI",
        tree: |f| { f.device(1, Some("virtio-pci"), 11, None); f.irq(11, "XT-PIC", "", 11) },
        plan: || plan(Attribute::Present, vec![device(1, Some("virtio-pci"), Some(11))]),
        check: Check::IrqOracle, want: Pass, says: &[], ends: "" },
    Case { what: "PIC mode: another GSI planned",
        tree: |f| { f.device(1, Some("virtio-pci"), 11, None); f.irq(11, "XT-PIC", "", 11) },
        plan: || plan(Attribute::Present, vec![device(1, Some("virtio-pci"), Some(10))]),
        check: Check::IrqOracle, want: Fail, says: &[], ends: "" },
    // irq-oracle in a Xen PV dom0: the pirq line of the kernel log
    Case { what: "PV dom0: the pirq's GSI",
        tree: |f| { f.kmsg(XEN_KMSG); f.device(1, Some("virtio-pci"), 23, None); f.irq(23, "xen-pirq", "", 23) },
        plan: bound_plan, check: Check::IrqOracle, want: Pass,
        says: &["irq 23 is Xen pirq 23 for GSI 23"], ends: "" },
    Case { what: "PV dom0: the pirq of another GSI",
        tree: |f| { f.kmsg(XEN_KMSG); f.device(1, Some("virtio-pci"), 20, None); f.irq(20, "xen-pirq", "", 20) },
        plan: bound_plan, check: Check::IrqOracle, want: Fail,
        says: &["for GSI 20", "expected GSI 23"], ends: "" },
    Case { what: "PV dom0: an MSI pirq",
        tree: |f| { f.kmsg(XEN_KMSG); f.device(1, Some("virtio-pci"), 40, None); f.irq(40, "xen-pirq", "", 40) },
        plan: bound_plan, check: Check::IrqOracle, want: Ignore, says: &["MSI pirq 1007"], ends: "" },
    Case { what: "PV dom0: no pirq line for the irq",
        tree: |f| { f.kmsg(XEN_KMSG); f.device(1, Some("virtio-pci"), 11, None); f.irq(11, "xen-pirq", "", 11) },
        plan: bound_plan, check: Check::IrqOracle, want: Fail,
        says: &["no \"xen: --> pirq=.. -> irq=11\" line"], ends: "" },
    // privcmd-gsi: no privcmd device in a fake tree
    Case { what: "PVH dom0: the ioctl cannot be asked",
        tree: |f| f.device(1, Some("pciback"), 0, Some("23\n")),
        plan: || xen_plan(Dom0::Pvh), check: Check::PrivcmdGsi, want: Fail,
        says: &["IOCTL_PRIVCMD_PCIDEV_GET_GSI on ", "(sbdf 0x18) failed: ENOENT", "expected 23"], ends: "" },
    Case { what: "PVH dom0: Xen refused setup_gsi, but the ioctl was asked of a missing device",
        tree: |f| { f.kmsg("3,500,8000,-;pciback 0000:00:03.0: xen_pciback: error -38 initializing device\n");
                    f.device(1, Some("pciback"), 0, Some("23\n")) },
        plan: || xen_plan(Dom0::Pvh), check: Check::PrivcmdGsi, want: Fail,
        says: &["failed: ENOENT"], ends: "" },
    Case { what: "PV dom0: another error than EPERM",
        tree: |f| f.device(1, Some("pciback"), 0, Some("23\n")),
        plan: || xen_plan(Dom0::Pv), check: Check::PrivcmdGsi, want: Fail,
        says: &["failed with ENOENT", "answers EPERM"], ends: "" },
    // irq-vs-gsi: as the topology promises
    Case { what: "irq == GSI, promised",
        tree: |f| { bound_device(f); f.irq(23, "IO-APIC", "IO-APIC-0", 23) },
        plan: || promise(true), check: Check::IrqVsGsi, want: Pass, says: &[], ends: "" },
    Case { what: "irq == GSI, the opposite promised",
        tree: |f| { bound_device(f); f.irq(23, "IO-APIC", "IO-APIC-0", 23) },
        plan: || promise(false), check: Check::IrqVsGsi, want: Fail,
        says: &["irq = 23, GSI 23", "expected irq != GSI on q35"], ends: "" },
    Case { what: "irq != GSI, promised",
        tree: |f| { f.device(1, Some("virtio-pci"), 51, None); f.irq(51, "IO-APIC", "IO-APIC-0", 23) },
        plan: || promise(false), check: Check::IrqVsGsi, want: Pass, says: &[], ends: "" },
    Case { what: "irq != GSI, the opposite promised",
        tree: |f| { f.device(1, Some("virtio-pci"), 51, None); f.irq(51, "IO-APIC", "IO-APIC-0", 23) },
        plan: || promise(true), check: Check::IrqVsGsi, want: Fail, says: &[], ends: "" },
    Case { what: "MSI-X: nothing to compare",
        tree: |f| { f.device(1, Some("virtio-pci"), 40, None); f.irq(40, "PCI-MSIX-0000:00:03.0", "PCI-MSIX-3", 0) },
        plan: || promise(true), check: Check::IrqVsGsi, want: Ignore, says: &[], ends: "" },
    // irq-vs-gsi of a device the topology puts on plain MSI
    Case { what: "msi: irq is its MSI", tree: |f| msi_device(f, 40, "msi"),
        plan: || on_msi(None), check: Check::IrqVsGsi, want: Pass,
        says: &["irq = 40, GSI 23", "msi_irqs/40 reads msi), not the GSI"], ends: "" },
    Case { what: "msi: irq is its MSI, in a PV dom0 too", tree: |f| msi_device(f, 40, "msi"),
        plan: || on_msi(Some(true)), check: Check::IrqVsGsi, want: Pass, says: &[], ends: "" },
    Case { what: "msi: the driver kept INTx", tree: bound_device,
        plan: || on_msi(Some(true)), check: Check::IrqVsGsi, want: Fail,
        says: &["irq = 23, GSI 23", "irq is not among its MSIs (reading ", "ENOENT",
                "promises the driver switches the device to plain MSI"], ends: "" },
    Case { what: "msi: an MSI-X entry", tree: |f| msi_device(f, 40, "msix"),
        plan: || on_msi(None), check: Check::IrqVsGsi, want: Fail,
        says: &["reads \"msix\", expected msi"], ends: "" },
    Case { what: "msi: the MSI's number is the GSI", tree: |f| msi_device(f, 23, "msi"),
        plan: || on_msi(None), check: Check::IrqVsGsi, want: Fail,
        says: &["cannot tell the GSI from the irq"], ends: "" },
];

#[test]
fn every_case_of_the_check_table() {
    let mut wrong = Vec::new();
    for case in CASES {
        let fake = Fake::new();
        (case.tree)(&fake);
        let (got, message) = match run(&fake, (case.plan)(), case.check) {
            Verdict::Passed(m) => (Pass, m),
            Verdict::Failed(m) => (Fail, m),
            Verdict::Ignored(m) => (Ignore, m),
        };
        let what = format!("{} ({})", case.what, case.check.name());
        if got != case.want {
            wrong.push(format!("{what}: {got:?}, want {:?}: {message}", case.want));
        } else if let Some(part) = case.says.iter().find(|p| !message.contains(*p)) {
            wrong.push(format!("{what}: message lacks {part:?}: {message}"));
        } else if !message.ends_with(case.ends) {
            wrong.push(format!(
                "{what}: message does not end with {:?}: {message}",
                case.ends
            ));
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
fn trials_are_named_chosen_per_device_and_sorted_by_phase() {
    let mut plan = plan(
        Attribute::Present,
        vec![
            Device {
                name: "usb".into(),
                ..unbound()
            },
            Device {
                name: "rng".into(),
                ..bound()
            },
            Device {
                name: "testdev".into(),
                ..device(0, None, None)
            },
        ],
    );
    plan.irq_is_gsi = Some(true);
    let names: Vec<String> = trials(&plan).into_iter().map(|t| t.name).collect();
    assert_eq!(
        names,
        [
            "rng::driver",
            "rng::gsi-bound",
            "rng::irq-oracle",
            "rng::irq-vs-gsi",
            "rng::pin",
            "rng::present",
            "testdev::driver",
            "testdev::gsi-no-pin",
            "testdev::pin",
            "testdev::present",
            "usb::driver",
            "usb::gsi-before-enable",
            "usb::pin",
            "usb::present",
            // The dump again, after every gsi read.
            "rng::sysfs-after-reads",
            "testdev::sysfs-after-reads",
            "usb::sysfs-after-reads",
            // Then the ones that change the machine: enable, disable, unbind.
            "usb::gsi-after-enable",
            "usb::gsi-after-disable",
            "rng::gsi-after-unbind",
        ]
    );
    assert_eq!(trials(&plan)[0].device, 1);

    // An undecided link names the boot check; a bound device the plan
    // keeps bound (a port with children) gets no unbind trial.
    plan.devices[0].link_undecided = true;
    plan.devices[1].unbind = false;
    let names: Vec<String> = trials(&plan).into_iter().map(|t| t.name).collect();
    assert!(
        names.contains(&"usb::gsi-link-undecided".to_owned()),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.ends_with("::gsi-before-enable")));
    assert!(!names.iter().any(|n| n.ends_with("::gsi-after-unbind")));

    // Routed at boot without a driver (a bridge above a bound device, or
    // pci=routeirq): the GSI is known, whatever the policy.
    plan.devices[0].link_undecided = false;
    plan.devices[0].routed_at_boot = true;
    let names: Vec<String> = trials(&plan).into_iter().map(|t| t.name).collect();
    assert!(
        names.contains(&"usb::gsi-enabled-at-boot".to_owned()),
        "{names:?}"
    );

    // The three kinds of "no GSI" are three trials.
    let mut none = plan.clone();
    none.devices = vec![
        Device {
            name: "refused".into(),
            ..device(1, Some("virtio-pci"), None)
        },
        Device {
            name: "unrouted".into(),
            ..device(1, None, None)
        },
        Device {
            name: "nopin".into(),
            ..device(0, None, None)
        },
    ];
    let boot = |plan: &Plan| -> Vec<String> {
        trials(plan)
            .into_iter()
            .filter(|t| t.check == Check::Gsi)
            .map(|t| t.name)
            .collect()
    };
    assert_eq!(
        boot(&none),
        [
            "nopin::gsi-no-pin",
            "refused::gsi-no-route",
            "unrouted::gsi-no-route-before-enable"
        ]
    );
    none.acpi_irq = false;
    assert_eq!(
        boot(&none),
        [
            "nopin::gsi-no-pin",
            "refused::gsi-no-acpi-irq",
            "unrouted::gsi-no-acpi-irq"
        ]
    );
}

#[test]
fn a_pin_without_a_route_is_told_apart_from_no_pin() {
    let fake = Fake::new();
    fake.device(1, None, 0, None);
    let suite = Suite::new(
        plan(
            Attribute::Present,
            vec![device(1, Some("virtio-pci"), None), device(1, None, None)],
        ),
        fake.system(),
    );
    let (routed, unrouted) = (&suite.plan.devices[0], &suite.plan.devices[1]);
    let enxio = AttrRead::Error(OsError::from_errno(libc::ENXIO));
    let enodata = AttrRead::Error(OsError::from_errno(libc::ENODATA));
    let message = passed(suite.gsi(routed, &enxio).unwrap());
    assert!(message.contains("policy no_route = ENXIO"), "{message}");
    // Hidden like a device without a pin: the Xen objection.
    failed(suite.gsi(routed, &AttrRead::Absent).unwrap());
    failed(suite.gsi(routed, &enodata).unwrap());
    failed(suite.gsi(routed, &AttrRead::Number(0)).unwrap());
    // Never enabled: the kernel has not tried yet.
    let message = passed(suite.gsi(unrouted, &enodata).unwrap());
    assert!(
        message.contains("policy no_route_before_enable = ENODATA"),
        "{message}"
    );
    failed(suite.gsi(unrouted, &enxio).unwrap());
    // After enable, disable or unbind: the route was tried.
    passed(suite.judge_after(unrouted, "gsi", &enxio, "", "", Answer::Gsi));
    let message = failed(suite.judge_after(
        unrouted,
        "gsi is absent",
        &AttrRead::Absent,
        "",
        "",
        Answer::Gsi,
    ));
    assert!(message.contains("expected ENXIO"), "{message}");
}

#[test]
fn no_acpi_routing_means_no_oracle_trials() {
    let mut plan = plan(Attribute::Present, vec![bound()]);
    plan.acpi_irq = false;
    plan.irq_is_gsi = Some(true);
    let checks: Vec<Check> = trials(&plan).into_iter().map(|t| t.check).collect();
    assert!(!checks.contains(&Check::IrqOracle));
    assert!(!checks.contains(&Check::IrqVsGsi));
}

#[test]
fn a_device_on_msi_gets_irq_vs_gsi_not_the_irq_oracle() {
    let checks: Vec<Check> = trials(&on_msi(None)).into_iter().map(|t| t.check).collect();
    assert!(checks.contains(&Check::IrqVsGsi), "{checks:?}");
    assert!(!checks.contains(&Check::IrqOracle), "{checks:?}");
}

#[test]
fn zero_devices_give_zero_trials() {
    assert!(trials(&plan(Attribute::Present, vec![])).is_empty());
}

#[test]
fn gsi_of_an_unbound_device_decided_at_boot_follows_the_policy() {
    let fake = Fake::new();
    fake.device(1, None, 0, None);
    let suite = Suite::new(plan(Attribute::Present, vec![unbound()]), fake.system());
    let dev = &suite.plan.devices[0];
    let enodata = AttrRead::Error(OsError::from_errno(libc::ENODATA));
    let message = passed(suite.gsi(dev, &enodata).unwrap());
    assert!(
        message.contains("never enabled, its GSI decided at boot; policy before_enable = ENODATA"),
        "{message}"
    );
    // A number means the read looked the route up itself.
    let message = failed(suite.gsi(dev, &AttrRead::Number(23)).unwrap());
    assert!(
        message.contains("= 23 at boot, expected ENODATA"),
        "{message}"
    );
    // EAGAIN invites a busy loop: wrong too.
    let eagain = AttrRead::Error(OsError::from_errno(libc::EAGAIN));
    let message = failed(suite.gsi(dev, &eagain).unwrap());
    assert!(
        message.contains(
            "read fails with EAGAIN (Resource temporarily unavailable) at boot, expected ENODATA"
        ),
        "{message}"
    );
    failed(suite.gsi(dev, &AttrRead::Number(0)).unwrap());
    failed(suite.gsi(dev, &AttrRead::Absent).unwrap());

    // A policy that says "the GSI before enable" turns it round.
    let mut gsi_policy = plan(Attribute::Present, vec![unbound()]);
    gsi_policy.policy.before_enable = Answer::Gsi;
    let suite = Suite::new(gsi_policy, fake.system());
    let dev = &suite.plan.devices[0];
    passed(suite.gsi(dev, &AttrRead::Number(23)).unwrap());
    let message = failed(suite.gsi(dev, &AttrRead::Number(0)).unwrap());
    assert!(message.contains("= 0 at boot, expected 23"), "{message}");
    assert!(message.contains("0 reads as \"no GSI\""), "{message}");
    failed(suite.gsi(dev, &AttrRead::Number(22)).unwrap());
    failed(suite.gsi(dev, &enodata).unwrap());
}

#[test]
fn gsi_on_an_undecided_link_must_not_be_decided_by_the_read() {
    let fake = Fake::new();
    fake.device(1, None, 0, None);
    let undecided = Device {
        link_undecided: true,
        ..unbound()
    };
    let suite = Suite::new(
        plan(Attribute::Present, vec![undecided.clone()]),
        fake.system(),
    );
    let dev = &suite.plan.devices[0];
    assert_eq!(
        Check::Gsi.trial_name(&suite.plan, dev),
        "gsi-link-undecided"
    );
    let enodata = AttrRead::Error(OsError::from_errno(libc::ENODATA));
    let message = passed(suite.gsi(dev, &enodata).unwrap());
    assert!(message.contains("has not chosen its IRQ"), "{message}");
    assert!(
        message.contains("policy link_undecided = ENODATA"),
        "{message}"
    );
    // The right number is still wrong: only allocating the link gives it.
    let message = failed(suite.gsi(dev, &AttrRead::Number(23)).unwrap());
    assert!(
        message.contains("= 23 at boot, expected ENODATA"),
        "{message}"
    );
    assert!(message.contains("decided the route itself"), "{message}");
    failed(suite.gsi(dev, &AttrRead::Absent).unwrap());
    let eagain = AttrRead::Error(OsError::from_errno(libc::EAGAIN));
    failed(suite.gsi(dev, &eagain).unwrap());

    let mut choose = plan(Attribute::Present, vec![undecided]);
    choose.policy.link_undecided = Answer::Eagain;
    let suite = Suite::new(choose, fake.system());
    passed(suite.gsi(&suite.plan.devices[0], &eagain).unwrap());
    failed(
        suite
            .gsi(&suite.plan.devices[0], &AttrRead::Number(23))
            .unwrap(),
    );
}

#[test]
fn gsi_judges_the_boot_snapshot() {
    let fake = Fake::new();
    fake.device(1, None, 0, Some("0\n"));
    let suite = Suite::new(plan(Attribute::Present, vec![unbound()]), fake.system());
    // Enabling later fixes the file, but the boot state was 0.
    fs::write(fake.dev().join("gsi"), "23\n").unwrap();
    let trial = Trial {
        name: "rng::gsi-before-enable".into(),
        device: 0,
        check: Check::Gsi,
    };
    failed(suite.run(&trial));
}

#[test]
fn gsi_after_enable() {
    let fake = Fake::new();
    fake.device(1, None, 0, Some("23\n"));
    let message = passed(run(
        &fake,
        plan(Attribute::Present, vec![unbound()]),
        Check::GsiAfterEnable,
    ));
    assert!(message.contains("/gsi = 23 after enable"), "{message}");
    let enable = fs::read_to_string(fake.dev().join("enable")).unwrap();
    assert!(enable.starts_with('1'), "{enable:?}");

    fs::write(fake.dev().join("gsi"), "0\n").unwrap();
    let message = failed(run(
        &fake,
        plan(Attribute::Present, vec![unbound()]),
        Check::GsiAfterEnable,
    ));
    assert!(
        message.ends_with(&format!("= 0 after enable, expected 23 ({ROUTE})")),
        "{message}"
    );
}

#[test]
fn gsi_before_and_after_enable_must_agree() {
    let fake = Fake::new();
    fake.device(1, None, 0, Some("22\n"));
    let suite = Suite::new(plan(Attribute::Present, vec![unbound()]), fake.system());
    fs::write(fake.dev().join("gsi"), "23\n").unwrap();
    let trial = Trial {
        name: "rng::gsi-after-enable".into(),
        device: 0,
        check: Check::GsiAfterEnable,
    };
    let message = failed(suite.run(&trial));
    assert!(
        message.contains("value before enable 22 differs from after enable 23"),
        "{message}"
    );
}

#[test]
fn gsi_after_disable() {
    let fake = Fake::new();
    fake.device(1, None, 0, Some("23\n"));
    fs::write(fake.dev().join("enable"), "1\n").unwrap();
    let message = passed(run(
        &fake,
        plan(Attribute::Present, vec![unbound()]),
        Check::GsiAfterDisable,
    ));
    assert!(
        message.contains("/gsi = 23 after writing 0 to enable (disabled)"),
        "{message}"
    );
    assert!(
        message.contains("policy after_disable = the GSI"),
        "{message}"
    );
    let enable = fs::read_to_string(fake.dev().join("enable")).unwrap();
    assert!(enable.starts_with('0'), "{enable:?}");

    fs::write(fake.dev().join("gsi"), "0\n").unwrap();
    let message = failed(run(
        &fake,
        plan(Attribute::Present, vec![unbound()]),
        Check::GsiAfterDisable,
    ));
    assert!(
        message.contains("= 0 after writing 0 to enable"),
        "{message}"
    );
    assert!(message.contains("expected 23"), "{message}");

    let mut forget = plan(Attribute::Present, vec![unbound()]);
    forget.policy.after_disable = Answer::Eagain;
    fs::write(fake.dev().join("gsi"), "23\n").unwrap();
    let message = failed(run(&fake, forget, Check::GsiAfterDisable));
    assert!(message.contains("expected EAGAIN"), "{message}");

    // Without a GSI, no number may show up after disable either.
    let mut no_acpi = plan(Attribute::Present, vec![unbound()]);
    no_acpi.acpi_irq = false;
    let message = failed(run(&fake, no_acpi.clone(), Check::GsiAfterDisable));
    assert!(message.contains("no number is right"), "{message}");
    fs::remove_file(fake.dev().join("gsi")).unwrap();
    passed(run(&fake, no_acpi, Check::GsiAfterDisable));
    passed(run(
        &fake,
        plan(Attribute::Absent, vec![unbound()]),
        Check::GsiAfterDisable,
    ));
}

#[test]
fn reads_after_disable_and_unbind_follow_the_policy() {
    let fake = Fake::new();
    fake.device(1, None, 0, None);
    let suite = Suite::new(plan(Attribute::Present, vec![bound()]), fake.system());
    let dev = &suite.plan.devices[0];
    let eagain = AttrRead::Error(OsError::from_errno(libc::EAGAIN));
    // A value cleared at disable reads EAGAIN; v5 keeps the GSI.
    let message = failed(suite.judge_after(
        dev,
        "gsi read fails with EAGAIN after unbind",
        &eagain,
        "its driver unbound",
        "after_unbind",
        Answer::Gsi,
    ));
    assert!(
        message.contains("expected 23 (ICH9 slot 0x03 INTA -> PIRQH): its driver unbound; policy after_unbind = the GSI"),
        "{message}"
    );
    passed(suite.judge_after(
        dev,
        "gsi = 23",
        &AttrRead::Number(23),
        "its driver unbound",
        "after_unbind",
        Answer::Gsi,
    ));
    passed(suite.judge_after(
        dev,
        "gsi read fails with EAGAIN",
        &eagain,
        "disabled again",
        "after_disable",
        Answer::Eagain,
    ));
    let message = failed(suite.judge_after(
        dev,
        "gsi = 22",
        &AttrRead::Number(22),
        "disabled again",
        "after_disable",
        Answer::Eagain,
    ));
    assert!(message.contains("kept a value from before"), "{message}");
}

#[test]
fn gsi_after_unbind() {
    let fake = Fake::new();
    fake.device(1, Some("virtio-pci"), 23, Some("23\n"));
    fake.write("bus/pci/drivers/virtio-pci/unbind", "");
    let unbind = fake.sys.join("bus/pci/drivers/virtio-pci/unbind");
    let message = passed(run(
        &fake,
        plan(Attribute::Present, vec![bound()]),
        Check::GsiAfterUnbind,
    ));
    assert_eq!(fs::read_to_string(&unbind).unwrap(), BDF);
    assert!(
        message.contains(&format!(
            "/gsi = 23 after unbinding virtio-pci ({})",
            unbind.display()
        )),
        "{message}"
    );
    assert!(
        message.contains("policy after_unbind = the GSI"),
        "{message}"
    );

    // Forgotten at unbind: EAGAIN can only be faked through judge_after
    // (reads_after_disable_and_unbind_follow_the_policy); 0 is a number.
    fs::write(fake.dev().join("gsi"), "0\n").unwrap();
    let message = failed(run(
        &fake,
        plan(Attribute::Present, vec![bound()]),
        Check::GsiAfterUnbind,
    ));
    assert!(
        message.contains("= 0 after unbinding virtio-pci"),
        "{message}"
    );

    // Nothing bound: nothing to unbind.
    fs::remove_file(fake.dev().join("driver")).unwrap();
    let message = failed(run(
        &fake,
        plan(Attribute::Present, vec![bound()]),
        Check::GsiAfterUnbind,
    ));
    assert!(
        message.contains("no driver bound, nothing to unbind (the plan says virtio-pci)"),
        "{message}"
    );
}

#[test]
fn gsi_after_unbind_reports_a_failed_unbind() {
    // No unbind file (a driver that suppresses its bind attributes).
    let fake = Fake::new();
    fake.device(1, Some("pcieport"), 23, Some("23\n"));
    let message = failed(run(
        &fake,
        plan(Attribute::Present, vec![bound()]),
        Check::GsiAfterUnbind,
    ));
    assert!(
        message.contains("drivers/pcieport/unbind failed: ENOENT"),
        "{message}"
    );
}

/// A PV dom0's log: the pirqs of two GSIs and an MSI.
const XEN_KMSG: &str = "\
7,301,901,-;xen: --> pirq=23 -> irq=23 (gsi=23)
7,302,902,-;xen: --> pirq=20 -> irq=20 (gsi=20)
7,310,950,-;xen: msi --> pirq=1007 --> irq=40
";

/// One device xen-pciback owns, in a dom0 of `mode`.
fn xen_plan(mode: Dom0) -> Plan {
    let mut plan = plan(Attribute::Present, vec![device(1, Some(PCIBACK), Some(23))]);
    plan.xen_dom0 = Some(mode);
    plan
}

#[test]
fn pciback_devices_get_the_xen_trials_and_not_the_irq_ones() {
    let names = |plan: &Plan| -> Vec<String> { trials(plan).into_iter().map(|t| t.name).collect() };
    let pvh = names(&xen_plan(Dom0::Pvh));
    for trial in [
        "rng::privcmd-gsi",
        "rng::gsi-pciback-rebind",
        "rng::gsi-after-unbind",
    ] {
        assert!(pvh.contains(&trial.to_owned()), "{trial}: {pvh:?}");
    }
    assert!(!pvh.iter().any(|t| t.contains("irq-")), "{pvh:?}");
    // The rebind runs after the unbind that releases the device.
    let at = |t: &str| pvh.iter().position(|n| n == t).unwrap();
    assert!(at("rng::gsi-after-unbind") < at("rng::gsi-pciback-rebind"));
    // Off Xen, or for a device with another driver: none of them.
    let mut bare = xen_plan(Dom0::Pv);
    bare.xen_dom0 = None;
    assert!(!names(&bare)
        .iter()
        .any(|t| t.contains("privcmd") || t.contains("pciback")));
    let mut virtio = xen_plan(Dom0::Pv);
    virtio.devices[0].driver = Some("virtio-pci".into());
    assert!(!names(&virtio).iter().any(|t| t.contains("privcmd")));
}

#[test]
fn gsi_pciback_rebind_binds_the_device_again() {
    let fake = Fake::new();
    // Released by gsi-after-unbind: no driver link; pciback's bind file.
    fake.device(1, None, 0, Some("23\n"));
    fake.write("bus/pci/drivers/pciback/bind", "");
    let bind = fake.sys.join("bus/pci/drivers/pciback/bind");
    // A fake bind file links nothing: the check says what it found.
    let message = failed(run(&fake, xen_plan(Dom0::Pv), Check::GsiPcibackRebind));
    assert_eq!(fs::read_to_string(&bind).unwrap(), BDF);
    assert!(message.contains("/driver -> nothing"), "{message}");
    // Still bound: the unbind before it failed.
    symlink(
        "../../../bus/pci/drivers/pciback",
        fake.dev().join("driver"),
    )
    .unwrap();
    let message = failed(run(&fake, xen_plan(Dom0::Pv), Check::GsiPcibackRebind));
    assert!(message.contains("-> pciback: still bound"), "{message}");
}

const KMSG: &str = "\
6,40,1000,-;IOAPIC[0]: apic_id 0, version 32, address 0xfec00000, GSI 0-23
6,41,1001,-;IOAPIC[1]: apic_id 2, version 32, address 0xfec10000, GSI 24-47
";

#[test]
fn top_domain_is_the_first_one() {
    let text = "node:     0\ndomain:  IO-APIC-1\n hwirq:   0x2\n parent:\n    domain:  VECTOR\n";
    assert_eq!(top_domain(text), Some("IO-APIC-1"));
    assert_eq!(top_domain("node: 0\n"), None);
}

#[test]
fn messages_name_the_file_read() {
    let fake = Fake::new();
    fake.device(1, None, 0, None);
    let message = passed(run(
        &fake,
        plan(Attribute::Present, vec![unbound()]),
        Check::Present,
    ));
    assert!(Path::new(message.trim_end_matches(" exists")).starts_with(&fake.sys));
}

#[test]
fn the_sysfs_dump_reads_plain_files_and_leaves_out_the_rest() {
    use std::os::unix::fs::PermissionsExt;
    let fake = Fake::new();
    fake.device(1, Some("virtio-pci"), 11, Some("11\n"));
    let dev = fake.dev();
    fs::write(dev.join("vendor"), "0x1af4\n").unwrap();
    fs::write(dev.join("resource"), "0x1 0x2 0x40101\n0x0 0x0 0x0\n").unwrap();
    for skipped in [
        "rom",
        "vpd",
        "resource0",
        "resource4_wc",
        "reset",
        "reset_method",
    ] {
        fs::write(dev.join(skipped), "x").unwrap();
    }
    fs::create_dir_all(dev.join("msi_irqs")).unwrap();
    fs::create_dir_all(dev.join("power")).unwrap();
    fs::write(dev.join("power/control"), "auto\n").unwrap();
    fs::write(dev.join("remove"), "").unwrap();
    fs::write(dev.join("write_only"), "").unwrap();
    fs::set_permissions(dev.join("write_only"), fs::Permissions::from_mode(0o200)).unwrap();
    fs::write(dev.join("label"), "a b\\c\n\n").unwrap();

    let plan = plan(
        Attribute::Present,
        vec![device(1, Some("virtio-pci"), Some(11))],
    );
    let dump = crate::dump::dump(&plan, &fake.system());
    let files: Vec<&str> = dump.keys().map(|(_, file)| file.as_str()).collect();
    // Sorted; no config, gsi, link (driver), directory or excluded file.
    assert_eq!(files, ["enable", "irq", "label", "resource", "vendor"]);
    assert!(dump.keys().all(|(bdf, _)| bdf == BDF));
    let key = |file: &str| (BDF.to_string(), file.to_string());
    assert_eq!(dump[&key("irq")], "11");
    assert_eq!(dump[&key("label")], "a b\\c");
    let lines = crate::dump::lines(gsi_plan::protocol::SYSFS, &dump);
    assert_eq!(lines[1], format!("@@GSI-SYSFS {BDF} irq 11"));
    assert_eq!(lines[2], format!("@@GSI-SYSFS {BDF} label a b\\\\c"));
    assert_eq!(
        lines[3],
        format!("@@GSI-SYSFS {BDF} resource 0x1 0x2 0x40101\\n0x0 0x0 0x0")
    );
}

#[test]
fn sysfs_after_reads_fails_when_a_read_changed_a_file() {
    let fake = Fake::new();
    fake.device(1, Some("virtio-pci"), 11, Some("11\n"));
    let dev = fake.dev();
    fs::write(dev.join("vendor"), "0x1af4\n").unwrap();
    let suite = Suite::new(
        plan(
            Attribute::Present,
            vec![device(1, Some("virtio-pci"), Some(11))],
        ),
        fake.system(),
    );
    let trial = Trial {
        name: "rng::sysfs-after-reads".into(),
        device: 0,
        check: Check::SysfsAfterReads,
    };
    // Nothing changed since Suite::new took the dump: a pass, and the
    // second dump is the first.
    let message = passed(suite.run(&trial));
    assert!(message.contains("3 dumped files"), "{message}");
    assert_eq!(&suite.dump_after_reads(), suite.boot_dump());

    // A read that enabled the device, dropped a file and added one.
    fs::write(dev.join("enable"), "1\n").unwrap();
    fs::remove_file(dev.join("vendor")).unwrap();
    fs::write(dev.join("gsi_state"), "routed\n").unwrap();
    let message = failed(suite.run(&trial));
    for change in [
        "enable: \"0\" -> \"1\"",
        "vendor: \"0x1af4\" -> (absent)",
        "gsi_state: (absent) -> \"routed\"",
    ] {
        assert!(message.contains(change), "{change} not in {message}");
    }
    let after = suite.dump_after_reads();
    assert_eq!(after[&(BDF.to_string(), "enable".to_string())], "1");
    assert!(!after.contains_key(&(BDF.to_string(), "vendor".to_string())));
}

/// A bound device on a two-CPU guest, with the driver's bind and unbind
/// files (writes to them succeed and change nothing here).
fn concurrent_fake(gsi: &str, online: &str) -> Fake {
    let fake = Fake::new();
    fake.device(1, Some("virtio-pci"), 23, Some(gsi));
    fake.write("bus/pci/drivers/virtio-pci/bind", "");
    fake.write("bus/pci/drivers/virtio-pci/unbind", "");
    fake.write("devices/system/cpu/online", online);
    fake
}

fn two_cpus(attribute: Attribute) -> Plan {
    Plan {
        cpus: 2,
        ..plan(attribute, vec![device(1, Some("virtio-pci"), Some(23))])
    }
}

#[test]
fn gsi_concurrent_runs_last_and_only_with_more_than_one_cpu() {
    let names = |plan: &Plan| -> Vec<String> { trials(plan).into_iter().map(|t| t.name).collect() };
    let one = plan(
        Attribute::Present,
        vec![device(1, Some("virtio-pci"), Some(23))],
    );
    assert!(!names(&one).iter().any(|n| n.ends_with("::gsi-concurrent")));
    let two = names(&two_cpus(Attribute::Present));
    assert_eq!(
        two.last().map(String::as_str),
        Some("rng::gsi-concurrent"),
        "{two:?}"
    );
    // A device the plan does not unbind (a bridge, an unbound device) is left alone.
    let mut bridge = two_cpus(Attribute::Present);
    bridge.devices[0].unbind = false;
    assert!(!names(&bridge)
        .iter()
        .any(|n| n.ends_with("::gsi-concurrent")));
}

#[test]
fn gsi_concurrent_passes_when_every_read_is_the_gsi() {
    let fake = concurrent_fake("23\n", "0-1\n");
    let message = passed(run(
        &fake,
        two_cpus(Attribute::Present),
        Check::GsiConcurrent,
    ));
    assert!(message.contains("2 threads read"), "{message}");
    assert!(message.contains("on 2 CPUs over 8 rounds"), "{message}");
    assert!(message.contains(": read 23;"), "{message}");
}

#[test]
fn gsi_concurrent_fails_on_a_value_the_policy_does_not_allow() {
    let fake = concurrent_fake("0\n", "0-1\n");
    let message = failed(run(
        &fake,
        two_cpus(Attribute::Present),
        Check::GsiConcurrent,
    ));
    assert!(message.contains("read 0 "), "{message}");
    assert!(message.contains("time(s) during"), "{message}");
    assert!(message.contains("allowed only 23"), "{message}");
    // On baseline the file must stay absent throughout.
    let message = failed(run(
        &fake,
        two_cpus(Attribute::Absent),
        Check::GsiConcurrent,
    ));
    assert!(message.contains("allowed only absent"), "{message}");
}

#[test]
fn gsi_concurrent_fails_when_the_planned_cpus_are_not_online() {
    let fake = concurrent_fake("23\n", "0\n");
    let message = failed(run(
        &fake,
        two_cpus(Attribute::Present),
        Check::GsiConcurrent,
    ));
    assert!(
        message.contains("1 CPU(s) online, the plan boots 2"),
        "{message}"
    );
}
