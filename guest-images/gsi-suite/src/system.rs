//! Where the suite reads the kernel's state, and what one read can end in.
//!
//! In the guest everything comes from the real `/sys` and `/dev/kmsg`. Host
//! tests (and a host run of the binary) point a [`System`] at a fake tree
//! instead, through `GSI_SYSFS_ROOT` (stands for `/sys`) and `GSI_KMSG` (a
//! text file standing for the kernel log). Paths are built here only, so a
//! message always names the file that was really read.

use std::env;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Replaces `/sys` (host tests, fake trees).
pub const SYSFS_ROOT_ENV: &str = "GSI_SYSFS_ROOT";
/// Replaces `/dev/kmsg` with a file holding the kernel log as text.
pub const KMSG_ENV: &str = "GSI_KMSG";
/// Replaces `/dev/xen/privcmd`.
pub const PRIVCMD_ENV: &str = "GSI_PRIVCMD";
const GUEST_SYS: &str = "/sys";
const GUEST_KMSG: &str = "/dev/kmsg";

/// The roots the suite reads from.
#[derive(Debug, Clone)]
pub struct System {
    sys: PathBuf,
    kmsg: PathBuf,
    privcmd: PathBuf,
}

impl System {
    pub fn new(sys: impl Into<PathBuf>, kmsg: impl Into<PathBuf>) -> System {
        System {
            sys: sys.into(),
            kmsg: kmsg.into(),
            privcmd: PathBuf::from(gsi_plan::PRIVCMD_PATH),
        }
    }

    /// The same roots, with another privcmd device (tests).
    pub fn with_privcmd(self, privcmd: impl Into<PathBuf>) -> System {
        System {
            privcmd: privcmd.into(),
            ..self
        }
    }

    /// The guest's `/sys`, `/dev/kmsg` and `/dev/xen/privcmd`, unless the
    /// environment overrides them.
    pub fn from_env() -> System {
        let pick =
            |var, default| env::var_os(var).map_or_else(|| PathBuf::from(default), Into::into);
        System::new(pick(SYSFS_ROOT_ENV, GUEST_SYS), pick(KMSG_ENV, GUEST_KMSG))
            .with_privcmd(pick(PRIVCMD_ENV, gsi_plan::PRIVCMD_PATH))
    }

    /// Xen's privcmd device (`/dev/xen/privcmd`).
    pub fn privcmd(&self) -> &Path {
        &self.privcmd
    }

    /// `/sys/<relative>`.
    pub fn sys_path(&self, relative: &str) -> PathBuf {
        self.sys.join(relative)
    }

    /// `/sys/bus/pci/devices/<bdf>`.
    pub fn device(&self, bdf: &str) -> PathBuf {
        self.sys.join("bus/pci/devices").join(bdf)
    }

    /// `/sys/bus/pci/drivers/<driver>` (its `bind` and `unbind` files).
    pub fn pci_driver(&self, driver: &str) -> PathBuf {
        self.sys.join("bus/pci/drivers").join(driver)
    }

    /// `/sys/kernel/irq/<irq>` (CONFIG_SPARSE_IRQ, always on x86_64).
    pub fn irq(&self, irq: u32) -> PathBuf {
        self.sys.join("kernel/irq").join(irq.to_string())
    }

    /// `/sys/kernel/debug/irq/irqs/<irq>` (CONFIG_GENERIC_IRQ_DEBUGFS).
    pub fn irq_debugfs(&self, irq: u32) -> PathBuf {
        self.sys.join("kernel/debug/irq/irqs").join(irq.to_string())
    }

    /// `/sys/kernel/debug/tracing/kprobe_profile` (tracefs, automounted
    /// under debugfs; CONFIG_KPROBE_EVENTS): each kprobe event's hits.
    pub fn kprobe_profile(&self) -> PathBuf {
        self.sys.join("kernel/debug/tracing/kprobe_profile")
    }

    pub fn kmsg(&self) -> &Path {
        &self.kmsg
    }

    /// Whether the kernel log comes from the guest's own `/dev/kmsg`, so
    /// that `klogctl(2)` is a valid second way to it.
    pub fn kmsg_is_guest(&self) -> bool {
        self.kmsg == Path::new(GUEST_KMSG)
    }
}

/// `struct privcmd_pcidev_get_gsi` of include/uapi/xen/privcmd.h.
#[repr(C)]
struct PrivcmdPcidevGetGsi {
    sbdf: u32,
    gsi: u32,
}

