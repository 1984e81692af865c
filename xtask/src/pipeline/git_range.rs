//! Revisions from a developer's own git tree: `--revision
//! name=/path/to/linux:base..branch` tests a branch (a `b4 prep` branch,
//! say) without exporting it by hand.
//!
//! The range is exported with real `git format-patch` into
//! `target/gsi/git-series/<key>/` (the key is the two commit ids, so an
//! unchanged branch is exported once; the directory is written under a
//! temporary name and renamed, so it is whole or absent), and from there
//! it is a revision like the shipped ones: applied with real `git am` onto
//! the pin ([`crate::pipeline::revision::prepare`]), its hashes taken from the patch
//! contents ([`crate::pipeline::revision::hashes`]), so the same patches exported
//! from anywhere share one cached kernel.

use crate::pipeline::revision::{Origin, Revision};
use crate::sys::git::git;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// Bumped when the export below changes its output (its options).
const EXPORT_LAYOUT: u32 = 2;

/// One `name=repo:base..tip` as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub name: String,
    pub repo: PathBuf,
    pub base: String,
    pub tip: String,
}

impl Spec {
    pub fn range(&self) -> String {
        format!("{}..{}", self.base, self.tip)
    }
}

/// Whether a `--revision` word names a git range rather than a revision
/// directory (revision names never hold `=`).
pub fn is_range(word: &str) -> bool {
    word.contains('=')
}

const FORM: &str = "write it as NAME=/path/to/linux:BASE..BRANCH, e.g. \
                    mine=~/linux:v6.12..b4/gsi-sysfs";

/// Parses `name=repo:base..tip`; every malformed part is named.
pub fn parse(word: &str) -> Result<Spec> {
    let Some((name, rest)) = word.split_once('=') else {
        bail!("{word:?} is not a git range revision; {FORM}");
    };
    let Some((repo, range)) = rest.rsplit_once(':') else {
        bail!("{word:?} has no `:BASE..BRANCH` after the tree's path; {FORM}");
    };
    if range.contains("...") {
        bail!("{word:?}: {range:?} is a symmetric difference; use two dots (BASE..BRANCH)");
    }
    let Some((base, tip)) = range.split_once("..") else {
        bail!("{word:?}: {range:?} is not a range; {FORM}");
    };
    if base.is_empty() || tip.is_empty() {
        bail!("{word:?}: {range:?} needs both ends, BASE..BRANCH (e.g. v6.12..HEAD)");
    }
    let valid = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
    if name.is_empty() || name.starts_with(['.', '-']) || !name.chars().all(valid) {
        bail!(
            "{word:?}: revision name {name:?} must be letters, digits, `.`, `_` or `-` \
             (it names a directory and a report column)"
        );
    }
    if repo.is_empty() {
        bail!("{word:?} has no path to a git tree before `:`; {FORM}");
    }
    let repo = match (repo.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(repo),
    };
    Ok(Spec {
        name: name.to_string(),
        repo,
        base: base.to_string(),
        tip: tip.to_string(),
    })
}

/// The revision for `word`, exported into `target/gsi/git-series`.
/// `shipped` are the names it must not take.
pub fn load(word: &str, shipped: &[String]) -> Result<Revision> {
    let spec = parse(word)?;
    load_in(&crate::work_dir().join("git-series"), &spec, shipped)
}

