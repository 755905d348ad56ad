//! `ListProcedures`: the spatial filter gives exactly what PostGIS's `ST_Intersects` gives on
//! the same rows (asked directly in SQL as the superuser: an oracle outside the service),
//! pages are stable and complete (every procedure once, in order), the other filters select
//! what they name, and a list carries no personal data.

mod common;

use std::collections::BTreeSet;

use common::*;

/// 30 squares of 6–25 m on a 5 × 6 grid in central Tartu, some overlapping their neighbours.
fn squares() -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..30 {
        let x = 657300.0 + (i % 5) as f64 * 37.0;
        let y = 6476700.0 + (i / 5) as f64 * 41.0;
        let side = 6.0 + ((i * 7) % 20) as f64;
        out.push(square(x, y, side));
    }
    out
}

#[tokio::test]
async fn the_spatial_filter_equals_postgis_and_pages_are_stable() {
    let db = FreshDb::new("proc_list").await;
    let s = Server::start(&db.url, Mode::InProcess).await;
    let mut official = s.client(Some(&s.official(TARTU))).await;
    let mut all = Vec::new();
    for (i, sq) in squares().iter().enumerate() {
        let t = if i % 3 == 0 {
            v1::ProcedureType::FellingPermit
        } else {
            v1::ProcedureType::ExcavationPermit
        };
        let mut req = create(t, sq);
        if i % 4 == 0 {
            req.contents.as_mut().unwrap().description = format!("Kaevetööd Vanemuise tänaval {i}");
        }
        all.push(official.create_procedure(req).await.unwrap().into_inner());
    }

    let filters = [
        // A polygon crossing several squares, and a box.
        (
            Some(wkt(
                "POLYGON((657320 6476690, 657420 6476790, 657330 6476860, 657320 6476690))",
            )),
            None,
        ),
        (
            None,
            Some(v1::BoundingBox {
                min_x: 657370.0,
                min_y: 6476740.0,
                max_x: 657420.0,
                max_y: 6476800.0,
                epsg: 3301,
            }),
        ),
    ];
    let sql = db.sql().await;
    for (intersects, bbox) in filters {
        let oracle_geom = match (&intersects, &bbox) {
            (Some(g), _) => match &g.value {
                Some(v1::geometry::Value::Wkt(w)) => format!("ST_GeomFromText('{w}', 3301)"),
                _ => unreachable!(),
            },
            (_, Some(b)) => format!(
                "ST_MakeEnvelope({}, {}, {}, {}, 3301)",
                b.min_x, b.min_y, b.max_x, b.max_y
            ),
            _ => unreachable!(),
        };
        let want: BTreeSet<String> = sql
            .query(
                &format!(
                    "SELECT 'municipalities/' || municipality_code || '/procedures/' || id
                     FROM procedure WHERE ST_Intersects(geom, {oracle_geom})"
                ),
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(
            want.len() >= 3 && want.len() < all.len(),
            "{want:?}: a weak filter"
        );
        let got: BTreeSet<String> = official
            .list_procedures(v1::ListProceduresRequest {
                municipality_code: TARTU.into(),
                intersects: intersects.clone(),
                bbox,
                sort: v1::ProcedureSort::CreatedAsc as i32,
                page_size: 200,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .procedures
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(got, want);
    }

    // Pages of 7, newest first: every procedure once, in the order of creation reversed.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = official
            .list_procedures(v1::ListProceduresRequest {
                municipality_code: TARTU.into(),
                sort: v1::ProcedureSort::CreatedDesc as i32,
                page_size: 7,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.procedures.len() <= 7);
        for p in &page.procedures {
            // No personal data in a list.
            assert!(p.contents.as_ref().unwrap().applicant.is_none(), "{p:?}");
        }
        seen.extend(page.procedures.into_iter().map(|p| p.name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let created: Vec<String> = all.iter().rev().map(|p| p.name.clone()).collect();
    assert_eq!(seen, created);
    // A page token does not carry over to another filter.
    let first = official
        .list_procedures(v1::ListProceduresRequest {
            municipality_code: TARTU.into(),
            sort: v1::ProcedureSort::CreatedDesc as i32,
            page_size: 7,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let e = official
        .list_procedures(v1::ListProceduresRequest {
            municipality_code: TARTU.into(),
            sort: v1::ProcedureSort::CreatedDesc as i32,
            page_size: 7,
            page_token: first.next_page_token,
            r#type: v1::ProcedureType::FellingPermit as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);

    // Type and text filters.
    let felling = official
        .list_procedures(v1::ListProceduresRequest {
            municipality_code: TARTU.into(),
            r#type: v1::ProcedureType::FellingPermit as i32,
            sort: v1::ProcedureSort::CreatedAsc as i32,
            page_size: 200,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .procedures;
    assert_eq!(felling.len(), 10);
    let text = official
        .list_procedures(v1::ListProceduresRequest {
            municipality_code: TARTU.into(),
            text: "vanemuise".into(),
            sort: v1::ProcedureSort::CreatedAsc as i32,
            page_size: 200,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .procedures;
    assert_eq!(text.len(), 8);
    // A sort must be named.
    let e = official
        .list_procedures(v1::ListProceduresRequest {
            municipality_code: TARTU.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    drop(s);
    db.drop_db().await;
}

/// `view`: BASIC leaves out what a map does not need — the findings, details, coordination
/// requests — and keeps the verdict and report_id of the stored report; FULL and unset give the
/// whole procedure; an unknown view is refused with its field.
#[tokio::test]
async fn the_basic_view_keeps_the_verdict_and_leaves_out_the_heavy_parts() {
    let db = FreshDb::new("proc_list_view").await;
    let s = Server::start(&db.url, Mode::InProcess).await;
    let mut applicant = s.client(Some(&s.applicant())).await;
    let mut official = s.client(Some(&s.official(TARTU))).await;
    let p = applicant
        .create_procedure(create(v1::ProcedureType::BuildingPermit, SHORE_SQUARE))
        .await
        .unwrap()
        .into_inner();
    let submitted = official
        .submit_procedure(v1::SubmitProcedureRequest {
            name: p.name.clone(),
            version: p.version,
            override_blocking_reason: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let stored = submitted.report.clone().expect("a stored report");
    assert!(
        !stored.findings.is_empty(),
        "a shore-zone finding: {stored:?}"
    );
    assert!(!submitted.coordination_requests.is_empty());
    assert!(submitted.contents.as_ref().unwrap().details.is_some());

    let list = |view: i32| {
        let mut official = official.clone();
        async move {
            official
                .list_procedures(v1::ListProceduresRequest {
                    municipality_code: TARTU.into(),
                    sort: v1::ProcedureSort::CreatedDesc as i32,
                    view,
                    ..Default::default()
                })
                .await
        }
    };
    let basic = list(v1::ProcedureView::Basic as i32)
        .await
        .unwrap()
        .into_inner()
        .procedures;
    assert_eq!(basic.len(), 1);
    let b = &basic[0];
    assert_eq!(b.name, submitted.name);
    assert_eq!(b.state, submitted.state);
    assert_eq!(b.version, submitted.version);
    let r = b.report.as_ref().expect("the verdict and report_id");
    assert_eq!(r.verdict, stored.verdict);
    assert_ne!(r.verdict, v1::Verdict::Unspecified as i32);
    assert_eq!(r.report_id, stored.report_id);
    assert!(r.findings.is_empty() && r.rule_versions.is_empty());
    assert!(b.coordination_requests.is_empty());
    assert!(b.contents.as_ref().unwrap().details.is_none(), "{b:?}");
    // The area stays (the map draws it).
    assert!(b.contents.as_ref().unwrap().geometry.is_some());

    for view in [
        v1::ProcedureView::Full as i32,
        v1::ProcedureView::Unspecified as i32,
    ] {
        let full = list(view).await.unwrap().into_inner().procedures;
        let f = &full[0];
        let r = f.report.as_ref().unwrap();
        assert_eq!(r.findings.len(), stored.findings.len());
        assert_eq!(r.report_id, stored.report_id);
        assert_eq!(
            f.coordination_requests.len(),
            submitted.coordination_requests.len()
        );
        assert!(f.contents.as_ref().unwrap().details.is_some());
    }

    let refused = list(7).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(refused.message().contains("view"), "{}", refused.message());
}
