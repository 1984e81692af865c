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
