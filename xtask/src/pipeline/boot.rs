//! One QEMU boot: start it, stream the serial console to a log and to the
//! parser, stop QEMU as soon as the guest says it is done, and never let a
//! boot outlive its wall-clock limit.

use crate::config::topology::Topology;
use crate::pipeline::console::{Console, Ending};
use crate::pipeline::qemu::{self, Accel};
use crate::sys::process::Cmd;
use anyhow::{Context, Result};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Console bytes written to a log at most; a guest that floods is cut.
pub const MAX_LOG: u64 = 16 << 20;

/// Everything one boot needs.
pub struct Request<'a> {
    pub topology: &'a Topology,
    /// The kernel's bzImage in the cache; a direct boot loads the ELF
    /// beside it ([`crate::pipeline::build::pvh_image`]).
    pub bzimage: &'a Path,
    pub initrd: &'a Path,
    pub accel: Accel,
    pub timeout: Duration,
    pub log: PathBuf,
    pub extra_cmdline: String,
    /// The hypervisor's ELF, for a topology with a `[hypervisor]` table.
    pub hypervisor: Option<&'a Path>,
}

/// What came back.
#[derive(Debug)]
pub struct BootResult {
    pub console: Console,
    pub ending: Ending,
    /// Wall-clock seconds from QEMU start to its end (or to DONE).
    pub secs: f64,
    /// When the milestones of the boot arrived on the console, wall-clock
    /// seconds from QEMU start (`cargo xtask bench` splits the boot time
    /// with them; the guest's own clock misses QEMU, firmware and the
    /// kernel's decompression).
    pub marks: Marks,
    /// QEMU's peak resident memory (VmHWM) in KiB, read just before the
    /// harness stops it; `None` when QEMU had already exited.
    pub qemu_peak_kib: Option<u64>,
    /// CPU seconds QEMU used (user + system, all threads), read at the
    /// same moment: what a boot costs, whatever else the host is doing.
    pub qemu_cpu_s: Option<f64>,
}

/// Wall-clock seconds from QEMU start at which the console showed each
/// milestone; `None` for one never seen.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Marks {
    /// The first byte of output (QEMU up, firmware done, kernel unpacked).
    pub first_output: Option<f64>,
    /// The kernel's `Linux version` banner.
    pub banner: Option<f64>,
    /// `Run /init as init process`: the kernel is done booting.
    pub init: Option<f64>,
    /// The suite's BEGIN record.
    pub begin: Option<f64>,
    /// The latest line: at a timeout, whether the guest was still talking
    /// (slow) or had gone silent (hung).
    pub last: Option<f64>,
}

impl Marks {
    /// Notes the milestones `line` shows, `at` seconds after QEMU start.
    pub fn see(&mut self, line: &str, at: f64) {
        self.first_output.get_or_insert(at);
        self.last = Some(at);
        if self.banner.is_none() && line.contains("Linux version ") {
            self.banner = Some(at);
        }
        if self.init.is_none() && line.contains("Run /init as init process") {
            self.init = Some(at);
        }
        if self.begin.is_none() && line.starts_with(gsi_plan::protocol::BEGIN) {
            self.begin = Some(at);
        }
    }
}

/// Peak resident memory (VmHWM, KiB) of a running process.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    vm_hwm_kib(&status)
}

/// CPU seconds (user + system) a running process has used so far.
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    stat_cpu_secs(&stat, if ticks > 0 { ticks as f64 } else { 100.0 })
}

/// utime + stime of a `/proc/<pid>/stat` line, in seconds.
pub fn stat_cpu_secs(stat: &str, ticks_per_s: f64) -> Option<f64> {
    // pid (comm) state ...: comm may hold spaces and ')'; utime and stime
    // are fields 14 and 15, the 12th and 13th after the comm.
    let after = &stat[stat.rfind(')')? + 1..];
    let mut fields = after.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / ticks_per_s)
}

/// The `VmHWM:` field of a `/proc/<pid>/status` text, in KiB.
pub fn vm_hwm_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
}

/// The image QEMU is handed for a kernel whose cached bzImage is
/// `bzimage`: a direct boot enters at the PVH entry point of the ELF
/// beside it ([`crate::pipeline::build::pvh_image`]); under Xen the bzImage
/// is dom0's module.
pub fn kernel_image(bzimage: &Path, hypervisor: Option<&Path>) -> Result<PathBuf> {
    if hypervisor.is_some() {
        return Ok(bzimage.to_path_buf());
    }
    let elf = crate::pipeline::build::pvh_image(bzimage);
    if !elf.is_file() {
        anyhow::bail!(
            "{} is missing beside {}: remove that directory and run again to rebuild the kernel",
            elf.display(),
            bzimage.display()
        );
    }
    Ok(elf)
}

