//! The pin's MAINTAINERS file read the way `scripts/get_maintainer.pl`
//! matches it (an `F:` pattern ending in `/` takes everything below it;
//! otherwise a glob whose `/` count must equal the file's; `X:` excludes),
//! for two rules: which mailing lists a series must reach, and which
//! subject prefix each patch takes.
//!
//! The prefix rule: a patch's subject starts with the subsystem that owns
//! the code it changes, named as that subsystem's MAINTAINERS section
//! names it (its first word: "PCI SUBSYSTEM" -> `PCI`, "ACPI" -> `ACPI`),
//! optionally narrowed (`PCI/sysfs:`, `ACPI: PCI:`), and the summary after
//! the last prefix starts with a capital letter. Both subsystems write
//! their subjects so (`git log --oneline drivers/pci drivers/acpi`
//! upstream; the PCI maintainer asks for it in review, as he did for v5).
//! Documentation and headers follow the code they come with, so they
//! decide the prefix only in a patch that changes nothing else.

use regex::Regex;
use std::collections::BTreeSet;
use std::sync::LazyLock;

/// One MAINTAINERS section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub files: Vec<String>,
    pub excludes: Vec<String>,
    /// `L:` mailing lists, address only.
    pub lists: Vec<String>,
}

impl Section {
    /// The subject prefix this section's subsystem uses.
    pub fn prefix(&self) -> String {
        self.name
            .split_whitespace()
            .next()
            .unwrap_or(&self.name)
            .trim_end_matches([':', ','])
            .to_string()
    }

    /// How specifically the section claims `file`: the length of its
    /// longest matching pattern, None when it does not (or excludes it).
    pub fn claims(&self, file: &str) -> Option<usize> {
        if self.excludes.iter().any(|p| matches(p, file)) {
            return None;
        }
        self.files
            .iter()
            .filter(|p| matches(p, file))
            .map(|p| p.len())
            .max()
    }
}

/// get_maintainer.pl's `file_match_pattern`.
pub fn matches(pattern: &str, file: &str) -> bool {
    if pattern.ends_with('/') {
        return file.starts_with(pattern);
    }
    if file == pattern || file.starts_with(&format!("{pattern}/")) {
        // A pattern naming a directory without the slash takes its files.
        return true;
    }
    // get_maintainer anchors the glob at the start only, then asks for as
    // many `/` in the file as in the pattern.
    glob_prefix(pattern.as_bytes(), file.as_bytes())
        && file.matches('/').count() == pattern.matches('/').count()
}

/// Whether `pattern` (`*` any run, `?` one character) matches a prefix of
/// `text`.
fn glob_prefix(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => true,
        Some((b'*', rest)) => (0..=text.len()).any(|i| glob_prefix(rest, &text[i..])),
        Some((b'?', rest)) => !text.is_empty() && glob_prefix(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && glob_prefix(rest, &text[1..]),
    }
}

/// Parses MAINTAINERS: sections start after the `Maintainers List`
/// heading's dashes; each is a title line and `X:\tvalue` lines.
pub fn parse(text: &str) -> Vec<Section> {
    static LIST: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"([A-Za-z0-9._+-]+@[A-Za-z0-9.-]+)").unwrap());
    let start = text
        .find("\n----------------")
        .and_then(|i| text[i + 1..].find('\n').map(|j| i + 1 + j + 1))
        .unwrap_or(0);
    let mut sections = Vec::new();
    let mut current: Option<Section> = None;
    for line in text[start..].lines() {
        if line.trim().is_empty() {
            if let Some(s) = current.take() {
                sections.push(s);
            }
            continue;
        }
        let tagged = line.len() > 2 && line.as_bytes()[1] == b':' && line.as_bytes()[0] != b' ';
        match (tagged, current.as_mut()) {
            (true, Some(s)) => {
                let value = line[2..].trim();
                match &line[..1] {
                    "F" => s.files.push(value.to_string()),
                    "X" => s.excludes.push(value.to_string()),
                    "L" => {
                        if let Some(c) = LIST.captures(value) {
                            s.lists.push(c[1].to_ascii_lowercase());
                        }
                    }
                    _ => {}
                }
            }
            (false, _) => {
                if let Some(s) = current.take() {
                    sections.push(s);
                }
                current = Some(Section {
                    name: line.trim().to_string(),
                    files: Vec::new(),
                    excludes: Vec::new(),
                    lists: Vec::new(),
                });
            }
            (true, None) => {}
        }
    }
    sections.extend(current);
    sections
}

