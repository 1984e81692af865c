//! What several CLI test files share (each file under tests/ is a crate of
//! its own, so they include this module).

use std::path::Path;
use std::process::Command;

/// Runs the xtask binary with `args` and its work dir at `work`:
/// (success, stdout then stderr).
pub fn xtask_in(work: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env("GSI_WORK_DIR", work)
        .output()
        .expect("running xtask");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