/// [`load`] with the export cache in `cache`.
pub fn load_in(cache: &Path, spec: &Spec, shipped: &[String]) -> Result<Revision> {
    if shipped.iter().any(|s| s == &spec.name) {
        bail!(
            "revision name {:?} is taken by {}; give the range another name \
             (e.g. {}-local={}:{})",
            spec.name,
            crate::config::display(&crate::pipeline::revision::series_dir().join(&spec.name)),
            spec.name,
            spec.repo.display(),
            spec.range()
        );
    }
    let repo = &spec.repo;
    if !repo.is_dir() {
        bail!(
            "revision {}: {} is not a directory; give the path of your kernel tree",
            spec.name,
            repo.display()
        );
    }
    if let Err(err) = git(repo, &["rev-parse", "--git-dir"]) {
        bail!(
            "revision {}: {} is not a git repository ({err:#}); give the path of a kernel \
             checkout (where `git log` shows your branch)",
            spec.name,
            repo.display()
        );
    }
    let resolve = |what: &str, rev: &str| -> Result<String> {
        git(
            repo,
            &[
                "rev-parse",
                "--verify",
                "--end-of-options",
                &format!("{rev}^{{commit}}"),
            ],
        )
        .map(|id| id.trim().to_string())
        .map_err(|_| {
            anyhow::anyhow!(
                "revision {}: {what} {rev:?} of {} names no commit in {}; check the spelling \
                 (`git -C {} branch -a` lists the branches)",
                spec.name,
                spec.range(),
                repo.display(),
                repo.display()
            )
        })
    };
    let base = resolve("base", &spec.base)?;
    let tip = resolve("branch", &spec.tip)?;
    let commits = list_commits(repo, &base, &tip)?;
    if commits.is_empty() {
        bail!(
            "revision {}: {} in {} holds no commits: is {} already merged into {}, or are \
             the two ends swapped? (`git -C {} log --oneline {}` shows what is in it)",
            spec.name,
            spec.range(),
            repo.display(),
            spec.tip,
            spec.base,
            repo.display(),
            spec.range()
        );
    }
    if let Some(merge) = commits.iter().find(|c| c.parents.len() != 1) {
        bail!(
            "revision {}: {} in {} holds merge commit {} (\"{}\"); git format-patch leaves \
             merges out, so the series would be incomplete: rebase the branch onto {} to make \
             it linear",
            spec.name,
            spec.range(),
            repo.display(),
            &merge.id[..12],
            merge.subject,
            spec.base
        );
    }
    let kept: Vec<&Commit> = commits.iter().filter(|c| !c.empty).collect();
    if kept.is_empty() {
        bail!(
            "revision {}: every commit of {} in {} is empty (a b4 cover letter alone?): \
             there is nothing to apply",
            spec.name,
            spec.range(),
            repo.display()
        );
    }
    let key = crate::sha256_hex(format!("git-range {EXPORT_LAYOUT}\n{base}\n{tip}\n").as_bytes());
    let dir = cache.join(&key[..16]);
    if !dir.join("series").is_file() {
        export(repo, &base, &tip, &commits, &dir)?;
    }
    let series = std::fs::read_to_string(dir.join("series"))
        .with_context(|| format!("reading {}", dir.join("series").display()))?;
    let patches: Vec<PathBuf> = series
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| dir.join(l))
        .collect();
    if patches.len() != kept.len() || patches.iter().any(|p| !p.is_file()) {
        bail!(
            "{} does not hold the {} patches of {}: remove the directory and run again",
            dir.display(),
            kept.len(),
            spec.range()
        );
    }
    let (hash, source_hash) = crate::pipeline::revision::hashes(&patches)?;
    Ok(Revision {
        name: spec.name.clone(),
        dir,
        patches,
        hash,
        source_hash,
        origin: Some(Origin {
            repo: repo.clone(),
            range: spec.range(),
            commits: kept
                .iter()
                .map(|c| (c.id.clone(), c.subject.clone()))
                .collect(),
        }),
    })
}

/// An empty commit at the start of a branch, read as b4 keeps a cover
/// letter: subject and body, and, below `--- b4-submit-tracking ---`,
/// b4's JSON with the revision and the subject prefixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct B4Cover {
    pub author: String,
    pub date: String,
    pub subject: String,
    pub body: String,
    /// b4's `revision` (1 when absent or not b4's).
    pub revision: u32,
    /// b4's `prefixes` (`RFC`, a tree name).
    pub prefixes: Vec<String>,
    /// Whether b4's tracking section was there.
    pub tracked: bool,
}

const B4_TRACKING: &str = "--- b4-submit-tracking ---";

impl B4Cover {
    fn read(repo: &Path, id: &str) -> Result<B4Cover> {
        let raw = git(repo, &["log", "-1", "--format=%an <%ae>%x00%aD%x00%B", id])?;
        let mut parts = raw.splitn(3, '\0');
        let (author, date, message) = (
            parts.next().unwrap_or_default().to_string(),
            parts.next().unwrap_or_default().to_string(),
            parts.next().unwrap_or_default(),
        );
        Ok(B4Cover::parse(author, date, message))
    }

