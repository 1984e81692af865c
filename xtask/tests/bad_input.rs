//! Bad input through the real command line, against temporary copies of
//! configs/: every broken file is named with its line and key, a missing
//! host tool names its Debian package and the install command, and none
//! of it starts any work (the scratch work directory stays empty).

use std::path::{Path, PathBuf};
use std::process::Command;

struct Scratch {
    _dir: tempfile::TempDir,
    configs: PathBuf,
    work: PathBuf,
}

fn scratch() -> Scratch {
    let dir = tempfile::tempdir().unwrap();
    let configs = dir.path().join("configs");
    xtask::test_support::copy_dir(&xtask::project_root().join("configs"), &configs);
    let work = dir.path().join("work");
    Scratch {
        _dir: dir,
        configs,
        work,
    }
}

impl Scratch {
    fn edit(&self, file: &str, change: impl FnOnce(String) -> String) -> PathBuf {
        let path = self.configs.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let changed = change(text.clone());
        assert_ne!(text, changed, "the edit of {file} changed nothing");
        std::fs::write(&path, changed).unwrap();
        path
    }

    /// Runs `cargo xtask <args>` on these configs; returns (exit code, output).
    fn xtask(&self, args: &[&str], path_env: Option<&Path>) -> (i32, String) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
        cmd.args(args)
            .env("GSI_CONFIG_DIR", &self.configs)
            .env("GSI_WORK_DIR", &self.work)
            .env("GSI_ACCEL", "tcg");
        if let Some(path) = path_env {
            cmd.env("PATH", path);
        }
        let out = cmd.output().expect("running xtask");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    }

    /// The run failed and did nothing: no pin, no tree, no kernel.
    fn assert_refused(&self, code: i32, text: &str, wants: &[&str]) {
        assert_eq!(code, 1, "{text}");
        for want in wants {
            assert!(text.contains(want), "{want:?} missing from:\n{text}");
        }
        for dir in ["pin", "trees", "kernels", "downloads"] {
            assert!(
                !self.work.join(dir).exists(),
                "work started despite bad input: {dir}/ exists\n{text}"
            );
        }
    }
}

const RUN: &[&str] = &["test-matrix", "-r", "v4", "-t", "q35", "--no-install"];

#[test]
fn malformed_toml_names_file_and_line_in_every_kind() {
    let cases = [
        ("matrix.toml", "[profiles.smoke]", "[profiles.smoke"),
        ("topologies/q35.toml", "pin = 0", "pin = = 0"),
        ("kernel.toml", "kind = \"debian\"", "kind = \"debian"),
    ];
    for (file, from, to) in cases {
        let s = scratch();
        let path = s.edit(file, |t| t.replacen(from, to, 1));
        let broken_line = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .position(|l| l.contains(to))
            .unwrap()
            + 1;
        let (code, text) = s.xtask(RUN, None);
        s.assert_refused(
            code,
            &text,
            &[
                &path.display().to_string(),
                &format!("line {broken_line}"),
                "fix the file and run again",
            ],
        );
    }
}

#[test]
fn unknown_keys_are_named_with_file_and_line_in_every_kind() {
    let cases = [
        // (file, text to find, replacement, the unknown key)
        (
            "matrix.toml",
            "default_profile = \"full\"",
            "default_profile = \"full\"\ndefault_profiel = \"smoke\"",
            "default_profiel",
        ),
        (
            "topologies/q35.toml",
            "irq_is_gsi = true",
            "irq_is_gsi = true\ntimeout = 5",
            "timeout",
        ),
        (
            "kernel.toml",
            "base = \"tinyconfig\"",
            "base = \"tinyconfig\"\nfragment = \"x.config\"",
            "fragment",
        ),
    ];
    for (file, from, to, key) in cases {
        let s = scratch();
        let path = s.edit(file, |t| t.replacen(from, to, 1));
        let key_line = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .position(|l| l.starts_with(&format!("{key} =")))
            .unwrap()
            + 1;
        let (code, text) = s.xtask(RUN, None);
        s.assert_refused(
            code,
            &text,
            &[
                &path.display().to_string(),
                &format!("line {key_line}"),
                &format!("unknown field `{key}`"),
            ],
        );
    }
}

#[test]
fn an_unknown_key_inside_the_pin_source_is_named() {
    let s = scratch();
    let path = s.edit("kernel.toml", |t| t.replacen("sha256 =", "sha265 =", 1));
    let (code, text) = s.xtask(RUN, None);
    s.assert_refused(code, &text, &[&path.display().to_string(), "sha265"]);
}

#[test]
fn a_missing_qemu_names_its_package_and_the_install_command() {
    // A PATH holding every tool the run needs except QEMU.
    let s = scratch();
    let bin = s.work.with_file_name("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let tools = [xtask::sys::tools::BUILD, xtask::sys::tools::BOOT].concat();
    for tool in &tools {
        if tool.probe.starts_with('/') || tool.probe.starts_with("qemu-") {
            continue;
        }
        let found = xtask::sys::tools::find_on_path(tool.probe)
            .unwrap_or_else(|| panic!("{} is not installed here", tool.probe));
        std::os::unix::fs::symlink(found, bin.join(tool.probe)).unwrap();
    }
    let (code, text) = s.xtask(RUN, Some(&bin));
    s.assert_refused(
        code,
        &text,
        &[
            "missing host tools from Debian packages: qemu-system-x86\n",
            "apt-get update && apt-get install -y --no-install-recommends qemu-system-x86",
        ],
    );
}

#[test]
fn a_profile_naming_an_unknown_topology_lists_the_known_ones() {
    let s = scratch();
    s.edit("matrix.toml", |t| {
        t.replacen(
            "topologies = [\"q35\", \"microvm\"]",
            "topologies = [\"q35\", \"sparc64\"]",
            1,
        )
    });
    let (code, text) = s.xtask(&["test-matrix", "-p", "smoke", "--no-install"], None);
    s.assert_refused(
        code,
        &text,
        &["unknown topology \"sparc64\"", "microvm", "q35-bridges"],
    );
}
