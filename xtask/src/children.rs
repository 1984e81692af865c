//! Child processes (make, QEMU) and what happens to them on Ctrl-C or
//! SIGTERM: every long-lived child runs in its own process group and is
//! registered here; the signal handler stops every registered group, says
//! what was stopped, and exits with 130. Caches stay consistent because
//! every cache entry is written to a temporary path and renamed.

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
                "\ninterrupted: stopped {n} child process group(s) (make, qemu); finished kernels \
                 and logs are kept under target/gsi, unfinished work is redone on the next run"
            );
            std::process::exit(130);
        });
    });
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
