//! `cargo xtask check-series <revision>`: what a maintainer would check
//! before a series goes to the list, each check a named PASS/FAIL (or
//! SKIP) line with its evidence and the seconds it took.
//!
//! The checks: `apply` (git am on the pin), `bisect-build` (the base config
//! builds at every patch), `checkpatch` (--strict), `subjects` (`[PATCH vN
//! k/n]`, cover letter 0/n), `signed-off` (by the author), `changelog`
//! (every earlier version named), `range-diff` (git range-diff against
//! the `previous` revision of configs/matrix.toml, else v(N-1) beside it;
//! SKIP when there is none, FAIL when it cannot run), `abi-doc` (a new sysfs attribute has a
//! `What:` under Documentation/ABI/), `build-only` (CONFIG_ACPI=n,
//! CONFIG_PCI=n) and `get-maintainer` (who to send it to). A revision is a
//! name under patches/gsi-sysfs or a path to any directory holding a
//! `series` file (tests check seeded bad series that way). The mail rules
//! live in [`mail`], the two build checks in [`builds`]; the build
//! coverage at every patch under seven variants (`build-x86_64`,
//! `build-allno`, `build-noacpi`, `build-i386`, `build-arm64`, `build-w1`,
//! `sparse`) in [`coverage`], and `abi-validate` and `kernel-doc` (the
//! pin's own get_abi.pl and kernel-doc, new findings only) in [`docs`].
//!
//! What maintainers and b4 check of the mails themselves is in
//! [`submission`]: `identity` (a real poster; placeholder-signed mails are
//! re-signed with the poster's identity by [`identity`] and written to
//! `target/gsi/check-series/<revision>/mails/`, the mails every other
//! check reads and the ones to send), `base-commit`, `recipients` (the
//! cover letter carries get_maintainer's answer), `credits` (earlier
//! postings by others are linked or named) and `version` (the number is
//! not one already posted, per the series' posted.toml). `subjects` also
//! applies the subject prefix rule that [`maintainers`] derives from the
//! pin's MAINTAINERS, and `get-maintainer` fails when its answer misses a
//! list MAINTAINERS gives for the touched files. [`trees`] applies the
//! series with `git am --3way` to the pin and every `[[also]]` tree of
//! configs/kernel.toml (`other-trees`); [`cost`] shows the boot time the
//! series adds over baseline, from stored test-matrix boots (`cost`).

pub mod builds;
mod checks;
pub mod cost;
pub mod coverage;
pub mod docs;
pub mod identity;
pub mod mail;
pub mod maintainers;
pub mod submission;
pub mod trees;

use crate::pipeline::pin::{self, Pin};
use crate::pipeline::revision::{self, Revision};
use crate::sys::git::{self, git};
use crate::sys::process::Cmd;
use crate::sys::progress::{Progress, Reporter};
use anyhow::{bail, Context, Result};
use builds::{CheckTree, Targets};
use mail::Mail;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// A revision under patches/gsi-sysfs (`v5`, `mutants/prints-irq`), a
    /// directory holding a `series` file, or a range of your own git tree:
    /// NAME=/path/to/linux:BASE..BRANCH.
    pub revision: String,
    /// Do not run the two build checks (bisect-build, build-only): they
    /// are reported as SKIP.
    #[arg(long)]
    pub skip_builds: bool,
    /// Build only the kbuild directories of these objects (repeatable or
    /// comma-separated, e.g. drivers/pci/pci-sysfs.o; `touched` = every
    /// object the series touches) instead of vmlinux, in both build checks.
    #[arg(long = "objects", value_name = "OBJ", value_delimiter = ',')]
    pub objects: Vec<String>,
    /// Also write the report as JSON here (it is always written to
    /// target/gsi/logs/check-series-<revision>.json).
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// make -j (default: number of cores).
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// The poster, "Name <mail>" (default: git config user.name and
    /// user.email). Placeholder-signed mails are re-signed with it.
    #[arg(long, value_name = "NAME <MAIL>")]
    pub identity: Option<String>,
    /// Run only these build-coverage checks (build-x86_64, build-allno,
    /// build-noacpi, build-i386, build-arm64, build-w1, sparse; repeatable
    /// or comma-separated); the others are reported as SKIP.
    #[arg(long = "coverage", value_name = "CHECK", value_delimiter = ',')]
    pub coverage: Vec<String>,
}

