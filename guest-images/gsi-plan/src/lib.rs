//! The contract between the host harness and the guest.
//!
//! The harness resolves a topology and a revision into a [`Plan`], writes it
//! as TOML to [`PLAN_PATH`] inside the initramfs, and the guest suite builds
//! its trials from it. The guest answers on the serial console with the line
//! protocol in [`protocol`]; the harness parses nothing else as a result.
//! Both sides compile this one crate, so the format cannot drift.

use serde::{Deserialize, Serialize};

/// Where the plan lives inside the initramfs.
pub const PLAN_PATH: &str = "/etc/gsi/plan.toml";
/// Where the suite binary lives inside the initramfs.
pub const SUITE_PATH: &str = "/bin/gsi-suite";

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
    /// The devices to check, in a stable order.
    pub devices: Vec<Device>,
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
}

impl Plan {
    pub fn from_toml(text: &str) -> Result<Plan, toml::de::Error> {
        toml::from_str(text)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a Plan always serializes")
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
    /// `@@GSI-END passed=N failed=N ignored=N`
    pub const END: &str = "@@GSI-END";
    /// `@@GSI-INIT-ERROR <escaped message>`: /init could not run the suite.
    pub const INIT_ERROR: &str = "@@GSI-INIT-ERROR";
    /// `@@GSI-DONE <exit status of the suite>`: /init is about to power off.
    pub const DONE: &str = "@@GSI-DONE";
    /// Protocol version printed after BEGIN.
    pub const VERSION: &str = "v1";
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
            devices: vec![Device {
                name: "rng".into(),
                bdf: "0000:00:03.0".into(),
                pin: 1,
                driver: Some("virtio-pci".into()),
                gsi: Some(23),
                route: "ICH9 slot 3 INTA -> PIRQH".into(),
            }],
        };
        assert_eq!(Plan::from_toml(&plan.to_toml()).unwrap(), plan);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = Plan::from_toml(
            "revision='v4'\ntopology='q35'\nattribute='present'\nacpi_irq=true\ndevices=[]\nbogus=1\n",
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
