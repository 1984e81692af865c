//! The mutants kill rule, for real: a mutant whose patch breaks the build
//! is `unviable`, never killed, and `cargo xtask mutants` fails on it.
//!
//! The mutant is made here, in a scratch copy of patches/gsi-sysfs, from
//! the first patch of the `breaks-build-at-1` fixture series (it calls a
//! helper that only its second patch adds): the shipped mutant list never
//! holds it. Its kernel build compiles up to drivers/pci/pci-sysfs.c
//! (from ccache when v5's kernel is cached) and fails there, so `#[ignore]`d
//! in a plain `cargo test`; `cargo xtask ci` runs it.

mod support;

use std::process::Command;
use support::*;

#[test]
#[ignore = "builds a real kernel that fails (minutes): run by `cargo xtask ci`"]
fn a_mutant_that_does_not_build_is_unviable_and_fails_the_command() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let patches = dir.path().join("patches");
    let root = xtask::project_root();
    xtask::test_support::copy_dir(&root.join("patches/gsi-sysfs"), &patches);
    let mutant = patches.join("mutants/breaks-build");
    std::fs::create_dir_all(&mutant).unwrap();
    let fixture = root.join("tests/fixtures/series/breaks-build-at-1");
    let patch = "0001-PCI-sysfs-read-the-legacy-IRQ-through-a-helper.patch";
    std::fs::copy(fixture.join(patch), mutant.join(patch)).unwrap();
    std::fs::write(mutant.join("series"), format!("{patch}\n")).unwrap();
    std::fs::write(
        mutant.join("README"),
        "WRONG: calls pci_sysfs_legacy_irq(), which no patch adds: the kernel does not build.\n",
    )
    .unwrap();
    let json = dir.path().join("fates.json");
    let out = Command::new(xtask_bin())
        .args(["mutants", "-m", "breaks-build", "-t", "microvm", "--json"])
        .arg(&json)
        .env("GSI_PATCHES_DIR", &patches)
        .current_dir(&root)
        .output()
        .expect("running xtask mutants");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a mutant that does not build must fail the command\n{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains("not killed: mutants/breaks-build (unviable)"),
        "{stderr}"
    );
    assert!(stdout.contains("\nunviable ("), "{stdout}");
    let fates: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let fate = &fates[0];
    assert_eq!(fate["mutant"], "mutants/breaks-build", "{fates:#}");
    assert_eq!(fate["status"], "unviable", "{fates:#}");
    assert_eq!(fate["killed_by"].as_array().unwrap().len(), 0, "{fates:#}");
    let run = &fate["not_judged"][0];
    assert_eq!(run["topology"], "microvm", "{fates:#}");
    assert_eq!(run["verdict"], "build-failed", "{fates:#}");
    // The build log it names holds the compiler's error.
    let log = std::path::Path::new(run["log"].as_str().unwrap());
    let log = if log.is_absolute() {
        log.to_path_buf()
    } else {
        root.join(log)
    };
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("pci_sysfs_legacy_irq"), "{}", log.display());
}