impl Args {
    /// Arguments for `revision` with everything else at its default.
    pub fn new(revision: impl Into<String>) -> Args {
        Args {
            revision: revision.into(),
            skip_builds: false,
            objects: Vec::new(),
            json: None,
            jobs: None,
            identity: None,
            coverage: Vec::new(),
        }
    }
}

/// The order checks are reported in.
pub const CHECKS: [&str; 26] = [
    "apply",
    "other-trees",
    "bisect-build",
    "checkpatch",
    "subjects",
    "signed-off",
    "identity",
    "base-commit",
    "recipients",
    "credits",
    "version",
    "changelog",
    "range-diff",
    "cost",
    "abi-doc",
    "abi-validate",
    "kernel-doc",
    "build-only",
    "build-x86_64",
    "build-allno",
    "build-noacpi",
    "build-i386",
    "build-arm64",
    "build-w1",
    "sparse",
    "get-maintainer",
];

/// checkpatch findings that are the `signed-off` check's to judge: they
/// are counted under checkpatch but do not fail it twice.
const SIGN_OFF_TYPES: [&str; 3] = [
    "MISSING_SIGN_OFF",
    "NO_AUTHOR_SIGN_OFF",
    "FROM_SIGN_OFF_MISMATCH",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Pass,
    Fail,
    Skip,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        })
    }
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub secs: f64,
    /// One line: what was found.
    pub summary: String,
    /// The lines that back the summary (patches, findings, log paths).
    pub evidence: Vec<String>,
}

/// What a check function returns; [`timed`] adds the name and the time.
#[derive(Debug, Clone)]
pub struct CheckResult {
    pub status: Status,
    pub summary: String,
    pub evidence: Vec<String>,
}

impl CheckResult {
    fn new(status: Status, summary: impl Into<String>, evidence: Vec<String>) -> CheckResult {
        CheckResult {
            status,
            summary: summary.into(),
            evidence,
        }
    }
    pub fn pass(summary: impl Into<String>, evidence: Vec<String>) -> CheckResult {
        CheckResult::new(Status::Pass, summary, evidence)
    }
    pub fn fail(summary: impl Into<String>, evidence: Vec<String>) -> CheckResult {
        CheckResult::new(Status::Fail, summary, evidence)
    }
    pub fn skip(summary: impl Into<String>) -> CheckResult {
        CheckResult::new(Status::Skip, summary, Vec::new())
    }
    /// Pass when `problems` is empty, else fail with them first.
    fn judge(problems: Vec<String>, evidence: Vec<String>, ok: String) -> CheckResult {
        if problems.is_empty() {
            CheckResult::pass(ok, evidence)
        } else {
            let summary = if problems.len() == 1 {
                problems[0].clone()
            } else {
                format!("{} problems: {}", problems.len(), problems[0])
            };
            // A single problem is the summary; several are listed.
            let mut lines = if problems.len() == 1 {
                Vec::new()
            } else {
                problems
            };
            lines.extend(evidence);
            CheckResult::fail(summary, lines)
        }
    }
}

/// The whole answer, also the JSON report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub revision: String,
    /// The revision's directory.
    pub dir: String,
    /// `linux 6.12.117 (linux-source-6.12 ..., base 5fdc7cc8c49b)`.
    pub pin: String,
    pub patches: Vec<String>,
    pub cover_letter: Option<String>,
    /// Where the mails to send were written (re-signed with the poster's
    /// identity); None without a real poster identity.
    pub mails: Option<String>,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn check(&self, name: &str) -> &Check {
        self.checks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("check-series has no check {name}"))
    }

    /// Names of the failed checks, in report order.
    pub fn failed(&self) -> Vec<&str> {
        self.checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .map(|c| c.name.as_str())
            .collect()
    }

    /// The terminal form: one line per check, evidence indented below.
    pub fn text(&self, max_evidence: usize, json: &Path) -> String {
        let mut out = format!(
            "check-series {}: {} patch(es){} on {}\n\n",
            self.revision,
            self.patches.len(),
            if self.cover_letter.is_some() {
                " + cover letter"
            } else {
                ""
            },
            self.pin
        );
        for check in &self.checks {
            out.push_str(&format!(
                "{}  {:<15}{:>8.1} s  {}\n",
                check.status, check.name, check.secs, check.summary
            ));
            for line in check.evidence.iter().take(max_evidence) {
                out.push_str(&format!("      {line}\n"));
            }
            if check.evidence.len() > max_evidence {
                out.push_str(&format!(
                    "      ... {} more line(s) in {}\n",
                    check.evidence.len() - max_evidence,
                    crate::config::display(json)
                ));
            }
        }
        let failed = self.failed();
        let total: f64 = self.checks.iter().map(|c| c.secs).sum();
        if failed.is_empty() {
            out.push_str(&format!(
                "\nall checks passed ({} skipped), {total:.1} s\n",
                self.checks
                    .iter()
                    .filter(|c| c.status == Status::Skip)
                    .count()
            ));
        } else {
            out.push_str(&format!(
                "\n{} of {} checks FAILED: {} ({total:.1} s)\n",
                failed.len(),
                self.checks.len(),
                failed.join(", ")
            ));
        }
        out
    }
}

