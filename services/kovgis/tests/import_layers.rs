//! `kovgis import layer`: an id field and renamed attributes, national and municipal layers.

mod common;

use common::*;
use kovgis_testkit::fixtures;

#[tokio::test]
async fn layers_import_with_an_id_field_and_renamed_attributes() {
    let db = TestDb::new("layer").await;
    let species = fixtures::dir().join("layers/porijogi_species_cat3.geojson");
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
