//! The checks, built from the plan and judged against what the kernel shows.
//!
//! Each device gets the checks that apply to it (see [`Check::applies`]);
//! each check reads sysfs through a [`System`] and returns a [`Verdict`]
//! whose message says what was read where, and what was expected. The `gsi`
//! files are read once, before any check runs ([`Suite::new`]), because
//! `gsi-after-enable` changes them and `gsi` must judge the boot state.
//!
//! Where the right answer is a design decision (a read before enable, after
//! disable, after unbind, and how each kind of "no GSI" shows), the plan's
//! [`Policy`] (configs/matrix.toml) says which: the exact GSI, an absent
//! file, or one exact errno. The checks that change the machine run
//! after every read-only one, in [`Check::phase`] order: enable, then
//! disable (of the devices just enabled), then unbinding drivers.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use gsi_plan::{pin_name, Answer, Attribute, Device, Dom0, Plan, Policy, PCIBACK};

use crate::dump::{self, Dump};
use crate::kernel_log::{self, Ioapic, XenPirq};
use crate::system::{read_number, read_text, AttrRead, OsError, System};

/// One kind of check; trial names are `{device}::{check}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Check {
    Present,
    Pin,
    Driver,
    Gsi,
    GsiAfterEnable,
    GsiAfterDisable,
    GsiAfterUnbind,
    IrqOracle,
    IrqVsGsi,
    SysfsAfterReads,
    PrivcmdGsi,
    GsiPcibackRebind,
    GsiConcurrent,
}

impl Check {
    pub const ALL: [Check; 13] = [
        Check::Present,
        Check::Pin,
        Check::Driver,
        Check::Gsi,
        Check::GsiAfterEnable,
        Check::GsiAfterDisable,
        Check::GsiAfterUnbind,
        Check::IrqOracle,
        Check::IrqVsGsi,
        Check::SysfsAfterReads,
        Check::PrivcmdGsi,
        Check::GsiPcibackRebind,
        Check::GsiConcurrent,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Check::Present => "present",
            Check::Pin => "pin",
            Check::Driver => "driver",
            Check::Gsi => "gsi",
            Check::GsiAfterEnable => "gsi-after-enable",
            Check::GsiAfterDisable => "gsi-after-disable",
            Check::GsiAfterUnbind => "gsi-after-unbind",
            Check::IrqOracle => "irq-oracle",
            Check::IrqVsGsi => "irq-vs-gsi",
            Check::SysfsAfterReads => "sysfs-after-reads",
            Check::PrivcmdGsi => "privcmd-gsi",
            Check::GsiPcibackRebind => "gsi-pciback-rebind",
            Check::GsiConcurrent => "gsi-concurrent",
        }
    }

    /// The check's part of the trial name. The boot-state `gsi` check is
    /// named by the case it judges (`gsi-absent` on a revision without the
    /// attribute; `gsi-no-pin`, `gsi-no-acpi-irq`, `gsi-no-route`,
    /// `gsi-no-route-before-enable` without a GSI; `gsi-bound`,
    /// `gsi-enabled-at-boot`, `gsi-before-enable`, `gsi-link-undecided`
    /// with one), so that expected failures can name the policy a revision
    /// gets wrong.
    pub fn trial_name(self, plan: &Plan, device: &Device) -> &'static str {
        if self != Check::Gsi {
            return self.name();
        }
        if plan.attribute == Attribute::Absent {
            return "gsi-absent";
        }
        match Expected::of(plan, device) {
            Expected::NoPin => "gsi-no-pin",
            Expected::NoAcpiIrq => "gsi-no-acpi-irq",
            Expected::NoRoute if device.routed_at_boot => "gsi-no-route",
            Expected::NoRoute => "gsi-no-route-before-enable",
            Expected::Gsi(_) if device.driver.is_some() => "gsi-bound",
            Expected::Gsi(_) if device.routed_at_boot => "gsi-enabled-at-boot",
            Expected::Gsi(_) if device.link_undecided => "gsi-link-undecided",
            Expected::Gsi(_) => "gsi-before-enable",
        }
    }

    /// When the check runs: 0 reads only; 1 dumps sysfs again, after every
    /// `gsi` read and before anything changes the machine; 2 enables
    /// unbound devices; 3 disables them again (after their enable); 4
    /// unbinds drivers, because an unbound device's `irq`, interrupt and
    /// driver are gone; 5 hands the devices xen-pciback let go of back to
    /// it; 6, last, binds and unbinds them again while other threads read
    /// (`gsi-concurrent`, on a guest with more than one CPU).
    pub fn phase(self) -> u8 {
        match self {
            Check::Present
            | Check::Pin
            | Check::Driver
            | Check::Gsi
            | Check::IrqOracle
            | Check::IrqVsGsi
            | Check::PrivcmdGsi => 0,
            Check::SysfsAfterReads => 1,
            Check::GsiAfterEnable => 2,
            Check::GsiAfterDisable => 3,
            Check::GsiAfterUnbind => 4,
            Check::GsiPcibackRebind => 5,
            Check::GsiConcurrent => 6,
        }
    }

    /// Whether the check says anything about this device on this boot.
    pub fn applies(self, plan: &Plan, device: &Device) -> bool {
        let bound = device.driver.is_some();
        let routed = matches!(Expected::of(plan, device), Expected::Gsi(_));
        // xen-pciback enables a device while seizing it and disables it
        // again: its IRQ is released (`irq` reads 0), so the IRQ oracles
        // have nothing to look at; privcmd's ioctl is its second oracle.
        let pciback = plan.xen_dom0.is_some() && is_pciback(device);
        match self {
            Check::Present | Check::Pin | Check::Driver | Check::Gsi | Check::SysfsAfterReads => {
                true
            }
            // Enabling a bound device fails with EBUSY, and a device without
            // a pin has nothing for enable to route.
            Check::GsiAfterEnable | Check::GsiAfterDisable => !bound && device.pin != 0,
            Check::GsiAfterUnbind => bound && device.unbind,
            // A device on plain MSI: its irq is the MSI's, with no INTx
            // GSI behind it (a PV dom0 logs no pirq line for it either);
            // irq-vs-gsi checks that it is.
            Check::IrqOracle => bound && routed && !pciback && !device.msi,
            Check::IrqVsGsi => {
                (plan.irq_is_gsi.is_some() || device.msi) && bound && routed && !pciback
            }
            Check::PrivcmdGsi => pciback && routed,
            Check::GsiPcibackRebind => pciback && device.unbind,
            // xen-pciback's own bind and unbind are gsi-pciback-rebind's.
            Check::GsiConcurrent => plan.cpus > 1 && bound && device.unbind && !pciback,
        }
    }
}

