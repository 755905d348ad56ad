//! The parcel path: staging parcels (or, on a first load, writing them) and merging the stage
//! into `parcel` — placement, closing changed and vanished parcels, inserting, the next digest.

use super::columns::{direct_values, parcel_insert_from_stage, stage_values};
use super::digest::{MAX_DIGEST_DELTAS, digest_entry};
use super::ewkb::{Ewkb, multipolygon_ewkb};
use super::options::{ImportMode, ImportSummary};
use super::rows::ParcelRow;
use super::shrink::Shrink;
use super::target::ImportTarget;
use super::{Import, pg};
use crate::StoreError;

impl Import {
    /// Parcels the reader found unchanged (their source hash equals the current one), as
    /// [`kovgis_core::codes::cadastral_key`]s: nothing is written for them, and replace mode
    /// keeps them.
    pub fn note_unchanged(&mut self, keys: &[u64]) {
        self.unchanged += keys.len() as u64;
        self.seen_parcels.reserve(keys.len());
        for &key in keys {
            if !self.seen_parcels.insert(key) && self.duplicates.len() < 10 {
                self.duplicates
                    .push(kovgis_core::codes::cadastral_code_of_key(key));
            }
        }
    }

    /// Stages a parcel (parcel imports only); on a first load, writes it.
    pub async fn push_parcel(&mut self, r: &ParcelRow) -> Result<(), StoreError> {
        debug_assert!(matches!(self.target, ImportTarget::Parcels));
        self.staged += 1;
        self.flagged += r.needs_repair as u64;
        self.note_parcel(&r.cadastral_code);
        let municipality = r
            .municipality_name
            .as_ref()
            .and_then(|n| self.municipalities.get(&n.to_lowercase()));
        let Some(direct) = &mut self.direct else {
            if kovgis_core::codes::cadastral_key(&r.cadastral_code)
                .and_then(|key| self.current.get(&key))
                .is_some_and(|c| c.row_hash[..] != r.row_hash[..])
            {
                self.changed.push(r.cadastral_code.clone());
            }
            return self.stage_parcel(r).await;
        };
        if direct.spilled {
            return self.stage_parcel(r).await;
        }
        let Some(municipality) = municipality.filter(|_| !r.needs_repair) else {
            // Repair or placement by geometry: SQL's work, at finish.
            return self.hold_aside(r).await;
        };
        let geom = Ewkb(multipolygon_ewkb(&r.wkb, kovgis_core::crs::EPSG_LEST97)?);
        let municipality = Some(municipality);
        let row = direct_values(r, &municipality, [&geom, &direct.valid_from, &self.version]);
        self.writer
            .as_mut()
            .write(&row)
            .await
            .map_err(pg("copying parcels into the parcel table"))?;
        direct.written += 1;
        if let Some(key) = kovgis_core::codes::cadastral_key(&r.cadastral_code) {
            digest_entry(
                &mut direct.digest,
                key,
                r.source_hash.as_deref(),
                Some(&r.row_hash),
            );
        }
        Ok(())
    }

    pub(super) async fn stage_parcel(&mut self, r: &ParcelRow) -> Result<(), StoreError> {
        let municipality = r
            .municipality_name
            .as_ref()
            .and_then(|n| self.municipalities.get(&n.to_lowercase()));
        let row = stage_values(r, &municipality);
        self.writer
            .as_mut()
            .write(&row)
            .await
            .map_err(pg("copying parcels into the stage"))?;
        Ok(())
    }

    fn note_parcel(&mut self, code: &str) {
        match kovgis_core::codes::cadastral_key(code) {
            Some(key) => {
                if !self.seen_parcels.insert(key) && self.duplicates.len() < 10 {
                    self.duplicates.push(code.to_owned());
                }
            }
            // Not a code: the check constraint refuses it at merge; still caught if repeated.
            None => self.note_key(code),
        }
    }

    /// `dropped`: codes of rows the repair step dropped.
    pub(super) async fn merge_parcels(
        &self,
        summary: &mut ImportSummary,
        mut dropped: Vec<String>,
    ) -> Result<(), StoreError> {
        let c = self.client();
        // The register's municipality name decides; only rows without a known name are placed by
        // geometry (the municipality under an interior point, or the nearest within 2 km).
        c.batch_execute(
            "UPDATE import_stage s SET municipality_code = (
                 SELECT m.municipality_code FROM municipality m
                 WHERE ST_DWithin(m.boundary, ST_PointOnSurface(ST_GeomFromWKB(s.wkb, 3301)), 2000)
                 ORDER BY ST_Distance(m.boundary, ST_PointOnSurface(ST_GeomFromWKB(s.wkb, 3301))),
                          m.municipality_code
                 LIMIT 1)
             WHERE s.municipality_code IS NULL",
        )
        .await
        .map_err(pg("placing parcels in municipalities"))?;
        let homeless = c
            .query(
                "DELETE FROM import_stage WHERE municipality_code IS NULL RETURNING idx, cadastral_code",
                &[],
            )
            .await
            .map_err(pg("dropping parcels outside every municipality"))?;
        dropped.extend(homeless.iter().map(|r| r.get::<_, String>(1)));
        summary.dropped.extend(homeless.iter().map(|r| {
            (
                r.get::<_, i64>(0),
                format!(
                    "parcel {} is in no known municipality (by name or within 2 km)",
                    r.get::<_, String>(1)
                ),
            )
        }));

