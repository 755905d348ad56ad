//! The rows an import is fed (parcels and layer features as a reader made them) and their
//! content hashes. Not how they are written (see the merge modules).

use sha2::{Digest, Sha256};

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

fn hash_parts(parts: &[&[u8]]) -> Vec<u8> {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize()[..16].to_vec()
}

fn opt(s: &Option<String>) -> &[u8] {
    s.as_deref().map(str::as_bytes).unwrap_or(b"\xff")
}

impl ParcelRow {
    /// Content hash: everything stored except the feature index.
    pub fn content_hash(&self) -> Vec<u8> {
        let r = self;
        let uses = format!("{:?}", r.uses);
        let area = r
            .registered_area_m2
            .map(f64::to_bits)
            .unwrap_or(u64::MAX)
            .to_le_bytes();
        let attrs = r.attributes.to_string();
        hash_parts(&[
            r.cadastral_code.as_bytes(),
            opt(&r.municipality_name),
            opt(&r.address),
            uses.as_bytes(),
            &area,
            attrs.as_bytes(),
            &r.wkb,
            &[r.needs_repair as u8],
        ])
    }
}

impl FeatureRow {
    /// Content hash: everything stored except the feature index.
    pub fn content_hash(&self) -> Vec<u8> {
        let r = self;
        let attrs = r.attributes.to_string();
        hash_parts(&[
            opt(&r.external_id),
            attrs.as_bytes(),
            &r.wkb,
            &[r.needs_repair as u8],
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_see_every_stored_part() {
        let base = ParcelRow {
            cadastral_code: "78401:101:0238".into(),
            address: Some("Purje tn 13".into()),
            wkb: vec![1, 2, 3],
            attributes: serde_json::json!({"a": 1}),
            ..Default::default()
        };
        let h = base.content_hash();
        let mut other = base.clone();
        other.index = 99;
        assert_eq!(other.content_hash(), h, "the feature index is not content");
        for change in [
            |r: &mut ParcelRow| r.address = Some("Purje tn 14".into()),
            |r: &mut ParcelRow| r.wkb.push(4),
            |r: &mut ParcelRow| r.attributes = serde_json::json!({"a": 2}),
            |r: &mut ParcelRow| r.uses[1].1 = Some(10),
            |r: &mut ParcelRow| r.registered_area_m2 = Some(1.0),
        ] {
            let mut r = base.clone();
            change(&mut r);
            assert_ne!(r.content_hash(), h);
        }
    }
}