pub fn run(args: Args) -> Result<()> {
    let progress = Progress::start();
    let reporter = progress.reporter();
    let result = run_with(&args, &reporter);
    progress.finish();
    let report = result?;
    let json = json_path(&report);
    print!("\n{}", report.text(40, &json));
    let failed = report.failed();
    if !failed.is_empty() {
        bail!(
            "check-series {}: {} check(s) failed: {}",
            report.revision,
            failed.len(),
            failed.join(", ")
        );
    }
    Ok(())
}

fn json_path(report: &Report) -> PathBuf {
    crate::work_dir().join("logs").join(format!(
        "check-series-{}.json",
        report.revision.replace('/', "-")
    ))
}

/// Runs every check and returns the report (also written as JSON).
pub fn run_with(args: &Args, reporter: &Reporter) -> Result<Report> {
    let rev = resolve_revision(&args.revision)?;
    if rev.patches.is_empty() {
        bail!("revision {} has no patches: nothing to check", rev.name);
    }
    let tools = if args.skip_builds {
        vec![
            crate::sys::tools::Tool {
                probe: "git",
                package: "git",
            },
            crate::sys::tools::Tool {
                probe: "perl",
                package: "perl",
            },
        ]
    } else {
        crate::sys::tools::BUILD.to_vec()
    };
    crate::sys::tools::ensure(&tools, true, reporter)?;
    let targets = targets(args, &rev)?;
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    reporter.stage(format!(
        "check-series {}: {} patch(es)",
        rev.name,
        rev.patches.len()
    ));
    let pin = pin::resolve(&crate::config::configs_dir().join("kernel.toml"), reporter)?;
    let shipped_cover = find_cover(&rev)?;
    // The poster, and the mails as they would be sent: placeholder
    // identities replaced by the poster's. Every check reads these.
    let poster = identity::poster(args.identity.as_deref(), &crate::project_root());
    let mut originals: Vec<PathBuf> = rev.patches.clone();
    originals.extend(shipped_cover.iter().map(|c| c.path.clone()));
    let (paths, resigned, mails_dir) = match poster.real() {
        Some(person) => {
            let dir = crate::work_dir()
                .join("check-series")
                .join(rev.name.replace(['/', '='], "-"))
                .join("mails");
            let (paths, changed) = identity::write_resigned(&originals, person, &dir)?;
            (paths, changed, Some(dir))
        }
        None => (originals.clone(), Vec::new(), None),
    };
    let (patch_paths, cover_path) = paths.split_at(rev.patches.len());
    let mails = patch_paths
        .iter()
        .map(|p| mail::read(p))
        .collect::<Result<Vec<_>>>()?;
    let cover = cover_path.first().map(|p| mail::read(p)).transpose()?;
    if let Some(dir) = &mails_dir {
        reporter.note(format!(
            "check-series: the mails to send are in {}",
            crate::config::display(dir)
        ));
    }
    let carrier = cover
        .as_ref()
        .or(mails.last())
        .expect("a series has a patch");
    let carrier_text = std::fs::read_to_string(&carrier.path)?;
    let sections = maintainers::parse(
        &std::fs::read_to_string(pin.repo.join("MAINTAINERS"))
            .with_context(|| format!("reading MAINTAINERS of the pin {}", pin.repo.display()))?,
    );
    let posted_path = checks::posted_toml(&rev);
    let posted = crate::config::posted::PostedToml::load(&posted_path)?.posted;
    let maintainers_answer = checks::get_maintainer(&pin, &mails);
    let version = mail::series_version(
        &mails
            .iter()
            .chain(cover.iter())
            .map(|m| m.subject.as_str())
            .collect::<Vec<_>>(),
    )
    .unwrap_or(1);

    let mut checks = Vec::new();
    let mut applied: Option<revision::Tree> = None;
    checks.push(timed("apply", reporter, || {
        let (outcome, tree) = check_apply(&pin, &rev, reporter)?;
        applied = tree;
        Ok(outcome)
    }));
    checks.push(timed("other-trees", reporter, || {
        let also = pin::resolve_also(&crate::config::configs_dir().join("kernel.toml"), reporter)?;
        let scratch = crate::work_dir().join("check-series").join("other-trees");
        trees::check_other_trees(&pin, also, &mails, &scratch, reporter)
    }));
    checks.push(timed("subjects", reporter, || {
        Ok(checks::check_subjects(
            &rev,
            &mails,
            cover.as_ref(),
            &sections,
        ))
    }));
    checks.push(timed("signed-off", reporter, || {
        Ok(checks::check_signed_off(&mails))
    }));
    checks.push(timed("identity", reporter, || {
        let mut result = submission::check_identity(&poster, &mails, &resigned);
        if let Some(dir) = &mails_dir {
            result.evidence.push(format!(
                "the mails to send: {}",
                crate::config::display(dir)
            ));
        }
        Ok(result)
    }));
    checks.push(timed("base-commit", reporter, || {
        Ok(submission::check_base_commit(
            carrier,
            &carrier_text,
            &pin.base,
            |id| git(&pin.repo, &["cat-file", "-e", &format!("{id}^{{commit}}")]).is_ok(),
        ))
    }));
    checks.push(timed(
        "recipients",
        reporter,
        || match &maintainers_answer {
            Ok(text) => {
                let (to, cc) = mail::recipients(text);
                Ok(submission::check_recipients(
                    carrier,
                    &carrier_text,
                    &to,
                    &cc,
                ))
            }
            Err(err) => Ok(CheckResult::fail(
                format!("no get_maintainer answer to compare with: {err}"),
                Vec::new(),
            )),
        },
    ));
    let place = match &cover {
        Some(c) => format!("the cover letter {}", c.file),
        None => carrier.file.clone(),
    };
    let history = match &cover {
        Some(c) => format!("{}\n{}", c.message, c.rest),
        None => mails
            .iter()
            .map(|m| format!("{}\n{}", m.message, m.notes()))
            .collect(),
    };
    checks.push(timed("credits", reporter, || {
        let mut result = submission::check_credits(
            &history,
            &place,
            &posted,
            poster.real().map(|p| p.name.as_str()),
        );
        result.evidence.push(format!(
            "postings from {}",
            crate::config::display(&posted_path)
        ));
        Ok(result)
    }));
    checks.push(timed("version", reporter, || {
        let rfc = mails
            .iter()
            .chain(cover.iter())
            .any(|m| mail::parse_subject(&m.subject).is_ok_and(|t| t.rfc));
        let title = submission::series_title(cover.as_ref(), &mails);
        let mut result = submission::check_version(version, rfc, &title, &posted);
        result.evidence.push(format!(
            "postings from {}",
            crate::config::display(&posted_path)
        ));
        Ok(result)
    }));
    checks.push(timed("changelog", reporter, || {
        Ok(checks::check_changelog(&mails, cover.as_ref(), version))
    }));
    checks.push(timed("checkpatch", reporter, || {
        checks::check_checkpatch(&pin, &mails)
    }));
    checks.push(timed("abi-doc", reporter, || Ok(checks::check_abi(&mails))));
    checks.push(timed("abi-validate", reporter, || match &applied {
        None => Ok(CheckResult::skip("the series does not apply (see apply)")),
        Some(tree) => docs::check_abi_validate(&tree.dir, &pin.base, &mails),
    }));
    checks.push(timed("kernel-doc", reporter, || match &applied {
        None => Ok(CheckResult::skip("the series does not apply (see apply)")),
        Some(tree) => docs::check_kernel_doc(&tree.dir, &pin.base, &mails),
    }));
    checks.push(timed("get-maintainer", reporter, || {
        Ok(checks::check_get_maintainer(
            &maintainers_answer,
            &mails,
            &sections,
        ))
    }));
    checks.push(timed("range-diff", reporter, || match &applied {
        None => Ok(CheckResult::skip("the series does not apply (see apply)")),
        Some(tree) => checks::check_range_diff(&pin, &rev, tree, version, reporter),
    }));
    checks.push(timed("cost", reporter, || cost::check_cost(&pin, &rev)));
    let mut check_tree: Option<CheckTree> = None;
    checks.push(timed("bisect-build", reporter, || {
        if args.skip_builds {
            return Ok(CheckResult::skip("--skip-builds"));
        }
        if applied.is_none() {
            return Ok(CheckResult::skip("the series does not apply (see apply)"));
        }
        let tree = CheckTree::open(&pin, &rev, reporter)?;
        let outcome = tree.bisect(&mails, &targets, jobs, reporter)?;
        check_tree = Some(tree);
        Ok(outcome)
    }));
    checks.push(timed("build-only", reporter, || {
        if args.skip_builds {
            return Ok(CheckResult::skip("--skip-builds"));
        }
        let Some(tree) = &check_tree else {
            return Ok(CheckResult::skip(
                "no tree to build (the series does not apply or bisect-build could not run)",
            ));
        };
        let dir = crate::config::configs_dir().join("kernel");
        let fragments = [
            dir.join("build-only-noacpi.config"),
            dir.join("build-only-nopci.config"),
        ];
        tree.build_only(&fragments, &mails, &targets, jobs, reporter)
    }));
    checks.extend(coverage_checks(
        args,
        &pin,
        check_tree.as_ref(),
        &mails,
        jobs,
        reporter,
    )?);
    drop(check_tree);
    checks.sort_by_key(|c| CHECKS.iter().position(|n| *n == c.name));

    let report = Report {
        revision: rev.name.clone(),
        dir: crate::config::display(&rev.dir),
        pin: format!(
            "linux {} ({}, base {})",
            pin.version,
            pin.description,
            &pin.base[..12]
        ),
        patches: mails.iter().map(|m| m.file.clone()).collect(),
        mails: mails_dir.as_ref().map(|d| crate::config::display(d)),
        cover_letter: cover.as_ref().map(|c| c.file.clone()),
        checks,
    };
    let bytes = serde_json::to_vec_pretty(&report)?;
    crate::write_atomic(&json_path(&report), &bytes)?;
    if let Some(path) = &args.json {
        crate::write_atomic(path, &bytes)
            .with_context(|| format!("writing the JSON report to {}", path.display()))?;
    }
    Ok(report)
}

