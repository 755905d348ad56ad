//! What `kovgis import` refuses, skips or repairs: invalid geometries, a dry run, bad files and
//! a cadastral code given twice, each with the message a user sees.

mod common;

use common::tartu::*;
use common::*;
use kovgis_testkit::fixtures;

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
    // The corrected re-send, the same file with --repair, is another import (not "unchanged"):
    // now the bow tie is stored, valid, as two triangles.
    let out = ok(&db.kovgis(&["import", "parcels", p, "--mode", "upsert", "--repair", "-q"]));
    assert!(!out.contains("unchanged since"), "{out}");
    assert_eq!(
        (
            count(&out, "written"),
            count(&out, "repaired"),
            count(&out, "skipped")
        ),
        (1, 1, 0),
        "{out}"
    );
    // Now the same file with the same settings is unchanged…
    let out = ok(&db.kovgis(&["import", "parcels", p, "--mode", "upsert", "--repair", "-q"]));
    assert!(out.contains("unchanged since"), "{out}");
    // …and without --repair it is not (the bow tie is skipped again; upsert keeps it).
    let out = ok(&db.kovgis(&["import", "parcels", p, "--mode", "upsert", "-q"]));
    assert_eq!(
        (count(&out, "written"), count(&out, "skipped")),
        (0, 1),
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
    // Replace mode would close every other parcel of the demo: reported, not done — and more
    // than a real import may close without --allow-shrink, which the dry run says.
    assert_eq!(count(&out, "closed"), 18 + 58, "{out}");
    assert!(
        out.contains("shrink: 76 of 365 current rows closed, 289 incoming; a real import is refused without --allow-shrink"),
        "{out}"
    );
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
    let roads = fixtures::dir().join("layers/tartu_roads.geojson");
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
