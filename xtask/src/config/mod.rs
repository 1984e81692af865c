//! Reading the workbench's TOML files with errors that name the file, the
//! line and the key, and a path resolver relative to each file.

pub mod kernel;
pub mod matrix;
pub mod posted;
pub(crate) mod topology;
pub mod xen;

use anyhow::{Context, Result};
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

/// Parses `path` as `T`. The error names the file; toml's own message adds
/// the line, column and key (`unknown field `x`, expected one of ...`).
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", display(path)))?;
    parse(&text, path)
}

/// Like [`load`] for text already in memory; `path` is only for messages.
pub fn parse<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T> {
    toml::from_str(text).map_err(|err| {
        anyhow::anyhow!(
            "{}: {}fix the file and run again",
            display(path),
            err.to_string().trim_end().to_string() + "\n"
        )
    })
}

/// A path as the user should read it: relative to the project root when
/// it is inside it.
pub fn display(path: &Path) -> String {
    let root = crate::project_root();
    path.strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Resolves `relative` against the directory of the file it was read from.
pub fn resolve(file: &Path, relative: &Path) -> PathBuf {
    if relative.is_absolute() {
        relative.to_path_buf()
    } else {
        file.parent().unwrap_or(Path::new(".")).join(relative)
    }
}

/// The `configs/` directory (or `GSI_CONFIG_DIR` for tests).
pub fn configs_dir() -> PathBuf {
    match std::env::var_os("GSI_CONFIG_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => crate::project_root().join("configs"),
    }
}

/// Names listed for "unknown X" errors: `a, b, c`.
pub fn list(names: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    names
        .into_iter()
        .map(|n| n.as_ref().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Small {
        name: String,
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let err = parse::<Small>("name = 'x'\nbogus = 1\n", Path::new("/x/configs/a.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/x/configs/a.toml"), "{err}");
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("bogus"), "{err}");
    }

    #[test]
    fn malformed_toml_names_the_line() {
        let err = parse::<Small>("name = 'x\n", Path::new("a.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn relative_paths_resolve_against_the_file() {
        assert_eq!(
            resolve(
                Path::new("/p/configs/kernel.toml"),
                Path::new("kernel/boot.config")
            ),
            PathBuf::from("/p/configs/kernel/boot.config")
        );
        assert_eq!(
            resolve(Path::new("/p/a.toml"), Path::new("/abs")),
            PathBuf::from("/abs")
        );
    }
}
