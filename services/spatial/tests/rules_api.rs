//! RuleService over gRPC: a municipality's admin adds a version of a rule (never an edit), it
//! numbers itself after the versions the database already holds (counted by plain SQL), records
//! its author and creation time, and lists among the rules in force on its first day; dates
//! before today or not after the latest start are refused with the field named; another
//! municipality's admin cannot add to Tartu's rules.

mod common;

use std::collections::BTreeMap;

use common::{FreshDb, TestServer, v1};
use kovgis_api::v1::rule_service_client::RuleServiceClient;
use kovgis_auth::Role;
use tonic::Request;

fn with_token<T>(message: T, token: &str) -> Request<T> {
    let mut r = Request::new(message);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    r
}

fn setback(valid_from: &str, metres: f64) -> v1::CreateRuleVersionRequest {
    v1::CreateRuleVersionRequest {
        rule: "SETBACK".into(),
        municipality_code: "0793".into(),
        severity: v1::RuleSeverity::Warning as i32,
        procedure_types: vec!["building_permit".into()],
        params: Some(prost_types::Struct {
            fields: BTreeMap::from([(
                "min_m".to_owned(),
                prost_types::Value {
                    kind: Some(prost_types::value::Kind::NumberValue(metres)),
                },
            )]),
        }),
        valid_from: valid_from.into(),
        description: "rules_api test".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_new_rule_version_numbers_itself_and_records_its_author() {
    let db = FreshDb::new("rulesapi").await;
    let c = db.sql().await;
    let before: i32 = c
        .query_one(
            "SELECT coalesce(max(version), 0) FROM validation_rule
             WHERE code = 'SETBACK' AND municipality_code = '0793'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let server = TestServer::start_on(&db.url, Default::default()).await;
    let admin = server.auth.token(&server.auth.person(
        "tartu-admin",
        "0793",
        &[Role::MunicipalityAdmin],
    ));
    let tallinn_admin = server.auth.token(&server.auth.person(
        "tallinn-admin",
        "0784",
        &[Role::MunicipalityAdmin],
    ));
    let mut rules = RuleServiceClient::new(server.channel().await);

    let started = chrono::Utc::now();
    let created = rules
        .create_rule_version(with_token(setback("2099-01-01", 7.5), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.version, before + 1);
    assert_eq!(created.author, "tartu-admin");
    assert_eq!(created.valid_from, "2099-01-01");
    let at = created.created_at.expect("created_at");
    let at = chrono::DateTime::from_timestamp(at.seconds, at.nanos as u32).unwrap();
    assert!(
        (started - chrono::Duration::seconds(5)..=chrono::Utc::now()).contains(&at),
        "created_at {at} is not the time of the call ({started})"
    );
    // The row as the database holds it.
    let row = c
        .query_one(
            "SELECT author, (params->>'min_m')::float8 FROM validation_rule
             WHERE code = 'SETBACK' AND municipality_code = '0793' AND version = $1",
            &[&created.version],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "tartu-admin");
    assert_eq!(row.get::<_, f64>(1), 7.5);

    // In force on its first day, not the day before.
    let in_force = |day: &str| v1::ListRulesRequest {
        municipality_code: "0793".into(),
        in_force_on: day.into(),
    };
    let listed = rules
        .list_rules(with_token(in_force("2099-01-01"), &admin))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.rules.iter().any(|r| r.rule == "SETBACK"
        && r.municipality_code == "0793"
        && r.version == created.version));
    let earlier = rules
        .list_rules(with_token(in_force("2098-12-31"), &admin))
        .await
        .unwrap()
        .into_inner();
    assert!(!earlier.rules.iter().any(|r| r.version == created.version
        && r.municipality_code == "0793"
        && r.rule == "SETBACK"));

    // Not after the latest start, or in the past: refused, naming the field.
    for day in ["2099-01-01", "2001-01-01"] {
        let refused = rules
            .create_rule_version(with_token(setback(day, 9.0), &admin))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused:?}");
        assert!(refused.message().contains("valid_from"), "{refused:?}");
    }
    // Tallinn's admin cannot add a version of Tartu's rule.
    let denied = rules
        .create_rule_version(with_token(setback("2099-06-01", 9.0), &tallinn_admin))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied, "{denied:?}");
    let after: i32 = c
        .query_one(
            "SELECT max(version) FROM validation_rule
             WHERE code = 'SETBACK' AND municipality_code = '0793'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(after, before + 1, "refused calls wrote nothing");
}
