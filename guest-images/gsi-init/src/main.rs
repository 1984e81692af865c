//! PID 1 of the test initramfs.
//!
//! It prepares the little the suite needs (proc, sysfs, devtmpfs, debugfs and
//! a console), runs the suite once in a forked child, reports how it ended with
//! `@@GSI-DONE`, and powers the machine off. PID 1 must never exit or panic:
//! the kernel would panic and the verdict would be lost. So every step
//! reports its own failure, the whole run sits inside `catch_unwind`, nothing
//! here uses `println!` (it panics when the console write fails), and the
//! power-off path runs whatever happened before it.
//!
//! `std`'s runtime start-up is skipped (`no_main`): when fds 0-2 are closed it
//! reopens them on /dev/null and aborts if that fails, which is exactly the
//! state an initramfs without /dev/console leaves init in. Here a missing
//! console is repaired from devtmpfs instead.

#![cfg_attr(not(test), no_main)]
// Under test there is no `main`, so the boot path is unused.
#![cfg_attr(test, allow(dead_code))]

use std::ffi::CString;
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::panic;
use std::path::Path;
use std::process::{Command, ExitStatus};

use gsi_plan::{protocol, SUITE_PATH};

/// Only KERN_EMERG messages (panics) still reach the console; everything
/// else stays in the log, where the suite reads it, instead of cutting
/// protocol lines in half.
const PRINTK_LEVELS: &str = "1 4 1 7";
/// The first of those numbers, the console log level.
const CONSOLE_LEVEL: libc::c_int = 1;
/// The kernel command-line word that asks for a debug shell.
const SHELL_WORD: &str = "gsi.shell";
const SHELL: &str = "/bin/sh";
/// The suite's exit code when a test failed: a verdict, not a crash.
const LIBTEST_FAILED: i32 = gsi_plan::protocol::SUITE_FAILED;

#[cfg(not(test))]
#[no_mangle]
pub extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    // std has the arguments without its runtime start-up: glibc hands them
    // to its .init_array hook.
    if std::env::args_os()
        .next()
        .is_some_and(|name| runs_suite(name.as_encoded_bytes()))
    {
        return gsi_suite::cli::run().into();
    }
    let done = match panic::catch_unwind(run) {
        Ok(done) => done,
        Err(payload) => {
            init_error(&format!(
                "init panicked: {}",
                gsi_suite::cli::panic_text(&*payload)
            ));
            Done::NotRun
        }
    };
    power_off(done)
}

/// Whether this binary was started as the suite (`/bin/gsi-suite` links
/// here): the guest carries one copy of std, serde and libtest-mimic
/// instead of two, and every megabyte less is one the emulated CPU does not
/// unpack, page in and poison on each boot.
fn runs_suite(arg0: &[u8]) -> bool {
    let suite = Path::new(SUITE_PATH)
        .file_name()
        .expect("SUITE_PATH names a file")
        .as_encoded_bytes();
    arg0.rsplit(|&b| b == b'/').next() == Some(suite)
}

/// How the suite ended, as printed after `@@GSI-DONE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Done {
    /// Exit code: `0` all passed, `101` a trial failed.
    Exited(i32),
    /// Killed by this signal: printed as `signal=N`.
    Signaled(i32),
    /// The suite never ran (init failed first): printed as `none`.
    NotRun,
}

impl Done {
    fn from_status(status: ExitStatus) -> Done {
        match (status.code(), status.signal()) {
            (Some(code), _) => Done::Exited(code),
            (None, Some(signal)) => Done::Signaled(signal),
            // Neither code nor signal: cannot happen for a waited child.
            (None, None) => Done::NotRun,
        }
    }

    /// The `@@GSI-INIT-ERROR` message for an ending that is not a verdict.
    fn error(self) -> Option<String> {
        match self {
            Done::Exited(0 | LIBTEST_FAILED) | Done::NotRun => None,
            Done::Exited(code) => Some(format!("suite exited with code {code}")),
            Done::Signaled(signal) => Some(format!(
                "suite exited with signal {signal}{}",
                signal_name(signal)
                    .map(|name| format!(" ({name})"))
                    .unwrap_or_default()
            )),
        }
    }
}