/// The build-coverage checks, one per variant (see [`coverage`]).
fn coverage_checks(
    args: &Args,
    pin: &Pin,
    tree: Option<&CheckTree>,
    mails: &[Mail],
    jobs: usize,
    reporter: &Reporter,
) -> Result<Vec<Check>> {
    for name in &args.coverage {
        if !coverage::CHECKS.contains(&name.as_str()) {
            bail!(
                "--coverage {name}: no such check; the build-coverage checks are {}",
                coverage::CHECKS.join(", ")
            );
        }
    }
    let touched = builds::touched_objects(mails);
    Ok(coverage::variants(pin)?
        .iter()
        .map(|variant| {
            timed(variant.check, reporter, || {
                if args.skip_builds {
                    return Ok(CheckResult::skip("--skip-builds"));
                }
                if !args.coverage.is_empty() && !args.coverage.iter().any(|c| c == variant.check) {
                    return Ok(CheckResult::skip("not asked for (--coverage)"));
                }
                let Some(tree) = tree else {
                    return Ok(CheckResult::skip(
                        "no tree to build (the series does not apply or bisect-build could not run)",
                    ));
                };
                tree.coverage(variant, mails, &touched, jobs, reporter)
            })
        })
        .collect())
}

/// Runs one check, timing it; an error is a FAIL that quotes it.
fn timed(name: &str, reporter: &Reporter, f: impl FnOnce() -> Result<CheckResult>) -> Check {
    reporter.stage(format!("check-series: {name}"));
    let started = Instant::now();
    let outcome = f().unwrap_or_else(|err| {
        let text = format!("{err:#}");
        let mut lines = text.lines().map(str::to_string);
        let summary = lines.next().unwrap_or_default();
        CheckResult::fail(
            format!("could not run: {summary}"),
            lines.collect::<Vec<_>>(),
        )
    });
    let secs = crate::secs(started.elapsed());
    reporter.note(format!(
        "{} {name} ({secs:.1} s): {}",
        outcome.status, outcome.summary
    ));
    Check {
        name: name.to_string(),
        status: outcome.status,
        secs,
        summary: outcome.summary,
        evidence: outcome.evidence,
    }
}

