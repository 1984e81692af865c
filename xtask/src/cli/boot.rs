//! `cargo xtask boot <topology>`: one boot with the console on this
//! terminal; `--shell` gives a busybox shell in the guest instead of the
//! suite (run `/bin/gsi-suite` there by hand).

use crate::pipeline::{boot, build, guest, pin, qemu};
use crate::sys::progress::Progress;
use crate::sys::tools;
use anyhow::{Context, Result};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Topology name (a file in configs/topologies/).
    pub topology: String,
    /// Revision whose kernel to boot (or NAME=/path/to/linux:BASE..BRANCH).
    /// Default: the newest, the last revision of configs/matrix.toml's
    /// default profile (the one being developed).
    #[arg(long, short)]
    pub revision: Option<String>,
    /// Start a busybox shell in the guest instead of the suite.
    #[arg(long)]
    pub shell: bool,
}

pub fn run(args: Args) -> Result<()> {
    let progress = Progress::start();
    let reporter = progress.reporter();
    let prepared = (|| -> Result<Vec<String>> {
        let mut needed = [tools::BUILD, tools::BOOT].concat();
        if args.shell {
            needed.extend_from_slice(tools::SHELL);
        }
        tools::ensure(&needed, true, &reporter)?;
        let revision = match &args.revision {
            Some(revision) => revision.clone(),
            None => crate::pipeline::selection::newest_revision()?,
        };
        let selection = crate::pipeline::selection::select(
            None,
            std::slice::from_ref(&revision),
            std::slice::from_ref(&args.topology),
        )?;
        let (rev, topology) = (&selection.revisions[0], &selection.topologies[0]);
        let pin = pin::resolve(&crate::config::configs_dir().join("kernel.toml"), &reporter)?;
        // Under a hypervisor: the pinned Xen, and the dom0 kernel.
        let xen = topology
            .spec
            .hypervisor
            .as_ref()
            .map(|_| crate::pipeline::xen::resolve(&crate::config::xen::path(), &reporter))
            .transpose()?;
        let pin = match &xen {
            Some(x) => pin.for_dom0(x),
            None => pin,
        }
        .for_topology(topology)?;
        let b = build::build(&pin, rev, crate::pipeline::selection::cores(), &reporter)?;
        let binaries = guest::build_binaries(&reporter, args.shell)?;
        let plan = crate::model::plan::of(
            topology,
            &rev.name,
            selection.matrix.attribute(&rev.name),
            selection.matrix.policy(),
        );
        let (initrd, _) = guest::write_initramfs(&binaries, &plan, topology)?;
        let accel = boot::detect_accel(&b.bzimage, &reporter)?;
        let extra = if args.shell { "gsi.shell" } else { "" };
        let hypervisor = xen.as_ref().map(|x| x.elf.as_path());
        Ok(qemu::command(
            topology,
            accel,
            &boot::kernel_image(&b.bzimage, hypervisor)?,
            &initrd,
            extra,
            hypervisor,
        ))
    })();
    progress.finish();
    let qemu_args = prepared?;
    println!(
        "$ {} {}",
        qemu::QEMU,
        crate::sys::process::shell_words(&qemu_args)
    );
    if args.shell {
        println!("(busybox shell in the guest; `poweroff -f` or Ctrl-A X ends it)");
    }
    let mut all = qemu_args;
    // The monitor mux gives Ctrl-A X to quit on an interactive terminal.
    if let Some(pos) = all.iter().position(|a| a == "stdio") {
        all[pos] = "mon:stdio".into();
    }
    let status = crate::sys::process::Cmd::new(qemu::QEMU)
        .args(&all)
        .interactive()
        .status()
        .context("starting qemu-system-x86_64")?;
    println!("\nQEMU exited with {status}");
    Ok(())
}