impl fmt::Display for Done {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Done::Exited(code) => write!(f, "{code}"),
            Done::Signaled(signal) => write!(f, "signal={signal}"),
            Done::NotRun => f.write_str("none"),
        }
    }
}

fn signal_name(signal: i32) -> Option<&'static str> {
    Some(match signal {
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGTERM => "SIGTERM",
        libc::SIGSYS => "SIGSYS",
        _ => return None,
    })
}

/// One file system init mounts.
struct Mount {
    fstype: &'static str,
    target: &'static str,
    flags: libc::c_ulong,
    /// Without it the suite cannot run at all.
    required: bool,
}

const DEV: Mount = Mount {
    fstype: "devtmpfs",
    target: "/dev",
    flags: libc::MS_NOSUID,
    required: false,
};

/// In order: debugfs sits inside sysfs.
const MOUNTS: [Mount; 4] = [
    Mount {
        fstype: "proc",
        target: "/proc",
        flags: libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        required: true,
    },
    Mount {
        fstype: "sysfs",
        target: "/sys",
        flags: libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        required: true,
    },
    DEV,
    Mount {
        fstype: "debugfs",
        target: "/sys/kernel/debug",
        flags: libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        required: false,
    },
];

fn run() -> Done {
    // Before anything can be reported there must be somewhere to report it.
    let mut dev_mounted = false;
    if !closed_stdio().is_empty() {
        dev_mounted = mount(&DEV).is_ok();
        open_console();
    }
    say("gsi-init: starting");

    for m in &MOUNTS {
        if m.target == DEV.target && dev_mounted {
            continue;
        }
        if let Err(err) = mount(m) {
            let what = format!("mounting {} on {} failed: {err}", m.fstype, m.target);
            if m.required {
                init_error(&what);
                return Done::NotRun;
            }
            say(&format!("gsi-init: warning: {what}"));
        }
    }
    quiet_console();

    match fs::read_to_string("/proc/cmdline") {
        Ok(cmdline) if wants_shell(&cmdline) => exec_shell(),
        Ok(_) => {}
        Err(err) => say(&format!(
            "gsi-init: warning: reading /proc/cmdline failed: {err}"
        )),
    }

    run_suite()
}

/// Keeps kernel messages below KERN_ALERT off the console, through the
/// sysctl or, without CONFIG_PROC_SYSCTL, through syslog(2).
fn quiet_console() {
    let Err(sysctl) = fs::write("/proc/sys/kernel/printk", PRINTK_LEVELS) else {
        return;
    };
    const SYSLOG_ACTION_CONSOLE_LEVEL: libc::c_int = 8;
    // SAFETY: CONSOLE_LEVEL takes no buffer; len is the level.
    if unsafe {
        libc::klogctl(
            SYSLOG_ACTION_CONSOLE_LEVEL,
            std::ptr::null_mut(),
            CONSOLE_LEVEL,
        )
    } != 0
    {
        say(&format!(
            "gsi-init: warning: kernel messages may cut console lines: writing /proc/sys/kernel/printk failed ({sysctl}), klogctl(SYSLOG_ACTION_CONSOLE_LEVEL) failed ({})",
            io::Error::last_os_error()
        ));
    }
}

