//! The documentation checks, with the pin's own tools, new findings only:
//! `abi-validate` (`scripts/get_abi.pl validate`, 6.12's ABI validator,
//! over Documentation/ABI/ of the base and of the series' last commit)
//! and `kernel-doc` (`scripts/kernel-doc -Wall -none` on every .c and .h
//! the series touches, as on the base and as the series leaves it).
//!
//! Both sides are read out of the applied revision tree's git (`git
//! archive`, `git show`) into a temporary directory, so the tree itself is
//! never checked out to another commit.

use super::coverage::{diagnostics, new_diagnostics, Diagnostic};
use super::mail::{series_touched_files, Mail};
use super::CheckResult;
use crate::sys::process::Cmd;
use anyhow::{bail, Context, Result};
use std::path::Path;

/// `path` as it is at `commit`, None when it does not exist there.
fn show(tree: &Path, commit: &str, path: &str) -> Option<Vec<u8>> {
    Cmd::new("git")
        .args(["-C", &tree.display().to_string(), "show"])
        .arg(format!("{commit}:{path}"))
        .stderr_null()
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| o.stdout)
}

/// `scripts/kernel-doc -Wall -none` on the touched .c/.h files, at the
/// base and at the series' last commit.
pub fn check_kernel_doc(tree: &Path, base: &str, mails: &[Mail]) -> Result<CheckResult> {
    let files: Vec<String> = series_touched_files(mails)
        .into_iter()
        .filter(|f| f.ends_with(".c") || f.ends_with(".h"))
        .collect();
    if files.is_empty() {
        return Ok(CheckResult::skip("the series touches no .c or .h file"));
    }
    let script = tree.join("scripts/kernel-doc");
    let scratch = tempfile::tempdir()?;
    let mut found = Vec::new();
    for (side, commit) in [("base", base), ("series", "HEAD")] {
        let dir = scratch.path().join(side);
        let mut present = Vec::new();
        for file in &files {
            if let Some(bytes) = show(tree, commit, file) {
                let path = dir.join(file);
                std::fs::create_dir_all(path.parent().unwrap())?;
                std::fs::write(&path, bytes)?;
                present.push(file.clone());
            }
        }
        if present.is_empty() {
            found.push(Vec::new());
            continue;
        }
        let out = Cmd::new("perl")
            .arg(&script)
            .args(["-Wall", "-none"])
            .args(&present)
            .dir(&dir)
            .output()
            .with_context(|| format!("running {}", script.display()))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() && diagnostics(&text).is_empty() {
            bail!(
                "scripts/kernel-doc -Wall -none on the {side} failed ({}):\n{}",
                out.status,
                text.trim()
            );
        }
        found.push(diagnostics(&text));
    }
    let new = new_diagnostics(&found[0], &found[1]);
    let mut evidence = vec![format!(
        "scripts/kernel-doc -Wall -none {}: {} warning(s) on the base, {} with the series",
        files.join(" "),
        found[0].len(),
        found[1].len()
    )];
    Ok(if new.is_empty() {
        CheckResult::pass(
            format!(
                "no new kernel-doc warning in {} touched file(s)",
                files.len()
            ),
            evidence,
        )
    } else {
        let summary = format!("{} new kernel-doc warning(s): {}", new.len(), new[0]);
        evidence.extend(new.iter().map(|d| format!("  {d}")));
        CheckResult::fail(summary, evidence)
    })
}

/// get_abi.pl's warnings: `Warning: file <path>#<line>:` then the
/// message on the next line (and the offending line after `. Line`).
pub fn abi_warnings(text: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(place) = line
            .strip_prefix("Warning: file ")
            .and_then(|l| l.strip_suffix(':'))
        else {
            continue;
        };
        let (file, number) = place.rsplit_once('#').unwrap_or((place, "0"));
        let mut message = lines.next().unwrap_or("").trim().to_string();
        if let Some(stripped) = message.strip_suffix(". Line") {
            message = format!("{stripped}: {}", lines.next().unwrap_or("").trim());
        }
        out.push(Diagnostic {
            file: file.to_string(),
            line: number.parse().unwrap_or(0),
            severity: "warning".into(),
            message,
        });
    }
    out
}

/// `scripts/get_abi.pl validate` over Documentation/ABI/ at the base and
/// at the series' last commit, when the series changes an ABI file.
pub fn check_abi_validate(tree: &Path, base: &str, mails: &[Mail]) -> Result<CheckResult> {
    let changed: Vec<String> = series_touched_files(mails)
        .into_iter()
        .filter(|f| f.starts_with("Documentation/ABI/"))
        .collect();
    if changed.is_empty() {
        return Ok(CheckResult::skip(
            "the series changes no file under Documentation/ABI/ (abi-doc says whether it should)",
        ));
    }
    let script = tree.join("scripts/get_abi.pl");
    let scratch = tempfile::tempdir()?;
    let mut found = Vec::new();
    let mut whats = 0;
    for (side, commit) in [("base", base), ("series", "HEAD")] {
        let dir = scratch.path().join(side);
        std::fs::create_dir_all(&dir)?;
        Cmd::new("git")
            .args([
                "-C",
                &tree.display().to_string(),
                "archive",
                commit,
                "Documentation/ABI",
            ])
            .pipe(Cmd::new("tar").args(["-x", "-C"]).arg(&dir))
            .run()
            .with_context(|| format!("extracting Documentation/ABI at {commit}"))?;
        let out = Cmd::new("perl")
            .arg(&script)
            .args(["--dir", "Documentation/ABI", "validate"])
            .dir(&dir)
            .output()
            .with_context(|| format!("running {}", script.display()))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() {
            bail!(
                "scripts/get_abi.pl validate on the {side} failed ({}):\n{}",
                out.status,
                text.trim()
            );
        }
        if side == "series" {
            for file in &changed {
                let text = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
                whats += text.lines().filter(|l| l.starts_with("What:")).count();
            }
        }
        found.push(abi_warnings(&text));
    }
    let new = new_diagnostics(&found[0], &found[1]);
    let mut evidence = vec![format!(
        "scripts/get_abi.pl validate over Documentation/ABI: {} warning(s) on the base, {} with \
         the series; {} What: entries in {}",
        found[0].len(),
        found[1].len(),
        whats,
        changed.join(", ")
    )];
    Ok(if new.is_empty() {
        CheckResult::pass(
            format!(
                "get_abi.pl validate: no new warning ({})",
                changed.join(", ")
            ),
            evidence,
        )
    } else {
        let summary = format!(
            "get_abi.pl validate: {} new warning(s): {}",
            new.len(),
            new[0]
        );
        evidence.extend(new.iter().map(|d| format!("  {d}")));
        CheckResult::fail(summary, evidence)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_abi_warnings_are_read_with_their_line() {
        let text =
            "Warning: file Documentation/ABI/testing/sysfs-bus-pci#601:\n\ttag 'Descripton' \
                    is invalid. Line\n\t\tDescripton: the gsi\nWarning: file Documentation/ABI/\
                    testing/sysfs-bus-pci#590:\n\tWhat '/sys/bus/pci/devices/.../gsi' doesn't have \
                    a description\n";
        let w = abi_warnings(text);
        assert_eq!(w.len(), 2, "{w:#?}");
        assert_eq!(w[0].line, 601);
        assert_eq!(
            w[0].message,
            "tag 'Descripton' is invalid: Descripton: the gsi"
        );
        assert_eq!(w[1].file, "Documentation/ABI/testing/sysfs-bus-pci");
        assert!(w[1].message.contains("doesn't have a description"));
    }
}
