//! The sysfs dump for the differential check: every other readable
//! regular file directly in each plan device's directory, read once before
//! anything reads `gsi` and once more after every `gsi` read (before any
//! trial changes the machine: `gsi-after-enable` enables devices). The
//! suite requires the two to be equal (`sysfs-after-reads`), and the host
//! requires each to be byte-identical between `baseline` and each patched
//! revision on the same topology.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;

use gsi_plan::{protocol, Device, Plan};

use crate::system::{OsError, System};

/// Files whose value varies by design, whose read has side effects, or
/// that the patches under test add (`gsi`).
fn excluded(name: &str) -> bool {
    const NAMES: [&str; 7] = [
        "config", "rom", "vpd", "remove", "rescan", "gsi", "msi_irqs",
    ];
    if NAMES.contains(&name) || name.starts_with("reset") {
        return true;
    }
    // resource<N> and resource<N>_wc are BAR mappings; `resource` itself
    // (the text table) is compared.
    name.strip_prefix("resource").is_some_and(|rest| {
        let digits = rest.strip_suffix("_wc").unwrap_or(rest);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    })
}

/// `(bdf, file) -> value`, sorted.
pub type Dump = BTreeMap<(String, String), String>;

/// Every plan device's files ([`dump_device`]).
pub fn dump(plan: &Plan, system: &System) -> Dump {
    plan.devices
        .iter()
        .flat_map(|device| dump_device(device, system))
        .collect()
}

/// One device's files. A value is the file's text without its trailing
/// newlines, cut at [`protocol::MAX_MESSAGE`] bytes; a read that fails is
/// recorded as `!<errno>` so that a change in it shows too.
pub fn dump_device(device: &Device, system: &System) -> Dump {
    let mut out = BTreeMap::new();
    let Ok(entries) = fs::read_dir(system.device(&device.bdf)) else {
        return out;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        // symlink_metadata: `driver`, `subsystem`, ... are links.
        let Ok(meta) = entry.path().symlink_metadata() else {
            continue;
        };
        if !meta.is_file() || meta.permissions().mode() & 0o444 == 0 || excluded(&name) {
            continue;
        }
        let mut bytes = Vec::new();
        let value = match File::open(entry.path())
            .and_then(|f| f.take(protocol::MAX_MESSAGE as u64).read_to_end(&mut bytes))
        {
            Ok(_) => String::from_utf8_lossy(&bytes)
                .trim_end_matches('\n')
                .to_owned(),
            Err(err) => format!("!{}", OsError::from_io(&err)),
        };
        out.insert((device.bdf.clone(), name), value);
    }
    out
}

/// `<tag> <bdf> <file> <escaped value>`, one per entry, in order; `tag`
/// is [`protocol::SYSFS`] or [`protocol::SYSFS_AFTER`].
pub fn lines(tag: &str, dump: &Dump) -> Vec<String> {
    dump.iter()
        .map(|((bdf, file), value)| format!("{tag} {bdf} {file} {}", protocol::escape(value)))
        .collect()
}

/// `file: before -> after` for each file that differs or is on one side
/// only (`(absent)`), in order.
pub fn differences(before: &Dump, after: &Dump) -> Vec<String> {
    let show = |v: Option<&String>| v.map_or_else(|| "(absent)".to_owned(), |v| format!("{v:?}"));
    before
        .keys()
        .chain(after.keys().filter(|k| !before.contains_key(*k)))
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| format!("{}: {} -> {}", k.1, show(before.get(k)), show(after.get(k))))
        .collect()
}
