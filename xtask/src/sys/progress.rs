//! Progress as typed events, drawn by one consumer thread.
//!
//! The pipeline never prints: it sends [`Event`]s through a [`Reporter`].
//! On a terminal the consumer keeps one live status line; when stdout is
//! not a terminal or `CI` is set it prints plain, timestamped lines and
//! throttles the chatty ones, so CI logs stay readable.

use crate::report::Verdict;
use std::io::{IsTerminal, Write};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub enum Event {
    /// A new stage of the pipeline (`pin`, `guest`, `build`, `boot`).
    Stage(String),
    /// A one-off fact worth a line (`using TCG: KVM probe failed`).
    Note(String),
    /// Something the user should look at but that does not stop the run.
    Warn(String),
    BuildStart {
        revision: String,
    },
    /// One line of `make` output (only counted and shown as the status).
    BuildLine {
        revision: String,
        line: String,
    },
    BuildEnd {
        revision: String,
        /// Whether the kernel was built (false: the build failed).
        built: bool,
        secs: f64,
    },
    /// Sent by [`Progress::finish`]: clear the status line and stop, even
    /// while clones of the reporter are still alive.
    Finish,
    BootStart {
        revision: String,
        topology: String,
    },
    BootEnd {
        revision: String,
        topology: String,
        verdict: Verdict,
        secs: f64,
    },
    /// No boot: an identical earlier boot's result is reused.
    BootReused {
        revision: String,
        topology: String,
        verdict: Verdict,
        /// The log directory of the run that booted it.
        from: String,
    },
}

/// The sending half, cheap to clone into worker threads.
#[derive(Clone)]
pub struct Reporter {
    tx: Sender<Event>,
}

impl Reporter {
    pub fn send(&self, event: Event) {
        // The consumer only goes away at the very end; a lost progress line
        // is not worth failing a run for.
        let _ = self.tx.send(event);
    }

    pub fn note(&self, text: impl Into<String>) {
        self.send(Event::Note(text.into()));
    }

    pub fn stage(&self, text: impl Into<String>) {
        self.send(Event::Stage(text.into()));
    }

    /// A reporter whose events are handed to the caller (tests).
    pub fn collecting() -> (Reporter, Receiver<Event>) {
        let (tx, rx) = channel();
        (Reporter { tx }, rx)
    }

    /// A reporter whose events go nowhere (tests, library callers).
    pub fn silent() -> Reporter {
        let (tx, rx) = channel();
        std::thread::spawn(move || for _ in rx {});
        Reporter { tx }
    }
}

/// The consumer; [`Progress::finish`] flushes and joins it.
pub struct Progress {
    reporter: Reporter,
    handle: JoinHandle<()>,
}

impl Progress {
    pub fn start() -> Progress {
        let live = std::io::stdout().is_terminal() && std::env::var_os("CI").is_none();
        let (tx, rx) = channel();
        let handle = std::thread::spawn(move || draw(rx, live));
        Progress {
            reporter: Reporter { tx },
            handle,
        }
    }

    pub fn reporter(&self) -> Reporter {
        self.reporter.clone()
    }

    pub fn finish(self) {
        self.reporter.send(Event::Finish);
        let _ = self.handle.join();
    }
}

struct State {
    live: bool,
    start: Instant,
    status: String,
    objects: usize,
    last_plain: Instant,
    boots_done: usize,
    boots_started: usize,
}

fn draw(rx: Receiver<Event>, live: bool) {
    let mut st = State {
        live,
        start: Instant::now(),
        status: String::new(),
        objects: 0,
        last_plain: Instant::now(),
        boots_done: 0,
        boots_started: 0,
    };
    let stdout = std::io::stdout();
    for event in rx {
        let mut out = stdout.lock();
        let elapsed = st.start.elapsed().as_secs_f64();
        let line = match event {
            Event::Finish => break,
            Event::Stage(s) => Some(format!("== {s}")),
            Event::Note(s) => Some(s),
            Event::Warn(s) => Some(format!("warning: {s}")),
            Event::BuildStart { revision } => {
                st.objects = 0;
                st.status = format!("building {revision}");
                Some(format!("build {revision}: started"))
            }
            Event::BuildLine { revision, line } => {
                st.objects += 1;
                let shown: String = line.trim().chars().take(60).collect();
                st.status = format!("building {revision}: {} steps  {shown}", st.objects);
                if !st.live && st.last_plain.elapsed() > Duration::from_secs(30) {
                    st.last_plain = Instant::now();
                    Some(format!("build {revision}: {} steps so far", st.objects))
                } else {
                    None
                }
            }
            Event::BuildEnd {
                revision,
                built,
                secs,
            } => {
                st.status.clear();
                let outcome = if built { "built" } else { "FAILED" };
                Some(format!("build {revision}: {outcome} ({secs:.1} s)"))
            }
            Event::BootStart { revision, topology } => {
                st.boots_started += 1;
                st.status = format!(
                    "booting: {} done, {} running (latest {revision}/{topology})",
                    st.boots_done,
                    st.boots_started - st.boots_done
                );
                None
            }
            Event::BootEnd {
                revision,
                topology,
                verdict,
                secs,
            } => {
                st.boots_done += 1;
                st.status = format!(
                    "booting: {} done, {} running",
                    st.boots_done,
                    st.boots_started - st.boots_done
                );
                Some(format!(
                    "boot {revision}/{topology}: {} ({secs:.1} s)",
                    verdict.name()
                ))
            }
            Event::BootReused {
                revision,
                topology,
                verdict,
                from,
            } => {
                st.boots_started += 1;
                st.boots_done += 1;
                Some(format!(
                    "boot {revision}/{topology}: {} (reused from {from}; --rerun boots it)",
                    verdict.name()
                ))
            }
        };
        if st.live {
            let _ = write!(out, "\r\x1b[K");
        }
        if let Some(line) = line {
            let _ = writeln!(out, "[{elapsed:7.1}s] {line}");
        }
        if st.live && !st.status.is_empty() {
            let _ = write!(out, "[{elapsed:7.1}s] {}", st.status);
        }
        let _ = out.flush();
    }
    if st.live {
        let _ = write!(stdout.lock(), "\r\x1b[K");
    }
}
