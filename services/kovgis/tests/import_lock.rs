//! One import of a dataset at a time: a second is refused while the first runs, and an import
//! killed half-way leaves the previous version as it was.

mod common;

use std::process::{Command, Stdio};

use common::*;

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
    wait_for_copy(&c, true).await;

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
    wait_for_copy(&c, false).await;
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
