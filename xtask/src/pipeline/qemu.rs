//! QEMU command lines from small pure functions, one per device or feature,
//! each returning its arguments. Nothing here starts a process.

use crate::config::topology::{Machine, Topology};
use std::path::Path;

/// How the guest CPU runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    Kvm,
    Tcg,
}

impl Accel {
    pub fn name(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

/// The QEMU binary for x86_64 guests.
pub const QEMU: &str = "qemu-system-x86_64";

/// The port of the isa-debug-exit device /init writes to when it cannot
/// power off through ACPI (acpi=off): one constant for both sides.
pub const DEBUG_EXIT_PORT: u16 = gsi_plan::DEBUG_EXIT_PORT;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// No default devices, no reboot (a panic ends QEMU), no display, no
/// monitor: every device in the guest is one the topology asked for.
pub fn base() -> Vec<String> {
    args(&[
        "-nodefaults",
        "-no-reboot",
        "-display",
        "none",
        "-m",
        "256M",
    ])
}

/// `-smp <n>`: the topology's virtual CPUs.
pub fn cpus(n: u32) -> Vec<String> {
    vec!["-smp".into(), n.to_string()]
}

pub fn accel(accel: Accel) -> Vec<String> {
    match accel {
        Accel::Kvm => args(&["-accel", "kvm", "-cpu", "host"]),
        Accel::Tcg => args(&["-accel", "tcg"]),
    }
}

pub fn machine(machine: Machine, options: &str) -> Vec<String> {
    let mut spec = machine.qemu_name().to_string();
    if !options.is_empty() {
        spec.push(',');
        spec.push_str(options);
    }
    vec!["-machine".into(), spec]
}

/// The first serial port on QEMU's stdio: the harness reads the console
/// from the pipe (or the terminal for `boot`).
pub fn serial_stdio() -> Vec<String> {
    args(&["-serial", "stdio"])
}

/// Lets /init end QEMU by writing to an I/O port when ACPI power-off is
/// not available.
pub fn debug_exit() -> Vec<String> {
    vec![
        "-device".into(),
        format!("isa-debug-exit,iobase={DEBUG_EXIT_PORT:#x},iosize=0x04"),
    ]
}

pub fn kernel(bzimage: &Path, initrd: &Path, cmdline: &str) -> Vec<String> {
    vec![
        "-kernel".into(),
        bzimage.display().to_string(),
        "-initrd".into(),
        initrd.display().to_string(),
        "-append".into(),
        cmdline.to_string(),
    ]
}

pub fn device(spec: &str) -> Vec<String> {
    vec!["-device".into(), spec.to_string()]
}

/// The kernel command line: serial console, panic ends the boot at once,
/// an oops is a panic, then the topology's own words.
pub fn cmdline(topology_words: &str, extra: &str) -> String {
    let mut line = String::from("console=ttyS0 panic=-1 oops=panic rdinit=/init");
    for words in [topology_words, extra] {
        if !words.trim().is_empty() {
            line.push(' ');
            line.push_str(words.trim());
        }
    }
    line
}

/// Every argument for one boot of `topology`.
pub fn command(
    topology: &Topology,
    accel_kind: Accel,
    bzimage: &Path,
    initrd: &Path,
    extra_cmdline: &str,
) -> Vec<String> {
    let spec = &topology.spec;
    let mut all = base();
    all.extend(cpus(spec.smp));
    all.extend(accel(accel_kind));
    all.extend(machine(spec.machine, &spec.machine_options));
    all.extend(serial_stdio());
    all.extend(debug_exit());
    all.extend(kernel(
        bzimage,
        initrd,
        &cmdline(&spec.cmdline, extra_cmdline),
    ));
    for bridge in &spec.bridges {
        all.extend(device(bridge));
    }
    for dev in &spec.devices {
        all.extend(device(&dev.qemu));
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_has_no_default_devices_and_no_reboot() {
        let b = base();
        assert!(b.contains(&"-nodefaults".to_string()));
        assert!(b.contains(&"-no-reboot".to_string()));
    }

    #[test]
    fn smp_gives_the_cpu_count() {
        assert_eq!(cpus(1), vec!["-smp", "1"]);
        assert_eq!(cpus(2), vec!["-smp", "2"]);
    }

    #[test]
    fn machine_options_are_appended() {
        assert_eq!(machine(Machine::Q35, ""), vec!["-machine", "q35"]);
        assert_eq!(
            machine(Machine::Microvm, "pcie=on,acpi=on"),
            vec!["-machine", "microvm,pcie=on,acpi=on"]
        );
    }

    #[test]
    fn accel_picks_the_cpu() {
        assert_eq!(accel(Accel::Tcg), vec!["-accel", "tcg"]);
        assert_eq!(accel(Accel::Kvm), vec!["-accel", "kvm", "-cpu", "host"]);
    }

    #[test]
    fn cmdline_keeps_console_and_appends_topology_words() {
        let line = cmdline(" acpi=off ", "");
        assert!(line.starts_with("console=ttyS0 panic=-1"));
        assert!(line.ends_with(" acpi=off"));
        assert!(cmdline("", "gsi.shell").ends_with("rdinit=/init gsi.shell"));
    }

    #[test]
    fn debug_exit_uses_the_port_init_writes() {
        assert_eq!(debug_exit()[1], "isa-debug-exit,iobase=0xf4,iosize=0x04");
    }

    #[test]
    fn a_topology_becomes_one_command() {
        let t = crate::model::load_topology(&crate::config::topology::dir(), "q35").unwrap();
        let cmd = command(
            &t,
            Accel::Tcg,
            Path::new("/k/bzImage"),
            Path::new("/i.cpio"),
            "",
        );
        let devices: Vec<&String> = cmd
            .iter()
            .zip(cmd.iter().skip(1))
            .filter(|(flag, _)| *flag == "-device")
            .map(|(_, d)| d)
            .collect();
        assert_eq!(
            devices.len(),
            1 + t.spec.bridges.len() + t.spec.devices.len()
        );
        assert!(cmd
            .windows(2)
            .any(|w| w[0] == "-kernel" && w[1] == "/k/bzImage"));
    }
}
