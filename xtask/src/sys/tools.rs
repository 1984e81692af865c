//! Host tools the pipeline needs, the Debian package each comes from, and
//! installing the missing ones (as root) or printing the exact command.

use anyhow::{bail, Context, Result};
use std::path::Path;

/// Something on the host, found by a binary on PATH or a file.
#[derive(Debug, Clone, Copy)]
pub struct Tool {
    /// What is looked for: a program name, or an absolute path.
    pub probe: &'static str,
    /// The Debian package that provides it.
    pub package: &'static str,
}

const fn tool(probe: &'static str, package: &'static str) -> Tool {
    Tool { probe, package }
}

/// Building a kernel from the pin.
pub const BUILD: &[Tool] = &[
    tool("make", "make"),
    tool("gcc", "gcc"),
    tool("flex", "flex"),
    tool("bison", "bison"),
    tool("bc", "bc"),
    tool("perl", "perl"),
    tool("/usr/include/libelf.h", "libelf-dev"),
    tool("/usr/include/openssl/ssl.h", "libssl-dev"),
    tool("ccache", "ccache"),
    tool("git", "git"),
    tool("xz", "xz-utils"),
    // boot.config compresses bzImage with LZ4 (CONFIG_KERNEL_LZ4): without
    // the tool every build fails at its last step, vmlinux.bin.lz4.
    tool("lz4", "lz4"),
    tool("dpkg-deb", "dpkg"),
    tool("apt-get", "apt"),
    tool("cpio", "cpio"),
];

/// Booting the guests (iasl compiles the synthetic ACPI tables of a
/// topology with `[acpi]`).
pub const BOOT: &[Tool] = &[
    tool("qemu-system-x86_64", "qemu-system-x86"),
    tool("iasl", "acpica-tools"),
];

/// The test suite: the JUnit report is validated against its schema.
pub const TEST: &[Tool] = &[tool("xmllint", "libxml2-utils")];

/// `bench --vng`: virtme-ng boots the host's own root file system, and its
/// guest init finds the script I/O ports (/dev/virtio-ports/virtme.*) only
/// through the host's udevd; without it `vng --exec` exits 255.
pub const VNG: &[Tool] = &[
    tool("python3", "python3"),
    tool("/usr/lib/systemd/systemd-udevd", "udev"),
];

/// `boot --shell`: a static busybox for the guest.
pub const SHELL: &[Tool] = &[tool("/bin/busybox", "busybox-static")];

pub fn is_present(tool: &Tool) -> bool {
    if tool.probe.starts_with('/') {
        return Path::new(tool.probe).exists();
    }
    find_on_path(tool.probe).is_some()
}

pub fn find_on_path(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The Debian packages behind the missing tools, deduplicated, in order.
pub fn missing_packages(tools: &[Tool]) -> Vec<&'static str> {
    let mut packages: Vec<&'static str> = Vec::new();
    for tool in tools.iter().filter(|t| !is_present(t)) {
        if !packages.contains(&tool.package) {
            packages.push(tool.package);
        }
    }
    packages
}

/// The command a user should run for `packages`.
pub fn install_command(packages: &[&str]) -> String {
    format!(
        "apt-get update && apt-get install -y --no-install-recommends {}",
        packages.join(" ")
    )
}

/// Whether this process runs as root (the effective uid in
/// /proc/self/status): only root installs packages or refreshes apt's lists.
pub fn is_root() -> bool {
    // SAFETY-free way: /proc/self/status carries the effective uid.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// Makes sure every tool is there: installs the missing packages when
/// running as root (and `install` is true), otherwise fails with the exact
/// command to run.
pub fn ensure(
    tools: &[Tool],
    install: bool,
    reporter: &crate::sys::progress::Reporter,
) -> Result<()> {
    let missing = missing_packages(tools);
    if missing.is_empty() {
        return Ok(());
    }
    let command = install_command(&missing);
    if !install || !is_root() {
        bail!(
            "missing host tools from Debian packages: {}\nrun as root: {command}",
            missing.join(" ")
        );
    }
    reporter.note(format!(
        "installing missing packages: {}",
        missing.join(" ")
    ));
    let apt = |args: &[&str]| {
        crate::sys::process::Cmd::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout_null()
            .run()
    };
    apt(&["update", "-q"])
        .context("apt-get update failed; check the package sources and run again")?;
    apt(&[
        &["install", "-y", "-q", "--no-install-recommends"][..],
        &missing,
    ]
    .concat())
    .with_context(|| {
        format!(
            "installing {}; run `{command}` by hand to see why",
            missing.join(" ")
        )
    })?;
    let still = missing_packages(tools);
    if !still.is_empty() {
        bail!("still missing after install: {}", still.join(" "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tools_name_their_package_once() {
        let tools = [
            tool("/nonexistent/a", "pkg-a"),
            tool("/nonexistent/b", "pkg-a"),
            tool("definitely-not-a-program-xyz", "pkg-b"),
            tool("/", "present"),
        ];
        assert_eq!(missing_packages(&tools), vec!["pkg-a", "pkg-b"]);
        assert_eq!(
            install_command(&["pkg-a", "pkg-b"]),
            "apt-get update && apt-get install -y --no-install-recommends pkg-a pkg-b"
        );
    }

    #[test]
    fn ensure_without_install_names_the_packages_and_the_command() {
        let tools = [
            tool("gsi-no-such-qemu", "qemu-system-x86"),
            tool("/nonexistent/libelf.h", "libelf-dev"),
            tool("/", "present"),
        ];
        let err = ensure(&tools, false, &crate::sys::progress::Reporter::silent())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("qemu-system-x86 libelf-dev")
                && err.contains(
                    "apt-get update && apt-get install -y --no-install-recommends \
                     qemu-system-x86 libelf-dev"
                )
                && !err.contains("present"),
            "{err}"
        );
        assert!(ensure(
            &tools[2..],
            false,
            &crate::sys::progress::Reporter::silent()
        )
        .is_ok());
    }
}