/// Runs the suite in a forked child of init rather than exec'ing
/// `/bin/gsi-suite`: the child shares the pages init has already faulted
/// in and skips a second exec of the same 1.9 MB binary (its start-up,
/// under TCG, was 0.02-0.06 s per boot). A crash of the suite still only
/// ends the child; init reports it and powers off as before.
fn run_suite() -> Done {
    // SAFETY: init has one thread; the child runs the suite and _exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // A panic that escapes the suite ends the child as it ended the
        // exec'd suite: libtest's 101, after the panic hook printed it.
        let code = panic::catch_unwind(gsi_suite::cli::run_in_guest).map_or(101, i32::from);
        let _ = io::stdout().flush();
        // SAFETY: ends the child here, never in init's code after the fork.
        unsafe { libc::_exit(code) };
    }
    if pid < 0 {
        init_error(&format!(
            "cannot fork the suite: {}",
            io::Error::last_os_error()
        ));
        return Done::NotRun;
    }
    let mut status = 0;
    // SAFETY: status is a valid pointer for the call.
    while unsafe { libc::waitpid(pid, &mut status, 0) } != pid {
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            init_error(&format!("waiting for the suite: {err}"));
            return Done::NotRun;
        }
    }
    let done = Done::from_status(ExitStatus::from_raw(status));
    if let Some(message) = done.error() {
        init_error(&message);
    }
    done
}

fn wants_shell(cmdline: &str) -> bool {
    cmdline.split_whitespace().any(|word| word == SHELL_WORD)
}

/// Replaces init with the debug shell; returns only if that is impossible,
/// and then the suite runs as usual.
fn exec_shell() {
    if !Path::new(SHELL).exists() {
        init_error(&format!(
            "{SHELL_WORD} on the kernel command line but {SHELL} is missing from the initramfs"
        ));
        return;
    }
    say(&format!("gsi-init: {SHELL_WORD}: exec {SHELL}"));
    let err = Command::new(SHELL).exec();
    init_error(&format!("exec {SHELL} failed: {err}"));
}

fn mount(m: &Mount) -> io::Result<()> {
    // Fails on sysfs, where debug/ already exists when debugfs is built in;
    // mount(2) reports the real problem if the directory is really missing.
    let _ = fs::create_dir_all(m.target);
    let source = CString::new(m.fstype).expect("no NUL in a constant");
    let target = CString::new(m.target).expect("no NUL in a constant");
    // SAFETY: all pointers are valid NUL-terminated strings or null data.
    let rc = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            source.as_ptr(),
            m.flags,
            std::ptr::null(),
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EBUSY) {
        // Already mounted (e.g. devtmpfs by the kernel itself).
        return Ok(());
    }
    Err(err)
}

/// Which of fds 0-2 are closed.
fn closed_stdio() -> Vec<libc::c_int> {
    // SAFETY: F_GETFD only queries the descriptor.
    (0..3)
        .filter(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1)
        .collect()
}

/// Points every closed standard fd at /dev/console.
fn open_console() {
    let closed = closed_stdio();
    if closed.is_empty() {
        return;
    }
    let path = CString::new("/dev/console").expect("no NUL in a constant");
    // SAFETY: path is a valid NUL-terminated string.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDWR) };
    if fd < 0 {
        // Nowhere to say it; the host sees a boot without protocol lines.
        return;
    }
    for target in closed {
        if target != fd {
            // SAFETY: both descriptors are valid or dup2 fails harmlessly.
            unsafe { libc::dup2(fd, target) };
        }
    }
    if fd > 2 {
        // SAFETY: fd was opened above and is not a standard stream.
        unsafe { libc::close(fd) };
    }
}

