//! Faults, provoked for real, each with the outcome the workbench promises
//! (DESIGN.md, "Bad input and faults"): a kernel panic, a hang, QEMU
//! refusing a device or killed from outside, Ctrl-C and SIGTERM during
//! boots, a kernel build, the pin's unpack and base commit, a series'
//! `git am` and the guest's cargo build, a tampered kernel image, a
//! truncated or wrong pin download, a full disk while unpacking, a patch
//! that does not apply, and two runs at once on one `target/`.
//!
//! The harness runs as the real `xtask` binary with temporary copies of
//! configs/ (extra topologies beside the shipped ones) and, where the test
//! must not touch the shared cache, a temporary work directory. Every
//! child of a run carries a marker in its environment, so "no process is
//! left behind" is checked on the whole process table, not on the pids
//! the test happened to see. The kernels are the cached ones of
//! `target/gsi` (the fault topologies reuse the shipped kernel config), so
//! after `e2e` this file boots but does not build, except where a test
//! tampers with an image on purpose.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::time::Duration;
use support::*;
use xtask::report::{Report, Run, TrialOutcome, Verdict};

/// The time limit of the topology whose guest never answers (each of its
/// two attempts waits this long). Any value works: the guest sleeps for
/// 100000 s; this one leaves a slow machine time to reach that sleep.
const HANG_S: u64 = 20;

/// One matrix with three broken topologies beside the healthy q35, run
/// once and shared by the tests that read it.
struct FaultMatrix {
    scratch: Scratch,
    code: i32,
    output: String,
    report: Report,
}

fn fault_matrix() -> &'static FaultMatrix {
    static MATRIX: OnceLock<FaultMatrix> = OnceLock::new();
    MATRIX.get_or_init(|| {
        let scratch = Scratch::new();
        // A later rdinit= wins: no init in the initramfs, no root device.
        scratch.topology("fault-panic", "cmdline = \"rdinit=/nonexistent\"");
        // A guest that really never answers, whatever the machine's speed:
        // no /init, so the kernel goes to mount a root device and is first
        // told to sleep 100000 s (`rootdelay=`). The limit only decides
        // how long the test waits for it.
        scratch.topology(
            "fault-hang",
            &format!("cmdline = \"rdinit=/nonexistent rootdelay=100000\"\ntimeout_s = {HANG_S}"),
        );
        scratch.topology("fault-baddev", "bridges = [\"gsi-no-such-device\"]");
        let (code, output) = scratch.run_matrix(
            &["q35", "fault-panic", "fault-hang", "fault-baddev"],
            // Every fault provoked now, not a stored earlier result.
            &["--jobs", "2", "--rerun"],
            &[],
        );
        println!("{output}");
        let report = scratch.report();
        FaultMatrix {
            scratch,
            code,
            output,
            report,
        }
    })
}

/// The shared fault matrix's run on `topology`, which must have ended
/// with `verdict`; the tests that read the matrix hold the serial lock.
fn fault(
    topology: &str,
    verdict: Verdict,
) -> (
    std::sync::MutexGuard<'static, ()>,
    &'static FaultMatrix,
    &'static Run,
) {
    let serial = serial();
    let m = fault_matrix();
    let run = run_of(&m.report, topology);
    assert_eq!(run.verdict, verdict, "{run:#?}");
    (serial, m, run)
}

#[test]
#[ignore = "boots real kernels: run by cargo xtask ci"]
fn faulty_topologies_do_not_affect_the_healthy_run() {
    let (_serial, m, q35) = fault("q35", Verdict::Passed);
    assert_eq!(m.code, 1, "failed runs make the exit code 1\n{}", m.output);
    assert!(
        m.output.contains("3 of 4 runs did not pass"),
        "{}",
        m.output
    );
    assert!(q35.trials.iter().any(|t| t.outcome == TrialOutcome::Passed));
    m.scratch.assert_no_leftovers();
}

#[test]
#[ignore = "boots real kernels: run by cargo xtask ci"]
fn kernel_panic_is_named_and_quoted_and_its_log_kept() {
    let (_serial, _m, run) = fault("fault-panic", Verdict::KernelPanic);
    let panic_line = run
        .detail
        .lines()
        .find(|l| l.contains("Kernel panic - not syncing: "))
        .unwrap_or_else(|| panic!("no panic line in the detail: {run:#?}"));
    assert!(
        panic_line.contains("VFS: Unable to mount root fs")
            || panic_line.contains("No working init found"),
        "{panic_line}"
    );
    let log = std::fs::read_to_string(log_of(run)).unwrap();
    assert!(
        log.contains(panic_line.trim()),
        "the log lacks {panic_line:?}"
    );
    assert!(
        log.contains("rdinit=/nonexistent"),
        "the log names the command line"
    );
}

