//! Revisions of the series and the trees they are applied to.
//!
//! A revision is a directory under `patches/<series>/` with a `series` file
//! (quilt style: one patch file name a line; none for `baseline`). Each is
//! applied with real `git am` to its own worktree of the pin. A worktree is
//! a hard-link farm of the base tree (git replaces the files a patch
//! touches, so the base is never written through a link): about 3 s and no
//! extra disk per revision instead of a 1.7 GB checkout.

use crate::pipeline::pin::Pin;
use crate::sys::git::{self, git};
use crate::sys::process::Cmd;
use crate::sys::progress::Reporter;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Directories in a tree starting with this are build outputs (`O=`),
/// kept when the tree is made anew.
pub const BUILD_DIR_PREFIX: &str = ".build-";

/// One revision of the series, read from disk.
#[derive(Debug, Clone)]
pub struct Revision {
    /// Name as the user types it: `baseline`, `v4`, `mutants/prints-irq`.
    pub name: String,
    pub dir: PathBuf,
    /// Patch files in `series` order.
    pub patches: Vec<PathBuf>,
    /// sha256 of what `git am` takes from the mails: author, date,
    /// subject, message and diff ([`hashes`]). Names the applied tree.
    pub hash: String,
    /// sha256 of the diffs alone: the source the kernel is built from,
    /// so the kernel cache key. A reworded message or a new trailer keeps
    /// it; the same patches exported from a git tree get the same one.
    pub source_hash: String,
    /// Where the patches came from when they are not a directory of the
    /// series: a range of a developer's git tree ([`crate::pipeline::git_range`]).
    pub origin: Option<Origin>,
}

/// The git range a revision was exported from.
#[derive(Debug, Clone)]
pub struct Origin {
    /// The tree, as the user named it.
    pub repo: PathBuf,
    /// `base..branch`, as the user wrote it.
    pub range: String,
    /// One `(commit id, subject)` per patch, in order.
    pub commits: Vec<(String, String)>,
}

impl Revision {
    /// A name safe for one path component.
    pub fn slug(&self) -> String {
        self.name.replace('/', "-")
    }
}

/// `patches/gsi-sysfs`, or `GSI_PATCHES_DIR` for tests.
pub fn series_dir() -> PathBuf {
    match std::env::var_os("GSI_PATCHES_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => crate::project_root().join("patches").join("gsi-sysfs"),
    }
}

/// Every revision name under `dir`: directories holding a `series` file or
/// named `baseline`, and the same one level below `mutants/`.
pub fn known(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    let mut scan = |sub: &Path, prefix: &str| {
        let Ok(entries) = std::fs::read_dir(sub) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            if path.join("series").is_file() || (prefix.is_empty() && name == "baseline") {
                names.push(format!("{prefix}{name}"));
            }
        }
    };
    scan(dir, "");
    scan(&dir.join("mutants"), "mutants/");
    names.sort();
    names
}

/// Reads revision `name` from `dir`.
pub fn load(dir: &Path, name: &str) -> Result<Revision> {
    let known = known(dir);
    if !known.iter().any(|k| k == name) {
        bail!(
            "unknown revision {name:?}; known revisions in {}: {}",
            crate::config::display(dir),
            crate::config::list(&known)
        );
    }
    let rev_dir = dir.join(name);
    let series = rev_dir.join("series");
    let mut patches = Vec::new();
    if series.is_file() {
        let text = std::fs::read_to_string(&series)?;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let patch = rev_dir.join(line);
            if !patch.is_file() || line.contains("..") {
                bail!(
                    "{}:{}: names {line:?}, which is not a patch file in {}",
                    crate::config::display(&series),
                    n + 1,
                    crate::config::display(&rev_dir)
                );
            }
            patches.push(patch);
        }
    }
    let (hash, source_hash) = hashes(&patches)?;
    Ok(Revision {
        name: name.to_string(),
        dir: rev_dir,
        patches,
        hash,
        source_hash,
        origin: None,
    })
}

