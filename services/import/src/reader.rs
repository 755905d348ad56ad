//! Reading a source file with GDAL: opening it, choosing the layer, finding its CRS, and walking
//! its features on a blocking thread.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use gdal::vector::LayerAccess;
use gdal::{Dataset, DatasetOptions, GdalOpenFlags};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc::Sender;

use crate::gpkg::ScannedRow;
use crate::rows::{Batch, Converter};

/// Feature ids to convert, with their source hash (GeoPackage change detection).
type Need = HashMap<u64, [u8; 16]>;
use crate::{ImportError, ImportRequest};

/// Features per batch sent from the reader thread.
const BATCH: usize = 2_000;

/// Files with at least this many features are read by two threads.
const PARALLEL_FROM: u64 = 50_000;

/// SHA-256 of the source: the file, or for a shapefile its .shp, .shx, .dbf, .prj and .cpg.
pub fn file_sha256(path: &Path) -> Result<String, ImportError> {
    let mut hasher = Sha256::new();
    let mut parts = vec![path.to_path_buf()];
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("shp"))
    {
        for ext in ["shx", "dbf", "prj", "cpg"] {
            let p = path.with_extension(ext);
            if p.exists() {
                parts.push(p);
            }
        }
    }
    let mut buf = vec![0u8; 1 << 20];
    for p in parts {
        let mut f = std::fs::File::open(&p).map_err(|e| ImportError::Open {
            path: p.clone(),
            reason: e.to_string(),
        })?;
        loop {
            let n = f.read(&mut buf).map_err(|e| ImportError::Open {
                path: p.clone(),
                reason: e.to_string(),
            })?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
    }
    Ok(hex::encode(hasher.finalize()))
}

/// GDAL's last error messages, collected by the error handler installed on first use, so that
/// "cannot be read" can say what GDAL said.
fn gdal_errors() -> Arc<Mutex<Vec<String>>> {
    static ERRORS: std::sync::OnceLock<Arc<Mutex<Vec<String>>>> = std::sync::OnceLock::new();
    ERRORS
        .get_or_init(|| {
            let errors = Arc::new(Mutex::new(Vec::new()));
            let sink = errors.clone();
            gdal::config::set_error_handler(move |class, _, msg| {
                if matches!(
                    class,
                    gdal::errors::CplErrType::Failure | gdal::errors::CplErrType::Fatal
                ) {
                    if let Ok(mut v) = sink.lock() {
                        v.push(msg.to_owned());
                        let n = v.len();
                        if n > 20 {
                            v.drain(..n - 20);
                        }
                    }
                } else {
                    tracing::debug!(gdal = msg, "GDAL");
                }
            });
            errors
        })
        .clone()
}

fn take_gdal_errors() -> String {
    let errors = gdal_errors();
    let mut v = errors
        .lock()
        .map(|mut v| std::mem::take(&mut *v))
        .unwrap_or_default();
    v.dedup();
    v.join("; ")
}

fn open(path: &Path) -> Result<Dataset, ImportError> {
    let _ = gdal_errors();
    if !path.exists() {
        return Err(ImportError::Open {
            path: path.into(),
            reason: "no such file".into(),
        });
    }
    Dataset::open_ex(
        path,
        DatasetOptions {
            open_flags: GdalOpenFlags::GDAL_OF_VECTOR | GdalOpenFlags::GDAL_OF_READONLY,
            ..Default::default()
        },
    )
    .map_err(|e| {
        let said = take_gdal_errors();
        ImportError::Open {
            path: path.into(),
            reason: if said.is_empty() {
                format!("not a readable vector file ({e})")
            } else {
                format!("not a readable vector file: {said}")
            },
        }
    })
}

/// A source checked and ready to read.
#[derive(Debug)]
pub struct Prepared {
    path: PathBuf,
    layer: String,
    pub epsg: u32,
    pub feature_count: Option<u64>,
    converter: Converter,
    /// GDAL opened it as a GeoPackage (see [`crate::gpkg`]).
    is_gpkg: bool,
}

