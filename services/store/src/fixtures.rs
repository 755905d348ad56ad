//! Loading the demo data in `fixtures/` into PostGIS.
//!
//! The demo data is real where it can be (the 79 municipalities, 365 cadastral parcels, roads,
//! land cover and protected-species sites around Tartu) and synthetic where no open data exists
//! (zoning, shore and protection zones, building footprints, a detailed plan), drawn from the real
//! data by `fixtures/demo/synthetic_layers.sql`. See `fixtures/PROVENANCE.txt`.
//!
//! Every file becomes a `dataset_version` with its SHA-256; a file whose hash is already recorded
//! for the same target is skipped, so loading twice changes nothing. Each file loads in one
//! transaction: a failure leaves the previous state in place.
//!
//! This is a demo loader, not the bulk importer (that one streams COPY and merges changes).

use std::path::{Path, PathBuf};

use geo::Geometry;
use sha2::{Digest, Sha256};
use tokio_postgres::Transaction;

use crate::geometry::to_wkb;
use crate::{Store, StoreError};

/// A national layer loaded from a GeoJSON file of `fixtures/layers`.
struct LayerFile {
    file: &'static str,
    name: &'static str,
    title: &'static str,
    kind: &'static str,
    /// Attribute holding the feature's source id, if any.
    id_attribute: Option<&'static str>,
    description: &'static str,
    attribution: &'static str,
    authority: Option<&'static str>,
}

const LAYERS: &[LayerFile] = &[
    LayerFile {
        file: "layers/tartu_roads.geojson",
        name: "roads-tartu-area",
        title: "Roads around Tartu",
        kind: "other",
        id_attribute: None,
        description: "Road centre lines around Tartu with their road type (TYYP). Real data.",
        attribution: "Maa-amet (ETAK), via University of Tartu Geospatial Python course 2019 (MIT)",
        authority: Some("Transpordiamet"),
    },
    LayerFile {
        file: "layers/porijogi_corine_landuse.geojson",
        name: "corine-land-cover-porijogi",
        title: "CORINE land cover, Porijõgi catchment",
        kind: "other",
        id_attribute: Some("id"),
        description: "CORINE Land Cover polygons clipped to the Porijõgi catchment. Real data.",
        attribution: "Copernicus CORINE Land Cover, via University of Tartu Geospatial Python course 2019 (MIT)",
        authority: None,
    },
    LayerFile {
        file: "layers/porijogi_species_cat3.geojson",
        name: "protected-species-cat3",
        title: "Protected species sites (category III), Porijõgi area",
        kind: "restriction",
        id_attribute: Some("KKR_KOOD"),
        description: "Observation sites of category III protected species (EELIS). Real data.",
        attribution: "Keskkonnaagentuur / EELIS, via University of Tartu Geospatial Python course 2019 (MIT)",
        authority: Some("Keskkonnaamet"),
    },
];

const PARCEL_FILES: &[&str] = &[
    "parcels/tartu_kvissentali.geojson",
    "parcels/tallinn_pirita.geojson",
    "parcels/elva_palupera.geojson",
];

const SYNTHETIC_SQL: &str = "demo/synthetic_layers.sql";

/// What one `load_demo` did, file by file.
#[derive(Debug, Default, Clone)]
pub struct LoadReport {
    /// (file, rows written) for files loaded now.
    pub loaded: Vec<(String, u64)>,
    /// Files skipped because the same content was loaded before.
    pub unchanged: Vec<String>,
}

struct SourceFile {
    rel: String,
    bytes: Vec<u8>,
    sha256: String,
}

fn read(dir: &Path, rel: &str) -> Result<SourceFile, StoreError> {
    let path: PathBuf = dir.join(rel);
    let bytes = std::fs::read(&path).map_err(|e| StoreError::Fixture {
        file: path.display().to_string(),
        reason: format!("cannot be read: {e}"),
    })?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    Ok(SourceFile {
        rel: rel.to_owned(),
        bytes,
        sha256,
    })
}

/// A GeoJSON feature's properties.
type Properties = serde_json::Map<String, serde_json::Value>;

