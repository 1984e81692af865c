//! Synthetic ACPI tables: the topology's `[acpi]` data written as ASL,
//! compiled with `iasl`, and packed into the uncompressed cpio the kernel
//! reads `kernel/firmware/acpi/*.aml` from at the very start of the
//! initramfs (CONFIG_ACPI_TABLE_UPGRADE). Each table carries QEMU's
//! signature and OEM IDs with a higher OEM revision, which is what makes
//! the kernel take it instead of QEMU's.
//!
//! The DSDT is written whole rather than patched from a dump: microvm's
//! (QEMU 7.2, `pcie=on,acpi=on`) is 3 KB - the fw_cfg device, COM1, the
//! RTC, the GED and power button, the GPEX host bridge and `\_S5` - and
//! everything but the host bridge's `_PRT` and link devices is the same
//! for every topology, so a template here is shorter and easier to review
//! than a decompiled dump with edits. It was checked against QEMU's own
//! table (decompiled from `/sys/firmware/acpi/tables/DSDT` of a boot): the
//! same devices, resources and methods. The MADT is written in iasl's
//! data-table language from the IOAPICs and overrides of the topology.
//!
//! Compiled tables are cached under `target/gsi/acpi/`, named by the hash
//! of their source, written to a temporary name and renamed.

use crate::config::topology::{AcpiToml, Machine, Topology};
use crate::pipeline::cpio::Archive;
use crate::sys::process::Cmd;
use anyhow::{bail, Context, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// QEMU's tables carry OEM revision 1; the kernel upgrades a table only
/// to a higher one.
pub const OEM_REVISION: u32 = 0x100;

/// Where the kernel looks for upgrades inside the first cpio.
const FIRMWARE_DIR: &str = "kernel/firmware/acpi";

/// One generated table: its signature (as the kernel's log names it) and
/// its ASL source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub signature: &'static str,
    pub asl: String,
}

/// The sources of every table `topology` replaces; empty without `[acpi]`.
pub fn sources(topology: &Topology, cpus: u32) -> Vec<Source> {
    let Some(acpi) = &topology.spec.acpi else {
        return Vec::new();
    };
    let mut all = Vec::new();
    if acpi.has_dsdt(topology.spec.machine) {
        all.push(Source {
            signature: "DSDT",
            asl: dsdt(acpi, &topology.name),
        });
    }
    if acpi.has_madt() {
        all.push(Source {
            signature: "APIC",
            asl: madt(
                acpi,
                topology.spec.machine,
                &topology.spec.machine_options,
                cpus,
            ),
        });
    }
    all
}

/// The signatures the kernel must log `ACPI: Table Upgrade: override
/// [SIG-...]` for, in order.
pub fn signatures(topology: &Topology) -> Vec<&'static str> {
    sources(topology, 1).iter().map(|s| s.signature).collect()
}

/// The signatures of `topology`'s tables whose upgrade line is missing
/// from the console `log`: a kernel that ignored the cpio (no
/// CONFIG_ACPI_TABLE_UPGRADE, a table it refused) boots QEMU's own
/// tables, and its verdict would be about a machine the file does not
/// describe.
pub fn missing_upgrades(topology: &Topology, log: &str) -> Vec<&'static str> {
    signatures(topology)
        .into_iter()
        .filter(|sig| !log.contains(&format!("ACPI: Table Upgrade: override [{sig}-")))
        .collect()
}

/// The error a boot with a missing upgrade ends with.
pub fn missing_message(topology: &Topology, missing: &[&str]) -> String {
    format!(
        "{}: the kernel did not take the synthetic {} (no \"ACPI: Table Upgrade: override [{}-...]\" \
         in the console log): the kernel needs CONFIG_ACPI_TABLE_UPGRADE=y \
         (configs/kernel/boot.config), and each table QEMU's signature and OEM table ID with a \
         higher OEM revision",
        crate::config::display(&topology.path),
        missing.join(" and "),
        missing[0]
    )
}

fn pin_letter(pin: u8) -> char {
    (b'A' + pin - 1) as char
}

/// One extended interrupt descriptor (a GSI) with an optional name.
fn interrupt(gsi: u32, name: &str) -> String {
    format!("Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive, , , {name}) {{ {gsi:#x} }}")
}

