//! `kovgis import` as a user runs it: the real binary, real files made from the real fixture
//! parcels with `ogr2ogr` (GDAL), and a database of its own per test, copied from the template
//! `scripts/test.sh` prepares (migrated, demo data loaded).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use tokio_postgres::NoTls;

const BIN: &str = env!("CARGO_BIN_EXE_kovgis");

/// A throwaway database copied from the test template; dropped at the end of the test.
struct TestDb {
    url: String,
    name: String,
    admin_url: String,
    pub dir: PathBuf,
}

impl TestDb {
    async fn new(tag: &str) -> TestDb {
        let base = std::env::var("DATABASE_URL")
            .expect("DATABASE_URL is not set: run the tests with scripts/test.sh");
        let (prefix, _db) = base
            .rsplit_once('/')
            .expect("DATABASE_URL has a database name");
        let name = format!("kovgis_t_{tag}_{}", std::process::id());
        let admin_url = format!("{prefix}/postgres");
        let (admin, conn) = tokio_postgres::connect(&admin_url, NoTls).await.unwrap();
        tokio::spawn(conn);
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
            .await
            .unwrap();
        // Copies from one template may not run at the same time.
        admin
            .batch_execute("SELECT pg_advisory_lock(7301)")
            .await
            .unwrap();
        let created = admin
            .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE kovgis_template"))
            .await;
        admin
            .batch_execute("SELECT pg_advisory_unlock(7301)")
            .await
            .unwrap();
        created.expect("cannot copy kovgis_template (scripts/test.sh creates it)");
        let dir = std::env::temp_dir().join(&name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TestDb {
            url: format!("{prefix}/{name}"),
            name,
            admin_url,
            dir,
        }
    }

    async fn sql(&self) -> tokio_postgres::Client {
        let (c, conn) = tokio_postgres::connect(&self.url, NoTls).await.unwrap();
        tokio::spawn(conn);
        c
    }

    fn kovgis(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .env("DATABASE_URL", &self.url)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    }

    async fn drop_db(self) {
        let (admin, conn) = tokio_postgres::connect(&self.admin_url, NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let _ = admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// Runs ogr2ogr and insists it worked.
fn ogr2ogr(args: &[&str]) {
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

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "kovgis failed:\n{}\n{}",
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

/// The number after `key ` in the summary line ("read 18, written 18, …").
fn count(summary: &str, key: &str) -> i64 {
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

/// The Tartu fixture's 289 parcels, from the fixture file itself: (code, address, uses, pcts, area).
/// (code, address, uses, percentages, registered area).
type RegisteredParcel = (String, String, Vec<String>, Vec<i64>, f64);

fn tartu_parcels() -> Vec<RegisteredParcel> {
    let text =
        std::fs::read_to_string(fixtures().join("parcels/tartu_kvissentali.geojson")).unwrap();
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
fn split_source(dir: &Path) -> PathBuf {
    let out = dir.join("tartu_split.geojson");
    if out.exists() {
        return out;
    }
    let text =
        std::fs::read_to_string(fixtures().join("parcels/tartu_kvissentali.geojson")).unwrap();
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
fn schema_sql(names: [&str; 10], extra: &str) -> String {
    let [code, mun, addr, s1, s2, s3, p1, p2, p3, area] = names;
    format!(
        "SELECT tunnus AS {code}, municipality AS {mun}, address AS {addr}, u1 AS {s1}, u2 AS {s2}, u3 AS {s3}, \
         p1 AS {p1}, p2 AS {p2}, p3 AS {p3}, area AS {area}, ownership AS omvorm{extra} FROM tartu_split"
    )
}

const OLD: [&str; 10] = [
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
const NEW: [&str; 10] = [
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
const GPKG: [&str; 10] = [
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
fn tartu_file(
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
async fn assert_tartu_as_registered(db: &TestDb, version: Option<i64>) {
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

fn version_of(summary: &str) -> i64 {
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

/// The parcel digest chain (migration 0005: a full row, then deltas of closed codes and added
/// entries) applied, as code → (source hash, content hash), checked against the parcel table: the
/// cache the next import trusts must say what the table says.
async fn assert_digest_matches_table(db: &TestDb) {
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

#[tokio::test]
async fn each_format_and_both_cadastre_schemas() {
    let db = TestDb::new("formats").await;
    type Case<'a> = (&'a str, &'a str, [&'a str; 10], &'a [&'a str], &'a str);
    let cases: [Case; 5] = [
        (
            "old.shp",
            "ESRI Shapefile",
            OLD,
            &["-lco", "ENCODING=UTF-8"],
            "before 08.04.2024",
        ),
        (
            "new.shp",
            "ESRI Shapefile",
            NEW,
            &["-lco", "ENCODING=UTF-8"],
            "from 08.04.2024",
        ),
        ("long.gpkg", "GPKG", GPKG, &[], "GeoPackage"),
        ("new.geojson", "GeoJSON", NEW, &[], "from 08.04.2024"),
        ("new.fgb", "FlatGeobuf", NEW, &[], "from 08.04.2024"),
    ];
    for (file, format, names, extra, schema) in cases {
        let path = tartu_file(&db.dir, file, format, names, extra);
        let out = ok(&db.kovgis(&[
            "import",
            "parcels",
            path.to_str().unwrap(),
            "--mode",
            "upsert",
            "-q",
        ]));
        assert!(out.contains(schema), "{file}: {out}");
        assert_eq!(count(&out, "read"), 289, "{file}: {out}");
        assert_eq!(count(&out, "skipped"), 0, "{file}: {out}");
        // The first file writes every parcel anew (the demo rows have no content hash); the same
        // data in another format is then unchanged row for row.
        if file == "old.shp" {
            assert_eq!(count(&out, "written"), 289, "{out}");
        } else {
            assert_eq!(
                (count(&out, "written"), count(&out, "unchanged")),
                (0, 289),
                "{file}: {out}"
            );
        }
        assert_tartu_as_registered(&db, None).await;
    }
    db.drop_db().await;
}

#[tokio::test]
async fn estonian_letters_survive_a_baltic_code_page() {
    let db = TestDb::new("letters").await;
    let src = split_source(&db.dir);
    let out_path = db.dir.join("cp1257.shp");
    let sql = format!(
        "{} WHERE tunnus IN ('79301:001:0204', '79301:001:0673')",
        schema_sql(OLD, ", 'Šveitsi-Žürii õue äärne öö ÜÕ' AS MARKED")
    );
    ogr2ogr(&[
        "-f",
        "ESRI Shapefile",
        "-lco",
        "ENCODING=CP1257",
        out_path.to_str().unwrap(),
        src.to_str().unwrap(),
        "-sql",
        &sql,
    ]);
    let cpg = std::fs::read_to_string(out_path.with_extension("cpg")).unwrap();
    assert!(cpg.contains("1257"), "{cpg}");
    // The DBF really holds single-byte CP1257, not UTF-8.
    let dbf = std::fs::read(out_path.with_extension("dbf")).unwrap();
    assert!(
        dbf.windows(2).all(|w| w != "ü".as_bytes()),
        "DBF is UTF-8, test proves nothing"
    );
    ok(&db.kovgis(&[
        "import",
        "parcels",
        out_path.to_str().unwrap(),
        "--mode",
        "upsert",
        "-q",
    ]));
    let c = db.sql().await;
    let row = c
        .query_one("SELECT address, attributes->>'MARKED' FROM parcel WHERE cadastral_code = '79301:001:0204' AND valid_to IS NULL", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "Aruküla tee 30");
    assert_eq!(row.get::<_, String>(1), "Šveitsi-Žürii õue äärne öö ÜÕ");
    let river: String = c
        .query_one("SELECT address FROM parcel WHERE cadastral_code = '79301:001:0673' AND valid_to IS NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(river, "Emajõgi V3");
    db.drop_db().await;
}

#[tokio::test]
async fn wgs84_source_is_transformed_to_lest97() {
    let db = TestDb::new("crs").await;
    let path = tartu_file(
        &db.dir,
        "wgs84.geojson",
        "GeoJSON",
        NEW,
        &["-t_srs", "EPSG:4326", "-lco", "COORDINATE_PRECISION=10"],
    );
    let out = ok(&db.kovgis(&[
        "import",
        "parcels",
        path.to_str().unwrap(),
        "--mode",
        "upsert",
        "-q",
    ]));
    assert!(out.contains("EPSG:4326"), "{out}");
    // Each parcel lands where the register has it: the new version against the demo's
    // (untransformed) one, within 1 cm everywhere.
    let c = db.sql().await;
    let worst: f64 = c
        .query_one(
            "SELECT max(ST_HausdorffDistance(n.geom, o.geom)) FROM parcel n
             JOIN parcel o ON o.cadastral_code = n.cadastral_code AND o.valid_to IS NOT NULL
             WHERE n.valid_to IS NULL AND n.dataset_version_id = $1",
            &[&version_of(&out)],
        )
        .await
        .unwrap()
        .get(0);
    assert!(worst < 0.01, "worst displacement {worst} m");
    db.drop_db().await;
}

/// A GeoJSON FeatureCollection of parcels in the new schema, from (code, ring) pairs.
fn parcel_geojson(parcels: &[(&str, &str, &str)]) -> String {
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

const SQUARE: &str =
    "[[546000,6592000],[546010,6592000],[546010,6592010],[546000,6592010],[546000,6592000]]";
const BOW_TIE: &str =
    "[[546100,6592000],[546110,6592010],[546110,6592000],[546100,6592010],[546100,6592000]]";

#[tokio::test]
async fn invalid_geometries_are_skipped_or_repaired() {
    let db = TestDb::new("invalid").await;
    let path = db.dir.join("invalid.geojson");
    std::fs::write(
        &path,
        parcel_geojson(&[
            ("99999:001:0001", "Ruut 1", SQUARE),
            ("99999:001:0002", "Liblikas 2", BOW_TIE),
        ]),
    )
    .unwrap();
    let p = path.to_str().unwrap();
    let out = ok(&db.kovgis(&["import", "parcels", p, "--mode", "upsert", "-q"]));
    assert_eq!(
        (count(&out, "written"), count(&out, "skipped")),
        (1, 1),
        "{out}"
    );
    assert!(
        out.contains("feature 1 (99999:001:0002): skipped: invalid geometry"),
        "{out}"
    );
    assert!(out.contains("self-intersect at (546105, 6592005)"), "{out}");
    let c = db.sql().await;
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM parcel WHERE cadastral_code = '99999:001:0002'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    // The same file again with --repair: now the bow tie is stored, valid, as two triangles.
    let out = ok(&db.kovgis(&["import", "parcels", p, "--mode", "upsert", "--repair", "-q"]));
    assert_eq!(
        out.matches("unchanged since").count(),
        1,
        "same bytes: {out}"
    );
    std::fs::write(
        &path,
        parcel_geojson(&[
            ("99999:001:0001", "Ruut 1", SQUARE),
            ("99999:001:0002", "Liblikas 2 ", BOW_TIE),
        ]),
    )
    .unwrap();
    let out = ok(&db.kovgis(&["import", "parcels", p, "--mode", "upsert", "--repair", "-q"]));
    assert_eq!(
        (count(&out, "repaired"), count(&out, "skipped")),
        (1, 0),
        "{out}"
    );
    let row = c
        .query_one(
            "SELECT ST_IsValid(geom), ST_NumGeometries(geom), ST_Area(geom) FROM parcel
             WHERE cadastral_code = '99999:001:0002' AND valid_to IS NULL",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0));
    assert_eq!(row.get::<_, i32>(1), 2);
    assert!((row.get::<_, f64>(2) - 50.0).abs() < 1e-6);
    db.drop_db().await;
}

#[tokio::test]
async fn dry_run_writes_nothing() {
    let db = TestDb::new("dryrun").await;
    let path = tartu_file(&db.dir, "new.gpkg", "GPKG", GPKG, &[]);
    let c = db.sql().await;
    let before: (i64, i64) = {
        let r = c
            .query_one(
                "SELECT (SELECT count(*) FROM parcel), (SELECT count(*) FROM dataset_version)",
                &[],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    let out = ok(&db.kovgis(&[
        "import",
        "parcels",
        path.to_str().unwrap(),
        "--dry-run",
        "-q",
    ]));
    assert!(out.contains("DRY RUN"), "{out}");
    assert_eq!(count(&out, "written"), 289, "{out}");
    // Replace mode would close every other parcel of the demo: reported, not done.
    assert_eq!(count(&out, "closed"), 18 + 58, "{out}");
    let r = c
        .query_one(
            "SELECT (SELECT count(*) FROM parcel), (SELECT count(*) FROM dataset_version)",
            &[],
        )
        .await
        .unwrap();
    assert_eq!((r.get::<_, i64>(0), r.get::<_, i64>(1)), before);
    db.drop_db().await;
}

#[tokio::test]
async fn update_closes_vanished_parcels_and_keeps_history() {
    let db = TestDb::new("update").await;
    let full = tartu_file(&db.dir, "full.gpkg", "GPKG", GPKG, &[]);
    let out = ok(&db.kovgis(&["import", "parcels", full.to_str().unwrap(), "-q"]));
    let v1 = version_of(&out);
    assert_eq!(
        (count(&out, "written"), count(&out, "closed")),
        (289, 18 + 58),
        "{out}"
    );
    assert_tartu_as_registered(&db, Some(v1)).await;
    assert_digest_matches_table(&db).await;
    // Unchanged file: nothing at all.
    let out = ok(&db.kovgis(&["import", "parcels", full.to_str().unwrap(), "-q"]));
    assert!(out.contains("unchanged since dataset version"), "{out}");

    // The next day's file: two parcels gone (merged into a neighbour, say), one address changed.
    let src = split_source(&db.dir);
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&src).unwrap()).unwrap();
    let features = v["features"].as_array_mut().unwrap();
    features.retain(|f| {
        !["79301:001:0314", "79501:002:0377"].contains(&f["properties"]["tunnus"].as_str().unwrap())
    });
    for f in features.iter_mut() {
        if f["properties"]["tunnus"] == "79301:001:0204" {
            f["properties"]["address"] = "Aruküla tee 30a".into();
        }
    }
    let next_src = db.dir.join("next_split.geojson");
    std::fs::write(&next_src, v.to_string()).unwrap();
    let next = db.dir.join("next.gpkg");
    let sql = schema_sql(GPKG, "");
    ogr2ogr(&[
        "-f",
        "GPKG",
        next.to_str().unwrap(),
        next_src.to_str().unwrap(),
        "-sql",
        &sql,
        "-nln",
        "katastriyksus",
    ]);
    let out = ok(&db.kovgis(&["import", "parcels", next.to_str().unwrap(), "-q"]));
    let v2 = version_of(&out);
    assert_eq!(
        (
            count(&out, "read"),
            count(&out, "written"),
            count(&out, "unchanged"),
            count(&out, "closed")
        ),
        (287, 1, 286, 2),
        "{out}"
    );
    let c = db.sql().await;
    // Vanished parcels are closed, not deleted: the old procedure naming one still finds it.
    for code in ["79301:001:0314", "79501:002:0377"] {
        let r = c
            .query_one("SELECT valid_to IS NOT NULL, dataset_version_id FROM parcel WHERE cadastral_code = $1 ORDER BY valid_from DESC LIMIT 1", &[&code])
            .await
            .unwrap();
        assert!(r.get::<_, bool>(0), "{code} still current");
        assert_eq!(r.get::<_, i64>(1), v1);
    }
    // The changed parcel has two versions meeting at the switch.
    let rows = c
        .query(
            "SELECT address, dataset_version_id, valid_from, valid_to FROM parcel
             WHERE cadastral_code = '79301:001:0204' AND dataset_version_id IN ($1, $2) ORDER BY valid_from",
            &[&v1, &v2],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].get::<_, String>(0), "Aruküla tee 30");
    assert_eq!(rows[1].get::<_, String>(0), "Aruküla tee 30a");
    let closed_at: std::time::SystemTime = rows[0].get(3);
    let opened_at: std::time::SystemTime = rows[1].get(2);
    assert_eq!(closed_at, opened_at);
    assert!(rows[1].get::<_, Option<std::time::SystemTime>>(3).is_none());
    // The update wrote a delta on the digest chain (which the demo load, through the same engine,
    // started), and the chain still says what the table says.
    let kinds: Vec<(i64, String)> = c
        .query(
            "SELECT dataset_version_id, kind FROM parcel_digest ORDER BY dataset_version_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(kinds.first().map(|k| k.1.as_str()), Some("full"));
    assert_eq!(kinds.last(), Some(&(v2, "delta".to_string())));
    assert_digest_matches_table(&db).await;

    // The digest is a cache: gone (a crash empties the unlogged table), the next import reads the
    // table, finds the same changes, and starts a new chain.
    c.batch_execute("DELETE FROM parcel_digest").await.unwrap();
    let out = ok(&db.kovgis(&["import", "parcels", full.to_str().unwrap(), "-q"]));
    assert_eq!(
        (
            count(&out, "written"),
            count(&out, "unchanged"),
            count(&out, "closed")
        ),
        (3, 286, 0),
        "the two parcels are back and the address is as it was: {out}"
    );
    assert_tartu_as_registered(&db, None).await;
    assert_digest_matches_table(&db).await;
    // A version written without a digest (another writer) breaks the chain the same way.
    c.batch_execute(
        "INSERT INTO dataset_version (target, source, file_sha256, mode)
         VALUES ('parcels', 'another writer', repeat('ab', 32), 'upsert')",
    )
    .await
    .unwrap();
    let out = ok(&db.kovgis(&["import", "parcels", next.to_str().unwrap(), "-q"]));
    assert_eq!(
        (
            count(&out, "written"),
            count(&out, "unchanged"),
            count(&out, "closed")
        ),
        (1, 286, 2),
        "{out}"
    );
    assert_digest_matches_table(&db).await;
    db.drop_db().await;
}

#[tokio::test]
async fn a_first_load_writes_straight_into_the_cadastre_and_still_repairs_and_places() {
    let db = TestDb::new("firstload").await;
    let c = db.sql().await;
    c.batch_execute("DELETE FROM parcel").await.unwrap();
    // One plain parcel, one bow tie to repair, one whose municipality name is unknown (placed by
    // the geometry: it lies in Tallinn), one with no municipality name at all.
    let feature = |code: &str, municipality: &str, ring: &str| {
        format!(
            r#"{{"type":"Feature","properties":{{"tunnus":"{code}","l_aadress":"Katse {code}","ov_nimi":{municipality},"siht1":"ELAMUMAA","so_prts1":100,"pindala":100}},
               "geometry":{{"type":"Polygon","coordinates":[{ring}]}}}}"#
        )
    };
    const FAR_SQUARE: &str =
        "[[546200,6592000],[546210,6592000],[546210,6592010],[546200,6592010],[546200,6592000]]";
    const NEAR_SQUARE: &str =
        "[[546300,6592000],[546310,6592000],[546310,6592010],[546300,6592010],[546300,6592000]]";
    let path = db.dir.join("first.geojson");
    std::fs::write(
        &path,
        format!(
            r#"{{"type":"FeatureCollection","crs":{{"type":"name","properties":{{"name":"urn:ogc:def:crs:EPSG::3301"}}}},"features":[{},{},{},{}]}}"#,
            feature("99999:001:0001", "\"Tallinn\"", SQUARE),
            feature("99999:001:0002", "\"Tallinn\"", BOW_TIE),
            feature("99999:001:0003", "\"Atlantis\"", FAR_SQUARE),
            feature("99999:001:0004", "null", NEAR_SQUARE),
        ),
    )
    .unwrap();
    let out = ok(&db.kovgis(&[
        "import",
        "parcels",
        path.to_str().unwrap(),
        "--repair",
        "-q",
    ]));
    assert_eq!(
        (
            count(&out, "written"),
            count(&out, "repaired"),
            count(&out, "skipped")
        ),
        (4, 1, 0),
        "{out}"
    );
    let rows = c
        .query(
            "SELECT cadastral_code, municipality_code::text, ST_IsValid(geom), ST_GeometryType(geom),
                    ST_SRID(geom), address
             FROM parcel WHERE valid_to IS NULL ORDER BY cadastral_code",
            &[],
        )
        .await
        .unwrap();
    let tallinn: String = c
        .query_one(
            "SELECT municipality_code::text FROM municipality WHERE name = 'Tallinn'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows.len(), 4);
    for (i, r) in rows.iter().enumerate() {
        let code = format!("99999:001:000{}", i + 1);
        assert_eq!(r.get::<_, String>(0), code);
        assert_eq!(r.get::<_, String>(1), tallinn, "{code} placed in Tallinn");
        assert!(r.get::<_, bool>(2), "{code} valid");
        assert_eq!(r.get::<_, String>(3), "ST_MultiPolygon", "{code}");
        assert_eq!(r.get::<_, i32>(4), 3301, "{code}");
        assert_eq!(r.get::<_, String>(5), format!("Katse {code}"));
    }
    // The indexes dropped for the load are back, the unique one included.
    let indexes: Vec<String> = c
        .query(
            "SELECT indexname::text FROM pg_indexes WHERE tablename = 'parcel' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        indexes,
        [
            "parcel_code_history",
            "parcel_current_code",
            "parcel_geom_gist",
            "parcel_municipality",
            "parcel_pkey"
        ]
    );
    assert_digest_matches_table(&db).await;
    // A code given twice in a first load is refused, and nothing of it stays.
    c.batch_execute("DELETE FROM parcel").await.unwrap();
    std::fs::write(
        &path,
        format!(
            r#"{{"type":"FeatureCollection","crs":{{"type":"name","properties":{{"name":"urn:ogc:def:crs:EPSG::3301"}}}},"features":[{},{}]}}"#,
            feature("99999:001:0001", "\"Tallinn\"", SQUARE),
            feature("99999:001:0001", "\"Tallinn\"", FAR_SQUARE),
        ),
    )
    .unwrap();
    let out = db.kovgis(&["import", "parcels", path.to_str().unwrap(), "-q"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("99999:001:0001"), "{}", stderr(&out));
    let n: i64 = c
        .query_one("SELECT count(*) FROM parcel", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    db.drop_db().await;
}

/// A GeoJSON of `n` small squares in Tartu, big enough that an import takes a while.
fn many_parcels(path: &Path, n: usize) {
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

/// Waits until an import's COPY is running in `db`.
async fn wait_for_copy(c: &tokio_postgres::Client, db: &str, running: bool) {
    for _ in 0..600 {
        let n: i64 = c
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'COPY import_stage%'",
                &[&db],
            )
            .await
            .unwrap()
            .get(0);
        if (n > 0) == running {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "the import's COPY never {}",
        if running { "started" } else { "ended" }
    );
}

#[tokio::test]
async fn killed_import_leaves_the_previous_version_and_a_second_import_is_refused() {
    let db = TestDb::new("kill").await;
    let big = db.dir.join("big.geojson");
    many_parcels(&big, 150_000);
    let c = db.sql().await;
    let before: (i64, i64, i64) = {
        let r = c
            .query_one(
                "SELECT (SELECT count(*) FROM parcel), (SELECT count(*) FROM parcel WHERE valid_to IS NULL),
                        (SELECT count(*) FROM dataset_version)",
                &[],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1), r.get(2))
    };
    let mut child = Command::new(BIN)
        .args(["import", "parcels", big.to_str().unwrap(), "-q"])
        .env("DATABASE_URL", &db.url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_copy(&c, &db.name, true).await;

    // While it runs, a second import of the cadastre is refused at once, with a reason.
    let small = db.dir.join("small.geojson");
    std::fs::write(
        &small,
        parcel_geojson(&[("99999:001:0001", "Ruut 1", SQUARE)]),
    )
    .unwrap();
    let second = db.kovgis(&[
        "import",
        "parcels",
        small.to_str().unwrap(),
        "--mode",
        "upsert",
        "-q",
    ]);
    assert!(!second.status.success());
    assert!(
        stderr(&second).contains("another import of the cadastre is running"),
        "{}",
        stderr(&second)
    );

    child.kill().unwrap();
    child.wait().unwrap();
    // The server notices the dead client and rolls back; the lock goes with the session.
    wait_for_copy(&c, &db.name, false).await;
    let r = c
        .query_one(
            "SELECT (SELECT count(*) FROM parcel), (SELECT count(*) FROM parcel WHERE valid_to IS NULL),
                    (SELECT count(*) FROM dataset_version)",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (r.get::<_, i64>(0), r.get::<_, i64>(1), r.get::<_, i64>(2)),
        before
    );
    // And the next import goes through.
    let out = ok(&db.kovgis(&[
        "import",
        "parcels",
        small.to_str().unwrap(),
        "--mode",
        "upsert",
        "-q",
    ]));
    assert_eq!(count(&out, "written"), 1, "{out}");
    db.drop_db().await;
}

#[tokio::test]
async fn bad_files_get_clear_errors() {
    let db = TestDb::new("bad").await;
    let d = &db.dir;
    let demo_hashes: Vec<String> = db
        .sql()
        .await
        .query(
            "SELECT file_sha256 FROM dataset_version WHERE target = 'parcels'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    // Missing .prj.
    let shp = tartu_file(d, "noprj.shp", "ESRI Shapefile", NEW, &[]);
    std::fs::remove_file(shp.with_extension("prj")).unwrap();
    let o = db.kovgis(&["import", "parcels", shp.to_str().unwrap(), "-q"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("noprj.shp")
            && stderr(&o).contains("no .prj")
            && stderr(&o).contains("--srs"),
        "{}",
        stderr(&o)
    );
    // …and with the CRS stated it imports.
    let o = db.kovgis(&[
        "import",
        "parcels",
        shp.to_str().unwrap(),
        "--srs",
        "EPSG:3301",
        "--mode",
        "upsert",
        "-q",
    ]);
    assert_eq!(count(&ok(&o), "read"), 289);

    // Truncated GeoPackage.
    let gpkg = tartu_file(d, "cut.gpkg", "GPKG", GPKG, &[]);
    let bytes = std::fs::read(&gpkg).unwrap();
    std::fs::write(&gpkg, &bytes[..bytes.len() / 3]).unwrap();
    let o = db.kovgis(&["import", "parcels", gpkg.to_str().unwrap(), "-q"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("cut.gpkg"), "{}", stderr(&o));

    // Garbage, and an empty file.
    let junk = d.join("junk.shp");
    std::fs::write(&junk, b"this is not a shapefile at all").unwrap();
    let empty = d.join("empty.geojson");
    std::fs::write(&empty, b"").unwrap();
    for f in [&junk, &empty] {
        let o = db.kovgis(&["import", "parcels", f.to_str().unwrap(), "-q"]);
        assert!(!o.status.success());
        assert!(stderr(&o).contains("cannot be read"), "{}", stderr(&o));
    }
    // A valid file with no features would wipe the cadastre in replace mode: refused.
    let none = d.join("none.geojson");
    std::fs::write(&none, parcel_geojson(&[])).unwrap();
    let o = db.kovgis(&["import", "parcels", none.to_str().unwrap(), "-q"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no features"), "{}", stderr(&o));

    // Wrong layer name lists the layers.
    let two = tartu_file(d, "two.gpkg", "GPKG", GPKG, &[]);
    let o = db.kovgis(&[
        "import",
        "parcels",
        two.to_str().unwrap(),
        "--layer",
        "kataster",
        "-q",
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("no layer named 'kataster'") && stderr(&o).contains("katastriyksus"),
        "{}",
        stderr(&o)
    );

    // Not a cadastre.
    let roads = fixtures().join("layers/tartu_roads.geojson");
    let o = db.kovgis(&["import", "parcels", roads.to_str().unwrap(), "-q"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("not a Land Board cadastre file"),
        "{}",
        stderr(&o)
    );

    // Swapped axes stop the import.
    let swapped = d.join("swapped.geojson");
    std::fs::write(
        &swapped,
        parcel_geojson(&[(
            "99999:001:0003",
            "Vale",
            "[[6592000,546000],[6592010,546000],[6592010,546010],[6592000,546000]]",
        )]),
    )
    .unwrap();
    let o = db.kovgis(&["import", "parcels", swapped.to_str().unwrap(), "-q"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("feature 0") && stderr(&o).contains("axes look swapped"),
        "{}",
        stderr(&o)
    );

    // Nothing above changed the cadastre: the only version written is the upsert with --srs.
    let c = db.sql().await;
    let n: i64 = c
        .query_one("SELECT count(*) FROM dataset_version WHERE target = 'parcels' AND file_sha256 <> ALL($1)", &[&demo_hashes])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    db.drop_db().await;
}

#[tokio::test]
async fn layers_import_with_an_id_field_and_renamed_attributes() {
    let db = TestDb::new("layer").await;
    let species = fixtures().join("layers/porijogi_species_cat3.geojson");
    let p = species.to_str().unwrap();
    let out = ok(&db.kovgis(&[
        "import",
        "layer",
        p,
        "--kind",
        "restriction",
        "--name",
        "species-test",
        "--national",
        "--authority",
        "Keskkonnaamet",
        "--map",
        "id=KKR_KOOD",
        "--map",
        "species=NIMI",
        "-q",
    ]));
    assert_eq!(
        (count(&out, "read"), count(&out, "written")),
        (1037, 1037),
        "{out}"
    );
    let c = db.sql().await;
    let r = c
        .query_one(
            "SELECT count(*), count(DISTINCT f.external_id), bool_and(f.attributes ? 'species'), bool_and(NOT f.attributes ? 'NIMI'),
                    max(l.authority)
             FROM feature f JOIN layer l ON l.id = f.layer_id WHERE l.name = 'species-test' AND f.valid_to IS NULL",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r.get::<_, i64>(0), 1037);
    assert_eq!(r.get::<_, i64>(1), 1037);
    assert!(r.get::<_, bool>(2) && r.get::<_, bool>(3));
    assert_eq!(r.get::<_, String>(4), "Keskkonnaamet");
    // Unknown municipality and a bad id field are clear errors.
    let o = db.kovgis(&[
        "import",
        "layer",
        p,
        "--kind",
        "zoning",
        "--name",
        "z",
        "--municipality",
        "0001",
        "-q",
    ]);
    assert!(
        !o.status.success() && stderr(&o).contains("municipality 0001 does not exist"),
        "{}",
        stderr(&o)
    );
    let o = db.kovgis(&[
        "import",
        "layer",
        p,
        "--kind",
        "zoning",
        "--name",
        "z",
        "--national",
        "--map",
        "id=NOPE",
        "-q",
    ]);
    assert!(
        !o.status.success() && stderr(&o).contains("id field 'NOPE' is not in the file"),
        "{}",
        stderr(&o)
    );
    db.drop_db().await;
}

#[tokio::test]
async fn large_files_are_read_in_two_halves_without_losing_a_feature() {
    let db = TestDb::new("halves").await;
    let big = db.dir.join("big.geojson");
    many_parcels(&big, 60_000);
    // Break feature 45 000 (in the second half of the file): it must be reported by its index.
    let text = std::fs::read_to_string(&big).unwrap();
    let needle = r#""l_aadress":"Katse 45000""#;
    let at = text.find(needle).unwrap();
    let coords_at = at + text[at..].find("[[[").unwrap();
    let end = coords_at + text[coords_at..].find("]]]").unwrap() + 3;
    let broken = format!(
        "{}{}{}",
        &text[..coords_at],
        "[[[650000,6470540],[650010,6470550],[650010,6470540],[650000,6470550],[650000,6470540]]]",
        &text[end..]
    );
    std::fs::write(&big, broken).unwrap();
    let out = ok(&db.kovgis(&[
        "import",
        "parcels",
        big.to_str().unwrap(),
        "--mode",
        "upsert",
        "-q",
    ]));
    assert_eq!(
        (
            count(&out, "read"),
            count(&out, "written"),
            count(&out, "skipped")
        ),
        (60_000, 59_999, 1),
        "{out}"
    );
    assert!(
        out.contains("feature 45000 (88000:004:5000): skipped: invalid geometry"),
        "{out}"
    );
    let c = db.sql().await;
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM parcel WHERE cadastral_code LIKE '88%' AND valid_to IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 59_999);
    db.drop_db().await;
}

#[tokio::test]
async fn a_code_given_twice_is_refused() {
    let db = TestDb::new("dups").await;
    let path = db.dir.join("dups.geojson");
    std::fs::write(
        &path,
        parcel_geojson(&[
            ("99999:001:0001", "Üks", SQUARE),
            ("99999:001:0001", "Kaks", SQUARE),
        ]),
    )
    .unwrap();
    let o = db.kovgis(&[
        "import",
        "parcels",
        path.to_str().unwrap(),
        "--mode",
        "upsert",
        "-q",
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("the same key more than once: 99999:001:0001"),
        "{}",
        stderr(&o)
    );
    let n: i64 = db
        .sql()
        .await
        .query_one(
            "SELECT count(*) FROM parcel WHERE cadastral_code = '99999:001:0001'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    db.drop_db().await;
}
