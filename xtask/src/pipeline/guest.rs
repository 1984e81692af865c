//! The guest side, from the host: building the static guest binaries once
//! and packing an initramfs per (revision, topology) with its plan.

use crate::pipeline::cpio::Archive;
use crate::sys::progress::Reporter;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// The target the guest binaries are built for (static glibc, not PIE).
pub const TARGET: &str = "x86_64-unknown-linux-gnu";

/// The built guest executables.
#[derive(Debug, Clone)]
pub struct GuestBinaries {
    /// `/init`, which is the suite too when started as `/bin/gsi-suite`.
    pub init: Vec<u8>,
    /// A static busybox for `boot --shell`, when wanted.
    pub busybox: Option<Vec<u8>>,
}

/// Where the guest binaries are built: `target/guest` (its own target
/// dir, so the static RUSTFLAGS never invalidate the host build), or
/// `GSI_GUEST_TARGET_DIR` (tests that must make cargo work).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("GSI_GUEST_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => crate::project_root().join("target").join("guest"),
    }
}

/// Builds `gsi-init` (with the suite linked in) statically into
/// [`target_dir`].
/// Cargo makes the second call a no-op, and it trusts no half-built
/// output: a crate whose compile was stopped is compiled again.
pub fn build_binaries(reporter: &Reporter, with_shell: bool) -> Result<GuestBinaries> {
    reporter.note("guest: building the static /init and suite");
    let started = std::time::Instant::now();
    let root = crate::project_root();
    let target_dir = target_dir();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // In a group of its own, registered: a SIGTERM to the harness stops
    // cargo and its rustc too (a cold build takes minutes).
    let output = crate::sys::process::Cmd::new(cargo)
        .args([
            "build",
            "--release",
            "--quiet",
            "--target",
            TARGET,
            "-p",
            "gsi-init",
        ])
        .dir(&root)
        .env("CARGO_TARGET_DIR", &target_dir)
        // Static and not position-independent: a static-pie /init
        // relocates itself (2464 relocations, every page of
        // .data.rel.ro written) on each exec, and /init is exec'd twice
        // per boot (as init, then as the suite). Measured A/B on q35
        // (5 alternating boots each): `Run /init` to DONE 0.359 s ->
        // 0.326 s, the initramfs 1.93 -> 1.87 MB.
        .env(
            "RUSTFLAGS",
            "-C target-feature=+crt-static -C relocation-model=static",
        )
        .stderr_to_stdout()
        .output()
        .context("running cargo for the guest crates")?;
    if !output.status.success() {
        anyhow::bail!(
            "building the guest crates (guest-images/) failed:\n{}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
    let bin = target_dir.join(TARGET).join("release");
    let read = |name: &str| {
        std::fs::read(bin.join(name))
            .with_context(|| format!("reading {}", bin.join(name).display()))
    };
    let busybox =
        if with_shell {
            Some(std::fs::read("/bin/busybox").context(
                "boot --shell needs a static busybox: apt-get install -y busybox-static",
            )?)
        } else {
            None
        };
    let init = read("init")?;
    reporter.note(format!(
        "guest: built ({:.1} s)",
        started.elapsed().as_secs_f64()
    ));
    Ok(GuestBinaries { init, busybox })
}

/// The initramfs bytes for one plan, after `tables` (the topology's
/// synthetic ACPI tables as an uncompressed cpio, or nothing): the kernel
/// looks for table upgrades only at the start of the initramfs, and
/// unpacks both archives into the root file system.
pub fn initramfs(binaries: &GuestBinaries, plan: &gsi_plan::Plan, tables: &[u8]) -> Vec<u8> {
    let mut a = Archive::new();
    for dir in ["dev", "proc", "sys", "bin", "etc", "etc/gsi", "tmp"] {
        a.dir(dir);
    }
    a.char_dev("dev/console", 0o600, 5, 1);
    a.char_dev("dev/null", 0o666, 1, 3);
    a.file("init", 0o755, &binaries.init);
    // One binary: /init runs the suite when started by this name.
    a.symlink(gsi_plan::SUITE_PATH, "/init");
    a.file(gsi_plan::PLAN_PATH, 0o644, plan.to_json().as_bytes());
    if let Some(busybox) = &binaries.busybox {
        a.file("bin/busybox", 0o755, busybox);
        for applet in [
            "sh", "ls", "cat", "echo", "grep", "dmesg", "lspci", "find", "head", "poweroff",
        ] {
            a.symlink(&format!("bin/{applet}"), "busybox");
        }
    }
    [tables, &a.finish()].concat()
}

/// Writes the initramfs for `plan` on `topology` (its synthetic ACPI
/// tables first, compiled here: an iasl error ends this step, before any
/// boot) under `target/gsi/initramfs/`, named by its content hash, and
/// returns (path, hash). An existing file with the same bytes is reused.
pub fn write_initramfs(
    binaries: &GuestBinaries,
    plan: &gsi_plan::Plan,
    topology: &crate::config::topology::Topology,
) -> Result<(PathBuf, String)> {
    let tables = crate::pipeline::acpi::tables_cpio(topology)?;
    write_initramfs_in(
        &crate::work_dir().join("initramfs"),
        binaries,
        plan,
        &tables,
    )
}

fn write_initramfs_in(
    dir: &Path,
    binaries: &GuestBinaries,
    plan: &gsi_plan::Plan,
    tables: &[u8],
) -> Result<(PathBuf, String)> {
    let bytes = initramfs(binaries, plan, tables);
    let hash = crate::sha256_hex(&bytes)[..16].to_string();
    let path = dir.join(format!(
        "{}-{}-{hash}.cpio",
        plan.revision.replace('/', "-"),
        plan.topology
    ));
    if !holds(&path, &bytes) {
        crate::write_atomic(&path, &bytes)?;
    }
    Ok((path, hash))
}

/// Whether `path` holds exactly `bytes`: the name carries the hash, but a
/// file with the right name and length can still be damaged, and the
/// image is a few MB, so it is compared in full.
fn holds(path: &Path, bytes: &[u8]) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() == bytes.len() as u64)
        && std::fs::read(path).is_ok_and(|found| found == bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_initramfs_with_the_right_name_is_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let binaries = GuestBinaries {
            init: b"fake init".repeat(1000),
            busybox: None,
        };
        let t = crate::model::load_topology(&crate::config::topology::dir(), "q35").unwrap();
        let policy = crate::config::matrix::load(&crate::config::matrix::path())
            .unwrap()
            .policy();
        let plan = crate::model::plan::of(&t, "v4", gsi_plan::Attribute::Present, policy);
        let (path, _) = write_initramfs_in(dir.path(), &binaries, &plan, &[]).unwrap();
        let good = std::fs::read(&path).unwrap();

        // Half-written: the right name, a prefix of the bytes.
        std::fs::write(&path, &good[..good.len() / 2]).unwrap();
        let (again, _) = write_initramfs_in(dir.path(), &binaries, &plan, &[]).unwrap();
        assert_eq!(again, path);
        assert_eq!(std::fs::read(&path).unwrap(), good);

        // Damaged in place: the right name and length, one byte flipped.
        let mut bad = good.clone();
        bad[good.len() / 2] ^= 0xff;
        std::fs::write(&path, &bad).unwrap();
        write_initramfs_in(dir.path(), &binaries, &plan, &[]).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), good);
    }
}
