//! `ListProcedures` with an area and a state (an official's map of the procedures under review
//! around a place) must read only the procedures in that area and state: the index of
//! migration 0015 (municipality, state and area in one GiST index). Without it PostgreSQL took
//! the area's procedures of every state from the area index and intersected them with all of the
//! municipality's procedures from the b-tree of its unique key — 35 ms a call at a million
//! procedures (scripts/bench-procedures.sh, c). Proven on the plan PostgreSQL chooses for the
//! listing's filter, order and limit, EXPLAINed through the service role's caller-scoped path on
//! a municipality with enough procedures that reading all of them would never be chosen if the
//! index were usable.

use kovgis_store::{Caller, Store, StoreConfig};
use kovgis_testkit::db::FreshDb;

const TARTU: &str = "0793";

#[tokio::test]
async fn listing_by_area_and_state_reads_only_that_area_and_state() {
    let db = FreshDb::new("procarea").await;
    let c = db.sql().await;
    // 40 000 Tartu procedures of 8 m squares on a 200 × 200 grid (10 m apart), one in ten under
    // review, the others granted, as the superuser.
    c.batch_execute(
        "INSERT INTO procedure (municipality_code, procedure_type, workflow_id, state, created_by,
                                request_hash, applicant_name, applicant_code, description, geom,
                                intended_use, created_at)
         SELECT '0793', 'building_permit', w.id,
                CASE WHEN (i + j) % 10 = 0 THEN 'under_review' ELSE 'granted' END,
                'test:applicant', 'h' || i || '-' || j, 'Taotleja', '10000001', 'test',
                ST_Multi(ST_MakeEnvelope(658000 + i * 10, 6473000 + j * 10,
                                         658008 + i * 10, 6473008 + j * 10, 3301)),
                'residential_building', now() - (i * 200 + j) * interval '1 minute'
         FROM workflow_version w, generate_series(0, 199) i, generate_series(0, 199) j
         WHERE w.municipality_code IS NULL AND w.procedure_type = 'building_permit';
         ANALYZE procedure;",
    )
    .await
    .unwrap();
    let store = Store::connect(&StoreConfig::new(db.url.clone(), 2))
        .await
        .unwrap();
    let tartu = Caller::municipal("test:tartu-official", TARTU);
    let area: Vec<u8> = c
        .query_one(
            "SELECT ST_AsBinary(ST_MakeEnvelope(659000, 6474000, 659100, 6474100, 3301))",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    // The filter, order and limit of Store::list_procedures with an area and a state.
    let sql = "EXPLAIN SELECT p.id FROM procedure p
               WHERE p.municipality_code = $1 AND p.state = $2
                 AND p.geom && ST_GeomFromWKB($3, 3301) AND ST_Intersects(p.geom, ST_GeomFromWKB($3, 3301))
               ORDER BY p.created_at DESC, p.id DESC LIMIT 51";
    let plan = store
        .query_as(&tartu, sql, &[&TARTU, &"under_review", &area])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        plan.contains("procedure_area"),
        "the listing by area and state does not use the area index:\n{plan}"
    );
    assert!(
        !plan.contains("procedure_municipality_code_created_by_idempotency_key_key")
            && !plan.contains("procedure_listing"),
        "the listing by area and state reads all of the municipality's procedures:\n{plan}"
    );
    // And what it finds is what PostgreSQL finds without any index: the 11 × 11 squares meeting
    // the box (i, j from 100 to 110), of which those with (i + j) % 10 = 0 are under review.
    let found = store
        .query_as(
            &tartu,
            "SELECT count(*) FROM procedure p
             WHERE p.municipality_code = $1 AND p.state = $2
               AND p.geom && ST_GeomFromWKB($3, 3301) AND ST_Intersects(p.geom, ST_GeomFromWKB($3, 3301))",
            &[&TARTU, &"under_review", &area],
        )
        .await
        .unwrap()[0]
        .get::<_, i64>(0);
    let expected: i64 = (100..=110)
        .flat_map(|i| (100..=110).map(move |j| (i, j)))
        .filter(|(i, j)| (i + j) % 10 == 0)
        .count() as i64;
    assert_eq!(found, expected);
    db.drop_db().await;
}