#[test]
#[ignore = "boots real kernels: run by cargo xtask ci"]
fn hang_is_a_timeout_after_one_retry_and_leaves_no_qemu() {
    let (_serial, m, run) = fault("fault-hang", Verdict::Timeout);
    assert!(
        run.detail.contains("first attempt timed out")
            && run.detail.contains("no DONE within the time limit")
            && run.detail.contains(&format!("({HANG_S} s)")),
        "{}",
        run.detail
    );
    let log = log_of(run);
    let first = log.with_extension("attempt1.log");
    for log in [&log, &first] {
        let text = std::fs::read_to_string(log).unwrap();
        assert!(
            text.contains(&format!(
                "[gsi-workbench] no end after {HANG_S}s: QEMU killed"
            )),
            "{}: {text}",
            log.display()
        );
        // The hang is the one provoked, not a slow boot cut short.
        assert!(
            text.contains("Waiting 100000 sec before mounting root device"),
            "{}: the kernel never reached the provoked hang: {text}",
            log.display()
        );
        // The unique initramfs path of that boot is in no live process.
        let initrd = initrd_in(log);
        assert!(initrd.contains(&format!("{REV}-fault-hang-")), "{initrd}");
        assert!(
            no_process_mentions(&initrd),
            "a QEMU with {initrd} survives"
        );
    }
    m.scratch.assert_no_leftovers();
}

#[test]
#[ignore = "boots real kernels: run by cargo xtask ci"]
fn qemu_rejecting_a_device_is_qemu_failed_with_its_own_words() {
    let (_serial, _m, run) = fault("fault-baddev", Verdict::QemuFailed);
    assert!(
        run.detail
            .contains("qemu-system-x86_64: -device gsi-no-such-device: "),
        "{}",
        run.detail
    );
    assert!(
        run.detail.contains("QEMU exited with status 1"),
        "{}",
        run.detail
    );
}

#[test]
#[ignore = "boots real kernels: run by cargo xtask ci"]
fn qemu_killed_mid_boot_is_named() {
    let _serial = serial();
    let scratch = Scratch::new();
    let child = scratch.spawn_matrix(&["q35"], &["--rerun"]);
    let mut qemu = None;
    assert!(
        wait_for(Duration::from_secs(300), || {
            qemu = qemu_of(&scratch);
            qemu.is_some()
        }),
        "no QEMU appeared"
    );
    // Kill QEMU from outside once the kernel is booting: its console says
    // so. (A fixed sleep is not mid-boot: a q35 boot can reach the suite
    // in under a second.)
    let pid = child.id();
    assert!(
        wait_for(Duration::from_secs(120), || console_says(
            pid,
            "q35",
            "Linux version"
        )),
        "the kernel never started (console log of run-*-{pid})"
    );
    signal(qemu.unwrap(), "-KILL");
    let (code, output) = finish(child);
    assert_eq!(code, 1, "{output}");
    let report = scratch.report();
    let run = run_of(&report, "q35");
    assert!(
        matches!(run.verdict, Verdict::QemuFailed | Verdict::BootFailed),
        "{run:#?}"
    );
    assert!(
        run.detail.contains("QEMU was killed by a signal"),
        "{run:#?}"
    );
    scratch.assert_no_leftovers();
}

#[test]
#[ignore = "boots real kernels: run by cargo xtask ci"]
fn sigint_and_sigterm_during_boots_stop_every_child_and_exit_130() {
    let _serial = serial();
    let scratch = Scratch::new();
    for sig in ["-INT", "-TERM"] {
        // --rerun: a QEMU must run to be interrupted.
        let child = scratch.spawn_matrix(&["q35"], &["--rerun"]);
        let pid = child.id();
        assert!(
            wait_for(Duration::from_secs(300), || qemu_of(&scratch).is_some()),
            "no QEMU appeared"
        );
        signal(pid, sig);
        let (code, output) = finish(child);
        assert_eq!(code, 130, "kill {sig}: {output}");
        // (0 groups when QEMU was signalled between its start and its
        // registration: then it is stopped as it registers.)
        assert!(output.contains("interrupted: stopped "), "{output}");
        scratch.assert_no_leftovers();
    }
    // The next run works and reuses the finished kernel.
    let (code, output) = scratch.run_matrix(&["q35"], &[], &[]);
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains(&format!("build {REV}: cached kernel")),
        "{output}"
    );
    assert!(
        !output.contains(&format!("build {REV}: started")),
        "{output}"
    );
}

/// The cached image of [`REV`] (built by `args` first when missing), made
/// one byte longer so that its recorded checksum no longer matches:
/// (image, checksum file, the checksum of the intact image).
fn tamper_with_the_cached_image(scratch: &Scratch, args: &[String]) -> (PathBuf, PathBuf, String) {
    let (image, sum) = cached_image();
    if !image.is_file() {
        let (code, output) = scratch.run(args, &[]);
        assert_eq!(code, 0, "building {REV} first: {output}");
    }
    let good = std::fs::read_to_string(&sum).unwrap();
    assert_eq!(xtask::sha256_file(&image).unwrap(), good.trim());
    let mut bytes = std::fs::read(&image).unwrap();
    bytes.push(0);
    std::fs::write(&image, &bytes).unwrap();
    (image, sum, good)
}

