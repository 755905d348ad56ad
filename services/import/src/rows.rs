//! Turning GDAL features into stage rows: geometry checks, CRS transform, attribute mapping,
//! the checks of the attributes the rules read (kovgis-core's `layer_attributes`), content hash.
//! Runs on the reader thread.

use std::path::{Path, PathBuf};

use gdal::vector::{Feature, FieldValue};
use geozero::ToGeo;
use kovgis_core::cadastre::{self, CadastreColumns};
use kovgis_core::ingest;
use kovgis_store::import::{CurrentParcels, FeatureRow, ParcelRow};

use crate::{ImportError, ImportKind};

/// A feature that was not imported as it stood, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Feature index in the file (0-based, in reading order).
    pub index: u64,
    /// Its id, when the file gives one (cadastral code, mapped id field).
    pub id: Option<String>,
    pub reason: String,
}

/// How a layer's attributes are stored: which field is the feature id, which are renamed, and
/// whether unlisted fields are kept.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttributeMapping {
    /// Source field whose value is the feature's stable id (`external_id`); features are then
    /// merged by it instead of replaced wholesale.
    pub id_field: Option<String>,
    /// (stored name, source field) pairs.
    pub renames: Vec<(String, String)>,
    /// Keep only the renamed fields.
    pub only_mapped: bool,
}

impl AttributeMapping {
    /// Parses `stored=source` pairs (`id=FIELD` sets the id field).
    pub fn from_pairs<S: AsRef<str>>(pairs: &[S]) -> Result<Self, String> {
        let mut m = AttributeMapping::default();
        for (n, pair) in pairs.iter().enumerate() {
            m.add(pair.as_ref(), &format!("mapping {}", n + 1))?;
        }
        Ok(m)
    }

    /// Reads a mapping file: one `stored = source` per line, `#` comments, `only_mapped = true`.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot be read: {e}", path.display()))?;
        let mut m = AttributeMapping::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            m.add(line, &format!("{}, line {}", path.display(), n + 1))?;
        }
        Ok(m)
    }

    fn add(&mut self, pair: &str, at: &str) -> Result<(), String> {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(format!("{at}: expected stored=source, got '{pair}'"));
        };
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() || v.is_empty() {
            return Err(format!("{at}: expected stored=source, got '{pair}'"));
        }
        match k {
            "id" => self.id_field = Some(v.to_owned()),
            "only_mapped" => {
                self.only_mapped = v
                    .parse()
                    .map_err(|_| format!("{at}: only_mapped takes true or false"))?
            }
            _ => self.renames.push((k.to_owned(), v.to_owned())),
        }
        Ok(())
    }
}

/// Rows and problems from a run of features.
#[derive(Debug, Default)]
pub struct Batch {
    pub items: Vec<Item>,
    /// Parcels whose source record hashes the same as the current one's, as
    /// [`kovgis_core::codes::cadastral_key`]s: nothing to convert or write.
    pub unchanged: Vec<u64>,
    pub read: u64,
    pub skipped: Vec<Problem>,
    pub repair: Vec<Problem>,
}

#[derive(Debug)]
pub enum Item {
    Parcel(ParcelRow),
    Feature(FeatureRow),
}

#[derive(Debug, Clone)]
enum Mode {
    Parcels {
        columns: CadastreColumns,
        attribute: Vec<bool>,
    },
    Layer {
        id: Option<usize>,
        /// Stored name per source field (`None` = not stored).
        names: Vec<Option<String>>,
        /// What the layer holds, for the attribute checks.
        kind: kovgis_core::model::LayerKind,
        /// The layer names an authority (a restriction feature may then omit its own).
        has_authority: bool,
    },
}

