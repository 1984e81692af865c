//! gsi-workbench: the harness behind `cargo xtask`.
//!
//! The folders follow the data, and imports only point down this list
//! (no two modules import each other):
//!
//! ```text
//! cli/       one module per verb (test_matrix, kernel, boot, mutants,
//!            check_series/, ci, report, bench/) and the command line;
//!            a verb drives the pipeline and prints, and is never a
//!            library for another module
//! pipeline/  the stages, in the order data flows: selection and shard
//!            (what to run) -> pin -> revision (git_range) -> build ->
//!            guest (cpio) -> qemu -> boot -> console (the verdict) ->
//!            results (reuse); run ties them into one matrix run
//! report/    the result types the pipeline fills in (Report, Run, Verdict,
//!            Trial), the differential check of runs against baseline (at
//!            the end of a run and again at `report merge`), and the
//!            renderings: json, table, junit, markdown
//! model/     the routing model (routing) and the guest's plan built from
//!            a topology and the matrix policy (plan)
//! config/    the TOML files: kernel.toml (kernel), matrix.toml (matrix),
//!            topologies/*.toml (topology), and the loading helpers
//! sys/       plumbing every layer uses: child processes (process), git,
//!            cache locks (lock), host tools (tools), progress events
//! ```
//!
//! `main.rs` only calls [`cli::main`].

pub mod cli;
pub mod config;
pub(crate) mod model;
pub mod pipeline;
pub mod report;
pub mod sys;
#[doc(hidden)]
pub mod test_support;

use std::path::{Path, PathBuf};

/// The workspace root, found from this crate's manifest directory so that
/// `cargo xtask` works from any subdirectory.
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Where every artifact of the workbench lives: `target/gsi`, unless
/// `GSI_WORK_DIR` points elsewhere (tests use a scratch directory).
pub fn work_dir() -> PathBuf {
    match std::env::var_os("GSI_WORK_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => project_root().join("target").join("gsi"),
    }
}

/// Lowercase hex SHA-256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(bytes))
}

/// Lowercase hex SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> anyhow::Result<String> {
    use anyhow::Context;
    use sha2::{Digest, Sha256};
    let mut file =
        std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).with_context(|| format!("reading {}", path.display()))?;
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `bytes` to `path` through a temporary file in the same directory
/// and a rename, so a reader never sees a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use anyhow::Context;
    use std::io::Write;
    let dir = path.parent().expect("an artifact path has a parent");
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.as_file().sync_all().ok();
    tmp.persist(path)
        .with_context(|| format!("renaming into {}", path.display()))?;
    Ok(())
}

/// Seconds as the reports print them.
pub fn secs(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 100.0).round() / 100.0
}
