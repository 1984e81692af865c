//! Pieces the tests share (unit, CLI and end-to-end tests); the workbench
//! itself does not use them.

use std::path::Path;

/// Runs `git -C dir args...` (the crate's own [`crate::sys::git`]) as a
/// fixed test identity with `env` added, asserting success; returns
/// stdout, trimmed.
pub fn git(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = crate::sys::git::cmd(dir, args)
        .env("GIT_AUTHOR_NAME", "Dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.org")
        .env("GIT_COMMITTER_NAME", "Dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.org");
    for (key, value) in env {
        cmd = cmd.env(key, value);
    }
    cmd.read()
        .unwrap_or_else(|err| panic!("{err:#}"))
        .trim()
        .to_string()
}

/// Copies the directory tree `from` to `to` (files and directories only),
/// panicking on any error.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