/// Converts features of one file.
#[derive(Debug, Clone)]
pub struct Converter {
    /// Source hashes of the current parcels: records that hash the same are not converted.
    current: std::sync::Arc<CurrentParcels>,
    path: PathBuf,
    mode: Mode,
    fields: Vec<String>,
    epsg: u32,
    repair: bool,
    /// [`Converter::hash_salt`] for records hashed as GDAL reads them.
    gdal_salt: Vec<u8>,
}

impl Converter {
    pub fn new(
        path: &Path,
        kind: &ImportKind,
        fields: &[String],
        epsg: u32,
        repair: bool,
    ) -> Result<Self, ImportError> {
        let source_err = |reason: String| ImportError::Source {
            path: path.into(),
            reason,
        };
        let mode = match kind {
            ImportKind::Parcels => {
                let columns = cadastre::detect(fields).map_err(|e| source_err(e.reason))?;
                let mapped = columns.mapped();
                let attribute = (0..fields.len()).map(|i| !mapped.contains(&i)).collect();
                Mode::Parcels { columns, attribute }
            }
            ImportKind::Layer { mapping, spec } => {
                let find = |name: &str| {
                    fields
                        .iter()
                        .position(|f| f == name)
                        .or_else(|| fields.iter().position(|f| f.eq_ignore_ascii_case(name)))
                };
                let id = match &mapping.id_field {
                    Some(f) => Some(find(f).ok_or_else(|| {
                        source_err(format!(
                            "id field '{f}' is not in the file (fields: {})",
                            fields.join(", ")
                        ))
                    })?),
                    None => None,
                };
                let mut names: Vec<Option<String>> = fields
                    .iter()
                    .map(|f| (!mapping.only_mapped).then(|| f.clone()))
                    .collect();
                for (stored, source) in &mapping.renames {
                    let i = find(source).ok_or_else(|| {
                        source_err(format!(
                            "mapped field '{source}' is not in the file (fields: {})",
                            fields.join(", ")
                        ))
                    })?;
                    names[i] = Some(stored.clone());
                }
                Mode::Layer {
                    id,
                    names,
                    kind: spec.kind,
                    has_authority: spec.authority.is_some(),
                }
            }
        };
        let mut converter = Self {
            current: Default::default(),
            path: path.into(),
            mode,
            fields: fields.to_vec(),
            epsg,
            repair,
            gdal_salt: Vec::new(),
        };
        converter.gdal_salt = converter.hash_salt("gdal");
        Ok(converter)
    }

    pub fn set_current(&mut self, current: std::sync::Arc<CurrentParcels>) {
        self.current = current;
    }

    /// Whether the layer has an authority once the import has updated it (the import's, else
    /// the one it had).
    pub fn set_layer_authority(&mut self, has: bool) {
        if let Mode::Layer { has_authority, .. } = &mut self.mode {
            *has_authority = has;
        }
    }

    pub fn current(&self) -> &CurrentParcels {
        &self.current
    }

    /// The source field holding the cadastral code (parcel imports).
    pub fn code_field(&self) -> Option<&str> {
        match &self.mode {
            Mode::Parcels { columns, .. } => Some(&self.fields[columns.cadastral_code]),
            Mode::Layer { .. } => None,
        }
    }

    /// What every source hash of this import starts with: the settings that change the result.
    pub fn hash_salt(&self, format: &str) -> Vec<u8> {
        let mut salt = format!("{format}\n{}\n{}\n", self.epsg, self.repair).into_bytes();
        for f in &self.fields {
            salt.extend_from_slice(f.as_bytes());
            salt.push(0);
        }
        salt
    }

    pub fn schema_name(&self) -> Option<String> {
        match &self.mode {
            Mode::Parcels { columns, .. } => Some(columns.schema.describe().to_owned()),
            Mode::Layer { .. } => None,
        }
    }