/// Boots once. An error here means QEMU could not be started at all; every
/// guest-side failure is data in the [`BootResult`].
pub fn run(req: &Request) -> Result<BootResult> {
    let kernel = kernel_image(req.bzimage, req.hypervisor)?;
    let args = qemu::command(
        req.topology,
        req.accel,
        &kernel,
        req.initrd,
        &req.extra_cmdline,
        req.hypervisor,
    );
    if let Some(dir) = req.log.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut log = std::fs::File::create(&req.log)
        .with_context(|| format!("creating {}", req.log.display()))?;
    writeln!(
        log,
        "$ {} {}",
        qemu::QEMU,
        crate::sys::process::shell_words(&args)
    )?;
    let started = Instant::now();
    let handle = Arc::new(
        Cmd::new(qemu::QEMU)
            .args(&args)
            .stderr_to_stdout()
            .reader()
            .with_context(|| {
                format!("starting {} (apt-get install qemu-system-x86)", qemu::QEMU)
            })?,
    );
    // (bytes, whether they start a line): a line longer than MAX_LINE comes
    // in pieces, so a guest printing without newlines cannot grow memory;
    // only line starts are parsed.
    let (tx, rx) = mpsc::channel::<(Vec<u8>, bool)>();
    let reader = {
        let handle = Arc::clone(&handle);
        std::thread::spawn(move || {
            let mut lines = BufReader::new(&*handle);
            let mut starts_line = true;
            loop {
                let mut buf = Vec::new();
                match read_bounded_line(&mut lines, &mut buf, crate::pipeline::console::MAX_LINE) {
                    Ok(false) | Err(_) => break,
                    Ok(true) => {
                        let ends_line = buf.ends_with(b"\n");
                        if tx.send((buf, starts_line)).is_err() {
                            break;
                        }
                        starts_line = ends_line;
                    }
                }
            }
        })
    };
    let mut console = Console::default();
    let mut marks = Marks::default();
    let mut written: u64 = 0;
    let deadline = started + req.timeout;
    let ending = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((bytes, starts_line)) => {
                if written < MAX_LOG {
                    written += bytes.len() as u64;
                    log.write_all(&bytes)?;
                }
                let line = String::from_utf8_lossy(&bytes);
                if starts_line {
                    marks.see(&line, started.elapsed().as_secs_f64());
                }
                if starts_line && console.feed(&line) {
                    break Ending::Done;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => break Ending::TimedOut,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = handle.try_wait().ok().flatten().map(|o| o.status.code());
                break Ending::Exited(status.flatten());
            }
        }
    };
    let secs = started.elapsed().as_secs_f64();
    // The high-water mark is gone with the process: read it before the kill.
    let qemu_pid = match ending {
        Ending::Exited(_) => None,
        _ => handle.pids().first().copied(),
    };
    let qemu_peak_kib = qemu_pid.and_then(peak_rss_kib);
    let qemu_cpu_s = qemu_pid.and_then(cpu_secs);
    // Done or timed out: QEMU is still running. Exited: kill is a no-op.
    // The whole group goes, so nothing holding the console pipe can keep
    // the reader (and this boot) waiting.
    let _ = handle.kill();
    let _ = reader.join();
    crate::sys::process::park_if_interrupted();
    match ending {
        Ending::TimedOut => writeln!(
            log,
            "\n[gsi-workbench] no end after {:?}: QEMU killed; {}",
            req.timeout,
            match marks.last {
                Some(at) => format!("its last console line came {:.1} s before", secs - at),
                None => "it printed nothing".to_string(),
            }
        )?,
        Ending::Exited(code) => writeln!(log, "\n[gsi-workbench] QEMU exited with {code:?}")?,
        Ending::Done => writeln!(
            log,
            "\n[gsi-workbench] guest done after {secs:.2} s: QEMU stopped"
        )?,
    }
    Ok(BootResult {
        console,
        ending,
        secs,
        marks,
        qemu_peak_kib,
        qemu_cpu_s,
    })
}

