//! Child processes and what happens to them on Ctrl-C or SIGTERM: every
//! child that can outlast a moment (make, QEMU, tar, git writing the pin's
//! base commit or applying a series, the guest's cargo build) runs in its
//! own process group and is registered here; the signal handler stops
//! every registered group, says what was stopped, and exits with 130.
//! A child left in our own group would not see a SIGTERM sent to the
//! harness alone and would go on writing into a directory the next run
//! deletes or re-creates. Caches stay consistent because every cache
//! entry is written to a temporary path and renamed, and each is trusted
//! only through a stamp written last.
//!
//! [`output`], [`read`] and [`run_expression`] run a std, xshell or duct
//! command this way; [`own_group`] and [`Registered`] are the parts, for
//! callers that stream a child's output as it runs.

use std::collections::BTreeSet;
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

/// Registered groups, and whether the process is shutting down (then a
/// group registered late is stopped at once instead of outliving us).
static GROUPS: Mutex<(BTreeSet<i32>, bool)> = Mutex::new((BTreeSet::new(), false));
static INSTALL: Once = Once::new();

/// How long a stopped group gets to exit on SIGTERM before SIGKILL: make
/// deletes the object file it was writing (a killed compiler can leave a
/// truncated `.o` that a later make believes up to date), QEMU exits at once.
pub const GRACE: Duration = Duration::from_secs(3);

/// Runs `cmd` in a process group of its own, so one kill reaches make's
/// whole tree and a terminal's Ctrl-C goes through the handler.
pub fn own_group(cmd: duct::Expression) -> duct::Expression {
    cmd.before_spawn(|command| {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
        Ok(())
    })
}

/// Remembers a started child (its pid is its process group id).
/// A child started while the handler runs (between its spawn and this
/// call) is stopped here, so no child outlives an interrupted run.
pub fn register(pid: u32) {
    let mut groups = GROUPS.lock().unwrap();
    if groups.1 {
        drop(groups);
        stop_groups(&[pid as i32], GRACE);
        return;
    }
    groups.0.insert(pid as i32);
}

pub fn unregister(pid: u32) {
    GROUPS.lock().unwrap().0.remove(&(pid as i32));
}

/// Stops every registered process group and every group registered from
/// now on; returns how many there were.
pub fn kill_all() -> usize {
    let groups: Vec<i32> = {
        let mut groups = GROUPS.lock().unwrap();
        groups.1 = true;
        groups.0.iter().copied().collect()
    };
    stop_groups(&groups, GRACE);
    groups.len()
}

/// Whether the interrupt handler is stopping the children.
pub fn interrupted() -> bool {
    GROUPS.lock().unwrap().1
}

/// Called where a child's end is observed: a child that ended because of
/// Ctrl-C must not become a verdict or a cache entry (a "qemu-failed" in
/// last-run.json, a "tcg" KVM probe), so that thread waits for the handler
/// to end the process.
pub fn park_if_interrupted() {
    while interrupted() {
        std::thread::park();
    }
}

/// Ends the process with `code`, unless the interrupt handler is at work:
/// then it ends the process, with 130, once every child is stopped.
pub fn exit(code: i32) -> ! {
    park_if_interrupted();
    std::process::exit(code)
}

/// Kills one child's process group at once (QEMU at the end of a boot).
pub fn kill_group(pgid: u32) {
    signal_group(pgid as i32, libc::SIGKILL);
}

/// SIGTERM to each group, then SIGKILL to what still runs after `grace`.
pub fn stop_groups(groups: &[i32], grace: Duration) {
    for &pgid in groups {
        signal_group(pgid, libc::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while groups.iter().any(|&g| group_is_running(g)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    for &pgid in groups {
        signal_group(pgid, libc::SIGKILL);
    }
}

fn signal_group(pgid: i32, signal: i32) {
    if pgid <= 1 {
        return; // never signal our own group or every process
    }
    // SAFETY: kill(2) with a negative pid signals that process group;
    // it has no memory-safety preconditions.
    unsafe {
        libc::kill(-pgid, signal);
    }
}

/// Whether a process of group `pgid` is still running; a zombie (dead,
/// not yet reaped by its parent) does not count.
pub fn group_is_running(pgid: i32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|entry| {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            return false;
        };
        // pid (comm) state ppid pgrp ...; comm may contain spaces and ')'.
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            return false;
        };
        let mut fields = after.split_whitespace();
        let state = fields.next();
        let pgrp = fields.nth(1).and_then(|g| g.parse::<i32>().ok());
        pgrp == Some(pgid) && state != Some("Z") && state != Some("X")
    })
}

/// Installs the SIGINT/SIGTERM handler once per process.
pub fn install_handler() {
    INSTALL.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            let n = kill_all();
            eprintln!(
                "\ninterrupted: stopped {n} child process group(s) (make, qemu, git, tar, cargo); \
                 finished kernels and logs are kept under target/gsi, unfinished work is redone \
                 on the next run"
            );
            std::process::exit(130);
        });
    });
}