        tracing::debug!(elapsed = ?self.started.elapsed(), "municipalities placed");
        let incoming = (self.staged + self.unchanged).saturating_sub(summary.dropped.len() as u64);
        let replace = self.options.mode == ImportMode::Replace;
        if incoming == 0 && !replace {
            return Err(StoreError::Invalid(
                "no parcel of the source could be imported (see the reasons)".into(),
            ));
        }
        // Close the current version of changed parcels and, in replace mode, of parcels the
        // source no longer has: both are known from the current parcels read at the start
        // (under the import lock, so they are still current), and closed by index. A first
        // load has none.
        // A changed parcel whose new version was dropped keeps its old one in upsert mode;
        // in replace mode it is gone from the source like a vanished one.
        let dropped: foldhash::HashSet<&str> = dropped.iter().map(String::as_str).collect();
        let mut close: Vec<String> = self
            .changed
            .iter()
            .filter(|code| replace || !dropped.contains(code.as_str()))
            .cloned()
            .collect();
        if replace {
            let lost = close
                .iter()
                .filter(|c| dropped.contains(c.as_str()))
                .count() as u64;
            let before = close.len();
            close.extend(
                self.current
                    .keys()
                    .filter(|key| !self.seen_parcels.contains(*key))
                    .map(|key| kovgis_core::codes::cadastral_code_of_key(*key)),
            );
            summary.closed = (close.len() - before) as u64;
            self.guard_shrink(
                Shrink {
                    current: self.current.len() as u64,
                    closing: summary.closed + lost,
                    incoming,
                    max_share: self.options.max_shrink,
                    noun: "parcels",
                },
                summary,
            )?;
        }
        let mut closed: Vec<u64> = Vec::new();
        if self.direct.is_none() {
            closed = c
                .query(
                    "UPDATE parcel SET valid_to = now()
                     WHERE valid_to IS NULL AND cadastral_code = ANY($1)
                     RETURNING cadastral_code",
                    &[&close],
                )
                .await
                .map_err(pg("closing changed and vanished parcels"))?
                .iter()
                .filter_map(|r| kovgis_core::codes::cadastral_key(r.get(0)))
                .collect();
            tracing::debug!(elapsed = ?self.started.elapsed(), "changed and vanished closed");
        }
        let inserted = c
            .query(
                &parcel_insert_from_stage(),
                &[&self.version, &self.direct.is_some()],
            )
            .await
            .map_err(|e| match e.as_db_error().map(|d| d.code().code()) {
                Some("22023") | Some("XX000") => StoreError::Invalid(format!(
                    "a geometry could not be stored: {}",
                    crate::error::describe(&e)
                )),
                _ => StoreError::Postgres(e, "inserting parcels"),
            })?;
        summary.written = inserted.len() as u64;
        tracing::debug!(elapsed = ?self.started.elapsed(), "inserted");
        // The digest of the parcels current after this import, for the next one: a delta on
        // the chain it read, or a new full digest.
        let mut added = Vec::with_capacity(inserted.len() * 40);
        for row in &inserted {
            if let Some(key) = kovgis_core::codes::cadastral_key(row.get(0)) {
                digest_entry(&mut added, key, row.get(1), row.get(2));
            }
        }
        match (self.digest_chain, &self.direct) {
            (Some(chain), None) if chain < MAX_DIGEST_DELTAS => {
                let closed: Vec<u8> = closed.iter().flat_map(|k| k.to_le_bytes()).collect();
                c.execute(
                    "INSERT INTO parcel_digest (dataset_version_id, kind, closed, entries)
                     VALUES ($1, 'delta', $2, $3)",
                    &[&self.version, &closed, &added],
                )
                .await
                .map_err(pg("writing the parcel digest"))?;
            }
            _ => {
                let mut digest = match &self.direct {
                    Some(direct) => direct.digest.clone(),
                    None => {
                        let mut current = (*self.current).clone();
                        for key in &closed {
                            current.remove(key);
                        }
                        let mut digest = Vec::with_capacity((current.len() + inserted.len()) * 40);
                        for (key, c) in &current {
                            digest_entry(
                                &mut digest,
                                *key,
                                Some(&c.source_hash),
                                Some(&c.row_hash),
                            );
                        }
                        digest
                    }
                };
                digest.extend_from_slice(&added);
                c.execute("DELETE FROM parcel_digest", &[])
                    .await
                    .map_err(pg("replacing the parcel digest"))?;
                c.execute(
                    "INSERT INTO parcel_digest (dataset_version_id, kind, closed, entries)
                     VALUES ($1, 'full', '', $2)",
                    &[&self.version, &digest],
                )
                .await
                .map_err(pg("writing the parcel digest"))?;
            }
        }
        tracing::debug!(elapsed = ?self.started.elapsed(), "digest written");
        if let Some(direct) = &self.direct {
            summary.written += direct.written;
            direct.rebuild_indexes(c).await?;
            tracing::debug!(elapsed = ?self.started.elapsed(), "indexes built");
        }
        let remaining = self.staged.saturating_sub(summary.dropped.len() as u64);
        summary.unchanged = remaining.saturating_sub(summary.written) + self.unchanged;
        Ok(())
    }
}
