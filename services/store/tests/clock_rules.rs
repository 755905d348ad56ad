//! Statutory clock rules (migration 0011) through the store, as callers: the seeded national
//! defaults load with the figures of DESIGN.md, a municipality's own version overrides them
//! only on the days its validity covers, and row-level security keeps one municipality's
//! versions from every other (and everything from a caller without identity). Expected figures
//! are written out here from DESIGN.md's Procedures section, not read back from the code.

use chrono::NaiveDate;
use kovgis_core::statutory_clock::{DayKind, Period};
use kovgis_store::{Caller, Store, StoreConfig};
use kovgis_testkit::db::{FreshDb, database_url, sql};

const TARTU: &str = "0793";
const TALLINN: &str = "0784";

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

async fn store(url: &str) -> Store {
    Store::connect(&StoreConfig::new(url.to_owned(), 2))
        .await
        .unwrap()
}

/// (clock, days, kind, silence counts as agreement) of the rules in force.
async fn in_force(
    store: &Store,
    caller: &Caller,
    municipality: &str,
    procedure_type: &str,
    on: NaiveDate,
) -> Vec<(String, u16, DayKind, bool)> {
    store
        .clock_rules_in_force(caller, municipality, procedure_type, on)
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.clock,
                r.period.days,
                r.period.kind,
                r.silence_counts_as_agreement,
            )
        })
        .collect()
}

fn owned(rules: &[(&str, u16, DayKind, bool)]) -> Vec<(String, u16, DayKind, bool)> {
    rules
        .iter()
        .map(|(c, d, k, s)| (c.to_string(), *d, *k, *s))
        .collect()
}

#[tokio::test]
async fn the_seeded_national_defaults_load() {
    let store = store(&database_url()).await;
    let tartu = Caller::municipal("test:tartu-official", TARTU);
    let on = day(2026, 3, 2);
    // DESIGN.md: a building permit is decided within 30 days; coordinations answer within 10,
    // and silence counts as approval.
    assert_eq!(
        in_force(&store, &tartu, TARTU, "building_permit", on).await,
        owned(&[
            ("coordination_answer", 10, DayKind::Calendar, true),
            ("decision", 30, DayKind::Calendar, false),
        ])
    );
    // Design criteria 30 days, the open procedure 60.
    let decision = |rules: Vec<(String, u16, DayKind, bool)>| {
        rules
            .into_iter()
            .find(|r| r.0 == "decision")
            .map(|r| (r.1, r.2))
    };
    assert_eq!(
        decision(in_force(&store, &tartu, TARTU, "design_criteria", on).await),
        Some((30, DayKind::Calendar))
    );
    assert_eq!(
        decision(in_force(&store, &tartu, TARTU, "design_criteria_open", on).await),
        Some((60, DayKind::Calendar))
    );
    // Excavation and felling: the example default of 10 working days.
    for t in ["excavation_permit", "felling_permit"] {
        assert_eq!(
            decision(in_force(&store, &tartu, TARTU, t, on).await),
            Some((10, DayKind::Working)),
            "{t}"
        );
    }
    // A detailed plan: display at least 14 days (30 when it changes the comprehensive plan),
    // the notice 14 days before.
    let dp = store
        .clock_rule_in_force(&tartu, TARTU, "detailed_plan", "public_display_min", on)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(dp.period, Period::calendar(14));
    assert!(
        dp.legal_basis.contains("Planeerimisseadus"),
        "{}",
        dp.legal_basis
    );
    assert_eq!(dp.municipality_code, None);
    let notice = store
        .clock_rule_in_force(&tartu, TARTU, "detailed_plan", "public_display_notice", on)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(notice.period, Period::calendar(14));
    let cp = store
        .clock_rule_in_force(
            &tartu,
            TARTU,
            "detailed_plan",
            "public_display_min_comprehensive_change",
            on,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cp.period, Period::calendar(30));
    // Every seeded row is visible to a municipal caller, as the superuser counts them, and
    // every example default says so.
    let c = sql().await;
    let national: i64 = c
        .query_one(
            "SELECT count(*) FROM statutory_clock_rule WHERE municipality_code IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(national, 16);
    let listed = store.list_clock_rules(&tartu, None, None).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .filter(|r| r.municipality_code.is_none())
            .count(),
        16
    );
    let examples: Vec<_> = listed
        .iter()
        .filter(|r| r.legal_basis.starts_with("Example default"))
        .map(|r| (r.procedure_type.as_str(), r.clock.as_str()))
        .collect();
    assert!(
        examples.contains(&("excavation_permit", "decision")),
        "{examples:?}"
    );
    assert!(
        examples.contains(&("felling_permit", "decision")),
        "{examples:?}"
    );
    // Before the codes of 2015 took effect no rule is seeded.
    assert!(
        store
            .clock_rules_in_force(&tartu, TARTU, "building_permit", day(2015, 6, 30))
            .await
            .unwrap()
            .is_empty()
    );
}

/// Tartu's own versions of the excavation-permit decision clock: 5 working days from 1 March
/// to 30 June 2026 (valid_to 1 July, exclusive), 7 from 1 January 2027.
const TARTU_VERSIONS: &str = "INSERT INTO statutory_clock_rule
        (municipality_code, procedure_type, clock, version, days, day_kind, legal_basis,
         valid_from, valid_to)
    VALUES ('0793', 'excavation_permit', 'decision', 1, 5, 'working', 'Tartu test regulation',
            '2026-03-01', '2026-07-01'),
           ('0793', 'excavation_permit', 'decision', 2, 7, 'working', 'Tartu test regulation',
            '2027-01-01', NULL)";