    /// Converts one feature into `batch` (a row, or a problem). `source_hash` is the record's
    /// hash when the caller has compared it already (GeoPackage rows); otherwise it is computed
    /// here from the feature as GDAL reads it, and an unchanged parcel is passed on by code only.
    /// Errors only for file-level problems that make the whole import wrong (swapped axes).
    pub fn convert(
        &mut self,
        index: u64,
        feature: &Feature,
        source_hash: Option<Vec<u8>>,
        batch: &mut Batch,
    ) -> Result<(), ImportError> {
        batch.read += 1;
        let values: Vec<Option<FieldValue>> = (0..self.fields.len())
            .map(|i| {
                if is_set(feature, i) {
                    feature.field(i).ok().flatten()
                } else {
                    None
                }
            })
            .collect();
        let id = match &self.mode {
            Mode::Parcels { columns, .. } => text(&values[columns.cadastral_code]),
            Mode::Layer { id, .. } => id.and_then(|i| text(&values[i])),
        };
        let skip = |batch: &mut Batch, reason: String| {
            batch.skipped.push(Problem {
                index,
                id: id.clone(),
                reason,
            });
        };
        let Some(gdal_geometry) = feature.geometry() else {
            skip(batch, "no geometry".into());
            return Ok(());
        };
        let raw = match gdal_geometry.wkb() {
            Ok(raw) => raw,
            Err(e) => {
                skip(batch, format!("geometry cannot be read: {e}"));
                return Ok(());
            }
        };
        let source_hash = match (source_hash, &self.mode) {
            (Some(known), _) => Some(known),
            (None, Mode::Layer { .. }) => None,
            (None, Mode::Parcels { .. }) => {
                // The source record as read, hashed (XXH3-128, see `gpkg`): an unchanged parcel
                // is recognised before any work.
                let mut h = xxhash_rust::xxh3::Xxh3::new();
                h.update(&self.gdal_salt);
                h.update(&(raw.len() as u64).to_le_bytes());
                h.update(&raw);
                for v in &values {
                    hash_field(&mut h, v);
                }
                let hash: [u8; 16] = h.digest128().to_le_bytes();
                if let Some(key) = id.as_deref().and_then(kovgis_core::codes::cadastral_key)
                    && self
                        .current
                        .get(&key)
                        .is_some_and(|c| c.source_hash == hash)
                {
                    batch.unchanged.push(key);
                    return Ok(());
                }
                Some(hash.to_vec())
            }
        };
        let geometry = match geozero::wkb::Wkb(raw.as_slice()).to_geo() {
            Ok(g) => g,
            Err(e) => {
                skip(batch, format!("geometry cannot be read: {e}"));
                return Ok(());
            }
        };
        let (geometry, needs_repair) = match ingest::prepare(geometry, self.epsg) {
            Ok(ingest::Prepared::Valid(g)) => (g, false),
            Ok(ingest::Prepared::Invalid(g, reason)) => {
                let p = Problem {
                    index,
                    id: id.clone(),
                    reason,
                };
                if !self.repair {
                    batch.skipped.push(p);
                    return Ok(());
                }
                batch.repair.push(p);
                (g, true)
            }
            Err(ingest::Rejected::Skip(reason)) => {
                skip(batch, reason);
                return Ok(());
            }
            Err(ingest::Rejected::Stop(reason)) => {
                return Err(ImportError::Feature {
                    path: self.path.clone(),
                    index,
                    reason,
                });
            }
        };

        match &self.mode {
            Mode::Parcels { columns, attribute } => {
                let Some(code) = id.clone() else {
                    skip(batch, "no cadastral code".into());
                    return Ok(());
                };
                if let Err(e) = kovgis_core::codes::parse_cadastral_code("tunnus", &code) {
                    skip(batch, e.reason);
                    return Ok(());
                }
                let geometry = match ingest::as_multipolygon(geometry) {
                    Ok(g) => g,
                    Err(reason) => {
                        skip(batch, reason);
                        return Ok(());
                    }
                };
                let get = |i: Option<usize>| i.and_then(|i| values[i].as_ref());
                let uses = columns.uses.map(|(u, p)| {
                    (
                        get(u).and_then(|v| text(&Some(v.clone()))),
                        get(p)
                            .and_then(number)
                            .map(|n| n.round().clamp(0.0, 100.0) as i16),
                    )
                });
                let row = ParcelRow {
                    index: index as i64,
                    municipality_name: get(columns.municipality_name)
                        .and_then(|v| text(&Some(v.clone()))),
                    address: get(columns.address).and_then(|v| text(&Some(v.clone()))),
                    uses,
                    registered_area_m2: get(columns.registered_area).and_then(number),
                    attributes: serde_json::Value::Object(attributes(&self.fields, &values, |i| {
                        attribute[i].then(|| self.fields[i].clone())
                    })),
                    wkb: kovgis_core::output::to_wkb(&geometry),
                    needs_repair,
                    row_hash: Vec::new(),
                    source_hash,
                    cadastral_code: code,
                };
                let mut row = row;
                row.row_hash = row.content_hash();
                batch.items.push(Item::Parcel(row));
            }
            Mode::Layer {
                names,
                kind,
                has_authority,
                ..
            } => {
                let mut attributes = attributes(&self.fields, &values, |i| names[i].clone());
                // The attributes the rules read, as they read them, or the feature is skipped.
                let problems = kovgis_core::layer_attributes::normalise(
                    *kind,
                    &mut attributes,
                    *has_authority,
                );
                if !problems.is_empty() {
                    skip(batch, problems.join("; "));
                    return Ok(());
                }
                let mut row = FeatureRow {
                    index: index as i64,
                    external_id: id,
                    attributes: serde_json::Value::Object(attributes),
                    wkb: kovgis_core::output::to_wkb(&geometry),
                    needs_repair,
                    row_hash: Vec::new(),
                };
                row.row_hash = row.content_hash();
                batch.items.push(Item::Feature(row));
            }
        }
        Ok(())
    }
}

