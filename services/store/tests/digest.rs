//! The parcel digest cache (migration 0005) seen through the import engine: an import compares
//! incoming parcels with the current ones it gets from the digest chain when the chain reaches
//! the newest cadastre version (hit), and from the parcel table when there is no digest (miss) or
//! a version was written without one (stale).
//!
//! The table is changed behind the cache's back (a `row_hash` rewritten by SQL, no new version),
//! so that the two sources differ and the test sees which one the import used. Runs in its own
//! database copied from `kovgis_template` (scripts/test.sh creates it).

use kovgis_store::import::{ImportMode, ImportOptions, ImportStart, ImportTarget, ParcelRow};
use kovgis_store::{Caller, Store, StoreConfig};
use kovgis_testkit::db::FreshDb;

/// A triangle in Tartu (L-EST97) as little-endian WKB.
fn triangle_wkb(x: f64, y: f64) -> Vec<u8> {
    let mut w = vec![1u8];
    w.extend(3u32.to_le_bytes());
    w.extend(1u32.to_le_bytes());
    w.extend(4u32.to_le_bytes());
    for (dx, dy) in [(0.0, 0.0), (20.0, 0.0), (0.0, 20.0), (0.0, 0.0)] {
        w.extend((x + dx).to_le_bytes());
        w.extend((y + dy).to_le_bytes());
    }
    w
}

fn parcel(code: &str, address: &str) -> ParcelRow {
    let mut r = ParcelRow {
        cadastral_code: code.into(),
        municipality_name: Some("Tartu linn".into()),
        address: Some(address.into()),
        attributes: serde_json::json!({}),
        wkb: triangle_wkb(659_000.0, 6_474_000.0),
        ..Default::default()
    };
    r.row_hash = r.content_hash();
    r
}

fn options(dry_run: bool) -> ImportOptions {
    ImportOptions {
        mode: ImportMode::Upsert,
        wait_for_lock: true,
        dry_run,
        ..Default::default()
    }
}

/// Imports `rows` (upsert) as a new cadastre version with content hash `n`.
async fn import(store: &Store, n: u32, rows: &[ParcelRow]) {
    let sha = format!("{n:064x}");
    let ImportStart::Ready(mut import) = store
        .begin_import(
            &Caller::system("test"),
            ImportTarget::Parcels,
            "digest test",
            Some(&sha),
            options(false),
        )
        .await
        .unwrap()
    else {
        panic!("a new hash is a new version");
    };
    for r in rows {
        import.push_parcel(r).await.unwrap();
    }
    import.finish().await.unwrap();
}

/// The row hash an import starting now sees as current for `code` (`None`: not current), and
/// how many current parcels it sees. Rolled back.
async fn seen_by_import(store: &Store, code: &str) -> (Option<[u8; 16]>, usize) {
    let ImportStart::Ready(import) = store
        .begin_import(
            &Caller::system("test"),
            ImportTarget::Parcels,
            "digest test",
            None,
            options(true),
        )
        .await
        .unwrap()
    else {
        panic!("a stream without a hash always starts");
    };
    let current = import.current_source_hashes();
    let key = kovgis_core::codes::cadastral_key(code).unwrap();
    let seen = (current.get(&key).map(|c| c.row_hash), current.len());
    import.abort().await.unwrap();
    seen
}

async fn current_row_hash(sql: &tokio_postgres::Client, code: &str) -> [u8; 16] {
    let h: Vec<u8> = sql
        .query_one(
            "SELECT row_hash FROM parcel WHERE cadastral_code = $1 AND valid_to IS NULL",
            &[&code],
        )
        .await
        .unwrap()
        .get(0);
    h.try_into().unwrap()
}

/// Rewrites a current parcel's row hash in the table only: the digest does not hear of it.
async fn tamper(sql: &tokio_postgres::Client, code: &str, byte: u8) -> [u8; 16] {
    let h = [byte; 16];
    sql.execute(
        "UPDATE parcel SET row_hash = $2 WHERE cadastral_code = $1 AND valid_to IS NULL",
        &[&code, &h.to_vec()],
    )
    .await
    .unwrap();
    h
}

async fn current_count(sql: &tokio_postgres::Client) -> usize {
    let n: i64 = sql
        .query_one("SELECT count(*) FROM parcel WHERE valid_to IS NULL", &[])
        .await
        .unwrap()
        .get(0);
    n as usize
}

#[tokio::test]
async fn hit_miss_and_stale_version() {
    let db = FreshDb::new("digest").await;
    let store = Store::connect(&StoreConfig::new(db.url.clone(), 4))
        .await
        .unwrap();
    let sql = db.sql().await;

    // No digest to start from (the demo load wrote one): the first import reads the table and
    // writes a full digest of every current parcel, the second a delta with a changed parcel.
    sql.execute("DELETE FROM parcel_digest", &[]).await.unwrap();
    let a = "79301:099:0001";
    let b = "79301:099:0002";
    import(&store, 1, &[parcel(a, "Esimene 1"), parcel(b, "Teine 2")]).await;
    let b2 = parcel(b, "Teine 2a");
    import(&store, 2, std::slice::from_ref(&b2)).await;
    let kinds: Vec<String> = sql
        .query(
            "SELECT kind FROM parcel_digest ORDER BY dataset_version_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(kinds, ["full", "delta"]);

    // Hit: the chain reaches the newest version, so the import takes the digest, not the table.
    let a_stored = current_row_hash(&sql, a).await;
    tamper(&sql, a, 0xAA).await;
    let (seen_a, n) = seen_by_import(&store, a).await;
    assert_eq!(seen_a, Some(a_stored), "the digest's hash, not the table's");
    assert_eq!(n, current_count(&sql).await, "every current parcel");
    let (seen_b, _) = seen_by_import(&store, b).await;
    assert_eq!(
        seen_b.map(|h| h.to_vec()),
        Some(b2.row_hash.clone()),
        "the delta's entry replaces the full digest's"
    );

    // Stale: a cadastre version written without a digest; the import reads the table.
    sql.execute(
        "INSERT INTO dataset_version (target, source, file_sha256)
         VALUES ('parcels', 'written by hand', repeat('3', 64))",
        &[],
    )
    .await
    .unwrap();
    let (seen_a, n) = seen_by_import(&store, a).await;
    assert_eq!(seen_a, Some([0xAA; 16]), "the table's hash");
    assert_eq!(n, current_count(&sql).await);

    // The next import starts a new full digest from the table; after it the digest is used again.
    import(&store, 4, &[parcel("79301:099:0003", "Kolmas 3")]).await;
    tamper(&sql, a, 0xBB).await;
    let (seen_a, _) = seen_by_import(&store, a).await;
    assert_eq!(seen_a, Some([0xAA; 16]), "a hit on the new full digest");

    // Miss: no digest at all; the import reads the table.
    sql.execute("DELETE FROM parcel_digest", &[]).await.unwrap();
    let (seen_a, n) = seen_by_import(&store, a).await;
    assert_eq!(seen_a, Some([0xBB; 16]), "the table's hash");
    assert_eq!(n, current_count(&sql).await);

    drop(store);
    drop(sql);
    db.drop_db().await;
}
