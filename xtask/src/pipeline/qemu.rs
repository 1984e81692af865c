//! QEMU command lines from small pure functions, one per device or feature,
//! each returning its arguments. Nothing here starts a process.

use crate::config::topology::{Dom0Mode, HypervisorToml, Machine, Topology};
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
    args(&["-nodefaults", "-no-reboot", "-display", "none"])
}

/// Guest RAM and vCPUs.
pub fn resources(memory: &str, smp: u32) -> Vec<String> {
    vec!["-m".into(), memory.into(), "-smp".into(), smp.to_string()]
}

/// The topology's CPU model, under TCG only (KVM runs `-cpu host`).
pub fn cpu(accel: Accel, model: Option<&str>) -> Vec<String> {
    match (accel, model) {
        (Accel::Tcg, Some(model)) => vec!["-cpu".into(), model.into()],
        _ => vec![],
    }
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

/// `-kernel`: the image QEMU loads (an ELF with a PVH note is entered
/// there; a bzImage through its real-mode setup).
pub fn kernel(image: &Path, initrd: &Path, cmdline: &str) -> Vec<String> {
    vec![
        "-kernel".into(),
        image.display().to_string(),
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
/// an oops is a panic, [`DIRECT_BOOT_WORDS`], then the topology's own
/// words.
pub fn cmdline(topology_words: &str, extra: &str) -> String {
    let words = format!("{DIRECT_BOOT_WORDS} {}", topology_words.trim());
    cmdline_on("console=ttyS0", &words, extra)
}

/// Boot-time words of every direct boot, none about interrupt routing.
/// `noreplace-smp`: a kernel that finds one CPU rewrites every LOCK
/// prefix of its text at boot, and under TCG each write throws away
/// translated code. Floor boots, 9 alternating, medians: microvm 0.820 ->
/// 0.747 s, q35 1.143 -> 1.059 s. (Two-CPU shapes never rewrite them.)
pub const DIRECT_BOOT_WORDS: &str = "noreplace-smp";

/// [`cmdline`] with another console: dom0 writes to Xen's (`hvc0`), which
/// Xen puts on its serial port beside its own lines.
pub fn cmdline_on(console: &str, topology_words: &str, extra: &str) -> String {
    let mut line = format!("{console} panic=-1 oops=panic rdinit=/init");
    for words in [topology_words, extra] {
        if !words.trim().is_empty() {
            line.push(' ');
            line.push_str(words.trim());
        }
    }
    line
}

/// Xen's command line: its console on com1 (QEMU's stdio, where dom0's
/// hvc0 lands too), every log line (the verdict quotes them when dom0
/// never comes up), PVH when asked, then the topology's words.
pub fn xen_cmdline(hypervisor: &HypervisorToml) -> String {
    let mut line = String::from("console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all");
    if hypervisor.dom0 == Dom0Mode::Pvh {
        line.push_str(" dom0=pvh");
    }
    if !hypervisor.cmdline.trim().is_empty() {
        line.push(' ');
        line.push_str(hypervisor.cmdline.trim());
    }
    line
}

/// dom0's words: `xen-pciback.hide=(BDF)(BDF)` for the devices xen-pciback
/// takes at boot; none when there are none.
pub fn pciback_hide<'a>(bdfs: impl IntoIterator<Item = &'a str>) -> String {
    let list: String = bdfs.into_iter().map(|b| format!("({b})")).collect();
    if list.is_empty() {
        list
    } else {
        format!("xen-pciback.hide={list}")
    }
}

/// A multiboot boot: QEMU loads the hypervisor (`-kernel`, its command
/// line in `-append`) and hands it the kernel with its command line and
/// the initramfs as modules (`-initrd`: modules split at `,`, a module's
/// command line follows its path; a `,` inside is written `,,`).
pub fn multiboot(
    hypervisor: &Path,
    hypervisor_cmdline: &str,
    bzimage: &Path,
    kernel_cmdline: &str,
    initrd: &Path,
) -> Vec<String> {
    let escape = |text: &str| text.replace(',', ",,");
    vec![
        "-kernel".into(),
        hypervisor.display().to_string(),
        "-append".into(),
        hypervisor_cmdline.to_string(),
        "-initrd".into(),
        format!(
            "{} {},{}",
            escape(&bzimage.display().to_string()),
            escape(kernel_cmdline),
            escape(&initrd.display().to_string())
        ),
    ]
}

/// Every argument for one boot of `topology`; `hypervisor` is the Xen ELF
/// for a topology with a `[hypervisor]` table, and `image` is then dom0's
/// kernel.
pub fn command(
    topology: &Topology,
    accel_kind: Accel,
    image: &Path,
    initrd: &Path,
    extra_cmdline: &str,
    hypervisor: Option<&Path>,
) -> Vec<String> {
    let spec = &topology.spec;
    let mut all = base();
    all.extend(resources(&spec.memory, spec.smp));
    all.extend(accel(accel_kind));
    all.extend(cpu(accel_kind, spec.cpu.as_deref()));
    all.extend(machine(spec.machine, &spec.machine_options));
    all.extend(serial_stdio());
    all.extend(debug_exit());
    match (&spec.hypervisor, hypervisor) {
        (Some(h), Some(elf)) => {
            let hide = pciback_hide(topology.pciback_devices().map(|d| d.bdf.as_str()));
            let words = format!("{} {hide}", spec.cmdline);
            all.extend(multiboot(
                elf,
                &xen_cmdline(h),
                image,
                &cmdline_on("console=hvc0 earlyprintk=xen", &words, extra_cmdline),
                initrd,
            ))
        }
        _ => all.extend(kernel(
            image,
            initrd,
            &cmdline(&spec.cmdline, extra_cmdline),
        )),
    }
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
    fn a_dom0_boots_as_multiboot_modules_of_xen() {
        let t =
            crate::model::load_topology(&crate::config::topology::dir(), "xen-pvh-dom0").unwrap();
        let cmd = command(
            &t,
            Accel::Tcg,
            Path::new("/k,1/bzImage"),
            Path::new("/i.cpio"),
            "gsi.shell",
            Some(Path::new("/x/xen.elf")),
        );
        let after = |flag: &str| {
            let at = cmd.iter().position(|a| a == flag).unwrap();
            cmd[at + 1].clone()
        };
        assert_eq!(after("-kernel"), "/x/xen.elf");
        let xen = after("-append");
        assert!(
            xen.starts_with("console=com1 com1=115200,8n1 ") && xen.contains(" dom0=pvh"),
            "{xen}"
        );
        let modules = after("-initrd");
        assert!(
            modules.starts_with("/k,,1/bzImage console=hvc0 "),
            "{modules}"
        );
        assert!(modules.ends_with(" gsi.shell,/i.cpio"), "{modules}");
        let hide: Vec<String> = t
            .pciback_devices()
            .map(|d| format!("({})", d.bdf))
            .collect();
        assert!(!hide.is_empty());
        assert!(
            modules.contains(&format!("xen-pciback.hide={}", hide.concat())),
            "{modules}"
        );
        assert_eq!(after("-cpu"), "max,-smap,-rdtscp");
        assert!(cmd.iter().any(|a| a.starts_with("intel-iommu")), "{cmd:?}");
        // Without the ELF (no Xen resolved), no multiboot.
        let plain = command(&t, Accel::Tcg, Path::new("/k"), Path::new("/i"), "", None);
        assert!(plain.windows(2).any(|w| w[0] == "-kernel" && w[1] == "/k"));
    }

    #[test]
    fn pciback_hide_lists_every_device() {
        assert_eq!(pciback_hide([]), "");
        assert_eq!(
            pciback_hide(["0000:00:06.0", "0000:00:07.0"]),
            "xen-pciback.hide=(0000:00:06.0)(0000:00:07.0)"
        );
    }

    #[test]
    fn the_cpu_model_applies_under_tcg_only() {
        assert_eq!(cpu(Accel::Tcg, Some("max,-smap")), ["-cpu", "max,-smap"]);
        assert!(cpu(Accel::Kvm, Some("max,-smap")).is_empty());
        assert!(cpu(Accel::Tcg, None).is_empty());
    }

    #[test]
    fn base_has_no_default_devices_and_no_reboot() {
        let b = base();
        assert!(b.contains(&"-nodefaults".to_string()));
        assert!(b.contains(&"-no-reboot".to_string()));
    }

    #[test]
    fn smp_gives_the_cpu_count() {
        assert_eq!(resources("256M", 1), vec!["-m", "256M", "-smp", "1"]);
        assert_eq!(resources("768M", 2), vec!["-m", "768M", "-smp", "2"]);
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
        assert!(cmdline("", "gsi.shell").ends_with("rdinit=/init noreplace-smp gsi.shell"));
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
            None,
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
