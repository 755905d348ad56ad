//! The canonical byte encoding rows are hashed from: the same row gives the same bytes whatever
//! the order its attributes were inserted in, whichever serde_json features the build unified
//! (`preserve_order` keeps insertion order in `to_string`, `arbitrary_precision` keeps the
//! digits as written), and whatever `Debug` prints. Written down here, pinned by a test whose
//! expected bytes and hash were worked out by hand, so that it can be reproduced outside Rust.
//!
//! The encoding:
//! - a row is a sequence of parts, each written as its length (u64, little-endian) and its
//!   bytes;
//! - an absent text is the single byte `0xff` (never valid UTF-8, so no text equals it);
//! - a JSON value is one tag byte and its payload: `n` null; `t`/`f` true/false; `u` + u64 LE
//!   for an integer ≥ 0, `i` + i64 LE for a negative one, `d` + the f64's bits LE for any other
//!   number; `s` + u64 LE length + UTF-8 bytes for a string; `a` + u64 LE count + the
//!   elements; `o` + u64 LE count + per member (sorted by the key's bytes) the key as u64 LE
//!   length + bytes, then the value.
//!
//! The content hash is the first 16 bytes of SHA-256 over the encoded parts. Not what a row is
//! (see [`super::rows`]).

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Appends a part: its length and its bytes.
pub(super) fn part(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// The bytes of an optional text part.
pub(super) fn opt(s: &Option<String>) -> &[u8] {
    s.as_deref().map(str::as_bytes).unwrap_or(b"\xff")
}

/// The canonical encoding of a JSON value (see the module docs).
pub(super) fn json(out: &mut Vec<u8>, v: &Value) {
    let len = |out: &mut Vec<u8>, n: usize| out.extend_from_slice(&(n as u64).to_le_bytes());
    match v {
        Value::Null => out.push(b'n'),
        Value::Bool(true) => out.push(b't'),
        Value::Bool(false) => out.push(b'f'),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                out.push(b'u');
                out.extend_from_slice(&u.to_le_bytes());
            } else if let Some(i) = n.as_i64() {
                out.push(b'i');
                out.extend_from_slice(&i.to_le_bytes());
            } else {
                out.push(b'd');
                out.extend_from_slice(&n.as_f64().unwrap_or(f64::NAN).to_bits().to_le_bytes());
            }
        }
        Value::String(s) => {
            out.push(b's');
            len(out, s.len());
            out.extend_from_slice(s.as_bytes());
        }
        Value::Array(items) => {
            out.push(b'a');
            len(out, items.len());
            for item in items {
                json(out, item);
            }
        }
        Value::Object(members) => {
            out.push(b'o');
            len(out, members.len());
            let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
            sorted.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            for (k, v) in sorted {
                len(out, k.len());
                out.extend_from_slice(k.as_bytes());
                json(out, v);
            }
        }
    }
}

/// The JSON value's encoding as one part.
pub(super) fn json_part(out: &mut Vec<u8>, v: &Value) {
    let mut bytes = Vec::new();
    json(&mut bytes, v);
    part(out, &bytes);
}

