//! Shared by the `kovgis import` CLI tests: the real binary run against a database of its own per
//! test (a `kovgis-testkit` copy of the template `scripts/test.sh` prepares) with a scratch folder,
//! `ogr2ogr` (GDAL) to write real files, the summary line read back, small generated parcel files,
//! and checks of what the import left in the database. The Tartu fixture files are in [`tartu`].

#![allow(dead_code)]

pub mod tartu;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use kovgis_testkit::db::FreshDb;
use kovgis_testkit::wait;

pub const BIN: &str = env!("CARGO_BIN_EXE_kovgis");

/// A throwaway database copied from the test template, with a scratch folder for the files a
/// test writes; both dropped at the end of the test.
pub struct TestDb {
    db: FreshDb,
    pub url: String,
    pub dir: PathBuf,
}

impl TestDb {
    pub async fn new(tag: &str) -> TestDb {
        let db = FreshDb::new(tag).await;
        let dir = std::env::temp_dir().join(&db.name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TestDb {
            url: db.url.clone(),
            db,
            dir,
        }
    }

    pub async fn sql(&self) -> tokio_postgres::Client {
        self.db.sql().await
    }

    /// Runs `kovgis` with `args` on this database and waits for it.
    pub fn kovgis(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .env("DATABASE_URL", &self.url)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    }

    /// `kovgis import layer FILE --kind zoning --municipality 0793 --name NAME -q EXTRA…`: a
    /// Tartu zoning layer.
    pub fn import_zoning(&self, file: &Path, name: &str, extra: &[&str]) -> Output {
        let mut args = vec![
            "import",
            "layer",
            file.to_str().unwrap(),
            "--kind",
            "zoning",
            "--municipality",
            "0793",
            "--name",
            name,
            "-q",
        ];
        args.extend_from_slice(extra);
        self.kovgis(&args)
    }

    pub async fn drop_db(self) {
        self.db.drop_db().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs ogr2ogr and insists it worked.
pub fn ogr2ogr(args: &[&str]) {
    let out = Command::new("ogr2ogr")
        .args(args)
        .output()
        .expect("ogr2ogr (Debian gdal-bin) is needed");
    assert!(
        out.status.success(),
        "ogr2ogr failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "kovgis failed:\n{}\n{}",
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

/// The number after `key ` in the summary line ("read 18, written 18, …").
pub fn count(summary: &str, key: &str) -> i64 {
    let line = summary
        .lines()
        .find(|l| l.contains("read "))
        .unwrap_or_else(|| panic!("no summary in {summary}"));
    let at = line
        .find(&format!("{key} "))
        .unwrap_or_else(|| panic!("no '{key}' in {line}"));
    line[at + key.len() + 1..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

pub fn version_of(summary: &str) -> i64 {
    let at = summary
        .find("dataset version ")
        .expect("no version in summary");
    summary[at + 16..]
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// A GeoJSON FeatureCollection of parcels in the new schema, from (code, ring) pairs.
pub fn parcel_geojson(parcels: &[(&str, &str, &str)]) -> String {
    let features: Vec<String> = parcels
        .iter()
        .map(|(code, address, ring)| {
            format!(
                r#"{{"type":"Feature","properties":{{"tunnus":"{code}","l_aadress":"{address}","ov_nimi":"Tallinn","siht1":"ELAMUMAA","so_prts1":100,"pindala":100}},
                   "geometry":{{"type":"Polygon","coordinates":[{ring}]}}}}"#
            )
        })
        .collect();
    format!(
        r#"{{"type":"FeatureCollection","crs":{{"type":"name","properties":{{"name":"urn:ogc:def:crs:EPSG::3301"}}}},"features":[{}]}}"#,
        features.join(",")
    )
}

pub const SQUARE: &str =
    "[[546000,6592000],[546010,6592000],[546010,6592010],[546000,6592010],[546000,6592000]]";
pub const BOW_TIE: &str =
    "[[546100,6592000],[546110,6592010],[546110,6592000],[546100,6592010],[546100,6592000]]";

/// A GeoJSON of `n` small squares in Tartu, big enough that an import takes a while.
pub fn many_parcels(path: &Path, n: usize) {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    write!(f, r#"{{"type":"FeatureCollection","crs":{{"type":"name","properties":{{"name":"urn:ogc:def:crs:EPSG::3301"}}}},"features":["#).unwrap();
    for i in 0..n {
        let (x, y) = (
            650_000.0 + (i % 1000) as f64 * 12.0,
            6_470_000.0 + (i / 1000) as f64 * 12.0,
        );
        if i > 0 {
            write!(f, ",").unwrap();
        }
        write!(
            f,
            r#"{{"type":"Feature","properties":{{"tunnus":"88{:03}:{:03}:{:04}","ov_nimi":"Tartu vald","l_aadress":"Katse {i}","siht1":"MAATULUNDUSMAA","so_prts1":100,"pindala":100}},"geometry":{{"type":"Polygon","coordinates":[[[{x},{y}],[{},{y}],[{},{}],[{x},{}],[{x},{y}]]]}}}}"#,
            i / 10_000_000 % 1000,
            i / 10_000 % 1000,
            i % 10_000,
            x + 10.0,
            x + 10.0,
            y + 10.0,
            y + 10.0
        )
        .unwrap();
    }
    write!(f, "]}}").unwrap();
}

/// Waits until an import's COPY is running (or gone) in `c`'s database.
pub async fn wait_for_copy(c: &tokio_postgres::Client, running: bool) {
    assert!(
        wait::import_copy(c, running, Duration::from_secs(12)).await,
        "the import's COPY never {}",
        if running { "started" } else { "ended" }
    );
}

/// The parcel digest chain (migration 0005: a full row, then deltas of closed codes and added
/// entries) applied, as code → (source hash, content hash), checked against the parcel table: the
/// cache the next import trusts must say what the table says.
pub async fn assert_digest_matches_table(db: &TestDb) {
    let c = db.sql().await;
    let rows = c
        .query(
            "SELECT kind, closed, entries FROM parcel_digest ORDER BY dataset_version_id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        rows.first().map(|r| r.get::<_, String>(0)).as_deref(),
        Some("full")
    );
    let mut digest = std::collections::BTreeMap::new();
    for r in &rows {
        for k in r.get::<_, &[u8]>(1).chunks(8) {
            digest.remove(&u64::from_le_bytes(k.try_into().unwrap()));
        }
        for e in r.get::<_, &[u8]>(2).chunks(40) {
            let key = u64::from_le_bytes(e[..8].try_into().unwrap());
            digest.insert(key, (e[8..24].to_vec(), e[24..40].to_vec()));
        }
    }
    let mut table = std::collections::BTreeMap::new();
    for r in c
        .query(
            "SELECT replace(cadastral_code, ':', '')::bigint, source_hash, row_hash FROM parcel
             WHERE valid_to IS NULL",
            &[],
        )
        .await
        .unwrap()
    {
        let or_zeros = |h: Option<Vec<u8>>| h.unwrap_or_else(|| vec![0; 16]);
        table.insert(
            r.get::<_, i64>(0) as u64,
            (or_zeros(r.get(1)), or_zeros(r.get(2))),
        );
    }
    assert_eq!(digest.len(), table.len(), "digest and table differ in size");
    assert!(digest == table, "the digest differs from the parcel table");
}
