//! `<device>::gsi-concurrent`: `gsi` read from one thread per CPU while
//! the main thread takes the device through its driver's bind and unbind
//! and `enable`'s 1 and 0, several times over. Every value any thread
//! reads must be one the plan allows in some state the device passes
//! through: the GSI while bound or enabled, and after unbind or disable
//! what `[policy]` says (`after_unbind`, `after_disable`). A torn, stale
//! or zero value read in the middle of a state change, or a lock the read
//! takes in the wrong order (the debug kernel's lockdep sees that on the
//! console), is what this trial is for.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::*;

/// Rounds of bind, unbind, enable, disable.
pub const CYCLES: usize = 8;

/// What the main thread does; readers tag each read with the step in
/// flight (or just done) when they read.
const STEPS: [&str; 4] = ["bind", "unbind", "enable", "disable"];

/// One outcome seen by the readers: the step it was read during, the
/// read, and how many times.
type Seen = Vec<(usize, AttrRead, usize)>;

/// Whether a read is one the plan allows, and the rule in words.
type Allowed = (Box<dyn Fn(&AttrRead) -> bool>, String);

fn add(seen: &mut Seen, step: usize, read: AttrRead, count: usize) {
    match seen.iter_mut().find(|(s, r, _)| *s == step && *r == read) {
        Some((_, _, n)) => *n += count,
        None => seen.push((step, read, count)),
    }
}

/// The CPUs online, from `/sys/devices/system/cpu/online` (`0-1`, `0`).
pub fn online_cpus(system: &System) -> Result<u32, String> {
    let path = system.sys_path("devices/system/cpu/online");
    let text = read_text(&path)?;
    let mut count = 0;
    for part in text.split(',') {
        let bad = || format!("{} = {text:?}, not a CPU list", path.display());
        count += match part.split_once('-') {
            Some((a, b)) => {
                let a: u32 = a.parse().map_err(|_| bad())?;
                let b: u32 = b.parse().map_err(|_| bad())?;
                b.checked_sub(a).ok_or_else(bad)? + 1
            }
            None => part.parse::<u32>().map(|_| 1).map_err(|_| bad())?,
        };
    }
    Ok(count)
}