/// What pcistub_init_device's caller logs when Xen refused
/// PHYSDEVOP_setup_gsi (-ENOSYS) in a PVH dom0.
const SETUP_GSI_REFUSED: &str = "xen_pciback: error -38 initializing device";

/// Planned to be owned by xen-pciback (hidden from other drivers at boot).
fn is_pciback(device: &Device) -> bool {
    device.driver.as_deref() == Some(PCIBACK)
}

/// One trial to run: a check on the plan's device number `device`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trial {
    pub name: String,
    pub device: usize,
    pub check: Check,
}

/// Every applicable check of every device, sorted by phase, then name: the
/// order they run in, sequentially (see [`Check::phase`]).
pub fn trials(plan: &Plan) -> Vec<Trial> {
    let mut trials: Vec<Trial> = plan
        .devices
        .iter()
        .enumerate()
        .flat_map(|(index, device)| {
            Check::ALL
                .into_iter()
                .filter(|check| check.applies(plan, device))
                .map(move |check| Trial {
                    name: format!("{}::{}", device.name, check.trial_name(plan, device)),
                    device: index,
                    check,
                })
        })
        .collect();
    trials.sort_by(|a, b| (a.check.phase(), &a.name).cmp(&(b.check.phase(), &b.name)));
    trials
}

/// How one trial ended; every message is one sentence for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Passed(String),
    Failed(String),
    Ignored(String),
}

impl Verdict {
    pub fn status(&self) -> &'static str {
        match self {
            Verdict::Passed(_) => "passed",
            Verdict::Failed(_) => "failed",
            Verdict::Ignored(_) => "ignored",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Verdict::Passed(m) | Verdict::Failed(m) | Verdict::Ignored(m) => m,
        }
    }
}

/// What the plan says a device's GSI is on this boot: the GSI, or which
/// of the three kinds of "no GSI" (each with its own policy answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expected {
    Gsi(u32),
    /// The device has no interrupt pin.
    NoPin,
    /// ACPI does not route PCI interrupts on this boot.
    NoAcpiIrq,
    /// A pin whose route ends without a GSI.
    NoRoute,
}

impl Expected {
    fn of(plan: &Plan, device: &Device) -> Expected {
        if device.pin == 0 {
            Expected::NoPin
        } else if !plan.acpi_irq {
            Expected::NoAcpiIrq
        } else {
            match device.gsi {
                Some(gsi) => Expected::Gsi(gsi),
                None => Expected::NoRoute,
            }
        }
    }

    /// For a device without a GSI: why, for messages, and the policy key
    /// and answer that judge it once the kernel has tried to route it.
    fn without_gsi(self, policy: &Policy) -> Option<(&'static str, &'static str, Answer)> {
        match self {
            Expected::Gsi(_) => None,
            Expected::NoPin => Some(("no interrupt pin", "no_pin", policy.no_pin)),
            Expected::NoAcpiIrq => Some((
                "ACPI does not route interrupts on this boot",
                "no_acpi_irq",
                policy.no_acpi_irq,
            )),
            Expected::NoRoute => Some((
                "a pin whose route gives no GSI",
                "no_route",
                policy.no_route,
            )),
        }
    }
}

/// Everything the checks share: the plan, where to read, and what was read
/// before the first trial.
pub struct Suite {
    pub plan: Plan,
    system: System,
    /// The sysfs dump before anything read `gsi` ([`dump`]).
    boot_dump: Dump,
    /// Each device's `gsi` file at start, by plan index.
    boot_gsi: Vec<AttrRead>,
    /// The dump again, after every `gsi` read (the `sysfs-after-reads`
    /// trials fill it in, device by device).
    after_reads: Mutex<Dump>,
    /// Read when first needed, at most once.
    ioapics: OnceLock<Result<Vec<Ioapic>, String>>,
}

impl Suite {
    /// Takes the boot-time sysfs dump, then the snapshot of every `gsi`
    /// file, in that order: the dump must see the machine before any
    /// `gsi` read could change it.
    pub fn new(plan: Plan, system: System) -> Suite {
        let boot_dump = dump::dump(&plan, &system);
        let boot_gsi = plan
            .devices
            .iter()
            .map(|device| AttrRead::read(&system.device(&device.bdf).join("gsi")))
            .collect();
        Suite {
            plan,
            system,
            boot_dump,
            boot_gsi,
            after_reads: Mutex::default(),
            ioapics: OnceLock::new(),
        }
    }

