//! Revisions of the series and the trees they are applied to.
//!
//! A revision is a directory under `patches/<series>/` with a `series` file
//! (quilt style: one patch file name a line; none for `baseline`). Each is
//! applied with real `git am` to its own worktree of the pin. A worktree is
//! a hard-link farm of the base tree (git replaces the files a patch
//! touches, so the base is never written through a link): about 3 s and no
//! extra disk per revision instead of a 1.7 GB checkout.

use crate::pin::Pin;
use crate::progress::Reporter;
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
    /// sha256 over the patch names and contents.
    pub hash: String,
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
    let mut text = String::new();
    for patch in &patches {
        text.push_str(&patch.file_name().unwrap().to_string_lossy());
        text.push('\n');
        text.push_str(&std::fs::read_to_string(patch)?);
    }
    Ok(Revision {
        name: name.to_string(),
        dir: rev_dir,
        patches,
        hash: crate::sha256_hex(text.as_bytes()),
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
    let _lock = crate::lock::Lock::acquire(&trees.join(format!("{}.lock", rev.slug())), reporter)?;
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
    let touched = apply(&dir, rev, &pin.base).inspect_err(|_| {
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
    let sh = xshell::Shell::new()?;
    let repo = &pin.repo;
    xshell::cmd!(sh, "git -C {repo} worktree prune")
        .quiet()
        .run()?;
    Ok(())
}

/// A git worktree at the base commit whose files are hard links to the
/// base tree's, with the base's index (the stat data matches, since the
/// inodes are the same; all but the ctime: see [`ignore_ctime`]).
fn link_worktree(repo: &Path, base: &str, dir: &Path) -> Result<()> {
    let sh = xshell::Shell::new()?;
    xshell::cmd!(
        sh,
        "git -C {repo} worktree add -q --detach --no-checkout {dir} {base}"
    )
    .quiet()
    .run()
    .with_context(|| format!("creating a worktree at {}", dir.display()))?;
    let files = xshell::cmd!(sh, "git -C {repo} ls-files -z")
        .quiet()
        .read()?;
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
    let gitdir = xshell::cmd!(sh, "git -C {dir} rev-parse --absolute-git-dir")
        .quiet()
        .read()?;
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
fn ignore_ctime(sh: &xshell::Shell) -> Vec<xshell::PushEnv<'_>> {
    vec![
        sh.push_env("GIT_CONFIG_COUNT", "1"),
        sh.push_env("GIT_CONFIG_KEY_0", "core.trustctime"),
        sh.push_env("GIT_CONFIG_VALUE_0", "false"),
    ]
}

/// Runs `git am` for every patch; on failure names the patch and the file,
/// aborts the am and leaves the caller to remove the tree.
fn apply(dir: &Path, rev: &Revision, base: &str) -> Result<Vec<String>> {
    let sh = xshell::Shell::new()?;
    let _env = crate::pin::git_identity(&sh);
    let _ctime = ignore_ctime(&sh);
    let _dir = sh.push_dir(dir);
    for patch in &rev.patches {
        // In a group of its own like every long child: a SIGTERM to the
        // harness stops git am (and its hooks) too; the tree, with no
        // stamp, is made anew by the next run.
        let output = crate::children::output(xshell::cmd!(sh, "git am --keep-cr {patch}").into())?;
        if !output.status.success() {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            let _ = crate::children::output(xshell::cmd!(sh, "git am --abort").into());
            let failing: Vec<&str> = text
                .lines()
                .filter(|l| l.starts_with("error:") || l.starts_with("Patch failed"))
                .collect();
            bail!(
                "revision {}: {} does not apply on the pin:\n  {}\nrebase it on the pinned tree \
                 (nothing was left half-applied)",
                rev.name,
                crate::config::display(patch),
                if failing.is_empty() {
                    text.trim().to_string()
                } else {
                    failing.join("\n  ")
                }
            );
        }
    }
    let changed = xshell::cmd!(sh, "git diff --name-only {base} HEAD")
        .quiet()
        .read()?;
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
        let sh = xshell::Shell::new().unwrap();
        let _id = crate::pin::git_identity(&sh);
        std::fs::create_dir(&repo).unwrap();
        std::fs::write(repo.join("f.c"), "int a;\n").unwrap();
        let git = |args: &[&str], dir: &Path| {
            xshell::cmd!(sh, "git -C {dir} {args...}")
                .quiet()
                .ignore_stdout()
                .ignore_stderr()
                .run()
        };
        git(&["init", "-q"], &repo).unwrap();
        git(&["add", "f.c"], &repo).unwrap();
        git(&["commit", "-q", "-m", "base"], &repo).unwrap();
        let base = xshell::cmd!(sh, "git -C {repo} rev-parse HEAD")
            .read()
            .unwrap();
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
            git(&check, &tree).is_err(),
            "the ctime is what git trips on"
        );
        let _ctime = ignore_ctime(&sh);
        git(&check, &tree).unwrap();
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