#[test]
#[ignore = "boots real kernels: run by cargo xtask ci"]
fn tampered_image_is_rebuilt_and_sigint_during_the_build_leaves_no_make() {
    let _serial = serial();
    let scratch = Scratch::new();
    let args = scratch.matrix_args(&scratch.json(), &["q35"], &[]);
    let (image, sum, good) = tamper_with_the_cached_image(&scratch, &args);

    // Interrupted while make runs: make's whole group goes, nothing is left.
    // The build is held at a known point until the signal lands: a `gcc`
    // first on PATH that never returns. make runs `$(CC) --version` (CC is
    // `ccache gcc`, and ccache finds gcc on PATH) while it reads the
    // top-level Makefile, so the real make is running, with a compiler
    // child, whatever the machine's speed and whatever ccache holds.
    let held = holding_gcc(&scratch);
    let child = scratch.spawn(&args, &[("PATH", held.as_os_str())]);
    let pid = child.id();
    let ours = |p: &Process| {
        p.environ
            .contains(&format!("GSI_FAULT_MARKER={}", scratch.marker))
    };
    let make_holds = || {
        let all = processes();
        all.iter().any(|p| p.comm == "make" && ours(p))
            && all
                .iter()
                .any(|p| p.cmdline.contains("held-gcc/gcc") && ours(p))
    };
    assert!(
        wait_for(Duration::from_secs(300), make_holds),
        "no make reached the compiler for the tampered image"
    );
    signal(pid, "-INT");
    let (code, output) = finish(child);
    assert_eq!(code, 130, "{output}");
    assert!(
        output.contains("recorded") && output.contains("rebuilding it"),
        "{output}"
    );
    scratch.assert_no_leftovers();
    assert_ne!(
        xtask::sha256_file(&image).unwrap(),
        good.trim(),
        "an interrupted build must not touch the cache"
    );

    // The next run rebuilds (incrementally) an intact image and boots it.
    let (code, output) = scratch.run(&args, &[]);
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains("rebuilding it") && output.contains(&format!("build {REV}: built")),
        "{output}"
    );
    let now = std::fs::read_to_string(&sum).unwrap();
    assert_eq!(xtask::sha256_file(&image).unwrap(), now.trim());
    println!(
        "rebuilt image {} the one before the tampering",
        if now == good {
            "is identical to"
        } else {
            "differs from"
        }
    );
}