/// `_IOC(_IOC_NONE, 'P', 10, sizeof(struct privcmd_pcidev_get_gsi))`:
/// direction 0 in bits 30-31, size in 16-29, type in 8-15, number in 0-7.
pub const IOCTL_PRIVCMD_PCIDEV_GET_GSI: u32 =
    ((std::mem::size_of::<PrivcmdPcidevGetGsi>() as u32) << 16) | ((b'P' as u32) << 8) | 10;

/// The `sbdf` the ioctl takes for a `dddd:bb:ss.f` address: segment in
/// bits 16-31, bus in 8-15, devfn (slot << 3 | function) in 0-7.
pub fn sbdf(bdf: &str) -> Option<u32> {
    let (segment, rest) = bdf.split_once(':')?;
    let (bus, rest) = rest.split_once(':')?;
    let (slot, function) = rest.split_once('.')?;
    let segment = u32::from_str_radix(segment, 16)
        .ok()
        .filter(|s| *s <= 0xffff)?;
    let bus = u32::from_str_radix(bus, 16).ok().filter(|b| *b <= 0xff)?;
    let slot = u32::from_str_radix(slot, 16).ok().filter(|s| *s < 32)?;
    let function = function.parse::<u32>().ok().filter(|f| *f < 8)?;
    Some(segment << 16 | bus << 8 | slot << 3 | function)
}

/// Asks Xen's privcmd device for the GSI xen-pciback recorded for `sbdf`
/// (`IOCTL_PRIVCMD_PCIDEV_GET_GSI`, drivers/xen/privcmd.c).
pub fn pcidev_get_gsi(privcmd: &Path, sbdf: u32) -> Result<u32, OsError> {
    use std::os::fd::AsRawFd;
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(privcmd)
        .map_err(|err| OsError::from_io(&err))?;
    let mut arg = PrivcmdPcidevGetGsi { sbdf, gsi: 0 };
    // SAFETY: the fd is open for the call, and the argument is the
    // struct the ioctl reads and writes, alive and exclusively borrowed.
    let rc = unsafe {
        libc::ioctl(
            file.as_raw_fd(),
            IOCTL_PRIVCMD_PCIDEV_GET_GSI as _,
            &mut arg as *mut PrivcmdPcidevGetGsi,
        )
    };
    if rc < 0 {
        Err(OsError::from_io(&io::Error::last_os_error()))
    } else {
        Ok(arg.gsi)
    }
}

/// A failed system call, with the errno spelled as the kernel source
/// spells it (`EAGAIN`), since that is what a revision promises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsError {
    pub errno: Option<i32>,
    text: String,
}

impl OsError {
    pub fn from_io(err: &io::Error) -> OsError {
        let errno = err.raw_os_error();
        let text = match errno {
            Some(n) => {
                // "Resource temporarily unavailable (os error 11)" -> the words.
                let full = io::Error::from_raw_os_error(n).to_string();
                let words = full.split(" (os error").next().unwrap_or(&full);
                match errno_name(n) {
                    Some(name) => format!("{name} ({words})"),
                    None => format!("errno {n} ({words})"),
                }
            }
            None => err.to_string(),
        };
        OsError { errno, text }
    }

    pub fn from_errno(errno: i32) -> OsError {
        OsError::from_io(&io::Error::from_raw_os_error(errno))
    }

    pub fn is(&self, errno: i32) -> bool {
        self.errno == Some(errno)
    }
}

impl fmt::Display for OsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn errno_name(errno: i32) -> Option<&'static str> {
    Some(match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ENOTTY => "ENOTTY",
        libc::ENOSPC => "ENOSPC",
        libc::ERANGE => "ERANGE",
        libc::ENOSYS => "ENOSYS",
        libc::ENODATA => "ENODATA",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ETIMEDOUT => "ETIMEDOUT",
        _ => return None,
    })
}

/// How reading a one-number sysfs attribute (such as `gsi`) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrRead {
    /// The file does not exist.
    Absent,
    /// The file holds a decimal number.
    Number(u32),
    /// The file exists and reading it fails.
    Error(OsError),
    /// The file reads, but not as a number (kept short for messages).
    Garbage(String),
}

