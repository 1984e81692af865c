//! The suite as a binary of its own, for running it on a host against a
//! fake sysfs tree (`GSI_SYSFS_ROOT`). In the guest the same code is
//! reached through `/bin/gsi-suite`, a link to `/init`.

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(gsi_suite::cli::run())
}
