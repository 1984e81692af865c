//! `check-series` against seeded bad series (tests/fixtures/series/*) and
//! the shipped RFC v4, for real: `git am` on the pinned tree, the pin's own
//! checkpatch.pl and get_maintainer.pl, and for `breaks-build-at-1` real
//! kbuild runs of drivers/pci/ at each patch and in the build-only configs.
//!
//! Each fixture must fail exactly the check it was seeded for and pass
//! every other check it runs. The pin is resolved (downloaded when
//! missing), never assumed: without it these tests fail, they do not skip.

#[path = "common/check_series.rs"]
mod series;

use series::{fixture, posting, run as check, text, POSTER};
use xtask::cli::check_series::{run_with, Args, Report, Status, CHECKS};
use xtask::sys::progress::Reporter;

fn skip_builds(revision: String) -> Args {
    Args {
        skip_builds: true,
        ..posting(revision)
    }
}

/// Every check ran and reported a time; `failed` are exactly the failures.
fn assert_only(report: &Report, failed: &[&str]) {
    let names: Vec<&str> = report.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, CHECKS.to_vec());
    assert_eq!(report.failed(), failed.to_vec(), "{report:#?}");
    for check in &report.checks {
        assert!(check.secs >= 0.0);
        assert!(!check.summary.is_empty(), "{}: empty summary", check.name);
    }
}

#[test]
fn no_signoff_fails_signed_off_only() {
    let report = check(skip_builds(fixture("no-signoff")));
    // The poster re-signs the placeholder author but adds no sign-off of
    // their own: the DCO is still missing, for both checks.
    assert_only(&report, &["signed-off", "identity"]);
    let signed = text(&report, "signed-off");
    assert!(
        signed.contains("0001-") && signed.contains("no Signed-off-by"),
        "{signed}"
    );
    assert!(signed.contains(POSTER), "{signed}");
    let identity = text(&report, "identity");
    assert!(
        identity.contains("not signed off by the poster")
            && identity.contains("From: Fixture Developer <fixture@example.org> -> Ada Poster"),
        "{identity}"
    );
    // checkpatch sees it too, and says it leaves it to signed-off.
    let checkpatch = text(&report, "checkpatch");
    assert!(
        checkpatch.contains("MISSING_SIGN_OFF") && checkpatch.contains("judged by signed-off"),
        "{checkpatch}"
    );
    assert_eq!(report.check("bisect-build").status, Status::Skip);
    assert_eq!(report.check("build-only").status, Status::Skip);
}

#[test]
fn checkpatch_error_fails_checkpatch_only() {
    let report = check(skip_builds(fixture("checkpatch-error")));
    assert_only(&report, &["checkpatch"]);
    let checkpatch = text(&report, "checkpatch");
    assert!(checkpatch.contains("1 error(s)"), "{checkpatch}");
    assert!(
        checkpatch.contains("ERROR:SPACING") && checkpatch.contains("drivers/pci/pci-sysfs.c:"),
        "{checkpatch}"
    );
    assert!(checkpatch.contains("--strict"), "{checkpatch}");
}

#[test]
fn missing_abi_fails_abi_doc_only_and_names_the_attribute() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let report = check(Args {
        json: Some(json.clone()),
        ..skip_builds(fixture("missing-abi"))
    });
    assert_only(&report, &["abi-doc"]);
    let abi = text(&report, "abi-doc");
    assert!(
        abi.contains("`irq_pin`") && abi.contains("Documentation/ABI/"),
        "{abi}"
    );
    // The JSON report carries every check with its status and time.
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let checks = value["checks"].as_array().unwrap();
    assert_eq!(checks.len(), CHECKS.len());
    let abi = checks.iter().find(|c| c["name"] == "abi-doc").unwrap();
    assert_eq!(abi["status"], "FAIL");
    assert!(abi["secs"].is_number());
}

