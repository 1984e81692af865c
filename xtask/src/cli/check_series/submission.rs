//! The checks a maintainer and b4 apply to the mails themselves, beyond
//! their format: who posts them (`identity`), what they apply to
//! (`base-commit`), who receives them (`recipients`), whose work they
//! continue (`credits`) and whether their version number is free
//! (`version`). Each is a pure function of the mails' text, the poster,
//! get_maintainer's answer and the series' posted.toml.

use super::identity::{self, Poster, HOW_TO_SET};
use super::mail::{self, Mail};
use super::CheckResult;
use crate::config::posted::Posted;
use regex::Regex;
use std::sync::LazyLock;

/// `identity`: the poster is a real person, and every mail to send is
/// from a real author and signed off by the poster.
pub fn check_identity(poster: &Poster, mails: &[Mail], resigned: &[String]) -> CheckResult {
    let person = match poster {
        Poster::Missing(why) => {
            return CheckResult::fail(
                format!("{why}: {HOW_TO_SET}"),
                vec!["the mails cannot carry a real From: and Signed-off-by:".to_string()],
            )
        }
        Poster::Placeholder(p, source, why) => {
            return CheckResult::fail(
                format!("the poster identity {p} (from {source}) is a placeholder: {why}"),
                vec![
                    format!("nobody can answer review there, and it fails the DCO; {HOW_TO_SET}"),
                    "the series' placeholder sign-offs are re-signed only with a real identity"
                        .to_string(),
                ],
            )
        }
        Poster::Real(p, _) => p,
    };
    let mut problems = Vec::new();
    let mut evidence = vec![format!("poster: {person} ({})", source_of(poster))];
    for mail in mails {
        if let Some(why) = identity::placeholder(&mail.author.email) {
            problems.push(format!(
                "{}: author {} is a placeholder ({why})",
                mail.file, mail.author
            ));
        }
        let sobs = mail.signoffs();
        for sob in &sobs {
            if let Some(why) = identity::placeholder(&sob.email) {
                problems.push(format!(
                    "{}: Signed-off-by: {sob} is a placeholder ({why})",
                    mail.file
                ));
            }
        }
        if !sobs.iter().any(|s| s.same_as(person)) {
            problems.push(format!(
                "{}: not signed off by the poster {person} (the DCO needs the sender's \
                 Signed-off-by:, after the author's)",
                mail.file
            ));
        }
    }
    if resigned.is_empty() {
        evidence.push("no placeholder to re-sign".to_string());
    } else {
        evidence.push(format!(
            "re-signed {} placeholder line(s) with the poster's identity:",
            resigned.len()
        ));
        evidence.extend(resigned.iter().map(|l| format!("  {l}")));
    }
    super::CheckResult::judge(
        problems,
        evidence,
        format!("{person} posts; every mail is from a real author and signed off by the poster"),
    )
}

fn source_of(poster: &Poster) -> String {
    match poster {
        Poster::Real(_, s) | Poster::Placeholder(_, s, _) => s.to_string(),
        Poster::Missing(_) => String::new(),
    }
}

/// The `base-commit:` line of a mail's text (as `git format-patch --base`
/// writes it, after the diffstat or diff and before the signature).
pub fn base_commit(text: &str) -> Option<String> {
    static BASE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?m)^base-commit: ([0-9a-f]{40})\s*$").unwrap());
    BASE.captures(text).map(|c| c[1].to_string())
}

