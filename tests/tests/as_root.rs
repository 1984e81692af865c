//! Fault tests that need root: a full disk is a tmpfs mounted for the
//! test. The harness is libtest-mimic's, so that without root the test is
//! reported as ignored, with the reason, at run time: never a pass that
//! checked nothing. Like the other fault tests it is heavy (it unpacks the
//! pinned .deb), so it is ignored in a plain `cargo test` and run by
//! `cargo xtask ci` (as root in CI).

mod support;

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use std::path::PathBuf;
use support::*;
use xtask::sys::tools::is_root;

const NEEDS_ROOT: &str = "needs root to mount a tmpfs (a full disk): run it as root, as CI does";

fn main() {
    let args = Arguments::from_args();
    let trials = vec![Trial::ignorable_test(
        "truncated_download_is_replaced_and_a_full_disk_leaves_no_tree",
        truncated_download_is_replaced_and_a_full_disk_leaves_no_tree,
    )
    // Heavy, like every fault test: `cargo xtask ci` runs --ignored ones.
    .with_ignored_flag(true)];
    libtest_mimic::run(&args, trials).exit();
}

fn truncated_download_is_replaced_and_a_full_disk_leaves_no_tree() -> Result<Completion, Failed> {
    if !is_root() {
        return Ok(Completion::ignored_with(NEEDS_ROOT));
    }
    let _serial = serial();
    let scratch = Scratch::new();
    let work = scratch.path().join("work");
    let (name, sha256, shipped) = shipped_deb();
    // Half a download under the right name.
    let deb = work.join("downloads").join(&name);
    std::fs::create_dir_all(deb.parent().unwrap()).unwrap();
    let bytes = std::fs::read(&shipped)
        .unwrap_or_else(|_| panic!("{} is missing: run e2e first", shipped.display()));
    std::fs::write(&deb, &bytes[..bytes.len() / 2]).unwrap();
    drop(bytes);
    // The pin unpacks into 50 MB: the kernel tree needs 1.5 GB.
    let tmpfs = Tmpfs::mount(&work.join("pin"), "50m")
        .ok_or("mounting a 50 MB tmpfs failed, as root: is mount(8) there?")?;
    let (code, output) = scratch.run(&["kernel", "fetch"], &[("GSI_WORK_DIR", work.as_os_str())]);
    assert_eq!(code, 1, "{output}");
    for want in [
        "expected ",
        ": downloading it again",
        "unpacking the kernel tarball",
        "is the disk full?",
        "No space left on device",
    ] {
        assert!(output.contains(want), "{want:?} not in:\n{output}");
    }
    assert_eq!(xtask::sha256_file(&deb).unwrap(), sha256, "not replaced");
    let downloads = files_under(&work.join("downloads"));
    assert_eq!(downloads, vec![deb.clone()], "a scratch download was left");
    // Nothing of the tree is left: only the lock file and an empty pin dir.
    let left: Vec<PathBuf> = files_under(&tmpfs.0)
        .into_iter()
        .filter(|p| !matches!(p.extension(), Some(e) if e == "lock"))
        .collect();
    let empty_dirs = left.iter().all(|p| p.is_dir());
    assert!(empty_dirs && left.len() <= 1, "left behind: {left:#?}");
    scratch.assert_no_leftovers();
    Ok(Completion::Completed)
}