#[test]
fn breaks_build_at_1_fails_bisect_build_only_and_names_patch_1() {
    // Of the build-coverage variants only the matrix config's (which
    // shares bisect-build's O= dir) runs here; tests/tests/
    // check_series_builds.rs runs the others.
    let report = check(Args {
        objects: vec!["drivers/pci/pci-sysfs.o".into()],
        coverage: vec!["build-x86_64".into()],
        ..posting(fixture("breaks-build-at-1"))
    });
    assert_only(&report, &["bisect-build", "build-x86_64"]);
    let coverage = report.check("build-x86_64");
    assert!(
        coverage.summary.starts_with("x86_64: patch 1/2 (0001-")
            && coverage.summary.contains("drivers/pci/pci-sysfs.c:")
            && coverage
                .summary
                .contains("error: implicit declaration of function"),
        "{}",
        coverage.summary
    );
    assert!(
        coverage
            .evidence
            .join("\n")
            .contains("patch 2/2 0002-PCI-sysfs-add-pci_sysfs_legacy_irq.patch: builds"),
        "{:#?}",
        coverage.evidence
    );
    let bisect = report.check("bisect-build");
    assert!(
        bisect
            .summary
            .starts_with("patch 1/2 (0001-PCI-sysfs-read-the-legacy-IRQ-through-a-helper.patch)"),
        "{}",
        bisect.summary
    );
    assert!(bisect.summary.contains("1 later patch(es) build again"));
    let evidence = bisect.evidence.join("\n");
    assert!(
        evidence.contains("pci_sysfs_legacy_irq") && evidence.contains("error:"),
        "{evidence}"
    );
    assert!(evidence.contains("patch 2/2 0002-"), "{evidence}");
    let log = xtask::work_dir()
        .join("logs")
        .join("check-series-tests-fixtures-series-breaks-build-at-1-bisect-1.log");
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("implicit declaration of function"),
        "{}",
        log.display()
    );
    // Both build-only configs ran, turned their symbol off, and kbuild
    // compiled pci-sysfs.o only where PCI is on.
    let only = text(&report, "build-only");
    assert!(only.contains("# CONFIG_ACPI is not set"), "{only}");
    assert!(only.contains("# CONFIG_PCI is not set"), "{only}");
    assert!(
        only.contains("requested objects compiled in this config: drivers/pci/pci-sysfs.o"),
        "{only}"
    );
    assert!(
        only.contains("requested objects this config does not build: drivers/pci/pci-sysfs.o"),
        "{only}"
    );
}

#[test]
fn rfc_v4_adds_gsi_without_abi_documentation() {
    let report = check(skip_builds("v4".to_string()));
    assert_eq!(report.check("apply").status, Status::Pass);
    assert_eq!(report.check("subjects").status, Status::Pass);
    let abi = report.check("abi-doc");
    assert_eq!(abi.status, Status::Fail);
    assert!(abi.summary.contains("`gsi`"), "{}", abi.summary);
    // There is no v3 in patches/ to compare with: a SKIP that says so.
    let range = report.check("range-diff");
    assert_eq!(range.status, Status::Skip);
    assert!(range.summary.contains("no v3"), "{}", range.summary);
    // What maintainers saw in the posted v4: no base, nobody on Cc, and
    // a number already taken by the upstream RFC v4 it reproduces.
    for name in [
        "base-commit",
        "recipients",
        "credits",
        "version",
        "changelog",
    ] {
        assert_eq!(report.check(name).status, Status::Fail, "{name}");
    }
    assert!(text(&report, "version").contains("RFC v4 collides with the posted RFC v4"));
}

#[test]
fn the_shipped_v5_fails_what_its_review_found() {
    let report = check(skip_builds("v5".to_string()));
    assert_eq!(
        report.failed(),
        vec![
            "subjects",
            "base-commit",
            "recipients",
            "credits",
            "version"
        ]
    );
    let subjects = text(&report, "subjects");
    assert!(
        subjects.contains("\"ACPI: PCI: Add a query")
            && subjects.contains("\"PCI/sysfs: Add gsi attribute\""),
        "{subjects}"
    );
    // get_maintainer names both subsystems' lists, and MAINTAINERS agrees.
    let gm = text(&report, "get-maintainer");
    assert!(
        gm.contains("linux-pci@vger.kernel.org") && gm.contains("linux-acpi@vger.kernel.org"),
        "{gm}"
    );
    assert!(text(&report, "credits").contains("Jiqian Chen"));
    // The mails to send carry the poster, not the placeholder.
    let dir = xtask::project_root().join(report.mails.as_deref().unwrap());
    let mail = std::fs::read_to_string(dir.join("0000-cover-letter.patch")).unwrap();
    assert!(mail.contains(&format!("From: {POSTER}")), "{mail}");
    assert!(!mail.contains("@example.org"), "{mail}");
}

