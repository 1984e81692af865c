//! The contract between the host harness and the guest.
//!
//! The harness resolves a topology and a revision into a [`Plan`], writes it
//! as JSON to [`PLAN_PATH`] inside the initramfs, and the guest suite builds
//! its trials from it. The guest answers on the serial console with the line
//! protocol in [`protocol`]; the harness parses nothing else as a result.
//! Both sides compile this one crate, so the format cannot drift.

use serde::{Deserialize, Serialize};

/// Where the plan lives inside the initramfs.
pub const PLAN_PATH: &str = "/etc/gsi/plan.json";
/// Where the suite binary lives inside the initramfs.
pub const SUITE_PATH: &str = "/bin/gsi-suite";

/// The I/O port of QEMU's `isa-debug-exit` device: the harness puts the
/// device there, and /init writes to it when it cannot power off through
/// ACPI (`acpi=off`).
pub const DEBUG_EXIT_PORT: u16 = 0xf4;

/// This file: the plan format and the console protocol. The host hashes it
/// into the identity of the code that judges a console, so a stored
/// verdict is not reused once the protocol changes.
pub const SOURCE: &str = include_str!("lib.rs");

/// Everything the guest needs to know about one boot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Revision under test, e.g. `v4` (for messages only).
    pub revision: String,
    /// Topology name, e.g. `q35` (for messages only).
    pub topology: String,
    /// Whether the revision adds `/sys/bus/pci/devices/*/gsi` at all.
    pub attribute: Attribute,
    /// Whether ACPI routes PCI interrupts on this topology (false with
    /// `acpi=off`, `acpi=noirq`, `pci=noacpi`, or no ACPI at all). Without
    /// it no device has a GSI the attribute may report.
    pub acpi_irq: bool,
    /// What the topology asserts about `irq` versus the GSI of bound INTx
    /// devices; `None` asserts nothing.
    #[serde(default)]
    pub irq_is_gsi: Option<bool>,
    /// What a `gsi` read must give where a revision could answer either
    /// way (`[policy]` in configs/matrix.toml).
    pub policy: Policy,
    /// Virtual CPUs the guest boots with (the topology's `smp`); with more
    /// than one, `<device>::gsi-concurrent` runs where the plan allows an
    /// unbind. Default (and left out when): 1.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub cpus: u32,
    /// The devices to check, in a stable order.
    pub devices: Vec<Device>,
    /// How Xen runs this kernel as its dom0; `None` on the machine itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xen_dom0: Option<Dom0>,
}

/// How Xen runs dom0: which decides who owns the IOAPIC, and whether
/// xen-pciback records a GSI for `IOCTL_PRIVCMD_PCIDEV_GET_GSI`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dom0 {
    /// Paravirtualised: Xen owns the IOAPIC, each GSI is a pirq of the
    /// same number; pciback records no GSI (the ioctl answers EPERM).
    Pv,
    /// PVH: Xen emulates the IOAPIC; pciback registers each GSI with Xen
    /// (PHYSDEVOP_setup_gsi) and records it: the ioctl answers.
    Pvh,
}

/// The sysfs name of xen-pciback's PCI driver: a device planned with it
/// is hidden from other drivers at boot (`xen-pciback.hide=(BDF)`).
pub const PCIBACK: &str = "pciback";

/// `/dev/xen/privcmd`, where `IOCTL_PRIVCMD_PCIDEV_GET_GSI` is asked.
pub const PRIVCMD_PATH: &str = "/dev/xen/privcmd";

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

/// Whether the revision under test provides the `gsi` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Attribute {
    /// Baseline: the file must not exist anywhere.
    Absent,
    /// A patched revision: the file's contents are checked.
    Present,
}

/// What a read of `gsi` may answer in a state where a revision could
/// reasonably answer either way. Each is exact: an error answer names the
/// one errno the read must fail with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Answer {
    /// The GSI the routing gives, exactly.
    Gsi,
    /// The file does not exist (opening it fails with ENOENT).
    Absent,
    /// The read fails with EAGAIN: not known yet, "try again".
    Eagain,
    /// The read fails with ENODATA: the kernel has not routed the pin yet.
    Enodata,
    /// The read fails with ENXIO: the pin has no route to a GSI.
    Enxio,
}

