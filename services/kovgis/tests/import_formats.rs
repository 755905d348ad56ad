//! `kovgis import parcels` reads every supported format and both cadastre schemas, keeps the
//! Estonian letters of a Baltic code page, and transforms a WGS 84 source to L-EST97 — checked
//! against the Tartu fixture file itself.

mod common;

use common::tartu::*;
use common::*;

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
