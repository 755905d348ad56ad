//! Row-level security must not cost the spatial index: under a policy PostgreSQL lets only
//! leakproof conditions use an index, and `ST_Intersects`'s own index support does not count. The
//! service's spatial statements spell the bounding-box test out with `&&` (marked leakproof when
//! the cluster is set up). Proven on the plans PostgreSQL chooses for those very statements,
//! EXPLAINed through the service role's caller-scoped path on a layer large enough that a scan
//! would never be chosen if the index were usable. (The validation benchmark measured
//! QueryFeatures at a fifth of its speed when the statement lacked the `&&`.)

use kovgis_store::{Caller, Store, StoreConfig};
use kovgis_testkit::db::FreshDb;

const TARTU: &str = "0793";

/// A 100 m square (EPSG:3301 WKB) in the middle of the grid below.
async fn small_box_wkb(c: &tokio_postgres::Client) -> Vec<u8> {
    c.query_one(
        "SELECT ST_AsBinary(ST_MakeEnvelope(659000, 6474000, 659100, 6474100, 3301))",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

async fn plan(
    store: &Store,
    caller: &Caller,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> String {
    store
        .query_as(caller, &format!("EXPLAIN {sql}"), params)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn spatial_statements_of_the_service_role_use_the_gist_index() {
    let db = FreshDb::new("rlsindex").await;
    let c = db.sql().await;
    // A Tartu layer of 40 000 squares of 10 m on a 200 × 200 grid, as the superuser.
    let layer_id: i64 = c
        .query_one(
            "WITH v AS (
                 INSERT INTO dataset_version (target, municipality_code, source, file_sha256, author)
                 VALUES ('layer', '0793', 'index test', repeat('b', 64), 'test') RETURNING id),
             l AS (
                 INSERT INTO layer (municipality_code, name, title, kind, description, attribution)
                 VALUES ('0793', 'grid', 'Grid', 'zoning', 'index test', 'test') RETURNING id)
             SELECT l.id FROM l",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    c.batch_execute(&format!(
        "INSERT INTO feature (layer_id, municipality_code, external_id, attributes, geom, valid_from,
                              dataset_version_id)
         SELECT {layer_id}, '0793', 'g' || i || '-' || j, '{{}}',
                ST_MakeEnvelope(658000 + i * 10, 6473000 + j * 10, 658008 + i * 10, 6473008 + j * 10, 3301),
                now(), (SELECT max(id) FROM dataset_version)
         FROM generate_series(0, 199) i, generate_series(0, 199) j;
         ANALYZE feature; ANALYZE parcel;"
    ))
    .await
    .unwrap();
    let store = Store::connect(&StoreConfig::new(db.url.clone(), 2))
        .await
        .unwrap();
    let tartu = Caller::municipal("test:tartu-official", TARTU);
    let area = small_box_wkb(&c).await;

    let features = plan(
        &store,
        &tartu,
        include_str!("../src/sql/query_features.sql"),
        &[&layer_id, &area, &10_000i64, &false, &None::<i64>],
    )
    .await;
    assert!(
        features.contains("feature_geom_gist"),
        "QueryFeatures under row-level security does not use the GiST index:\n{features}"
    );

    let parcels = plan(
        &store,
        &tartu,
        include_str!("../src/sql/find_parcels.sql"),
        &[&area, &None::<String>, &None::<String>, &101i64, &false],
    )
    .await;
    assert!(
        parcels.contains("parcel_geom_gist"),
        "FindParcels under row-level security does not use the GiST index:\n{parcels}"
    );
}