/// Runs `command` to its end in a process group of its own, registered
/// while it runs. Its stdin is null (a child outside the terminal's
/// foreground group must not read it); stdout and stderr are captured.
/// A child that ends because of Ctrl-C does not return here: the thread
/// waits for the handler to end the process, so an interrupted step never
/// looks like a failed one (and never triggers a failure's clean-up).
pub fn output(mut command: std::process::Command) -> std::io::Result<std::process::Output> {
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    command
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = command.spawn()?;
    let registered = Registered::new(vec![child.id()]);
    let output = child.wait_with_output();
    drop(registered);
    park_if_interrupted();
    output
}

/// An xshell command run by [`output`]: its stdout without the trailing
/// newline (as xshell's `read`), or an error that names the command, its
/// exit status and what it printed on stderr.
pub fn read(cmd: xshell::Cmd<'_>) -> anyhow::Result<String> {
    use anyhow::Context;
    let shown = cmd.to_string();
    let output = output(cmd.into()).with_context(|| format!("starting `{shown}`"))?;
    if !output.status.success() {
        anyhow::bail!(
            "`{shown}` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    if text.ends_with('\n') {
        text.pop();
    }
    Ok(text)
}

/// [`read`], for a command whose output is not wanted.
pub fn run(cmd: xshell::Cmd<'_>) -> anyhow::Result<()> {
    read(cmd).map(|_| ())
}

/// A duct expression run to its end like [`output`] (each process of a
/// pipe in a group of its own); what it captures and whether a failed
/// status is an error stay the expression's own settings.
pub fn run_expression(expression: duct::Expression) -> std::io::Result<std::process::Output> {
    let handle = own_group(expression).start()?;
    let registered = Registered::new(handle.pids());
    let output = handle.into_output();
    drop(registered);
    park_if_interrupted();
    output
}

/// Registers the child behind a duct handle for as long as the guard lives.
pub struct Registered {
    pids: Vec<u32>,
}

impl Registered {
    pub fn new(pids: Vec<u32>) -> Registered {
        for pid in &pids {
            register(*pid);
        }
        Registered { pids }
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        for pid in &self.pids {
            unregister(*pid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    fn spawn_group(script: &str) -> std::process::Child {
        std::process::Command::new("sh")
            .args(["-c", script])
            .process_group(0)
            .spawn()
            .unwrap()
    }

    #[test]
    fn commands_run_in_a_group_of_their_own_and_are_registered_meanwhile() {
        let sh = xshell::Shell::new().unwrap();
        // The shell's pid, its process group and its stdin.
        let script = "echo $$ $(cut -d' ' -f5 /proc/$$/stat) $(readlink /proc/$$/fd/0)";
        let text = read(xshell::cmd!(sh, "sh -c {script}")).unwrap();
        let words: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(words.len(), 3, "{text:?}");
        assert_eq!(words[0], words[1], "pid and process group differ: {text:?}");
        assert_eq!(words[2], "/dev/null", "{text:?}");
        // SAFETY: getpgrp(2) has no preconditions.
        assert_ne!(words[1].parse::<i32>().unwrap(), unsafe { libc::getpgrp() });

        // Registered while it runs, and no longer afterwards.
        let watched = std::thread::spawn(|| {
            let sh = xshell::Shell::new().unwrap();
            read(xshell::cmd!(sh, "sh -c 'echo $$; sleep 1'")).unwrap()
        });
        let mut seen = BTreeSet::new();
        while !watched.is_finished() {
            seen.extend(GROUPS.lock().unwrap().0.iter().copied());
            std::thread::sleep(Duration::from_millis(10));
        }
        let pid: i32 = watched.join().unwrap().trim().parse().unwrap();
        assert!(
            seen.contains(&pid),
            "group {pid} was never registered: {seen:?}"
        );
        assert!(
            !GROUPS.lock().unwrap().0.contains(&pid),
            "group {pid} still registered"
        );
    }

    #[test]
    fn a_failing_command_is_named_with_its_status_and_stderr() {
        let sh = xshell::Shell::new().unwrap();
        let err = read(xshell::cmd!(
            sh,
            "sh -c 'echo out; echo broken >&2; exit 3'"
        ))
        .unwrap_err()
        .to_string();
        // The command, its status, and stderr alone (stdout is not quoted).
        assert!(
            err.starts_with("`sh -c ") && err.ends_with(" failed (exit status: 3): broken"),
            "{err}"
        );
        let err = read(xshell::cmd!(sh, "gsi-no-such-program")).unwrap_err();
        assert!(
            format!("{err:#}").contains("starting `gsi-no-such-program`"),
            "{err:#}"
        );
    }

    #[test]
    fn stopping_reaches_children_that_ignore_sigterm() {
        // One group exits on SIGTERM; the other (and its grandchild)
        // ignores it and must be killed after the grace period.
        let mut polite = spawn_group("sleep 100");
        let mut stubborn = spawn_group("trap '' TERM; sleep 100 & wait");
        std::thread::sleep(Duration::from_millis(200));
        let groups = [polite.id() as i32, stubborn.id() as i32];
        let started = Instant::now();
        stop_groups(&groups, Duration::from_millis(500));
        assert!(started.elapsed() < Duration::from_secs(5));
        polite.wait().unwrap();
        stubborn.wait().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        for g in groups {
            assert!(!group_is_running(g), "group {g} still runs");
        }
    }
}