impl Answer {
    /// For messages: `the GSI`, `absent`, `EAGAIN`...
    pub fn describe(self) -> &'static str {
        match self {
            Answer::Gsi => "the GSI",
            Answer::Absent => "absent",
            Answer::Eagain => "EAGAIN",
            Answer::Enodata => "ENODATA",
            Answer::Enxio => "ENXIO",
        }
    }
}

/// The revision policy the suite judges `gsi` by, one answer per state
/// whose right answer is a design decision (see configs/matrix.toml for
/// the reasons). Where the kernel has routed a device's pin to a GSI
/// (bound, enabled at boot, after `enable`), the answer is the GSI: that
/// is not a choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// An unbound device the kernel has not routed at boot, whose GSI the
    /// firmware or an already set-up link decides: `gsi-before-enable`.
    pub before_enable: Answer,
    /// An unbound device the kernel has not routed, on an interrupt link
    /// that still has a choice of IRQs ([`Device::link_undecided`]):
    /// `gsi-link-undecided`.
    pub link_undecided: Answer,
    /// After `echo 1 > enable` and then `echo 0 > enable` on an unbound
    /// device with a GSI: `gsi-after-disable`.
    pub after_disable: Answer,
    /// A device with a GSI after its driver is unbound: `gsi-after-unbind`.
    pub after_unbind: Answer,
    /// A device without an interrupt pin, in every state: `gsi-no-pin`.
    pub no_pin: Answer,
    /// A device with a pin on a boot where ACPI does not route PCI
    /// interrupts (`acpi=off`, `acpi=noirq`, `pci=noacpi`), in every
    /// state: `gsi-no-acpi-irq` and the after-* trials there.
    pub no_acpi_irq: Answer,
    /// A device with a pin whose route ends without a GSI (no `_PRT`
    /// entry, or a link the kernel refuses), once the kernel has tried to
    /// route it (bound, enabled at boot, after `enable`, disable or
    /// unbind): `gsi-no-route` and the after-* trials.
    pub no_route: Answer,
    /// The same device before the kernel tried to route it (unbound, not
    /// enabled at boot): `gsi-no-route-before-enable`.
    pub no_route_before_enable: Answer,
}

/// One PCI function and what the topology says it must show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// Short name used in trial names, e.g. `rng-slot03`.
    pub name: String,
    /// PCI address as sysfs spells it, e.g. `0000:00:03.0`. For devices
    /// behind bridges whose bus number the guest assigns, the harness
    /// resolves the path; the suite only reads this.
    pub bdf: String,
    /// Interrupt pin from config space: 0 none, 1..=4 INTA..INTD.
    pub pin: u8,
    /// Driver that must bind (`virtio-pci`), or `None` for a device that
    /// must stay unbound.
    #[serde(default)]
    pub driver: Option<String>,
    /// GSI the routing must produce; `None` when there is none (no pin, no
    /// ACPI route).
    #[serde(default)]
    pub gsi: Option<u32>,
    /// Where the expected GSI comes from, e.g. `ICH9 slot 0x1a INTA -> PIRQA`.
    #[serde(default)]
    pub route: String,
    /// The pin goes through an ACPI interrupt link with a choice of IRQs
    /// that no device enabled at boot uses: the IRQ is picked when the
    /// first device on the link is enabled, so until then the GSI is not
    /// decided ([`Policy::link_undecided`]). False: decided at boot, fixed
    /// by the firmware or by a link set up for a device enabled at boot.
    #[serde(default, skip_serializing_if = "is_false")]
    pub link_undecided: bool,
    /// The kernel ran its ACPI interrupt routing for the device during
    /// boot: its driver enabled it, it is a bridge above a bound device,
    /// or every device with `pci=routeirq`. Such a device's GSI (or lack
    /// of one) is decided before the suite reads it, whatever the policy.
    #[serde(default, skip_serializing_if = "is_false")]
    pub routed_at_boot: bool,
    /// The suite may unbind the device's driver to check
    /// [`Policy::after_unbind`]: a bound device with nothing behind it
    /// (unbinding a port's driver could disable the bridge above its
    /// children). The trial runs after every other one.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unbind: bool,
    /// Its driver switches it to plain MSI (not MSI-X), which moves its
    /// `irq` to the MSI's number: the one device class whose `irq` leaves
    /// the GSI in every mode, Xen dom0 included, so a `gsi` that reports
    /// the irq fails there. `irq-vs-gsi` checks that it did.
    #[serde(default, skip_serializing_if = "is_false")]
    pub msi: bool,
}

fn is_false(flag: &bool) -> bool {
    !flag
}