    pub fn parse(author: String, date: String, message: &str) -> B4Cover {
        let (text, tracking) = match message.find(B4_TRACKING) {
            Some(i) => (&message[..i], Some(&message[i + B4_TRACKING.len()..])),
            None => (message, None),
        };
        let mut lines = text.lines();
        let subject = lines.next().unwrap_or_default().trim().to_string();
        let body = lines.collect::<Vec<_>>().join("\n").trim().to_string();
        let json: Option<serde_json::Value> = tracking.and_then(|t| {
            // b4 may put a comment line before the JSON.
            let start = t.find('{')?;
            serde_json::from_str(t[start..].trim()).ok()
        });
        let series = json.as_ref().and_then(|j| j.get("series"));
        let revision = series
            .and_then(|s| s.get("revision"))
            .and_then(|r| r.as_u64())
            .and_then(|r| u32::try_from(r).ok())
            .unwrap_or(1);
        let prefixes = series
            .and_then(|s| s.get("prefixes"))
            .and_then(|p| p.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        B4Cover {
            author,
            date,
            subject,
            body,
            revision,
            prefixes,
            tracked: tracking.is_some(),
        }
    }

    /// `RFC PATCH v3`, as b4 writes the tag.
    pub fn prefix(&self) -> String {
        let mut words: Vec<String> = self.prefixes.clone();
        words.push("PATCH".to_string());
        if self.revision > 1 {
            words.push(format!("v{}", self.revision));
        }
        words.join(" ")
    }

    /// The cover letter mail for `n` patches on `base`; b4 adds the
    /// `base-commit:` line when it sends, so a tracked cover gets it.
    pub fn mail(&self, id: &str, base: &str, n: usize) -> String {
        let mut mail = format!(
            "From {id} Mon Sep 17 00:00:00 2001\nFrom: {}\nDate: {}\nSubject: [{} 0/{n}] {}\n\n{}\n\n",
            self.author,
            self.date,
            self.prefix(),
            self.subject,
            self.body
        );
        if self.tracked {
            mail.push_str(&format!("---\nbase-commit: {base}\n"));
        }
        mail.push_str("-- \ngsi-workbench\n");
        mail
    }
}

/// One commit of the range.
#[derive(Debug, Clone)]
struct Commit {
    id: String,
    parents: Vec<String>,
    subject: String,
    /// It changes nothing (b4 keeps its cover letter in such a commit).
    empty: bool,
}

/// The commits of `base..tip`, oldest first.
fn list_commits(repo: &Path, base: &str, tip: &str) -> Result<Vec<Commit>> {
    let log = git(
        repo,
        &[
            "log",
            "--reverse",
            "--format=%H%x09%T%x09%P%x09%s",
            &format!("{base}..{tip}"),
        ],
    )?;
    let mut commits = Vec::new();
    let mut previous: Option<(String, String)> = None; // (id, tree)
    for line in log.lines() {
        let mut fields = line.splitn(4, '\t');
        let (Some(id), Some(tree), Some(parents), subject) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next().unwrap_or(""),
        ) else {
            bail!("git log printed an unexpected line: {line:?}");
        };
        let parents: Vec<String> = parents.split_whitespace().map(str::to_string).collect();
        let parent_tree = match (&previous, parents.first()) {
            (Some((prev, prev_tree)), Some(p)) if p == prev => Some(prev_tree.clone()),
            (_, Some(p)) if parents.len() == 1 => Some(
                git(repo, &["rev-parse", &format!("{p}^{{tree}}")])?
                    .trim()
                    .to_string(),
            ),
            _ => None,
        };
        commits.push(Commit {
            id: id.to_string(),
            parents,
            subject: subject.to_string(),
            empty: parent_tree.as_deref() == Some(tree),
        });
        previous = Some((id.to_string(), tree.to_string()));
    }
    Ok(commits)
}

