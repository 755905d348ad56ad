//! The layer feature path: staging features and merging the stage into `feature` — closing
//! changed and vanished features (or all, for a layer without ids), inserting, switching the
//! layer's version.

use tokio_postgres::types::{ToSql, Type};

use super::options::{ImportMode, ImportSummary};
use super::rows::FeatureRow;
use super::shrink::Shrink;
use super::target::{ImportTarget, LayerSpec};
use super::{Import, pg};
use crate::StoreError;

pub(super) const FEATURE_STAGE: &str = "CREATE TEMP TABLE import_stage (
    idx bigint, external_id text, attributes jsonb, wkb bytea, needs_repair bool, row_hash bytea
) ON COMMIT DROP";

/// In [`Import::push_feature`]'s order.
pub(super) const FEATURE_STAGE_COPY: &str = "COPY import_stage (idx, external_id, attributes, wkb, needs_repair, row_hash) FROM STDIN (FORMAT binary)";

pub(super) const FEATURE_TYPES: [Type; 6] = [
    Type::INT8,
    Type::TEXT,
    Type::JSONB,
    Type::BYTEA,
    Type::BOOL,
    Type::BYTEA,
];

impl Import {
    pub(super) fn note_key(&mut self, key: &str) {
        if !self.seen.contains(key) {
            self.seen.insert(key.to_owned());
        } else if self.duplicates.len() < 10 {
            self.duplicates.push(key.to_owned());
        }
    }

    /// Stages a layer feature (layer imports only).
    pub async fn push_feature(&mut self, r: &FeatureRow) -> Result<(), StoreError> {
        debug_assert!(matches!(self.target, ImportTarget::Layer(_)));
        let row: [&(dyn ToSql + Sync); 6] = [
            &r.index,
            &r.external_id,
            &r.attributes,
            &r.wkb,
            &r.needs_repair,
            &r.row_hash,
        ];
        self.writer
            .as_mut()
            .write(&row)
            .await
            .map_err(pg("copying features into the stage"))?;
        self.staged += 1;
        self.flagged += r.needs_repair as u64;
        if let Some(id) = &r.external_id {
            self.note_key(id);
        }
        Ok(())
    }

    pub(super) async fn merge_features(
        &self,
        spec: &LayerSpec,
        summary: &mut ImportSummary,
    ) -> Result<(), StoreError> {
        let c = self.client();
        let layer_id = self.layer_id.expect("layer import has a layer");
        let keyed = spec.keyed;
        let incoming = self.staged - summary.dropped.len() as u64;
        if self.options.mode == ImportMode::Replace {
            // What the replace would close, before anything is: for a keyed layer the current
            // features whose id the stage lacks (as the close below), else the shortfall.
            let row = c
                .query_one(
                    "SELECT count(*),
                            count(*) FILTER (WHERE NOT EXISTS (
                                SELECT 1 FROM import_stage s WHERE s.external_id = f.external_id))
                     FROM feature f WHERE f.layer_id = $1 AND f.valid_to IS NULL",
                    &[&layer_id],
                )
                .await
                .map_err(pg("counting the current features"))?;
            let current = row.get::<_, i64>(0) as u64;
            let vanishing = row.get::<_, i64>(1) as u64;
            self.guard_shrink(
                Shrink {
                    current,
                    closing: if keyed {
                        vanishing
                    } else {
                        current.saturating_sub(incoming)
                    },
                    incoming,
                    max_share: self.options.max_shrink,
                    noun: "features",
                },
                summary,
            )?;
        }
        if keyed {
            let missing: i64 = c
                .query_one(
                    "SELECT count(*) FROM import_stage WHERE external_id IS NULL",
                    &[],
                )
                .await
                .map_err(pg("checking feature ids"))?
                .get(0);
            if missing > 0 {
                return Err(StoreError::Invalid(format!(
                    "{missing} feature(s) have no value in the id field"
                )));
            }
            c.execute(
                "UPDATE feature f SET valid_to = now()
                 FROM import_stage s
                 WHERE f.layer_id = $1 AND f.external_id = s.external_id AND f.valid_to IS NULL
                   AND f.row_hash IS DISTINCT FROM s.row_hash",
                &[&layer_id],
            )
            .await
            .map_err(pg("closing changed features"))?;
            if self.options.mode == ImportMode::Replace {
                summary.closed = c
                    .execute(
                        "UPDATE feature f SET valid_to = now()
                         WHERE f.layer_id = $1 AND f.valid_to IS NULL
                           AND NOT EXISTS (SELECT 1 FROM import_stage s WHERE s.external_id = f.external_id)",
                        &[&layer_id],
                    )
                    .await
                    .map_err(pg("closing vanished features"))?;
            }
        } else if self.options.mode == ImportMode::Replace {
            summary.closed = c
                .execute(
                    "UPDATE feature SET valid_to = now() WHERE layer_id = $1 AND valid_to IS NULL",
                    &[&layer_id],
                )
                .await
                .map_err(pg("closing the previous features"))?;
        }
        summary.written = c
            .execute(
                "INSERT INTO feature (layer_id, municipality_code, external_id, attributes, geom,
                                      valid_from, dataset_version_id, row_hash)
                 SELECT $1, (SELECT municipality_code FROM layer WHERE id = $1), s.external_id, s.attributes,
                        ST_GeomFromWKB(s.wkb, 3301), now(), $2, s.row_hash
                 FROM import_stage s
                 WHERE NOT $3 OR NOT EXISTS (SELECT 1 FROM feature f
                                             WHERE f.layer_id = $1 AND f.external_id = s.external_id
                                               AND f.valid_to IS NULL)",
                &[&layer_id, &self.version, &keyed],
            )
            .await
            .map_err(pg("inserting features"))?;
        summary.unchanged = incoming.saturating_sub(summary.written);
        c.execute(
            "UPDATE layer SET current_version_id = $2 WHERE id = $1",
            &[&layer_id, &self.version],
        )
        .await
        .map_err(pg("switching the layer version"))?;
        Ok(())
    }
}