/// The features of a GeoJSON FeatureCollection in EPSG:3301: (properties, geometry).
fn features(f: &SourceFile) -> Result<Vec<(Properties, Geometry<f64>)>, StoreError> {
    let bad = |reason: String| StoreError::Fixture {
        file: f.rel.clone(),
        reason,
    };
    let text = std::str::from_utf8(&f.bytes).map_err(|e| bad(format!("not UTF-8: {e}")))?;
    let gj: geojson::GeoJson = text.parse().map_err(|e| bad(format!("not GeoJSON: {e}")))?;
    let geojson::GeoJson::FeatureCollection(fc) = gj else {
        return Err(bad("expected a FeatureCollection".into()));
    };
    let crs = fc
        .foreign_members
        .as_ref()
        .and_then(|m| m.get("crs"))
        .and_then(|c| c.pointer("/properties/name"))
        .and_then(|n| n.as_str())
        .unwrap_or("");
    if !crs.ends_with("3301") {
        return Err(bad(format!(
            "expected EPSG:3301 coordinates (a crs member naming EPSG::3301), found '{crs}'"
        )));
    }
    fc.features
        .into_iter()
        .enumerate()
        .map(|(i, feat)| {
            let geometry = feat
                .geometry
                .as_ref()
                .ok_or_else(|| bad(format!("feature {i} has no geometry")))?;
            let g = Geometry::try_from(&geometry.value)
                .map_err(|e| bad(format!("feature {i}: {e}")))?;
            Ok((feat.properties.unwrap_or_default(), g))
        })
        .collect()
}

async fn seen(tx: &Transaction<'_>, target: &str, f: &SourceFile) -> Result<bool, StoreError> {
    let row = tx
        .query_opt(
            "SELECT 1 FROM dataset_version WHERE target = $1 AND source = $2 AND file_sha256 = $3",
            &[&target, &f.rel, &f.sha256],
        )
        .await
        .map_err(StoreError::pg("checking earlier loads"))?;
    Ok(row.is_some())
}

async fn new_version(
    tx: &Transaction<'_>,
    target: &str,
    f: &SourceFile,
    layer_id: Option<i64>,
) -> Result<i64, StoreError> {
    let row = tx
        .query_one(
            "INSERT INTO dataset_version (target, source, file_sha256, layer_id)
             VALUES ($1, $2, $3, $4) RETURNING id",
            &[&target, &f.rel, &f.sha256, &layer_id],
        )
        .await
        .map_err(StoreError::pg("recording the dataset version"))?;
    Ok(row.get(0))
}

async fn finish_version(
    tx: &Transaction<'_>,
    id: i64,
    read: u64,
    written: u64,
    closed: u64,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE dataset_version SET rows_read = $2, rows_written = $3, rows_closed = $4 WHERE id = $1",
        &[&id, &(read as i32), &(written as i32), &(closed as i32)],
    )
    .await
    .map_err(StoreError::pg("recording the dataset counts"))?;
    Ok(())
}