/// The sections claiming `file`, most specific first; "THE REST" (every
/// file's catch-all) is left out.
pub fn owners<'a>(sections: &'a [Section], file: &str) -> Vec<&'a Section> {
    let mut found: Vec<(usize, &Section)> = sections
        .iter()
        .filter(|s| s.name != "THE REST")
        .filter_map(|s| s.claims(file).map(|n| (n, s)))
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.name.cmp(&b.1.name)));
    found.into_iter().map(|(_, s)| s).collect()
}

/// Files that decide a patch's prefix: its code, or all its files when it
/// is documentation or headers only.
pub fn deciding_files(files: &[String]) -> Vec<String> {
    let code: Vec<String> = files
        .iter()
        .filter(|f| !f.starts_with("Documentation/") && !f.starts_with("include/"))
        .cloned()
        .collect();
    if code.is_empty() {
        files.to_vec()
    } else {
        code
    }
}

/// What the prefix rule allows for a patch touching `files`: the prefixes
/// of the sections owning its deciding files (drivers/acpi/pci_irq.c is
/// both ACPI's and, by `F: drivers/acpi/pci*`, PCI's), with the section
/// each comes from.
pub fn allowed_prefixes(sections: &[Section], files: &[String]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for file in deciding_files(files) {
        for s in owners(sections, &file) {
            let prefix = s.prefix();
            if !out.iter().any(|(p, _)| *p == prefix) {
                out.push((prefix, format!("{} (F: claims {file})", s.name)));
            }
        }
    }
    out
}

