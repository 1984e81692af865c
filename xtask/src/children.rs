//! Child processes (make, QEMU) and what happens to them on Ctrl-C or
//! SIGTERM: every long-lived child runs in its own process group and is
//! registered here; the signal handler kills every registered group, says
//! what was stopped, and exits with 130. Caches stay consistent because
//! every cache entry is written to a temporary path and renamed.

use std::collections::BTreeSet;
use std::sync::{Mutex, Once};

static GROUPS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());
static INSTALL: Once = Once::new();

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
pub fn register(pid: u32) {
    GROUPS.lock().unwrap().insert(pid as i32);
}

pub fn unregister(pid: u32) {
    GROUPS.lock().unwrap().remove(&(pid as i32));
}

/// Kills every registered process group; returns how many there were.
pub fn kill_all() -> usize {
    let groups: Vec<i32> = GROUPS.lock().unwrap().iter().copied().collect();
    for pgid in &groups {
        // SAFETY: kill(2) with a negative pid signals that process group;
        // it has no memory-safety preconditions.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
    groups.len()
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