/// `base-commit`: the cover letter (or the last patch, when there is no
/// cover letter) names the commit the series applies to. `known` says
/// whether the pin's repository holds a commit.
pub fn check_base_commit(
    carrier: &Mail,
    carrier_text: &str,
    pin_base: &str,
    known: impl Fn(&str) -> bool,
) -> CheckResult {
    match base_commit(carrier_text) {
        Some(id) => {
            let what = if id == pin_base {
                "the pin's base commit".to_string()
            } else if known(&id) {
                "a commit of the pin's tree".to_string()
            } else {
                format!(
                    "not a commit of the pin's tree (base {}): an upstream commit, to be \
                     resolved by the maintainer's tree",
                    &pin_base[..12]
                )
            };
            CheckResult::pass(
                format!("{}: base-commit: {} ({what})", carrier.file, &id[..12]),
                vec![format!("base-commit: {id}")],
            )
        }
        None => CheckResult::fail(
            format!(
                "{}: no `base-commit:` line, so neither b4 nor a build robot knows what the \
                 series applies to",
                carrier.file
            ),
            vec![
                format!(
                    "write the series with `git format-patch --base={pin_base} ...` (or \
                     --base=auto with an upstream branch set; `b4 prep` adds it itself)"
                ),
                "git puts it in the cover letter (in the last patch without one), after the \
                 diffstat"
                    .to_string(),
            ],
        ),
    }
}

