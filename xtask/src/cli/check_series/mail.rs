//! The mails of a series as a reviewer reads them, and the pure rules that
//! `check-series` applies to them: subject numbering, sign-offs, the
//! changelog, new sysfs attributes and their ABI entries, and the output
//! of checkpatch and get_maintainer. Headers are decoded by `git mailinfo`
//! (folded subjects, RFC 2047 names, an in-body `From:`), exactly as
//! `git am` will read them; everything else here is a function of text.

use anyhow::Result;
use regex::Regex;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

/// A name and an address, as in `From:` or `Signed-off-by:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub name: String,
    pub email: String,
}

impl std::fmt::Display for Person {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} <{}>", self.name, self.email)
    }
}

impl Person {
    /// Same person for a sign-off: the exact name and the address
    /// compared without case (checkpatch's own rule is not stricter).
    pub fn same_as(&self, other: &Person) -> bool {
        self.name == other.name && self.email.eq_ignore_ascii_case(&other.email)
    }
}

/// One mail of the series (a patch or the cover letter).
#[derive(Debug, Clone)]
pub struct Mail {
    pub path: PathBuf,
    /// The file name, as messages name the patch.
    pub file: String,
    pub author: Person,
    /// The whole subject, brackets included.
    pub subject: String,
    /// The commit message (the cover letter's text).
    pub message: String,
    /// Everything from the `---` line on: notes, diffstat, diff.
    pub rest: String,
}

/// Reads one mail with `git mailinfo -k` (which keeps the `[PATCH ...]`).
pub fn read(path: &Path) -> Result<Mail> {
    let info = crate::sys::git::mailinfo(path, true)?;
    Ok(Mail {
        path: path.to_path_buf(),
        file: path
            .file_name()
            .map(|f| f.to_string_lossy().to_string())
            .unwrap_or_default(),
        author: Person {
            name: info.field("Author:"),
            email: info.field("Email:"),
        },
        subject: info.field("Subject:"),
        message: info.message,
        rest: info.rest,
    })
}

impl Mail {
    /// The diff part (from the first `diff --git`).
    pub fn diff(&self) -> &str {
        match self.rest.find("\ndiff --git ") {
            Some(i) => &self.rest[i + 1..],
            None if self.rest.starts_with("diff --git ") => &self.rest,
            None => "",
        }
    }

    /// The notes between `---` and the diffstat: where a single patch
    /// carries its changelog.
    pub fn notes(&self) -> String {
        let mut notes = Vec::new();
        for (i, line) in self.rest.lines().enumerate() {
            if i == 0 && line.trim_end() == "---" {
                continue;
            }
            if line.starts_with("diff --git ") || is_diffstat_line(line) {
                break;
            }
            notes.push(line);
        }
        notes.join("\n").trim().to_string()
    }

    /// `Signed-off-by:` lines of the commit message, in order.
    pub fn signoffs(&self) -> Vec<Person> {
        static SOB: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(r"(?m)^\s*Signed-off-by:\s*(.*?)\s*<([^>]+)>\s*$").unwrap()
        });
        SOB.captures_iter(&self.message)
            .map(|c| Person {
                name: c[1].trim_matches('"').to_string(),
                email: c[2].to_string(),
            })
            .collect()
    }
}

fn is_diffstat_line(line: &str) -> bool {
    static STAT: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^ \S.* \| +(\d+|Bin)|^ \d+ files? changed").unwrap());
    STAT.is_match(line)
}

/// What the brackets of a subject say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub rfc: bool,
    /// `vN`; 1 when absent.
    pub version: u32,
    /// `k/n`, when present.
    pub number: Option<(u32, u32)>,
    pub title: String,
}

