//! Import progress: a bar with rate and ETA on a terminal, plain periodic lines otherwise.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Reports progress on stderr.
#[derive(Debug)]
pub struct Progress {
    enabled: bool,
    terminal: bool,
    total: Option<u64>,
    done: u64,
    started: Instant,
    last: Instant,
    label: String,
}

impl Progress {
    /// `label` prefixes every line (e.g. the file name); `enabled = false` reports nothing.
    pub fn new(label: impl Into<String>, enabled: bool) -> Self {
        let now = Instant::now();
        Self {
            enabled,
            terminal: std::io::stderr().is_terminal(),
            total: None,
            done: 0,
            started: now,
            last: now,
            label: label.into(),
        }
    }

    pub fn start(&mut self, total: Option<u64>) {
        self.total = total;
        self.started = Instant::now();
        self.last = self.started;
    }

    pub fn advance(&mut self, n: u64) {
        self.done += n;
        let every = if self.terminal {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(5)
        };
        if self.enabled && self.last.elapsed() >= every {
            self.last = Instant::now();
            self.draw(false);
        }
    }

    pub fn finish(&mut self) {
        if self.enabled {
            self.draw(true);
        }
    }

    fn draw(&self, last: bool) {
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        let rate = self.done as f64 / secs;
        let mut line = format!("{}: {} features, {:.0}/s", self.label, self.done, rate);
        if let Some(total) = self.total.filter(|t| *t > 0) {
            let frac = (self.done as f64 / total as f64).min(1.0);
            let eta = if rate > 0.0 {
                (total.saturating_sub(self.done)) as f64 / rate
            } else {
                0.0
            };
            if self.terminal {
                let width = 30;
                let filled = (frac * width as f64) as usize;
                line = format!(
                    "{} [{}{}] {:>3.0}% {}/{} {:.0}/s ETA {:.0}s",
                    self.label,
                    "=".repeat(filled),
                    " ".repeat(width - filled),
                    frac * 100.0,
                    self.done,
                    total,
                    rate,
                    eta
                );
            } else {
                line = format!(
                    "{}: {}/{} features ({:.0}%), {:.0}/s, ETA {:.0}s",
                    self.label,
                    self.done,
                    total,
                    frac * 100.0,
                    rate,
                    eta
                );
            }
        }
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let _ = write!(err, "\r{line}\x1b[K");
            if last {
                let _ = writeln!(err);
            }
        } else {
            let _ = writeln!(err, "{line}");
        }
    }
}
