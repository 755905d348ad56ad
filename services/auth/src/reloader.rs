//! The background key reloader: watches the JWKS file or directory and reloads on change, so that
//! keys rotate without a restart.
//!
//! Polls every `reload_interval` (no inotify dependency; a JWKS changes a few times a year) and
//! compares a fingerprint — each file's name, size and modification time, plus the directory's
//! own modification time — with the last one seen. A changed fingerprint triggers
//! `Verifier::reload`; a broken JWKS keeps the previous keys (logged once per change). The task
//! holds only a weak reference and ends when the verifier is dropped; abort the handle to stop it
//! earlier.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::SystemTime;

use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::keyset::jwks_files;
use crate::verifier::Verifier;

type Fingerprint = Option<Vec<(PathBuf, u64, Option<SystemTime>)>>;

fn fingerprint(path: &Path) -> Fingerprint {
    let stamp = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .map(|m| (p.to_owned(), m.len(), m.modified().ok()))
    };
    let mut print = vec![stamp(path)?];
    if path.is_dir() {
        for file in jwks_files(path).ok()? {
            print.push(stamp(&file)?);
        }
    }
    Some(print)
}

impl Verifier {
    /// Starts the reloader on the current tokio runtime.
    pub fn spawn_reloader(self: &Arc<Self>) -> JoinHandle<()> {
        let weak: Weak<Verifier> = Arc::downgrade(self);
        let path = self.jwks_path().to_owned();
        let period = self.config().reload_interval;
        let mut seen = fingerprint(&path);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(verifier) = weak.upgrade() else {
                    return;
                };
                let now = fingerprint(&path);
                if now != seen {
                    seen = now;
                    // Errors are logged by `reload`; the old keys stay.
                    let _ = verifier.reload();
                }
            }
        })
    }
}
