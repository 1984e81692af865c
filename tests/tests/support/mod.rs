//! What the fault tests (`faults.rs`) share: a scratch copy of configs/
//! the real `xtask` binary runs on, the process table read from /proc (so
//! "nothing left behind" is checked on every process a run started),
//! waiting for an event instead of a fixed time, signals, and the runs,
//! logs and caches the tests look at.
// Each test file that includes it (faults.rs, as_root.rs) uses a part.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};
use xtask::report::{Report, Run, Verdict};

/// The revision every fault is provoked on (its kernel is cached by e2e).
pub const REV: &str = "v4";

/// The tests share target/gsi and the CPU: one at a time, even when the
/// harness is run with several test threads.
pub fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The `xtask` binary, built now (a no-op when it is up to date).
pub fn xtask_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .args(["build", "-p", "xtask", "--bin", "xtask"])
            .arg("--message-format=json-render-diagnostics")
            .current_dir(xtask::project_root())
            .stderr(Stdio::inherit())
            .output()
            .expect("running cargo build for the xtask binary");
        assert!(out.status.success(), "building the xtask binary failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["target"]["name"] == "xtask" && v["executable"].is_string())
            .map(|v| PathBuf::from(v["executable"].as_str().unwrap()))
            .expect("cargo named no xtask executable")
    })
}

/// A scratch directory with a copy of configs/ whose kernel.toml names
/// the shipped fragment by its absolute path: the kernel config hash, and
/// so every cached kernel, stays the same.
pub struct Scratch {
    pub dir: tempfile::TempDir,
    pub configs: PathBuf,
    pub marker: String,
}

impl Scratch {
    pub fn new() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        let configs = dir.path().join("configs");
        let real = xtask::project_root().join("configs");
        xtask::test_support::copy_dir(&real, &configs);
        let fragment = real.join("kernel/boot.config");
        let toml = std::fs::read_to_string(configs.join("kernel.toml")).unwrap();
        let pinned = toml.replace(
            "fragments = [\"kernel/boot.config\"]",
            &format!("fragments = [{:?}]", fragment.display().to_string()),
        );
        assert_ne!(
            toml, pinned,
            "kernel.toml no longer lists kernel/boot.config"
        );
        std::fs::write(configs.join("kernel.toml"), pinned).unwrap();
        let marker = format!(
            "gsi-fault-{}-{}",
            std::process::id(),
            dir.path().file_name().unwrap().to_string_lossy()
        );
        let scratch = Scratch {
            dir,
            configs,
            marker,
        };
        let silent = xtask::sys::progress::Reporter::silent();
        let ours =
            xtask::pipeline::pin::resolve(&scratch.configs.join("kernel.toml"), &silent).unwrap();
        let shipped = xtask::pipeline::pin::resolve(&real.join("kernel.toml"), &silent).unwrap();
        assert_eq!(
            ours.config.hash(),
            shipped.config.hash(),
            "the copied configs would build new kernels"
        );
        scratch
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Adds `configs/topologies/<name>.toml`: q35 with `extra` top-level
    /// keys (cmdline, timeout_s, bridges).
    pub fn topology(&self, name: &str, extra: &str) {
        let dir = self.configs.join("topologies");
        let q35 = std::fs::read_to_string(dir.join("q35.toml")).unwrap();
        let text = q35.replacen(
            "machine = \"q35\"\n",
            &format!("machine = \"q35\"\n{extra}\n"),
            1,
        );
        assert_ne!(q35, text);
        std::fs::write(dir.join(format!("{name}.toml")), text).unwrap();
    }

    pub fn json(&self) -> PathBuf {
        self.path().join("report.json")
    }