impl Plan {
    pub fn from_toml(text: &str) -> Result<Plan, toml::de::Error> {
        toml::from_str(text)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a Plan always serializes")
    }

    /// The plan as the harness packs it into the initramfs.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a Plan always serializes")
    }

    /// A plan in either format: JSON (what the harness writes; it starts
    /// with `{`) or TOML (written by hand, e.g. through `GSI_PLAN`).
    pub fn parse(text: &str) -> Result<Plan, String> {
        if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|err| err.to_string())
        } else {
            Plan::from_toml(text).map_err(|err| err.to_string())
        }
    }
}

/// Pin number to the name the kernel and the PCI spec use.
pub fn pin_name(pin: u8) -> &'static str {
    match pin {
        0 => "none",
        1 => "INTA",
        2 => "INTB",
        3 => "INTC",
        4 => "INTD",
        _ => "invalid",
    }
}

/// The console line protocol. Every line starts with `@@GSI-`; the harness
/// ignores anything before [`protocol::BEGIN`] and anything that does not
/// parse. Messages are escaped so that one record is one line.
pub mod protocol {
    /// `@@GSI-BEGIN v1 trials=N`
    pub const BEGIN: &str = "@@GSI-BEGIN";
    /// `@@GSI-TRIAL <passed|failed|ignored> <name> <escaped message>`
    pub const TRIAL: &str = "@@GSI-TRIAL";
    /// `@@GSI-SYSFS <bdf> <file> <escaped value>`: between BEGIN and the
    /// first TRIAL, one per readable file of a plan device's sysfs
    /// directory, read before any trial; the host compares them across
    /// revisions.
    pub const SYSFS: &str = "@@GSI-SYSFS";
    /// `@@GSI-SYSFS-AFTER <bdf> <file> <escaped value>`: the same files
    /// read again after every `gsi` read (the suite's `sysfs-after-reads`
    /// trials), printed after the last TRIAL and before END.
    pub const SYSFS_AFTER: &str = "@@GSI-SYSFS-AFTER";
    /// `@@GSI-END passed=N failed=N ignored=N`
    pub const END: &str = "@@GSI-END";
    /// `@@GSI-INIT-ERROR <escaped message>`: /init could not run the suite.
    pub const INIT_ERROR: &str = "@@GSI-INIT-ERROR";
    /// `@@GSI-DONE <exit status of the suite>`: /init is about to power off.
    pub const DONE: &str = "@@GSI-DONE";
    /// Not a record, a plain line the judge ignores: `gsi-suite: kprobe
    /// hits <event>=<N> <before|after> the trials`, one per kprobe event
    /// the kernel has (`kprobe_event=` on the command line of a topology
    /// on the prt-count kernel), printed before BEGIN and after the last
    /// trial. check-series' cost check reads them from stored consoles.
    pub const PROBE_HITS: &str = "gsi-suite: kprobe hits";
    /// Protocol version printed after BEGIN.
    pub const VERSION: &str = "v1";
    /// The suite's exit status when a trial failed or there was none to
    /// run (libtest's); 0 when none failed. DONE carries it.
    pub const SUITE_FAILED: i32 = 101;
    /// Longest message the guest prints; the host cuts longer ones too.
    pub const MAX_MESSAGE: usize = 2000;