/// The content hash of encoded parts: the first 16 bytes of their SHA-256.
pub(super) fn hash(encoded: &[u8]) -> Vec<u8> {
    Sha256::digest(encoded)[..16].to_vec()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::rows::{FeatureRow, ParcelRow};
    use super::*;

    /// A feature with id "Z1", attributes {"b": 1, "a": "x"}, WKB 01 02 03, no repair. Written
    /// out by hand from the module docs:
    const FEATURE_BYTES: &[u8] = &[
        2, 0, 0, 0, 0, 0, 0, 0, b'Z', b'1', // the id
        46, 0, 0, 0, 0, 0, 0, 0, // the attributes, 46 bytes:
        b'o', 2, 0, 0, 0, 0, 0, 0, 0, // an object of two members, sorted:
        1, 0, 0, 0, 0, 0, 0, 0, b'a', b's', 1, 0, 0, 0, 0, 0, 0, 0, b'x', // "a": "x"
        1, 0, 0, 0, 0, 0, 0, 0, b'b', b'u', 1, 0, 0, 0, 0, 0, 0, 0, // "b": 1
        3, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, // the WKB
        1, 0, 0, 0, 0, 0, 0, 0, 0, // needs_repair = false
    ];

    /// `printf` of [`FEATURE_BYTES`] piped into `sha256sum`, first 32 hex digits:
    /// printf '\x02\0\0\0\0\0\0\0Z1\x2e\0\0\0\0\0\0\0o\x02\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0as\x01\0\0\0\0\0\0\0x\x01\0\0\0\0\0\0\0bu\x01\0\0\0\0\0\0\0\x03\0\0\0\0\0\0\0\x01\x02\x03\x01\0\0\0\0\0\0\0\0' | sha256sum
    const FEATURE_HASH: &str = "84d895c9629ec7c003d9996a80e2e789";

    fn feature() -> FeatureRow {
        FeatureRow {
            index: 7,
            external_id: Some("Z1".into()),
            attributes: json!({"b": 1, "a": "x"}),
            wkb: vec![1, 2, 3],
            needs_repair: false,
            row_hash: Vec::new(),
        }
    }

    #[test]
    fn a_known_feature_encodes_and_hashes_as_worked_out_by_hand() {
        let f = feature();
        assert_eq!(f.canonical_bytes(), FEATURE_BYTES);
        assert_eq!(hex::encode(f.content_hash()), FEATURE_HASH);
    }

    #[test]
    fn key_order_and_number_spelling_do_not_matter_but_values_do() {
        let a: Value = serde_json::from_str(r#"{"b": 1, "a": "x", "c": [1, -2, 0.5]}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"c": [1, -2, 0.5], "a": "x", "b": 1}"#).unwrap();
        let enc = |v: &Value| {
            let mut out = Vec::new();
            json(&mut out, v);
            out
        };
        assert_eq!(enc(&a), enc(&b));
        // 0.5 as written differently is the same number.
        let c: Value = serde_json::from_str(r#"{"c": [1, -2, 5e-1], "a": "x", "b": 1}"#).unwrap();
        assert_eq!(enc(&a), enc(&c));
        for other in [
            json!({"b": 1, "a": "y", "c": [1, -2, 0.5]}),
            json!({"b": "1", "a": "x", "c": [1, -2, 0.5]}),
            json!({"b": 1, "a": "x", "c": [-2, 1, 0.5]}),
            json!({"b": 1, "a": "x", "c": [1, -2, 0.5], "d": null}),
        ] {
            assert_ne!(enc(&a), enc(&other), "{other}");
        }
        // A text cannot pass for a part boundary or an absent value.
        let mut f = feature();
        f.external_id = None;
        let mut g = feature();
        g.external_id = Some(String::new());
        assert_ne!(f.content_hash(), g.content_hash());
    }

    #[test]
    fn parcel_hashes_see_every_stored_part() {
        let base = ParcelRow {
            cadastral_code: "78401:101:0238".into(),
            address: Some("Purje tn 13".into()),
            wkb: vec![1, 2, 3],
            attributes: json!({"a": 1}),
            ..Default::default()
        };
        let h = base.content_hash();
        let mut other = base.clone();
        other.index = 99;
        other.source_hash = Some(vec![9; 16]);
        assert_eq!(
            other.content_hash(),
            h,
            "index and source hash are not content"
        );
        for change in [
            |r: &mut ParcelRow| r.address = Some("Purje tn 14".into()),
            |r: &mut ParcelRow| r.municipality_name = Some("Tallinn".into()),
            |r: &mut ParcelRow| r.wkb.push(4),
            |r: &mut ParcelRow| r.attributes = json!({"a": 2}),
            |r: &mut ParcelRow| r.uses[1].1 = Some(10),
            |r: &mut ParcelRow| r.uses[2].0 = Some("ELAMUMAA".into()),
            |r: &mut ParcelRow| r.registered_area_m2 = Some(1.0),
            |r: &mut ParcelRow| r.needs_repair = true,
        ] {
            let mut r = base.clone();
            change(&mut r);
            assert_ne!(r.content_hash(), h);
        }
        // A use code moved to the percentage's place is another row.
        let mut a = base.clone();
        a.uses[0] = (Some("10".into()), None);
        let mut b = base.clone();
        b.uses[0] = (None, Some(10));
        assert_ne!(a.content_hash(), b.content_hash());
    }
}
