//! Who posts the series: the poster's identity, whether it is a real one,
//! and the placeholder-signed mails re-signed with it.
//!
//! The identity comes from `--identity "Name <mail>"` or, as `git
//! format-patch` and b4 take it, from `git config user.name` and
//! `user.email`. An address in a domain reserved for examples and tests
//! (RFC 2606 and RFC 6761: example.org/.com/.net, `.example`, `.invalid`,
//! `.test`, `.localhost`), `localhost`, or git's own `(none)` fallback is
//! a placeholder: nobody can answer review there and it fails the DCO.
//! The series this project ships is signed with such a placeholder on
//! purpose, so its mails are rewritten with the poster's identity (the
//! `From:` of a placeholder author and every placeholder `Signed-off-by:`)
//! into a directory of their own; the checks read those, and they are the
//! mails to send. Only a mail whose author is a placeholder is re-signed:
//! a mail from a real author is left alone, so a placeholder sign-off in
//! it (a commit made where git had no identity) fails `identity` instead
//! of being papered over.

use super::mail::Person;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// How to set an identity, for every message that asks for one.
pub const HOW_TO_SET: &str = "set it with `git config --global user.name \"Your Name\"` and \
     `git config --global user.email you@your.domain` (what git format-patch and b4 use), \
     or pass --identity \"Your Name <you@your.domain>\"";

/// Where the poster's identity was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Option,
    GitConfig,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Source::Option => "--identity",
            Source::GitConfig => "git config user.name/user.email",
        })
    }
}

/// The poster, or why there is none to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poster {
    Real(Person, Source),
    Placeholder(Person, Source, &'static str),
    Missing(String),
}

impl Poster {
    pub fn real(&self) -> Option<&Person> {
        match self {
            Poster::Real(p, _) => Some(p),
            _ => None,
        }
    }
}

/// Parses `Name <mail>`.
pub fn parse(text: &str) -> std::result::Result<Person, String> {
    let text = text.trim();
    let (Some(open), Some(close)) = (text.find('<'), text.rfind('>')) else {
        return Err(format!("{text:?} is not `Name <mail>`"));
    };
    let name = text[..open].trim().trim_matches('"').trim();
    let email = text[open + 1..close].trim();
    if name.is_empty() || close != text.len() - 1 || open > close {
        return Err(format!("{text:?} is not `Name <mail>`"));
    }
    if !email.contains('@') {
        return Err(format!("{text:?}: {email:?} is not a mail address"));
    }
    Ok(Person {
        name: name.to_string(),
        email: email.to_string(),
    })
}

/// Why `email` is a placeholder, or None when it may be real.
pub fn placeholder(email: &str) -> Option<&'static str> {
    let email = email.trim().to_ascii_lowercase();
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Some("no @ in the address");
    };
    if local.is_empty() || domain.is_empty() {
        return Some("an empty part around @");
    }
    if domain.contains("(none)") {
        return Some("git's made-up (none) domain: no user.email is set");
    }
    let reserved_second = ["example.org", "example.com", "example.net"];
    if reserved_second
        .iter()
        .any(|d| domain == *d || domain.ends_with(&format!(".{d}")))
    {
        return Some("a domain reserved for examples (RFC 2606)");
    }
    if domain == "localhost" || domain == "localhost.localdomain" || domain.ends_with(".localhost")
    {
        return Some("localhost, not a mail domain (RFC 6761)");
    }
    let tld = domain.rsplit('.').next().unwrap_or(domain);
    match tld {
        "example" => Some("the .example top-level domain is reserved for examples (RFC 2606)"),
        "invalid" => Some("the .invalid top-level domain never resolves (RFC 2606)"),
        "test" => Some("the .test top-level domain is reserved for tests (RFC 2606)"),
        "local" | "localdomain" | "lan" | "home" | "internal" => {
            Some("a local network domain, not reachable by mail")
        }
        _ if !domain.contains('.') => Some("a domain without a dot, not a mail domain"),
        _ => None,
    }
}

/// Judges a person as a poster identity found in `source`.
pub fn judge(person: Person, source: Source) -> Poster {
    match placeholder(&person.email) {
        Some(why) => Poster::Placeholder(person, source, why),
        None => Poster::Real(person, source),
    }
}

