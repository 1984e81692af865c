//! git, the one way the crate runs it: `git -C <dir> ...` through the
//! process builder ([`Cmd`]), the environment that makes the commits the
//! harness writes reproducible and independent of the user's own git
//! config, and `git mailinfo`, which reads a patch mail as `git am` does.

use crate::sys::process::Cmd;
use anyhow::{bail, Context, Result};
use std::path::Path;

/// `git -C dir args...`, to run or to add to.
pub fn cmd(dir: &Path, args: &[&str]) -> Cmd {
    Cmd::new("git").arg("-C").arg(dir).args(args)
}

/// `git -C dir args...`: its stdout without the trailing newline, or an
/// error naming the command, its status and its stderr.
pub fn git(dir: &Path, args: &[&str]) -> Result<String> {
    cmd(dir, args).read()
}

/// `git -C repo worktree add -q --detach dir commit`, with
/// `--no-checkout` unless `checkout`.
pub fn add_worktree(repo: &Path, dir: &Path, commit: &str, checkout: bool) -> Result<()> {
    let mut cmd = cmd(repo, &["worktree", "add", "-q", "--detach"]);
    if !checkout {
        cmd = cmd.arg("--no-checkout");
    }
    cmd.arg(dir).arg(commit).run()
}

/// `cmd` as the harness's own fixed identity, at a fixed date, with the
/// user's and the system's git config ignored: commits it makes are the
/// same on every machine.
pub fn with_identity(cmd: Cmd) -> Cmd {
    cmd.env("GIT_AUTHOR_NAME", "gsi-workbench")
        .env("GIT_AUTHOR_EMAIL", "gsi-workbench@invalid")
        .env("GIT_COMMITTER_NAME", "gsi-workbench")
        .env("GIT_COMMITTER_EMAIL", "gsi-workbench@invalid")
        .env("GIT_AUTHOR_DATE", "2024-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2024-01-01T00:00:00Z")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
}

/// One mail as `git mailinfo` reads it.
#[derive(Debug, Clone)]
pub struct MailInfo {
    /// The `Author:`, `Email:`, `Subject:` and `Date:` lines.
    pub info: String,
    /// The commit message.
    pub message: String,
    /// Everything after the message: notes, diffstat, diff, signature.
    pub rest: String,
}

impl MailInfo {
    /// The value of one `info` line (`"Subject:"`), trimmed; empty when
    /// the mail has none.
    pub fn field(&self, name: &str) -> String {
        self.info
            .lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
            .unwrap_or_default()
    }
}

/// `git mailinfo` of the mail in `patch`; with `keep_subject` (`-k`) the
/// subject keeps its `[PATCH ...]` tag.
pub fn mailinfo(patch: &Path, keep_subject: bool) -> Result<MailInfo> {
    let shown = crate::config::display(patch);
    let mail = std::fs::read(patch).with_context(|| format!("opening {shown}"))?;
    let scratch = tempfile::tempdir().context("creating a scratch directory")?;
    let (msg, rest) = (scratch.path().join("msg"), scratch.path().join("rest"));
    let mut cmd = Cmd::new("git").arg("mailinfo");
    if keep_subject {
        cmd = cmd.arg("-k");
    }
    let cmd = cmd
        .arg(&msg)
        .arg(&rest)
        .dir(scratch.path())
        .stdin_bytes(mail);
    // Not `read`: the info lines are hashed as git printed them.
    let out = cmd.output()?;
    if !out.status.success() {
        bail!(
            "{shown} is not a patch mail git can read (`{cmd}`: {})",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let read = |p: &Path| std::fs::read(p).map(|b| String::from_utf8_lossy(&b).into_owned());
    Ok(MailInfo {
        info: String::from_utf8_lossy(&out.stdout).into_owned(),
        message: read(&msg)?,
        rest: read(&rest)?,
    })
}