/// Addresses in the `To:`/`Cc:` headers of a mail's text (folded lines
/// joined), and in `To:`/`Cc:` trailer lines of its body (where `b4 prep
/// --auto-to-cc` keeps them in a cover letter commit).
pub fn addressees(text: &str) -> Vec<String> {
    static ADDR: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"([A-Za-z0-9._%+=-]+@[A-Za-z0-9.-]+)").unwrap());
    let mut fields: Vec<String> = Vec::new();
    let mut in_headers = true;
    let mut current: Option<String> = None;
    for line in text.lines() {
        if in_headers {
            if line.is_empty() {
                in_headers = false;
                fields.extend(current.take());
                continue;
            }
            if line.starts_with([' ', '\t']) {
                if let Some(c) = current.as_mut() {
                    c.push(' ');
                    c.push_str(line.trim());
                }
                continue;
            }
            fields.extend(current.take());
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("to:") || lower.starts_with("cc:") {
                current = Some(line[3..].to_string());
            }
        } else if line == "---" {
            break;
        } else if let Some(rest) = line
            .strip_prefix("To: ")
            .or_else(|| line.strip_prefix("Cc: "))
        {
            fields.push(rest.to_string());
        }
    }
    fields.extend(current);
    let mut out = Vec::new();
    for field in fields {
        for c in ADDR.captures_iter(&field) {
            let a = c[1].to_ascii_lowercase();
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    out
}

/// The address part of a get_maintainer line (`Name <a@b>` or `a@b`).
fn address(entry: &str) -> String {
    match (entry.find('<'), entry.find('>')) {
        (Some(a), Some(b)) if a < b => entry[a + 1..b].to_ascii_lowercase(),
        _ => entry.trim().to_ascii_lowercase(),
    }
}

/// `recipients`: the cover letter (or the single patch) is addressed to
/// everyone get_maintainer names.
pub fn check_recipients(
    carrier: &Mail,
    carrier_text: &str,
    to: &[String],
    cc: &[String],
) -> CheckResult {
    let have = addressees(carrier_text);
    let wanted: Vec<&String> = to.iter().chain(cc).collect();
    let missing: Vec<&String> = wanted
        .iter()
        .filter(|w| !have.contains(&address(w)))
        .copied()
        .collect();
    let mut evidence = vec![format!(
        "{} is addressed to {} address(es): {}",
        carrier.file,
        have.len(),
        if have.is_empty() {
            "none".to_string()
        } else {
            have.join(", ")
        }
    )];
    if missing.is_empty() {
        return CheckResult::pass(
            format!(
                "{} carries all {} get_maintainer recipient(s)",
                carrier.file,
                wanted.len()
            ),
            evidence,
        );
    }
    evidence.push(format!(
        "add them: git format-patch --cover-letter {} {} (or `b4 prep --auto-to-cc`)",
        to.iter()
            .map(|t| format!("--to='{t}'"))
            .collect::<Vec<_>>()
            .join(" "),
        cc.iter()
            .map(|c| format!("--cc='{c}'"))
            .collect::<Vec<_>>()
            .join(" ")
    ));
    CheckResult::fail(
        format!(
            "{} misses {} of {} get_maintainer recipient(s): {}",
            carrier.file,
            missing.len(),
            wanted.len(),
            missing
                .iter()
                .map(|m| m.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        evidence,
    )
}

/// `credits`: a revision that continues versions posted by someone else
/// says so: a link to one of them (`Link:` or a lore URL) or a history
/// paragraph naming their author.
pub fn check_credits(
    text: &str,
    place: &str,
    posted: &[Posted],
    poster: Option<&str>,
) -> CheckResult {
    let others: Vec<&Posted> = posted
        .iter()
        .filter(|p| poster.is_none_or(|me| !p.author_name().eq_ignore_ascii_case(me)))
        .collect();
    if others.is_empty() {
        return CheckResult::pass(
            if posted.is_empty() {
                "no earlier posting is recorded in posted.toml: nothing to credit".to_string()
            } else {
                "every recorded posting is the poster's own".to_string()
            },
            Vec::new(),
        );
    }
    let mut authors: Vec<&str> = others.iter().map(|p| p.author_name()).collect();
    authors.dedup();
    let versions = others
        .iter()
        .map(|p| format!("{}v{}", if p.rfc { "RFC " } else { "" }, p.version))
        .collect::<Vec<_>>()
        .join(", ");
    let lower = text.to_ascii_lowercase();
    let mut found = Vec::new();
    for p in &others {
        if let Some(link) = &p.link {
            let id = link.rsplit('/').find(|s| !s.is_empty()).unwrap_or(link);
            if lower.contains(&id.to_ascii_lowercase()) {
                found.push(format!("links v{}: {link}", p.version));
            }
        }
    }
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with("Link:") || l.contains("lore.kernel.org/") {
            found.push(format!("link line: {l}"));
        }
    }
    for a in &authors {
        if lower.contains(&a.to_ascii_lowercase()) {
            found.push(format!("names the earlier author {a}"));
        }
    }
    if found.is_empty() {
        let example = others
            .iter()
            .find_map(|p| {
                p.link
                    .as_ref()
                    .map(|l| format!("Link: {l} (v{})", p.version))
            })
            .unwrap_or_else(|| "Link: https://lore.kernel.org/r/<message-id>".to_string());
        return CheckResult::fail(
            format!(
                "continues {versions} by {} without crediting it: no link to an earlier \
                 posting and no history naming its author in {place}",
                authors.join(", ")
            ),
            vec![
                format!("add Link: tags to the earlier postings (e.g. {example}) or a history paragraph naming them and their author"),
                "the postings are listed in patches/gsi-sysfs/posted.toml".to_string(),
            ],
        );
    }
    found.dedup();
    CheckResult::pass(
        format!("{place} credits the earlier postings ({versions})"),
        found,
    )
}

/// `version`: the revision's number is not one already posted in the
/// lineage it continues. The lineage: the posted versions with the same
/// title; when none has it, every posted version of the series (a
/// revision not numbered afresh continues them), except that a v1 under a
/// new title starts a new series.
pub fn check_version(version: u32, rfc: bool, title: &str, posted: &[Posted]) -> CheckResult {
    let tag = format!("{}v{version}", if rfc { "RFC " } else { "" });
    if posted.is_empty() {
        return CheckResult::skip(
            "no posted.toml beside the revision: no posted version to compare with",
        );
    }
    let same_title: Vec<&Posted> = posted
        .iter()
        .filter(|p| p.title.trim().eq_ignore_ascii_case(title.trim()))
        .collect();
    let (lineage, which) = if !same_title.is_empty() {
        (same_title, format!("the postings titled {title:?}"))
    } else if version == 1 {
        return CheckResult::pass(
            format!("{tag} under a new title {title:?} starts a series of its own"),
            vec![format!(
                "posted.toml records {} earlier posting(s), none titled so",
                posted.len()
            )],
        );
    } else {
        (
            posted.iter().collect(),
            "the series' earlier postings (no posting has this title; a vN above 1 continues them)"
                .to_string(),
        )
    };
    let highest = lineage.iter().map(|p| p.version).max().unwrap_or(0);
    match lineage.iter().find(|p| p.version == version) {
        Some(p) => CheckResult::fail(
            format!(
                "{tag} collides with the posted {}v{} by {}{}",
                if p.rfc { "RFC " } else { "" },
                p.version,
                p.author,
                p.date
                    .as_ref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            ),
            vec![
                format!("compared with {which}"),
                format!(
                    "number it v{} (after the highest posted), or afresh as [RFC PATCH] v1 \
                     under a new title with the history stated in the cover letter",
                    highest + 1
                ),
            ]
            .into_iter()
            .chain(p.link.iter().map(|l| format!("posted: {l}")))
            .collect(),
        ),
        None => CheckResult::pass(
            format!("{tag} is not taken (highest posted: v{highest})"),
            vec![format!("compared with {which}")],
        ),
    }
}

/// The title (after the tag) of the cover letter, or of the single patch.
pub fn series_title(cover: Option<&Mail>, mails: &[Mail]) -> String {
    cover
        .or(mails.first())
        .and_then(|m| mail::parse_subject(&m.subject).ok())
        .map(|t| t.title)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::check_series::Status;

    fn posted(version: u32, title: &str, link: Option<&str>) -> Posted {
        Posted {
            version,
            rfc: true,
            title: title.into(),
            author: "Jiqian Chen <Jiqian.Chen@amd.com>".into(),
            date: Some("2024-01".into()),
            link: link.map(str::to_string),
            note: String::new(),
        }
    }

    #[test]
    fn version_numbers_collide_within_a_lineage() {
        let list = [
            posted(4, "PCI/sysfs: Add gsi sysfs for pci_dev", None),
            posted(5, "PCI/sysfs: Add gsi sysfs for pci_dev", None),
        ];
        let v5 = check_version(5, false, "PCI/sysfs: report the ACPI GSI", &list);
        assert_eq!(v5.status, Status::Fail);
        assert!(
            v5.summary.contains("RFC v5 by Jiqian Chen"),
            "{}",
            v5.summary
        );
        assert_eq!(check_version(6, false, "x: Y", &list).status, Status::Pass);
        assert_eq!(
            check_version(1, true, "PCI: New", &list).status,
            Status::Pass
        );
        let again = check_version(4, true, "PCI/sysfs: Add gsi sysfs for pci_dev", &list);
        assert_eq!(again.status, Status::Fail);
        assert_eq!(check_version(1, true, "x", &[]).status, Status::Skip);
    }

    #[test]
    fn credits_need_a_link_or_the_author() {
        let list = [posted(4, "t", Some("https://lore.kernel.org/r/abc@host"))];
        let none = check_credits("RFC v4: three patches", "cover", &list, Some("Ada"));
        assert_eq!(none.status, Status::Fail);
        assert!(none.evidence[0].contains("Link: https://lore.kernel.org/r/abc@host"));
        for text in [
            "Link: https://lore.kernel.org/r/abc@host",
            "RFC v1-v5 were posted by Jiqian Chen",
        ] {
            assert_eq!(
                check_credits(text, "cover", &list, Some("Ada")).status,
                Status::Pass
            );
        }
        let own = check_credits("", "cover", &list, Some("jiqian chen"));
        assert_eq!(own.status, Status::Pass);
    }

    #[test]
    fn base_commit_and_addressees_are_read_as_git_writes_them() {
        let text = "From x\nFrom: A <a@b.org>\nTo: Bjorn Helgaas <bhelgaas@google.com>\nCc: linux-pci@vger.kernel.org,\n\
                    \tlinux-acpi@vger.kernel.org\nSubject: [PATCH 0/2] x\n\nbody\nCc: late@x.org\n\n---\n\
                    base-commit: 0123456789abcdef0123456789abcdef01234567\n-- \n2.47\n";
        assert_eq!(
            base_commit(text).as_deref(),
            Some("0123456789abcdef0123456789abcdef01234567")
        );
        assert_eq!(
            addressees(text),
            vec![
                "bhelgaas@google.com",
                "linux-pci@vger.kernel.org",
                "linux-acpi@vger.kernel.org",
                "late@x.org"
            ]
        );
        assert_eq!(base_commit("base-commit: 0123"), None);
    }
}