/// Reads one line into `buf` (cleared first), at most `max` bytes of it: a
/// longer line comes back in several pieces, the last one with the
/// newline. Returns false at the end of the input.
pub fn read_bounded_line(
    reader: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<bool> {
    buf.clear();
    while buf.len() < max {
        let available = match reader.fill_buf() {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        if available.is_empty() {
            break;
        }
        let window = &available[..available.len().min(max - buf.len())];
        let (taken, complete) = match window.iter().position(|&b| b == b'\n') {
            Some(newline) => (newline + 1, true),
            None => (window.len(), false),
        };
        buf.extend_from_slice(&window[..taken]);
        reader.consume(taken);
        if complete {
            break;
        }
    }
    Ok(!buf.is_empty())
}

/// Whether KVM works here: a short probe boot of `bzimage` under KVM must
/// print the kernel banner within a few seconds. The answer is cached per
/// QEMU binary in `target/gsi/kvm-probe`. `GSI_ACCEL=tcg|kvm` overrides.
pub fn detect_accel(bzimage: &Path, reporter: &crate::sys::progress::Reporter) -> Result<Accel> {
    match std::env::var("GSI_ACCEL").as_deref() {
        Ok("tcg") => return Ok(Accel::Tcg),
        Ok("kvm") => return Ok(Accel::Kvm),
        _ => {}
    }
    if std::fs::File::options()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_err()
    {
        reporter.note("accel: TCG (/dev/kvm is not usable)");
        return Ok(Accel::Tcg);
    }
    let qemu =
        crate::sys::tools::find_on_path(qemu::QEMU).context("qemu-system-x86_64 not found")?;
    let qemu_meta = std::fs::metadata(&qemu)?;
    let key = format!(
        "{} {} {:?}",
        qemu.display(),
        qemu_meta.len(),
        qemu_meta.modified().ok()
    );
    let cache = crate::work_dir().join("kvm-probe");
    if let Ok(text) = std::fs::read_to_string(&cache) {
        if let Some(answer) = text.strip_prefix(&format!("{key}\n")) {
            let accel = if answer.trim() == "kvm" {
                Accel::Kvm
            } else {
                Accel::Tcg
            };
            return Ok(accel);
        }
    }
    let started = Instant::now();
    let args: Vec<String> = [
        qemu::base(),
        qemu::resources("256M", 1),
        qemu::accel(Accel::Kvm),
        qemu::machine(crate::config::topology::Machine::Q35, ""),
        qemu::serial_stdio(),
        vec![
            "-kernel".into(),
            bzimage.display().to_string(),
            "-append".into(),
            "console=ttyS0 panic=-1".into(),
        ],
    ]
    .concat();
    let handle = Arc::new(
        Cmd::new(qemu::QEMU)
            .args(&args)
            .stderr_to_stdout()
            .reader()?,
    );
    let (tx, rx) = mpsc::channel();
    let probe = {
        let handle = Arc::clone(&handle);
        std::thread::spawn(move || {
            for line in BufReader::new(&*handle).lines().map_while(Result::ok) {
                if line.contains("Linux version") {
                    let _ = tx.send(());
                    break;
                }
            }
        })
    };
    let works = rx.recv_timeout(Duration::from_secs(8)).is_ok();
    let _ = handle.kill();
    let _ = probe.join();
    crate::sys::process::park_if_interrupted();
    let accel = if works { Accel::Kvm } else { Accel::Tcg };
    reporter.note(format!(
        "accel: {} (KVM probe boot {} in {:.1} s; cached in {})",
        accel.name().to_uppercase(),
        if works {
            "printed the banner"
        } else {
            "failed"
        },
        started.elapsed().as_secs_f64(),
        crate::config::display(&cache)
    ));
    crate::write_atomic(&cache, format!("{key}\n{}\n", accel.name()).as_bytes())?;
    Ok(accel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_read_in_bounded_pieces() {
        let mut input = b"short\n".to_vec();
        input.extend(vec![b'x'; 10_000]);
        input.extend(b"\n@@GSI-DONE 0");
        let mut reader = std::io::BufReader::with_capacity(64, &input[..]);
        let mut pieces = Vec::new();
        let mut buf = Vec::new();
        while read_bounded_line(&mut reader, &mut buf, 4096).unwrap() {
            assert!(buf.len() <= 4096, "{}", buf.len());
            pieces.push(buf.clone());
        }
        assert_eq!(pieces[0], b"short\n");
        assert_eq!(pieces.len(), 5, "short, 4096, 4096, 1808 + newline, tail");
        assert!(pieces[3].ends_with(b"\n") && !pieces[2].ends_with(b"\n"));
        assert_eq!(pieces[4], b"@@GSI-DONE 0");
        assert_eq!(pieces.concat(), input);
    }

    #[test]
    fn milestones_are_noted_once() {
        let mut m = Marks::default();
        m.see("SeaBIOS (version 1.16)", 0.5);
        m.see(
            "[    0.000000] Linux version 6.12.117+ (gsi@workbench)",
            0.9,
        );
        m.see("[    0.000000] Linux version again", 1.0);
        m.see("[    1.2] Run /init as init process", 2.0);
        m.see("@@GSI-BEGIN v1 trials=21", 2.5);
        assert_eq!(
            m,
            Marks {
                first_output: Some(0.5),
                banner: Some(0.9),
                init: Some(2.0),
                begin: Some(2.5),
                last: Some(2.5),
            }
        );
    }

    #[test]
    fn cpu_seconds_come_from_the_stat_line() {
        let stat =
            "4242 (qemu-system-x86) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0";
        assert_eq!(stat_cpu_secs(stat, 100.0), Some(3.0));
        let odd = "7 (a) b) c) R 1 7 7 0 -1 0 0 0 0 0 10 20 0 0";
        assert_eq!(stat_cpu_secs(odd, 100.0), Some(0.3));
        assert!(cpu_secs(std::process::id()).is_some());
    }

    #[test]
    fn vm_hwm_is_read_in_kib() {
        let status =
            "Name:\tqemu-system-x86\nVmPeak:\t  900000 kB\nVmHWM:\t  123456 kB\nVmRSS:\t 100 kB\n";
        assert_eq!(vm_hwm_kib(status), Some(123456));
        assert_eq!(vm_hwm_kib("Name: x\n"), None);
        // Our own process is alive and has touched some memory.
        assert!(peak_rss_kib(std::process::id()).unwrap() > 0);
    }
}
