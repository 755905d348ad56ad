//! Imports over imports: an update closes vanished parcels and keeps their history, the first
//! load writes straight into the cadastre, large files are read in two halves — with the parcel
//! digest checked against the table after each.

mod common;

use common::tartu::*;
use common::*;

#[tokio::test]
async fn update_closes_vanished_parcels_and_keeps_history() {
    let db = TestDb::new("update").await;
    let full = tartu_file(&db.dir, "full.gpkg", "GPKG", GPKG, &[]);
    // The Tartu block replacing the demo cadastre would close the 76 other parcels of 365:
    // more than 20 %, refused with the numbers, and nothing changes…
    let before = db
        .sql()
        .await
        .query_one("SELECT count(*), max(dataset_version_id) FROM parcel", &[])
        .await
        .unwrap();
    let (n_before, v_before): (i64, i64) = (before.get(0), before.get(1));
    let o = db.kovgis(&["import", "parcels", full.to_str().unwrap(), "-q"]);
    assert!(!o.status.success(), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("would close 76 of 365 parcels (20.8 %"),
        "{}",
        stderr(&o)
    );
    let after = db
        .sql()
        .await
        .query_one("SELECT count(*), max(dataset_version_id) FROM parcel", &[])
        .await
        .unwrap();
    assert_eq!(
        (after.get::<_, i64>(0), after.get::<_, i64>(1)),
        (n_before, v_before)
    );
    // …unless allowed.
    let out = ok(&db.kovgis(&[
        "import",
        "parcels",
        full.to_str().unwrap(),
        "--allow-shrink",
        "-q",
    ]));
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