/// A `PNP0C0F` link: `_PRS` fixed, `_CRS` whatever `_SRS` last set (or
/// the file's `current` at boot), so a `_CRS` outside `_PRS` is possible.
fn link_device(out: &mut String, uid: usize, name: &str, possible: &[u32], current: u32) {
    let prs: Vec<String> = possible.iter().map(|g| format!("{g:#x}")).collect();
    let _ = write!(
        out,
        r#"
            Device ({name})
            {{
                Name (_HID, EisaId ("PNP0C0F"))
                Name (_UID, {uid})
                Name (_PRS, ResourceTemplate ()
                {{
                    Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive, , , ) {{ {prs} }}
                }})
                Name (CURR, {current:#x})
                Method (_CRS, 0, Serialized)
                {{
                    Name (RTPL, ResourceTemplate ()
                    {{
                        {irq}
                    }})
                    CreateDWordField (RTPL, IRQX._INT, VALU)
                    VALU = CURR
                    Return (RTPL)
                }}
                Method (_SRS, 1, Serialized)
                {{
                    // An extended interrupt descriptor: its first GSI at byte 5.
                    CreateDWordField (Arg0, 0x05, NEWV)
                    CURR = NEWV
                }}
                Method (_STA, 0, NotSerialized)
                {{
                    Return (0x0B)
                }}
            }}
"#,
        prs = prs.join(", "),
        irq = interrupt(0, "IRQX"),
    );
}

/// microvm's DSDT with the host bridge's `_PRT` and links from `acpi`.
pub fn dsdt(acpi: &AcpiToml, topology: &str) -> String {
    let mut prt = String::new();
    for r in &acpi.routes {
        let (source, index) = match (&r.link, r.gsi) {
            (Some(link), _) => (link.clone(), 0),
            (None, gsi) => ("Zero".to_owned(), gsi.unwrap_or(0)),
        };
        let _ = writeln!(
            prt,
            "                Package () {{ {:#010x}, {}, {source}, {index:#x} }}, // slot {:#04x} INT{}",
            (u32::from(r.slot) << 16) | 0xffff,
            r.pin - 1,
            r.slot,
            pin_letter(r.pin),
        );
    }
    for u in &acpi.unrouted {
        let _ = writeln!(
            prt,
            "                // slot {:#04x} INT{}: no entry (the firmware forgot it)",
            u.slot,
            pin_letter(u.pin)
        );
    }
    let mut links = String::new();
    for (uid, link) in acpi.links.iter().enumerate() {
        let current = link.current.unwrap_or(link.possible[0]);
        link_device(&mut links, uid, &link.name, &link.possible, current);
    }
    format!(
        r#"/*
 * Synthetic DSDT of topology {topology} (gsi-workbench): QEMU 7.2's microvm
 * machine (pcie=on, acpi=on) with the host bridge's _PRT and interrupt
 * links taken from the topology file's [acpi] data.
 * Stands for: {stands_for}
 */
DefinitionBlock ("", "DSDT", 2, "BOCHS ", "BXPC    ", {OEM_REVISION:#010x})
{{
    Scope (_SB)
    {{
        Device (FWCF)
        {{
            Name (_HID, "QEMU0002")
            Name (_STA, 0x0B)
            Name (_CRS, ResourceTemplate ()
            {{
                IO (Decode16, 0x0510, 0x0510, 0x01, 0x0C, )
            }})
        }}

        Device (COM1)
        {{
            Name (_HID, EisaId ("PNP0501"))
            Name (_UID, One)
            Name (_STA, 0x0F)
            Name (_CRS, ResourceTemplate ()
            {{
                IO (Decode16, 0x03F8, 0x03F8, 0x00, 0x08, )
                IRQNoFlags () {{ 4 }}
            }})
        }}

        Device (RTC)
        {{
            Name (_HID, EisaId ("PNP0B00"))
            Name (_CRS, ResourceTemplate ()
            {{
                IO (Decode16, 0x0070, 0x0070, 0x01, 0x08, )
                IRQNoFlags () {{ 8 }}
            }})
        }}

        Device (GED)
        {{
            Name (_HID, "ACPI0013")
            Name (_UID, "GED")
            Name (_CRS, ResourceTemplate ()
            {{
                Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, , , ) {{ 9 }}
            }})
            OperationRegion (EREG, SystemMemory, 0xFEA00000, 0x04)
            Field (EREG, DWordAcc, NoLock, WriteAsZeros)
            {{
                ESEL, 32
            }}
            Method (_EVT, 1, Serialized)
            {{
                Local0 = ESEL
                If (((Local0 & 0x02) == 0x02))
                {{
                    Notify (PWRB, 0x80)
                }}
            }}
        }}

        Device (PWRB)
        {{
            Name (_HID, "PNP0C0C")
            Name (_UID, Zero)
        }}

        Device (PCI0)
        {{
            Name (_HID, "PNP0A08")
            Name (_CID, "PNP0A03")
            Name (_SEG, Zero)
            Name (_BBN, Zero)
            Name (_UID, Zero)
            Name (_STR, Unicode ("PCIe 0 Device"))
            Name (_CCA, One)
            Name (_PRT, Package ()
            {{
{prt}            }})
{links}
            Method (_CBA, 0, NotSerialized)
            {{
                Return (0xE0000000)
            }}

            Name (_CRS, ResourceTemplate ()
            {{
                WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,
                    0x0000, 0x0000, 0x00FF, 0x0000, 0x0100, , , )
                DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,
                    0x00000000, 0xC0000000, 0xDFFFFFFF, 0x00000000, 0x20000000, , , , AddressRangeMemory, TypeStatic)
                QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,
                    0x0000000000000000, 0x000000C000000000, 0x000000FFFFFFFFFF, 0x0000000000000000,
                    0x0000004000000000, , , , AddressRangeMemory, TypeStatic)
            }})
            Name (SUPP, Zero)
            Name (CTRL, Zero)
            Method (_OSC, 4, NotSerialized)
            {{
                CreateDWordField (Arg3, Zero, CDW1)
                If ((Arg0 == ToUUID ("33db4d5b-1ff7-401c-9657-7441c03dd766")))
                {{
                    CreateDWordField (Arg3, 0x04, CDW2)
                    CreateDWordField (Arg3, 0x08, CDW3)
                    SUPP = CDW2
                    CTRL = CDW3
                    CTRL &= 0x1F
                    If ((Arg1 != One))
                    {{
                        CDW1 |= 0x08
                    }}
                    If ((CDW3 != CTRL))
                    {{
                        CDW1 |= 0x10
                    }}
                    CDW3 = CTRL
                    Return (Arg3)
                }}
                Else
                {{
                    CDW1 |= 0x04
                    Return (Arg3)
                }}
            }}

            Device (RES0)
            {{
                Name (_HID, "PNP0C02")
                Name (_CRS, ResourceTemplate ()
                {{
                    QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,
                        0x0000000000000000, 0x00000000E0000000, 0x00000000EFFFFFFF, 0x0000000000000000,
                        0x0000000010000000, , , , AddressRangeMemory, TypeStatic)
                }})
            }}
        }}
    }}

    Name (\_S5, Package (0x04) {{ 0x05, Zero, Zero, Zero }})
}}
"#,
        stands_for = acpi.stands_for.replace("*/", "* /"),
    )
}