/// `(hash, source_hash)` of a series (see [`Revision`]).
///
/// Each mail is read by `git mailinfo`, as `git am` reads it: the
/// `[PATCH v5 1/3]` tag, the mbox `From <commit id>` line, other headers,
/// the notes and diffstat below `---` and the signature never reach the
/// tree or the commit, so they are left out, as are the abbreviated blob
/// ids of `index` lines (their length depends on the repository). What is
/// left is the same for a patch file and for the same commit exported
/// again with `git format-patch` from another tree. No patches hash as the
/// empty text, as they always did (baseline's kernels stay cached).
pub fn hashes(patches: &[PathBuf]) -> Result<(String, String)> {
    let mut mails = String::new();
    let mut diffs = String::new();
    for (n, patch) in patches.iter().enumerate() {
        let mail = crate::sys::git::mailinfo(patch, false)?;
        let (info, message) = (&mail.info, &mail.message);
        let diff = normalized_diff(&mail.rest);
        mails.push_str(&format!(
            "mail {n}\n{info}\nmessage\n{message}\ndiff\n{diff}"
        ));
        diffs.push_str(&format!("diff {n}\n{diff}"));
    }
    Ok((
        crate::sha256_hex(mails.as_bytes()),
        crate::sha256_hex(diffs.as_bytes()),
    ))
}

/// The diff of a mail's text below its message: from the first file
/// header on, without the trailing signature, with `index` lines reduced
/// to their mode (see [`hashes`]).
pub fn normalized_diff(rest: &str) -> String {
    let lines: Vec<&str> = rest.split_inclusive('\n').collect();
    let bare = |l: &str| l.trim_end_matches(['\n', '\r']).to_string();
    let start = (0..lines.len()).find(|&i| {
        lines[i].starts_with("diff ")
            || lines[i].starts_with("--- ")
                && lines.get(i + 1).is_some_and(|n| n.starts_with("+++ "))
    });
    let Some(start) = start else {
        return String::new();
    };
    let mut end = lines.len();
    // The signature: the last `-- ` line, with at most three lines after
    // it, none of which a diff could hold (a removed line `- ` also reads
    // `-- `).
    if let Some(sig) = (start..lines.len())
        .rev()
        .find(|&i| bare(lines[i]) == "-- ")
    {
        let tail = &lines[sig + 1..];
        let diff_like =
            |l: &&str| l.starts_with(['+', '-', ' ', '@', '\\']) || l.starts_with("diff ");
        if tail.len() <= 3 && !tail.iter().any(diff_like) {
            end = sig;
        }
    }
    // What `format-patch --base` appends after the last diff.
    while end > start {
        let line = bare(lines[end - 1]);
        if line.is_empty()
            || line.starts_with("base-commit: ")
            || line.starts_with("prerequisite-patch-id: ")
        {
            end -= 1;
        } else {
            break;
        }
    }
    let mut out = String::new();
    for line in &lines[start..end] {
        match index_mode(&bare(line)) {
            Some(mode) => {
                out.push_str("index");
                out.push_str(&mode);
                out.push('\n');
            }
            None => out.push_str(line),
        }
    }
    out
}

/// For `index 1a2b3c..4d5e6f 100644`, the ` 100644` (or nothing);
/// `None` for any other line.
fn index_mode(line: &str) -> Option<String> {
    let rest = line.strip_prefix("index ")?;
    let (ids, mode) = rest.split_once(' ').unwrap_or((rest, ""));
    let (old, new) = ids.split_once("..")?;
    let hex = |s: &str| s.len() >= 4 && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(old) && hex(new) && mode.bytes().all(|b| b.is_ascii_digit())).then(|| {
        if mode.is_empty() {
            String::new()
        } else {
            format!(" {mode}")
        }
    })
}

/// A revision applied to the pin.
#[derive(Debug, Clone)]
pub struct Tree {
    pub dir: PathBuf,
    /// Files the series changes, relative to the tree.
    pub touched: Vec<String>,
}

/// Remembered beside the tree; written last, so its presence means the
/// tree is complete.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Applied {
    base: String,
    series: String,
    touched: Vec<String>,
}