/// Parses `[RFC PATCH v4 2/3] title`; other bracket words (`RESEND`,
/// `net-next`) are allowed and ignored.
pub fn parse_subject(subject: &str) -> std::result::Result<Tag, String> {
    static SUBJECT: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^\[([^\]]*)\]\s*(.*)$").unwrap());
    static VERSION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[vV](\d+)$").unwrap());
    static NUMBER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(\d+)/(\d+)$").unwrap());
    let caps = SUBJECT
        .captures(subject)
        .ok_or_else(|| format!("{subject:?} does not start with a [PATCH ...] tag"))?;
    let mut tag = Tag {
        rfc: false,
        version: 1,
        number: None,
        title: caps[2].trim().to_string(),
    };
    let mut patch = false;
    for word in caps[1].split_whitespace() {
        if word == "PATCH" {
            patch = true;
        } else if word == "RFC" {
            tag.rfc = true;
        } else if let Some(v) = VERSION.captures(word) {
            tag.version = v[1].parse().map_err(|_| format!("bad version {word}"))?;
        } else if let Some(n) = NUMBER.captures(word) {
            let k = n[1].parse().map_err(|_| format!("bad number {word}"))?;
            let total = n[2].parse().map_err(|_| format!("bad number {word}"))?;
            tag.number = Some((k, total));
        }
    }
    if !patch {
        return Err(format!("[{}] has no PATCH", &caps[1]));
    }
    if tag.title.is_empty() {
        return Err(format!("{subject:?} has no title after the tag"));
    }
    Ok(tag)
}

