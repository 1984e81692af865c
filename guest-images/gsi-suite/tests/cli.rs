//! The binary end to end on fake trees: protocol lines and exit codes.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Output};

fn suite(plan: &str, root: &Path) -> Output {
    suite_with(plan, root, &[])
}

fn suite_with(plan: &str, root: &Path, extra: &[&str]) -> Output {
    let plan_path = root.join("plan.toml");
    fs::write(&plan_path, plan).unwrap();
    Command::new(env!("CARGO_BIN_EXE_gsi-suite"))
        .args(["--test-threads", "1"])
        .args(extra)
        .env("GSI_PLAN", &plan_path)
        .env("GSI_SYSFS_ROOT", root.join("sys"))
        .env("GSI_KMSG", root.join("kmsg"))
        .output()
        .unwrap()
}

fn protocol_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| line.starts_with("@@GSI-"))
        .map(str::to_owned)
        .collect()
}

const HEADER: &str = "revision = 'v5'\ntopology = 'q35'\nattribute = 'present'\nacpi_irq = true\n\
    policy = { before_enable = 'enodata', link_undecided = 'enodata', after_disable = 'gsi', after_unbind = 'gsi', \
    no_pin = 'absent', no_acpi_irq = 'absent', no_route = 'enxio', no_route_before_enable = 'enodata' }\n";

#[test]
fn zero_trials_fail() {
    let dir = tempfile::tempdir().unwrap();
    let output = suite(&format!("{HEADER}devices = []\n"), dir.path());
    assert_eq!(output.status.code(), Some(101));
    assert_eq!(
        protocol_lines(&output),
        [
            "@@GSI-BEGIN v1 trials=0",
            "@@GSI-END passed=0 failed=0 ignored=0"
        ]
    );
}

#[test]
fn a_filter_that_leaves_nothing_fails() {
    let dir = tempfile::tempdir().unwrap();
    let plan = format!("{HEADER}[[devices]]\nname = 'x'\nbdf = '0000:00:09.0'\npin = 0\n");
    let output = suite_with(&plan, dir.path(), &["--exact", "x::present"]);
    assert_eq!(output.status.code(), Some(101), "one failing trial");
    assert_eq!(protocol_lines(&output)[0], "@@GSI-BEGIN v1 trials=1");
    let output = suite_with(&plan, dir.path(), &["nothing-matches"]);
    assert_eq!(output.status.code(), Some(101), "zero trials");
    assert_eq!(protocol_lines(&output)[0], "@@GSI-BEGIN v1 trials=0");
}

#[test]
fn an_unreadable_plan_is_not_a_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let output = suite("revision = ", dir.path());
    assert_eq!(output.status.code(), Some(2));
    let lines = protocol_lines(&output);
    assert_eq!(lines.len(), 1);
    assert!(lines[0].starts_with("@@GSI-INIT-ERROR gsi-suite: cannot load the plan"));
}

#[test]
fn every_trial_prints_one_line_and_end_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let dev = dir.path().join("sys/bus/pci/devices/0000:00:03.0");
    fs::create_dir_all(&dev).unwrap();
    let mut config = vec![0u8; 64];
    config[0x3d] = 1;
    fs::write(dev.join("config"), config).unwrap();
    fs::write(dev.join("irq"), "23\n").unwrap();
    fs::write(dev.join("gsi"), "0\n").unwrap();
    symlink("../../../bus/pci/drivers/virtio-pci", dev.join("driver")).unwrap();
    let irq = dir.path().join("sys/kernel/irq/23");
    fs::create_dir_all(&irq).unwrap();
    fs::write(irq.join("chip_name"), "PCI-MSIX-0000:00:03.0\n").unwrap();

    let plan = format!(
        "{HEADER}irq_is_gsi = true\n[[devices]]\nname = 'rng'\nbdf = '0000:00:03.0'\npin = 1\n\
         driver = 'virtio-pci'\ngsi = 23\nroute = 'ICH9 slot 0x03 INTA -> PIRQH'\n"
    );
    let output = suite(&plan, dir.path());
    assert_eq!(output.status.code(), Some(101), "{output:?}");
    let lines = protocol_lines(&output);
    let sys = dir.path().join("sys");
    let sys = sys.display();
    assert_eq!(
        lines,
        [
            "@@GSI-BEGIN v1 trials=7".to_owned(),
            // The differential dump: every other readable file of the device.
            "@@GSI-SYSFS 0000:00:03.0 irq 23".to_owned(),
            format!("@@GSI-TRIAL passed rng::driver {sys}/bus/pci/devices/0000:00:03.0/driver -> virtio-pci"),
            format!(
                "@@GSI-TRIAL failed rng::gsi-bound {sys}/bus/pci/devices/0000:00:03.0/gsi = 0 at boot, \
                 expected 23 (ICH9 slot 0x03 INTA -> PIRQH) (driver bound)"
            ),
            "@@GSI-TRIAL ignored rng::irq-oracle irq 23 is on chip PCI-MSIX-0000:00:03.0 (MSI/MSI-X): no INTx GSI behind it".to_owned(),
            "@@GSI-TRIAL ignored rng::irq-vs-gsi irq 23 is on chip PCI-MSIX-0000:00:03.0 (MSI/MSI-X): no INTx GSI behind it".to_owned(),
            format!("@@GSI-TRIAL passed rng::pin {sys}/bus/pci/devices/0000:00:03.0/config[0x3d] = 1 (INTA)"),
            format!("@@GSI-TRIAL passed rng::present {sys}/bus/pci/devices/0000:00:03.0 exists"),
            format!(
                "@@GSI-TRIAL passed rng::sysfs-after-reads 1 dumped file of \
                 {sys}/bus/pci/devices/0000:00:03.0 read the same after the gsi reads"
            ),
            // The same files again, after the gsi reads, before END.
            "@@GSI-SYSFS-AFTER 0000:00:03.0 irq 23".to_owned(),
            "@@GSI-END passed=4 failed=1 ignored=2".to_owned(),
        ]
    );
}