    /// One line, printable ASCII only: `\` `\n` and anything outside
    /// 0x20..0x7e are escaped, the result is cut at [`MAX_MESSAGE`].
    pub fn escape(message: &str) -> String {
        let mut out = String::with_capacity(message.len());
        for c in message.chars() {
            if out.len() >= MAX_MESSAGE {
                out.push_str("...");
                break;
            }
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                ' '..='~' => out.push(c),
                c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            }
        }
        out
    }

    /// Inverse of [`escape`] for `\\` and `\n`; other sequences are kept as
    /// they are (the host only displays them).
    pub fn unescape(line: &str) -> String {
        let mut out = String::with_capacity(line.len());
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_round_trips_through_toml() {
        let plan = Plan {
            revision: "v4".into(),
            topology: "q35".into(),
            attribute: Attribute::Present,
            acpi_irq: true,
            irq_is_gsi: Some(true),
            policy: RFC1_POLICY,
            cpus: 1,
            devices: vec![Device {
                name: "rng".into(),
                bdf: "0000:00:03.0".into(),
                pin: 1,
                driver: Some("virtio-pci".into()),
                gsi: Some(23),
                route: "ICH9 slot 3 INTA -> PIRQH".into(),
                link_undecided: false,
                routed_at_boot: true,
                unbind: true,
                msi: false,
            }],
            xen_dom0: None,
        };
        assert!(!plan.to_toml().contains("xen_dom0"), "{}", plan.to_toml());
        let dom0 = Plan {
            xen_dom0: Some(Dom0::Pvh),
            ..plan.clone()
        };
        assert!(
            dom0.to_toml().contains("xen_dom0 = \"pvh\""),
            "{}",
            dom0.to_toml()
        );
        assert_eq!(Plan::from_toml(&dom0.to_toml()).unwrap(), dom0);
        assert_eq!(Plan::from_toml(&plan.to_toml()).unwrap(), plan);
        let mut undecided = plan.clone();
        undecided.devices[0].link_undecided = true;
        undecided.devices[0].unbind = false;
        undecided.devices[0].routed_at_boot = false;
        undecided.policy.after_unbind = Answer::Eagain;
        let text = undecided.to_toml();
        assert!(text.contains("link_undecided = true"), "{text}");
        assert!(!text.contains("\nunbind = "), "{text}");
        assert!(!text.contains("routed_at_boot"), "{text}");
        assert!(text.contains("after_unbind = \"eagain\""), "{text}");
        assert!(text.contains("no_route = \"enxio\""), "{text}");
        assert_eq!(Plan::from_toml(&text).unwrap(), undecided);
        for p in [&plan, &dom0, &undecided] {
            assert_eq!(&Plan::parse(&p.to_json()).unwrap(), p);
            assert_eq!(&Plan::parse(&p.to_toml()).unwrap(), p);
        }
        assert!(!plan.to_json().contains("xen_dom0"), "{}", plan.to_json());
        let err = Plan::parse(&plan.to_json().replace("\"enxio\"", "\"zero\"")).unwrap_err();
        assert!(err.contains("zero"), "{err}");
    }

    const RFC1_POLICY: Policy = Policy {
        before_enable: Answer::Enodata,
        link_undecided: Answer::Enodata,
        after_disable: Answer::Gsi,
        after_unbind: Answer::Gsi,
        no_pin: Answer::Absent,
        no_acpi_irq: Answer::Absent,
        no_route: Answer::Enxio,
        no_route_before_enable: Answer::Enodata,
    };

    const POLICY_TOML: &str = "[policy]\nbefore_enable='enodata'\nlink_undecided='enodata'\n\
        after_disable='gsi'\nafter_unbind='gsi'\nno_pin='absent'\nno_acpi_irq='absent'\n\
        no_route='enxio'\nno_route_before_enable='enodata'\n";

    #[test]
    fn the_policy_is_required_and_spelled_out() {
        let header =
            "revision='v4'\ntopology='q35'\nattribute='present'\nacpi_irq=true\ndevices=[]\n";
        let err = Plan::from_toml(header).unwrap_err();
        assert!(err.to_string().contains("policy"), "{err}");
        let policy = POLICY_TOML;
        assert_eq!(
            Plan::from_toml(&format!("{header}{policy}"))
                .unwrap()
                .policy,
            RFC1_POLICY
        );
        let err = Plan::from_toml(&format!("{header}{}", policy.replace("'enxio'", "'zero'")))
            .unwrap_err();
        assert!(err.to_string().contains("zero"), "{err}");
        let err = Plan::from_toml(&format!(
            "{header}{}",
            policy.replace("no_route='enxio'\n", "")
        ))
        .unwrap_err();
        assert!(err.to_string().contains("no_route"), "{err}");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = Plan::from_toml(
            &format!(
                "revision='v4'\ntopology='q35'\nattribute='present'\nacpi_irq=true\ndevices=[]\nbogus=1\n{POLICY_TOML}"
            ),
        )
        .unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");
    }

    #[test]
    fn escape_keeps_one_record_per_line() {
        let escaped = protocol::escape("a\nb\\c\u{1b}[31m");
        assert!(!escaped.contains('\n'));
        assert!(escaped.chars().all(|c| (' '..='~').contains(&c)));
        assert_eq!(protocol::unescape(&protocol::escape("x\ny\\z")), "x\ny\\z");
    }

    #[test]
    fn escape_bounds_the_message() {
        let long = "x".repeat(10 * protocol::MAX_MESSAGE);
        assert!(protocol::escape(&long).len() <= protocol::MAX_MESSAGE + 3);
    }
}
