//! The IOAPICs as the kernel announced them at boot.
//!
//! `/sys/kernel/irq/N/hwirq` is a pin inside one IOAPIC, so turning it into a
//! GSI needs that IOAPIC's GSI base. The kernel prints it once, from
//! `mp_register_ioapic()` (arch/x86/kernel/apic/io_apic.c):
//! `IOAPIC[%d]: apic_id %d, version %d, address 0x%x, GSI %d-%d`, and names
//! the IOAPIC's irqdomain `IO-APIC-<apic_id>` (via
//! `irq_domain_alloc_named_id_fwnode("IO-APIC", mpc_ioapic_id(idx))`), so the
//! domain maps to a line by *apic_id*, not by the index in brackets.

use std::fs::OpenOptions;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;

use crate::system::{OsError, System};

/// Stop reading a log that never runs dry.
const MAX_LOG: usize = 16 << 20;

/// One `IOAPIC[..]` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ioapic {
    pub index: u32,
    pub apic_id: u32,
    pub gsi_base: u32,
    pub gsi_end: u32,
}

impl Ioapic {
    /// The irqdomain name the kernel gives this IOAPIC.
    pub fn domain(&self) -> String {
        format!("IO-APIC-{}", self.apic_id)
    }
}

/// Every IOAPIC in the log, by index; a later line for an index wins.
pub fn parse_ioapics(log: &str) -> Vec<Ioapic> {
    let mut found: Vec<Ioapic> = Vec::new();
    for ioapic in log.lines().filter_map(parse_line) {
        found.retain(|known| known.index != ioapic.index);
        found.push(ioapic);
    }
    found.sort_by_key(|ioapic| ioapic.index);
    found
}

fn parse_line(line: &str) -> Option<Ioapic> {
    let rest = &line[line.find("IOAPIC[")? + "IOAPIC[".len()..];
    let (index, rest) = rest.split_once("]: apic_id ")?;
    let (apic_id, rest) = rest.split_once(',')?;
    let (_, gsis) = rest.split_once(", GSI ")?;
    let (base, end) = gsis.trim().split_once('-')?;
    Some(Ioapic {
        index: index.parse().ok()?,
        apic_id: apic_id.trim().parse().ok()?,
        gsi_base: base.parse().ok()?,
        gsi_end: end.parse().ok()?,
    })
}

/// What a Xen PV dom0's kernel logged about an IRQ it bound to a pirq
/// (arch/x86/pci/xen.c, KERN_DEBUG).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XenPirq {
    /// `xen: --> pirq=P -> irq=I (gsi=G)`: a GSI's pirq.
    Gsi { pirq: u32, gsi: u32 },
    /// `xen: msi --> pirq=P --> irq=I`: an MSI's.
    Msi { pirq: u32 },
}

/// The pirq line for `irq` in `log`; the last one wins.
pub fn xen_pirq(log: &str, irq: u32) -> Option<XenPirq> {
    let mut found = None;
    for line in log.lines() {
        if let Some(rest) = after(line, "xen: --> pirq=") {
            // "20 -> irq=20 (gsi=20)"
            let (pirq, rest) = rest.split_once(" -> irq=")?;
            let (this, rest) = rest.split_once(" (gsi=")?;
            let gsi = rest.strip_suffix(')').unwrap_or(rest);
            if this.trim().parse() == Ok(irq) {
                found = Some(XenPirq::Gsi {
                    pirq: pirq.trim().parse().ok()?,
                    gsi: gsi.trim().parse().ok()?,
                });
            }
        } else if let Some(rest) = after(line, "xen: msi --> pirq=") {
            let (pirq, this) = rest.split_once(" --> irq=")?;
            if this.trim().parse() == Ok(irq) {
                found = Some(XenPirq::Msi {
                    pirq: pirq.trim().parse().ok()?,
                });
            }
        }
    }
    found
}

fn after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    line.find(marker).map(|at| &line[at + marker.len()..])
}

/// The kernel log as text. `/dev/kmsg` yields one record per read and
/// `EAGAIN` when drained (opened non-blocking); a plain file yields EOF.
/// Without `/dev/kmsg` (no devtmpfs) the guest falls back to `klogctl(2)`.
pub fn read_log(system: &System) -> Result<String, String> {
    let path = system.kmsg();
    let from_file = read_records(path);
    match from_file {
        Ok(text) => Ok(text),
        Err(err) if system.kmsg_is_guest() => read_klogctl().map_err(|klog| {
            format!(
                "reading {} failed: {}; klogctl(SYSLOG_ACTION_READ_ALL) failed: {}",
                path.display(),
                OsError::from_io(&err),
                OsError::from_io(&klog)
            )
        }),
        Err(err) => Err(format!(
            "reading {} failed: {}",
            path.display(),
            OsError::from_io(&err)
        )),
    }
}