/// A PATH whose first directory (`held-gcc/`) holds a `gcc` script that
/// never returns: a kernel build of a run with this PATH is held at its
/// first compiler call, with the script (command line `/bin/sh
/// .../held-gcc/gcc ...`) and its `sleep` in make's process group.
fn holding_gcc(scratch: &Scratch) -> std::ffi::OsString {
    let bin = scratch.path().join("held-gcc");
    std::fs::create_dir_all(&bin).unwrap();
    let gcc = bin.join("gcc");
    std::fs::write(&gcc, "#!/bin/sh\nsleep 600\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&gcc, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(&path))).unwrap()
}

#[test]
#[ignore = "boots real kernels: run by cargo xtask ci"]
fn two_runs_missing_the_same_kernel_build_it_once() {
    let _serial = serial();
    let scratch = Scratch::new();
    let args = scratch.matrix_args(&scratch.json(), &["q35"], &[]);
    let (image, sum, _) = tamper_with_the_cached_image(&scratch, &args);
    // Both see a bad image; the second waits for the first's build and
    // then takes its image instead of running make again.
    let children: Vec<Child> = (0..2).map(|_| scratch.spawn(&args, &[])).collect();
    let outputs: Vec<String> = children
        .into_iter()
        .map(|child| {
            let (code, output) = finish(child);
            assert_eq!(code, 0, "{output}");
            output
        })
        .collect();
    let builds = outputs
        .iter()
        .filter(|o| o.contains(&format!("build {REV}: started")))
        .count();
    assert_eq!(builds, 1, "{outputs:#?}");
    let sum = std::fs::read_to_string(&sum).unwrap();
    assert_eq!(xtask::sha256_file(&image).unwrap(), sum.trim());
    scratch.assert_no_leftovers();
}

#[test]
#[ignore = "boots real kernels: run by cargo xtask ci"]
fn two_runs_at_once_both_pass_with_whole_logs() {
    let _serial = serial();
    let scratch = Scratch::new();
    let reports = [scratch.path().join("a.json"), scratch.path().join("b.json")];
    let children: Vec<Child> = reports
        .iter()
        .map(|json| scratch.spawn(&scratch.matrix_args(json, &["q35"], &["--rerun"]), &[]))
        .collect();
    for child in children {
        let (code, output) = finish(child);
        assert_eq!(code, 0, "{output}");
    }
    let runs: Vec<Run> = reports
        .iter()
        .map(|json| run_of(&Report::read_json(json).unwrap(), "q35").clone())
        .collect();
    // Each run has its own log, holding exactly its own boot: one QEMU
    // command, one whole console, and the end line with its boot time.
    assert_ne!(runs[0].log, runs[1].log);
    for run in &runs {
        assert_eq!(run.verdict, Verdict::Passed, "{run:#?}");
        let log = std::fs::read_to_string(log_of(run)).unwrap();
        assert!(!log.contains('\0'));
        assert!(log.starts_with("$ qemu-system-x86_64 "), "{log}");
        assert_eq!(log.matches("$ qemu-system-x86_64 ").count(), 1, "{log}");
        let console = xtask::pipeline::console::Console::parse(&log);
        assert!(console.ended && console.done, "{log}");
        assert_eq!(console.trials.len(), run.trials.len());
        assert_eq!(
            log.lines().last().unwrap(),
            format!(
                "[gsi-workbench] guest done after {:.2} s: QEMU stopped",
                run.boot_s
            )
        );
    }
    // The shared report was written whole by one of them.
    Report::read_json(&xtask::work_dir().join("last-run.json")).unwrap();
    scratch.assert_no_leftovers();
}

#[test]
#[ignore = "boots real kernels: run by cargo xtask ci"]
fn a_hang_that_passes_on_the_retry_is_flaky() {
    // A stand-in QEMU on PATH: the first boot hangs, the second passes.
    // Deterministic, unlike a real TCG hang.
    let _serial = serial();
    let scratch = Scratch::new();
    scratch.topology("fault-flaky", "timeout_s = 3");
    let bin = scratch.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let count = scratch.path().join("boots");
    // The second boot's report must be whole for the strict judge: every
    // trial the plan makes (fault-flaky is q35 with another limit), the
    // revision's expected failures failing and the rest passing, the
    // counts and the exit status agreeing.
    let planned = xtask::pipeline::selection::planned_trials(REV, "q35").unwrap();
    let matrix = xtask::config::matrix::load(&xtask::config::matrix::path()).unwrap();
    let mut report = format!("@@GSI-BEGIN v1 trials={}\n", planned.len());
    let mut failed = 0;
    for name in &planned {
        let outcome = if matrix.xfail(REV, "fault-flaky", name).is_some() {
            failed += 1;
            "failed"
        } else {
            "passed"
        };
        report.push_str(&format!("@@GSI-TRIAL {outcome} {name}\n"));
    }
    report.push_str(&format!(
        "@@GSI-END passed={} failed={failed} ignored=0\n@@GSI-DONE {}\n",
        planned.len() - failed,
        if failed > 0 { 101 } else { 0 }
    ));
    let report_file = scratch.path().join("report.txt");
    std::fs::write(&report_file, report).unwrap();
    let fake = bin.join("qemu-system-x86_64");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\n\
             n=$(cat {count} 2>/dev/null || echo 0)\n\
             echo $((n + 1)) > {count}\n\
             echo '[    0.000000] Linux version 6.12.117 (stand-in QEMU)'\n\
             if [ \"$n\" = 0 ]; then exec sleep 600; fi\n\
             cat {report}\n\
             exec sleep 600\n",
            count = count.display(),
            report = report_file.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    let (code, output) = scratch.run_matrix(
        &["fault-flaky"],
        &[],
        &[("PATH", path.as_os_str()), ("GSI_ACCEL", "tcg".as_ref())],
    );
    assert_eq!(code, 0, "flaky counts as success\n{output}");
    assert_eq!(std::fs::read_to_string(&count).unwrap().trim(), "2");
    let run = scratch.run_on("fault-flaky", Verdict::Flaky);
    assert!(
        run.detail.contains("first attempt timed out"),
        "{}",
        run.detail
    );
    let first = log_of(&run).with_extension("attempt1.log");
    assert!(std::fs::read_to_string(first)
        .unwrap()
        .contains("no end after 3s: QEMU killed"));
    scratch.assert_no_leftovers();
}

#[test]
#[ignore = "boots real kernels: run by cargo xtask ci"]
fn a_patch_that_does_not_apply_is_named_and_leaves_no_tree() {
    let _serial = serial();
    let scratch = Scratch::new();
    let patches = scratch.path().join("patches");
    let rev = patches.join("fault-broken");
    std::fs::create_dir_all(&rev).unwrap();
    let header = |n: u8, subject: &str| {
        format!(
            "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n\
             From: Fault Test <fault@invalid>\n\
             Date: Mon, 1 Jan 2024 00:00:00 +0000\n\
             Subject: [PATCH {n}/2] {subject}\n\n---\n"
        )
    };
    std::fs::write(
        rev.join("0001-add-a-file.patch"),
        header(1, "add a file")
            + "diff --git a/Documentation/gsi-fault-test.txt b/Documentation/gsi-fault-test.txt\n\
               new file mode 100644\n\
               --- /dev/null\n\
               +++ b/Documentation/gsi-fault-test.txt\n\
               @@ -0,0 +1 @@\n\
               +this one applies anywhere\n\
               -- \n2.39.0\n\n",
    )
    .unwrap();
    std::fs::write(
        rev.join("0002-change-what-is-not-there.patch"),
        header(2, "change what is not there")
            + "diff --git a/drivers/pci/pci-sysfs.c b/drivers/pci/pci-sysfs.c\n\
               --- a/drivers/pci/pci-sysfs.c\n\
               +++ b/drivers/pci/pci-sysfs.c\n\
               @@ -1,3 +1,3 @@\n \
               this line is not in the file\n\
               -neither is this one\n\
               +so the patch cannot apply\n \
               nor this one\n\
               -- \n2.39.0\n\n",
    )
    .unwrap();
    std::fs::write(
        rev.join("series"),
        "0001-add-a-file.patch\n0002-change-what-is-not-there.patch\n",
    )
    .unwrap();
    let json = scratch.json().display().to_string();
    let (code, output) = scratch.run(
        &[
            "test-matrix",
            "-r",
            "fault-broken",
            "-t",
            "q35",
            "--json",
            &json,
        ],
        &[("GSI_PATCHES_DIR", patches.as_os_str())],
    );
    assert_eq!(code, 1, "{output}");
    // Its own verdict: nothing was built.
    let run = scratch.run_on("q35", Verdict::ApplyFailed);
    for want in [
        "revision fault-broken",
        "0002-change-what-is-not-there.patch does not apply",
        "drivers/pci/pci-sysfs.c",
        "nothing was left half-applied",
    ] {
        assert!(run.detail.contains(want), "{want:?} not in {}", run.detail);
    }
    assert!(!run.detail.contains("0001-add-a-file.patch does not"));

    // No tree, no stamp, no worktree, and the base files untouched.
    let silent = xtask::sys::progress::Reporter::silent();
    let pin = xtask::pipeline::pin::resolve(&scratch.configs.join("kernel.toml"), &silent).unwrap();
    let trees = xtask::work_dir().join("trees").join(&pin.key);
    assert!(!trees.join("fault-broken").exists());
    assert!(!trees.join("fault-broken.applied.toml").exists());
    let git = |args: &[&str]| git_in(&pin.repo, args);
    assert!(!git(&["worktree", "list"]).contains("fault-broken"));
    let status = git(&[
        "status",
        "--porcelain",
        "--",
        "drivers/pci/pci-sysfs.c",
        "Documentation/gsi-fault-test.txt",
    ]);
    assert!(status.is_empty(), "the base tree changed: {status}");
    assert_eq!(git(&["rev-parse", "HEAD"]), pin.base);
    scratch.assert_no_leftovers();
}

#[test]
#[ignore = "downloads the pinned .deb (network): run by cargo xtask ci"]
fn a_pin_with_the_wrong_sha256_is_refused_and_nothing_unpacked() {
    let _serial = serial();
    let scratch = Scratch::new();
    let (work, sha256) = work_with_the_shipped_deb(&scratch);
    let wrong = "0".repeat(64);
    let toml_path = scratch.configs.join("kernel.toml");
    let toml = std::fs::read_to_string(&toml_path).unwrap();
    std::fs::write(&toml_path, toml.replace(&sha256, &wrong)).unwrap();
    let (code, output) = scratch.run(&["kernel", "fetch"], &[("GSI_WORK_DIR", work.as_os_str())]);
    assert_eq!(code, 1, "{output}");
    assert!(
        output.contains(&format!(
            "the downloaded .deb has sha256 {sha256}, but configs/kernel.toml pins {wrong}"
        )),
        "{output}"
    );
    let pin = work.join("pin").join(format!("debian-{}", &wrong[..16]));
    assert!(!pin.join("src").exists() && !pin.join("pin.toml").exists());
    let unpacked: Vec<PathBuf> = files_under(&pin);
    assert!(unpacked.is_empty(), "unpacked anyway: {unpacked:#?}");
    assert!(
        files_under(&work.join("downloads")).is_empty(),
        "a .deb that does not match the pin was kept"
    );
    scratch.assert_no_leftovers();
}

#[test]
#[ignore = "unpacks the pinned .deb: run by cargo xtask ci"]
fn sigterm_during_the_unpack_stops_tar_and_leaves_no_pin() {
    let _serial = serial();
    let scratch = Scratch::new();
    let (work, sha256) = work_with_the_shipped_deb(&scratch);
    interrupt_during(
        &scratch,
        &["kernel", "fetch"],
        &[("GSI_WORK_DIR", work.as_os_str())],
        "-TERM",
        "tar",
        |p| p.comm == "tar",
    );
    // No pin: the stamp is written last, so the next run starts over.
    let pin = work.join("pin").join(format!("debian-{}", &sha256[..16]));
    assert!(!pin.join("src").exists() && !pin.join("pin.toml").exists());
}

/// Runs a command of the test itself to success.
fn run_ok(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A small source package built here with dpkg-deb, laid out like
/// linux-source-6.12 (a tarball under /usr/src whose tree ignores every
/// file, a Makefile with the version), and `kernel.toml` of `scratch`
/// pinned to it, the .deb already in `work`'s downloads. The real tree
/// costs minutes of checksum, unpacking and `git add` per attempt (18
/// minutes for an unpack interrupted, a base commit interrupted and a
/// whole pin, on the busy 2-core machine this was written on); this one
/// seconds, through the same code. Returns the pin's directory and the
/// tree's files.
fn small_pin(scratch: &Scratch, work: &Path) -> (PathBuf, Vec<String>) {
    let base = scratch.path().join("small-source");
    let tree = base.join("src/linux-source-6.12");
    let files = [
        (".gitignore", "/*\n"),
        ("Makefile", "VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 117\n"),
        ("drivers/pci/pci-sysfs.c", "int gsi_fault_test;\n"),
        ("Documentation/ABI/testing/sysfs-bus-pci", "What: gsi\n"),
    ];
    for (file, text) in files {
        let path = tree.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let pkg = base.join("pkg");
    std::fs::create_dir_all(pkg.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(pkg.join("usr/src")).unwrap();
    std::fs::write(
        pkg.join("DEBIAN/control"),
        "Package: gsi-fault-source\nVersion: 1.0\nArchitecture: all\n\
         Maintainer: gsi-workbench <dev@gsi-workbench.invalid>\n\
         Description: a small kernel-like source tree for the fault tests\n",
    )
    .unwrap();
    run_ok(
        Command::new("tar")
            .arg("-cJf")
            .arg(pkg.join("usr/src/linux-source-6.12.tar.xz"))
            .arg("-C")
            .arg(base.join("src"))
            .arg("linux-source-6.12"),
    );
    let deb = work.join("downloads/gsi-fault-source_1.0.deb");
    std::fs::create_dir_all(deb.parent().unwrap()).unwrap();
    run_ok(
        Command::new("dpkg-deb")
            .args(["--build", "--root-owner-group"])
            .arg(&pkg)
            .arg(&deb),
    );
    let sha256 = xtask::sha256_file(&deb).unwrap();
    let (_, shipped_sha256, _) = shipped_deb();
    let toml_path = scratch.configs.join("kernel.toml");
    let toml = std::fs::read_to_string(&toml_path).unwrap();
    let small = toml
        .replace("\"linux-source-6.12\"", "\"gsi-fault-source\"")
        .replace(
            &format!("version = {:?}", "6.12.117-1~deb12u1"),
            "version = \"1.0\"",
        )
        .replace(&shipped_sha256, &sha256);
    assert!(
        small.contains("\"gsi-fault-source\"") && small.contains("version = \"1.0\""),
        "kernel.toml changed shape:\n{toml}"
    );
    std::fs::write(&toml_path, small).unwrap();
    let mut names: Vec<String> = files.iter().map(|(f, _)| f.to_string()).collect();
    names.sort();
    (
        work.join("pin").join(format!("debian-{}", &sha256[..16])),
        names,
    )
}

/// A hooks directory whose `hook` holds git (`sleep 600`), and the
/// `GIT_CONFIG_PARAMETERS` value that makes every git of a run use it.
/// The harness's own git config (`GIT_CONFIG_COUNT`, no global or system
/// file) leaves this one in force.
fn holding_hook(scratch: &Scratch, hook: &str) -> std::ffi::OsString {
    let hooks = scratch.path().join("hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    let path = hooks.join(hook);
    std::fs::write(&path, "#!/bin/sh\nexec sleep 600\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!("'core.hooksPath={}'", hooks.display()).into()
}

#[test]
#[ignore = "makes a pin in a scratch work dir: run by cargo xtask ci"]
fn sigint_during_the_base_commit_stops_git_and_the_next_run_makes_the_pin_anew() {
    let _serial = serial();
    let scratch = Scratch::new();
    let work = scratch.path().join("work");
    let (pin, files) = small_pin(&scratch, &work);
    let fetch = ["kernel", "fetch"];

    // `git commit` of the base held by its prepare-commit-msg hook (which
    // --no-verify does not skip): everything is added, nothing committed.
    let held = holding_hook(&scratch, "prepare-commit-msg");
    interrupt_during(
        &scratch,
        &fetch,
        &[
            ("GSI_WORK_DIR", work.as_os_str()),
            ("GIT_CONFIG_PARAMETERS", &held),
        ],
        "-INT",
        "git commit's hook",
        |p| p.comm == "sleep",
    );
    assert!(!pin.join("src").exists() && !pin.join("pin.toml").exists());
    let half_made = std::fs::read_dir(&pin)
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_dir(e.path().join("unpacked")).ok())
        .flat_map(|d| d.flatten())
        .any(|tree| tree.path().join(".git/index").is_file());
    assert!(half_made, "no half-made repository to distrust in {pin:?}");

    // The next run throws it away and makes the whole pin.
    let (code, output) = scratch.run(&fetch, &[("GSI_WORK_DIR", work.as_os_str())]);
    println!("== the next run:\n{output}");
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains("pin: preparing gsi-fault-source 1.0"),
        "{output}"
    );
    assert!(output.contains("is linux 6.12.117 at "), "{output}");
    let mut entries: Vec<String> = std::fs::read_dir(&pin)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(entries, ["pin.toml", "src"]);
    let src = pin.join("src");
    let stamp = std::fs::read_to_string(pin.join("pin.toml")).unwrap();
    let head = git_in(&src, &["rev-parse", "HEAD"]);
    assert!(stamp.contains(&format!("base = \"{head}\"")), "{stamp}");
    assert_eq!(git_in(&src, &["rev-list", "--count", "HEAD"]), "1");
    let listed: Vec<String> = git_in(&src, &["ls-files"])
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(listed, files);
    assert_eq!(git_in(&src, &["status", "--porcelain", "--ignored"]), "");
    scratch.assert_no_leftovers();
}

/// A guest target dir for one test: a copy of the project's (when there
/// is one) without cargo's record of the two guest crates, so the next
/// guest build compiles them (and only them) for real.
fn guest_target_copy(to: &Path) {
    let from = xtask::project_root().join("target/guest");
    if from.is_dir() {
        let ok = Command::new("cp")
            .arg("-a")
            .arg(&from)
            .arg(to)
            .status()
            .unwrap()
            .success();
        assert!(ok, "copying {}", from.display());
    }
    let fingerprints = to
        .join(xtask::pipeline::guest::TARGET)
        .join("release/.fingerprint");
    for entry in std::fs::read_dir(&fingerprints)
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("gsi-init-") || name.starts_with("gsi-suite-") {
            std::fs::remove_dir_all(entry.path()).unwrap();
        }
    }
}

#[test]
#[ignore = "boots real kernels: run by cargo xtask ci"]
fn sigterm_during_the_guest_build_stops_cargo_and_the_next_run_boots() {
    let _serial = serial();
    let scratch = Scratch::new();
    let target = scratch.path().join("guest-target");
    guest_target_copy(&target);
    let env = [("GSI_GUEST_TARGET_DIR", target.as_os_str())];
    let args = scratch.matrix_args(&scratch.json(), &["q35"], &[]);
    interrupt_during(&scratch, &args, &env, "-TERM", "rustc", |p| {
        p.comm == "rustc"
    });
    assert!(
        !scratch.json().exists(),
        "an interrupted run wrote a report"
    );

    // The next run finishes the guest build and boots what it built.
    let (code, output) = scratch.run(&args, &env);
    assert_eq!(code, 0, "{output}");
    scratch.run_on("q35", Verdict::Passed);
    let release = target.join(xtask::pipeline::guest::TARGET).join("release");
    assert!(release.join("init").is_file(), "no init in {release:?}");
    // cargo compiled both guest crates again (their records are back).
    let records: Vec<String> = std::fs::read_dir(release.join(".fingerprint"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for krate in ["gsi-init-", "gsi-suite-"] {
        assert!(
            records.iter().any(|r| r.starts_with(krate)),
            "{krate}: {records:?}"
        );
    }
    scratch.assert_no_leftovers();
}

#[test]
#[ignore = "applies a series to the cached pin: run by cargo xtask ci"]
fn sigterm_during_git_am_stops_it_and_the_next_run_applies_the_series_anew() {
    let _serial = serial();
    let scratch = Scratch::new();
    // A real series (the no-signoff fixture applies cleanly) under a name
    // of its own, and a pre-applypatch hook that holds git am after the
    // patch is applied to the tree and before it is committed.
    let name = format!("fault-am-{}", std::process::id());
    let patches = scratch.path().join("patches");
    xtask::test_support::copy_dir(
        &xtask::project_root().join("tests/fixtures/series/no-signoff"),
        &patches.join(&name),
    );
    let held = holding_hook(&scratch, "pre-applypatch");
    let silent = xtask::sys::progress::Reporter::silent();
    let pin = xtask::pipeline::pin::resolve(&scratch.configs.join("kernel.toml"), &silent).unwrap();
    let tree = ScratchTree {
        pin: pin.clone(),
        name: name.clone(),
    };
    let dir = tree.trees().join(&name);
    let json = scratch.json().display().to_string();
    let args = ["check-series", &name, "--skip-builds", "--json", &json];

    interrupt_during(
        &scratch,
        &args,
        &[
            ("GSI_PATCHES_DIR", patches.as_os_str()),
            ("GIT_CONFIG_PARAMETERS", &held),
        ],
        "-TERM",
        "git am's hook",
        |p| p.comm == "sleep",
    );
    // Half-made: the patch is in the files but not committed, and there
    // is no stamp, so nothing trusts this tree.
    assert!(!tree.trees().join(format!("{name}.applied.toml")).exists());
    assert_eq!(git_in(&dir, &["rev-parse", "HEAD"]), pin.base);
    // (The index against HEAD: no stat of the 90k linked files.)
    assert!(
        !git_in(&dir, &["diff", "--cached", "--name-only"]).is_empty(),
        "git am was held before it applied anything"
    );

    // The next run (no hook) makes the tree anew and applies the series.
    let (code, output) = scratch.run(&args, &[("GSI_PATCHES_DIR", patches.as_os_str())]);
    println!("== the next run:\n{output}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(scratch.json()).unwrap()).unwrap();
    let apply = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "apply")
        .unwrap();
    assert_eq!(apply["status"], "PASS", "exit {code}: {output}");
    assert!(tree.trees().join(format!("{name}.applied.toml")).exists());
    assert_eq!(git_in(&dir, &["rev-parse", "HEAD~1"]), pin.base);
    assert_eq!(git_in(&dir, &["diff", "--cached", "--name-only"]), "");
    let worktrees = git_in(&pin.repo, &["worktree", "list", "--porcelain"]);
    assert_eq!(
        worktrees.matches(&format!("/{name}\n")).count(),
        1,
        "{worktrees}"
    );
    scratch.assert_no_leftovers();
}

#[test]
#[ignore = "asks the Debian archive and downloads a .deb (network): run by cargo xtask ci"]
fn an_aged_pin_names_the_served_versions_and_pin_update_moves_it() {
    let _serial = serial();
    let scratch = Scratch::new();
    let work = scratch.path().join("work");
    let env = [("GSI_WORK_DIR", work.as_os_str())];
    // A build the archive dropped long ago, with a made-up hash.
    let toml = scratch.configs.join("kernel.toml");
    let shipped = std::fs::read_to_string(&toml).unwrap();
    let aged: String = shipped
        .lines()
        .map(|l| {
            if l.starts_with("version = ") {
                "version = \"6.12.1-1~deb12u1\"".to_string()
            } else if l.starts_with("sha256 = ") {
                format!("sha256 = \"{}\"", "ab".repeat(32))
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&toml, aged + "\n").unwrap();

    let (code, output) = scratch.run(&["kernel", "fetch"], &env);
    println!("== kernel fetch on an aged pin:\n{output}");
    assert_eq!(code, 1, "{output}");
    assert!(
        output.contains("6.12.1-1~deb12u1, the version configs/kernel.toml pins, is not served"),
        "{output}"
    );
    assert!(output.contains("served now: 6.12."), "{output}");
    assert!(output.contains("cargo xtask pin update"), "{output}");
    assert!(
        !work
            .join("pin")
            .read_dir()
            .is_ok_and(|mut d| d.any(|e| e.is_ok_and(|e| e.path().join("src").exists()))),
        "a tree was unpacked for a pin that could not be fetched"
    );

    // The command moves it to the newest served build, verified.
    let (code, output) = scratch.run(&["pin", "update"], &env);
    println!("== pin update:\n{output}");
    assert_eq!(code, 0, "{output}");
    let moved = std::fs::read_to_string(&toml).unwrap();
    let version = moved
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .unwrap()
        .to_string();
    assert_ne!(version, "6.12.1-1~deb12u1");
    let sha = moved
        .lines()
        .find_map(|l| l.strip_prefix("sha256 = \""))
        .and_then(|v| v.strip_suffix('"'))
        .unwrap()
        .to_string();
    let deb = work
        .join("downloads")
        .join(format!("linux-source-6.12_{version}.deb"));
    assert_eq!(xtask::sha256_file(&deb).unwrap(), sha);
    // Only the two values changed.
    let changed: Vec<&str> = moved
        .lines()
        .zip(shipped.lines())
        .filter(|(a, b)| a != b)
        .map(|(a, _)| a)
        .collect();
    assert!(
        changed
            .iter()
            .all(|l| l.starts_with("version = ") || l.starts_with("sha256 = ")),
        "{changed:?}"
    );
    let (code, output) = scratch.run(&["pin", "list"], &env);
    assert_eq!(code, 0, "{output}");
    assert!(output.contains(&format!("{version}  (pinned)")), "{output}");
    scratch.assert_no_leftovers();
}

/// `configs/xen.toml` of `scratch` with `version` and `sha256` replaced.
fn xen_pin_with(scratch: &Scratch, version: Option<&str>, sha256: &str) -> String {
    let path = scratch.configs.join("xen.toml");
    let shipped = std::fs::read_to_string(&path).unwrap();
    let sha_line = shipped
        .lines()
        .find(|l| l.starts_with("sha256 = "))
        .unwrap()
        .to_string();
    let shipped_sha = sha_line.trim_start_matches("sha256 = ").trim_matches('"');
    let mut text = shipped.replace(&sha_line, &format!("sha256 = \"{sha256}\""));
    if let Some(version) = version {
        let line = text
            .lines()
            .find(|l| l.starts_with("version = "))
            .unwrap()
            .to_string();
        text = text.replace(&line, &format!("version = \"{version}\""));
    }
    std::fs::write(&path, text).unwrap();
    shipped_sha.to_string()
}

#[test]
#[ignore = "downloads the pinned Xen .deb (network): run by cargo xtask ci"]
fn a_xen_pin_with_the_wrong_sha256_is_refused_and_nothing_unpacked() {
    let _serial = serial();
    let scratch = Scratch::new();
    let work = scratch.path().join("work");
    let wrong = "0".repeat(64);
    let shipped = xen_pin_with(&scratch, None, &wrong);
    let (code, output) = scratch.run(
        &["kernel", "fetch", "--xen"],
        &[("GSI_WORK_DIR", work.as_os_str())],
    );
    assert_eq!(code, 1, "{output}");
    assert!(
        output.contains(&format!(
            "the downloaded .deb has sha256 {shipped}, but configs/xen.toml pins {wrong}"
        )),
        "{output}"
    );
    assert!(
        files_under(&work.join("downloads")).is_empty(),
        "a .deb that does not match the pin was kept"
    );
    assert!(files_under(&work.join("xen"))
        .iter()
        .all(|f| f.extension().is_some_and(|e| e == "lock")));
    scratch.assert_no_leftovers();

    // The shipped pin: fetched, verified, the ELF unpacked once.
    xen_pin_with(&scratch, None, &shipped);
    let (code, output) = scratch.run(
        &["kernel", "fetch", "--xen"],
        &[("GSI_WORK_DIR", work.as_os_str())],
    );
    assert_eq!(code, 0, "{output}");
    let elf = work.join("xen").join(&shipped[..16]).join("xen.elf");
    assert!(std::fs::read(&elf).unwrap().starts_with(b"\x7fELF"));
    let recorded = std::fs::read_to_string(elf.with_extension("elf.sha256")).unwrap();
    assert_eq!(recorded, xtask::sha256_file(&elf).unwrap());
}

#[test]
#[ignore = "asks the Debian archive (network): run by cargo xtask ci"]
fn an_aged_xen_pin_names_the_served_versions_and_the_file() {
    let _serial = serial();
    let scratch = Scratch::new();
    let work = scratch.path().join("work");
    xen_pin_with(&scratch, Some("4.17.0-1"), &"ab".repeat(32));
    let (code, output) = scratch.run(
        &["kernel", "fetch", "--xen"],
        &[("GSI_WORK_DIR", work.as_os_str())],
    );
    assert_eq!(code, 1, "{output}");
    for want in [
        "xen-hypervisor-4.20-amd64 4.17.0-1, the version configs/xen.toml pins, is not served",
        "served now: 4.20.",
        "source.version and source.sha256 of configs/xen.toml",
    ] {
        assert!(output.contains(want), "{want:?} not in {output}");
    }
    assert!(
        !work.join("xen").exists()
            || files_under(&work.join("xen"))
                .iter()
                .all(|f| f.extension().is_some_and(|e| e == "lock"))
    );
}