#[tokio::test]
async fn a_municipal_version_overrides_the_default_only_within_its_dates_and_only_for_itself() {
    let db = FreshDb::new("clockrules").await;
    let store = store(&db.url).await;
    let tartu = Caller::municipal("test:tartu-official", TARTU);
    let tallinn = Caller::municipal("test:tallinn-official", TALLINN);
    // Written by Tartu's caller through the service role (the insert policy admits it).
    let tx = store.begin_as(&tartu).await.unwrap();
    tx.query(TARTU_VERSIONS, &[]).await.unwrap();
    tx.commit().await.unwrap();
    let authors: Vec<String> = db
        .sql()
        .await
        .query(
            "SELECT author FROM statutory_clock_rule WHERE municipality_code = '0793'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(authors, ["test:tartu-official", "test:tartu-official"]);

    let decision = async |caller: &Caller, m: &str, on: NaiveDate| {
        let r = store
            .clock_rule_in_force(caller, m, "excavation_permit", "decision", on)
            .await
            .unwrap()
            .unwrap();
        (r.period.days, r.municipality_code, r.version)
    };
    let tartu_v = |days, version| (days, Some(TARTU.to_owned()), version);
    assert_eq!(
        decision(&tartu, TARTU, day(2026, 2, 28)).await,
        (10, None, 1)
    );
    assert_eq!(
        decision(&tartu, TARTU, day(2026, 3, 1)).await,
        tartu_v(5, 1)
    );
    assert_eq!(
        decision(&tartu, TARTU, day(2026, 6, 30)).await,
        tartu_v(5, 1)
    );
    assert_eq!(
        decision(&tartu, TARTU, day(2026, 7, 1)).await,
        (10, None, 1)
    );
    assert_eq!(
        decision(&tartu, TARTU, day(2026, 12, 31)).await,
        (10, None, 1)
    );
    assert_eq!(
        decision(&tartu, TARTU, day(2027, 1, 1)).await,
        tartu_v(7, 2)
    );
    // The other clock of the type keeps the national default.
    let coord = store
        .clock_rule_in_force(
            &tartu,
            TARTU,
            "excavation_permit",
            "coordination_answer",
            day(2026, 3, 1),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (coord.period, coord.municipality_code),
        (Period::working(5), None)
    );

    // Tallinn's procedures use the national default, and Tallinn cannot see Tartu's versions
    // even when it asks for Tartu by name.
    assert_eq!(
        decision(&tallinn, TALLINN, day(2026, 3, 1)).await,
        (10, None, 1)
    );
    assert_eq!(
        decision(&tallinn, TARTU, day(2026, 3, 1)).await,
        (10, None, 1)
    );
    let seen = store
        .list_clock_rules(&tallinn, Some(TARTU), Some("excavation_permit"))
        .await
        .unwrap();
    assert!(
        seen.iter().all(|r| r.municipality_code.is_none()),
        "{seen:?}"
    );
    let tartu_sees = store
        .list_clock_rules(&tartu, Some(TARTU), Some("excavation_permit"))
        .await
        .unwrap();
    assert_eq!(tartu_sees.len(), seen.len() + 2);
    // A national scope sees them.
    assert_eq!(
        decision(&Caller::system("test-all"), TARTU, day(2026, 3, 1)).await,
        tartu_v(5, 1)
    );
    db.drop_db().await;
}

#[tokio::test]
async fn writes_are_the_municipalitys_own_and_versions_are_never_edited() {
    let db = FreshDb::new("clockwrites").await;
    let store = store(&db.url).await;
    let tartu = Caller::municipal("test:tartu-official", TARTU);
    let tallinn = Caller::municipal("test:tallinn-official", TALLINN);
    let insert = |m: Option<&str>| {
        format!(
            "INSERT INTO statutory_clock_rule (municipality_code, procedure_type, clock, version,
                 days, day_kind, legal_basis, valid_from)
             VALUES ({}, 'felling_permit', 'decision', 9, 3, 'working', 'test', '2026-01-01')",
            m.map(|m| format!("'{m}'")).unwrap_or("NULL".into())
        )
    };
    // Tallinn may not write Tartu's rule, nor a municipal caller a national one.
    for (caller, m) in [(&tallinn, Some(TARTU)), (&tartu, None)] {
        let tx = store.begin_as(caller).await.unwrap();
        let e = tx.query(&insert(m), &[]).await.unwrap_err();
        assert!(e.is_forbidden(), "{m:?}: {e}");
    }
    // Tartu writes its own; nobody (not even Tartu) edits or deletes it afterwards.
    let tx = store.begin_as(&tartu).await.unwrap();
    tx.query(&insert(Some(TARTU)), &[]).await.unwrap();
    tx.commit().await.unwrap();
    for edit in [
        "UPDATE statutory_clock_rule SET days = 1 WHERE municipality_code = '0793'",
        "DELETE FROM statutory_clock_rule WHERE municipality_code = '0793'",
    ] {
        let tx = store.begin_as(&Caller::system("test-all")).await.unwrap();
        let e = tx.query(edit, &[]).await.unwrap_err();
        assert!(e.is_forbidden(), "{edit}: {e}");
    }
    // A caller without identity sees no rule at all, national ones included.
    let empty = Caller {
        subject: String::new(),
        ..Caller::system("x")
    };
    let n: i64 = store
        .query_as(&empty, "SELECT count(*) FROM statutory_clock_rule", &[])
        .await
        .unwrap()[0]
        .get(0);
    assert_eq!(n, 0);
    assert!(
        store
            .clock_rules_in_force(&empty, TARTU, "felling_permit", day(2026, 3, 1))
            .await
            .unwrap()
            .is_empty()
    );
    let rows: i64 = db
        .sql()
        .await
        .query_one("SELECT count(*) FROM statutory_clock_rule", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 17);
    db.drop_db().await;
}