/// A known revision name, a git range `NAME=TREE:BASE..BRANCH`, else a
/// directory with a `series` file (as given, or relative to the project
/// root).
pub fn resolve_revision(arg: &str) -> Result<Revision> {
    if crate::pipeline::git_range::is_range(arg) {
        return crate::pipeline::selection::load_revision(arg);
    }
    let series = revision::series_dir();
    if revision::known(&series).iter().any(|k| k == arg) {
        return revision::load(&series, arg);
    }
    let given = PathBuf::from(arg);
    let found = [given.clone(), crate::project_root().join(&given)]
        .into_iter()
        .find(|p| p.join("series").is_file());
    let Some(dir) = found else {
        return revision::load(&series, arg).with_context(|| {
            format!("{arg:?} is neither a revision name nor a directory holding a `series` file")
        });
    };
    let dir = dir
        .canonicalize()
        .with_context(|| format!("resolving {}", dir.display()))?;
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
        bail!("{} cannot be a revision directory", dir.display());
    };
    let mut rev = revision::load(parent, &name.to_string_lossy())?;
    rev.name = crate::config::display(&dir);
    Ok(rev)
}

/// The cover letter: a mail in the revision's directory, not in `series`,
/// numbered 0/n (`0000-cover-letter.patch` is looked at first).
fn find_cover(rev: &Revision) -> Result<Option<Mail>> {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir(&rev.dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "patch" || e == "eml") && !rev.patches.contains(p)
        })
        .collect();
    candidates.sort_by_key(|p| {
        (
            p.file_name().is_none_or(|f| f != "0000-cover-letter.patch"),
            p.clone(),
        )
    });
    for path in candidates {
        let mail = mail::read(&path)?;
        if let Ok(tag) = mail::parse_subject(&mail.subject) {
            if tag.number.is_some_and(|(k, _)| k == 0) {
                return Ok(Some(mail));
            }
        }
    }
    Ok(None)
}