    /// `xtask <args>` on these configs, not waited for.
    pub fn spawn<S: AsRef<OsStr>>(&self, args: &[S], env: &[(&str, &OsStr)]) -> Child {
        let mut cmd = Command::new(xtask_bin());
        cmd.args(args)
            .env("GSI_CONFIG_DIR", &self.configs)
            .env("GSI_FAULT_MARKER", &self.marker)
            .env("CI", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.spawn().expect("starting xtask")
    }

    /// `xtask <args>` to its end: (exit code, stdout + stderr).
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S], env: &[(&str, &OsStr)]) -> (i32, String) {
        finish(self.spawn(args, env))
    }

    /// `test-matrix -r REV`, `-t` each of `topologies`, `--json json`, then
    /// `extra`: the run nearly every fault test starts.
    pub fn matrix_args(&self, json: &Path, topologies: &[&str], extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = ["test-matrix", "-r", REV].map(String::from).to_vec();
        for topology in topologies {
            args.extend(["-t".to_string(), topology.to_string()]);
        }
        args.extend(["--json".to_string(), json.display().to_string()]);
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    }

    /// [`Scratch::matrix_args`] with this scratch's report, not waited for.
    pub fn spawn_matrix(&self, topologies: &[&str], extra: &[&str]) -> Child {
        self.spawn(&self.matrix_args(&self.json(), topologies, extra), &[])
    }

    /// [`Scratch::matrix_args`] with this scratch's report, to its end.
    pub fn run_matrix(
        &self,
        topologies: &[&str],
        extra: &[&str],
        env: &[(&str, &OsStr)],
    ) -> (i32, String) {
        self.run(&self.matrix_args(&self.json(), topologies, extra), env)
    }

    /// The run on `topology` in this scratch's report, which must have
    /// ended with `verdict`.
    pub fn run_on(&self, topology: &str, verdict: Verdict) -> Run {
        let run = run_of(&self.report(), topology).clone();
        assert_eq!(run.verdict, verdict, "{run:#?}");
        run
    }

    pub fn report(&self) -> Report {
        Report::read_json(&self.json()).unwrap()
    }

    /// Live processes started by runs of this scratch (any depth).
    pub fn leftovers(&self) -> Vec<String> {
        processes()
            .into_iter()
            .filter(|p| {
                p.environ
                    .contains(&format!("GSI_FAULT_MARKER={}", self.marker))
            })
            .map(|p| format!("{} {}", p.pid, p.cmdline))
            .collect()
    }

    /// Gives the processes of this scratch a moment to end (a killed
    /// child is reaped by init a moment later), then kills what is left,
    /// so that a failing test leaves nothing running either; returns what
    /// had to be killed.
    pub fn kill_leftovers(&self) -> Vec<String> {
        if wait_for(Duration::from_secs(3), || self.leftovers().is_empty()) {
            return Vec::new();
        }
        let left = self.leftovers();
        for process in &left {
            let pid = process.split_whitespace().next().unwrap();
            let _ = kill(pid, "-KILL");
        }
        left
    }

    pub fn assert_no_leftovers(&self) {
        let left = self.kill_leftovers();
        assert!(left.is_empty(), "processes left behind: {left:#?}");
    }
}

pub fn finish(child: Child) -> (i32, String) {
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

pub struct Process {
    pub pid: u32,
    pub cmdline: String,
    pub environ: String,
    pub comm: String,
}

/// Every live (not zombie) process, from /proc.
pub fn processes() -> Vec<Process> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let read = |f: &str| {
            std::fs::read(entry.path().join(f))
                .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
                .unwrap_or_default()
        };
        let stat = read("stat");
        let state = stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next().map(str::to_string));
        if stat.is_empty() || state.as_deref() == Some("Z") {
            continue;
        }
        all.push(Process {
            pid,
            cmdline: read("cmdline"),
            environ: read("environ"),
            comm: read("comm").trim().to_string(),
        });
    }
    all
}

pub fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn signal(pid: u32, signal: &str) {
    let ok = kill(&pid.to_string(), signal).unwrap().success();
    assert!(ok, "kill {signal} {pid} failed");
}

