//! The index of other procedures behind `CONFLICTS_WITH_PROCEDURE`, kept current like the
//! layers, across instances: loaded whole at start, then changed one procedure at a time on
//! every `kovgis_procedure` notification (migration 0014's trigger, `<municipality>|<id>`,
//! delivered at commit, from this instance or another) — the procedure is read again and
//! upserted, or removed when it no longer counts. A lost notification connection is listened
//! to again and the index reloaded whole (notifications may have been missed meanwhile); a
//! failed reload or refresh is retried with back-off.
//!
//! Locking: the index sits behind a `std::sync::RwLock` taken only briefly — a validation takes a
//! small copy of the entries around its proposal ([`ProcedureHandle::around`], one tree query)
//! and checks on that after releasing the lock; a refresh holds the write lock for one insert
//! and removal. Refreshes themselves (read, then apply) run one at a time, so a slow read of an
//! older state can never overwrite a newer one.
//!
//! The ProcedureService of the same process calls [`ProcedureHandle::refresh`] right after its
//! own commit (through `SpatialApi::refresh_procedure`), so that its next check sees its own
//! write without waiting for the notification.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use kovgis_engine::index::{ProcedureEntry, ProcedureIndex, areal_part};
use kovgis_store::procedure_index::{IndexProcedure, PROCEDURE_CHANNEL};
use kovgis_store::{Caller, Store, StoreError};

/// The shared procedure index and the gate that orders its refreshes.
#[derive(Debug, Clone, Default)]
pub struct ProcedureHandle {
    index: Arc<RwLock<ProcedureIndex>>,
    /// Held from a refresh's read until it is applied (and for a whole reload).
    gate: Arc<tokio::sync::Mutex<()>>,
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
        let _gate = self.gate.lock().await;
        let found = store
            .index_procedure(&caller(), municipality_code, id)
            .await?;
        // Shapes with many vertices take a while to prepare: off the runtime's threads.
        let prepared = match found {
            Some(p) => tokio::task::spawn_blocking(move || entry(p))
                .await
                .map_err(|e| StoreError::Invalid(format!("preparing a procedure: {e}")))?,
            None => None,
        };
        self.write(|index| match prepared {
            Some(e) => index.upsert(e),
            None => {
                index.remove(municipality_code, id);
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
        let Some((m, id)) = parse(&payload) else {
            tracing::warn!(payload, "unreadable procedure notification");
            continue;
        };
        if let Err(e) = handle.refresh(&store, m, id).await {
            // The one procedure may now be stale: a whole reload brings it back in step.
            tracing::error!(error = %e, municipality = m, "refreshing a procedure failed");
            reload_due = true;
        }
    }
}
