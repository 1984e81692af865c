//! `patches/<series>/posted.toml`: the versions of a series already posted
//! to the lists, by whom, and where, so that `check-series` can tell a
//! revision whose number is already taken (`version`) and one that
//! continues someone else's work without crediting it (`credits`).

use crate::config;
use anyhow::{bail, Result};
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostedToml {
    /// Every posted version. Required (may be empty: nothing posted yet).
    pub posted: Vec<Posted>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Posted {
    /// The version number (`v5`, `RFC v5`: 5). Required.
    pub version: u32,
    /// Whether it was posted as an RFC. Default: false.
    #[serde(default)]
    pub rfc: bool,
    /// The subject of its cover letter (or of its single patch), without
    /// the `[PATCH ...]` tag. Required.
    pub title: String,
    /// Who posted it, `Name <mail>` or a name alone. Required.
    pub author: String,
    /// When, `YYYY-MM` or `YYYY-MM-DD`. Default: not known.
    #[serde(default)]
    pub date: Option<String>,
    /// Where it can be read (a lore.kernel.org link). Default: none.
    #[serde(default)]
    pub link: Option<String>,
    /// What it did, one line. Default: empty.
    #[serde(default)]
    pub note: String,
}

impl Posted {
    /// The author's name without the address.
    pub fn author_name(&self) -> &str {
        self.author.split('<').next().unwrap_or(&self.author).trim()
    }
}

impl PostedToml {
    /// Reads `path`; a missing file is an empty list.
    pub fn load(path: &Path) -> Result<PostedToml> {
        if !path.is_file() {
            return Ok(PostedToml { posted: Vec::new() });
        }
        let toml: PostedToml = config::load(path)?;
        toml.validate(path)?;
        Ok(toml)
    }

    pub fn validate(&self, path: &Path) -> Result<()> {
        for (i, p) in self.posted.iter().enumerate() {
            let at = format!(
                "{}: [[posted]] #{} (v{})",
                config::display(path),
                i + 1,
                p.version
            );
            if p.version == 0 {
                bail!("{at}: version must be 1 or more");
            }
            if p.title.trim().is_empty() || p.author_name().is_empty() {
                bail!("{at}: title and author must not be empty");
            }
            if let Some(date) = &p.date {
                let ok = date.len() >= 7
                    && date.chars().all(|c| c.is_ascii_digit() || c == '-')
                    && date.as_bytes()[4] == b'-';
                if !ok {
                    bail!("{at}: date {date:?} is not YYYY-MM or YYYY-MM-DD");
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posted_versions_parse_and_bad_ones_are_named() {
        let path = Path::new("posted.toml");
        let good: PostedToml = config::parse(
            "[[posted]]\nversion = 5\nrfc = true\ntitle = \"x: Y\"\nauthor = \"A B <a@b.org>\"\n\
             date = \"2024-03\"\n",
            path,
        )
        .unwrap();
        good.validate(path).unwrap();
        assert_eq!(good.posted[0].author_name(), "A B");
        let unknown = config::parse::<PostedToml>(
            "[[posted]]\nversion = 5\ntitle = \"x\"\nauthor = \"A\"\ndate = \"2024-03\"\nurl = \"\"\n",
            path,
        )
        .unwrap_err();
        assert!(format!("{unknown:#}").contains("url"), "{unknown:#}");
        let bad: PostedToml = config::parse(
            "[[posted]]\nversion = 5\ntitle = \"x\"\nauthor = \"A\"\ndate = \"March\"\n",
            path,
        )
        .unwrap();
        let err = format!("{:#}", bad.validate(path).unwrap_err());
        assert!(err.contains("#1 (v5)") && err.contains("March"), "{err}");
    }

    #[test]
    fn the_shipped_list_is_valid() {
        let path = crate::project_root().join("patches/gsi-sysfs/posted.toml");
        let toml = PostedToml::load(&path).unwrap();
        assert!(toml.posted.iter().any(|p| p.version == 5));
    }
}
