//! The merge every import shares: duplicate keys refused, flagged geometries repaired with
//! `ST_MakeValid`, the target's own merge run, counts recorded and the new version announced.

use super::options::ImportSummary;
use super::target::ImportTarget;
use super::{Import, pg};
use crate::StoreError;

impl Import {
    pub(super) async fn merge(&self) -> Result<ImportSummary, StoreError> {
        let c = self.client();
        tracing::debug!(elapsed = ?self.started.elapsed(), "staged; merging");
        // The stage is not analysed (that costs as much as the merge on a first load): temporary
        // tables are sized from their pages, which is enough for the planner to hash-join them.
        let mut summary = ImportSummary {
            staged: self.staged + self.unchanged,
            dry_run: self.options.dry_run,
            version: Some(self.version),
            ..Default::default()
        };

        // Duplicate keys in one file are a data error, not something to guess about.
        let dups = &self.duplicates;
        if !dups.is_empty() {
            return Err(StoreError::Invalid(format!(
                "the source has the same key more than once: {}",
                dups.join(", ")
            )));
        }

        // Repairs: ST_MakeValid, keeping the parts of the original dimension.
        let repaired = if self.flagged == 0 {
            Vec::new()
        } else {
            c
            .query(
                "UPDATE import_stage s SET wkb = ST_AsBinary(r.g)
                 FROM (SELECT idx, ST_CollectionExtract(ST_MakeValid(ST_GeomFromWKB(wkb, 3301)),
                                                        ST_Dimension(ST_GeomFromWKB(wkb, 3301)) + 1) AS g
                       FROM import_stage WHERE needs_repair) r
                 WHERE s.idx = r.idx
                 RETURNING s.idx, ST_IsEmpty(r.g)",
                &[],
            )
            .await
            .map_err(pg("repairing geometries"))?
        };
        let mut empty = Vec::new();
        for r in &repaired {
            if r.get::<_, bool>(1) {
                empty.push(r.get::<_, i64>(0));
            }
        }
        summary.repaired = (repaired.len() - empty.len()) as u64;
        let mut dropped_codes: Vec<String> = Vec::new();
        if !empty.is_empty() {
            dropped_codes = c
                .query(
                    &format!(
                        "DELETE FROM import_stage WHERE idx = ANY($1) RETURNING {}",
                        self.target.stage_key()
                    ),
                    &[&empty],
                )
                .await
                .map_err(pg("dropping unrepairable rows"))?
                .iter()
                .filter_map(|r| r.get(0))
                .collect();
            summary.dropped.extend(empty.into_iter().map(|i| {
                (
                    i,
                    "ST_MakeValid left no geometry of the original dimension".to_string(),
                )
            }));
        }

        tracing::debug!(elapsed = ?self.started.elapsed(), "checks and repairs done");
        match &self.target {
            ImportTarget::Parcels => self.merge_parcels(&mut summary, dropped_codes).await?,
            ImportTarget::Layer(spec) => self.merge_features(spec, &mut summary).await?,
        }

        summary.seconds = self.started.elapsed().as_secs_f64();
        c.execute(
            "UPDATE dataset_version SET rows_read = $2, rows_written = $3, rows_skipped = $4,
                    rows_closed = $5, rows_repaired = $6, rows_unchanged = $7, seconds = $8
             WHERE id = $1",
            &[
                &self.version,
                &(summary.staged as i32),
                &(summary.written as i32),
                &(summary.dropped.len() as i32),
                &(summary.closed as i32),
                &(summary.repaired as i32),
                &(summary.unchanged as i32),
                &summary.seconds,
            ],
        )
        .await
        .map_err(pg("recording the import counts"))?;
        // The re-checks this version causes, in the same transaction (migration 0013).
        if !self.options.dry_run {
            c.execute("SELECT kovgis_recheck_dataset($1)", &[&self.version])
                .await
                .map_err(pg("queueing the re-checks"))?;
        }
        let payload = serde_json::json!({
            "version": self.version,
            "target": self.target.version_target(),
            "layer_id": self.layer_id,
        })
        .to_string();
        c.execute(
            "SELECT pg_notify('kovgis_dataset_version', $1)",
            &[&payload],
        )
        .await
        .map_err(pg("announcing the new version"))?;
        Ok(summary)
    }
}
