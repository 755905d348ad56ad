//! Re-checks: stored reports of active procedures follow the data and the rules.
//!
//! Each test imports a municipal layer of its own over gRPC (the real import path, which
//! queues the re-checks with the boxes of the changed features) and runs the re-check job of
//! the server(s). The expectations are worked out from the rectangles by hand: which procedure a
//! changed feature overlaps, by how many m².

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::layers::{import, recheck_until_done, request_of, restriction, zone};
use common::*;
use kovgis_procedures::{RecheckConfig, Rechecked, Tolerance};
use serde_json::Value;

/// Creates and submits an excavation permit on `area` as the demo applicant.
async fn submitted(s: &Server, area: &str) -> v1::Procedure {
    let mut c = s.client(Some(&s.applicant())).await;
    let p = c
        .create_procedure(create(v1::ProcedureType::ExcavationPermit, area))
        .await
        .unwrap()
        .into_inner();
    c.submit_procedure(v1::SubmitProcedureRequest {
        name: p.name.clone(),
        version: p.version,
        override_blocking_reason: String::new(),
    })
    .await
    .unwrap()
    .into_inner()
}

async fn history(s: &Server, name: &str) -> Vec<v1::ProcedureEvent> {
    s.client(Some(&s.official(TARTU)))
        .await
        .get_procedure_history(v1::GetProcedureHistoryRequest { name: name.into() })
        .await
        .unwrap()
        .into_inner()
        .events
}

async fn get(s: &Server, name: &str) -> v1::Procedure {
    s.client(Some(&s.official(TARTU)))
        .await
        .get_procedure(v1::GetProcedureRequest {
            name: name.into(),
            purpose: "checking the re-check".into(),
        })
        .await
        .unwrap()
        .into_inner()
}

fn rechecks(events: &[v1::ProcedureEvent]) -> Vec<&v1::ProcedureEvent> {
    events.iter().filter(|e| e.action == "recheck").collect()
}