/// The `subjects` rule over (file, subject) of the patches in series order
/// and the cover letter's; `expected_version` comes from a revision named
/// `vN`. Returns the problems (empty: pass) and the evidence.
pub fn check_subjects(
    patches: &[(String, String)],
    cover: Option<&(String, String)>,
    expected_version: Option<u32>,
) -> (Vec<String>, Vec<String>) {
    let n = patches.len() as u32;
    let mut problems = Vec::new();
    let mut evidence = Vec::new();
    let mut versions = BTreeSet::new();
    let mut rfc = BTreeSet::new();
    let mut all: Vec<(u32, &(String, String))> = Vec::new();
    if let Some(cover) = cover {
        all.push((0, cover));
    }
    all.extend(patches.iter().enumerate().map(|(i, p)| (i as u32 + 1, p)));
    for (k, (file, subject)) in all {
        evidence.push(format!("{file}: {subject}"));
        let tag = match parse_subject(subject) {
            Ok(tag) => tag,
            Err(err) => {
                problems.push(format!("{file}: {err}"));
                continue;
            }
        };
        versions.insert(tag.version);
        rfc.insert(tag.rfc);
        match (n, tag.number) {
            (1, None) | (1, Some((1, 1))) if k == 1 => {}
            (_, Some((got_k, got_n))) if got_k == k && got_n == n => {}
            (_, Some((got_k, got_n))) => problems.push(format!(
                "{file}: numbered {got_k}/{got_n}, expected {k}/{n} (series order)"
            )),
            (_, None) => problems.push(format!(
                "{file}: no k/n number; a series of {n} needs [PATCH vN {k}/{n}]"
            )),
        }
    }
    if n > 1 && cover.is_none() {
        problems.push(format!(
            "no cover letter: a series of {n} patches needs a [PATCH vN 0/{n}] mail \
             (git format-patch --cover-letter, beside the series file; for a git range, \
             `b4 prep --edit-cover`, which keeps it in an empty commit at the start of the \
             branch, or `git commit --allow-empty` there)"
        ));
    }
    if versions.len() > 1 {
        problems.push(format!(
            "the version differs across the series: {}",
            versions
                .iter()
                .map(|v| format!("v{v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if rfc.len() > 1 {
        problems.push("RFC on some mails of the series but not on all".to_string());
    }
    if let (Some(expected), Some(&found)) = (expected_version, versions.iter().next()) {
        if versions.len() == 1 && found != expected {
            problems.push(format!(
                "the revision is named v{expected} but its subjects say v{found}"
            ));
        }
    }
    (problems, evidence)
}

/// The series' version as its subjects tell it (the first parsable one).
pub fn series_version(subjects: &[&str]) -> Option<u32> {
    subjects
        .iter()
        .find_map(|s| parse_subject(s).ok().map(|t| t.version))
}

/// The `changelog` rule: `text` (the cover letter, or a single patch's
/// notes) must have a changelog section mentioning every version before
/// `version`. Returns the evidence or the problem.
pub fn check_changelog(text: &str, version: u32) -> std::result::Result<Vec<String>, String> {
    static HEADING: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?im)^[ \t]*(changes\b|changelog\b|change log\b|revision history\b|since v\d|(rfc[ \t]+)?v\d+[ \t]*(->|→|\.\.|:|\(|-|–))",
        )
        .unwrap()
    });
    if version <= 1 {
        return Ok(vec![
            "v1: no earlier version, no changelog needed".to_string()
        ]);
    }
    let Some(start) = HEADING.find(text) else {
        return Err(format!(
            "no changelog section (a line such as \"Changes in v{version}:\" or \"v{} -> v{version}:\") \
             naming v1..v{}",
            version - 1,
            version - 1
        ));
    };
    let section = &text[start.start()..];
    let mentioned = mentioned_versions(section);
    let missing: Vec<String> = (1..version)
        .filter(|v| !mentioned.contains(v))
        .map(|v| format!("v{v}"))
        .collect();
    let first_line = section.lines().next().unwrap_or("").trim().to_string();
    if !missing.is_empty() {
        return Err(format!(
            "the changelog (from \"{first_line}\") does not mention {}",
            missing.join(", ")
        ));
    }
    Ok(vec![
        format!("changelog section starts at \"{first_line}\""),
        format!(
            "mentions {}",
            mentioned
                .iter()
                .map(|v| format!("v{v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ])
}

/// Versions named in `text`: `v3`, and ranges such as `v1 - v3`, `v1..v3`.
pub fn mentioned_versions(text: &str) -> BTreeSet<u32> {
    static VERSION: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?i)\bv(\d+)\b(?:\s*(?:-|–|\.\.|to)\s*v?(\d+)\b)?").unwrap());
    let mut set = BTreeSet::new();
    for caps in VERSION.captures_iter(text) {
        let Ok(from) = caps[1].parse::<u32>() else {
            continue;
        };
        let to = caps
            .get(2)
            .and_then(|m| m.as_str().parse::<u32>().ok())
            .filter(|&to| to >= from && to - from < 100)
            .unwrap_or(from);
        set.extend(from..=to);
    }
    set
}

/// A sysfs attribute that a diff adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    /// `drivers/pci/pci-sysfs.c: static DEVICE_ATTR_RO(gsi);`
    pub at: String,
}

/// Attributes declared on added lines outside Documentation/, minus those
/// the same diff removes (a moved attribute is not new).
pub fn new_attributes(diff: &str) -> Vec<Attribute> {
    static ATTR: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"\b(?:DEVICE_ATTR(?:_RO|_RW|_WO|_ADMIN_RO|_ADMIN_RW|_IGNORE_LOCKDEP)?|__ATTR(?:_RO|_RW|_WO|_RO_MODE|_RW_MODE|_WO_MODE)?|(?:DRIVER|BUS|CLASS)_ATTR_(?:RO|RW|WO))\s*\(\s*(\w+)",
        )
        .unwrap()
    });
    let mut added = Vec::new();
    let mut removed = BTreeSet::new();
    for (file, line) in diff_lines(diff) {
        if file.starts_with("Documentation/") {
            continue;
        }
        let (sign, code) = line.split_at(1);
        if code.trim_start().starts_with("#define") {
            continue;
        }
        for caps in ATTR.captures_iter(code) {
            let name = caps[1].to_string();
            match sign {
                "+" => added.push(Attribute {
                    name,
                    at: format!("{file}: {}", code.trim()),
                }),
                _ => {
                    removed.insert(name);
                }
            }
        }
    }
    added.retain(|a| !removed.contains(&a.name));
    added.dedup_by(|a, b| a.name == b.name);
    added
}

/// `What:` paths on lines a diff adds under Documentation/ABI/.
pub fn abi_whats(diff: &str) -> Vec<String> {
    diff_lines(diff)
        .filter(|(file, line)| file.starts_with("Documentation/ABI/") && line.starts_with('+'))
        .filter_map(|(_, line)| {
            line[1..]
                .trim_start()
                .strip_prefix("What:")
                .map(|w| w.trim().to_string())
        })
        .collect()
}

/// Does an ABI `What:` path document attribute `name` (its last component)?
pub fn documents(what: &str, name: &str) -> bool {
    what.rsplit('/').next() == Some(name)
}

/// (file, line) for every added or removed line of a diff.
fn diff_lines(diff: &str) -> impl Iterator<Item = (String, &str)> {
    let mut file = String::new();
    diff.lines().filter_map(move |line| {
        if let Some(path) = line.strip_prefix("+++ ") {
            file = path.strip_prefix("b/").unwrap_or(path).to_string();
            return None;
        }
        if line.starts_with("--- ") || line.starts_with("diff --git ") {
            return None;
        }
        if line.starts_with('+') || line.starts_with('-') {
            Some((file.clone(), line))
        } else {
            None
        }
    })
}

/// Files any mail of the series changes, sorted, each once.
pub fn series_touched_files(mails: &[Mail]) -> Vec<String> {
    let files: BTreeSet<String> = mails.iter().flat_map(|m| touched_files(m.diff())).collect();
    files.into_iter().collect()
}

/// Files a diff changes (the `b/` side; the `a/` side for deletions).
pub fn touched_files(diff: &str) -> Vec<String> {
    let mut files = BTreeSet::new();
    for line in diff.lines() {
        if let Some(rest) = line.strip_prefix("diff --git a/") {
            if let Some((_, b)) = rest.split_once(" b/") {
                files.insert(b.to_string());
            }
        }
    }
    files.into_iter().collect()
}

/// One checkpatch finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// ERROR, WARNING or CHECK.
    pub level: String,
    /// The `--show-types` type, e.g. SPACING.
    pub kind: String,
    pub message: String,
    /// `drivers/pci/pci-sysfs.c:71`, or `commit message line 12`.
    pub location: Option<String>,
}