/// Applies `rev` to a worktree of `pin` (reusing it when nothing changed).
pub fn prepare(pin: &Pin, rev: &Revision, reporter: &Reporter) -> Result<Tree> {
    let trees = crate::work_dir().join("trees").join(&pin.key);
    let dir = trees.join(rev.slug());
    let stamp_path = trees.join(format!("{}.applied.toml", rev.slug()));
    let _lock =
        crate::sys::lock::Lock::acquire(&trees.join(format!("{}.lock", rev.slug())), reporter)?;
    let old: Option<Applied> = std::fs::read_to_string(&stamp_path)
        .ok()
        .and_then(|t| toml::from_str(&t).ok());
    if let Some(old) = &old {
        if old.base == pin.base && old.series == rev.hash && dir.is_dir() {
            return Ok(Tree {
                dir,
                touched: old.touched.clone(),
            });
        }
    }
    // Whatever is there is stale or half-made: forget the stamp first.
    let _ = std::fs::remove_file(&stamp_path);
    // Keep the build outputs: the next build of this revision stays
    // incremental (make compares mtimes; refreshed files below rebuild).
    let keep = trees.join(format!(".{}.keep", rev.slug()));
    std::fs::create_dir_all(&keep)?;
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(BUILD_DIR_PREFIX)
        {
            let _ = std::fs::remove_dir_all(keep.join(entry.file_name()));
            std::fs::rename(entry.path(), keep.join(entry.file_name()))?;
        }
    }
    remove_worktree(pin, &dir)?;
    reporter.note(format!(
        "apply {}: git am {} patch(es) on {}",
        rev.name,
        rev.patches.len(),
        &pin.base[..12]
    ));
    link_worktree(&pin.repo, &pin.base, &dir)?;
    for entry in std::fs::read_dir(&keep)?.flatten() {
        std::fs::rename(entry.path(), dir.join(entry.file_name()))?;
    }
    let touched = apply(&dir, rev, pin).inspect_err(|_| {
        let _ = remove_worktree(pin, &dir);
    })?;
    // Files changed by the old series but not by the new one went back to
    // the base's old mtime: make must still see them as changed.
    let mut refresh: Vec<String> = touched.clone();
    if let Some(old) = old {
        refresh.extend(old.touched);
    }
    refresh.sort();
    refresh.dedup();
    for file in &refresh {
        refresh_file(&dir.join(file))?;
    }
    let stamp = Applied {
        base: pin.base.clone(),
        series: rev.hash.clone(),
        touched: refresh,
    };
    crate::write_atomic(&stamp_path, toml::to_string(&stamp)?.as_bytes())?;
    Ok(Tree {
        dir,
        touched: stamp.touched,
    })
}

fn remove_worktree(pin: &Pin, dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .with_context(|| format!("removing the old tree {}", dir.display()))?;
    }
    git(&pin.repo, &["worktree", "prune"])?;
    Ok(())
}

/// A git worktree at the base commit whose files are hard links to the
/// base tree's, with the base's index (the stat data matches, since the
/// inodes are the same; all but the ctime: see [`ignore_ctime`]).
fn link_worktree(repo: &Path, base: &str, dir: &Path) -> Result<()> {
    git::add_worktree(repo, dir, base, false)
        .with_context(|| format!("creating a worktree at {}", dir.display()))?;
    let files = git(repo, &["ls-files", "-z"])?;
    for file in files.split('\0').filter(|f| !f.is_empty()) {
        let target = dir.join(file);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::hard_link(repo.join(file), &target).with_context(|| {
            format!(
                "linking {file} into {} (is target/ on the same filesystem?)",
                dir.display()
            )
        })?;
    }
    let gitdir = git(dir, &["rev-parse", "--absolute-git-dir"])?;
    std::fs::copy(
        repo.join(".git/index"),
        Path::new(gitdir.trim()).join("index"),
    )
    .context("copying the base index into the worktree")?;
    Ok(())
}

/// Tells git in a linked tree to leave the ctime out of its stat check.
///
/// Every hard link made to a base file (another revision's tree being
/// linked, at any moment) sets that inode's ctime, in every tree sharing
/// it. `git apply --index` trusts stat data alone, so a link made between
/// `git am`'s index refresh and its apply failed the patch with "does not
/// match index" (seen in CI, with check-series tests linking trees side by
/// side). Linking changes no mtime, size or inode number, which git still
/// compares.
fn ignore_ctime(cmd: Cmd) -> Cmd {
    cmd.env("GIT_CONFIG_COUNT", "1")
        .env("GIT_CONFIG_KEY_0", "core.trustctime")
        .env("GIT_CONFIG_VALUE_0", "false")
}

/// A patch of a revision does not apply to the pin: what `git am` said,
/// the patch and what to do. Its own type, so a run can tell it from a
/// failed build (verdict `apply-failed`, not `build-failed`).
#[derive(Debug)]
pub struct DoesNotApply(pub String);

