//! A revision from a developer's git tree, for real: a shared clone of the
//! pinned tree (sparse: only the files the series touches are checked
//! out) gets v5 applied with `git am` on a branch, as a developer's `b4
//! prep` branch would hold it. That range, exported by the workbench with
//! `git format-patch` and applied to the pin with `git am`, must give the
//! tree the branch has, and the same hashes (so the same cached kernel) as
//! the shipped v5. A commit that needs an earlier one outside the range
//! does not apply on the pin, and the error names it and the file.
//!
//! Needs the unpacked pin (target/gsi), so `#[ignore]`d in a plain `cargo
//! test`; `cargo xtask ci` runs it.

use std::path::{Path, PathBuf};
use std::process::Command;
use xtask::pipeline::revision;
use xtask::sys::progress::Reporter;

fn git(dir: &Path, args: &[&str]) -> String {
    xtask::test_support::git(dir, args, &[])
}

/// The files a revision's patches touch.
fn touched(rev: &revision::Revision) -> Vec<String> {
    let mut files: Vec<String> = rev
        .patches
        .iter()
        .flat_map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .filter_map(|l| l.strip_prefix("diff --git a/"))
                .map(|l| l.split(" b/").next().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    files.sort();
    files.dedup();
    files
}

/// Removes the tree `prepare` made for `name` and what it keeps beside it
/// (test revisions only: nothing of theirs stays in the shared cache).
fn forget_tree(pin: &xtask::pipeline::pin::Pin, name: &str) {
    let trees = xtask::work_dir().join("trees").join(&pin.key);
    let _ = std::fs::remove_dir_all(trees.join(name));
    let _ = std::fs::remove_dir_all(trees.join(format!(".{name}.keep")));
    for file in ["applied.toml", "lock"] {
        let _ = std::fs::remove_file(trees.join(format!("{name}.{file}")));
    }
    git(&pin.repo, &["worktree", "prune"]);
}

#[test]
#[ignore = "needs the unpacked pinned kernel: run by cargo xtask ci"]
fn a_git_range_of_v5_is_v5() {
    let silent = Reporter::silent();
    let pin =
        xtask::pipeline::pin::resolve(&xtask::project_root().join("configs/kernel.toml"), &silent)
            .unwrap();
    let v5 = revision::load(&revision::series_dir(), "v5").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let clone: PathBuf = tmp.path().join("linux");
    let status = Command::new("git")
        .args(["clone", "-q", "--shared", "--no-checkout"])
        .arg(&pin.repo)
        .arg(&clone)
        .status()
        .unwrap();
    assert!(status.success());
    let mut sparse = vec!["sparse-checkout", "set", "--no-cone"];
    let files: Vec<String> = touched(&v5).iter().map(|f| format!("/{f}")).collect();
    sparse.extend(files.iter().map(String::as_str));
    git(&clone, &sparse);
    git(&clone, &["checkout", "-q", "-b", "b4/gsi", &pin.base]);
    let mut am = vec!["am", "-q"];
    let patches: Vec<String> = v5.patches.iter().map(|p| p.display().to_string()).collect();
    am.extend(patches.iter().map(String::as_str));
    git(&clone, &am);

    let name = "gsi-test-v5-range";
    let word = format!("{name}={}:{}..b4/gsi", clone.display(), pin.base);
    let rev = xtask::pipeline::selection::load_revision(&word).unwrap();
    assert_eq!(rev.patches.len(), v5.patches.len());
    // The same mails as far as git am reads them: the same hashes, so the
    // same kernel cache key.
    assert_eq!(rev.source_hash, v5.source_hash);
    assert_eq!(rev.hash, v5.hash);
    assert_eq!(
        xtask::pipeline::build::key(&pin, &rev),
        xtask::pipeline::build::key(&pin, &v5)
    );

    // Applied to the pin by the workbench: the branch's tree and commits.
    forget_tree(&pin, name);
    let tree = revision::prepare(&pin, &rev, &silent).unwrap();
    assert_eq!(
        git(&tree.dir, &["rev-parse", "HEAD^{tree}"]),
        git(&clone, &["rev-parse", "HEAD^{tree}"])
    );
    let log = |dir: &Path| {
        git(
            dir,
            &[
                "log",
                "--format=%an <%ae> %ad%n%B",
                &format!("{}..HEAD", pin.base),
            ],
        )
    };
    assert_eq!(log(&tree.dir), log(&clone));
    forget_tree(&pin, name);

    // A commit whose parent is outside the range: its change is made to
    // a line the pin does not have.
    let file = "drivers/pci/pci-sysfs.c";
    let path = clone.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("/* first */\n{text}")).unwrap();
    git(
        &clone,
        &["commit", "-q", "-am", "PCI: sysfs: a first comment"],
    );
    let first = git(&clone, &["rev-parse", "HEAD"]);
    std::fs::write(&path, format!("/* second */\n{text}")).unwrap();
    git(
        &clone,
        &["commit", "-q", "-am", "PCI: sysfs: reword the comment"],
    );
    let second = git(&clone, &["rev-parse", "HEAD"]);
    let broken = format!("{name}-broken");
    let word = format!("{broken}={}:{first}..b4/gsi", clone.display());
    let rev = xtask::pipeline::selection::load_revision(&word).unwrap();
    forget_tree(&pin, &broken);
    let err = format!("{:#}", revision::prepare(&pin, &rev, &silent).unwrap_err());
    let commit = format!("commit {}", &second[..12]);
    for want in [
        commit.as_str(),
        "\"PCI: sysfs: reword the comment\"",
        "does not apply on the pin",
        file,
        "rebase the branch onto the pinned kernel",
        "nothing was left half-applied",
    ] {
        assert!(err.contains(want), "{want:?} not in: {err}");
    }
    let trees = xtask::work_dir().join("trees").join(&pin.key);
    assert!(!trees.join(&broken).exists(), "a half-applied tree is left");
    assert!(!git(&pin.repo, &["worktree", "list"]).contains(&broken));
    forget_tree(&pin, &broken);
}