/// Whether field `idx` of `feature` has a value. GDAL distinguishes *unset* fields (FlatGeobuf
/// and others leave absent attributes unset) from *null* ones; the `gdal` crate's `field()`
/// checks only for null and reads an unset integer as 0, which would turn a missing second
/// intended use into "0 %".
#[allow(unsafe_code)]
fn is_set(feature: &Feature, idx: usize) -> bool {
    let Ok(idx) = i32::try_from(idx) else {
        return false;
    };
    // SAFETY: `c_feature` is the live handle owned by `feature`, borrowed for this call only;
    // OGR_F_IsFieldSet reads it and returns 0 for an out-of-range index.
    unsafe { gdal_sys::OGR_F_IsFieldSet(feature.c_feature(), idx) != 0 }
}

/// Hashes one field value with its type, so that unset, empty, 0 and "0" all differ.
fn hash_field(h: &mut xxhash_rust::xxh3::Xxh3, v: &Option<FieldValue>) {
    let mut bytes = |tag: u8, b: &[u8]| {
        h.update(&[tag]);
        h.update(&(b.len() as u64).to_le_bytes());
        h.update(b);
    };
    match v {
        None => bytes(0, b""),
        Some(FieldValue::StringValue(s)) => bytes(1, s.as_bytes()),
        Some(FieldValue::IntegerValue(i)) => bytes(2, &i.to_le_bytes()),
        Some(FieldValue::Integer64Value(i)) => bytes(3, &i.to_le_bytes()),
        Some(FieldValue::RealValue(r)) => bytes(4, &r.to_bits().to_le_bytes()),
        Some(FieldValue::DateValue(d)) => bytes(5, d.to_string().as_bytes()),
        Some(FieldValue::DateTimeValue(d)) => bytes(6, d.to_rfc3339().as_bytes()),
        Some(other) => bytes(7, format!("{other:?}").as_bytes()),
    }
}

