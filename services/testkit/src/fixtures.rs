//! The checkout's `fixtures/` folder (demo data, GEOS suites, national generator), for tests
//! that read the files themselves as their oracle.

use std::path::PathBuf;

/// The `fixtures/` folder of the checkout.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// A fixture file (e.g. a GeoJSON FeatureCollection) read as JSON; `rel` is relative to
/// `fixtures/`.
pub fn json(rel: &str) -> serde_json::Value {
    let path = dir().join(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
