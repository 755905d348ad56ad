//! The rows an import is fed (parcels and layer features as a reader made them) and their
//! content hashes, from the canonical encoding of [`super::canonical`]. Not how they are written
//! (see the merge modules).

use super::canonical::{hash, json_part, opt, part};

/// One parcel to stage. Geometry is EPSG:3301 WKB, a (Multi)Polygon.
#[derive(Debug, Clone, Default)]
pub struct ParcelRow {
    /// Position in the source (feature index), for messages.
    pub index: i64,
    pub cadastral_code: String,
    /// The register's municipality name (`OV_NIMI`), matched to `municipality.name`.
    pub municipality_name: Option<String>,
    pub address: Option<String>,
    pub uses: [(Option<String>, Option<i16>); 3],
    pub registered_area_m2: Option<f64>,
    pub attributes: serde_json::Value,
    pub wkb: Vec<u8>,
    /// Invalid geometry to be repaired with `ST_MakeValid`.
    pub needs_repair: bool,
    /// Content hash of everything above but the index.
    pub row_hash: Vec<u8>,
    /// Hash of the source record as read, when the reader computes one: a later import whose
    /// record hashes the same skips it unread (see [`Import::current_source_hashes`]).
    pub source_hash: Option<Vec<u8>>,
}

/// One layer feature to stage. Geometry is EPSG:3301 WKB.
#[derive(Debug, Clone, Default)]
pub struct FeatureRow {
    pub index: i64,
    pub external_id: Option<String>,
    pub attributes: serde_json::Value,
    pub wkb: Vec<u8>,
    pub needs_repair: bool,
    pub row_hash: Vec<u8>,
}

impl ParcelRow {
    /// The canonical encoding of everything stored except the feature index and the source
    /// hash (see [`super::canonical`]): code, municipality name, address, the three uses (code
    /// and percentage, an absent percentage as the byte `0xff`), registered area (the f64's
    /// bits, `u64::MAX` when absent), attributes, WKB, repair flag.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let r = self;
        let mut out = Vec::with_capacity(r.wkb.len() + 256);
        part(&mut out, r.cadastral_code.as_bytes());
        part(&mut out, opt(&r.municipality_name));
        part(&mut out, opt(&r.address));
        for (code, pct) in &r.uses {
            part(&mut out, opt(code));
            match pct {
                Some(p) => part(&mut out, &p.to_le_bytes()),
                None => part(&mut out, b"\xff"),
            }
        }
        let area = r.registered_area_m2.map(f64::to_bits).unwrap_or(u64::MAX);
        part(&mut out, &area.to_le_bytes());
        json_part(&mut out, &r.attributes);
        part(&mut out, &r.wkb);
        part(&mut out, &[r.needs_repair as u8]);
        out
    }

    /// Content hash of [`ParcelRow::canonical_bytes`].
    pub fn content_hash(&self) -> Vec<u8> {
        hash(&self.canonical_bytes())
    }
}

impl FeatureRow {
    /// The canonical encoding of everything stored except the feature index (see
    /// [`super::canonical`]): external id, attributes, WKB, repair flag.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let r = self;
        let mut out = Vec::with_capacity(r.wkb.len() + 128);
        part(&mut out, opt(&r.external_id));
        json_part(&mut out, &r.attributes);
        part(&mut out, &r.wkb);
        part(&mut out, &[r.needs_repair as u8]);
        out
    }

    /// Content hash of [`FeatureRow::canonical_bytes`].
    pub fn content_hash(&self) -> Vec<u8> {
        hash(&self.canonical_bytes())
    }
}