impl AttrRead {
    pub fn read(path: &Path) -> AttrRead {
        match fs::read(path) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                let text = text.trim();
                match text.parse() {
                    Ok(n) => AttrRead::Number(n),
                    Err(_) => AttrRead::Garbage(text.chars().take(64).collect()),
                }
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => AttrRead::Absent,
            Err(err) => AttrRead::Error(OsError::from_io(&err)),
        }
    }

    /// The value alone: `23`, `absent`, `EAGAIN (...)`.
    pub fn short(&self) -> String {
        match self {
            AttrRead::Absent => "absent".to_owned(),
            AttrRead::Number(n) => n.to_string(),
            AttrRead::Error(err) => err.to_string(),
            AttrRead::Garbage(text) => format!("{text:?}"),
        }
    }

    /// Completes "<path> ...": `= 23`, `is absent`, `read fails with ...`.
    pub fn describe(&self) -> String {
        match self {
            AttrRead::Absent => "is absent".to_owned(),
            AttrRead::Number(n) => format!("= {n}"),
            AttrRead::Error(err) => format!("read fails with {err}"),
            AttrRead::Garbage(text) => format!("= {text:?}, not a number"),
        }
    }
}

/// Reads a file holding one decimal number, or says why not.
pub fn read_number(path: &Path) -> Result<u32, String> {
    let text = read_text(path)?;
    text.parse()
        .map_err(|_| format!("{} = {text:?}, not a number", path.display()))
}

/// Reads a small text file, trimmed, or says why not.
pub fn read_text(path: &Path) -> Result<String, String> {
    fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .map_err(|err| {
            format!(
                "reading {} failed: {}",
                path.display(),
                OsError::from_io(&err)
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_reads_classify() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gsi");
        assert_eq!(AttrRead::read(&file), AttrRead::Absent);
        fs::write(&file, "23\n").unwrap();
        assert_eq!(AttrRead::read(&file), AttrRead::Number(23));
        fs::write(&file, "-1\n").unwrap();
        assert_eq!(AttrRead::read(&file), AttrRead::Garbage("-1".into()));
        fs::remove_file(&file).unwrap();
        // A directory stands in for an attribute whose read fails.
        fs::create_dir(&file).unwrap();
        match AttrRead::read(&file) {
            AttrRead::Error(err) => {
                assert!(err.is(libc::EISDIR));
                assert!(err.to_string().starts_with("EISDIR ("), "{err}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_ioctl_number_and_sbdf_follow_the_uapi_header() {
        // include/uapi/xen/privcmd.h: _IOC(_IOC_NONE, 'P', 10, 8).
        assert_eq!(IOCTL_PRIVCMD_PCIDEV_GET_GSI, 0x0008_500a);
        assert_eq!(sbdf("0000:00:04.0"), Some(0x20));
        assert_eq!(sbdf("0001:02:1f.7"), Some(0x0001_02ff));
        assert_eq!(sbdf("0000:00:20.0"), None);
        assert_eq!(sbdf("00:04.0"), None);
    }

    #[test]
    fn the_ioctl_on_a_missing_or_plain_file_names_the_errno() {
        let dir = tempfile::tempdir().unwrap();
        let missing = pcidev_get_gsi(&dir.path().join("privcmd"), 0x20).unwrap_err();
        assert!(missing.is(libc::ENOENT), "{missing}");
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "").unwrap();
        let not_a_device = pcidev_get_gsi(&plain, 0x20).unwrap_err();
        assert!(not_a_device.is(libc::ENOTTY), "{not_a_device}");
    }

    #[test]
    fn errno_names_follow_the_kernel() {
        let err = OsError::from_errno(libc::EAGAIN);
        assert_eq!(err.to_string(), "EAGAIN (Resource temporarily unavailable)");
        assert!(OsError::from_errno(4095)
            .to_string()
            .starts_with("errno 4095"));
    }

    #[test]
    fn paths_follow_sysfs() {
        let system = System::new("/fake/sys", "/fake/kmsg");
        assert_eq!(
            system.device("0000:00:03.0"),
            Path::new("/fake/sys/bus/pci/devices/0000:00:03.0")
        );
        assert_eq!(system.irq(23), Path::new("/fake/sys/kernel/irq/23"));
        assert_eq!(
            system.irq_debugfs(23),
            Path::new("/fake/sys/kernel/debug/irq/irqs/23")
        );
        assert!(!system.kmsg_is_guest());
    }
}
