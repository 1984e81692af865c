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
//! Every child goes through one builder, [`Cmd`] (after cargo's
//! `ProcessBuilder`): its stdin is /dev/null unless the command is
//! [`Cmd::interactive`] (a child outside the terminal's foreground group
//! must not read it), it runs in a registered process group of its own,
//! and every error names the full command line. duct does the spawning
//! behind it: pipelines, captured or streamed output, waiting, killing.

use anyhow::{bail, Context, Result};
use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};
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

/// A command to run: program, arguments, directory, environment, and
/// where its input and output go. Built by value and run by reference,
/// so a command can be shown (`{cmd}` is its shell-quoted command line)
/// and run again.
#[derive(Debug, Clone)]
pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    dir: Option<PathBuf>,
    /// Set (`Some`) or removed (`None`), in order.
    env: Vec<(OsString, Option<OsString>)>,
    /// Bytes for its stdin; `None` is /dev/null.
    input: Option<Vec<u8>>,
    interactive: bool,
    stdout: Sink,
    stderr: Sink,
    /// The next command of a pipeline, reading this one's stdout.
    then: Option<Box<Cmd>>,
}

/// Where a stream of the child goes when it is not captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sink {
    /// Captured ([`Cmd::output`], [`Cmd::read`], [`Cmd::start`]) or
    /// inherited ([`Cmd::status`]), as the way it is run says.
    Default,
    Null,
    /// stderr into stdout, in the order written.
    Stdout,
}

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Cmd {
        Cmd {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            dir: None,
            env: Vec::new(),
            input: None,
            interactive: false,
            stdout: Sink::Default,
            stderr: Sink::Default,
            then: None,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Cmd {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I>(mut self, args: I) -> Cmd
    where
        I: IntoIterator,
        I::Item: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn dir(mut self, dir: impl AsRef<Path>) -> Cmd {
        self.dir = Some(dir.as_ref().to_owned());
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Cmd {
        self.env
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Cmd {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    /// Feeds `bytes` to its stdin instead of /dev/null.
    pub fn stdin_bytes(mut self, bytes: Vec<u8>) -> Cmd {
        self.input = Some(bytes);
        self
    }

    /// A child that talks to the user (QEMU's console in `boot`): it keeps
    /// the terminal, stdin included, and stays in the harness's process
    /// group, the terminal's foreground group, so Ctrl-C reaches it as the
    /// terminal decides. Only [`Cmd::status`] runs it.
    pub fn interactive(mut self) -> Cmd {
        self.interactive = true;
        self
    }

    pub fn stdout_null(mut self) -> Cmd {
        self.stdout = Sink::Null;
        self
    }

    pub fn stderr_null(mut self) -> Cmd {
        self.stderr = Sink::Null;
        self
    }

    /// stderr goes where stdout goes, interleaved as written.
    pub fn stderr_to_stdout(mut self) -> Cmd {
        self.stderr = Sink::Stdout;
        self
    }

    /// `self | next`: `next` reads this command's stdout. Input, output
    /// and the process group are the whole pipeline's, set on either end.
    pub fn pipe(mut self, next: Cmd) -> Cmd {
        let mut last = &mut self;
        while last.then.is_some() {
            last = last.then.as_mut().unwrap();
        }
        last.then = Some(Box::new(next));
        self
    }

    /// Runs it to its end with stdout and stderr captured; the exit status
    /// is the caller's to judge. A child that ends because of Ctrl-C does
    /// not return here: the thread waits for the handler to end the
    /// process, so an interrupted step never looks like a failed one (and
    /// never triggers a failure's clean-up).
    pub fn output(&self) -> Result<std::process::Output> {
        self.to_end(self.expression(true))
    }

    /// Its stdout without the trailing newline, or an error that names
    /// the command, its exit status and what it printed on stderr.
    pub fn read(&self) -> Result<String> {
        let output = self.output()?;
        if !output.status.success() {
            bail!(
                "`{self}` failed ({}): {}",
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

    /// [`Cmd::read`], for a command whose output is not wanted.
    pub fn run(&self) -> Result<()> {
        self.read().map(|_| ())
    }

    /// Runs it to its end with stdout and stderr on the harness's own
    /// (a `ci` step, an interactive boot); the status is the caller's.
    pub fn status(&self) -> Result<std::process::ExitStatus> {
        let expression = self.expression(false);
        if self.interactive {
            let output = expression.run();
            return Ok(output.with_context(|| format!("running `{self}`"))?.status);
        }
        Ok(self.to_end(expression)?.status)
    }

    /// Runs `expression` (this command, as [`Cmd::expression`] built it)
    /// to its end, registered while it runs; a child that ended because
    /// of Ctrl-C parks this thread until the handler ends the process.
    fn to_end(&self, expression: duct::Expression) -> Result<std::process::Output> {
        let started = Started::new(
            expression
                .start()
                .with_context(|| format!("starting `{self}`"))?,
        );
        let output = started.handle.into_output();
        drop(started.registered);
        park_if_interrupted();
        output.with_context(|| format!("running `{self}`"))
    }

    /// Starts it and streams its stdout (with stderr, if
    /// [`Cmd::stderr_to_stdout`]) as it comes: make's lines, QEMU's
    /// console. Registered until the [`Reader`] is dropped.
    pub fn reader(&self) -> Result<Reader> {
        let handle = self
            .expression(false)
            .reader()
            .with_context(|| format!("starting `{self}`"))?;
        Ok(Started::new(handle))
    }

    /// Starts it without waiting (a load build beside the boots, a vng run
    /// under a time limit); stdout is captured unless it is sent to null.
    /// Registered until the [`Running`] is dropped.
    pub fn start(&self) -> Result<Running> {
        let handle = self
            .expression(true)
            .start()
            .with_context(|| format!("starting `{self}`"))?;
        Ok(Started::new(handle))
    }

    /// One stage as duct runs it: program, arguments, directory and
    /// environment.
    fn stage(&self) -> duct::Expression {
        let mut expression = duct::cmd(&self.program, &self.args);
        if let Some(dir) = &self.dir {
            expression = expression.dir(dir);
        }
        for (key, value) in &self.env {
            expression = match value {
                Some(value) => expression.env(key, value),
                None => expression.env_remove(key),
            };
        }
        expression
    }

    /// The whole expression: every stage piped into the next, stdin from
    /// /dev/null (or the given bytes) unless interactive, each process in
    /// a group of its own unless interactive, the exit status unchecked.
    fn expression(&self, capture: bool) -> duct::Expression {
        let mut expression = self.stage();
        let mut next = self.then.as_deref();
        while let Some(cmd) = next {
            expression = expression.pipe(cmd.stage());
            next = cmd.then.as_deref();
        }
        expression = match (&self.input, self.interactive) {
            (Some(bytes), _) => expression.stdin_bytes(bytes.clone()),
            (None, true) => expression,
            (None, false) => expression.stdin_null(),
        };
        expression = match self.stderr {
            Sink::Null => expression.stderr_null(),
            Sink::Stdout => expression.stderr_to_stdout(),
            Sink::Default if capture => expression.stderr_capture(),
            Sink::Default => expression,
        };
        expression = match self.stdout {
            Sink::Null => expression.stdout_null(),
            Sink::Default if capture => expression.stdout_capture(),
            _ => expression,
        };
        if !self.interactive {
            // One kill reaches make's whole tree, and a terminal's Ctrl-C
            // goes through the handler rather than straight to the child.
            expression = expression.before_spawn(|command| {
                use std::os::unix::process::CommandExt;
                command.process_group(0);
                Ok(())
            });
        }
        expression.unchecked()
    }
}

/// The command line, quoted for a shell (`a | b` for a pipeline); the
/// directory and environment are not shown.
impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<String> = std::iter::once(&self.program)
            .chain(&self.args)
            .map(|w| w.to_string_lossy().into_owned())
            .collect();
        f.write_str(&shell_words(&words))?;
        if let Some(next) = &self.then {
            write!(f, " | {next}")?;
        }
        Ok(())
    }
}

/// Arguments quoted for a human to paste into a shell.
pub fn shell_words(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_=,./:@".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A started child, registered until it is dropped: a [`Reader`]
/// ([`Cmd::reader`], its output read as it comes) or a [`Running`]
/// ([`Cmd::start`], not waited for yet).
pub struct Started<H: Handle> {
    // Fields drop in order: unregistered, then (duct's rule for a reader
    // not read to its end) killed and reaped.
    registered: Registered,
    handle: H,
}

/// [`Cmd::reader`]'s child.
pub type Reader = Started<duct::ReaderHandle>;
/// [`Cmd::start`]'s child.
pub type Running = Started<duct::Handle>;

/// What [`Started`] needs of a duct handle.
pub trait Handle {
    fn pids(&self) -> Vec<u32>;
    fn try_wait(&self) -> std::io::Result<Option<&std::process::Output>>;
    fn kill(&self) -> std::io::Result<()>;
}

impl Handle for duct::ReaderHandle {
    fn pids(&self) -> Vec<u32> {
        duct::ReaderHandle::pids(self)
    }
    fn try_wait(&self) -> std::io::Result<Option<&std::process::Output>> {
        duct::ReaderHandle::try_wait(self)
    }
    fn kill(&self) -> std::io::Result<()> {
        duct::ReaderHandle::kill(self)
    }
}

impl Handle for duct::Handle {
    fn pids(&self) -> Vec<u32> {
        duct::Handle::pids(self)
    }
    fn try_wait(&self) -> std::io::Result<Option<&std::process::Output>> {
        duct::Handle::try_wait(self)
    }
    fn kill(&self) -> std::io::Result<()> {
        duct::Handle::kill(self)
    }
}

impl<H: Handle> Started<H> {
    /// Registers the child behind `handle`.
    fn new(handle: H) -> Started<H> {
        Started {
            registered: Registered::new(handle.pids()),
            handle,
        }
    }

    /// The pids (each its own group's id) of the child, or of every
    /// process of a pipeline.
    pub fn pids(&self) -> Vec<u32> {
        self.registered.pids.clone()
    }

    pub fn try_wait(&self) -> std::io::Result<Option<&std::process::Output>> {
        self.handle.try_wait()
    }

    /// SIGKILL to the whole group of each process (nothing holding its
    /// output can keep a reader waiting), then reaps it. A no-op once it
    /// has exited.
    pub fn kill(&self) -> std::io::Result<()> {
        for pid in self.pids() {
            kill_group(pid);
        }
        self.handle.kill()
    }
}

impl Running {
    pub fn wait(&self) -> std::io::Result<&std::process::Output> {
        self.handle.wait()
    }
}

impl std::io::Read for &Reader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        (&self.handle).read(buf)
    }
}

/// Registers the child behind a duct handle for as long as the guard lives.
struct Registered {
    pids: Vec<u32>,
}

impl Registered {
    fn new(pids: Vec<u32>) -> Registered {
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
        // The shell's pid, its process group and its stdin.
        let script = "echo $$ $(cut -d' ' -f5 /proc/$$/stat) $(readlink /proc/$$/fd/0)";
        let text = Cmd::new("sh").args(["-c", script]).read().unwrap();
        let words: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(words.len(), 3, "{text:?}");
        assert_eq!(words[0], words[1], "pid and process group differ: {text:?}");
        assert_eq!(words[2], "/dev/null", "{text:?}");
        // SAFETY: getpgrp(2) has no preconditions.
        assert_ne!(words[1].parse::<i32>().unwrap(), unsafe { libc::getpgrp() });

        // Registered while it runs, and no longer afterwards.
        let watched = std::thread::spawn(|| {
            Cmd::new("sh")
                .args(["-c", "echo $$; sleep 1"])
                .read()
                .unwrap()
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
    fn every_process_of_a_pipeline_has_its_own_group_and_stdin_is_given_bytes() {
        let text = Cmd::new("sh")
            .args(["-c", "cat; echo $$ $(cut -d' ' -f5 /proc/$$/stat)"])
            .stdin_bytes(b"in ".to_vec())
            .pipe(Cmd::new("sh").args(["-c", "cat; echo $$ $(cut -d' ' -f5 /proc/$$/stat)"]))
            .read()
            .unwrap();
        let words: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(words.len(), 5, "{text:?}");
        assert_eq!(words[0], "in", "{text:?}");
        assert_eq!(words[1], words[2], "{text:?}");
        assert_eq!(words[3], words[4], "{text:?}");
        assert_ne!(words[1], words[3], "{text:?}");
    }

    #[test]
    fn a_failing_command_is_named_with_its_status_and_stderr() {
        let err = Cmd::new("sh")
            .args(["-c", "echo out; echo broken >&2; exit 3"])
            .read()
            .unwrap_err()
            .to_string();
        // The command, its status, and stderr alone (stdout is not quoted).
        assert_eq!(
            err,
            "`sh -c 'echo out; echo broken >&2; exit 3'` failed (exit status: 3): broken"
        );
        let err = Cmd::new("gsi-no-such-program")
            .arg("x y")
            .read()
            .unwrap_err();
        assert!(
            format!("{err:#}").starts_with("starting `gsi-no-such-program 'x y'`: "),
            "{err:#}"
        );
        let piped = Cmd::new("true").pipe(Cmd::new("gsi-no-such-program"));
        assert_eq!(piped.to_string(), "true | gsi-no-such-program");
        let err = piped.output().unwrap_err();
        assert!(
            format!("{err:#}").contains("`true | gsi-no-such-program`"),
            "{err:#}"
        );
    }

    #[test]
    fn shell_words_quote_what_needs_it() {
        let args = vec![
            "-append".to_string(),
            "console=ttyS0 panic=-1".to_string(),
            "it's".to_string(),
        ];
        assert_eq!(
            shell_words(&args),
            r"-append 'console=ttyS0 panic=-1' 'it'\''s'"
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