fn check_apply(
    pin: &Pin,
    rev: &Revision,
    reporter: &Reporter,
) -> Result<(CheckResult, Option<revision::Tree>)> {
    match revision::prepare(pin, rev, reporter) {
        Ok(tree) => {
            let range = format!("{}..HEAD", pin.base);
            let log = git(
                &tree.dir,
                &["log", "--reverse", "--format=%h %an: %s", &range],
            )?;
            let mut evidence: Vec<String> = log.lines().map(str::to_string).collect();
            evidence.push(format!(
                "tree {} (kept while the series' hash is unchanged), touching {}",
                crate::config::display(&tree.dir),
                tree.touched.join(", ")
            ));
            let outcome = CheckResult::pass(
                format!(
                    "{} patch(es) apply with git am on {}",
                    rev.patches.len(),
                    &pin.base[..12]
                ),
                evidence,
            );
            Ok((outcome, Some(tree)))
        }
        Err(err) => {
            let text = format!("{err:#}");
            let lines: Vec<String> = text.lines().map(str::to_string).collect();
            let summary = lines.first().cloned().unwrap_or_default();
            Ok((CheckResult::fail(summary, lines[1..].to_vec()), None))
        }
    }
}

/// The build targets: vmlinux, or the directories of `--objects`.
fn targets(args: &Args, rev: &Revision) -> Result<Targets> {
    if args.objects.is_empty() {
        return Ok(Targets::Vmlinux);
    }
    let mut objects = Vec::new();
    for object in &args.objects {
        if object == "touched" {
            let mails = rev
                .patches
                .iter()
                .map(|p| mail::read(p))
                .collect::<Result<Vec<_>>>()?;
            objects.extend(builds::touched_objects(&mails));
            continue;
        }
        if !object.ends_with(".o") || object.starts_with('/') || object.contains("..") {
            bail!(
                "--objects {object}: expected an object path relative to the tree, such as \
                 drivers/pci/pci-sysfs.o, or `touched`"
            );
        }
        objects.push(object.clone());
    }
    objects.dedup();
    if objects.is_empty() {
        bail!("--objects touched: the series touches no .c or .S file");
    }
    Ok(Targets::Objects(objects))
}
