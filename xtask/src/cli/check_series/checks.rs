//! The checks of one revision's mails and tree, each returning its
//! [`CheckResult`]: subjects, sign-offs, changelog, checkpatch, ABI
//! documentation, get_maintainer and range-diff (moved out of `mod.rs`,
//! which keeps the verb and the order they run in).

use super::*;
pub(super) fn check_subjects(
    rev: &Revision,
    mails: &[Mail],
    cover: Option<&Mail>,
    sections: &[maintainers::Section],
) -> CheckResult {
    let patches: Vec<(String, String)> = mails
        .iter()
        .map(|m| (m.file.clone(), m.subject.clone()))
        .collect();
    let cover = cover.map(|c| (c.file.clone(), c.subject.clone()));
    let last = rev.name.rsplit('/').next().unwrap_or(&rev.name);
    let expected = last
        .strip_prefix('v')
        .or_else(|| last.strip_prefix("rfc"))
        .and_then(|v| v.parse::<u32>().ok());
    let (mut problems, mut evidence) = mail::check_subjects(&patches, cover.as_ref(), expected);
    for m in mails {
        let Ok(tag) = mail::parse_subject(&m.subject) else {
            continue;
        };
        let files = mail::touched_files(m.diff());
        let allowed = maintainers::allowed_prefixes(sections, &files);
        if let Some(problem) = maintainers::judge_title(&tag.title, &allowed) {
            problems.push(format!("{}: {problem}", m.file));
        }
        evidence.push(format!(
            "{}: prefix from MAINTAINERS: {}",
            m.file,
            allowed
                .iter()
                .map(|(p, from)| format!("{p} ({from})"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    evidence.push(
        "rule: the owning subsystem's prefix (first word of its MAINTAINERS section), then a \
         capitalised summary, as the PCI and ACPI trees write subjects"
            .to_string(),
    );
    let n = patches.len();
    let ok = if n == 1 {
        "a single patch, [PATCH vN] form".to_string()
    } else {
        format!(
            "numbered 1/{n}..{n}/{n} with the cover letter 0/{n}, one version, prefixes \
             and capitals as MAINTAINERS' subsystems write them"
        )
    };
    CheckResult::judge(problems, evidence, ok)
}

pub(super) fn check_signed_off(mails: &[Mail]) -> CheckResult {
    let mut problems = Vec::new();
    let mut evidence = Vec::new();
    for mail in mails {
        let signoffs = mail.signoffs();
        if signoffs.is_empty() {
            problems.push(format!(
                "{}: no Signed-off-by: line (author {})",
                mail.file, mail.author
            ));
        } else if let Some(sob) = signoffs.iter().find(|s| s.same_as(&mail.author)) {
            evidence.push(format!("{}: Signed-off-by: {sob} is the author", mail.file));
        } else {
            problems.push(format!(
                "{}: no Signed-off-by: from the author {} (found: {})",
                mail.file,
                mail.author,
                signoffs
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    CheckResult::judge(
        problems,
        evidence,
        format!("all {} patch(es) signed off by their author", mails.len()),
    )
}

pub(super) fn check_changelog(mails: &[Mail], cover: Option<&Mail>, version: u32) -> CheckResult {
    let (text, place) = match cover {
        Some(cover) => (
            format!("{}\n{}", cover.message, cover.rest),
            format!("the cover letter {}", cover.file),
        ),
        None if mails.len() == 1 => (
            mails[0].notes(),
            format!("the notes below --- in {}", mails[0].file),
        ),
        None => {
            return CheckResult::fail(
                "no cover letter to carry the changelog",
                vec![format!("v{version} has {} patches", mails.len())],
            )
        }
    };
    match mail::check_changelog(&text, version) {
        Ok(mut evidence) => {
            evidence.insert(0, format!("read from {place}"));
            CheckResult::pass(
                if version > 1 {
                    format!("v{version}: {place} names v1..v{}", version - 1)
                } else {
                    "v1: nothing earlier to name".to_string()
                },
                evidence,
            )
        }
        Err(problem) => CheckResult::fail(
            format!("v{version}: {problem}"),
            vec![format!("read from {place}")],
        ),
    }
}

pub(super) fn check_checkpatch(pin: &Pin, mails: &[Mail]) -> Result<CheckResult> {
    let mut evidence = Vec::new();
    let mut problems = Vec::new();
    let (mut errors, mut warnings, mut checks, mut deferred) = (0, 0, 0, 0);
    for mail in mails {
        let path = &mail.path;
        // Seconds per patch: in a group of its own, like every child that
        // can outlast a moment, so a SIGTERM to the harness stops it too.
        let output = Cmd::new("perl")
            .args([
                "scripts/checkpatch.pl",
                "--strict",
                "--show-types",
                "--color=never",
            ])
            .arg(path)
            .dir(&pin.repo)
            .output()
            .context("running perl scripts/checkpatch.pl (is perl installed?)")?;
        let text = String::from_utf8_lossy(&output.stdout);
        let (findings, totals) = mail::parse_checkpatch(&text);
        let Some((e, w, c)) = totals else {
            problems.push(format!(
                "{}: checkpatch did not finish: {}",
                mail.file,
                String::from_utf8_lossy(&output.stderr).trim()
            ));
            continue;
        };
        errors += e;
        warnings += w;
        checks += c;
        evidence.push(format!(
            "{}: {e} error(s), {w} warning(s), {c} check(s)",
            mail.file
        ));
        for finding in &findings {
            let owned = SIGN_OFF_TYPES.contains(&finding.kind.as_str());
            let shown = format!(
                "{}:{} {}{}",
                finding.level,
                finding.kind,
                finding.message,
                finding
                    .location
                    .as_ref()
                    .map(|l| format!(" ({l})"))
                    .unwrap_or_default()
            );
            if owned {
                deferred += 1;
            } else {
                problems.push(format!("{}: {shown}", mail.file));
            }
            evidence.push(format!(
                "  {shown}{}",
                if owned { " [judged by signed-off]" } else { "" }
            ));
        }
    }
    evidence.push(format!(
        "rule: --strict, so any ERROR, WARNING or CHECK fails; {} findings are left to the \
         signed-off check",
        SIGN_OFF_TYPES.join("/")
    ));
    let counts = format!(
        "{errors} error(s), {warnings} warning(s), {checks} check(s) over {} patch(es){}",
        mails.len(),
        if deferred > 0 {
            format!(" ({deferred} sign-off finding(s) left to signed-off)")
        } else {
            String::new()
        }
    );
    if problems.is_empty() {
        Ok(CheckResult::pass(format!("--strict: {counts}"), evidence))
    } else {
        Ok(CheckResult::fail(format!("--strict: {counts}"), evidence))
    }
}

pub(super) fn check_abi(mails: &[Mail]) -> CheckResult {
    let diff: String = mails
        .iter()
        .map(|m| m.diff())
        .collect::<Vec<_>>()
        .join("\n");
    let attributes = mail::new_attributes(&diff);
    let whats = mail::abi_whats(&diff);
    let mut problems = Vec::new();
    let mut evidence = Vec::new();
    for attr in &attributes {
        match whats.iter().find(|w| mail::documents(w, &attr.name)) {
            Some(what) => evidence.push(format!(
                "{} ({}) documented by What: {what}",
                attr.name, attr.at
            )),
            None => problems.push(format!(
                "new sysfs attribute `{}` ({}) has no What: line added under Documentation/ABI/",
                attr.name, attr.at
            )),
        }
    }
    let ok = if attributes.is_empty() {
        "no new sysfs attribute".to_string()
    } else {
        format!(
            "{} new attribute(s), each documented in Documentation/ABI/",
            attributes.len()
        )
    };
    CheckResult::judge(problems, evidence, ok)
}

/// get_maintainer's answer for the mails, or why there is none.
pub(super) fn get_maintainer(pin: &Pin, mails: &[Mail]) -> std::result::Result<String, String> {
    let paths: Vec<&Path> = mails.iter().map(|m| m.path.as_path()).collect();
    let output = Cmd::new("perl")
        .args(["scripts/get_maintainer.pl", "--nogit", "--nogit-fallback"])
        .args(&paths)
        .dir(&pin.repo)
        .output()
        .map_err(|e| format!("{e:#}"))?;
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    if !output.status.success() || text.trim().is_empty() {
        return Err(format!(
            "scripts/get_maintainer.pl did not answer: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(text)
}

pub(super) fn check_get_maintainer(
    answer: &std::result::Result<String, String>,
    mails: &[Mail],
    sections: &[maintainers::Section],
) -> CheckResult {
    let text = match answer {
        Ok(text) => text,
        Err(err) => return CheckResult::fail(err.clone(), Vec::new()),
    };
    let (to, cc) = mail::recipients(text);
    let files = mail::series_touched_files(mails);
    // The lists of every section owning a touched file.
    let required: Vec<(String, String)> = maintainers::lists_for(sections, &files)
        .into_iter()
        .map(|(l, section)| {
            let file = files
                .iter()
                .find(|f| {
                    maintainers::owners(sections, f)
                        .iter()
                        .any(|s| s.name == section)
                })
                .cloned()
                .unwrap_or_default();
            (l, format!("{section} (owns {file})"))
        })
        .collect();
    let lower = text.to_ascii_lowercase();
    let missing: Vec<String> = required
        .iter()
        .filter(|(l, _)| !lower.contains(l.as_str()))
        .map(|(l, from)| format!("{l} from {from}"))
        .collect();
    let mut evidence = vec![
        format!("To: {}", to.join(", ")),
        format!("Cc: {}", cc.join(", ")),
        format!(
            "lists MAINTAINERS gives the touched files: {}",
            required
                .iter()
                .map(|(l, from)| format!("{l} ({from})"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ];
    evidence.extend(text.lines().map(|l| format!("  {l}")));
    if !missing.is_empty() {
        return CheckResult::fail(
            format!(
                "get_maintainer's answer misses {} list(s): {}",
                missing.len(),
                missing.join("; ")
            ),
            evidence,
        );
    }
    CheckResult::pass(
        format!(
            "To {} address(es), Cc {}, including every list of the touched subsystems ({})",
            to.len(),
            cc.len(),
            required
                .iter()
                .map(|(l, _)| l.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        evidence,
    )
}

/// The series' posted.toml: beside the revision directory, or the
/// shipped series' for a git range.
pub(super) fn posted_toml(rev: &Revision) -> PathBuf {
    if rev.origin.is_some() {
        return revision::series_dir().join("posted.toml");
    }
    rev.dir
        .parent()
        .unwrap_or(Path::new("."))
        .join("posted.toml")
}

/// The revision `rev` follows, and where that was found: `previous` in
/// configs/matrix.toml for a revision under patches/gsi-sysfs, else
/// v(N-1) beside the revision's directory. Err says why there is none.
pub(super) fn previous_revision(
    rev: &Revision,
    version: u32,
) -> std::result::Result<(Revision, String), String> {
    let parent = rev.dir.parent().unwrap_or(Path::new("."));
    let series = revision::series_dir();
    let matrix_path = crate::config::matrix::path();
    if rev.origin.is_none() && parent == series {
        let matrix = crate::config::matrix::load(&matrix_path).map_err(|e| format!("{e:#}"))?;
        if let Some(previous) = matrix.previous(&rev.name) {
            let prev = revision::load(&series, previous).map_err(|e| format!("{e:#}"))?;
            return Ok((
                prev,
                format!(
                    "revisions.{}.previous = {previous:?} in {}",
                    rev.name,
                    crate::config::display(&matrix_path)
                ),
            ));
        }
    }
    let no_entry = format!(
        "{} names no previous revision for {}",
        crate::config::display(&matrix_path),
        rev.name
    );
    if version <= 1 {
        let hint = if rev.origin.is_none() && parent == series {
            format!(
                " (add `previous = \"<revision>\"` under [revisions.{}] if it follows one)",
                rev.name
            )
        } else {
            String::new()
        };
        return Err(format!(
            "{no_entry}, and as v1 it has no v(N-1): nothing to compare with{hint}"
        ));
    }
    let candidate = format!("v{}", version - 1);
    if !parent.join(&candidate).join("series").is_file() {
        return Err(format!(
            "{no_entry}, and there is no {candidate} in {} to compare with",
            crate::config::display(parent)
        ));
    }
    let mut prev = revision::load(parent, &candidate).map_err(|e| format!("{e:#}"))?;
    if parent != series {
        prev.name = crate::config::display(&prev.dir);
    }
    Ok((prev, format!("v{version} follows {candidate} beside it")))
}

/// `git range-diff` of the previous revision against this one, both
/// applied with `git am` on the pin. Informational (a PASS whatever the
/// differences), but it fails when it cannot run: the previous revision
/// does not apply, or git range-diff fails. A revision that follows none
/// is a SKIP with the reason. The output is kept in the log directory.
pub(super) fn check_range_diff(
    pin: &Pin,
    rev: &Revision,
    tree: &revision::Tree,
    version: u32,
    reporter: &Reporter,
) -> Result<CheckResult> {
    let (prev, why) = match previous_revision(rev, version) {
        Ok(found) => found,
        Err(reason) => return Ok(CheckResult::skip(format!("no previous revision: {reason}"))),
    };
    let previous = prev.name.clone();
    let prev_tree = match revision::prepare(pin, &prev, reporter) {
        Ok(tree) => tree,
        Err(err) => {
            let text = format!("{err:#}");
            let mut evidence = vec![format!("previous revision: {previous} ({why})")];
            evidence.extend(text.lines().map(str::to_string));
            return Ok(CheckResult::fail(
                format!(
                    "the previous revision {previous} does not apply to the pin {}, so there is \
                     nothing to range-diff against: rebase it, or name another in {why}",
                    &pin.base[..12]
                ),
                evidence,
            ));
        }
    };
    let prev_head = git(&prev_tree.dir, &["rev-parse", "HEAD"])?;
    let head = git(&tree.dir, &["rev-parse", "HEAD"])?;
    let old = format!("{}..{}", pin.base, prev_head.trim());
    let new = format!("{}..{}", pin.base, head.trim());
    let output = git::cmd(&tree.dir, &["range-diff", "--no-color", &old, &new]).output()?;
    if !output.status.success() {
        let mut evidence = vec![format!(
            "git range-diff {old} {new} in {}",
            tree.dir.display()
        )];
        evidence.extend(
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .map(str::to_string),
        );
        return Ok(CheckResult::fail(
            format!("git range-diff {previous} -> {} failed", rev.name),
            evidence,
        ));
    }
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    let saved = crate::work_dir().join("logs").join(format!(
        "check-series-{}-range-diff.txt",
        rev.name.replace(['/', '='], "-")
    ));
    crate::write_atomic(&saved, text.as_bytes())?;
    let summary = summarise_range_diff(&text);
    let mut evidence = vec![
        format!("previous revision: {previous} ({why})"),
        format!(
            "git range-diff {old} {new} (full output, {} line(s): {})",
            text.lines().count(),
            crate::config::display(&saved)
        ),
    ];
    // The pair lines only: the full diff of diffs is in the file.
    evidence.extend(
        text.lines()
            .filter(|l| range_diff_pair(l).is_some())
            .map(str::to_string),
    );
    Ok(CheckResult::pass(
        format!(
            "informational: {previous} ({} patch(es)) -> {} ({} patch(es)): {summary}",
            prev.patches.len(),
            rev.name,
            rev.patches.len()
        ),
        evidence,
    ))
}

/// The marker of one `git range-diff` pair line (`1:  abc = 1:  def ...`):
/// `=` same, `!` changed, `<` only in the old range, `>` only in the new.
fn range_diff_pair(line: &str) -> Option<char> {
    let mut words = line.split_whitespace();
    let first = words.next()?;
    if !first.ends_with(':')
        || !first[..first.len() - 1]
            .chars()
            .all(|c| c.is_ascii_digit() || c == '-')
    {
        return None;
    }
    words.next()?;
    let marker = words.next()?;
    match marker {
        "=" | "!" | "<" | ">" => marker.chars().next(),
        _ => None,
    }
}

/// `2 changed, 1 only in the previous revision, ...` from range-diff's output.
pub(super) fn summarise_range_diff(text: &str) -> String {
    let count = |m: char| {
        text.lines()
            .filter(|l| range_diff_pair(l) == Some(m))
            .count()
    };
    let parts: Vec<String> = [
        ('=', "unchanged"),
        ('!', "changed"),
        ('<', "dropped (only in the previous revision)"),
        ('>', "new (only in this revision)"),
    ]
    .iter()
    .filter_map(|(m, what)| {
        let n = count(*m);
        (n > 0).then(|| format!("{n} {what}"))
    })
    .collect();
    if parts.is_empty() {
        "no patch pairs in the output".to_string()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What git range-diff 2.39 printed for v5 -> rfc1 (pair lines and
    /// one line of a diff of diffs).
    const RANGE_DIFF: &str = "\
1:  43794e4 < -:  ------- ACPI: PCI: add a query for a link's IRQ that allocates nothing
2:  4ae407b < -:  ------- ACPI: PCI: add acpi_pci_irq_gsi() to report a device's GSI
-:  ------- > 1:  31c3133 ACPI: PCI: Record the GSI that routing a device's INTx found
3:  5a869f8 ! 2:  a1a8253 PCI/sysfs: add gsi attribute
    @@ Metadata
    -    PCI/sysfs: add gsi attribute
";

    #[test]
    fn range_diff_pairs_are_counted_by_marker() {
        assert_eq!(
            summarise_range_diff(RANGE_DIFF),
            "1 changed, 2 dropped (only in the previous revision), 1 new (only in this revision)"
        );
        assert_eq!(
            summarise_range_diff("1:  aaaaaaa = 1:  bbbbbbb PCI: x\n"),
            "1 unchanged"
        );
        assert_eq!(summarise_range_diff(""), "no patch pairs in the output");
        assert_eq!(range_diff_pair("    @@ Metadata"), None);
    }

    const MAINTAINERS: &str = "\
ACPI
M:\tRafael J. Wysocki <rafael@kernel.org>
L:\tlinux-acpi@vger.kernel.org
F:\tdrivers/acpi/
F:\tinclude/linux/acpi.h

PCI SUBSYSTEM
M:\tBjorn Helgaas <bhelgaas@google.com>
L:\tlinux-pci@vger.kernel.org
F:\tDocumentation/ABI/testing/sysfs-bus-pci
F:\tdrivers/acpi/pci*
F:\tdrivers/pci/

THE REST
L:\tlinux-kernel@vger.kernel.org
F:\t*
F:\t*/
";

    /// get_maintainer.pl's answer for rfc1 on the pin, as it printed it.
    const ANSWER: &str = "\
Bjorn Helgaas <bhelgaas@google.com> (supporter:PCI SUBSYSTEM)
\"Rafael J. Wysocki\" <rafael@kernel.org> (supporter:ACPI)
Len Brown <lenb@kernel.org> (reviewer:ACPI)
linux-kernel@vger.kernel.org (open list)
linux-pci@vger.kernel.org (open list:PCI SUBSYSTEM)
linux-acpi@vger.kernel.org (open list:ACPI)
";

    #[test]
    fn get_maintainer_fails_without_the_pci_or_the_acpi_list() {
        let sections = maintainers::parse(MAINTAINERS);
        let mails: Vec<Mail> = std::fs::read_dir(revision::series_dir().join("rfc1"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("000"))
            .filter(|p| !p.ends_with("0000-cover-letter.patch"))
            .map(|p| mail::read(&p).unwrap())
            .collect();
        assert_eq!(mails.len(), 2);
        let whole = check_get_maintainer(&Ok(ANSWER.to_string()), &mails, &sections);
        assert_eq!(whole.status, Status::Pass, "{whole:?}");
        for list in ["linux-acpi@vger.kernel.org", "linux-pci@vger.kernel.org"] {
            let cut: String = ANSWER
                .lines()
                .filter(|l| !l.starts_with(list))
                .map(|l| format!("{l}\n"))
                .collect();
            let result = check_get_maintainer(&Ok(cut), &mails, &sections);
            assert_eq!(result.status, Status::Fail, "{list}: {result:?}");
            assert!(result.summary.contains(list), "{}", result.summary);
        }
        let none = check_get_maintainer(
            &Err("scripts/get_maintainer.pl did not answer: x".into()),
            &mails,
            &sections,
        );
        assert_eq!(none.status, Status::Fail);
    }
}
