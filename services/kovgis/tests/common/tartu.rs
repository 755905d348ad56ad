//! The Tartu fixture parcels (`fixtures/parcels/tartu_kvissentali.geojson`, 289 parcels) as the
//! oracle of the import tests: read from the file itself, rewritten with `ogr2ogr` into the Land
//! Board's cadastre schemas (before and after 08.04.2024, and the GeoPackage names), and checked
//! back in the parcel table.

use std::path::{Path, PathBuf};

use kovgis_testkit::fixtures;

use super::{TestDb, ogr2ogr};

/// The Tartu fixture's 289 parcels, from the fixture file itself: (code, address, uses, pcts, area).
/// (code, address, uses, percentages, registered area).
pub type RegisteredParcel = (String, String, Vec<String>, Vec<i64>, f64);

pub fn tartu_parcels() -> Vec<RegisteredParcel> {
    let text =
        std::fs::read_to_string(fixtures::dir().join("parcels/tartu_kvissentali.geojson")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let p = &f["properties"];
            (
                p["tunnus"].as_str().unwrap().to_owned(),
                p["address"].as_str().unwrap().to_owned(),
                p["purpose"]
                    .as_str()
                    .unwrap()
                    .split(',')
                    .map(str::to_owned)
                    .collect(),
                p["purpose_pct"]
                    .as_str()
                    .unwrap()
                    .split(',')
                    .map(|x| x.parse().unwrap())
                    .collect(),
                p["area"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// The Tartu fixture with its uses split into columns (u1..u3, p1..p3), written once per test
/// directory as GeoJSON layer `tartu_split`, so that ogr2ogr can rename columns into each schema.
pub fn split_source(dir: &Path) -> PathBuf {
    let out = dir.join("tartu_split.geojson");
    if out.exists() {
        return out;
    }
    let text =
        std::fs::read_to_string(fixtures::dir().join("parcels/tartu_kvissentali.geojson")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["name"] = "tartu_split".into();
    for f in v["features"].as_array_mut().unwrap() {
        let p = f["properties"].as_object_mut().unwrap();
        let uses: Vec<String> = p["purpose"]
            .as_str()
            .unwrap()
            .split(',')
            .map(str::to_owned)
            .collect();
        let pcts: Vec<i64> = p["purpose_pct"]
            .as_str()
            .unwrap()
            .split(',')
            .map(|x| x.parse().unwrap())
            .collect();
        for i in 0..3 {
            p.insert(
                format!("u{}", i + 1),
                uses.get(i)
                    .cloned()
                    .map(Into::into)
                    .unwrap_or(serde_json::Value::Null),
            );
            p.insert(
                format!("p{}", i + 1),
                pcts.get(i)
                    .copied()
                    .map(Into::into)
                    .unwrap_or(serde_json::Value::Null),
            );
        }
    }
    std::fs::write(&out, v.to_string()).unwrap();
    out
}

/// OGR SQL renaming the split columns into a Land Board schema.
pub fn schema_sql(names: [&str; 10], extra: &str) -> String {
    let [code, mun, addr, s1, s2, s3, p1, p2, p3, area] = names;
    format!(
        "SELECT tunnus AS {code}, municipality AS {mun}, address AS {addr}, u1 AS {s1}, u2 AS {s2}, u3 AS {s3}, \
         p1 AS {p1}, p2 AS {p2}, p3 AS {p3}, area AS {area}, ownership AS omvorm{extra} FROM tartu_split"
    )
}

pub const OLD: [&str; 10] = [
    "TUNNUS",
    "OV_NIMI",
    "L_AADRESS",
    "SIHT1",
    "SIHT2",
    "SIHT3",
    "SO_PRTS1",
    "SO_PRTS2",
    "SO_PRTS3",
    "PINDALA",
];
pub const NEW: [&str; 10] = [
    "tunnus",
    "ov_nimi",
    "l_aadress",
    "siht1",
    "siht2",
    "siht3",
    "so_prts1",
    "so_prts2",
    "so_prts3",
    "pindala",
];
pub const GPKG: [&str; 10] = [
    "Tunnus",
    "Omavalitsuse_nimi",
    "Lahiaadress",
    "Sihtotstarve_1",
    "Sihtotstarve_2",
    "Sihtotstarve_3",
    "SO_protsent_1",
    "SO_protsent_2",
    "SO_protsent_3",
    "Pindala",
];

/// Writes the Tartu parcels to `out` in `format` with the given schema; returns the path.
pub fn tartu_file(
    dir: &Path,
    file: &str,
    format: &str,
    names: [&str; 10],
    extra_args: &[&str],
) -> PathBuf {
    let out = dir.join(file);
    let src = split_source(dir);
    let sql = schema_sql(names, "");
    let mut args = vec![
        "-f",
        format,
        out.to_str().unwrap(),
        src.to_str().unwrap(),
        "-sql",
        &sql,
        "-nln",
        "katastriyksus",
    ];
    args.extend_from_slice(extra_args);
    ogr2ogr(&args);
    out
}

/// Every Tartu parcel is current in the database with the register's values.
pub async fn assert_tartu_as_registered(db: &TestDb, version: Option<i64>) {
    let c = db.sql().await;
    for (code, address, uses, pcts, area) in tartu_parcels() {
        let row = c
            .query_one(
                "SELECT address, use1_code, use2_code, use3_code, use1_pct, use2_pct, use3_pct, registered_area_m2,
                        municipality_code::text, dataset_version_id
                 FROM parcel WHERE cadastral_code = $1 AND valid_to IS NULL",
                &[&code],
            )
            .await
            .unwrap_or_else(|e| panic!("{code}: {e}"));
        assert_eq!(
            row.get::<_, Option<String>>(0).as_deref(),
            Some(address.as_str()),
            "{code}"
        );
        let got_uses: Vec<String> = (1..4)
            .filter_map(|i| row.get::<_, Option<String>>(i))
            .collect();
        assert_eq!(got_uses, uses, "{code}");
        let got_pcts: Vec<i64> = (4..7)
            .filter_map(|i| row.get::<_, Option<i16>>(i))
            .map(i64::from)
            .collect();
        assert_eq!(got_pcts, pcts, "{code}");
        assert_eq!(row.get::<_, Option<f64>>(7), Some(area), "{code}");
        assert!(["0793", "0796"].contains(&row.get::<_, String>(8).as_str()));
        if let Some(v) = version {
            assert_eq!(row.get::<_, i64>(9), v, "{code}");
        }
    }
}