fn text(props: &Properties, key: &str) -> Option<String> {
    match props.get(key)? {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Store {
    /// Loads (or refreshes) all demo data from `dir` (the checkout's `fixtures/`).
    pub async fn load_demo(&self, dir: &Path) -> Result<LoadReport, StoreError> {
        let mut report = LoadReport::default();
        self.load_municipalities(dir, &mut report).await?;
        for rel in PARCEL_FILES {
            self.load_parcels(dir, rel, &mut report).await?;
        }
        for layer in LAYERS {
            self.load_layer(dir, layer, &mut report).await?;
        }
        self.run_synthetic(dir, &mut report).await?;
        Ok(report)
    }

    /// Loads only the 79 municipalities (what a bulk import of the cadastre needs first).
    pub async fn load_demo_municipalities(&self, dir: &Path) -> Result<LoadReport, StoreError> {
        let mut report = LoadReport::default();
        self.load_municipalities(dir, &mut report).await?;
        Ok(report)
    }

    async fn load_municipalities(
        &self,
        dir: &Path,
        report: &mut LoadReport,
    ) -> Result<(), StoreError> {
        let f = read(dir, "municipalities/municipalities.geojson")?;
        let mut client = self.pool.get().await?;
        let tx = client
            .transaction()
            .await
            .map_err(StoreError::pg("starting a load"))?;
        if seen(&tx, "municipalities", &f).await? {
            report.unchanged.push(f.rel);
            return Ok(());
        }
        let version = new_version(&tx, "municipalities", &f, None).await?;
        let stmt = tx
            .prepare(
                "INSERT INTO municipality (municipality_code, name, population, boundary)
                 SELECT $1, $2, $3, ST_Multi(CASE WHEN ST_IsValid(g) THEN g
                                              ELSE ST_CollectionExtract(ST_MakeValid(g), 3) END)
                 FROM (SELECT ST_GeomFromWKB($4, 3301) AS g) s
                 ON CONFLICT (municipality_code) DO UPDATE
                     SET name = EXCLUDED.name, population = EXCLUDED.population,
                         boundary = EXCLUDED.boundary
                 RETURNING (SELECT NOT ST_IsValid(ST_GeomFromWKB($4, 3301)))",
            )
            .await
            .map_err(StoreError::pg("preparing the municipality insert"))?;
        let feats = features(&f)?;
        for (i, (props, g)) in feats.iter().enumerate() {
            let code = text(props, "KOOD").ok_or_else(|| StoreError::Fixture {
                file: f.rel.clone(),
                reason: format!("feature {i} has no KOOD"),
            })?;
            let name = text(props, "NIMI").unwrap_or_default();
            let population = text(props, "population").and_then(|p| p.parse::<i32>().ok());
            let row = tx
                .query_one(&stmt, &[&code, &name, &population, &to_wkb(g)])
                .await
                .map_err(StoreError::pg("inserting a municipality"))?;
            if row.get::<_, bool>(0) {
                tracing::warn!(municipality = %code, %name, "boundary was not OGC-valid; repaired with ST_MakeValid");
            }
        }
        let n = feats.len() as u64;
        finish_version(&tx, version, n, n, 0).await?;
        tx.commit()
            .await
            .map_err(StoreError::pg("committing municipalities"))?;
        report.loaded.push((f.rel, n));
        Ok(())
    }

    async fn load_parcels(
        &self,
        dir: &Path,
        rel: &str,
        report: &mut LoadReport,
    ) -> Result<(), StoreError> {
        let f = read(dir, rel)?;
        let mut client = self.pool.get().await?;
        let tx = client
            .transaction()
            .await
            .map_err(StoreError::pg("starting a load"))?;
        if seen(&tx, "parcels", &f).await? {
            report.unchanged.push(f.rel);
            return Ok(());
        }
        let version = new_version(&tx, "parcels", &f, None).await?;
        tx.batch_execute(
            "CREATE TEMP TABLE parcel_stage (
                 cadastral_code text, address text,
                 use1_code text, use1_pct smallint, use2_code text, use2_pct smallint,
                 use3_code text, use3_pct smallint,
                 registered_area_m2 float8, attributes jsonb, geom geometry) ON COMMIT DROP",
        )
        .await
        .map_err(StoreError::pg("creating the parcel stage"))?;
        let stmt = tx
            .prepare(
                "INSERT INTO parcel_stage VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
                                                 ST_Multi(ST_GeomFromWKB($11, 3301)))",
            )
            .await
            .map_err(StoreError::pg("preparing the parcel stage insert"))?;
        let feats = features(&f)?;
        for (i, (props, g)) in feats.iter().enumerate() {
            let bad = |reason: String| StoreError::Fixture {
                file: f.rel.clone(),
                reason: format!("feature {i}: {reason}"),
            };
            let code = text(props, "tunnus").ok_or_else(|| bad("no tunnus".into()))?;
            kovgis_core::codes::parse_cadastral_code("tunnus", &code)
                .map_err(|e| bad(e.to_string()))?;
            let uses: Vec<String> = text(props, "purpose")
                .map(|p| p.split(',').map(|s| s.trim().to_owned()).collect())
                .unwrap_or_default();
            let pcts: Vec<i16> = text(props, "purpose_pct")
                .map(|p| p.split(',').filter_map(|s| s.trim().parse().ok()).collect())
                .unwrap_or_default();
            if uses.len() > 3 || pcts.len() != uses.len() {
                return Err(bad(format!(
                    "{} uses but {} percentages",
                    uses.len(),
                    pcts.len()
                )));
            }
            let use_at = |k: usize| uses.get(k).cloned();
            let pct_at = |k: usize| pcts.get(k).copied();
            let area = props.get("area").and_then(|a| a.as_f64());
            let mut attributes = props.clone();
            for k in ["tunnus", "address", "purpose", "purpose_pct", "area"] {
                attributes.remove(k);
            }
            tx.execute(
                &stmt,
                &[
                    &code,
                    &text(props, "address"),
                    &use_at(0),
                    &pct_at(0),
                    &use_at(1),
                    &pct_at(1),
                    &use_at(2),
                    &pct_at(2),
                    &area,
                    &serde_json::Value::Object(attributes),
                    &to_wkb(g),
                ],
            )
            .await
            .map_err(StoreError::pg("staging a parcel"))?;
        }
        // The municipality the register names for the parcel (its `municipality` attribute, matched
        // by name); without one, the municipality under the parcel's interior point, or for
        // harbour parcels beyond the (older, generalised) municipal coastline the nearest one
        // within 2 km. Never the cadastral code.
        tx.batch_execute(
            "ALTER TABLE parcel_stage ADD COLUMN municipality_code char(4);
             UPDATE parcel_stage s SET municipality_code = m.municipality_code
             FROM municipality m WHERE m.name = s.attributes->>'municipality';
             UPDATE parcel_stage s SET municipality_code = (
                 SELECT m.municipality_code FROM municipality m
                 WHERE ST_DWithin(m.boundary, ST_PointOnSurface(s.geom), 2000)
                 ORDER BY ST_Distance(m.boundary, ST_PointOnSurface(s.geom)), m.municipality_code
                 LIMIT 1)
             WHERE s.municipality_code IS NULL",
        )
        .await
        .map_err(StoreError::pg("placing parcels in municipalities"))?;
        let disagreeing: i64 = tx
            .query_one(
                "SELECT count(*) FROM parcel_stage s JOIN municipality m
                     ON m.municipality_code = s.municipality_code
                 WHERE NOT ST_Intersects(m.boundary, ST_PointOnSurface(s.geom))",
                &[],
            )
            .await
            .map_err(StoreError::pg(
                "comparing parcels with municipal boundaries",
            ))?
            .get(0);
        if disagreeing > 0 {
            tracing::warn!(
                file = %f.rel,
                parcels = disagreeing,
                "parcels whose registered municipality is not the one under them in the boundary data"
            );
        }
        let orphans: Vec<String> = tx
            .query(
                "SELECT cadastral_code FROM parcel_stage WHERE municipality_code IS NULL",
                &[],
            )
            .await
            .map_err(StoreError::pg("placing parcels in municipalities"))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if !orphans.is_empty() {
            return Err(StoreError::Fixture {
                file: f.rel,
                reason: format!(
                    "parcels more than 2 km from every municipality: {}",
                    orphans.join(", ")
                ),
            });
        }
        let closed = tx
            .execute(
                "UPDATE parcel p SET valid_to = now()
                 FROM parcel_stage s
                 WHERE p.cadastral_code = s.cadastral_code AND p.valid_to IS NULL",
                &[],
            )
            .await
            .map_err(StoreError::pg("closing replaced parcels"))?;
        let written = tx
            .execute(
                "INSERT INTO parcel (cadastral_code, municipality_code, address,
                                     use1_code, use1_pct, use2_code, use2_pct, use3_code, use3_pct,
                                     registered_area_m2, attributes, geom, valid_from, dataset_version_id)
                 SELECT s.cadastral_code, s.municipality_code, s.address, s.use1_code, s.use1_pct, s.use2_code, s.use2_pct,
                        s.use3_code, s.use3_pct, s.registered_area_m2, s.attributes, s.geom,
                        clock_timestamp(), $1
                 FROM parcel_stage s",
                &[&version],
            )
            .await
            .map_err(StoreError::pg("inserting parcels"))?;
        finish_version(&tx, version, feats.len() as u64, written, closed).await?;
        tx.commit()
            .await
            .map_err(StoreError::pg("committing parcels"))?;
        report.loaded.push((f.rel, written));
        Ok(())
    }

    async fn load_layer(
        &self,
        dir: &Path,
        spec: &LayerFile,
        report: &mut LoadReport,
    ) -> Result<(), StoreError> {
        let f = read(dir, spec.file)?;
        let mut client = self.pool.get().await?;
        let tx = client
            .transaction()
            .await
            .map_err(StoreError::pg("starting a load"))?;
        if seen(&tx, "layer", &f).await? {
            report.unchanged.push(f.rel);
            return Ok(());
        }
        let layer_id: i64 = tx
            .query_one(
                "INSERT INTO layer (municipality_code, name, title, kind, description, attribution, authority)
                 VALUES (NULL, $1, $2, $3::text::layer_kind, $4, $5, $6)
                 ON CONFLICT (municipality_code, name) DO UPDATE
                     SET title = EXCLUDED.title, kind = EXCLUDED.kind,
                         description = EXCLUDED.description, attribution = EXCLUDED.attribution,
                         authority = EXCLUDED.authority
                 RETURNING id",
                &[&spec.name, &spec.title, &spec.kind, &spec.description, &spec.attribution, &spec.authority],
            )
            .await
            .map_err(StoreError::pg("creating a layer"))?
            .get(0);
        let version = new_version(&tx, "layer", &f, Some(layer_id)).await?;
        let closed = tx
            .execute(
                "UPDATE feature SET valid_to = now() WHERE layer_id = $1 AND valid_to IS NULL",
                &[&layer_id],
            )
            .await
            .map_err(StoreError::pg("closing replaced features"))?;
        let stmt = tx
            .prepare(
                "INSERT INTO feature (layer_id, municipality_code, external_id, attributes, geom,
                                      valid_from, dataset_version_id)
                 VALUES ($1, NULL, $2, $3, ST_GeomFromWKB($4, 3301), clock_timestamp(), $5)",
            )
            .await
            .map_err(StoreError::pg("preparing the feature insert"))?;
        let feats = features(&f)?;
        for (props, g) in &feats {
            let external_id = spec.id_attribute.and_then(|a| text(props, a));
            tx.execute(
                &stmt,
                &[
                    &layer_id,
                    &external_id,
                    &serde_json::Value::Object(props.clone()),
                    &to_wkb(g),
                    &version,
                ],
            )
            .await
            .map_err(StoreError::pg("inserting a feature"))?;
        }
        tx.execute(
            "UPDATE layer SET current_version_id = $2 WHERE id = $1",
            &[&layer_id, &version],
        )
        .await
        .map_err(StoreError::pg("switching the layer version"))?;
        let n = feats.len() as u64;
        finish_version(&tx, version, n, n, closed).await?;
        tx.commit()
            .await
            .map_err(StoreError::pg("committing a layer"))?;
        report.loaded.push((f.rel, n));
        Ok(())
    }

    /// Runs the synthetic-layer generator. It reads its dataset version from the setting
    /// `kovgis.dataset_version` and returns nothing; the rows it wrote are counted here.
    async fn run_synthetic(&self, dir: &Path, report: &mut LoadReport) -> Result<(), StoreError> {
        let f = read(dir, SYNTHETIC_SQL)?;
        let sql = std::str::from_utf8(&f.bytes).map_err(|e| StoreError::Fixture {
            file: f.rel.clone(),
            reason: format!("not UTF-8: {e}"),
        })?;
        let mut client = self.pool.get().await?;
        let tx = client
            .transaction()
            .await
            .map_err(StoreError::pg("starting a load"))?;
        if seen(&tx, "derived", &f).await? {
            report.unchanged.push(f.rel);
            return Ok(());
        }
        let version = new_version(&tx, "derived", &f, None).await?;
        tx.execute(
            "SELECT set_config('kovgis.dataset_version', $1, true)",
            &[&version.to_string()],
        )
        .await
        .map_err(StoreError::pg("setting the dataset version"))?;
        tx.batch_execute(sql)
            .await
            .map_err(|e| StoreError::Fixture {
                file: f.rel.clone(),
                reason: format!("failed: {}", crate::error::describe(&e)),
            })?;
        let written: i64 = tx
            .query_one(
                "SELECT count(*) FROM feature WHERE dataset_version_id = $1",
                &[&version],
            )
            .await
            .map_err(StoreError::pg("counting generated features"))?
            .get(0);
        finish_version(&tx, version, 0, written as u64, 0).await?;
        tx.commit()
            .await
            .map_err(StoreError::pg("committing generated layers"))?;
        report.loaded.push((f.rel, written as u64));
        Ok(())
    }
}
