//! The validation index follows the data: an import over gRPC, a rule version added in the
//! database, and a date before the index's newest data (answered from the history in PostGIS).
//! Each test has a database of its own.

mod common;

use std::time::Duration;

use common::validation::*;
use common::*;
use kovgis_core::InputLimits;
use kovgis_testkit::wait;

/// Validates until the noise zone is (or is not) among the findings; the index is rebuilt in
/// the background after an import's notification.
async fn wait_for_noise(
    s: &mut TestServer,
    r: impl Fn() -> v1::ValidateGeometryRequest,
    present: bool,
) -> Option<v1::Finding> {
    let seen = wait::until(Duration::from_secs(10), Duration::from_millis(100), || {
        let (mut client, req) = (s.client.clone(), r());
        async move {
            let report = client.validate_geometry(req).await.unwrap().into_inner();
            let f = report
                .findings
                .into_iter()
                .find(|f| f.layer_name == "noise-zones");
            (f.is_some() == present).then_some(f)
        }
    })
    .await;
    seen.expect("the index did not follow the import within 10 s")
}

#[tokio::test]
async fn an_import_is_seen_by_the_next_validation() {
    let db = FreshDb::new("refresh").await;
    let mut s = TestServer::start_on(&db.url, InputLimits::default()).await;
    let (x, y) = (657_480.0, 6_477_160.0);
    let proposal = || request("0793", &square(x, y, 8.0));
    let before = validate(&mut s, proposal()).await;
    assert!(
        !before
            .findings
            .iter()
            .any(|f| f.layer_name == "noise-zones")
    );
    // A new restriction layer covering the footprint, imported over gRPC.
    import_noise_zone(&mut s, x - 10.0, y - 10.0, 40.0).await;
    let f = wait_for_noise(&mut s, proposal, true).await.unwrap();
    assert_eq!(
        (f.feature_id.as_str(), f.authority.as_str()),
        ("N1", "Terviseamet")
    );
    assert!((f.overlap_area_m2.unwrap() - 64.0).abs() < 1e-6);
    drop(s);
    db.drop_db().await;
}

#[tokio::test]
async fn a_rule_version_added_in_the_database_applies_to_the_next_validation() {
    let db = FreshDb::new("rules").await;
    let mut s = TestServer::start_on(&db.url, InputLimits::default()).await;
    let c = db.sql().await;
    // A footprint 5 m from its parcel boundary: clear of the national 4 m setback.
    let (x, y) = point_inside_a_parcel(&c).await;
    let proposal = || request("0793", &square(x - 1.0, y - 1.0, 2.0));
    let setback = |r: &v1::ValidationReport| {
        r.findings
            .iter()
            .find(|f| f.rule == "SETBACK")
            .map(|f| (f.code.clone(), f.rule_version))
            .unwrap()
    };
    assert_eq!(
        setback(&validate(&mut s, proposal()).await),
        ("SETBACK_OK".into(), 1)
    );
    // Tartu adopts a 100 m setback from today: a new row, no import, no restart.
    c.batch_execute(
        "INSERT INTO validation_rule (code, version, municipality_code, severity, procedures, params, valid_from)
         VALUES ('SETBACK', 2, '0793', 'warning', '{building_permit}', '{\"min_m\": 100}', current_date)",
    )
    .await
    .unwrap();
    let got = wait::until(Duration::from_secs(10), Duration::from_millis(100), || {
        let (mut client, req) = (s.client.clone(), proposal());
        async move {
            let now = setback(&client.validate_geometry(req).await.unwrap().into_inner());
            (now.1 == 2).then_some(now)
        }
    })
    .await;
    assert_eq!(
        got.expect("the new rule version reached the index within 10 s"),
        ("SETBACK_TOO_SMALL".into(), 2)
    );
    drop(s);
    db.drop_db().await;
}

#[tokio::test]
async fn a_past_date_is_answered_from_the_history_in_postgis() {
    let db = FreshDb::new("asof").await;
    let mut s = TestServer::start_on(&db.url, InputLimits::default()).await;
    let c = db.sql().await;
    let (x, y) = (657_480.0, 6_477_160.0);
    let proposal = || request("0793", &square(x, y, 8.0));
    import_noise_zone(&mut s, x - 10.0, y - 10.0, 40.0).await;
    wait_for_noise(&mut s, proposal, true).await;
    let between: std::time::SystemTime = c
        .query_one("SELECT clock_timestamp()", &[])
        .await
        .unwrap()
        .get(0);
    // The zone moves away: the index follows, and no longer sees it.
    import_noise_zone(&mut s, x + 500.0, y + 500.0, 40.0).await;
    wait_for_noise(&mut s, proposal, false).await;
    // Asked for the moment between the imports, the answer is that day's.
    let at = between.duration_since(std::time::UNIX_EPOCH).unwrap();
    let past = v1::ValidateGeometryRequest {
        as_of: Some(prost_types::Timestamp {
            seconds: at.as_secs() as i64,
            nanos: at.subsec_nanos() as i32,
        }),
        ..proposal()
    };
    let then = validate(&mut s, past.clone()).await;
    let f = then
        .findings
        .iter()
        .find(|f| f.layer_name == "noise-zones")
        .expect("the zone as it was then");
    assert!((f.overlap_area_m2.unwrap() - 64.0).abs() < 1e-6);
    // The rest of that day's report matches today's where nothing changed.
    let now = validate(&mut s, proposal()).await;
    assert_eq!(then.parcel_codes, now.parcel_codes);
    for rule in ["WITHIN_PARCEL", "SETBACK", "ZONE_USE", "COVERAGE"] {
        let codes = |r: &v1::ValidationReport| {
            r.findings
                .iter()
                .filter(|f| f.rule == rule)
                .map(|f| f.code.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(codes(&then), codes(&now), "{rule}");
    }
    // In a batch large enough to be split over the cores, the past date (in the last part) is
    // answered for its day and the others for today.
    let mut proposals = vec![proposal(); 129];
    proposals.push(past);
    let batch = s
        .client
        .validate_geometries(v1::ValidateGeometriesRequest { proposals })
        .await
        .unwrap()
        .into_inner()
        .reports;
    let noise = |r: &v1::ValidationReport| r.findings.iter().any(|f| f.layer_name == "noise-zones");
    assert_eq!(batch.len(), 130);
    assert!(
        noise(&batch[129]),
        "the past proposal sees the zone as it was"
    );
    assert!(batch[..129].iter().all(|r| !noise(r)), "today's do not");
    drop(s);
    db.drop_db().await;
}