/// `git format-patch` of the range into `dir`, through a temporary
/// directory beside it. The options pin down what user configuration
/// could otherwise change in the mails (cover letter, signature, prefixes,
/// diff algorithm, context, attachments, sign-offs).
fn export(repo: &Path, base: &str, tip: &str, commits: &[Commit], dir: &Path) -> Result<()> {
    let cache = dir.parent().expect("the export directory has a parent");
    std::fs::create_dir_all(cache).with_context(|| format!("creating {}", cache.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(".export-")
        .tempdir_in(cache)
        .with_context(|| format!("creating a temporary directory in {}", cache.display()))?;
    let out = tmp.path().to_string_lossy().to_string();
    // b4 keeps the cover letter in an empty commit at the start of the
    // branch: it becomes 0000-cover-letter.patch, and the patches after
    // it are numbered 1/n..n/n under b4's prefix, as `b4 send` would.
    let cover = commits.first().filter(|c| c.empty);
    let (from, commits) = match cover {
        Some(c) => (c.id.as_str(), &commits[1..]),
        None => (base, commits),
    };
    let b4 = match cover {
        Some(c) => Some(B4Cover::read(repo, &c.id)?),
        None => None,
    };
    let subject_prefix = format!(
        "--subject-prefix={}",
        b4.as_ref()
            .map_or_else(|| "PATCH".to_string(), |b| b.prefix())
    );
    let range = format!("{from}..{tip}");
    if commits.is_empty() {
        bail!(
            "{base}..{tip} in {} holds only its cover letter",
            repo.display()
        );
    }
    let mut args = vec![
        "format-patch",
        "--quiet",
        "--output-directory",
        &out,
        &subject_prefix,
    ];
    if cover.is_some() {
        // 1/1 for a single patch under a cover letter, as b4 sends it.
        args.push("--numbered");
    }
    args.extend([
        "--no-cover-letter",
        "--no-signature",
        "--no-base",
        "--no-notes",
        "--no-attach",
        "--no-thread",
        "--no-signoff",
        "--no-from",
        "--suffix=.patch",
        "--src-prefix=a/",
        "--dst-prefix=b/",
        "--diff-algorithm=myers",
        "--unified=3",
        "--inter-hunk-context=0",
        &range,
    ]);
    git(repo, &args).with_context(|| format!("git format-patch {range} in {}", repo.display()))?;
    let mut files: Vec<String> = std::fs::read_dir(tmp.path())?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|f| f.ends_with(".patch"))
        .collect();
    files.sort();
    if files.len() != commits.len() {
        bail!(
            "git format-patch wrote {} patches for the {} commits of {base}..{tip} in {}",
            files.len(),
            commits.len(),
            repo.display()
        );
    }
    let mut series = format!(
        "# git format-patch of {} {base}..{tip}, by gsi-workbench\n",
        repo.display()
    );
    if let (Some(c), Some(b4)) = (cover, &b4) {
        let n = commits.len();
        std::fs::write(
            tmp.path().join("0000-cover-letter.patch"),
            b4.mail(&c.id, base, n),
        )?;
        series.push_str(&format!(
            "# cover letter (0000-cover-letter.patch) from the empty commit {} {}\n",
            &c.id[..12],
            c.subject
        ));
    }
    for (file, commit) in files.iter().zip(commits) {
        if commit.empty {
            std::fs::remove_file(tmp.path().join(file))?;
            series.push_str(&format!(
                "# left out, it changes nothing: {} {}\n",
                &commit.id[..12],
                commit.subject
            ));
        } else {
            series.push_str(&format!("{file}\n"));
        }
    }
    std::fs::write(tmp.path().join("series"), series)?;
    let tmp = tmp.keep();
    if let Err(err) = std::fs::rename(&tmp, dir) {
        let _ = std::fs::remove_dir_all(&tmp);
        // Another run exported the same range at the same time.
        if !dir.join("series").is_file() {
            return Err(err).with_context(|| format!("renaming the export to {}", dir.display()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::process::Cmd;

    #[test]
    fn an_empty_commit_without_b4_tracking_is_a_plain_cover_letter() {
        let cover = B4Cover::parse(
            "A <a@b.org>".into(),
            "Mon, 1 Jan 2024 00:00:00 +0000".into(),
            "PCI: Cover\n\nBody line.\n",
        );
        assert_eq!((cover.revision, cover.tracked), (1, false));
        assert_eq!(cover.prefix(), "PATCH");
        let mail = cover.mail(&"1".repeat(40), &"2".repeat(40), 3);
        assert!(mail.contains("Subject: [PATCH 0/3] PCI: Cover\n\nBody line."));
        assert!(!mail.contains("base-commit"), "{mail}");
    }

    #[test]
    fn specs_parse_and_bad_ones_say_what_is_wrong() {
        let spec = parse("mine=/src/linux:v6.12..b4/gsi").unwrap();
        assert_eq!(
            spec,
            Spec {
                name: "mine".into(),
                repo: "/src/linux".into(),
                base: "v6.12".into(),
                tip: "b4/gsi".into()
            }
        );
        // The last `:` splits, so a path may hold one.
        assert_eq!(
            parse("a=/x:y/z:b..c").unwrap().repo,
            PathBuf::from("/x:y/z")
        );
        for (word, want) in [
            ("mine=/src/linux", "no `:BASE..BRANCH`"),
            ("mine=/src/linux:main", "is not a range"),
            ("mine=/src/linux:a...b", "symmetric difference"),
            ("mine=/src/linux:..b", "needs both ends"),
            ("mine=/src/linux:a..", "needs both ends"),
            ("=/src/linux:a..b", "revision name \"\""),
            ("my/rev=/src/linux:a..b", "letters, digits"),
            ("mine=:a..b", "no path"),
        ] {
            let err = parse(word).unwrap_err().to_string();
            assert!(err.contains(want), "{word}: {err}");
        }
    }

    /// A small real repository: base, one change, an empty commit (b4's
    /// cover letter), another change, and a side branch with a merge.
    struct Repo {
        tmp: tempfile::TempDir,
        base: String,
    }

    impl Repo {
        fn dir(&self) -> PathBuf {
            self.tmp.path().join("linux")
        }

        fn git(&self, args: &[&str]) -> String {
            crate::test_support::git(
                &self.dir(),
                args,
                &[
                    ("GIT_AUTHOR_DATE", "2025-01-01T00:00:00Z"),
                    ("GIT_COMMITTER_DATE", "2025-01-01T00:00:00Z"),
                ],
            )
        }

        fn new() -> Repo {
            let tmp = tempfile::tempdir().unwrap();
            let repo = Repo {
                tmp,
                base: String::new(),
            };
            std::fs::create_dir(repo.dir()).unwrap();
            repo.git(&["init", "-q", "-b", "main"]);
            std::fs::write(repo.dir().join("gsi.c"), "int gsi;\n").unwrap();
            repo.git(&["add", "gsi.c"]);
            repo.git(&["commit", "-q", "-m", "base"]);
            let base = repo.git(&["rev-parse", "HEAD"]);
            repo.git(&["checkout", "-q", "-b", "feature"]);
            std::fs::write(repo.dir().join("gsi.c"), "int gsi = 1;\n").unwrap();
            repo.git(&["commit", "-q", "-am", "gsi: set one\n\nWhy it is one."]);
            repo.git(&["commit", "-q", "--allow-empty", "-m", "cover letter"]);
            std::fs::write(repo.dir().join("new.h"), "#define NEW 1\n").unwrap();
            repo.git(&["add", "new.h"]);
            repo.git(&["commit", "-q", "-m", "new: add a header"]);
            Repo { base, ..repo }
        }

        fn spec(&self, name: &str, range: &str) -> Spec {
            parse(&format!("{name}={}:{range}", self.dir().display())).unwrap()
        }
    }

    #[test]
    fn a_range_is_exported_once_and_applies_to_its_base_like_the_branch() {
        let repo = Repo::new();
        let cache = repo.tmp.path().join("cache");
        let spec = repo.spec("mine", &format!("{}..feature", repo.base));
        let rev = load_in(&cache, &spec, &[]).unwrap();
        assert_eq!(rev.name, "mine");
        // The empty commit is left out, and said so in the series file.
        assert_eq!(rev.patches.len(), 2, "{:?}", rev.patches);
        let series = std::fs::read_to_string(rev.dir.join("series")).unwrap();
        assert!(series.contains("left out, it changes nothing"), "{series}");
        let origin = rev.origin.as_ref().unwrap();
        assert_eq!(origin.commits[0].1, "gsi: set one");
        assert_eq!(origin.commits[1].1, "new: add a header");

        // The same range again: the same directory, not a new export.
        let stamp = std::fs::metadata(&rev.patches[0])
            .unwrap()
            .modified()
            .unwrap();
        let again = load_in(&cache, &spec, &[]).unwrap();
        assert_eq!(
            (again.dir.clone(), again.hash.clone()),
            (rev.dir.clone(), rev.hash.clone())
        );
        assert_eq!(
            std::fs::metadata(&again.patches[0])
                .unwrap()
                .modified()
                .unwrap(),
            stamp
        );
        let entries = std::fs::read_dir(&cache).unwrap().count();
        assert_eq!(
            entries, 1,
            "no temporary directory is left beside the export"
        );

        // Real `git am` of the export onto the base gives the branch's tree.
        let check = repo.tmp.path().join("check");
        let id = |cmd| crate::sys::git::with_identity(cmd);
        id(Cmd::new("git")
            .args(["clone", "-q", "--no-checkout"])
            .arg(repo.dir())
            .arg(&check))
        .run()
        .unwrap();
        id(crate::sys::git::cmd(
            &check,
            &["checkout", "-q", &repo.base],
        ))
        .run()
        .unwrap();
        id(crate::sys::git::cmd(&check, &["am", "-q"]).args(&rev.patches))
            .run()
            .unwrap();
        let applied = git(&check, &["rev-parse", "HEAD^{tree}"]).unwrap();
        assert_eq!(applied, repo.git(&["rev-parse", "feature^{tree}"]));

        // A reworded message keeps the source hash (the kernel), not the
        // mail hash (the commits).
        repo.git(&[
            "commit",
            "-q",
            "--amend",
            "-m",
            "new: add a header, reworded",
        ]);
        let reworded = load_in(&cache, &spec, &[]).unwrap();
        assert_ne!(reworded.dir, rev.dir);
        assert_ne!(reworded.hash, rev.hash);
        assert_eq!(reworded.source_hash, rev.source_hash);
    }

    #[test]
    fn bad_ranges_are_named_with_the_fix() {
        let repo = Repo::new();
        let cache = repo.tmp.path().join("cache");
        let err = |spec: &Spec, shipped: &[String]| {
            format!("{:#}", load_in(&cache, spec, shipped).unwrap_err())
        };
        let good = repo.spec("mine", &format!("{}..feature", repo.base));

        let e = err(&good, &["v4".into(), "mine".into()]);
        assert!(
            e.contains("\"mine\" is taken") && e.contains("mine-local="),
            "{e}"
        );

        let missing = Spec {
            repo: repo.tmp.path().join("nowhere"),
            ..good.clone()
        };
        assert!(err(&missing, &[]).contains("is not a directory"));

        let plain = repo.tmp.path().join("plain");
        std::fs::create_dir(&plain).unwrap();
        let e = err(
            &Spec {
                repo: plain,
                ..good.clone()
            },
            &[],
        );
        assert!(e.contains("is not a git repository"), "{e}");

        let e = err(&repo.spec("mine", "main..no-such-branch"), &[]);
        assert!(
            e.contains("branch \"no-such-branch\"") && e.contains("names no commit"),
            "{e}"
        );

        let e = err(&repo.spec("mine", "feature..main"), &[]);
        assert!(
            e.contains("holds no commits") && e.contains("swapped"),
            "{e}"
        );

        let e = err(&repo.spec("mine", "feature~2..feature~1"), &[]);
        assert!(e.contains("every commit") && e.contains("is empty"), "{e}");

        repo.git(&["checkout", "-q", "-b", "side", &repo.base]);
        std::fs::write(repo.dir().join("side.c"), "int side;\n").unwrap();
        repo.git(&["add", "side.c"]);
        repo.git(&["commit", "-q", "-m", "side"]);
        repo.git(&["checkout", "-q", "feature"]);
        repo.git(&["merge", "-q", "--no-edit", "side"]);
        let e = err(&repo.spec("mine", &format!("{}..feature", repo.base)), &[]);
        assert!(e.contains("merge commit") && e.contains("rebase"), "{e}");
        assert!(!cache.exists() || std::fs::read_dir(&cache).unwrap().count() == 0);
    }
}
