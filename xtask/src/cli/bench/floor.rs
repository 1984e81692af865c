//! The floor of a boot: the same kernel on the same topology with an
//! `/init` that does nothing but end the machine (`floor.c`). A boot to a
//! verdict divided by its floor is the harness's own overhead: the suite,
//! its plan, the sysfs dumps, the size of `/init`.

use crate::pipeline::cpio::Archive;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// The C source, compiled on first use with the host's gcc (a build tool
/// the pipeline installs anyway).
const SOURCE: &str = include_str!("floor.c");

/// The line the floor prints last: what gsi-init prints after a suite
/// that passed, so the harness stops QEMU at the same point of both boots.
fn done_line() -> String {
    format!("{} 0", gsi_plan::protocol::DONE)
}

/// What the floor prints first: a boot whose console lacks it did not run
/// the floor (a kernel that stopped early is not a floor).
pub const MARKER: &str = "gsi-floor: /init started";

/// The gcc command line, without the output path.
fn gcc_args(source: &Path) -> Vec<String> {
    vec![
        "-static".into(),
        "-nostdlib".into(),
        "-Os".into(),
        "-fno-stack-protector".into(),
        "-fno-asynchronous-unwind-tables".into(),
        "-Wl,--build-id=none".into(),
        "-s".into(),
        "-Wall".into(),
        "-Werror".into(),
        // The C string "\n" ends the line; gcc reads the escape.
        format!("-DDONE_LINE=\"{}\\n\"", done_line()),
        format!("-DEXIT_PORT={:#x}", gsi_plan::DEBUG_EXIT_PORT),
        source.display().to_string(),
    ]
}

/// Writes (once, named by the hash of everything that makes it) the
/// floor initramfs under `dir` and returns its path. `tables` is the
/// topology's synthetic ACPI tables cpio (empty for QEMU's own): it goes
/// first, as in the suite's initramfs, so the floor boots the same shape.
pub fn initramfs(dir: &Path, tables: &[u8]) -> Result<PathBuf> {
    let key = crate::sha256_hex(
        format!(
            "{SOURCE}\0{:?}\0{}",
            gcc_args(Path::new("floor.c")),
            crate::sha256_hex(tables)
        )
        .as_bytes(),
    );
    let path = dir.join(format!("floor-{}.cpio", &key[..16]));
    if path.exists() {
        return Ok(path);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let scratch = tempfile::tempdir_in(dir).context("creating a scratch directory")?;
    let source = scratch.path().join("floor.c");
    std::fs::write(&source, SOURCE)?;
    let binary = scratch.path().join("init");
    crate::sys::process::Cmd::new("gcc")
        .args(gcc_args(&source))
        .arg("-o")
        .arg(&binary)
        .run()
        .context("building the floor /init (xtask/src/cli/bench/floor.c)")?;
    let init = std::fs::read(&binary)?;
    let mut a = Archive::new();
    a.dir("dev");
    a.char_dev("dev/console", 0o600, 5, 1);
    a.file("init", 0o755, &init);
    crate::write_atomic(&path, &[tables, &a.finish()].concat())?;
    Ok(path)
}

/// Whether a floor boot's console shows the floor ran to its end.
pub fn ran(console: &str) -> bool {
    let done = done_line();
    console
        .lines()
        .skip_while(|l| !l.contains(MARKER))
        .any(|l| l.trim_end() == done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_floor_ran_only_when_its_marker_comes_before_done() {
        let done = done_line();
        assert!(ran(&format!(
            "[    0.9] Run /init as init process\n{MARKER}; ending the machine\n{done}\n"
        )));
        assert!(!ran(&format!("{done}\n{MARKER}\n")));
        assert!(!ran(
            "[    0.5] Kernel panic - not syncing: No working init found\n"
        ));
    }

    #[test]
    fn the_floor_initramfs_is_built_once_and_holds_a_static_init() {
        let dir = tempfile::tempdir().unwrap();
        let path = initramfs(dir.path(), &[]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let at = bytes
            .windows(4)
            .position(|w| w == b"\x7fELF")
            .expect("an ELF in the archive");
        assert_eq!(bytes[at + 4], 2, "a 64-bit ELF");
        let again = initramfs(dir.path(), &[]).unwrap();
        assert_eq!(path, again);
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(files.len(), 1, "no scratch left beside the archive");
    }

    #[test]
    fn a_synthetic_shapes_floor_starts_with_its_tables() {
        let dir = tempfile::tempdir().unwrap();
        let mut tables = Archive::new();
        tables.file("kernel/firmware/acpi/dsdt.aml", 0o644, b"DSDT");
        let tables = tables.finish();
        let path = initramfs(dir.path(), &tables).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.starts_with(&tables), "the tables cpio comes first");
        assert!(bytes.windows(4).any(|w| w == b"\x7fELF"));
        // Another shape's floor is another file; QEMU's own tables, a third.
        assert_ne!(path, initramfs(dir.path(), &[]).unwrap());
    }

    #[test]
    fn the_source_takes_the_shared_constants_from_the_command_line() {
        let args = gcc_args(Path::new("floor.c"));
        assert!(args.contains(&"-DEXIT_PORT=0xf4".to_string()), "{args:?}");
        assert!(
            args.contains(&"-DDONE_LINE=\"@@GSI-DONE 0\\n\"".to_string()),
            "{args:?}"
        );
        assert!(SOURCE.contains("DONE_LINE") && SOURCE.contains("EXIT_PORT"));
    }
}
