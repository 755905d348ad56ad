//! Reports are complete and right, through the generated client: a rule that could not be
//! checked says so and why; rule versions apply by their date in Estonia (Europe/Tallinn), not
//! in UTC; the report carries the rule versions used and an id that names exactly what was
//! checked. Tests that write have a database of their own.

mod common;

use std::time::Duration;

use common::validation::*;
use common::*;
use kovgis_core::InputLimits;
use kovgis_testkit::wait;

/// A moment in UTC as a protobuf timestamp.
fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> prost_types::Timestamp {
    let t = chrono::NaiveDate::from_ymd_opt(y, mo, d)
        .unwrap()
        .and_hms_opt(h, mi, 0)
        .unwrap()
        .and_utc();
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: 0,
    }
}

#[tokio::test]
async fn a_footprint_on_no_parcel_has_setback_and_coverage_not_checked_and_why() {
    let mut s = TestServer::start().await;
    let db = sql().await;
    // 10 m square 100 m east of the easternmost Tartu parcel; PostGIS confirms it is on none.
    let row = db
        .query_one(
            "SELECT max(ST_XMax(geom)) + 100, (min(ST_YMin(geom)) + max(ST_YMax(geom))) / 2
             FROM parcel WHERE valid_to IS NULL AND municipality_code = '0793'",
            &[],
        )
        .await
        .unwrap();
    let footprint = square(row.get(0), row.get(1), 10.0);
    let on: i64 = db
        .query_one(
            "SELECT count(*) FROM parcel
             WHERE valid_to IS NULL AND ST_Intersects(geom, ST_GeomFromText($1, 3301))",
            &[&footprint],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(on, 0, "the footprint must be on no parcel");

    let r = validate(&mut s, request("0793", &footprint)).await;
    assert!(r.parcel_codes.is_empty());
    for (rule, severity) in [
        ("SETBACK", v1::Severity::Warning),
        ("COVERAGE", v1::Severity::Blocking),
    ] {
        let found: Vec<&v1::Finding> = r.findings.iter().filter(|f| f.rule == rule).collect();
        assert_eq!(found.len(), 1, "{rule} is in the report: {:#?}", r.findings);
        let f = found[0];
        assert_eq!(f.code, "NOT_CHECKED", "{rule}");
        assert_eq!(f.status, v1::FindingStatus::NotChecked as i32, "{rule}");
        assert_eq!(f.reason, "NO_PARCEL", "{rule}");
        assert!(!f.passed, "{rule}: not checked must not read as passed");
        assert_eq!(f.severity, severity as i32, "{rule}");
        assert_eq!(
            f.message, "not checked: there is no parcel under the proposal",
            "{rule}"
        );
        let v: Vec<&v1::RuleVersionUsed> =
            r.rule_versions.iter().filter(|v| v.rule == rule).collect();
        assert_eq!(v.len(), 1, "{rule}");
        assert_eq!(
            (v[0].version, v[0].status),
            (1, v1::FindingStatus::NotChecked as i32),
            "{rule}"
        );
    }
    assert_ne!(r.verdict, v1::Verdict::Clear as i32);
    // Every rule in force (the eight national ones) is listed and has a finding.
    let listed: Vec<&str> = r.rule_versions.iter().map(|v| v.rule.as_str()).collect();
    assert_eq!(
        listed,
        [
            "GEOMETRY_VALID",
            "WITHIN_PARCEL",
            "SETBACK",
            "ZONE_USE",
            "COVERAGE",
            "RESTRICTION_OVERLAP",
            "DP_REQUIRED",
            "CONFLICTS_WITH_PROCEDURE"
        ]
    );
    for v in &r.rule_versions {
        assert!(r.findings.iter().any(|f| f.rule == v.rule), "{}", v.rule);
        assert_eq!(v.municipality_code, "", "national");
    }
    // Every finding says what became of it.
    assert!(
        r.findings
            .iter()
            .all(|f| f.status != v1::FindingStatus::Unspecified as i32)
    );
}

#[tokio::test]
async fn rule_versions_apply_from_midnight_in_tallinn_winter_and_summer() {
    let db = FreshDb::new("tallinn").await;
    let c = db.sql().await;
    // Tartu's own SETBACK: version 2 from 1 January 2030, version 3 from 1 July 2030. Written
    // before the server starts, so its first index has them.
    c.batch_execute(
        "INSERT INTO validation_rule (code, version, municipality_code, severity, procedures, params, valid_from, valid_to) VALUES
           ('SETBACK', 2, '0793', 'warning', '{building_permit}', '{\"min_m\": 100}', '2030-01-01', '2030-07-01'),
           ('SETBACK', 3, '0793', 'warning', '{building_permit}', '{\"min_m\": 200}', '2030-07-01', NULL)",
    )
    .await
    .unwrap();
    let mut s = TestServer::start_on(&db.url, InputLimits::default()).await;
    let footprint = inside_a_parcel(&c).await;
    let cases = [
        // 21:30 UTC on 31 December is 23:30 in Tallinn (EET, UTC+2): still 2029.
        (utc(2029, 12, 31, 21, 30), 1, ""),
        // 22:30 UTC on 31 December is 00:30 on 1 January in Tallinn: version 2 is in force.
        (utc(2029, 12, 31, 22, 30), 2, "0793"),
        // Summer time (EEST, UTC+3): 20:30 UTC on 30 June is 23:30 in Tallinn, 21:30 UTC is
        // 00:30 on 1 July (UTC+2 would still say 30 June).
        (utc(2030, 6, 30, 20, 30), 2, "0793"),
        (utc(2030, 6, 30, 21, 30), 3, "0793"),
    ];
    for (at, version, owner) in cases {
        let r = validate(
            &mut s,
            v1::ValidateGeometryRequest {
                as_of: Some(at),
                ..request("0793", &footprint)
            },
        )
        .await;
        let setback = r.findings.iter().find(|f| f.rule == "SETBACK").unwrap();
        assert_eq!(setback.rule_version, version, "at {at:?}");
        let used = r
            .rule_versions
            .iter()
            .find(|v| v.rule == "SETBACK")
            .unwrap();
        assert_eq!(
            (used.version, used.municipality_code.as_str()),
            (version, owner),
            "at {at:?}"
        );
        assert_eq!(r.checked_at, Some(at), "the report says when it checked");
        // The 2 m square is 8 m or more from its boundary: clear of 4 m, not of 100 or 200.
        let expected = if version == 1 {
            "SETBACK_OK"
        } else {
            "SETBACK_TOO_SMALL"
        };
        assert_eq!(setback.code, expected, "at {at:?}");
    }
    drop(s);
    db.drop_db().await;
}

/// The id of the report for `req`.
async fn id(s: &mut TestServer, req: v1::ValidateGeometryRequest) -> String {
    let r = validate(s, req).await;
    assert_eq!(r.report_id.len(), 64, "SHA-256 in hex");
    assert!(
        r.report_id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    r.report_id
}

#[tokio::test]
async fn the_report_id_names_exactly_what_was_checked() {
    let db = FreshDb::new("reportid").await;
    let c = db.sql().await;
    let mut s = TestServer::start_on(&db.url, InputLimits::default()).await;
    let mut other = TestServer::start_on(&db.url, InputLimits::default()).await;
    let footprint = inside_a_parcel(&c).await;
    // A moment after every import here, so that the current index answers.
    let moment = utc(2030, 1, 1, 12, 0);
    let base = || v1::ValidateGeometryRequest {
        as_of: Some(moment),
        ..request("0793", &footprint)
    };
    let first = id(&mut s, base()).await;
    // The same inputs: the same id, again and on another server.
    assert_eq!(id(&mut s, base()).await, first);
    assert_eq!(id(&mut other, base()).await, first);
    // How the report reads is not what was checked.
    let et = v1::ValidateGeometryRequest {
        locale: "et".into(),
        output: out(4326, v1::GeometryFormat::Geojson),
        ..base()
    };
    assert_eq!(id(&mut s, et).await, first);

    // Each ingredient changes it.
    let mut ids = vec![first.clone()];
    let later = prost_types::Timestamp {
        seconds: moment.seconds + 1,
        nanos: 0,
    };
    let shifted: String = c
        .query_one(
            "SELECT ST_AsText(ST_Translate(ST_GeomFromText($1, 3301), 0.01, 0))",
            &[&footprint],
        )
        .await
        .unwrap()
        .get(0);
    let parcel = validate(&mut s, base()).await.parcel_codes[0].clone();
    let changes = [
        v1::ValidateGeometryRequest {
            as_of: Some(later),
            ..base()
        },
        v1::ValidateGeometryRequest {
            intended_use: "commercial_building".into(),
            ..base()
        },
        v1::ValidateGeometryRequest {
            procedure_type: "design_criteria".into(),
            ..base()
        },
        v1::ValidateGeometryRequest {
            geometry: Some(wkt(&shifted, 3301)),
            ..base()
        },
        v1::ValidateGeometryRequest {
            parcel_codes: vec![parcel.clone()],
            ..base()
        },
    ];
    for req in changes {
        ids.push(id(&mut s, req).await);
    }
    // Naming a parcel twice names the same parcel.
    let twice = v1::ValidateGeometryRequest {
        parcel_codes: vec![parcel.clone(), parcel],
        ..base()
    };
    assert_eq!(id(&mut s, twice).await, ids[ids.len() - 1]);

    // A rule version added in the database: Tartu's own ZONE_USE, the same rule as the
    // national one, so the findings read the same; the id does not.
    c.batch_execute(
        "INSERT INTO validation_rule (code, version, municipality_code, severity, procedures, params, valid_from)
         VALUES ('ZONE_USE', 1, '0793', 'blocking', '{}', '{}', '2000-01-01')",
    )
    .await
    .unwrap();
    let before = validate(&mut s, base()).await;
    let after = following(&mut s, base, |r| {
        r.rule_versions
            .iter()
            .any(|v| v.rule == "ZONE_USE" && v.municipality_code == "0793")
    })
    .await;
    let codes = |r: &v1::ValidationReport| {
        r.findings
            .iter()
            .map(|f| f.code.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(codes(&after), codes(&before));
    ids.push(after.report_id.clone());

    // A dataset version: a restriction layer of Tartu's imported (the footprint is far from
    // it, but every restriction layer of the municipality is read), then imported again with
    // another feature: the same layer in a new version.
    let noise = |r: &v1::ValidationReport| {
        r.dataset_versions
            .iter()
            .find(|d| d.name.starts_with("layer noise-zones "))
            .map(|d| d.version)
    };
    import_noise_zone(&mut s, 662_000.0, 6_472_000.0, 10.0).await;
    let one = following(&mut s, base, |r| noise(r).is_some()).await;
    ids.push(one.report_id.clone());
    import_noise_zone(&mut s, 662_100.0, 6_472_000.0, 10.0).await;
    let two = following(&mut s, base, |r| noise(r) != noise(&one)).await;
    assert_eq!(
        codes(&two),
        codes(&one),
        "the zone is far from the footprint"
    );
    ids.push(two.report_id.clone());
    // …and the second server, once it has the same data, gives the same id.
    let same = following(&mut other, base, |r| noise(r) == noise(&two)).await;
    assert_eq!(same.report_id, two.report_id);

    let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(
        distinct.len(),
        ids.len(),
        "every change gives a new id: {ids:#?}"
    );
    drop(other);
    drop(s);
    db.drop_db().await;
}

/// Validates `req()` until `seen` holds for the report (the index is rebuilt in the background
/// after a change in the database).
async fn following(
    s: &mut TestServer,
    req: impl Fn() -> v1::ValidateGeometryRequest,
    seen: impl Fn(&v1::ValidationReport) -> bool,
) -> v1::ValidationReport {
    let got = wait::until(Duration::from_secs(10), Duration::from_millis(100), || {
        let (mut client, req) = (s.client.clone(), req());
        let seen = &seen;
        async move {
            let r = client.validate_geometry(req).await.unwrap().into_inner();
            seen(&r).then_some(r)
        }
    })
    .await;
    got.expect("the index followed the database within 10 s")
}