/// Runs the queued re-checks that exist before the test's own change (the demo data's first
/// load queued some): none of them may change a report.
async fn settle(s: &Server) {
    for _ in 0..100 {
        let r = s.api.run_rechecks().await.unwrap();
        assert_eq!(
            r.changed, 0,
            "a re-check of unchanged data changed a report"
        );
        let open: i64 = s
            .store
            .client()
            .await
            .unwrap()
            .query_one("SELECT count(*) FROM recheck_request WHERE finished_at IS NULL AND due_on <= '2027-03-01'", &[])
            .await
            .unwrap()
            .get(0);
        if open == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the demo's re-check requests were not done within 10 s");
}

/// A (on CLEAR_SQUARE) and B (on SHORE_SQUARE, some 190 m away).
const A_ZONE: (f64, f64, f64, f64) = (657_540.0, 6_476_805.0, 657_570.0, 6_476_835.0);

#[tokio::test]
async fn a_zoning_import_changes_one_verdict_with_one_event_and_a_provenance_change_none() {
    let db = FreshDb::new("recheck_zoning").await;
    let s = Server::start(&db.url, Mode::InProcess).await;
    let sql = db.sql().await;
    let a = submitted(&s, CLEAR_SQUARE).await;
    let b = submitted(&s, SHORE_SQUARE).await;
    settle(&s).await;
    let (a_events, b_events) = (
        history(&s, &a.name).await.len(),
        history(&s, &b.name).await.len(),
    );
    let verdict_before = get(&s, &a.name).await.report.unwrap().verdict;
    assert_ne!(verdict_before, v1::Verdict::Blocked as i32);

    // Tartu's new zoning: a park zone under A only (A's 8 m square lies inside the 30 m one).
    let v = import(
        &s,
        "recheck-zoning",
        v1::LayerKind::Zoning,
        "",
        &[zone("Z1", A_ZONE, "Park", &["park"])],
    )
    .await;
    let (id, _) = request_of(&sql, v)
        .await
        .expect("the import queued a re-check");
    // Only A lies in the changed area: one procedure re-checked, one changed.
    assert_eq!(recheck_until_done(&s, &sql, id).await, (1, 1));

    let events = history(&s, &a.name).await;
    assert_eq!(events.len(), a_events + 1);
    let e = events.last().unwrap();
    assert_eq!(e.action, "recheck");
    assert_eq!(
        (e.state_before.as_str(), e.state_after.as_str()),
        ("under_review", "under_review")
    );
    let changes: Value = serde_json::from_str(&e.changes_json).unwrap();
    let findings = changes["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["change"], "appeared");
    assert!(findings[0]["before"].is_null());
    assert_eq!(findings[0]["after"]["code"], "ZONE_USE_NOT_ALLOWED");
    assert_eq!(findings[0]["after"]["feature_id"], "Z1");
    assert_eq!(findings[0]["after"]["severity"], "blocking");
    assert_eq!(changes["verdict"]["after"], "VERDICT_BLOCKED");
    assert!(e.note.contains("recheck-zoning"), "{}", e.note);
    // The stored report is the new one.
    let now = get(&s, &a.name).await;
    assert_eq!(now.report.unwrap().verdict, v1::Verdict::Blocked as i32);
    // B, elsewhere, was not even re-checked.
    assert_eq!(history(&s, &b.name).await.len(), b_events);

    // Idempotent: running the job again writes nothing.
    s.api.run_rechecks().await.unwrap();
    assert_eq!(get(&s, &a.name).await.version, now.version);

    // A new version of the layer with the same answer (only the zone's name changed): A is
    // re-checked, and nothing is written.
    let v2 = import(
        &s,
        "recheck-zoning",
        v1::LayerKind::Zoning,
        "",
        &[zone("Z1", A_ZONE, "Park (renamed)", &["park"])],
    )
    .await;
    assert!(v2 > v);
    let (id2, _) = request_of(&sql, v2).await.unwrap();
    assert_eq!(recheck_until_done(&s, &sql, id2).await, (1, 0));
    assert_eq!(get(&s, &a.name).await.version, now.version);
    assert_eq!(history(&s, &a.name).await.len(), a_events + 1);
    drop(s);
    db.drop_db().await;
}

/// C: an 8 m square; R1 covers its western half (4 × 8 = 32 m²), R2 its eastern half.
const C: (f64, f64) = (657_480.0, 6_477_160.0);
const R1: (f64, f64, f64, f64) = (657_470.0, 6_477_150.0, 657_484.0, 6_477_175.0);
const R2: (f64, f64, f64, f64) = (657_484.0, 6_477_150.0, 657_500.0, 6_477_175.0);
/// R2 moved 2 m east: it covers 2 × 8 = 16 m² of C.
const R2_SMALLER: (f64, f64, f64, f64) = (657_486.0, 6_477_150.0, 657_500.0, 6_477_175.0);

fn key_of(f: &v1::Finding) -> String {
    format!(
        "{}|{}|{}|{}",
        f.rule, f.layer_resource_name, f.feature_id, f.code
    )
}

#[tokio::test]
async fn an_override_stays_with_an_unchanged_finding_and_is_flagged_when_its_finding_changes() {
    let db = FreshDb::new("recheck_overrides").await;
    let s = Server::start(&db.url, Mode::InProcess).await;
    let sql = db.sql().await;
    let v = import(
        &s,
        "recheck-noise",
        v1::LayerKind::Restriction,
        "Terviseamet",
        &[restriction("R1", R1), restriction("R2", R2)],
    )
    .await;
    let (id, _) = request_of(&sql, v).await.unwrap();
    recheck_until_done(&s, &sql, id).await;
    // The index holds the layer now (the request ran on it).
    let c = submitted(&s, &square(C.0, C.1, 8.0)).await;
    let report = c.report.clone().unwrap();
    let hit = |id: &str| {
        report
            .findings
            .iter()
            .find(|f| f.layer_name == "recheck-noise" && f.feature_id == id)
            .unwrap_or_else(|| panic!("no finding of {id}"))
            .clone()
    };
    let (r1, r2) = (hit("R1"), hit("R2"));
    assert!((r1.overlap_area_m2.unwrap() - 32.0).abs() < 1e-6);
    assert!((r2.overlap_area_m2.unwrap() - 32.0).abs() < 1e-6);
    // The official marks both not applicable.
    let mut official = s.client(Some(&s.official(TARTU))).await;
    let mut version = c.version;
    for f in [&r1, &r2] {
        version = official
            .override_finding(v1::OverrideFindingRequest {
                name: c.name.clone(),
                version,
                finding_key: key_of(f),
                reason: "the noise zone is measured for night-time only".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .version;
    }

    // R2 shrinks; R1 is imported unchanged.
    let v2 = import(
        &s,
        "recheck-noise",
        v1::LayerKind::Restriction,
        "Terviseamet",
        &[restriction("R1", R1), restriction("R2", R2_SMALLER)],
    )
    .await;
    let (id2, _) = request_of(&sql, v2).await.unwrap();
    assert_eq!(recheck_until_done(&s, &sql, id2).await, (1, 1));
    let now = get(&s, &c.name).await;
    assert_eq!(now.version, version + 1);
    let by_key: HashMap<&str, &v1::FindingOverride> = now
        .overrides
        .iter()
        .map(|o| (o.finding_key.as_str(), o))
        .collect();
    let kept = by_key[key_of(&r1).as_str()];
    assert!(!kept.needs_review);
    assert_eq!(kept.review_reason, "");
    let flagged = by_key[key_of(&r2).as_str()];
    assert!(flagged.needs_review);
    assert_eq!(flagged.review_reason, "area");
    assert_eq!(flagged.review_version, now.version);
    // The event names the old and the new area.
    let e = history(&s, &c.name).await.pop().unwrap();
    let changes: Value = serde_json::from_str(&e.changes_json).unwrap();
    let f = &changes["findings"][0];
    assert_eq!(f["change"], "area");
    assert_eq!(
        f["before"]["overlap_area_m2"].as_f64().unwrap().round(),
        32.0
    );
    assert_eq!(
        f["after"]["overlap_area_m2"].as_f64().unwrap().round(),
        16.0
    );
    assert_eq!(
        changes["overrides_flagged"],
        serde_json::json!([key_of(&r2)])
    );
    drop(s);
    db.drop_db().await;
}

#[tokio::test]
async fn a_rule_version_that_applies_from_tomorrow_changes_reports_when_tomorrow_comes() {
    let db = FreshDb::new("recheck_rule").await;
    let s = Server::start(&db.url, Mode::InProcess).await;
    let sql = db.sql().await;
    let v = import(
        &s,
        "recheck-noise",
        v1::LayerKind::Restriction,
        "Terviseamet",
        &[restriction("R1", R1)],
    )
    .await;
    let (id, _) = request_of(&sql, v).await.unwrap();
    recheck_until_done(&s, &sql, id).await;
    let c = submitted(&s, &square(C.0, C.1, 8.0)).await;
    let r1 = c
        .report
        .unwrap()
        .findings
        .into_iter()
        .find(|f| f.feature_id == "R1")
        .unwrap();
    assert_eq!(r1.severity, v1::Severity::Warning as i32);
    settle(&s).await;

    // The service's clock says 1 March 2027 (Tallinn). Tartu makes restriction overlaps
    // blocking from 2 March.
    sql.batch_execute(
        "INSERT INTO validation_rule (code, version, municipality_code, severity, procedures, params, valid_from)
         VALUES ('RESTRICTION_OVERLAP', 2, '0793', 'blocking', '{}',
                 '{\"sliver_area_m2\": 0.5, \"sliver_width_m\": 0.1}', '2027-03-02')",
    )
    .await
    .unwrap();
    let id: i64 = sql
        .query_one(
            "SELECT id FROM recheck_request WHERE reason = 'rule' AND due_on = '2027-03-02'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    // Today nothing happens, however often the job runs (and the index has the rule by then).
    for _ in 0..20 {
        let r = s.api.run_rechecks().await.unwrap();
        assert_eq!(r.changed, 0);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let unchanged = get(&s, &c.name).await;
    assert_eq!(unchanged.version, c.version);
    // 2 March 2027, 00:30 in Tallinn (22:30 UTC on 1 March).
    s.set_now(chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2027, 3, 1, 22, 30, 0).unwrap());
    assert_eq!(recheck_until_done(&s, &sql, id).await, (1, 1));
    let now = get(&s, &c.name).await;
    assert_eq!(now.version, c.version + 1);
    let e = history(&s, &c.name).await.pop().unwrap();
    let changes: Value = serde_json::from_str(&e.changes_json).unwrap();
    let f = &changes["findings"][0];
    assert_eq!(f["change"], "severity");
    assert_eq!(
        (
            f["before"]["severity"].as_str(),
            f["after"]["severity"].as_str()
        ),
        (Some("warning"), Some("blocking"))
    );
    assert!(
        e.note
            .contains("RESTRICTION_OVERLAP version 2 applying from 2027-03-02"),
        "{}",
        e.note
    );
    assert_eq!(now.report.unwrap().verdict, v1::Verdict::Blocked as i32);
    drop(s);
    db.drop_db().await;
}

#[tokio::test]
async fn two_instances_rechecking_at_once_write_each_event_once() {
    let db = FreshDb::new("recheck_twice").await;
    // A lease of zero: both instances work the same request at the same time.
    let racing = |api: kovgis_procedures::ProcedureApi| {
        api.with_recheck(RecheckConfig {
            lease: Duration::ZERO,
            // Batches of 3: the eight procedures in three batches, two of them at once.
            batch: 3,
            concurrency: 2,
            tolerance: Tolerance::default(),
            instance: String::new(),
        })
    };
    let one = Server::start_configured(&db.url, Mode::InProcess, racing).await;
    let two = Server::start_configured(&db.url, Mode::InProcess, racing).await;
    let sql = db.sql().await;
    // Eight permits side by side, 10 m apart, all under the zone imported below.
    let mut names = Vec::new();
    for i in 0..8 {
        let p = submitted(
            &one,
            &square(
                657_540.0 + 10.0 * (i % 4) as f64,
                6_476_800.0 + 10.0 * (i / 4) as f64,
                8.0,
            ),
        )
        .await;
        names.push(p.name);
    }
    settle(&one).await;
    let v = import(
        &one,
        "recheck-zoning",
        v1::LayerKind::Zoning,
        "",
        &[zone(
            "Z1",
            (657_530.0, 6_476_790.0, 657_590.0, 6_476_830.0),
            "Park",
            &["park"],
        )],
    )
    .await;
    let (id, _) = request_of(&sql, v).await.unwrap();
    // Both indexes hold the change, then both run at once; with a lease of zero both claim the
    // request and re-check all eight.
    for api in [&one.api, &two.api] {
        for _ in 0..200 {
            if api.index_horizon().await.unwrap().is_some_and(|h| h >= id) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // Each procedure re-checked by both instances at the same moment: exactly one writes.
    let request = kovgis_store::recheck::RecheckRequest {
        id,
        reason: "dataset".into(),
        detail: serde_json::json!({"layer": "recheck-zoning", "dataset_version": v}),
        municipality_code: Some(TARTU.into()),
        has_area: true,
        procedure_types: vec![],
        due_on: chrono::NaiveDate::from_ymd_opt(2027, 3, 1).unwrap(),
    };
    let now = common::start_time();
    let mut written = 0;
    for name in &names {
        let key = kovgis_store::procedures::ProcedureKey {
            municipality_code: TARTU.into(),
            id: name.rsplit('/').next().unwrap().into(),
        };
        let (x, y) = tokio::join!(
            one.api.recheck_procedure(&key, &request, now),
            two.api.recheck_procedure(&key, &request, now)
        );
        let changed = [x.unwrap(), y.unwrap()]
            .iter()
            .filter(|r| matches!(r, Rechecked::Changed(_)))
            .count();
        assert_eq!(changed, 1, "{name}");
        written += changed;
    }
    assert_eq!(written, 8);
    // Then both run the queue at once (a lease of zero lets both claim it): nothing is left to
    // write, and the request is done.
    let (a, b) = tokio::join!(one.api.run_rechecks(), two.api.run_rechecks());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.changed + b.changed, 0, "{a:?} {b:?}");
    assert!(a.requests + b.requests >= 1);
    for name in &names {
        let events = history(&one, name).await;
        assert_eq!(rechecks(&events).len(), 1, "{name}: {events:?}");
    }
    let done: bool = sql
        .query_one(
            "SELECT finished_at IS NOT NULL FROM recheck_request WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert!(done);

    // The zone moves 1 km east, away from all eight: both instances run the queue at once,
    // in batches of three, and every procedure changes once more — one event each, one writer
    // each.
    let v2 = import(
        &one,
        "recheck-zoning",
        v1::LayerKind::Zoning,
        "",
        &[zone(
            "Z1",
            (658_530.0, 6_476_790.0, 658_590.0, 6_476_830.0),
            "Park",
            &["park"],
        )],
    )
    .await;
    let (id2, _) = request_of(&sql, v2).await.unwrap();
    for api in [&one.api, &two.api] {
        for _ in 0..200 {
            if api.index_horizon().await.unwrap().is_some_and(|h| h >= id2) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let (a, b) = tokio::join!(one.api.run_rechecks(), two.api.run_rechecks());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.changed + b.changed, 8, "{a:?} {b:?}");
    for name in &names {
        let events = history(&one, name).await;
        assert_eq!(rechecks(&events).len(), 2, "{name}: {events:?}");
    }
    // Each written re-check has its audit event (16, two per procedure), and the chain the
    // batches appended to still verifies.
    let audited: Vec<(String, i64)> = sql
        .query(
            "SELECT entity_id, count(*) FROM audit_event
             WHERE rpc = 'job:recheck' AND subject = 'system:recheck' GROUP BY 1 ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut ids: Vec<String> = names
        .iter()
        .map(|n| n.rsplit('/').next().unwrap().to_owned())
        .collect();
    ids.sort();
    assert_eq!(
        audited,
        ids.into_iter().map(|id| (id, 2)).collect::<Vec<_>>()
    );
    let chains = one
        .store
        .verify_audit(&kovgis_store::Caller::system("audit-check"), &[])
        .await
        .unwrap();
    let tartu = chains
        .iter()
        .find(|c| c.municipality_code.as_deref() == Some(TARTU))
        .expect("Tartu's chain");
    assert!(tartu.events >= 16, "{tartu:?}");
    assert!(chains.iter().all(|c| c.broken.is_none()), "{chains:?}");
    drop((one, two));
    db.drop_db().await;
}

/// What the request is, its municipality (`None`: the country), its area's WKT (`None`: no
/// area), and the procedures it must touch.
type Case<'a> = (&'a str, Option<&'a str>, Option<String>, Vec<&'a String>);

/// An axis-aligned box as WKT.
fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> String {
    format!("(({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}))")
}

#[tokio::test]
async fn a_request_touches_the_procedures_whose_box_meets_one_of_its_boxes() {
    let db = FreshDb::new("recheck_targets").await;
    let s = Server::start(&db.url, Mode::InProcess).await;
    let sql = db.sql().await;
    // A: 657550–657558 × 6476815–6476823 (CLEAR_SQUARE); B: 657402–657412 × 6476933–6476943.
    let a = submitted(&s, CLEAR_SQUARE).await;
    let b = submitted(&s, SHORE_SQUARE).await;
    let id = |p: &v1::Procedure| p.name.rsplit('/').next().unwrap().to_owned();
    let (a, b) = (id(&a), id(&b));
    // Two nested boxes that both hold A whole: as one MultiPolygon it is not a valid area (a
    // point inside both lies "outside" by the parity of ring crossings), so a test against it
    // as it is would miss A.
    let nested = format!(
        "MULTIPOLYGON({}, {})",
        rect(657_530.0, 6_476_795.0, 657_580.0, 6_476_845.0),
        rect(657_545.0, 6_476_810.0, 657_565.0, 6_476_830.0)
    );
    let cases: Vec<Case> = vec![
        (
            "nested boxes, Tartu",
            Some(TARTU),
            Some(nested.clone()),
            vec![&a],
        ),
        (
            "nested boxes, the country",
            None,
            Some(nested.clone()),
            vec![&a],
        ),
        (
            "nested boxes, Tallinn's request",
            Some(TALLINN),
            Some(nested.clone()),
            vec![],
        ),
        (
            "a box far away",
            Some(TARTU),
            Some(format!(
                "MULTIPOLYGON({})",
                rect(658_000.0, 6_477_500.0, 658_100.0, 6_477_600.0)
            )),
            vec![],
        ),
        (
            // It meets A's south-east corner (657558, 6476815) in one point.
            "a box touching A's corner",
            Some(TARTU),
            Some(format!(
                "MULTIPOLYGON({})",
                rect(657_558.0, 6_476_700.0, 657_600.0, 6_476_815.0)
            )),
            vec![&a],
        ),
        (
            "a box 0.5 m east of A",
            Some(TARTU),
            Some(format!(
                "MULTIPOLYGON({})",
                rect(657_558.5, 6_476_700.0, 657_600.0, 6_476_900.0)
            )),
            vec![],
        ),
        (
            "one box around each, the country",
            None,
            Some(format!(
                "MULTIPOLYGON({}, {})",
                rect(657_549.0, 6_476_814.0, 657_551.0, 6_476_816.0),
                rect(657_411.0, 6_476_942.0, 657_420.0, 6_476_950.0)
            )),
            vec![&a, &b],
        ),
        ("no area: all of Tartu", Some(TARTU), None, vec![&a, &b]),
    ];
    let caller = kovgis_store::Caller::system("recheck");
    for (what, municipality, area, expected) in cases {
        let request_id: i64 = sql
            .query_one(
                "INSERT INTO recheck_request (reason, detail, municipality_code, area, due_on)
                 VALUES ('dataset', '{}', $1, ST_GeomFromText($2, 3301), current_date)
                 RETURNING id",
                &[&municipality, &area],
            )
            .await
            .unwrap()
            .get(0);
        let request = kovgis_store::recheck::RecheckRequest {
            id: request_id,
            reason: "dataset".into(),
            detail: serde_json::json!({}),
            municipality_code: municipality.map(str::to_owned),
            has_area: area.is_some(),
            procedure_types: vec![],
            due_on: chrono::NaiveDate::from_ymd_opt(2027, 3, 1).unwrap(),
        };
        let mut found: Vec<String> = s
            .store
            .recheck_targets(&caller, &request)
            .await
            .unwrap()
            .into_iter()
            .map(|k| k.id)
            .collect();
        found.sort();
        let mut expected: Vec<String> = expected.into_iter().cloned().collect();
        expected.sort();
        assert_eq!(found, expected, "{what}");
    }
    drop(s);
    db.drop_db().await;
}
