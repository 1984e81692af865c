//! `other-trees`: does each patch apply (`git am --3way`) to every
//! configured tree - the pin of `configs/kernel.toml` and each of its
//! `[[also]]` trees (Debian's linux-source-6.1 as shipped, or a
//! maintainer's branch)? One line per tree; a patch that does not apply
//! is named with the file and line git reported.
//!
//! The pin decides the verdict (the series is posted against it); an
//! `[[also]]` tree fails the check only with `required = true`, otherwise
//! its result is reported and informational, because an older tree only
//! tells what a backport would meet. Each tree is a throw-away clone
//! sharing the pin's objects (`git clone --shared`) with only the touched
//! files checked out, so nothing is built and the pin's own tree is never
//! written to.

use super::mail::{self, Mail};
use super::CheckResult;
use crate::config::kernel::AlsoPin;
use crate::pipeline::pin::Pin;
use crate::sys::git;
use crate::sys::progress::Reporter;
use anyhow::{Context, Result};
use std::path::Path;

/// What applying the series to one tree gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Every patch applied; how many needed the 3-way fallback.
    All { three_way: usize },
    /// `patches` applied (0-based count), then `patch` failed with `errors`
    /// (git's `error:` / `CONFLICT` lines: the file and line).
    Stopped {
        applied: usize,
        patch: String,
        errors: Vec<String>,
    },
}

/// Applies `mails` (in order) with `git am --3way` onto `pin`'s base in a
/// scratch clone under `scratch`. `blobs_from` (the main pin's repository)
/// lends its objects, so that the 3-way fallback finds the preimages the
/// patches' `index` lines name, as it would in a kernel clone with
/// history.
pub fn apply_to(pin: &Pin, mails: &[Mail], scratch: &Path, blobs_from: &Path) -> Result<Applied> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("am-{}-", pin.key))
        .tempdir_in(scratch)
        .with_context(|| format!("creating a scratch clone in {}", scratch.display()))?;
    let tree = dir.path().join("tree");
    let am_env = |cmd: crate::sys::process::Cmd| git::with_identity(cmd);
    am_env(git::cmd(
        dir.path(),
        &["clone", "-q", "--shared", "--no-checkout"],
    ))
    .arg(&pin.repo)
    .arg(&tree)
    .run()
    .with_context(|| format!("git clone --shared {}", pin.repo.display()))?;
    let alternates = tree.join(".git/objects/info/alternates");
    let mut lent = std::fs::read_to_string(&alternates).unwrap_or_default();
    let objects = blobs_from.join(".git/objects");
    if objects.is_dir() && !lent.contains(&objects.display().to_string()) {
        lent.push_str(&format!("{}\n", objects.display()));
        std::fs::write(&alternates, lent)?;
    }
    let files = mail::series_touched_files(mails);
    let mut sparse = vec!["sparse-checkout", "set", "--no-cone"];
    sparse.extend(files.iter().map(|f| f.as_str()));
    am_env(git::cmd(&tree, &sparse)).run()?;
    am_env(git::cmd(&tree, &["checkout", "-q", "--detach", &pin.base]))
        .run()
        .with_context(|| format!("checking out {} in {}", pin.base, tree.display()))?;
    let mut three_way = 0;
    for (n, mail) in mails.iter().enumerate() {
        let output = am_env(git::cmd(&tree, &["am", "--3way", "--keep-cr"]))
            .arg(&mail.path)
            .output()?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        if !output.status.success() {
            let _ = am_env(git::cmd(&tree, &["am", "--abort"])).output();
            // git am names the files; a plain apply --check adds the line
            // of each hunk that does not apply.
            let check = git::cmd(&tree, &["apply", "--check"])
                .arg(&mail.path)
                .output()?;
            let mut errors = failure_lines(&text);
            errors.extend(failure_lines(&String::from_utf8_lossy(&check.stderr)));
            errors.dedup();
            return Ok(Applied::Stopped {
                applied: n,
                patch: mail.file.clone(),
                errors,
            });
        }
        if text.contains("Falling back to patching base and 3-way merge") {
            three_way += 1;
        }
    }
    Ok(Applied::All { three_way })
}

/// The lines of git am's output that name what failed: `error: patch
/// failed: FILE:LINE`, `CONFLICT (content): Merge conflict in FILE`, the
/// `Patch failed at` line; all of it when none of those is there.
pub fn failure_lines(text: &str) -> Vec<String> {
    let lines: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("error:") || l.starts_with("CONFLICT"))
        .map(str::to_string)
        .collect();
    if lines.is_empty() {
        text.lines().map(str::to_string).collect()
    } else {
        lines
    }
}