/// Text of a field value (numbers as written), trimmed; empty is none.
fn text(v: &Option<FieldValue>) -> Option<String> {
    let s = match v.as_ref()? {
        FieldValue::StringValue(s) => s.trim().to_owned(),
        FieldValue::IntegerValue(i) => i.to_string(),
        FieldValue::Integer64Value(i) => i.to_string(),
        FieldValue::RealValue(r) => r.to_string(),
        FieldValue::DateValue(d) => d.to_string(),
        FieldValue::DateTimeValue(d) => d.to_rfc3339(),
        _ => return None,
    };
    (!s.is_empty()).then_some(s)
}

fn number(v: &FieldValue) -> Option<f64> {
    match v {
        FieldValue::IntegerValue(i) => Some(*i as f64),
        FieldValue::Integer64Value(i) => Some(*i as f64),
        FieldValue::RealValue(r) if r.is_finite() => Some(*r),
        FieldValue::StringValue(s) => s.trim().replace(',', ".").parse().ok(),
        _ => None,
    }
}

fn json(v: &FieldValue) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        FieldValue::IntegerValue(i) => J::from(*i),
        FieldValue::Integer64Value(i) => J::from(*i),
        FieldValue::RealValue(r) => serde_json::Number::from_f64(*r)
            .map(J::Number)
            .unwrap_or(J::Null),
        FieldValue::StringValue(s) => J::String(s.clone()),
        FieldValue::DateValue(d) => J::String(d.to_string()),
        FieldValue::DateTimeValue(d) => J::String(d.to_rfc3339()),
        FieldValue::IntegerListValue(l) => J::Array(l.iter().map(|i| J::from(*i)).collect()),
        FieldValue::Integer64ListValue(l) => J::Array(l.iter().map(|i| J::from(*i)).collect()),
        FieldValue::RealListValue(l) => J::Array(
            l.iter()
                .map(|r| {
                    serde_json::Number::from_f64(*r)
                        .map(J::Number)
                        .unwrap_or(J::Null)
                })
                .collect(),
        ),
        FieldValue::StringListValue(l) => {
            J::Array(l.iter().map(|s| J::String(s.clone())).collect())
        }
    }
}

fn attributes(
    fields: &[String],
    values: &[Option<FieldValue>],
    stored_name: impl Fn(usize) -> Option<String>,
) -> serde_json::Map<String, serde_json::Value> {
    let mut map = serde_json::Map::new();
    for (i, value) in values.iter().enumerate().take(fields.len()) {
        if let Some(name) = stored_name(i) {
            map.insert(
                name,
                value.as_ref().map(json).unwrap_or(serde_json::Value::Null),
            );
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_pairs_and_file() {
        let m = AttributeMapping::from_pairs(&["id=KKR_KOOD", "species=NIMI"]).unwrap();
        assert_eq!(m.id_field.as_deref(), Some("KKR_KOOD"));
        assert_eq!(m.renames, vec![("species".to_string(), "NIMI".to_string())]);
        assert!(
            AttributeMapping::from_pairs(&["nope"])
                .unwrap_err()
                .contains("stored=source")
        );
        let dir = std::env::temp_dir().join(format!("kovgis-map-{}", std::process::id()));
        std::fs::write(
            &dir,
            "# zoning\nid = ZONE_ID\ndesignation = JUHTOTSTAR  # code\nonly_mapped = true\n",
        )
        .unwrap();
        let m = AttributeMapping::from_file(&dir).unwrap();
        std::fs::remove_file(&dir).unwrap();
        assert!(m.only_mapped);
        assert_eq!(
            m.renames,
            vec![("designation".to_string(), "JUHTOTSTAR".to_string())]
        );
        let bad = std::env::temp_dir().join(format!("kovgis-map-bad-{}", std::process::id()));
        std::fs::write(&bad, "ok = A\nbroken line\n").unwrap();
        let e = AttributeMapping::from_file(&bad).unwrap_err();
        std::fs::remove_file(&bad).unwrap();
        assert!(e.contains("line 2"), "{e}");
    }
}