fn read_records(path: &std::path::Path) -> io::Result<String> {
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let mut log = Vec::new();
    // A kmsg record is at most about 1 KiB of text plus its dictionary.
    let mut record = vec![0u8; 16 * 1024];
    while log.len() < MAX_LOG {
        match file.read(&mut record) {
            Ok(0) => break,
            Ok(n) => log.extend_from_slice(&record[..n]),
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
            // EPIPE: records were overwritten while reading; go on.
            Err(err) if err.raw_os_error() == Some(libc::EPIPE) => continue,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
    }
    Ok(String::from_utf8_lossy(&log).into_owned())
}

fn read_klogctl() -> io::Result<String> {
    const SYSLOG_ACTION_READ_ALL: libc::c_int = 3;
    const SYSLOG_ACTION_SIZE_BUFFER: libc::c_int = 10;
    // SAFETY: SIZE_BUFFER ignores the buffer arguments.
    let size = unsafe { libc::klogctl(SYSLOG_ACTION_SIZE_BUFFER, std::ptr::null_mut(), 0) };
    if size < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut buf = vec![0u8; size as usize];
    // SAFETY: buf is valid for `size` bytes.
    let read = unsafe { libc::klogctl(SYSLOG_ACTION_READ_ALL, buf.as_mut_ptr().cast(), size) };
    if read < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(read as usize);
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KMSG: &str = "\
6,1,0,-;Linux version 6.12.0
6,40,1000,-;IOAPIC[0]: apic_id 0, version 32, address 0xfec00000, GSI 0-23
6,41,1001,-;IOAPIC[1]: apic_id 2, version 32, address 0xfec10000, GSI 24-47
4,42,1002,-;IOAPIC[1]: Invalid apic_id 9, trying 2
";

    #[test]
    fn parses_kmsg_records() {
        assert_eq!(
            parse_ioapics(KMSG),
            vec![
                Ioapic {
                    index: 0,
                    apic_id: 0,
                    gsi_base: 0,
                    gsi_end: 23
                },
                Ioapic {
                    index: 1,
                    apic_id: 2,
                    gsi_base: 24,
                    gsi_end: 47
                },
            ]
        );
        assert_eq!(parse_ioapics(KMSG)[1].domain(), "IO-APIC-2");
    }

    #[test]
    fn parses_dmesg_and_klogctl_lines() {
        let line =
            "<6>[    0.012345] IOAPIC[0]: apic_id 1, version 17, address 0xfec00000, GSI 0-23";
        assert_eq!(
            parse_ioapics(line),
            vec![Ioapic {
                index: 0,
                apic_id: 1,
                gsi_base: 0,
                gsi_end: 23
            }]
        );
        assert!(parse_ioapics("IOAPIC[0]: Unable to change apic_id!").is_empty());
    }

    #[test]
    fn finds_the_pirq_of_an_irq_in_a_pv_dom0_log() {
        let log = "\
7,300,900,-;xen: registering gsi 23 triggering 0 polarity 1
7,301,901,-;xen: --> pirq=23 -> irq=23 (gsi=23)
7,302,902,-;xen: --> pirq=20 -> irq=20 (gsi=20)
7,310,950,-;xen: msi --> pirq=1007 --> irq=40
";
        assert_eq!(xen_pirq(log, 23), Some(XenPirq::Gsi { pirq: 23, gsi: 23 }));
        assert_eq!(xen_pirq(log, 20), Some(XenPirq::Gsi { pirq: 20, gsi: 20 }));
        assert_eq!(xen_pirq(log, 40), Some(XenPirq::Msi { pirq: 1007 }));
        assert_eq!(xen_pirq(log, 2), None);
    }

    #[test]
    fn reads_a_log_file() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("kmsg");
        std::fs::write(&log, KMSG).unwrap();
        let system = System::new(dir.path(), &log);
        assert_eq!(read_log(&system).unwrap(), KMSG);
        let missing = System::new(dir.path(), dir.path().join("none"));
        let err = read_log(&missing).unwrap_err();
        assert!(err.contains("ENOENT"), "{err}");
    }
}
