//! The newest revision against every mail check, its seeded bad variants
//! (tests/fixtures/series/rfc1-*) and the range-diff check, for real:
//! `git am` on the pinned tree, the pin's checkpatch.pl and
//! get_maintainer.pl, and `git range-diff`. No kernel is built
//! (`--skip-builds`): the build checks have tests of their own.

#[path = "common/check_series.rs"]
mod series;

use series::{fixture, posting, run, text};
use xtask::cli::check_series::{Args, Report, Status};
use xtask::sys::progress::Reporter;

fn check(revision: &str) -> Report {
    run(Args {
        skip_builds: true,
        ..posting(revision)
    })
}

#[test]
fn rfc1_passes_every_mail_check_and_range_diffs_against_v5() {
    let report = check("rfc1");
    assert_eq!(report.failed(), Vec::<&str>::new());
    for name in [
        "identity",
        "base-commit",
        "recipients",
        "credits",
        "version",
        "subjects",
        "get-maintainer",
        "range-diff",
    ] {
        assert_eq!(report.check(name).status, Status::Pass, "{name}");
    }
    let range = text(&report, "range-diff");
    assert!(
        range.contains("v5 (3 patch(es)) -> rfc1 (2 patch(es))")
            && range.contains("revisions.rfc1.previous = \"v5\""),
        "{range}"
    );
    let saved = xtask::work_dir()
        .join("logs")
        .join("check-series-rfc1-range-diff.txt");
    let output = std::fs::read_to_string(&saved).unwrap();
    assert!(
        output.contains("> 1:") && output.contains("PCI/sysfs: Add gsi attribute"),
        "{output}"
    );
}

#[test]
fn rfc1_without_base_commit_fails_base_commit_only() {
    let report = check(&fixture("rfc1-no-base-commit"));
    assert_eq!(report.failed(), vec!["base-commit"]);
    let found = text(&report, "base-commit");
    assert!(
        found.contains("no `base-commit:` line") && found.contains("--base="),
        "{found}"
    );
    // A directory outside patches/gsi-sysfs follows no revision.
    let range = report.check("range-diff");
    assert_eq!(range.status, Status::Skip);
    assert!(
        range.summary.starts_with("no previous revision:"),
        "{}",
        range.summary
    );
}

/// The series as its poster committed it (a real From: and sign-off),
/// one patch amended where git had no user.email: that placeholder is not
/// re-signed away, identity names it.
#[test]
fn rfc1_with_a_placeholder_sign_off_fails_identity_only() {
    let report = check(&fixture("rfc1-placeholder-signoff"));
    assert_eq!(report.failed(), vec!["identity"]);
    let found = text(&report, "identity");
    assert!(
        found.contains("0002-")
            && found
                .contains("Signed-off-by: Ada Poster <ada@build-vm.localdomain> is a placeholder"),
        "{found}"
    );
}

/// A previous revision that does not apply: range-diff fails and says so.
#[test]
fn range_diff_fails_when_the_previous_revision_does_not_apply() {
    // A fixed place, not a temporary directory: a revision's applied tree
    // is named after its path, and a new path each run would leave one
    // more tree in the work dir every time.
    let dir = xtask::work_dir().join("test-series").join("range-diff");
    let _ = std::fs::remove_dir_all(&dir);
    let shipped = xtask::project_root().join("patches/gsi-sysfs/v4");
    for name in ["v3", "v4"] {
        std::fs::create_dir_all(dir.join(name)).unwrap();
        for entry in std::fs::read_dir(&shipped).unwrap().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            let text = if name == "v3" {
                // Context the pin does not have, as if written for another tree.
                let broken = text.replace("[RFC PATCH v4]", "[RFC PATCH v3]").replace(
                    " \trc = acpi_register_gsi(&dev->dev, gsi, triggering, polarity);",
                    " \trc = acpi_register_gsi_v3(&dev->dev, gsi, triggering, polarity);",
                );
                assert!(
                    entry.file_name() == "series" || broken != text,
                    "the seeded change did not apply to {}",
                    entry.path().display()
                );
                broken
            } else {
                text
            };
            std::fs::write(dir.join(name).join(entry.file_name()), text).unwrap();
        }
    }
    let report = check(&dir.join("v4").display().to_string());
    let range = report.check("range-diff");
    assert_eq!(range.status, Status::Fail, "{range:?}");
    let found = text(&report, "range-diff");
    assert!(
        found.contains("does not apply to the pin")
            && found.contains("v4 follows v3 beside it")
            && found.contains("drivers/acpi/pci_irq.c"),
        "{found}"
    );
}

/// v4 applies to Debian's 6.1.192 (the shipped [[also]] tree); v5 stops
/// at its 0002 on drivers/acpi/pci_irq.c and include/linux/acpi.h. Both
/// apply to the pin; the 6.1 result is informational unless required.
#[test]
fn other_trees_report_each_pin_and_fail_only_for_a_required_one() {
    let v4 = check("v4");
    assert_eq!(v4.check("other-trees").status, Status::Pass);
    let found = text(&v4, "other-trees");
    assert!(
        found.contains("applies to 2 of 2 tree(s)") && found.contains("linux 6.1.192"),
        "{found}"
    );
    let v5 = check("v5");
    assert_eq!(v5.check("other-trees").status, Status::Pass);
    let found = text(&v5, "other-trees");
    assert!(
        found.contains("pin: linux 6.12.117")
            && found.contains("all 3 patch(es) apply")
            && found.contains("1 of 3 apply, then 0002-")
            && found.contains("drivers/acpi/pci_irq.c:")
            && found.contains("include/linux/acpi.h:"),
        "{found}"
    );
    // The same trees with 6.1 required: the check fails and says where.
    let kernel_toml = xtask::config::configs_dir().join("kernel.toml");
    let reporter = Reporter::silent();
    let pin = xtask::pipeline::pin::resolve(&kernel_toml, &reporter).unwrap();
    let mut also = xtask::pipeline::pin::resolve_also(&kernel_toml, &reporter).unwrap();
    for (entry, _) in &mut also {
        entry.required = true;
    }
    let shipped = xtask::project_root().join("patches/gsi-sysfs/v5");
    let mails: Vec<_> = std::fs::read_to_string(shipped.join("series"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| xtask::cli::check_series::mail::read(&shipped.join(l.trim())).unwrap())
        .collect();
    let scratch = tempfile::tempdir().unwrap();
    let result = xtask::cli::check_series::trees::check_other_trees(
        &pin,
        also,
        &mails,
        scratch.path(),
        &reporter,
    )
    .unwrap();
    assert_eq!(result.status, Status::Fail, "{result:?}");
    assert!(
        result.summary.contains("(required)")
            && result.summary.contains("0002-")
            && result.summary.contains("drivers/acpi/pci_irq.c:"),
        "{}",
        result.summary
    );
}

/// A series whose kernel test-matrix never booted has no cost to show.
#[test]
fn cost_is_a_skip_without_a_stored_boot_of_the_kernel() {
    let report = check(&fixture("missing-abi"));
    let cost = report.check("cost");
    assert_eq!(cost.status, Status::Skip, "{cost:?}");
    assert!(
        cost.summary.contains("cargo xtask test-matrix -r baseline"),
        "{}",
        cost.summary
    );
}