/// The shell's own `kill`: /usr/bin/kill comes with procps, which a bare
/// Debian (debootstrap minbase) does not have.
fn kill(pid: &str, signal: &str) -> std::io::Result<std::process::ExitStatus> {
    Command::new("sh")
        .args(["-c", "kill \"$0\" \"$1\"", signal, pid])
        .status()
}

/// The QEMU started by a run of this scratch.
pub fn qemu_of(scratch: &Scratch) -> Option<u32> {
    processes()
        .into_iter()
        .find(|p| {
            p.cmdline.starts_with("qemu-system-x86_64 ")
                && p.environ
                    .contains(&format!("GSI_FAULT_MARKER={}", scratch.marker))
        })
        .map(|p| p.pid)
}

/// Whether the console log of `topology` in the run that xtask process
/// `pid` is making (`logs/run-<time>-<pid>/`) holds `text` yet.
pub fn console_says(pid: u32, topology: &str, text: &str) -> bool {
    let suffix = format!("-{pid}");
    std::fs::read_dir(xtask::work_dir().join("logs"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(&suffix))
        .any(|e| {
            let log = e.path().join(REV).join(format!("{topology}.console.log"));
            std::fs::read_to_string(log).is_ok_and(|t| t.contains(text))
        })
}

pub fn run_of<'a>(report: &'a Report, topology: &str) -> &'a Run {
    report
        .runs
        .iter()
        .find(|r| r.topology == topology)
        .unwrap_or_else(|| panic!("no run on {topology}: {:#?}", report.runs))
}

pub fn log_of(run: &Run) -> PathBuf {
    let log = PathBuf::from(&run.log);
    if log.is_absolute() {
        log
    } else {
        xtask::project_root().join(log)
    }
}

/// The `-initrd` path on the command line a boot log starts with.
pub fn initrd_in(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap();
    let header = text.lines().next().unwrap();
    let mut words = header.split_whitespace();
    words
        .find(|w| *w == "-initrd")
        .expect("no -initrd in the log");
    words.next().unwrap().to_string()
}

pub fn no_process_mentions(path: &str) -> bool {
    processes().iter().all(|p| !p.cmdline.contains(path))
}

/// The cached image of [`REV`] and its recorded checksum.
pub fn cached_image() -> (PathBuf, PathBuf) {
    let silent = xtask::sys::progress::Reporter::silent();
    let pin =
        xtask::pipeline::pin::resolve(&xtask::project_root().join("configs/kernel.toml"), &silent)
            .unwrap();
    let rev =
        xtask::pipeline::revision::load(&xtask::pipeline::revision::series_dir(), REV).unwrap();
    let dir = xtask::work_dir()
        .join("kernels")
        .join(format!("{REV}-{}", xtask::pipeline::build::key(&pin, &rev)));
    (dir.join("bzImage"), dir.join("bzImage.sha256"))
}

/// The shipped pin's .deb: (package file name, sha256, path in target/gsi).
pub fn shipped_deb() -> (String, String, PathBuf) {
    let toml =
        xtask::config::kernel::KernelToml::load(&xtask::project_root().join("configs/kernel.toml"))
            .unwrap();
    let xtask::config::kernel::Source::Debian {
        package,
        version,
        sha256,
    } = toml.source
    else {
        panic!("the shipped pin is not a Debian package");
    };
    let name = format!("{package}_{}.deb", version.replace(':', "%3a"));
    let path = xtask::work_dir().join("downloads").join(&name);
    (name, sha256, path)
}

/// A scratch work dir (`<scratch>/work`) whose downloads hold the shipped
/// pin's verified .deb (a hard link, or a copy): (work dir, its sha256).
pub fn work_with_the_shipped_deb(scratch: &Scratch) -> (PathBuf, String) {
    let work = scratch.path().join("work");
    let (name, sha256, shipped) = shipped_deb();
    let deb = work.join("downloads").join(&name);
    std::fs::create_dir_all(deb.parent().unwrap()).unwrap();
    std::fs::hard_link(&shipped, &deb)
        .or_else(|_| std::fs::copy(&shipped, &deb).map(|_| ()))
        .unwrap();
    (work, sha256)
}