/// Findings and the `total: E errors, W warnings, C checks` line of one
/// `checkpatch.pl --show-types` run; the totals are None when checkpatch
/// did not get as far as printing them.
pub fn parse_checkpatch(output: &str) -> (Vec<Finding>, Option<(u32, u32, u32)>) {
    static FINDING: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^(ERROR|WARNING|CHECK):(\w+): (.*)$").unwrap());
    static FILE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^#\d+: FILE: (\S+?):?$").unwrap());
    static LINE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^#(\d+): $").unwrap());
    static TOTAL: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^total: (\d+) errors, (\d+) warnings, (?:(\d+) checks, )?").unwrap()
    });
    let mut findings: Vec<Finding> = Vec::new();
    let mut totals = None;
    for line in output.lines() {
        if let Some(c) = FINDING.captures(line) {
            findings.push(Finding {
                level: c[1].to_string(),
                kind: c[2].to_string(),
                message: c[3].to_string(),
                location: None,
            });
        } else if let Some(c) = FILE.captures(line) {
            if let Some(last) = findings.last_mut().filter(|f| f.location.is_none()) {
                last.location = Some(c[1].to_string());
            }
        } else if let Some(c) = LINE.captures(line) {
            if let Some(last) = findings.last_mut().filter(|f| f.location.is_none()) {
                last.location = Some(format!("patch line {}", &c[1]));
            }
        } else if let Some(c) = TOTAL.captures(line) {
            let n = |i: usize| c.get(i).map_or(0, |m| m.as_str().parse().unwrap_or(0));
            totals = Some((n(1), n(2), n(3)));
        }
    }
    (findings, totals)
}