impl std::fmt::Display for DoesNotApply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DoesNotApply {}

/// Runs `git am` for every patch; on failure names the patch (and the
/// commit it was exported from) and the file, aborts the am and leaves the
/// caller to remove the tree.
fn apply(dir: &Path, rev: &Revision, pin: &Pin) -> Result<Vec<String>> {
    let base = &pin.base;
    let am = |args: &[&str]| ignore_ctime(git::with_identity(git::cmd(dir, args)));
    for (n, patch) in rev.patches.iter().enumerate() {
        // In a group of its own like every long child: a SIGTERM to the
        // harness stops git am (and its hooks) too; the tree, with no
        // stamp, is made anew by the next run.
        let output = am(&["am", "--keep-cr"]).arg(patch).output()?;
        if !output.status.success() {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            let _ = am(&["am", "--abort"]).output();
            let failing: Vec<&str> = text
                .lines()
                .filter(|l| l.starts_with("error:") || l.starts_with("Patch failed"))
                .collect();
            let failing = if failing.is_empty() {
                text.trim().to_string()
            } else {
                failing.join("\n  ")
            };
            let Some(origin) = &rev.origin else {
                return Err(DoesNotApply(format!(
                    "revision {}: {} does not apply on the pin:\n  {failing}\nrebase it on the \
                     pinned tree (nothing was left half-applied)",
                    rev.name,
                    crate::config::display(patch),
                ))
                .into());
            };
            let (id, subject) = origin.commits.get(n).cloned().unwrap_or_default();
            return Err(DoesNotApply(format!(
                "revision {}: commit {} (\"{subject}\") of {} {} does not apply on the pin \
                 (linux {}, configs/kernel.toml):\n  {failing}\nexported as {}; rebase the \
                 branch onto the pinned kernel, or pin your own tree in configs/kernel.toml \
                 (kind = \"path\") (nothing was left half-applied)",
                rev.name,
                &id[..id.len().min(12)],
                origin.repo.display(),
                origin.range,
                pin.version,
                crate::config::display(patch),
            ))
            .into());
        }
    }
    let changed = git(dir, &["diff", "--name-only", base, "HEAD"])?;
    Ok(changed.lines().map(str::to_string).collect())
}