/// The MADT in iasl's data-table language: one local APIC per CPU, the
/// IOAPICs, the overrides, and the LINT1 NMI QEMU declares.
pub fn madt(acpi: &AcpiToml, machine: Machine, machine_options: &str, cpus: u32) -> String {
    let mut out = format!(
        "Signature : \"APIC\"\nTable Length : 00000000\nRevision : 01\nChecksum : 00\n\
         Oem ID : \"BOCHS \"\nOem Table ID : \"BXPC    \"\nOem Revision : {OEM_REVISION:08X}\n\
         Asl Compiler ID : \"INTL\"\nAsl Compiler Revision : 00000000\n\n\
         Local Apic Address : FEE00000\nFlags (decoded below) : 00000001\n\
         PC-AT Compatibility : 1\n"
    );
    for cpu in 0..cpus {
        let _ = write!(
            out,
            "\nSubtable Type : 00\nLength : 08\nProcessor ID : {cpu:02X}\nLocal Apic ID : {cpu:02X}\n\
             Flags (decoded below) : 00000001\nProcessor Enabled : 1\nRuntime Online Capable : 0\n"
        );
    }
    for a in acpi.ioapics(machine, machine_options) {
        let _ = write!(
            out,
            "\nSubtable Type : 01\nLength : 0C\nI/O Apic ID : {:02X}\nReserved : 00\n\
             Address : {:08X}\nInterrupt : {:08X}\n",
            a.id, a.address, a.gsi_base
        );
    }
    for o in &acpi.overrides {
        // MPS INTI flags: polarity bits 0-1 (1 high, 3 low), trigger
        // bits 2-3 (1 edge, 3 level); 0 conforms to the bus.
        let bits = |v: &str, one: &str| match v {
            "conforms" => 0,
            v if v == one => 1,
            _ => 3,
        };
        let polarity = bits(&o.polarity, "high");
        let trigger = bits(&o.trigger, "edge");
        let _ = write!(
            out,
            "\nSubtable Type : 02\nLength : 0A\nBus : 00\nSource : {:02X}\nInterrupt : {:08X}\n\
             Flags (decoded below) : {:04X}\nPolarity : {polarity}\nTrigger Mode : {trigger}\n",
            o.irq,
            o.gsi,
            polarity | (trigger << 2)
        );
    }
    out.push_str(
        "\nSubtable Type : 04\nLength : 06\nProcessor ID : FF\nFlags (decoded below) : 0000\n\
         Polarity : 0\nTrigger Mode : 0\nInterrupt Input LINT : 01\n",
    );
    out
}