/// Writes one line to the console; errors are ignored because there is
/// nowhere else to send them.
fn say(line: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn init_error(message: &str) {
    say(&format!(
        "{} {}",
        protocol::INIT_ERROR,
        protocol::escape(message)
    ));
}

/// Reports the end and stops the machine. Without a power-off handler (no
/// ACPI) the kernel turns RB_POWER_OFF into a halt that never returns, so
/// then QEMU's isa-debug-exit is tried first.
fn power_off(done: Done) -> ! {
    say(&format!("{} {done}", protocol::DONE));
    // SAFETY: sync has no preconditions.
    unsafe { libc::sync() };
    if Path::new("/sys/firmware/acpi").exists() {
        reboot_power_off();
        debug_exit();
    } else {
        debug_exit();
        reboot_power_off();
    }
    say("gsi-init: could not power off; waiting for the host to stop the machine");
    loop {
        // SAFETY: pause has no preconditions; PID 1 ignores signals it has
        // no handler for, so this sleeps for good.
        unsafe { libc::pause() };
    }
}

fn reboot_power_off() {
    // SAFETY: reboot has no memory preconditions; it returns only on error.
    if unsafe { libc::reboot(libc::RB_POWER_OFF) } != 0 {
        say(&format!(
            "gsi-init: reboot(RB_POWER_OFF) failed: {}",
            io::Error::last_os_error()
        ));
    }
}

/// QEMU's `-device isa-debug-exit,iobase=0xf4,iosize=0x04` ends QEMU on a
/// write to the port; without the device the write does nothing. The host
/// puts the device at the same shared constant.
#[cfg(target_arch = "x86_64")]
fn debug_exit() {
    const PORT: u16 = gsi_plan::DEBUG_EXIT_PORT;
    // SAFETY: ioperm only changes this process's I/O permission bitmap.
    if unsafe { libc::ioperm(libc::c_ulong::from(PORT), 4, 1) } != 0 {
        say(&format!(
            "gsi-init: ioperm({PORT:#x}) failed: {}",
            io::Error::last_os_error()
        ));
        return;
    }
    // SAFETY: the port is permitted above; the write has no memory effects.
    unsafe {
        std::arch::asm!("out dx, al", in("dx") PORT, in("al") 0u8, options(nomem, nostack, preserves_flags));
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn debug_exit() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_word_must_stand_alone() {
        assert!(wants_shell("console=ttyS0 gsi.shell quiet"));
        assert!(wants_shell("gsi.shell"));
        assert!(!wants_shell("console=ttyS0 gsi.shellx"));
        assert!(!wants_shell("nogsi.shell"));
        assert!(!wants_shell(""));
    }

    #[test]
    fn the_suite_is_chosen_by_the_name_it_was_started_as() {
        assert!(runs_suite(b"/bin/gsi-suite"));
        assert!(runs_suite(b"gsi-suite"));
        assert!(!runs_suite(b"/init"));
        assert!(!runs_suite(b"/bin/gsi-suite-old"));
        assert!(!runs_suite(b"/bin/gsi-suite/"));
        assert!(!runs_suite(b""));
    }

    #[test]
    fn verdict_exits_are_not_init_errors() {
        assert_eq!(Done::Exited(0).error(), None);
        assert_eq!(Done::Exited(101).error(), None);
        assert_eq!(Done::NotRun.error(), None);
    }

    #[test]
    fn crashes_are_init_errors() {
        assert_eq!(
            Done::Exited(1).error().as_deref(),
            Some("suite exited with code 1")
        );
        assert_eq!(
            Done::Signaled(11).error().as_deref(),
            Some("suite exited with signal 11 (SIGSEGV)")
        );
        assert_eq!(
            Done::Signaled(64).error().as_deref(),
            Some("suite exited with signal 64")
        );
    }

    #[test]
    fn done_token_is_one_word() {
        assert_eq!(Done::Exited(101).to_string(), "101");
        assert_eq!(Done::Signaled(6).to_string(), "signal=6");
        assert_eq!(Done::NotRun.to_string(), "none");
    }

    #[test]
    fn statuses_classify() {
        assert_eq!(
            Done::from_status(ExitStatus::from_raw(101 << 8)),
            Done::Exited(101)
        );
        assert_eq!(
            Done::from_status(ExitStatus::from_raw(libc::SIGABRT)),
            Done::Signaled(libc::SIGABRT)
        );
    }

    #[test]
    fn panic_payloads_become_text() {
        let payload = panic::catch_unwind(|| panic!("boom {}", 1)).unwrap_err();
        assert_eq!(gsi_suite::cli::panic_text(&*payload), "boom 1");
    }
}