/// A placeholder-signed series with no identity anywhere: the real
/// binary, with git's global and system config out of reach.
#[test]
fn a_placeholder_signed_series_without_an_identity_fails_identity() {
    let home = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["check-series", &fixture("missing-abi"), "--skip-builds"])
            .args(extra)
            .env("HOME", home.path())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let none = run(&[]);
    let line = none
        .lines()
        .find(|l| l.starts_with("FAIL  identity"))
        .unwrap_or_else(|| panic!("{none}"));
    assert!(
        line.contains("no user.name") && line.contains("--identity"),
        "{line}"
    );
    let placeholder = run(&["--identity", "Fixture Developer <fixture@example.org>"]);
    let line = placeholder
        .lines()
        .find(|l| l.starts_with("FAIL  identity"))
        .unwrap_or_else(|| panic!("{placeholder}"));
    assert!(line.contains("is a placeholder"), "{line}");
}

#[test]
fn an_unknown_revision_lists_the_known_ones() {
    let err = format!(
        "{:#}",
        run_with(&Args::new("v99"), &Reporter::silent()).unwrap_err()
    );
    assert!(err.contains("v99") && err.contains("baseline"), "{err}");
}

/// The failures of the shipped rfc1 the seeded variants are made from
/// (rfc1 plus one flaw): a variant must fail exactly these and its own.
fn rfc1_failures(args: Args) -> Vec<String> {
    let report = check(Args {
        revision: "rfc1".to_string(),
        ..args
    });
    report.failed().iter().map(|s| s.to_string()).collect()
}

fn assert_rfc1_plus(report: &Report, rfc1: &[String], seeded: &str) {
    let mut expected: Vec<String> = rfc1.to_vec();
    if !expected.iter().any(|c| c == seeded) {
        expected.push(seeded.to_string());
    }
    expected.sort_by_key(|c| CHECKS.iter().position(|n| n == c));
    let failed: Vec<String> = report.failed().iter().map(|s| s.to_string()).collect();
    assert_eq!(failed, expected, "{report:#?}");
}

#[test]
fn an_abi_entry_with_a_misspelt_tag_fails_abi_validate() {
    let rfc1 = rfc1_failures(skip_builds(String::new()));
    assert!(!rfc1.contains(&"abi-validate".to_string()), "{rfc1:?}");
    let report = check(skip_builds(fixture("abi-invalid")));
    assert_rfc1_plus(&report, &rfc1, "abi-validate");
    let abi = text(&report, "abi-validate");
    assert!(
        abi.contains("Documentation/ABI/testing/sysfs-bus-pci:")
            && abi.contains("doesn't have a description")
            && abi.contains("Details:"),
        "{abi}"
    );
    // The regex check still finds the What: line: only the validator sees it.
    assert_eq!(report.check("abi-doc").status, Status::Pass);
    assert_eq!(report.check("kernel-doc").status, Status::Pass);
}

#[test]
fn an_incomplete_kernel_doc_comment_fails_kernel_doc() {
    let rfc1 = rfc1_failures(skip_builds(String::new()));
    let report = check(skip_builds(fixture("kernel-doc-warning")));
    assert_rfc1_plus(&report, &rfc1, "kernel-doc");
    let doc = report.check("kernel-doc");
    assert!(
        doc.summary
            .starts_with("2 new kernel-doc warning(s): drivers/pci/pci-acpi.c:")
            && doc.summary.contains("'attr' not described in 'gsi_show'"),
        "{}",
        doc.summary
    );
    // The touched files' warnings that were there before do not count.
    let evidence = doc.evidence.join("\n");
    assert!(evidence.contains("warning(s) on the base"), "{evidence}");
    assert_eq!(report.check("abi-validate").status, Status::Pass);
}