/// get_maintainer's answer split the way `git send-email` wants it:
/// maintainers and supporters in To, reviewers and lists in Cc.
pub fn recipients(output: &str) -> (Vec<String>, Vec<String>) {
    let mut to = Vec::new();
    let mut cc = Vec::new();
    for line in output.lines().map(str::trim).filter(|l| l.contains('@')) {
        // `Name <addr> (role)` or `list@host (role)`; a role may hold
        // parentheses of its own.
        let split = match line.find('>') {
            Some(end) if line.contains('<') => end + 1,
            _ => line.find(char::is_whitespace).unwrap_or(line.len()),
        };
        let (addr, role) = line.split_at(split);
        let addr = addr.trim();
        let role = role.trim();
        let role = role
            .strip_prefix('(')
            .and_then(|r| r.strip_suffix(')'))
            .unwrap_or(role);
        let role = role.to_ascii_lowercase();
        let is_list = role.contains("list") || !addr.contains('<') && role.is_empty();
        if !is_list
            && (role.contains("maintainer")
                || role.contains("supporter")
                || role.contains("odd fixer")
                || role.contains("chief penguin"))
        {
            to.push(addr.to_string());
        } else {
            cc.push(addr.to_string());
        }
    }
    (to, cc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(file: &str, subject: &str) -> (String, String) {
        (file.to_string(), subject.to_string())
    }

    #[test]
    fn subjects_parse_with_rfc_version_and_number() {
        let tag = parse_subject("[RFC PATCH v4 2/3] PCI/sysfs: Add gsi").unwrap();
        assert!(tag.rfc);
        assert_eq!(tag.version, 4);
        assert_eq!(tag.number, Some((2, 3)));
        assert_eq!(tag.title, "PCI/sysfs: Add gsi");
        let plain = parse_subject("[PATCH] x: y").unwrap();
        assert_eq!((plain.version, plain.number), (1, None));
        assert!(parse_subject("x: y").is_err());
        assert!(parse_subject("[RFC v2] x: y").is_err());
    }

    #[test]
    fn a_single_rfc_patch_needs_no_number_nor_cover() {
        let (problems, _) =
            check_subjects(&[pair("0001.patch", "[RFC PATCH v4] a: b")], None, Some(4));
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn numbering_version_and_cover_are_checked() {
        let cover = pair("0000.patch", "[PATCH v5 0/3] a: series");
        let good = [
            pair("0001.patch", "[PATCH v5 1/3] a: one"),
            pair("0002.patch", "[PATCH v5 2/3] a: two"),
            pair("0003.patch", "[PATCH v5 3/3] a: three"),
        ];
        let (problems, evidence) = check_subjects(&good, Some(&cover), Some(5));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(evidence.len(), 4);

        let bad = [
            pair("0001.patch", "[PATCH v5 1/3] a: one"),
            pair("0002.patch", "[PATCH v4 3/3] a: two"),
        ];
        let (problems, _) = check_subjects(&bad, None, Some(5));
        let text = problems.join("\n");
        assert!(
            text.contains("0001.patch: numbered 1/3, expected 1/2"),
            "{text}"
        );
        assert!(
            text.contains("0002.patch: numbered 3/3, expected 2/2"),
            "{text}"
        );
        assert!(text.contains("no cover letter"), "{text}");
        assert!(text.contains("v4, v5"), "{text}");
        let (problems, _) = check_subjects(&good, Some(&cover), Some(6));
        assert!(problems.join("\n").contains("named v6"), "{problems:?}");
    }

    #[test]
    fn changelog_ranges_and_missing_versions() {
        let text = "blurb v9 is not counted\n\nChanges in v5:\n - x\n\nRFC v4: y\nRFC v1 - v3: z\n";
        let evidence = check_changelog(text, 5).unwrap();
        assert_eq!(
            evidence[0],
            "changelog section starts at \"Changes in v5:\""
        );
        assert_eq!(evidence[1], "mentions v1, v2, v3, v4, v5");
        let err = check_changelog("Changes in v5:\n - x\nv4: y\n", 5).unwrap_err();
        assert!(err.contains("v1, v2, v3"), "{err}");
        let err = check_changelog("no section at all v1 v2 v3 v4", 5).unwrap_err();
        assert!(err.contains("no changelog section"), "{err}");
        assert!(check_changelog("", 1).is_ok());
        assert_eq!(
            mentioned_versions("v1..v3, v5 to v6, v10"),
            [1, 2, 3, 5, 6, 10].into_iter().collect()
        );
    }

    const DIFF: &str = "\
diff --git a/drivers/pci/pci-sysfs.c b/drivers/pci/pci-sysfs.c
--- a/drivers/pci/pci-sysfs.c
+++ b/drivers/pci/pci-sysfs.c
@@ -1,3 +1,4 @@
+static DEVICE_ATTR_RO(gsi);
+static struct device_attribute dev_attr_x = __ATTR(moved, 0444, x_show, NULL);
-static struct device_attribute dev_attr_x = __ATTR(moved, 0400, x_show, NULL);
+#define MY_ATTR(_name) DEVICE_ATTR_RO(_name)
 static DEVICE_ATTR_RO(irq);
diff --git a/Documentation/ABI/testing/sysfs-bus-pci b/Documentation/ABI/testing/sysfs-bus-pci
--- a/Documentation/ABI/testing/sysfs-bus-pci
+++ b/Documentation/ABI/testing/sysfs-bus-pci
@@ -1,1 +1,3 @@
+What:\t\t/sys/bus/pci/devices/.../gsi
+Date:\t\tJune 2025
";

    #[test]
    fn new_attributes_and_their_abi_entries() {
        let attrs = new_attributes(DIFF);
        assert_eq!(attrs.len(), 1, "{attrs:?}");
        assert_eq!(attrs[0].name, "gsi");
        assert!(attrs[0].at.starts_with("drivers/pci/pci-sysfs.c:"));
        let whats = abi_whats(DIFF);
        assert_eq!(whats, vec!["/sys/bus/pci/devices/.../gsi".to_string()]);
        assert!(documents(&whats[0], "gsi"));
        assert!(!documents(&whats[0], "irq"));
        assert_eq!(
            touched_files(DIFF),
            vec![
                "Documentation/ABI/testing/sysfs-bus-pci".to_string(),
                "drivers/pci/pci-sysfs.c".to_string()
            ]
        );
    }

    #[test]
    fn checkpatch_output_is_parsed() {
        let out = "\
ERROR:SPACING: space required before the open parenthesis '('
#27: FILE: drivers/pci/pci-sysfs.c:71:
+\tif(pdev->msi_enabled)

WARNING:COMMIT_LOG_LONG_LINE: Prefer a maximum 75 chars per line
#9: 
a very long line

total: 1 errors, 1 warnings, 0 checks, 8 lines checked
";
        let (findings, totals) = parse_checkpatch(out);
        assert_eq!(totals, Some((1, 1, 0)));
        assert_eq!(findings.len(), 2);
        assert_eq!(findings[0].kind, "SPACING");
        assert_eq!(
            findings[0].location.as_deref(),
            Some("drivers/pci/pci-sysfs.c:71")
        );
        assert_eq!(findings[1].location.as_deref(), Some("patch line 9"));
        assert_eq!(parse_checkpatch("perl: not found").1, None);
    }

    #[test]
    fn get_maintainer_output_splits_into_to_and_cc() {
        let out = "\
Bjorn Helgaas <bhelgaas@google.com> (supporter:PCI SUBSYSTEM)
Len Brown <lenb@kernel.org> (reviewer:ACPI)
Robert Moore <robert.moore@intel.com> (supporter:ACPI COMPONENT ARCHITECTURE (ACPICA))
linux-pci@vger.kernel.org (open list:PCI SUBSYSTEM)
";
        let (to, cc) = recipients(out);
        assert_eq!(
            to,
            vec![
                "Bjorn Helgaas <bhelgaas@google.com>",
                "Robert Moore <robert.moore@intel.com>"
            ]
        );
        assert_eq!(
            cc,
            vec!["Len Brown <lenb@kernel.org>", "linux-pci@vger.kernel.org"]
        );
    }

    #[test]
    fn notes_stop_at_the_diffstat() {
        let mail = Mail {
            path: PathBuf::new(),
            file: "0001.patch".into(),
            author: Person {
                name: "A".into(),
                email: "a@b".into(),
            },
            subject: "[PATCH v2] a: b".into(),
            message: "body\n\nSigned-off-by: \"A\" <A@B>\n".into(),
            rest: "---\nv2: changed\nv1: first\n\n a.c | 1 +\n 1 file changed\n\ndiff --git a/a.c b/a.c\n"
                .into(),
        };
        assert_eq!(mail.notes(), "v2: changed\nv1: first");
        assert!(mail.diff().starts_with("diff --git a/a.c"));
        let sob = mail.signoffs();
        assert_eq!(sob.len(), 1);
        assert!(sob[0].same_as(&mail.author));
    }
}