impl Suite {
    pub(super) fn gsi_concurrent(&self, device: &Device) -> Result<Verdict, String> {
        let online = online_cpus(&self.system)?;
        if online < self.plan.cpus {
            return Err(format!(
                "{online} CPU(s) online, the plan boots {}: the readers would not run at once",
                self.plan.cpus
            ));
        }
        let dir = self.device_dir(device)?;
        let Some(driver) = device.driver.as_deref() else {
            return Err("the plan names no driver to bind and unbind".into());
        };
        let driver_dir = self.system.pci_driver(driver);
        let path = dir.join("gsi");
        let step = AtomicUsize::new(0);
        let reads = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let readers = self.plan.cpus.max(2) as usize;
        let (cycled, seen) = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..readers)
                .map(|_| {
                    scope.spawn(|| {
                        let mut seen = Seen::new();
                        while !stop.load(Ordering::Acquire) {
                            let s = step.load(Ordering::Acquire);
                            add(&mut seen, s, AttrRead::read(&path), 1);
                            reads.fetch_add(1, Ordering::AcqRel);
                        }
                        seen
                    })
                })
                .collect();
            let cycled = self.cycle(device, &dir, &driver_dir, &step, &reads, readers);
            stop.store(true, Ordering::Release);
            let mut all = Seen::new();
            for handle in handles {
                for (s, read, n) in handle.join().unwrap_or_default() {
                    add(&mut all, s, read, n);
                }
            }
            (cycled, all)
        });
        cycled?;
        let total: usize = seen.iter().map(|(_, _, n)| n).sum();
        let (allowed, allowed_text) = self.allowed(device);
        let bad: Vec<String> = seen
            .iter()
            .filter(|(_, read, _)| !allowed(read))
            .map(|(s, read, n)| format!("{} {n} time(s) during {}", read.short(), STEPS[*s]))
            .collect();
        let what = format!(
            "{readers} threads read {} {total} times on {online} CPUs over {CYCLES} rounds of \
             bind, unbind, enable, disable ({driver})",
            path.display()
        );
        let mut values: Vec<String> = seen.iter().map(|(_, read, _)| read.short()).collect();
        values.sort();
        values.dedup();
        Ok(if total == 0 {
            Verdict::Failed(format!("{what}: no read completed"))
        } else if bad.is_empty() {
            Verdict::Passed(format!(
                "{what}: read {}; allowed: {allowed_text}",
                values.join(", ")
            ))
        } else {
            Verdict::Failed(format!(
                "{what}: read {}; allowed only {allowed_text}{}",
                bad.join(", "),
                route(device)
            ))
        })
    }

    /// What a read may give in the states the trial passes through.
    fn allowed(&self, device: &Device) -> Allowed {
        if self.plan.attribute == Attribute::Absent {
            return (
                Box::new(|r| *r == AttrRead::Absent),
                format!("absent ({} adds no gsi attribute)", self.plan.revision),
            );
        }
        let policy = self.plan.policy;
        match Expected::of(&self.plan, device) {
            Expected::Gsi(want) => {
                let answers = [policy.after_unbind, policy.after_disable];
                let text = format!(
                    "{want} (bound, enabled; after_unbind = {}, after_disable = {})",
                    policy.after_unbind.describe(),
                    policy.after_disable.describe()
                );
                (
                    Box::new(move |r| match r {
                        AttrRead::Number(n) => *n == want,
                        _ => answers.iter().any(|a| answer_matches(*a, r)),
                    }),
                    text,
                )
            }
            other => {
                let (why, key, answer) = other
                    .without_gsi(&policy)
                    .expect("a device without a GSI has a policy answer");
                // The earlier phases enabled the device, but a no-route pin
                // may still be read before its first enable by a racing
                // thread: both answers are allowed.
                let before = policy.no_route_before_enable;
                let no_route = matches!(other, Expected::NoRoute);
                (
                    Box::new(move |r| {
                        answer_matches(answer, r) || (no_route && answer_matches(before, r))
                    }),
                    format!("{} ({why}; {key})", answer.describe()),
                )
            }
        }
    }

    /// The main thread's part: from whatever state the earlier phases
    /// left (normally unbound by `gsi-after-unbind`), [`CYCLES`] rounds.
    /// After each step it waits until every reader has read a few times
    /// (bounded: a reader stuck in the kernel fails the trial instead of
    /// hanging the suite).
    fn cycle(
        &self,
        device: &Device,
        dir: &Path,
        driver_dir: &Path,
        step: &AtomicUsize,
        reads: &AtomicUsize,
        readers: usize,
    ) -> Result<(), String> {
        let settle = |s: usize| -> Result<(), String> {
            let from = reads.load(Ordering::Acquire);
            let started = Instant::now();
            while reads.load(Ordering::Acquire) < from + 4 * readers {
                if started.elapsed() > Duration::from_secs(10) {
                    return Err(format!(
                        "the readers made {} reads in 10 s after {}: stuck in the kernel?",
                        reads.load(Ordering::Acquire) - from,
                        STEPS[s]
                    ));
                }
                std::thread::yield_now();
            }
            Ok(())
        };
        if bound_driver(&dir.join("driver"))?.is_some() {
            let unbind = driver_dir.join("unbind");
            write_said(&unbind, &device.bdf)?;
        }
        for _ in 0..CYCLES {
            for (s, (file, text)) in [
                (driver_dir.join("bind"), device.bdf.as_str()),
                (driver_dir.join("unbind"), device.bdf.as_str()),
                (dir.join("enable"), "1"),
                (dir.join("enable"), "0"),
            ]
            .iter()
            .enumerate()
            {
                step.store(s, Ordering::Release);
                write_file(file, text).map_err(|err| {
                    format!(
                        "{}: writing {text} to {} failed: {err}",
                        STEPS[s],
                        file.display()
                    )
                })?;
                settle(s)?;
            }
        }
        Ok(())
    }
}

/// Whether a read is what a non-GSI policy answer says.
fn answer_matches(answer: Answer, r: &AttrRead) -> bool {
    match (answer, r) {
        (Answer::Absent, AttrRead::Absent) => true,
        (Answer::Eagain, AttrRead::Error(e)) => e.is(libc::EAGAIN),
        (Answer::Enodata, AttrRead::Error(e)) => e.is(libc::ENODATA),
        (Answer::Enxio, AttrRead::Error(e)) => e.is(libc::ENXIO),
        _ => false,
    }
}