/// Gives `path` its own inode (never write through a link to the base) and
/// the current mtime, so make rebuilds what depends on it.
fn refresh_file(path: &Path) -> Result<()> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(()); // deleted by the series
    };
    if !meta.is_file() {
        return Ok(());
    }
    if meta.nlink() > 1 {
        let copy = path.with_extension("gsi-copy");
        std::fs::copy(path, &copy)?;
        std::fs::rename(&copy, path)?;
    }
    let file = std::fs::File::options().write(true).open(path)?;
    file.set_modified(std::time::SystemTime::now())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_revisions_are_known() {
        let names = known(&series_dir());
        assert!(names.contains(&"baseline".to_string()), "{names:?}");
        let baseline = load(&series_dir(), "baseline").unwrap();
        assert!(baseline.patches.is_empty());
    }

    #[test]
    fn unknown_revision_lists_the_known_ones() {
        let err = load(&series_dir(), "v99").unwrap_err().to_string();
        assert!(err.contains("v99") && err.contains("baseline"), "{err}");
    }

    /// A linked tree whose base inode gets one more link (so a new ctime)
    /// after the index was written: plain `git apply --index` refuses the
    /// patch, as `git am` did in CI when the link landed inside its
    /// window; with [`ignore_ctime`] it applies.
    #[test]
    fn linked_tree_applies_after_another_link_changes_the_ctime() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        std::fs::create_dir(&repo).unwrap();
        std::fs::write(repo.join("f.c"), "int a;\n").unwrap();
        let git = |args: &[&str], dir: &Path| git::with_identity(git::cmd(dir, args));
        git(&["init", "-q"], &repo).run().unwrap();
        git(&["add", "f.c"], &repo).run().unwrap();
        git(&["commit", "-q", "-m", "base"], &repo).run().unwrap();
        let base = git(&["rev-parse", "HEAD"], &repo).read().unwrap();
        let tree = tmp.path().join("tree");
        link_worktree(&repo, &base, &tree).unwrap();
        let patch = tmp.path().join("p.diff");
        std::fs::write(
            &patch,
            "--- a/f.c\n+++ b/f.c\n@@ -1 +1 @@\n-int a;\n+int b;\n",
        )
        .unwrap();
        // git compares whole seconds of ctime unless built with USE_NSEC.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        std::fs::hard_link(repo.join("f.c"), tmp.path().join("another-tree-f.c")).unwrap();
        let check = ["apply", "--index", "--check", patch.to_str().unwrap()];
        assert!(
            git(&check, &tree).run().is_err(),
            "the ctime is what git trips on"
        );
        ignore_ctime(git(&check, &tree)).run().unwrap();
    }

    /// One mail in the shape `git format-patch` writes.
    fn mail(subject: &str, message: &str, notes: &str, index: &str, line: &str) -> String {
        format!(
            "From 1111111111111111111111111111111111111111 Mon Sep 17 00:00:00 2001\n\
             From: Dev <dev@example.org>\n\
             Date: Mon, 2 Jun 2025 10:00:00 +0000\n\
             Subject: {subject}\n\
             Message-Id: <1@example.org>\n\n\
             {message}\n\n\
             Signed-off-by: Dev <dev@example.org>\n\
             ---\n{notes}\
             \x20f.c | 2 +-\n\
             \x201 file changed, 1 insertion(+), 1 deletion(-)\n\n\
             diff --git a/f.c b/f.c\n\
             index {index} 100644\n\
             --- a/f.c\n\
             +++ b/f.c\n\
             @@ -1 +1 @@\n\
             -int a;\n\
             +{line}\n\
             -- \n\
             2.47.3\n\n"
        )
    }

    #[test]
    fn hashes_keep_what_git_am_reads_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let hash = |name: &str, text: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            hashes(&[path]).unwrap()
        };
        let subject = "[PATCH v5 1/3] f: set b";
        let base = hash(
            "a",
            mail(subject, "Why.", "", "1a2b3c4d5..6e7f8a9b0", "int b;"),
        );
        // Another tag, notes below ---, other blob id abbreviations, other
        // mbox line and signature: the same hashes.
        let other = mail(
            "[PATCH 1/3] f: set b",
            "Why.",
            "Changes in v5: none\n\n",
            "1a2b3c4..6e7f8a9",
            "int b;",
        )
        .replacen(
            "1111111111111111111111111111111111111111",
            &"2".repeat(40),
            1,
        )
        .replace("2.47.3", "2.39.5");
        assert_eq!(hash("b", other), base);
        // A new message: another mail hash, the same source.
        let reworded = hash(
            "c",
            mail(subject, "Why, really.", "", "1a2b3c4..6e7f8a9", "int b;"),
        );
        assert_ne!(reworded.0, base.0);
        assert_eq!(reworded.1, base.1);
        // Another line of code: both change.
        let changed = hash("d", mail(subject, "Why.", "", "1a2b3c4..6e7f8a9", "int c;"));
        assert_ne!(changed.0, base.0);
        assert_ne!(changed.1, base.1);
        // No patches: the empty text, as before (baseline's kernels stay).
        assert_eq!(hashes(&[]).unwrap().1, crate::sha256_hex(b""));
    }

    #[test]
    fn normalized_diff_cuts_the_signature_but_not_a_removed_dash_line() {
        let diff = "diff --git a/f b/f\nindex 0123abc..4567def\n--- a/f\n+++ b/f\n\
                    @@ -1,2 +1 @@\n-- \n-x\n+y\n";
        // A removed line "- " reads "-- ", but diff lines follow it.
        assert_eq!(
            normalized_diff(&format!("---\n stat\n\n{diff}-- \n2.47.3\n\n")),
            diff.replace("index 0123abc..4567def", "index")
        );
        // Without a signature, the removed line is the diff's last but one.
        let last = "diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-- \n+y\n";
        assert_eq!(normalized_diff(last), last);
        assert_eq!(normalized_diff("no diff at all\n"), "");
    }

    #[test]
    fn series_naming_a_missing_patch_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("v9")).unwrap();
        std::fs::write(dir.path().join("v9/series"), "# comment\n0001-x.patch\n").unwrap();
        let err = load(dir.path(), "v9").unwrap_err().to_string();
        assert!(
            err.contains("series:2") && err.contains("0001-x.patch"),
            "{err}"
        );
    }
}
