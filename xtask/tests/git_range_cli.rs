//! `--revision NAME=TREE:BASE..BRANCH` through the real command line, on a
//! small real git tree: a good range is exported and selected, and each
//! bad one is refused with the part that is wrong and the fix, before any
//! work starts (no pin, no build).

use std::path::{Path, PathBuf};
mod common;

fn git(dir: &Path, args: &[&str]) -> String {
    xtask::test_support::git(dir, args, &[])
}

struct Tree {
    tmp: tempfile::TempDir,
}

impl Tree {
    /// `base` with one file, then `feature`: two commits on top.
    fn new() -> Tree {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("linux");
        std::fs::create_dir(&dir).unwrap();
        git(&dir, &["init", "-q", "-b", "base"]);
        std::fs::write(dir.join("pci-sysfs.c"), "int gsi;\n").unwrap();
        git(&dir, &["add", "."]);
        git(&dir, &["commit", "-q", "-m", "base"]);
        git(&dir, &["checkout", "-q", "-b", "feature"]);
        for (n, line) in ["int gsi = 1;\n", "int gsi = 2;\n"].iter().enumerate() {
            std::fs::write(dir.join("pci-sysfs.c"), line).unwrap();
            git(
                &dir,
                &["commit", "-q", "-am", &format!("PCI/sysfs: step {n}")],
            );
        }
        Tree { tmp }
    }

    fn repo(&self) -> PathBuf {
        self.tmp.path().join("linux")
    }

    fn work(&self) -> PathBuf {
        self.tmp.path().join("work")
    }

    fn xtask(&self, args: &[&str]) -> (bool, String) {
        common::xtask_in(&self.work(), args)
    }

    fn range(&self, name: &str, range: &str) -> String {
        format!("{name}={}:{range}", self.repo().display())
    }
}

#[test]
fn a_git_range_is_a_revision_wherever_one_is_selected() {
    let tree = Tree::new();
    let word = tree.range("mine", "base..feature");
    let (ok, text) = tree.xtask(&["test-matrix", "--list", "-r", &word, "-t", "q35"]);
    assert!(ok, "{text}");
    assert!(text.contains("mine") && text.contains("q35"), "{text}");
    // Exported once, into the cache, by git format-patch.
    let cache = tree.work().join("git-series");
    let exports: Vec<PathBuf> = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(exports.len(), 1, "{exports:?}");
    let series = std::fs::read_to_string(exports[0].join("series")).unwrap();
    assert_eq!(
        series.lines().filter(|l| l.ends_with(".patch")).count(),
        2,
        "{series}"
    );
    let first = std::fs::read_dir(&exports[0])
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().contains("0001-"))
        .unwrap();
    let patch = std::fs::read_to_string(first).unwrap();
    assert!(
        patch.contains("Subject: [PATCH 1/2] PCI/sysfs: step 0"),
        "{patch}"
    );
    assert!(patch.contains("+int gsi = 1;"), "{patch}");
}

#[test]
fn bad_ranges_are_refused_before_any_work() {
    let tree = Tree::new();
    let plain = tree.tmp.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    let cases = [
        (
            tree.range("v4", "base..feature"),
            vec![
                "revision name \"v4\" is taken",
                "patches/gsi-sysfs/v4",
                "v4-local=",
            ],
        ),
        (
            format!(
                "mine={}:base..feature",
                tree.tmp.path().join("nowhere").display()
            ),
            vec!["nowhere is not a directory"],
        ),
        (
            format!("mine={}:base..feature", plain.display()),
            vec!["is not a git repository", "kernel checkout"],
        ),
        (
            tree.range("mine", "base..no-such-branch"),
            vec!["branch \"no-such-branch\"", "names no commit", "branch -a"],
        ),
        (
            tree.range("mine", "feature..base"),
            vec!["feature..base", "holds no commits", "swapped"],
        ),
        (
            tree.range("mine", "feature"),
            vec!["is not a range", "NAME=/path/to/linux:BASE..BRANCH"],
        ),
    ];
    for (word, wants) in &cases {
        for verb in [
            &["test-matrix", "--no-install", "-r", word][..],
            &["test-matrix", "--list", "-r", word],
            &["check-series", word],
        ] {
            let (ok, text) = tree.xtask(verb);
            assert!(!ok, "{verb:?} succeeded:\n{text}");
            for want in wants {
                assert!(text.contains(want), "{verb:?}: {want:?} not in:\n{text}");
            }
        }
    }
    // Nothing was fetched, built or exported.
    let left: Vec<_> = std::fs::read_dir(tree.work())
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.iter().all(|p| p.ends_with("git-series")), "{left:?}");
    if let Ok(dir) = std::fs::read_dir(tree.work().join("git-series")) {
        assert_eq!(dir.count(), 0);
    }
}

/// A `b4 prep` branch: its cover letter is an empty commit at the start,
/// with b4's tracking JSON below the text. It becomes the 0/n mail (the
/// tracking left out, b4's base-commit added) and the patches are numbered
/// 1/n..n/n under b4's prefix; a range without one has no cover letter.
#[test]
fn a_b4_branch_brings_its_cover_letter() {
    let tree = Tree::new();
    let dir = tree.repo();
    git(&dir, &["checkout", "-q", "-b", "b4/gsi", "base"]);
    let message = "PCI/sysfs: Report the GSI\n\nWhy the series exists.\n\n\
                   --- b4-submit-tracking ---\n# This section is used internally by b4 prep.\n\
                   {\"series\": {\"revision\": 2, \"change-id\": \"20250101-gsi-1\", \
                   \"prefixes\": [\"RFC\"], \"base-branch\": \"base\"}}\n";
    git(&dir, &["commit", "-q", "--allow-empty", "-m", message]);
    for (n, line) in ["int gsi = 1;\n", "int gsi = 2;\n"].iter().enumerate() {
        std::fs::write(dir.join("pci-sysfs.c"), line).unwrap();
        git(
            &dir,
            &["commit", "-q", "-am", &format!("PCI/sysfs: Step {n}")],
        );
    }
    let base = git(&dir, &["rev-parse", "base"]).trim().to_string();
    let word = tree.range("b4", "base..b4/gsi");
    let (ok, text) = tree.xtask(&["test-matrix", "--list", "-r", &word, "-t", "q35"]);
    assert!(ok, "{text}");
    let export = std::fs::read_dir(tree.work().join("git-series"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .next()
        .unwrap();
    let cover = std::fs::read_to_string(export.join("0000-cover-letter.patch")).unwrap();
    assert!(
        cover.contains("Subject: [RFC PATCH v2 0/2] PCI/sysfs: Report the GSI\n"),
        "{cover}"
    );
    assert!(cover.contains("Why the series exists."), "{cover}");
    assert!(!cover.contains("b4-submit-tracking"), "{cover}");
    assert!(cover.contains(&format!("base-commit: {base}")), "{cover}");
    let series = std::fs::read_to_string(export.join("series")).unwrap();
    let patches: Vec<&str> = series.lines().filter(|l| l.ends_with(".patch")).collect();
    assert_eq!(patches.len(), 2, "{series}");
    let second = std::fs::read_to_string(export.join(patches[1])).unwrap();
    assert!(
        second.contains("Subject: [RFC PATCH v2 2/2] PCI/sysfs: Step 1"),
        "{second}"
    );
}