impl Prepared {
    /// Opens the file and checks everything that can be checked before reading features.
    pub fn open(request: &ImportRequest) -> Result<Self, ImportError> {
        let path = &request.path;
        let ds = open(path)?;
        let is_gpkg = ds.driver().short_name() == "GPKG";
        let names: Vec<String> = ds.layers().map(|l| l.name()).collect();
        let layer_name = match (&request.layer, names.len()) {
            (Some(wanted), _) => {
                if !names.iter().any(|n| n == wanted) {
                    return Err(ImportError::Source {
                        path: path.clone(),
                        reason: format!(
                            "no layer named '{wanted}'; the file has: {}",
                            names.join(", ")
                        ),
                    });
                }
                wanted.clone()
            }
            (None, 1) => names[0].clone(),
            (None, 0) => {
                return Err(ImportError::Source {
                    path: path.clone(),
                    reason: "the file has no layers".into(),
                });
            }
            (None, _) => {
                return Err(ImportError::Source {
                    path: path.clone(),
                    reason: format!(
                        "the file has several layers ({}); choose one with --layer",
                        names.join(", ")
                    ),
                });
            }
        };
        let layer = ds
            .layer_by_name(&layer_name)
            .map_err(|e| ImportError::Source {
                path: path.clone(),
                reason: format!("layer '{layer_name}': {e}"),
            })?;
        let file_epsg = match layer.spatial_ref() {
            None => None,
            Some(mut sr) => {
                let code = match (sr.auth_name().as_deref(), sr.auth_code()) {
                    (Some("EPSG"), Ok(code)) => Some(code),
                    _ => {
                        let _ = sr.auto_identify_epsg();
                        match (sr.auth_name().as_deref(), sr.auth_code()) {
                            (Some("EPSG"), Ok(code)) => Some(code),
                            _ => None,
                        }
                    }
                };
                match code {
                    Some(c) if c > 0 => Some(c as u32),
                    _ => {
                        if request.srs.is_none() {
                            let name = sr.name().unwrap_or_else(|| "unnamed".into());
                            return Err(ImportError::Source {
                                path: path.clone(),
                                reason: format!(
                                    "the CRS '{name}' has no known EPSG code; state it with --srs EPSG:<code>"
                                ),
                            });
                        }
                        None
                    }
                }
            }
        };
        let epsg = match (request.srs, file_epsg) {
            (Some(stated), Some(file)) if stated != file => {
                tracing::warn!(stated, file, "the stated CRS overrides the file's");
                stated
            }
            (Some(stated), _) => stated,
            (None, Some(file)) => file,
            (None, None) => {
                let hint = if path
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("shp"))
                {
                    " (no .prj next to the .shp)"
                } else {
                    ""
                };
                return Err(ImportError::Source {
                    path: path.clone(),
                    reason: format!(
                        "the file does not say its CRS{hint}; state it with --srs EPSG:<code>, e.g. --srs EPSG:3301"
                    ),
                });
            }
        };
        // The transform must exist before anything is read.
        kovgis_core::crs::transform_xy(0.0, 0.0, epsg, kovgis_core::crs::EPSG_LEST97).map_err(
            |e| ImportError::Source {
                path: path.clone(),
                reason: format!("EPSG:{epsg} cannot be transformed to EPSG:3301: {e}"),
            },
        )?;
        let feature_count = layer.try_feature_count();
        if feature_count == Some(0) {
            return Err(ImportError::Source {
                path: path.clone(),
                reason: "the file has no features; refusing to replace the data with nothing"
                    .into(),
            });
        }
        let fields: Vec<String> = layer.defn().fields().map(|f| f.name()).collect();
        let converter = Converter::new(path, &request.kind, &fields, epsg, request.repair)?;
        Ok(Prepared {
            path: path.clone(),
            layer: layer_name,
            epsg,
            feature_count,
            converter,
            is_gpkg,
        })
    }

    pub fn schema_name(&self) -> Option<String> {
        self.converter.schema_name()
    }

    /// Source hashes of the current rows, to skip unchanged records.
    /// The layer of the source file read.
    pub fn layer_name(&self) -> &str {
        &self.layer
    }

    /// See [`Converter::set_layer_authority`].
    pub fn set_layer_authority(&mut self, has: bool) {
        self.converter.set_layer_authority(has);
    }

    pub fn set_current(&mut self, current: Arc<kovgis_store::import::CurrentParcels>) {
        self.converter.set_current(current);
    }

    /// The GeoPackage change-detection scan for a cadastre (see [`crate::gpkg`]), to run while
    /// the import starts; `None` for other sources.
    pub fn scan_job(&self, cancel: Arc<AtomicBool>) -> Option<crate::gpkg::ScanJob> {
        let code_column = self.converter.code_field()?;
        self.is_gpkg.then(|| crate::gpkg::ScanJob {
            path: self.path.clone(),
            table: self.layer.clone(),
            code_column: code_column.to_owned(),
            salt: self.converter.hash_salt("gpkg"),
            cancel,
        })
    }

    /// Reads every feature, converting and sending batches; stops at the first file-level error.
    /// With a GeoPackage scan's rows, only rows whose hash differs from the current parcel's are
    /// read through GDAL.
    pub fn read_all(
        self,
        scanned: Option<Vec<ScannedRow>>,
        tx: &Sender<Batch>,
    ) -> Result<(), ImportError> {
        let Some(scanned) = scanned else {
            return self.read_ranges(None, tx);
        };
        tracing::debug!(rows = scanned.len(), "GeoPackage rows hashed");
        // GeoPackage cadastre: unchanged rows are known from SQLite; GDAL reads the rest.
        let first_fid = scanned.iter().map(|r| r.fid).min().unwrap_or(0);
        let mut need = HashMap::new();
        let mut batch = Batch::default();
        for row in scanned {
            match row.key {
                Some(key)
                    if self
                        .converter
                        .current()
                        .get(&key)
                        .is_some_and(|c| c.source_hash == row.hash) =>
                {
                    batch.read += 1;
                    batch.unchanged.push(key);
                    if batch.unchanged.len() >= BATCH * 50
                        && tx.blocking_send(std::mem::take(&mut batch)).is_err()
                    {
                        return Ok(());
                    }
                }
                _ => {
                    need.insert(row.fid, row.hash);
                }
            }
        }
        if batch.read > 0 && tx.blocking_send(batch).is_err() {
            return Ok(());
        }
        tracing::debug!(changed = need.len(), "unchanged rows passed on");
        let total = self.feature_count.unwrap_or(0);
        if (need.len() as u64) * 5 > total {
            return self.read_ranges(Some(&need), tx);
        }
        // Few changed: fetch them by feature id.
        let mut fids: Vec<u64> = need.keys().copied().collect();
        fids.sort_unstable();
        let ds = open(&self.path)?;
        let layer = self.layer_of(&ds)?;
        let mut converter = self.converter.clone();
        let mut batch = Batch::default();
        for fid in fids {
            let Some(feature) = layer.feature(fid) else {
                return Err(ImportError::Source {
                    path: self.path.clone(),
                    reason: format!("feature {fid} is in the table but GDAL cannot read it"),
                });
            };
            converter.convert(
                fid - first_fid,
                &feature,
                Some(need[&fid].to_vec()),
                &mut batch,
            )?;
            if batch.read as usize >= BATCH && tx.blocking_send(std::mem::take(&mut batch)).is_err()
            {
                return Ok(());
            }
        }
        self.finish_reading(batch, tx)
    }

    fn layer_of<'d>(&self, ds: &'d Dataset) -> Result<gdal::vector::Layer<'d>, ImportError> {
        ds.layer_by_name(&self.layer)
            .map_err(|e| ImportError::Source {
                path: self.path.clone(),
                reason: e.to_string(),
            })
    }

    /// Reads the features (those in `need` only, when given) in one pass, or in two parallel
    /// passes over two FID ranges for a large file.
    fn read_ranges(&self, need: Option<&Need>, tx: &Sender<Batch>) -> Result<(), ImportError> {
        // Large files are read by two threads over two FID ranges: GDAL readers of one file are
        // independent, and conversion is most of the work.
        let parallel = self.feature_count.is_some_and(|n| n >= PARALLEL_FROM);
        if !parallel {
            return self.read_range(None, need, self.converter.clone(), tx);
        }
        let first_fid = {
            let ds = open(&self.path)?;
            let mut layer = self.layer_of(&ds)?;
            layer.features().next().and_then(|f| f.fid()).unwrap_or(0)
        };
        let mid = first_fid + self.feature_count.unwrap_or(0) / 2;
        std::thread::scope(|scope| {
            let upper = scope.spawn(|| {
                self.read_range(
                    Some((format!("FID >= {mid}"), first_fid)),
                    need,
                    self.converter.clone(),
                    tx,
                )
            });
            let lower = self.read_range(
                Some((format!("FID < {mid}"), first_fid)),
                need,
                self.converter.clone(),
                tx,
            );
            let upper = upper
                .join()
                .map_err(|_| ImportError::Internal("a reader thread panicked".into()))?;
            lower.and(upper)
        })
    }

    /// Reads the features passing `filter` (an OGR attribute filter and the file's first FID,
    /// from which feature indexes count), or all features in order.
    fn read_range(
        &self,
        filter: Option<(String, u64)>,
        need: Option<&Need>,
        mut converter: Converter,
        tx: &Sender<Batch>,
    ) -> Result<(), ImportError> {
        let ds = open(&self.path)?;
        let mut layer = self.layer_of(&ds)?;
        let first_fid = match &filter {
            Some((f, first)) => {
                layer
                    .set_attribute_filter(f)
                    .map_err(|e| ImportError::Source {
                        path: self.path.clone(),
                        reason: format!("cannot split the reading by FID: {e}"),
                    })?;
                Some(*first)
            }
            None => None,
        };
        let mut batch = Batch::default();
        for (position, feature) in layer.features().enumerate() {
            let index = match (first_fid, feature.fid()) {
                (Some(first), Some(fid)) => fid.saturating_sub(first),
                _ => position as u64,
            };
            let known = match (need, feature.fid()) {
                (None, _) => None,
                (Some(need), Some(fid)) => match need.get(&fid) {
                    Some(hash) => Some(hash.to_vec()),
                    None => continue, // unchanged, already passed on
                },
                (Some(_), None) => None,
            };
            converter.convert(index, &feature, known, &mut batch)?;
            if batch.read as usize >= BATCH && tx.blocking_send(std::mem::take(&mut batch)).is_err()
            {
                return Ok(()); // the importer stopped listening: it has its own error
            }
        }
        self.finish_reading(batch, tx)
    }

    /// Reports what GDAL said went wrong, or sends the last batch.
    fn finish_reading(&self, batch: Batch, tx: &Sender<Batch>) -> Result<(), ImportError> {
        let said = take_gdal_errors();
        if !said.is_empty() {
            return Err(ImportError::Source {
                path: self.path.clone(),
                reason: format!("reading stopped with an error: {said}"),
            });
        }
        if batch.read > 0 {
            let _ = tx.blocking_send(batch);
        }
        Ok(())
    }
}
