//! The index of other procedures behind `CONFLICTS_WITH_PROCEDURE`, kept current like the
//! layers, across instances: loaded whole at start, then changed one procedure at a time on
//! every `kovgis_procedure` notification (migration 0014's trigger, `<municipality>|<id>`,
//! delivered at commit, from this instance or another) — the procedure is read again and
//! upserted, or removed when it no longer counts (the notifications waiting together are read
//! in one query, so that a burst of changes costs one read, not one each). A lost notification connection is listened
//! to again and the index reloaded whole (notifications may have been missed meanwhile); a
//! failed reload or refresh is retried with back-off. A burst of `RELOAD_AT` or more
//! notifications waiting at once (a bulk load in SQL) is answered by one whole reload too.
//!
//! Locking: the index sits behind a `std::sync::RwLock` taken only briefly — a validation takes a
//! small copy of the entries around its proposal ([`ProcedureHandle::around`], one tree query)
//! and checks on that after releasing the lock; a refresh holds the write lock for the inserts
//! and removals of one read. Refreshes themselves (read, then apply) run one at a time, so a slow
//! read of an older state can never overwrite a newer one.
//!
//! The ProcedureService of the same process calls [`ProcedureHandle::refresh`] right after its
//! own commit (through `SpatialApi::refresh_procedure`), so that its next check sees its own
//! write without waiting for the notification. Refreshes asked for while another runs wait for
//! the gate together and are then read in one query.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use kovgis_engine::index::{ProcedureEntry, ProcedureIndex, areal_part};
use kovgis_store::procedure_index::{IndexProcedure, PROCEDURE_CHANNEL};
use kovgis_store::{Caller, Store, StoreError};
use tokio::sync::oneshot;

/// The shared procedure index and the gate that orders its refreshes.
#[derive(Debug, Clone, Default)]
pub struct ProcedureHandle {
    index: Arc<RwLock<ProcedureIndex>>,
    /// Held from a refresh's read until it is applied (and for a whole reload).
    gate: Arc<tokio::sync::Mutex<()>>,
    /// The procedures waiting for a refresh, and who waits for them.
    waiting: Arc<Mutex<Waiting>>,
}

/// Refreshes asked for and not yet begun: the next holder of the gate reads them all in one
/// read (so that refreshes asked for at the same moment — many commits, many notifications —
/// cost one read, not one each) and tells every waiter how it went.
#[derive(Debug, Default)]
struct Waiting {
    keys: BTreeSet<(String, String)>,
    waiters: Vec<oneshot::Sender<Result<(), String>>>,
}

fn caller() -> Caller {
    Caller::system("procedure-index")
}

fn entry(p: IndexProcedure) -> Option<ProcedureEntry> {
    let geometry = areal_part(&p.geometry)?;
    Some(ProcedureEntry::new(
        p.municipality_code,
        p.id,
        p.procedure_type,
        p.works,
        p.active,
        geometry,
    ))
}

impl ProcedureHandle {
    /// The entries whose boxes meet `r`, as an index of their own (the lock is held for the
    /// query only).
    pub fn around(&self, r: geo::Rect) -> ProcedureIndex {
        match self.index.read() {
            Ok(g) => g.around(r),
            Err(poisoned) => poisoned.into_inner().around(r),
        }
    }

