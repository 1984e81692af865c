//! `check-series` build coverage, for real: the shipped rfc1 at every
//! patch under every build variant (matrix config, allnoconfig,
//! CONFIG_ACPI=n, i386, arm64, W=1, sparse) with no new diagnostic, and
//! seeded variants of rfc1 (tests/fixtures/series/, rfc1 plus one flaw
//! each) that each fail the one variant that can see their flaw, naming
//! it, the file and line, and the message. Real kbuild runs in the shared
//! check tree's persistent `O=` dirs, through ccache: minutes on a cold
//! `O=` dir, so `#[ignore]`d in a plain `cargo test`; `cargo xtask ci` runs
//! them. Each seeded test runs only the variants it compares (the flaw's
//! and the one it must pass), to keep the CI's first run short.

#[path = "../../xtask/tests/common/check_series.rs"]
mod series;
mod support;

use series::{fixture, posting, run, text};
use support::serial;
use xtask::cli::check_series::{Args, Report, Status};

fn check(revision: &str, coverage: &[&str]) -> Report {
    run(Args {
        // bisect-build and build-only: the touched objects' directories.
        objects: vec!["touched".into()],
        coverage: coverage.iter().map(|c| c.to_string()).collect(),
        ..posting(revision)
    })
}

/// `failing` failed, `passing` passed, every other coverage check was
/// skipped as not asked for.
fn assert_coverage(report: &Report, failing: &str, passing: &[&str]) {
    for name in xtask::cli::check_series::coverage::CHECKS {
        let status = report.check(name).status;
        let expected = if name == failing {
            Status::Fail
        } else if passing.contains(&name) {
            Status::Pass
        } else {
            Status::Skip
        };
        assert_eq!(status, expected, "{name}: {}", text(report, name));
    }
    // The flaw is in patch 2: patch 1 is rfc1's and builds clean.
    let seen = text(report, failing);
    assert!(
        seen.contains("patch 1/2 0001-") && seen.contains("builds, no new warnings"),
        "{seen}"
    );
}

#[test]
#[ignore = "builds rfc1 at every patch under seven configs (minutes): run by `cargo xtask ci`"]
fn rfc1_builds_clean_under_every_variant_at_every_patch() {
    let _serial = serial();
    let report = check("rfc1", &[]);
    for name in xtask::cli::check_series::coverage::CHECKS {
        let check = report.check(name);
        assert_eq!(
            check.status,
            Status::Pass,
            "{name}: {}",
            text(&report, name)
        );
        assert!(
            check
                .summary
                .contains("all 2 patches build with no new warning"),
            "{}",
            check.summary
        );
    }
    for name in ["abi-validate", "kernel-doc", "bisect-build", "build-only"] {
        assert_eq!(report.check(name).status, Status::Pass, "{name}");
    }
    // Each variant's own config settings survived olddefconfig, and the
    // touched objects were compiled where the config builds them.
    let arm64 = text(&report, "build-arm64");
    assert!(
        arm64.contains("CONFIG_ACPI=y") && arm64.contains("ARCH=arm64"),
        "{arm64}"
    );
    assert!(
        arm64.contains(
            "compiled here: drivers/acpi/pci_irq.o, drivers/pci/pci-acpi.o, drivers/pci/pci-sysfs.o"
        ),
        "{arm64}"
    );
    let i386 = text(&report, "build-i386");
    assert!(
        i386.contains("ARCH=i386")
            && i386.contains("drivers/pci/pci-sysfs.o")
            && !i386.contains("not built by"),
        "{i386}"
    );
    assert!(
        text(&report, "build-noacpi").contains("# CONFIG_ACPI is not set"),
        "{}",
        text(&report, "build-noacpi")
    );
}

#[test]
#[ignore = "builds a seeded series (minutes): run by `cargo xtask ci`"]
fn a_warning_only_w1_shows_fails_build_w1() {
    let _serial = serial();
    let report = check(&fixture("w1-only-warning"), &["build-x86_64", "build-w1"]);
    assert_coverage(&report, "build-w1", &["build-x86_64"]);
    let w1 = &report.check("build-w1").summary;
    assert!(
        w1.starts_with("W=1: patch 2/2 (0002-")
            && w1.contains("drivers/pci/pci-acpi.c:")
            && w1.contains("variable 'pdev' set but not used [-Wunused-but-set-variable]"),
        "{w1}"
    );
}

#[test]
#[ignore = "builds a seeded series for arm64 and i386 (minutes): run by `cargo xtask ci`"]
fn a_build_break_only_arm64_shows_fails_build_arm64() {
    let _serial = serial();
    let report = check(
        &fixture("arm64-only-break"),
        &["build-x86_64", "build-i386", "build-arm64"],
    );
    assert_coverage(&report, "build-arm64", &["build-x86_64", "build-i386"]);
    let arm64 = &report.check("build-arm64").summary;
    assert!(
        arm64.starts_with("arm64: patch 2/2 (0002-")
            && arm64.contains("drivers/pci/pci-acpi.c:")
            && arm64.contains("error:")
            && arm64.contains("asm/io_apic.h"),
        "{arm64}"
    );
}

#[test]
#[ignore = "builds a seeded series with sparse (minutes): run by `cargo xtask ci`"]
fn a_new_sparse_warning_fails_sparse() {
    let _serial = serial();
    let report = check(&fixture("sparse-warning"), &["build-x86_64", "sparse"]);
    assert_coverage(&report, "sparse", &["build-x86_64"]);
    let sparse = &report.check("sparse").summary;
    assert!(
        sparse.starts_with("sparse (C=1): patch 2/2 (0002-")
            && sparse.contains("drivers/pci/pci-acpi.c:")
            && sparse.contains("Using plain integer as NULL pointer"),
        "{sparse}"
    );
}

#[test]
#[ignore = "builds and links a seeded series without ACPI (minutes): run by `cargo xtask ci`"]
fn a_break_only_without_acpi_fails_build_noacpi() {
    let _serial = serial();
    let report = check(
        &fixture("noacpi-only-break"),
        &["build-x86_64", "build-noacpi"],
    );
    assert_coverage(&report, "build-noacpi", &["build-x86_64"]);
    let noacpi = &report.check("build-noacpi").summary;
    assert!(
        noacpi.starts_with("CONFIG_ACPI=n: patch 2/2 (0002-")
            && noacpi.contains("drivers/pci/pci-sysfs.c:")
            && noacpi.contains("error: 'pci_dev_acpi_gsi_attr_group' undeclared"),
        "{noacpi}"
    );
}