/// The poster: `--identity` when given, else git's user.name/user.email
/// as `git config` answers in `dir`.
pub fn poster(option: Option<&str>, dir: &Path) -> Poster {
    if let Some(text) = option {
        return match parse(text) {
            Ok(person) => judge(person, Source::Option),
            Err(err) => Poster::Missing(format!("--identity {err}")),
        };
    }
    let get = |key: &str| {
        crate::sys::git::cmd(dir, &["config", "--get", key])
            .read()
            .ok()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    match (get("user.name"), get("user.email")) {
        (Some(name), Some(email)) => judge(Person { name, email }, Source::GitConfig),
        (name, email) => Poster::Missing(format!(
            "no poster identity: git config has {} and {}, and no --identity was given",
            if name.is_some() {
                "user.name"
            } else {
                "no user.name"
            },
            if email.is_some() {
                "user.email"
            } else {
                "no user.email"
            },
        )),
    }
}

/// One mail's text with a placeholder author, and then its placeholder
/// sign-offs, replaced by `poster`; the second value lists what was
/// replaced. A mail from a real author is returned as it is.
pub fn resign(text: &str, poster: &Person) -> (String, Vec<String>) {
    let mut changed = Vec::new();
    let mut out = String::with_capacity(text.len());
    let mut in_headers = true;
    let mut past_message = false;
    let mut placeholder_author = false;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        if in_headers && bare.is_empty() {
            in_headers = false;
        }
        if !in_headers && bare == "---" {
            past_message = true;
        }
        let rewritten = if in_headers {
            bare.strip_prefix("From: ")
                .and_then(|v| parse(v).ok())
                .filter(|p| placeholder(&p.email).is_some())
                .map(|p| {
                    placeholder_author = true;
                    changed.push(format!("From: {p} -> {poster}"));
                    format!("From: {poster}")
                })
        } else if !past_message && placeholder_author {
            bare.trim_start()
                .strip_prefix("Signed-off-by:")
                .and_then(|v| parse(v).ok())
                .filter(|p| placeholder(&p.email).is_some())
                .map(|p| {
                    changed.push(format!("Signed-off-by: {p} -> {poster}"));
                    format!("Signed-off-by: {poster}")
                })
        } else {
            None
        };
        match rewritten {
            Some(new) => {
                out.push_str(&new);
                out.push_str(&line[bare.len()..]);
            }
            None => out.push_str(line),
        }
    }
    (out, changed)
}

/// Writes every mail of `paths`, re-signed, into `dir` (replaced whole:
/// written to a temporary directory beside it, then renamed). Returns
/// the new paths, in order, and what was replaced per file.
pub fn write_resigned(
    paths: &[PathBuf],
    poster: &Person,
    dir: &Path,
) -> Result<(Vec<PathBuf>, Vec<String>)> {
    let parent = dir.parent().context("the mail directory has a parent")?;
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(".mails-")
        .tempdir_in(parent)
        .with_context(|| format!("creating a temporary directory in {}", parent.display()))?;
    let mut written = Vec::new();
    let mut changes = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading {}", crate::config::display(path)))?;
        let (new, changed) = resign(&text, poster);
        let name = path.file_name().context("a mail file has a name")?;
        std::fs::write(tmp.path().join(name), new)?;
        for c in changed {
            changes.push(format!("{}: {c}", name.to_string_lossy()));
        }
        written.push(dir.join(name));
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("replacing {}", dir.display()))?;
    }
    let kept = tmp.keep();
    std::fs::rename(&kept, dir)
        .with_context(|| format!("renaming {} to {}", kept.display(), dir.display()))?;
    Ok((written, changes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_told_from_real_addresses() {
        for (email, placeholder_) in [
            ("workbench@example.org", true),
            ("a@sub.example.com", true),
            ("maintainers@users.noreply.r-seed-5a6c1744.example", true),
            ("gsi-workbench@invalid", true),
            ("me@box.test", true),
            ("root@localhost", true),
            ("me@laptop.(none)", true),
            ("me@laptop", true),
            ("nodomain", true),
            ("bhelgaas@google.com", false),
            ("rafael@kernel.org", false),
            ("someone@examples.org", false),
        ] {
            assert_eq!(placeholder(email).is_some(), placeholder_, "{email}");
        }
    }

    #[test]
    fn identities_parse_or_say_why_not() {
        let p = parse("\"Ada L.\" <ada@kernel.org>").unwrap();
        assert_eq!(p.to_string(), "Ada L. <ada@kernel.org>");
        assert!(parse("ada@kernel.org").is_err());
        assert!(parse("<ada@kernel.org>").is_err());
        assert!(parse("Ada <nomail>").is_err());
        assert!(matches!(
            poster(Some("Ada <ada@example.org>"), Path::new(".")),
            Poster::Placeholder(_, Source::Option, _)
        ));
        assert!(matches!(
            poster(Some("Ada"), Path::new(".")),
            Poster::Missing(_)
        ));
    }

    #[test]
    fn resigning_replaces_only_placeholders_in_from_and_sign_offs() {
        let mail = "From 1234 Mon Sep 17 00:00:00 2001\nFrom: Dev <dev@example.org>\n\
                    Subject: [PATCH] a: B\n\nBody.\nSigned-off-by: Real One <one@kernel.org>\n\
                    Signed-off-by: Dev <dev@example.org>\n---\n\
                    Signed-off-by: Dev <dev@example.org>\n";
        let poster = parse("Ada <ada@kernel.org>").unwrap();
        let (text, changed) = resign(mail, &poster);
        assert_eq!(changed.len(), 2, "{changed:?}");
        assert!(text.contains("\nFrom: Ada <ada@kernel.org>\n"));
        assert!(text.contains("Signed-off-by: Real One <one@kernel.org>\n"));
        assert!(text.contains("\nSigned-off-by: Ada <ada@kernel.org>\n---\n"));
        // Below --- is the diff: a removed line there is not a sign-off.
        assert!(text.ends_with("---\nSigned-off-by: Dev <dev@example.org>\n"));
        // A real author's mail is not touched: its placeholder sign-off is
        // a mistake for the identity check to report.
        let real = mail.replace("From: Dev <dev@example.org>", "From: Eve <eve@kernel.org>");
        let (text, changed) = resign(&real, &poster);
        assert!(changed.is_empty(), "{changed:?}");
        assert_eq!(text, real);
    }
}