/// `file:line` of every `error: patch failed: FILE:LINE`, then the file
/// of every `CONFLICT ... in FILE` not placed by a line already, in order.
pub fn failing_places(errors: &[String]) -> Vec<String> {
    let mut places: Vec<String> = errors
        .iter()
        .filter_map(|l| l.strip_prefix("error: patch failed: "))
        .map(|p| p.trim().to_string())
        .collect();
    places.dedup();
    for line in errors.iter().filter(|l| l.starts_with("CONFLICT")) {
        if let Some((_, file)) = line.rsplit_once(" in ") {
            let file = file.trim();
            if !places.iter().any(|p| p.split(':').next() == Some(file)) {
                places.push(file.to_string());
            }
        }
    }
    places
}

/// One tree's line and whether its failure counts.
struct TreeResult {
    line: String,
    details: Vec<String>,
    failed: bool,
    counts: bool,
}

fn describe(name: &str, pin: &Pin, outcome: &Applied, total: usize, counts: bool) -> TreeResult {
    let what = format!("{name}: linux {} ({})", pin.version, pin.description);
    match outcome {
        Applied::All { three_way } => TreeResult {
            line: format!(
                "{what}: all {total} patch(es) apply{}",
                if *three_way > 0 {
                    format!(" ({three_way} by the 3-way fallback)")
                } else {
                    String::new()
                }
            ),
            details: Vec::new(),
            failed: false,
            counts,
        },
        Applied::Stopped {
            applied,
            patch,
            errors,
        } => {
            let places = failing_places(errors);
            TreeResult {
                line: format!(
                    "{what}: {applied} of {total} apply, then {patch} does not{}",
                    if places.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", places.join(", "))
                    }
                ),
                details: errors.iter().map(|e| format!("  {e}")).collect(),
                failed: true,
                counts,
            }
        }
    }
}

/// The check: the pin, then every `[[also]]` tree.
pub fn check_other_trees(
    pin: &Pin,
    also: Vec<(AlsoPin, Result<Pin>)>,
    mails: &[Mail],
    scratch: &Path,
    reporter: &Reporter,
) -> Result<CheckResult> {
    std::fs::create_dir_all(scratch)?;
    let total = mails.len();
    let mut results = Vec::new();
    reporter.note(format!("other-trees: git am --3way on {}", pin.description));
    let outcome = apply_to(pin, mails, scratch, &pin.repo)?;
    results.push(describe("pin", pin, &outcome, total, true));
    for (n, (entry, resolved)) in also.into_iter().enumerate() {
        let name = format!(
            "also[{n}]{}",
            if entry.required {
                " (required)"
            } else {
                " (informational)"
            }
        );
        match resolved {
            Ok(tree) => {
                reporter.note(format!(
                    "other-trees: git am --3way on {}",
                    tree.description
                ));
                let outcome = apply_to(&tree, mails, scratch, &pin.repo)?;
                results.push(describe(&name, &tree, &outcome, total, entry.required));
            }
            Err(err) => results.push(TreeResult {
                line: format!("{name}: could not be prepared: {err:#}"),
                details: vec![
                    "fix or remove that [[also]] entry in configs/kernel.toml".to_string()
                ],
                failed: true,
                counts: entry.required,
            }),
        }
    }
    let mut evidence = Vec::new();
    for r in &results {
        evidence.push(r.line.clone());
        evidence.extend(r.details.iter().cloned());
    }
    evidence.push(
        "rule: the pin and `required = true` trees fail the check; other [[also]] trees \
         (configs/kernel.toml) are informational"
            .to_string(),
    );
    let failing: Vec<&TreeResult> = results.iter().filter(|r| r.failed && r.counts).collect();
    let informational = results.iter().filter(|r| r.failed && !r.counts).count();
    let applies = results.iter().filter(|r| !r.failed).count();
    if let Some(first) = failing.first() {
        return Ok(CheckResult::fail(first.line.clone(), evidence));
    }
    Ok(CheckResult::pass(
        format!(
            "applies to {applies} of {} tree(s){}",
            results.len(),
            if informational > 0 {
                format!(
                    "; {informational} informational tree(s) not: {}",
                    results
                        .iter()
                        .filter(|r| r.failed && !r.counts)
                        .map(|r| r.line.clone())
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            } else {
                String::new()
            }
        ),
        evidence,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_come_from_error_and_conflict_lines() {
        // As git 2.39 said for v5's 0002 on 6.1.192 (am --3way, then
        // apply --check), plus a conflict no error line placed.
        let errors: Vec<String> = [
            "CONFLICT (content): Merge conflict in include/linux/acpi.h",
            "CONFLICT (content): Merge conflict in drivers/acpi/pci_irq.c",
            "CONFLICT (content): Merge conflict in drivers/pci/pci.h",
            "error: Failed to merge in the changes.",
            "error: patch failed: drivers/acpi/pci_irq.c:274",
            "error: drivers/acpi/pci_irq.c: patch does not apply",
            "error: patch failed: include/linux/acpi.h:364",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            failing_places(&errors),
            vec![
                "drivers/acpi/pci_irq.c:274",
                "include/linux/acpi.h:364",
                "drivers/pci/pci.h"
            ]
        );
        assert_eq!(failure_lines("a\nb\n"), vec!["a", "b"]);
    }
}