    /// The dump taken before any `gsi` read.
    pub fn boot_dump(&self) -> &Dump {
        &self.boot_dump
    }

    /// The dump as the `sysfs-after-reads` trials took it.
    pub fn dump_after_reads(&self) -> Dump {
        self.after_reads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn run(&self, trial: &Trial) -> Verdict {
        let device = &self.plan.devices[trial.device];
        let result = match trial.check {
            Check::Present => return self.present(device),
            Check::Pin => self.pin(device),
            Check::Driver => self.driver(device),
            Check::Gsi => self.gsi(device, &self.boot_gsi[trial.device]),
            Check::GsiAfterEnable => self.gsi_after_enable(device, &self.boot_gsi[trial.device]),
            Check::GsiAfterDisable => self.gsi_after_disable(device),
            Check::GsiAfterUnbind => self.gsi_after_unbind(device),
            Check::IrqOracle => self.irq_oracle(device),
            Check::IrqVsGsi => self.irq_vs_gsi(device),
            Check::SysfsAfterReads => self.sysfs_after_reads(device),
            Check::PrivcmdGsi => self.privcmd_gsi(device, &self.boot_gsi[trial.device]),
            Check::GsiPcibackRebind => self.gsi_pciback_rebind(device),
            Check::GsiConcurrent => self.gsi_concurrent(device),
        };
        result.unwrap_or_else(Verdict::Failed)
    }

    /// Every file of the dump, read again after all `gsi` reads, must be
    /// as it was before them: reading the attribute may not change the
    /// device (enable it, route its interrupt, add or drop a file). The
    /// values also go to the host, which compares them across revisions.
    fn sysfs_after_reads(&self, device: &Device) -> Result<Verdict, String> {
        self.device_dir(device)?;
        let now = dump::dump_device(device, &self.system);
        let before: Dump = self
            .boot_dump
            .iter()
            .filter(|((bdf, _), _)| *bdf == device.bdf)
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        let changed = dump::differences(&before, &now);
        let mut after = self
            .after_reads
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        after.retain(|(bdf, _), _| *bdf != device.bdf);
        after.extend(now);
        drop(after);
        let at = self.system.device(&device.bdf);
        Ok(if changed.is_empty() {
            Verdict::Passed(format!(
                "{} dumped file{} of {} read the same after the gsi reads",
                before.len(),
                if before.len() == 1 { "" } else { "s" },
                at.display()
            ))
        } else {
            Verdict::Failed(format!(
                "files of {} changed between the dump before the gsi reads and after them: {}",
                at.display(),
                changed.join("; ")
            ))
        })
    }

    fn present(&self, device: &Device) -> Verdict {
        let dir = self.system.device(&device.bdf);
        if dir.is_dir() {
            Verdict::Passed(format!("{} exists", dir.display()))
        } else {
            Verdict::Failed(format!(
                "{} does not exist: no PCI function {} for {}",
                dir.display(),
                device.bdf,
                device.name
            ))
        }
    }

    /// The device directory, or why no other check can look at it.
    fn device_dir(&self, device: &Device) -> Result<PathBuf, String> {
        let dir = self.system.device(&device.bdf);
        if dir.is_dir() {
            Ok(dir)
        } else {
            Err(format!(
                "{} does not exist, nothing to check",
                dir.display()
            ))
        }
    }

    fn pin(&self, device: &Device) -> Result<Verdict, String> {
        const INTERRUPT_PIN: usize = 0x3d;
        let config = self.device_dir(device)?.join("config");
        let mut header = Vec::with_capacity(64);
        File::open(&config)
            .and_then(|file| file.take(64).read_to_end(&mut header))
            .map_err(|err| {
                format!(
                    "reading {} failed: {}",
                    config.display(),
                    OsError::from_io(&err)
                )
            })?;
        let Some(&pin) = header.get(INTERRUPT_PIN) else {
            return Err(format!(
                "{} has {} bytes, too short for the interrupt pin at 0x3d",
                config.display(),
                header.len()
            ));
        };
        let found = format!("{}[0x3d] = {pin} ({})", config.display(), pin_name(pin));
        Ok(if pin == device.pin {
            Verdict::Passed(found)
        } else {
            Verdict::Failed(format!(
                "{found}, expected {} ({})",
                device.pin,
                pin_name(device.pin)
            ))
        })
    }

    fn driver(&self, device: &Device) -> Result<Verdict, String> {
        let link = self.device_dir(device)?.join("driver");
        let bound = bound_driver(&link)?;
        let link = link.display();
        Ok(match (&device.driver, bound) {
            (Some(want), Some(got)) if *want == got => Verdict::Passed(format!("{link} -> {got}")),
            (Some(want), Some(got)) => Verdict::Failed(format!("{link} -> {got}, expected {want}")),
            (Some(want), None) => Verdict::Failed(format!(
                "{link} is absent (no driver bound), expected {want}"
            )),
            (None, None) => Verdict::Passed(format!("{link} is absent: unbound as planned")),
            (None, Some(got)) => Verdict::Failed(format!(
                "{link} -> {got}, expected no driver (the device must stay unbound)"
            )),
        })
    }

    /// The `gsi` file as it was at boot, before this suite enabled anything.
    fn gsi(&self, device: &Device, boot: &AttrRead) -> Result<Verdict, String> {
        let path = self.device_dir(device)?.join("gsi");
        let at = format!("{} {} at boot", path.display(), boot.describe());
        let route = route(device);
        if self.plan.attribute == Attribute::Absent {
            return Ok(absent_on_baseline(&self.plan, &at, boot));
        }
        let expected = Expected::of(&self.plan, device);
        let policy = &self.plan.policy;
        if let Some((why, key, answer)) = expected.without_gsi(policy) {
            let (why, key, answer) = if expected == Expected::NoRoute && !device.routed_at_boot {
                (
                    "a pin whose route gives no GSI, never enabled",
                    "no_route_before_enable",
                    policy.no_route_before_enable,
                )
            } else {
                (why, key, answer)
            };
            return Ok(judge(&at, boot, None, &route, why, key, answer));
        }
        let Expected::Gsi(want) = expected else {
            unreachable!("without_gsi covers every other case")
        };
        Ok(if device.driver.is_some() || device.routed_at_boot {
            // The kernel routed the pin during boot: the GSI is no choice.
            let state = if device.driver.is_some() {
                "driver bound"
            } else {
                "enabled during boot"
            };
            match boot {
                AttrRead::Number(n) if *n == want => Verdict::Passed(format!("{at}{route}")),
                _ => Verdict::Failed(format!("{at}, expected {want}{route} ({state})")),
            }
        } else if device.link_undecided {
            judge(
                &at,
                boot,
                Some(want),
                &route,
                "no device on its interrupt link has been enabled, so the link has not chosen its IRQ",
                "link_undecided",
                policy.link_undecided,
            )
        } else {
            judge(
                &at,
                boot,
                Some(want),
                &route,
                "never enabled, its GSI decided at boot",
                "before_enable",
                policy.before_enable,
            )
        })
    }

    fn gsi_after_enable(&self, device: &Device, boot: &AttrRead) -> Result<Verdict, String> {
        let dir = self.device_dir(device)?;
        let enable = dir.join("enable");
        write_file(&enable, "1").map_err(|err| {
            let hint = if err.is(libc::EBUSY) {
                " (a driver is bound; the plan says none)"
            } else {
                ""
            };
            format!("writing 1 to {} failed: {err}{hint}", enable.display())
        })?;

        let path = dir.join("gsi");
        let after = AttrRead::read(&path);
        let at = format!("{} {} after enable", path.display(), after.describe());
        let route = route(device);
        if self.plan.attribute == Attribute::Absent {
            return Ok(absent_on_baseline(&self.plan, &at, &after));
        }
        let expected = Expected::of(&self.plan, device);
        if let Some((why, key, answer)) = expected.without_gsi(&self.plan.policy) {
            return Ok(judge(&at, &after, None, &route, why, key, answer));
        }
        Ok(match (expected, &after) {
            (Expected::Gsi(want), AttrRead::Number(n)) if *n == want => match boot {
                AttrRead::Number(before) if before != n => Verdict::Failed(format!(
                    "{}: value before enable {before} differs from after enable {n}{route}",
                    path.display()
                )),
                _ => Verdict::Passed(format!("{at}{route}; at boot: {}", boot.short())),
            },
            (Expected::Gsi(want), _) => Verdict::Failed(format!("{at}, expected {want}{route}")),
            (_, _) => unreachable!("without_gsi covers every case but Gsi"),
        })
    }

    /// `echo 0 > enable` after `gsi-after-enable`'s `echo 1`: the kernel
    /// disables the device (`acpi_pci_irq_disable()`) once no one else
    /// holds it enabled; a bridge stays enabled for the devices behind it.
    fn gsi_after_disable(&self, device: &Device) -> Result<Verdict, String> {
        let dir = self.device_dir(device)?;
        let enable = dir.join("enable");
        write_file(&enable, "0").map_err(|err| {
            let hint = if err.is(libc::EIO) {
                " (the device is not enabled: did gsi-after-enable fail?)"
            } else {
                ""
            };
            format!("writing 0 to {} failed: {err}{hint}", enable.display())
        })?;
        let count = read_text(&enable)?;
        let state = if count == "0" {
            "disabled".to_owned()
        } else {
            format!("still enabled (enable = {count}, held for the devices behind it)")
        };
        let path = dir.join("gsi");
        let after = AttrRead::read(&path);
        let at = format!(
            "{} {} after writing 0 to enable ({state})",
            path.display(),
            after.describe()
        );
        Ok(self.judge_after(
            device,
            &at,
            &after,
            "disabled again",
            "after_disable",
            self.plan.policy.after_disable,
        ))
    }

    /// Unbinds the driver through /sys/bus/pci/drivers/<driver>/unbind and
    /// reads `gsi`: the driver's remove disables the device, which runs
    /// `acpi_pci_irq_disable()`. Nothing is rebound: this phase runs last.
    fn gsi_after_unbind(&self, device: &Device) -> Result<Verdict, String> {
        let dir = self.device_dir(device)?;
        let link = dir.join("driver");
        let Some(driver) = bound_driver(&link)? else {
            return Err(format!(
                "{} is absent: no driver bound, nothing to unbind (the plan says {})",
                link.display(),
                device.driver.as_deref().unwrap_or("none")
            ));
        };
        let unbind = self.system.pci_driver(&driver).join("unbind");
        // The kernel's unbind_store() detaches the driver before the write
        // returns, and fails it (ENODEV) when the device is not bound to it.
        write_said(&unbind, &device.bdf)?;
        let path = dir.join("gsi");
        let after = AttrRead::read(&path);
        let at = format!(
            "{} {} after unbinding {driver} ({})",
            path.display(),
            after.describe(),
            unbind.display()
        );
        Ok(self.judge_after(
            device,
            &at,
            &after,
            "its driver unbound",
            "after_unbind",
            self.plan.policy.after_unbind,
        ))
    }

    /// A read after the device was disabled or unbound: a device without a
    /// GSI still shows no number; one with a GSI answers as the policy says.
    fn judge_after(
        &self,
        device: &Device,
        at: &str,
        read: &AttrRead,
        why: &str,
        key: &str,
        answer: Answer,
    ) -> Verdict {
        if self.plan.attribute == Attribute::Absent {
            return absent_on_baseline(&self.plan, at, read);
        }
        let expected = Expected::of(&self.plan, device);
        match expected.without_gsi(&self.plan.policy) {
            Some((why, key, answer)) => judge(at, read, None, &route(device), why, key, answer),
            None => {
                let Expected::Gsi(want) = expected else {
                    unreachable!("without_gsi covers every other case")
                };
                judge(at, read, Some(want), &route(device), why, key, answer)
            }
        }
    }

    /// The kernel's own view of the GSI: IOAPIC GSI base + pin, from sysfs,
    /// the IRQ debugfs and the boot log, never from the `gsi` file.
    fn irq_oracle(&self, device: &Device) -> Result<Verdict, String> {
        let Expected::Gsi(want) = Expected::of(&self.plan, device) else {
            return Ok(Verdict::Ignored("no GSI expected".to_owned()));
        };
        let route = route(device);
        let irq = self.irq_of(device)?;
        let chip = self.chip_of(irq)?;
        match chip_kind(&chip) {
            Chip::IoApic => {}
            Chip::XenPirq => return self.xen_pirq_oracle(device, irq, want),
            Chip::Msi => return Ok(Verdict::Ignored(msi_reason(irq, &chip))),
            Chip::Pic => {
                // PIC mode: an ACPI GSI is the 8259 input, which is the IRQ.
                let found = format!("irq {irq} on {chip} (PIC mode, GSI = IRQ)");
                return Ok(if irq == want {
                    Verdict::Passed(format!("{found}{route}"))
                } else {
                    Verdict::Failed(format!("{found}, expected GSI {want}{route}"))
                });
            }
            Chip::Other => {
                return Ok(Verdict::Ignored(format!(
                    "irq {irq} is on chip {chip:?}, neither IO-APIC nor PIC: no oracle"
                )))
            }
        }

        let hwirq_path = self.system.irq(irq).join("hwirq");
        let pin = read_number(&hwirq_path)?;
        let debugfs = self.system.irq_debugfs(irq);
        let domain = read_text(&debugfs)
            .map_err(|err| format!("{err} (debugfs mounted? CONFIG_GENERIC_IRQ_DEBUGFS?)"))
            .and_then(|text| {
                top_domain(&text)
                    .map(str::to_owned)
                    .ok_or_else(|| format!("no domain: line in {}", debugfs.display()))
            })?;
        let ioapics = self
            .ioapics
            .get_or_init(|| {
                kernel_log::read_log(&self.system).map(|log| kernel_log::parse_ioapics(&log))
            })
            .as_ref()
            .map_err(Clone::clone)?;
        let Some(ioapic) = ioapics.iter().find(|ioapic| ioapic.domain() == domain) else {
            let known: Vec<String> = ioapics
                .iter()
                .map(|i| {
                    format!(
                        "IOAPIC[{}] apic_id {} GSI {}-{}",
                        i.index, i.apic_id, i.gsi_base, i.gsi_end
                    )
                })
                .collect();
            return Err(format!(
                "irq {irq}: domain {domain:?} ({}) matches no IOAPIC[..] line in the kernel log {} (found: {})",
                debugfs.display(),
                self.system.kmsg().display(),
                if known.is_empty() { "none".to_owned() } else { known.join("; ") }
            ));
        };
        let gsi = ioapic.gsi_base + pin;
        let found = format!(
            "irq {irq} ({}/irq) is pin {pin} ({}) of {domain} ({}), GSI base {} (IOAPIC[{}] in the kernel log) -> GSI {gsi}",
            self.system.device(&device.bdf).display(),
            hwirq_path.display(),
            debugfs.display(),
            ioapic.gsi_base,
            ioapic.index,
        );
        Ok(if gsi > ioapic.gsi_end {
            Verdict::Failed(format!(
                "{found}, beyond that IOAPIC's last GSI {}",
                ioapic.gsi_end
            ))
        } else if gsi == want {
            Verdict::Passed(format!("{found}{route}"))
        } else {
            Verdict::Failed(format!("{found}, expected {want}{route}"))
        })
    }

    /// A PV dom0's INTx IRQ is an event channel bound to a pirq of Xen's;
    /// the kernel logs which GSI each pirq is for when it maps it
    /// (`xen: --> pirq=P -> irq=I (gsi=G)`, arch/x86/pci/xen.c).
    fn xen_pirq_oracle(&self, device: &Device, irq: u32, want: u32) -> Result<Verdict, String> {
        let log = kernel_log::read_log(&self.system)?;
        let route = route(device);
        let kmsg = self.system.kmsg().display();
        Ok(match kernel_log::xen_pirq(&log, irq) {
            Some(XenPirq::Gsi { pirq, gsi }) => {
                let found = format!(
                    "irq {irq} is Xen pirq {pirq} for GSI {gsi} (\"xen: --> pirq={pirq} -> irq={irq} (gsi={gsi})\" in {kmsg})"
                );
                if gsi == want {
                    Verdict::Passed(format!("{found}{route}"))
                } else {
                    Verdict::Failed(format!("{found}, expected GSI {want}{route}"))
                }
            }
            Some(XenPirq::Msi { pirq }) => Verdict::Ignored(format!(
                "irq {irq} is Xen MSI pirq {pirq} (in {kmsg}): no INTx GSI behind it"
            )),
            None => Verdict::Failed(format!(
                "irq {irq} is on chip xen-pirq, but {kmsg} has no \"xen: --> pirq=.. -> irq={irq}\" line: \
                 the kernel never said which GSI it mapped{route}"
            )),
        })
    }

    /// The second oracle under Xen: `IOCTL_PRIVCMD_PCIDEV_GET_GSI` asks
    /// xen-pciback for the GSI it recorded when it seized the device. In
    /// 6.12 it records one only in a PVH dom0 (pcistub_init_device); in a
    /// PV dom0 the ioctl returns the -1 it starts with, as EPERM.
    fn privcmd_gsi(&self, device: &Device, boot: &AttrRead) -> Result<Verdict, String> {
        let Expected::Gsi(want) = Expected::of(&self.plan, device) else {
            return Ok(Verdict::Ignored("no GSI expected".to_owned()));
        };
        let answer = self.ask_privcmd(device)?;
        let route = route(device);
        let file = self.device_dir(device)?.join("gsi");
        let file = if self.plan.attribute == Attribute::Present {
            format!("; {} {} at boot", file.display(), boot.describe())
        } else {
            String::new()
        };
        Ok(match (self.plan.xen_dom0, answer) {
            (Some(Dom0::Pvh), (at, Ok(gsi))) if gsi == want => match boot {
                AttrRead::Number(n) if self.plan.attribute == Attribute::Present && *n != gsi => {
                    Verdict::Failed(format!(
                        "{at} = {gsi}{route}, but {}",
                        file.trim_start_matches("; ")
                    ))
                }
                _ => Verdict::Passed(format!("{at} = {gsi}{route}{file}")),
            },
            (Some(Dom0::Pvh), (at, Ok(gsi))) => {
                Verdict::Failed(format!("{at} = {gsi}, expected {want}{route}{file}"))
            }
            (Some(Dom0::Pvh), (at, Err(err)))
                if err.is(libc::ENODEV) && self.setup_gsi_refused(device) =>
            {
                Verdict::Ignored(format!(
                    "{at} failed with {err}: nothing to answer, because the kernel log has \
                     \"{}: {SETUP_GSI_REFUSED}\": Xen refused PHYSDEVOP_setup_gsi from the PVH \
                     dom0 (ENOSYS, as Xen 4.17 does), so pciback could not take the device and \
                     recorded no GSI ({want}{route}{file})",
                    device.bdf
                ))
            }
            (Some(Dom0::Pvh), (at, Err(err))) => Verdict::Failed(format!(
                "{at} failed: {err}, expected {want}{route}: a PVH dom0's pciback records the GSI \
                 when it seizes the device{file}"
            )),
            (_, (at, Err(err))) if err.is(libc::EPERM) => Verdict::Passed(format!(
                "{at} failed with {err}, as in a PV dom0: pciback records a GSI only in a PVH \
                 dom0 and answers the -1 it starts with (GSI {want}{route}{file})"
            )),
            (_, (at, Err(err))) => Verdict::Failed(format!(
                "{at} failed with {err}; a PV dom0's pciback answers EPERM (it records no GSI), \
                 anything else means it does not own the device{file}"
            )),
            (_, (at, Ok(gsi))) => Verdict::Failed(format!(
                "{at} = {gsi}: a PV dom0's pciback was not expected to know the GSI ({want}{route}); \
                 6.12 records it only in a PVH dom0{file}"
            )),
        })
    }

    /// Whether pciback logged that initialising `device` failed with
    /// -ENOSYS: xen_pvh_setup_gsi() got it from Xen (a Xen older than the
    /// one that lets a PVH dom0 set up GSIs).
    fn setup_gsi_refused(&self, device: &Device) -> bool {
        let needle = format!("{}: {SETUP_GSI_REFUSED}", device.bdf);
        kernel_log::read_log(&self.system).is_ok_and(|log| log.contains(&needle))
    }

    /// The ioctl for `device`: what was asked, and the answer.
    fn ask_privcmd(&self, device: &Device) -> Result<(String, Result<u32, OsError>), String> {
        let sbdf = crate::system::sbdf(&device.bdf)
            .ok_or_else(|| format!("{} is not a dddd:bb:ss.f address", device.bdf))?;
        let privcmd = self.system.privcmd();
        let at = format!(
            "IOCTL_PRIVCMD_PCIDEV_GET_GSI on {} for {} (sbdf {sbdf:#x})",
            privcmd.display(),
            device.bdf
        );
        Ok((at, crate::system::pcidev_get_gsi(privcmd, sbdf)))
    }

    /// The toolstack's flow: `gsi-after-unbind` released the device from
    /// xen-pciback; binding it again (`/sys/bus/pci/drivers/pciback/bind`,
    /// as `xl pci-assignable-add` does) seizes and enables it again. The
    /// file must give the GSI, and in a PVH dom0 the ioctl the same.
    fn gsi_pciback_rebind(&self, device: &Device) -> Result<Verdict, String> {
        let dir = self.device_dir(device)?;
        let link = dir.join("driver");
        if let Some(driver) = bound_driver(&link)? {
            return Err(format!(
                "{} -> {driver}: still bound, so gsi-after-unbind did not release it",
                link.display()
            ));
        }
        let bind = self.system.pci_driver(PCIBACK).join("bind");
        match write_file(&bind, &device.bdf) {
            Ok(()) => {}
            Err(err)
                if err.is(libc::ENOSYS)
                    && self.plan.xen_dom0 == Some(Dom0::Pvh)
                    && self.setup_gsi_refused(device) =>
            {
                return Ok(Verdict::Ignored(format!(
                    "writing {} to {} failed with {err}: Xen refuses PHYSDEVOP_setup_gsi from \
                     the PVH dom0 (the kernel log has \"{}: {SETUP_GSI_REFUSED}\" from boot), \
                     so pciback cannot take the device",
                    device.bdf,
                    bind.display(),
                    device.bdf
                )))
            }
            Err(err) => {
                return Err(format!(
                    "writing {} to {} failed: {err}",
                    device.bdf,
                    bind.display()
                ))
            }
        }
        match bound_driver(&link)? {
            Some(driver) if driver == PCIBACK => {}
            other => {
                return Err(format!(
                    "after writing {} to {}, {} -> {}",
                    device.bdf,
                    bind.display(),
                    link.display(),
                    other.as_deref().unwrap_or("nothing")
                ))
            }
        }
        let path = dir.join("gsi");
        let read = AttrRead::read(&path);
        let at = format!(
            "{} {} after {PCIBACK} took it again ({})",
            path.display(),
            read.describe(),
            bind.display()
        );
        let route = route(device);
        if self.plan.attribute == Attribute::Absent {
            return Ok(absent_on_baseline(&self.plan, &at, &read));
        }
        // pciback enabled the device again: a device without a GSI answers
        // as the policy says for its case after enable.
        let expected = Expected::of(&self.plan, device);
        if let Some((why, key, answer)) = expected.without_gsi(&self.plan.policy) {
            return Ok(judge(&at, &read, None, &route, why, key, answer));
        }
        let Expected::Gsi(want) = expected else {
            unreachable!("without_gsi covers every other case")
        };
        match &read {
            AttrRead::Number(n) if *n == want => {}
            _ => {
                return Ok(Verdict::Failed(format!(
                    "{at}, expected {want}{route}: pciback enabled it again"
                )))
            }
        }
        if self.plan.xen_dom0 != Some(Dom0::Pvh) {
            return Ok(Verdict::Passed(format!("{at}{route}")));
        }
        Ok(match self.ask_privcmd(device)? {
            (ioctl, Ok(gsi)) if gsi == want => {
                Verdict::Passed(format!("{at}{route}; {ioctl} = {gsi}"))
            }
            (ioctl, answer) => Verdict::Failed(format!(
                "{at}{route}, but {ioctl} {}",
                match answer {
                    Ok(gsi) => format!("= {gsi}"),
                    Err(err) => format!("failed: {err}"),
                }
            )),
        })
    }

    fn irq_vs_gsi(&self, device: &Device) -> Result<Verdict, String> {
        let Expected::Gsi(gsi) = Expected::of(&self.plan, device) else {
            return Ok(Verdict::Ignored("no GSI expected".to_owned()));
        };
        let irq = self.irq_of(device)?;
        let found = format!(
            "{}/irq = {irq}, GSI {gsi}{}",
            self.system.device(&device.bdf).display(),
            route(device)
        );
        if device.msi {
            return self.irq_is_msi(device, irq, gsi, &found);
        }
        let Some(same) = self.plan.irq_is_gsi else {
            return Ok(Verdict::Ignored(
                "nothing asserted about irq versus GSI".to_owned(),
            ));
        };
        let chip = self.chip_of(irq)?;
        if chip_kind(&chip) == Chip::Msi {
            return Ok(Verdict::Ignored(msi_reason(irq, &chip)));
        }
        let topology = &self.plan.topology;
        Ok(match (same, irq == gsi) {
            (true, true) => Verdict::Passed(format!("{found}: irq == GSI as {topology} promises")),
            (false, false) => {
                Verdict::Passed(format!("{found}: irq != GSI as {topology} promises"))
            }
            (true, false) => Verdict::Failed(format!("{found}: expected irq == GSI on {topology}")),
            (false, true) => Verdict::Failed(format!(
                "{found}: expected irq != GSI on {topology} (dynamic IOAPIC irqdomain)"
            )),
        })
    }

    /// A device the topology puts on plain MSI: its `irq` must be one of
    /// its own MSIs (`msi_irqs/<irq>` reads `msi`, in every mode: native,
    /// PVH, and a PV dom0's MSI pirqs) and differ from the GSI, or the
    /// device cannot tell a `gsi` that reports the irq from a right one.
    fn irq_is_msi(
        &self,
        device: &Device,
        irq: u32,
        gsi: u32,
        found: &str,
    ) -> Result<Verdict, String> {
        let path = self
            .device_dir(device)?
            .join("msi_irqs")
            .join(irq.to_string());
        let at = path.display();
        let topology = &self.plan.topology;
        Ok(match read_text(&path) {
            Ok(kind) if kind == "msi" && irq != gsi => Verdict::Passed(format!(
                "{found}: irq is its MSI ({at} reads msi), not the GSI, as {topology} promises"
            )),
            Ok(kind) if kind == "msi" => Verdict::Failed(format!(
                "{found}: irq is its MSI ({at}), but its number equals the GSI: this device \
                 cannot tell the GSI from the irq on {topology}"
            )),
            Ok(other) => Verdict::Failed(format!(
                "{found}: {at} reads {other:?}, expected msi: {topology} promises the driver \
                 switches the device to plain MSI"
            )),
            Err(err) => Verdict::Failed(format!(
                "{found}: irq is not among its MSIs ({err}): {topology} promises the driver \
                 switches the device to plain MSI (does it bind? CONFIG_PCI_MSI?)"
            )),
        })
    }

    fn irq_of(&self, device: &Device) -> Result<u32, String> {
        let path = self.device_dir(device)?.join("irq");
        match read_number(&path)? {
            0 => Err(format!(
                "{} = 0: the kernel assigned no IRQ",
                path.display()
            )),
            irq => Ok(irq),
        }
    }

    fn chip_of(&self, irq: u32) -> Result<String, String> {
        read_text(&self.system.irq(irq).join("chip_name"))
    }
}

/// Judges a read in a state whose answer the policy decides: `key =
/// answer` in `[policy]`; `want` is the device's GSI (`None`: it has none,
/// so a number is never right); `why` says what state the device is in.
fn judge(
    at: &str,
    read: &AttrRead,
    want: Option<u32>,
    route: &str,
    why: &str,
    key: &str,
    answer: Answer,
) -> Verdict {
    let policy = format!("policy {key} = {}", answer.describe());
    let later = match want {
        Some(gsi) => format!(" ({gsi}{route} once routed)"),
        None => String::new(),
    };
    match (answer, want, read) {
        (Answer::Gsi, Some(want), AttrRead::Number(n)) if *n == want => {
            Verdict::Passed(format!("{at}{route}: {why}; {policy}"))
        }
        (Answer::Gsi, Some(want), AttrRead::Number(0)) => Verdict::Failed(format!(
            "{at}, expected {want}{route}: {why}; {policy}; 0 reads as \"no GSI\""
        )),
        (Answer::Gsi, Some(want), _) => {
            Verdict::Failed(format!("{at}, expected {want}{route}: {why}; {policy}"))
        }
        (Answer::Gsi, None, _) => Verdict::Failed(format!(
            "{at}: {why}, and {policy} cannot hold for a device without a GSI (fix [policy])"
        )),
        (Answer::Absent, _, AttrRead::Absent) => {
            Verdict::Passed(format!("{at}: {why}; {policy}{later}"))
        }
        (_, _, AttrRead::Error(err)) if errno_of(answer).is_some_and(|e| err.is(e)) => {
            Verdict::Passed(format!("{at}: {why}; {policy}{later}"))
        }
        (_, _, AttrRead::Number(n)) => Verdict::Failed(format!(
            "{at}, expected {}: {why}, so no number is right ({n} would mean the read \
             decided the route itself or kept a value from before); {policy}{later}",
            answer.describe()
        )),
        (_, _, _) => Verdict::Failed(format!(
            "{at}, expected {}: {why}; {policy}{later}",
            answer.describe()
        )),
    }
}

/// The errno an error answer means; `None` for the others.
fn errno_of(answer: Answer) -> Option<i32> {
    match answer {
        Answer::Gsi | Answer::Absent => None,
        Answer::Eagain => Some(libc::EAGAIN),
        Answer::Enodata => Some(libc::ENODATA),
        Answer::Enxio => Some(libc::ENXIO),
    }
}

/// The name of the driver `link` (a device's `driver` symlink) points to,
/// or `None` when no driver is bound.
fn bound_driver(link: &Path) -> Result<Option<String>, String> {
    match fs::read_link(link) {
        Ok(target) => Ok(Some(
            target
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default(),
        )),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(format!(
            "reading the link {} failed: {}",
            link.display(),
            OsError::from_io(&err)
        )),
    }
}

/// One write(2) of `text` to an existing sysfs file, as `echo -n` does.
fn write_file(path: &Path, text: &str) -> Result<(), OsError> {
    OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .map_err(|err| OsError::from_io(&err))
}

/// [`write_file`], its error a trial message naming what was written where.
fn write_said(path: &Path, text: &str) -> Result<(), String> {
    write_file(path, text)
        .map_err(|err| format!("writing {text} to {} failed: {err}", path.display()))
}

/// Baseline: the attribute must not exist, whatever the device.
fn absent_on_baseline(plan: &Plan, at: &str, read: &AttrRead) -> Verdict {
    if *read == AttrRead::Absent {
        Verdict::Passed(format!("{at}: {} has no gsi attribute", plan.revision))
    } else {
        Verdict::Failed(format!(
            "{at}, expected the file to be absent ({} adds no gsi attribute)",
            plan.revision
        ))
    }
}

fn route(device: &Device) -> String {
    if device.route.is_empty() {
        String::new()
    } else {
        format!(" ({})", device.route)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chip {
    IoApic,
    Msi,
    Pic,
    /// A Xen PV dom0's physical IRQ (an event channel bound to a pirq).
    XenPirq,
    Other,
}

/// chip_name in sysfs: `IO-APIC` (or `IR-IO-APIC` with interrupt
/// remapping), `XT-PIC`, and `PCI-MSI`/`PCI-MSIX-<bdf>`-like names for MSI.
fn chip_kind(chip: &str) -> Chip {
    if chip == "IO-APIC" || chip == "IR-IO-APIC" {
        Chip::IoApic
    } else if chip.contains("MSI") {
        Chip::Msi
    } else if chip == "XT-PIC" {
        Chip::Pic
    } else if chip == "xen-pirq" {
        Chip::XenPirq
    } else {
        Chip::Other
    }
}

fn msi_reason(irq: u32, chip: &str) -> String {
    format!("irq {irq} is on chip {chip} (MSI/MSI-X): no INTx GSI behind it")
}

/// The outermost irqdomain in a /sys/kernel/debug/irq/irqs/N file: the
/// first `domain:` line (parents follow, indented, in kernel/irq/debugfs.c).
fn top_domain(debugfs: &str) -> Option<&str> {
    debugfs
        .lines()
        .find_map(|line| line.trim_start().strip_prefix("domain:"))
        .map(str::trim)
}

mod concurrent;

#[cfg(test)]
mod tests;
