//! Re-checking many procedures at once: the way a request's procedures are re-checked.
//!
//! A batch of procedures is read in one query, the active ones with a stored report are checked
//! in `ValidateGeometries` calls of [`LIGHT_BATCH`] (small enough for the SpatialService to
//! check them on a blocking thread, outside its heavy pool), compared with their stored
//! findings, and the changed ones are written in one transaction (each on the version it was
//! read at). One whose version moved meanwhile is re-checked again on its own
//! ([`ProcedureApi::recheck_procedure`]), so that it is compared with what is stored now.
//! What is written is the same, event for event, as re-checking each procedure on its own.

use std::time::{Duration, Instant};

use kovgis_api::convert::timestamp;
use kovgis_api::v1;
use kovgis_store::Caller;
use kovgis_store::procedures::ProcedureKey;
use kovgis_store::recheck::RecheckRequest;
use tonic::Status;

use super::{RECHECK, Rechecked, on_behalf};
use crate::ProcedureApi;
use crate::checker::LIGHT_BATCH;
use crate::service::{check_request, store_status};

/// Where a batch's time went (for the request's log line).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Spent {
    /// Reading the procedures.
    pub load: Duration,
    /// The checks, and comparing their findings with the stored ones.
    pub check: Duration,
    /// Writing the changed ones (and re-checking those changed meanwhile).
    pub write: Duration,
}

impl Spent {
    pub fn add(&mut self, o: Spent) {
        self.load += o.load;
        self.check += o.check;
        self.write += o.write;
    }
}

impl ProcedureApi {
    /// Re-checks the procedures of `keys` for `request`: (re-checked, changed).
    pub(super) async fn recheck_batch(
        &self,
        keys: &[ProcedureKey],
        request: &RecheckRequest,
    ) -> Result<(i32, i32, Spent), Status> {
        let caller = Caller::system(RECHECK);
        let mut spent = Spent::default();
        let t = Instant::now();
        let rows = self
            .store
            .load_procedures(&caller, keys)
            .await
            .map_err(store_status)?;
        let mut todo = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(old) = self.stored_report(&row).await? {
                todo.push((row, old));
            }
        }
        spent.load = t.elapsed();
        let t = Instant::now();
        let mut reports: Vec<v1::ValidationReport> = Vec::with_capacity(todo.len());
        for chunk in todo.chunks(LIGHT_BATCH) {
            // The moment of the checks, read anew for each call: after the claim (so after the
            // change the request is for), and not before a later import that the index already
            // holds (a moment before the index's newest data is answered from PostGIS's
            // history, one call at a time).
            let now = self.now.now();
            let requests = chunk
                .iter()
                .map(|(row, _)| check_request(row, Some(timestamp(now))))
                .collect();
            let got = self.checker.validate_many(on_behalf(), requests).await?;
            if got.len() != chunk.len() {
                return Err(Status::internal(format!(
                    "ValidateGeometries answered {} proposals with {} reports",
                    chunk.len(),
                    got.len()
                )));
            }
            reports.extend(got);
        }
        let mut changes: Vec<_> = todo
            .iter()
            .zip(&reports)
            .filter_map(|((row, old), new)| self.report_change(row, old, new, request))
            .collect();
        // In key order: the rows, and the municipalities' audit chains, are locked in one order
        // by every batch (no deadlock between instances).
        changes.sort_by(|a, b| {
            (&a.key.municipality_code, &a.key.id).cmp(&(&b.key.municipality_code, &b.key.id))
        });
        spent.check = t.elapsed();
        let t = Instant::now();
        let written = self
            .store
            .change_reports(&caller, &changes)
            .await
            .map_err(store_status)?;
        let mut changed = written.iter().filter(|w| **w).count() as i32;
        for (c, _) in changes.iter().zip(&written).filter(|(_, w)| !**w) {
            let now = self.now.now();
            if let Rechecked::Changed(_) = self.recheck_procedure(&c.key, request, now).await? {
                changed += 1;
            }
        }
        spent.write = t.elapsed();
        Ok((todo.len() as i32, changed, spent))
    }
}
