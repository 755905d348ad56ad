//! The memory of a first load of the cadastre is bounded: rows it cannot write straight into
//! `parcel` (no known municipality name, a geometry to repair) are held aside only up to
//! `ImportOptions::first_load_aside_bytes`; past it they, and every row after them, go through
//! the stage — and the result is the same: every parcel stored, placed by geometry. Runs in its
//! own database copied from `kovgis_template` (scripts/test.sh creates it).

use kovgis_store::import::{ImportMode, ImportOptions, ImportStart, ImportTarget, ParcelRow};
use kovgis_store::{Caller, Store, StoreConfig};
use kovgis_testkit::db::FreshDb;

/// A 10 m square in Tallinn (L-EST97) as little-endian WKB.
fn square_wkb(x: f64, y: f64) -> Vec<u8> {
    let mut w = vec![1u8];
    w.extend(3u32.to_le_bytes());
    w.extend(1u32.to_le_bytes());
    w.extend(5u32.to_le_bytes());
    for (dx, dy) in [
        (0.0, 0.0),
        (10.0, 0.0),
        (10.0, 10.0),
        (0.0, 10.0),
        (0.0, 0.0),
    ] {
        w.extend((x + dx).to_le_bytes());
        w.extend((y + dy).to_le_bytes());
    }
    w
}

fn parcel(i: usize, municipality_name: Option<&str>) -> ParcelRow {
    let mut r = ParcelRow {
        index: i as i64,
        cadastral_code: format!("99999:002:{i:04}"),
        municipality_name: municipality_name.map(Into::into),
        address: Some(format!("Katse {i}")),
        attributes: serde_json::json!({}),
        wkb: square_wkb(
            546_000.0 + 15.0 * (i % 20) as f64,
            6_592_000.0 + 15.0 * (i / 20) as f64,
        ),
        ..Default::default()
    };
    r.row_hash = r.content_hash();
    r
}

/// Bytes of rows held aside a first load may keep: a few rows' worth.
const BOUND: usize = 2_000;

#[tokio::test]
async fn rows_held_aside_stay_within_the_bound_and_still_arrive() {
    let db = FreshDb::new("firstbound").await;
    let store = Store::connect(&StoreConfig::new(db.url.clone(), 2))
        .await
        .unwrap();
    let c = db.sql().await;
    c.batch_execute("DELETE FROM parcel").await.unwrap();
    let ImportStart::Ready(mut import) = store
        .begin_import(
            &Caller::system("test"),
            ImportTarget::Parcels,
            "first load bound test",
            Some(&format!("{:064x}", 42)),
            ImportOptions {
                mode: ImportMode::Replace,
                first_load_aside_bytes: BOUND,
                ..Default::default()
            },
        )
        .await
        .unwrap()
    else {
        panic!("a new hash is a new version");
    };
    // Rows with a known name go straight in; rows without one (30 of 40, mixed in) must be
    // placed by geometry, and are held aside until the bound is passed.
    let mut most_held = 0;
    for i in 0..40 {
        let name = (i % 4 == 0).then_some("Tallinn");
        import.push_parcel(&parcel(i, name)).await.unwrap();
        let (rows, bytes) = import.held_aside();
        assert!(
            bytes <= BOUND,
            "after row {i}: {rows} rows of {bytes} bytes held aside, more than {BOUND}"
        );
        most_held = most_held.max(rows);
    }
    assert!(most_held > 0, "rows were held aside before the bound");
    let summary = import.finish().await.unwrap();
    assert_eq!(
        (summary.written, summary.dropped.len()),
        (40, 0),
        "{summary:?}"
    );
    let r = c
        .query_one(
            "SELECT count(*), count(DISTINCT cadastral_code), bool_and(municipality_code = '0784')
             FROM parcel WHERE valid_to IS NULL",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (r.get::<_, i64>(0), r.get::<_, i64>(1), r.get::<_, bool>(2),),
        (40, 40, true)
    );
    // The indexes dropped for the load are back.
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'parcel'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 5);
    db.drop_db().await;
}