/// Judges one title (the subject after its `[PATCH ...]` tag) against the
/// allowed prefixes; None when it follows the rule.
pub fn judge_title(title: &str, allowed: &[(String, String)]) -> Option<String> {
    static PREFIXES: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^((?:[A-Za-z0-9_./+-]+: )+)(.*)$").unwrap());
    let Some(caps) = PREFIXES.captures(title) else {
        return Some(format!(
            "{title:?} has no `subsystem: ` prefix; expected {}",
            names(allowed)
        ));
    };
    let prefix = caps[1].to_string();
    let summary = &caps[2];
    let first = prefix.split([':', '/']).next().unwrap_or("");
    if !allowed.is_empty() && !allowed.iter().any(|(p, _)| p.eq_ignore_ascii_case(first)) {
        return Some(format!(
            "prefix {:?} is not the owning subsystem's: expected {} (from MAINTAINERS: {})",
            prefix.trim_end(),
            names(allowed),
            allowed
                .iter()
                .map(|(_, from)| from.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    if let Some((p, _)) = allowed.iter().find(|(p, _)| p.eq_ignore_ascii_case(first)) {
        if first != p {
            return Some(format!("prefix {first:?} is written {p:?} in MAINTAINERS"));
        }
    }
    let word = summary.split_whitespace().next().unwrap_or("");
    let identifier = word.contains(['_', '(']) || word.chars().skip(1).any(|c| c.is_uppercase());
    match word.chars().next() {
        Some(c) if c.is_lowercase() && !identifier => Some(format!(
            "the summary after {:?} starts in lower case ({word:?}): these subsystems \
             capitalise it (\"{}{}\")",
            prefix.trim_end(),
            prefix,
            capitalised(summary)
        )),
        None => Some(format!("{title:?} has nothing after its prefix")),
        _ => None,
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn names(allowed: &[(String, String)]) -> String {
    let set: BTreeSet<String> = allowed.iter().map(|(p, _)| format!("\"{p}: \"")).collect();
    if set.is_empty() {
        "a subsystem prefix".to_string()
    } else {
        set.into_iter().collect::<Vec<_>>().join(" or ")
    }
}

/// The mailing lists of every section claiming one of `files`
/// (linux-kernel@ is every patch's, and left out).
pub fn lists_for(sections: &[Section], files: &[String]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for file in files {
        for s in owners(sections, file) {
            for l in &s.lists {
                if l != "linux-kernel@vger.kernel.org" && !out.iter().any(|(x, _)| x == l) {
                    out.push((l.clone(), s.name.clone()));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
List of maintainers
===================

Maintainers List
----------------

ACPI
M:\tRafael J. Wysocki <rafael@kernel.org>
L:\tlinux-acpi@vger.kernel.org
S:\tSupported
F:\tdrivers/acpi/
F:\tinclude/linux/acpi.h
X:\tdrivers/acpi/numa/

PCI SUBSYSTEM
M:\tBjorn Helgaas <bhelgaas@google.com>
L:\tlinux-pci@vger.kernel.org
S:\tSupported
F:\tDocumentation/ABI/testing/sysfs-bus-pci
F:\tdrivers/pci/
F:\tinclude/linux/pci*

DOCUMENTATION
L:\tlinux-doc@vger.kernel.org
F:\tDocumentation/

THE REST
L:\tlinux-kernel@vger.kernel.org
F:\t*
F:\t*/
";

    #[test]
    fn sections_and_patterns_match_as_get_maintainer_does() {
        let s = parse(TEXT);
        assert_eq!(s.len(), 4);
        assert_eq!(s[1].prefix(), "PCI");
        assert_eq!(s[1].lists, vec!["linux-pci@vger.kernel.org"]);
        assert!(matches("include/linux/pci*", "include/linux/pci.h"));
        assert!(!matches("include/linux/pci*", "include/linux/pci/x.h"));
        assert!(s[0].claims("drivers/acpi/numa/srat.c").is_none());
        let owners = owners(&s, "Documentation/ABI/testing/sysfs-bus-pci");
        assert_eq!(owners[0].name, "PCI SUBSYSTEM");
        assert_eq!(owners[1].name, "DOCUMENTATION");
    }

    #[test]
    fn prefixes_and_capitals_follow_the_owning_subsystem() {
        let s = parse(TEXT);
        let files = |f: &[&str]| f.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let pci = allowed_prefixes(
            &s,
            &files(&[
                "Documentation/ABI/testing/sysfs-bus-pci",
                "drivers/pci/pci-sysfs.c",
            ]),
        );
        assert_eq!(pci.len(), 1, "{pci:?}");
        assert!(matches("drivers/acpi/pci*", "drivers/acpi/pci_irq.c"));
        assert!(matches("drivers/pci", "drivers/pci/pci.c"));
        assert!(!matches("drivers/acpi/pci*", "drivers/acpi/x/pci.c"));
        assert_eq!(judge_title("PCI/sysfs: Add gsi attribute", &pci), None);
        let lower = judge_title("PCI/sysfs: add gsi attribute", &pci).unwrap();
        assert!(lower.contains("PCI/sysfs: Add gsi attribute"), "{lower}");
        let wrong = judge_title("ACPI: PCI: Add gsi", &pci).unwrap();
        assert!(wrong.contains("PCI SUBSYSTEM"), "{wrong}");
        let acpi = allowed_prefixes(
            &s,
            &files(&["drivers/acpi/pci_irq.c", "include/linux/acpi.h"]),
        );
        assert_eq!(
            judge_title("ACPI: PCI: Add acpi_pci_irq_gsi()", &acpi),
            None
        );
        assert_eq!(
            judge_title("ACPI: PCI: acpi_pci_irq_gsi() reports", &acpi),
            None
        );
        assert!(judge_title("acpi: pci: Add x", &acpi).is_some());
        assert!(judge_title("Add a thing", &acpi).is_some());
        let lists = lists_for(&s, &files(&["drivers/acpi/pci_irq.c", "drivers/pci/pci.c"]));
        assert_eq!(
            lists.iter().map(|(l, _)| l.as_str()).collect::<Vec<_>>(),
            vec!["linux-acpi@vger.kernel.org", "linux-pci@vger.kernel.org"]
        );
    }
}