    /// How many procedures count now.
    pub fn len(&self) -> usize {
        match self.index.read() {
            Ok(g) => g.len(),
            Err(poisoned) => poisoned.into_inner().len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn write(&self, f: impl FnOnce(&mut ProcedureIndex)) {
        match self.index.write() {
            Ok(mut g) => f(&mut g),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Reads one procedure again and upserts it, or removes it when it no longer counts.
    pub async fn refresh(
        &self,
        store: &Store,
        municipality_code: &str,
        id: &str,
    ) -> Result<(), StoreError> {
        self.refresh_many(store, [(municipality_code.to_owned(), id.to_owned())])
            .await
    }

    /// Reads the procedures `keys` again and upserts those that count, removing the others —
    /// together with every other refresh waiting at that moment, in one read begun after this
    /// call (so after any commit that preceded it).
    pub async fn refresh_many(
        &self,
        store: &Store,
        keys: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(), StoreError> {
        let (done, mut outcome) = oneshot::channel();
        {
            let mut w = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
            w.keys.extend(keys);
            w.waiters.push(done);
        }
        let _gate = self.gate.lock().await;
        // A holder of the gate before us may have read ours already.
        if let Ok(r) = outcome.try_recv() {
            return r.map_err(StoreError::Invalid);
        }
        let Waiting { keys, waiters } =
            std::mem::take(&mut *self.waiting.lock().unwrap_or_else(|e| e.into_inner()));
        let result = self.read_and_apply(store, keys).await;
        let told = result.as_ref().map(|_| ()).map_err(|e| e.to_string());
        for w in waiters {
            // Ours among them; a waiter that gave up is not told.
            let _ = w.send(told.clone());
        }
        result
    }

    /// One read of `keys`, applied (the gate held).
    async fn read_and_apply(
        &self,
        store: &Store,
        keys: BTreeSet<(String, String)>,
    ) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let keys: Vec<(String, String)> = keys.into_iter().collect();
        let found = store.index_procedures_of(&caller(), &keys).await?;
        // Shapes with many vertices take a while to prepare: off the runtime's threads.
        let prepared = tokio::task::spawn_blocking(move || {
            found.into_iter().filter_map(entry).collect::<Vec<_>>()
        })
        .await
        .map_err(|e| StoreError::Invalid(format!("preparing procedures: {e}")))?;
        self.write(|index| {
            for (m, id) in &keys {
                index.remove(m, id);
            }
            for e in prepared {
                index.upsert(e);
            }
        });
        Ok(())
    }

    /// Reads every procedure that counts and swaps the index whole.
    pub async fn reload(&self, store: &Store) -> Result<usize, StoreError> {
        let _gate = self.gate.lock().await;
        let rows = store.index_procedures(&caller()).await?;
        let built = tokio::task::spawn_blocking(move || {
            ProcedureIndex::build(rows.into_iter().filter_map(entry).collect())
        })
        .await
        .map_err(|e| StoreError::Invalid(format!("building the procedure index: {e}")))?;
        let n = built.len();
        self.write(|index| *index = built);
        tracing::info!(procedures = n, "procedure index loaded");
        Ok(n)
    }
}

/// Loads the index (listening first, so that no change committed meanwhile is missed) and keeps
/// it current; returns the task doing so (abort it to stop).
pub async fn start(
    store: &Store,
    handle: &ProcedureHandle,
    retry: crate::Backoff,
) -> Result<tokio::task::JoinHandle<()>, StoreError> {
    let changes = store.listen(PROCEDURE_CHANNEL).await?;
    handle.reload(store).await?;
    Ok(tokio::spawn(keep_current(
        store.clone(),
        handle.clone(),
        changes,
        retry,
    )))
}

/// Notified procedures read again together at most.
const MAX_BATCH: usize = 500;

/// Notifications waiting at once from which the index is reloaded whole instead.
const RELOAD_AT: usize = 10 * MAX_BATCH;

/// `<municipality>|<id>`.
fn parse(payload: &str) -> Option<(&str, &str)> {
    payload.split_once('|')
}

async fn keep_current(
    store: Store,
    handle: ProcedureHandle,
    mut changes: tokio::sync::mpsc::UnboundedReceiver<String>,
    retry: crate::Backoff,
) {
    // Set when the index may have missed changes: reload it whole before anything else.
    let mut reload_due = false;
    let mut failures: u32 = 0;
    loop {
        if reload_due {
            match handle.reload(&store).await {
                Ok(_) => {
                    reload_due = false;
                    failures = 0;
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    tracing::error!(error = %e, failures, "reloading the procedure index failed");
                    tokio::time::sleep(retry.after(failures)).await;
                    continue;
                }
            }
        }
        let Some(payload) = changes.recv().await else {
            tracing::warn!("lost the procedure notification connection; listening again");
            loop {
                tokio::time::sleep(Duration::from_secs(2)).await;
                match store.listen(PROCEDURE_CHANNEL).await {
                    Ok(c) => {
                        changes = c;
                        break;
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot listen for procedure changes"),
                }
            }
            reload_due = true;
            continue;
        };
        // A burst bigger than a few reads (a bulk load of procedures in SQL, a restore): one
        // whole reload costs less than refreshing them a batch at a time, and keeps the
        // server's calls from competing with minutes of refreshes. Every notification waiting
        // now was committed before the reload begins, so the reload holds them all.
        if changes.len() >= RELOAD_AT {
            let mut n = 1;
            while changes.try_recv().is_ok() {
                n += 1;
            }
            tracing::info!(
                notifications = n,
                "a burst of procedure changes; reloading the index whole"
            );
            reload_due = true;
            continue;
        }
        // The notifications that arrived meanwhile go with it, in one read.
        let mut keys = BTreeSet::new();
        let mut next = Some(payload);
        while let Some(payload) = next.take() {
            match parse(&payload) {
                Some((m, id)) => {
                    keys.insert((m.to_owned(), id.to_owned()));
                }
                None => tracing::warn!(payload, "unreadable procedure notification"),
            }
            if keys.len() < MAX_BATCH {
                next = changes.try_recv().ok();
            }
        }
        if keys.is_empty() {
            continue;
        }
        let n = keys.len();
        if let Err(e) = handle.refresh_many(&store, keys).await {
            // These procedures may now be stale: a whole reload brings them back in step.
            tracing::error!(error = %e, procedures = n, "refreshing procedures failed");
            reload_due = true;
        }
    }
}