/// A tmpfs mounted for the length of a test.
pub struct Tmpfs(pub PathBuf);

impl Tmpfs {
    pub fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().unwrap().is_dir() {
            found.push(entry.path());
            found.extend(files_under(&entry.path()));
        } else {
            found.push(entry.path());
        }
    }
    found
}

/// Starts `xtask <args>`, waits for a process of this run that `wanted`
/// picks (`what`), lets it work a second, and sends `sig` to the harness
/// alone (as `kill` or a service manager does; a terminal's Ctrl-C would
/// reach its whole group). Checks what every interrupt promises: exit
/// 130, the message naming the stopped groups (none stopped means the
/// child ran outside the registry), and no process of the run left.
/// Returns the output.
pub fn interrupt_during<S: AsRef<OsStr>>(
    scratch: &Scratch,
    args: &[S],
    env: &[(&str, &OsStr)],
    sig: &str,
    what: &str,
    wanted: impl Fn(&Process) -> bool,
) -> String {
    let mut child = scratch.spawn(args, env);
    let pid = child.id();
    let marker = format!("GSI_FAULT_MARKER={}", scratch.marker);
    let mut ended = false;
    let seen = wait_for(Duration::from_secs(900), || {
        ended = child.try_wait().unwrap().is_some();
        ended
            || processes()
                .iter()
                .any(|p| p.environ.contains(&marker) && wanted(p))
    });
    if ended || !seen {
        let _ = child.kill();
        let (code, output) = finish(child);
        panic!("{what} never started (exit {code}):\n{output}");
    }
    std::thread::sleep(Duration::from_secs(1));
    signal(pid, sig);
    // The harness's end first, then its leftovers (killed, so that a
    // failing test leaves nothing running either), then its output: a
    // leftover child holding the output pipes would keep it open.
    let code = child.wait().unwrap().code().unwrap_or(-1);
    let left = scratch.kill_leftovers();
    let (_, output) = finish(child);
    println!("== kill {sig} during {what}:\n{output}");
    assert!(
        left.is_empty(),
        "kill {sig} during {what} left {left:#?}\n{output}"
    );
    assert_eq!(code, 130, "kill {sig} during {what}: {output}");
    assert!(
        output.contains("interrupted: stopped ") && !output.contains("interrupted: stopped 0 "),
        "kill {sig} during {what}: {output}"
    );
    output
}

/// `git -C dir args...` through the crate's own git helper, asserting
/// success; stdout, trimmed.
pub fn git_in(dir: &Path, args: &[&str]) -> String {
    xtask::test_support::git(dir, args, &[])
}

/// Removes a scratch revision's tree from the shared work dir when a test
/// ends, however it ends.
pub struct ScratchTree {
    pub pin: xtask::pipeline::pin::Pin,
    pub name: String,
}

impl ScratchTree {
    pub fn trees(&self) -> PathBuf {
        xtask::work_dir().join("trees").join(&self.pin.key)
    }
}

impl Drop for ScratchTree {
    fn drop(&mut self) {
        let trees = self.trees();
        let _ = std::fs::remove_dir_all(trees.join(&self.name));
        let _ = std::fs::remove_dir_all(trees.join(format!(".{}.keep", self.name)));
        for file in ["applied.toml", "lock"] {
            let _ = std::fs::remove_file(trees.join(format!("{}.{file}", self.name)));
        }
        let _ = std::fs::remove_file(
            xtask::work_dir()
                .join("logs")
                .join(format!("check-series-{}.json", self.name)),
        );
        let _ = Command::new("git")
            .arg("-C")
            .arg(&self.pin.repo)
            .args(["worktree", "prune"])
            .status();
    }
}