/// The directory compiled tables are cached in.
fn cache_dir() -> PathBuf {
    crate::work_dir().join("acpi")
}

/// Compiles `source` with iasl, or takes the cached result of an earlier
/// compile of the same source. Errors quote iasl and name the topology
/// file and the table.
pub fn compile(topology: &Topology, source: &Source) -> Result<Vec<u8>> {
    compile_in(&cache_dir(), topology, source)
}

fn compile_in(dir: &Path, topology: &Topology, source: &Source) -> Result<Vec<u8>> {
    let hash = crate::sha256_hex(source.asl.as_bytes())[..16].to_string();
    let cached = dir.join(format!("{}-{hash}.aml", source.signature.to_lowercase()));
    if let Ok(aml) = std::fs::read(&cached) {
        if is_table(&aml, source.signature) {
            return Ok(aml);
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let scratch = tempfile::Builder::new()
        .prefix("iasl-")
        .tempdir_in(dir)
        .with_context(|| format!("creating a scratch directory in {}", dir.display()))?;
    let asl = scratch.path().join("table.asl");
    std::fs::write(&asl, &source.asl)?;
    let output = Cmd::new("iasl")
        .args(["-p", "table", "-vs", "table.asl"])
        .dir(scratch.path())
        .stderr_to_stdout()
        .output()
        .context("running iasl (apt-get install acpica-tools)")?;
    let aml = std::fs::read(scratch.path().join("table.aml")).ok();
    let file = crate::config::display(&topology.path);
    match aml {
        Some(aml) if output.status.success() && is_table(&aml, source.signature) => {
            crate::write_atomic(&cached, &aml)?;
            Ok(aml)
        }
        _ => {
            // Kept for the line numbers iasl names.
            let kept = dir.join(format!(
                "failed-{}-{hash}.asl",
                source.signature.to_lowercase()
            ));
            let _ = std::fs::write(&kept, &source.asl);
            bail!(
                "{file}: iasl could not compile the synthetic {} (source kept as {}):\n{}\
                 fix the [acpi] data of the topology",
                source.signature,
                kept.display(),
                String::from_utf8_lossy(&output.stdout)
            )
        }
    }
}

/// Whether `aml` starts with a table header of `signature` whose length
/// is the file's.
fn is_table(aml: &[u8], signature: &str) -> bool {
    aml.len() >= 36
        && &aml[..4] == signature.as_bytes()
        && u32::from_le_bytes([aml[4], aml[5], aml[6], aml[7]]) as usize == aml.len()
}

/// The uncompressed cpio that goes first in the initramfs: every table
/// `topology` replaces, under `kernel/firmware/acpi/`. Empty without
/// `[acpi]`.
pub fn tables_cpio(topology: &Topology) -> Result<Vec<u8>> {
    // The MADT needs one local APIC per vCPU QEMU gives the guest.
    let sources = sources(topology, topology.spec.smp);
    if sources.is_empty() {
        return Ok(Vec::new());
    }
    let mut archive = Archive::new();
    archive.dir("kernel");
    archive.dir("kernel/firmware");
    archive.dir(FIRMWARE_DIR);
    for source in &sources {
        let aml = compile(topology, source)?;
        archive.file(
            &format!("{FIRMWARE_DIR}/{}.aml", source.signature.to_lowercase()),
            0o644,
            &aml,
        );
    }
    Ok(archive.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topology(text: &str) -> Topology {
        crate::config::topology::tests::parse(text).unwrap()
    }

    const AMD: &str = r#"
description = "t"
machine = "microvm"
machine_options = "pcie=on,ioapic2=on,acpi=on"
[acpi]
stands_for = "an AMD board"
[[acpi.link]]
name = "LNA0"
possible = [30]
current = 31
[[acpi.route]]
slot = 1
pin = 1
link = "LNA0"
[[acpi.route]]
slot = 2
pin = 1
gsi = 40
[[acpi.override]]
irq = 11
gsi = 21
trigger = "level"
polarity = "low"
[[device]]
name = "rng"
qemu = "virtio-rng-pci,addr=0x1"
bdf = "0000:00:01.0"
pin = 1
driver = "virtio-pci"
gsi = 30
"#;

    fn have_iasl() -> bool {
        crate::sys::tools::find_on_path("iasl").is_some()
    }

    #[test]
    fn real_iasl_compiles_both_tables_and_the_cache_is_reused() {
        assert!(have_iasl(), "iasl is missing: apt-get install acpica-tools");
        let t = topology(AMD);
        let dir = tempfile::tempdir().unwrap();
        for source in sources(&t, 2) {
            let aml = compile_in(dir.path(), &t, &source).unwrap();
            assert!(is_table(&aml, source.signature));
            // OEM revision at offset 24, above QEMU's 1.
            assert_eq!(
                u32::from_le_bytes(aml[24..28].try_into().unwrap()),
                OEM_REVISION
            );
            // A damaged cache entry is compiled again.
            let cached: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".aml"))
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .unwrap()
                        .to_string_lossy()
                        .starts_with(&source.signature.to_lowercase())
                })
                .collect();
            assert_eq!(cached.len(), 1, "{cached:?}");
            std::fs::write(&cached[0], &aml[..10]).unwrap();
            assert_eq!(compile_in(dir.path(), &t, &source).unwrap(), aml);
        }
        let madt = sources(&t, 2).pop().unwrap();
        assert_eq!(madt.signature, "APIC");
        // Two CPUs, two IOAPICs, one override, one NMI: 44 + 2*8 + 2*12 + 10 + 6.
        let aml = compile_in(dir.path(), &t, &madt).unwrap();
        assert_eq!(aml.len(), 44 + 16 + 24 + 10 + 6);
        // The override: IRQ 11 -> GSI 21, level, active low (flags 0xf).
        let iso = aml.windows(2).position(|w| w == [2, 10]).unwrap();
        assert_eq!(aml[iso + 3], 11);
        assert_eq!(&aml[iso + 4..iso + 8], &21u32.to_le_bytes());
        assert_eq!(aml[iso + 8], 0x0f);
    }

    #[test]
    fn an_iasl_error_is_quoted_with_the_file_and_the_table() {
        assert!(have_iasl(), "iasl is missing: apt-get install acpica-tools");
        let t = topology(AMD);
        let dir = tempfile::tempdir().unwrap();
        let broken = Source {
            signature: "DSDT",
            asl: dsdt(t.spec.acpi.as_ref().unwrap(), "t").replace("Device (LNA0)", "Device (LNA0"),
        };
        let err = format!("{:#}", compile_in(dir.path(), &t, &broken).unwrap_err());
        assert!(err.contains("t.toml") && err.contains("DSDT"), "{err}");
        assert!(err.contains("Error"), "{err}");
        // Nothing half-written: only the kept source is left.
        let left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left.len(), 1, "{left:?}");
        assert!(left[0].starts_with("failed-dsdt-"), "{left:?}");
    }

    #[test]
    fn the_dsdt_holds_the_prt_and_links_of_the_file() {
        let t = topology(AMD);
        let asl = dsdt(t.spec.acpi.as_ref().unwrap(), "t");
        assert!(asl.contains("0x0001ffff, 0, LNA0, 0x0"), "{asl}");
        assert!(asl.contains("0x0002ffff, 0, Zero, 0x28"), "{asl}");
        assert!(asl.contains("Name (CURR, 0x1f)"), "{asl}");
        assert!(asl.contains("Stands for: an AMD board"), "{asl}");
    }

    #[test]
    fn a_missing_upgrade_line_is_named() {
        let t = topology(AMD);
        let log = "[ 0.0] ACPI: Table Upgrade: override [DSDT-BOCHS -BXPC    ]\n";
        assert_eq!(missing_upgrades(&t, log), ["APIC"]);
        let msg = missing_message(&t, &missing_upgrades(&t, log));
        assert!(msg.contains("t.toml") && msg.contains("APIC"), "{msg}");
        let both = format!("{log}[ 0.0] ACPI: Table Upgrade: override [APIC-BOCHS -BXPC    ]\n");
        assert!(missing_upgrades(&t, &both).is_empty());
        let plain = topology(crate::config::topology::tests::GOOD);
        assert!(missing_upgrades(&plain, "").is_empty());
    }

    #[test]
    fn the_tables_cpio_is_read_back_by_real_cpio() {
        assert!(have_iasl(), "iasl is missing: apt-get install acpica-tools");
        let t = topology(AMD);
        let bytes = tables_cpio(&t).unwrap();
        let listing = Cmd::new("cpio")
            .args(["-it", "--quiet"])
            .stdin_bytes(bytes)
            .read()
            .unwrap();
        assert!(
            listing.contains("kernel/firmware/acpi/dsdt.aml")
                && listing.contains("kernel/firmware/acpi/apic.aml"),
            "{listing}"
        );
    }
}
