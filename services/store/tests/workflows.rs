//! Workflows in the database (migration 0010) loaded through the store as a caller: the six
//! seeded national graphs (counted by the superuser, compared with the graphs in kovgis-core and
//! with docs/WORKFLOWS.md), a municipality's own version in force only within its dates,
//! row-level security between municipalities, versions never edited in place, and stored
//! graphs that fail validation reported as errors.

use chrono::NaiveDate;
use kovgis_core::workflow::national::{national_default, national_defaults};
use kovgis_core::workflow::{Action, Actor, PROCEDURE_TYPES, Refusal, render};
use kovgis_store::{Caller, CallerTx, Store, StoreConfig, StoreError};
use kovgis_testkit::db::{FreshDb, database_url, sql};

const TARTU: &str = "0793";
const TALLINN: &str = "0784";
const PARNU: &str = "0624";

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// A new version of `procedure_type` for `municipality`: the national graph's states and
/// transitions, `decide_grant` with `extra` permits added. Three statements, one transaction.
const NEW_VERSION: &str =
    "INSERT INTO workflow_version (municipality_code, procedure_type, version,
                                                        valid_from, valid_to, description)
     VALUES ($1, $2, $3, $4, $5, 'test') RETURNING id";
const COPY_STATES: &str =
    "INSERT INTO workflow_state (workflow_id, position, name, terminal, clock,
                                                       active, public_display)
     SELECT $1, position, name, terminal, clock, active, public_display FROM workflow_state
     WHERE workflow_id = (SELECT id FROM workflow_version
                          WHERE municipality_code IS NULL AND procedure_type = $2)";
const COPY_TRANSITIONS: &str = "INSERT INTO workflow_transition (workflow_id, position, action,
                                                                 from_state, to_state, permits)
     SELECT $1, position, action, from_state, to_state,
            CASE WHEN action = 'decide_grant' THEN permits || $3::text[] ELSE permits END
     FROM workflow_transition
     WHERE workflow_id = (SELECT id FROM workflow_version
                          WHERE municipality_code IS NULL AND procedure_type = $2)";

/// Writes a copied version as a caller (the service role under row-level security).
async fn copy_as(
    tx: &CallerTx,
    municipality: Option<&str>,
    procedure_type: &str,
    version: i32,
    valid: (&str, Option<&str>),
    extra: &[&str],
) -> Result<i64, StoreError> {
    let (from, to) = (day(valid.0), valid.1.map(day));
    let id: i64 = tx
        .query(
            NEW_VERSION,
            &[&municipality, &procedure_type, &version, &from, &to],
        )
        .await?[0]
        .get(0);
    tx.query(COPY_STATES, &[&id, &procedure_type]).await?;
    let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
    tx.query(COPY_TRANSITIONS, &[&id, &procedure_type, &extra])
        .await?;
    Ok(id)
}

async fn store(url: &str) -> Store {
    Store::connect(&StoreConfig::new(url.to_owned(), 2))
        .await
        .unwrap()
}

#[tokio::test]
async fn the_six_national_graphs_load_validate_and_equal_the_code_and_the_docs() {
    let store = store(&database_url()).await;
    let c = sql().await;
    // The superuser's counts of the seed, against counts worked out by hand from the graphs of
    // docs/WORKFLOWS.md (states; transitions = sum over the rows of their from-states).
    let expected: [(&str, i64, i64); 6] = [
        ("detailed_plan", 13, 45),
        ("design_criteria", 6, 15),
        ("design_criteria_open", 8, 26),
        ("building_permit", 6, 15),
        ("excavation_permit", 6, 15),
        ("felling_permit", 6, 15),
    ];
    let tartu = Caller::municipal("test:tartu-official", TARTU);
    let mut loaded = Vec::new();
    for (t, states, transitions) in expected {
        let row = c
            .query_one(
                "SELECT (SELECT count(*) FROM workflow_state s WHERE s.workflow_id = v.id),
                        (SELECT count(*) FROM workflow_transition t WHERE t.workflow_id = v.id)
                 FROM workflow_version v
                 WHERE v.municipality_code IS NULL AND v.procedure_type = $1",
                &[&t],
            )
            .await
            .unwrap();
        assert_eq!((row.get(0), row.get(1)), (states, transitions), "{t}");
        let v = store
            .workflow_in_force(&tartu, TARTU, t, day("2026-06-01"))
            .await
            .unwrap();
        assert_eq!(v.municipality_code, None, "{t}");
        assert_eq!(
            (v.version, v.valid_from, v.valid_to),
            (1, day("2000-01-01"), None)
        );
        assert_eq!(v.workflow.procedure_type(), t);
        assert_eq!(v.workflow.states().len() as i64, states);
        assert_eq!(
            Some(&v.workflow),
            national_default(t).as_ref(),
            "{t}: the seeded rows differ from kovgis_core::workflow::national"
        );
        assert_eq!(
            store.workflow_version(&tartu, v.id).await.unwrap(),
            v,
            "{t} by id"
        );
        loaded.push(v.workflow);
    }
    let national: i64 = c
        .query_one(
            "SELECT count(*) FROM workflow_version WHERE municipality_code IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(national, 6);
    assert_eq!(
        PROCEDURE_TYPES.to_vec(),
        expected.iter().map(|e| e.0).collect::<Vec<_>>()
    );
    // docs/WORKFLOWS.md is what the seeded rows say.
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/WORKFLOWS.md"
    ))
    .unwrap();
    assert!(
        doc == render::document(&loaded),
        "docs/WORKFLOWS.md differs from the seeded workflows"
    );
    assert_eq!(loaded, national_defaults());
    // Before the national defaults start, nothing is in force.
    let e = store
        .workflow_in_force(&tartu, TARTU, "felling_permit", day("1999-12-31"))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::NoWorkflow(_)), "{e}");
}

#[tokio::test]
async fn a_municipal_version_overrides_the_national_default_only_within_its_dates() {
    let db = FreshDb::new("wfdates").await;
    let store = store(&db.url).await;
    let tartu = Caller::municipal("test:tartu-admin", TARTU);
    // Tartu's regulation: an excavation permit is deemed granted when the municipality is
    // silent (the background job may grant), from 1 March to 1 September 2026; and from
    // 1 May on a second version with the same graph (the later start wins).
    let tx = store.begin_as(&tartu).await.unwrap();
    let v1 = copy_as(
        &tx,
        Some(TARTU),
        "excavation_permit",
        1,
        ("2026-03-01", Some("2026-09-01")),
        &["system"],
    )
    .await
    .unwrap();
    let v2 = copy_as(
        &tx,
        Some(TARTU),
        "excavation_permit",
        2,
        ("2026-05-01", Some("2026-09-01")),
        &["system"],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let national_id: i64 = db
        .sql()
        .await
        .query_one(
            "SELECT id FROM workflow_version
             WHERE municipality_code IS NULL AND procedure_type = 'excavation_permit'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    // (day, the version in force) worked out from the dates above; valid_to is exclusive.
    for (on, id) in [
        ("2026-02-28", national_id),
        ("2026-03-01", v1),
        ("2026-04-30", v1),
        ("2026-05-01", v2),
        ("2026-08-31", v2),
        ("2026-09-01", national_id),
    ] {
        let v = store
            .workflow_in_force(&tartu, TARTU, "excavation_permit", day(on))
            .await
            .unwrap();
        assert_eq!(v.id, id, "{on}");
        let deemed = v
            .workflow
            .check("under_review", Action::DecideGrant, &Actor::system());
        if id == national_id {
            assert_eq!(v.municipality_code, None);
            assert!(
                matches!(deemed, Err(Refusal::NotPermitted { .. })),
                "{on}: {deemed:?}"
            );
        } else {
            assert_eq!(v.municipality_code.as_deref(), Some(TARTU));
            assert_eq!(deemed.unwrap().to, "granted", "{on}");
        }
    }
    // Other types and other municipalities keep the national default.
    let felling = store
        .workflow_in_force(&tartu, TARTU, "felling_permit", day("2026-06-01"))
        .await
        .unwrap();
    assert_eq!(felling.municipality_code, None);
    let tallinn = Caller::municipal("test:tallinn-official", TALLINN);
    let v = store
        .workflow_in_force(&tallinn, TALLINN, "excavation_permit", day("2026-06-01"))
        .await
        .unwrap();
    assert_eq!(v.id, national_id);
    db.drop_db().await;
}

#[tokio::test]
async fn another_municipalitys_version_is_invisible_and_versions_are_not_edited() {
    let db = FreshDb::new("wfrls").await;
    let store = store(&db.url).await;
    let tartu = Caller::municipal("test:tartu-admin", TARTU);
    let parnu = Caller::municipal("test:parnu-admin", PARNU);
    let tallinn = Caller::municipal("test:tallinn-official", TALLINN);
    let mut ids = Vec::new();
    for (caller, m) in [(&tartu, TARTU), (&parnu, PARNU)] {
        let tx = store.begin_as(caller).await.unwrap();
        ids.push(
            copy_as(
                &tx,
                Some(m),
                "felling_permit",
                1,
                ("2026-01-01", None),
                &["system"],
            )
            .await
            .unwrap(),
        );
        tx.commit().await.unwrap();
    }
    let (tartu_id, parnu_id) = (ids[0], ids[1]);
    let on = day("2026-06-01");
    // Each sees its own; Tallinn, a third, sees neither, even asking for Tartu's by name or id.
    let own = store
        .workflow_in_force(&tartu, TARTU, "felling_permit", on)
        .await
        .unwrap();
    assert_eq!(own.id, tartu_id);
    for (caller, asked) in [(&tallinn, TARTU), (&tallinn, PARNU), (&parnu, TARTU)] {
        let v = store
            .workflow_in_force(caller, asked, "felling_permit", on)
            .await
            .unwrap();
        assert_eq!(
            v.municipality_code, None,
            "{} asking for {asked}",
            caller.subject
        );
    }
    for (caller, id) in [
        (&tallinn, tartu_id),
        (&tallinn, parnu_id),
        (&tartu, parnu_id),
    ] {
        let e = store.workflow_version(caller, id).await.unwrap_err();
        assert!(matches!(e, StoreError::NoWorkflow(_)), "{e}");
    }
    // Unfiltered reads of the municipal rows: the superuser sees both municipalities', Tallinn
    // none, Tartu only its own.
    let c = db.sql().await;
    for table in ["workflow_version", "workflow_state", "workflow_transition"] {
        let q = format!("SELECT count(*) FROM {table} WHERE municipality_code IS NOT NULL");
        let all: i64 = c.query_one(&q, &[]).await.unwrap().get(0);
        let tartu_own: i64 = c
            .query_one(&format!("{q} AND municipality_code = '0793'"), &[])
            .await
            .unwrap()
            .get(0);
        assert!(
            all > tartu_own && tartu_own > 0,
            "{table}: {all} {tartu_own}"
        );
        let seen = |caller: Caller| {
            let store = &store;
            let q = q.clone();
            async move { store.query_as(&caller, &q, &[]).await.unwrap()[0].get::<_, i64>(0) }
        };
        assert_eq!(seen(tallinn.clone()).await, 0, "{table} as Tallinn");
        assert_eq!(seen(tartu.clone()).await, tartu_own, "{table} as Tartu");
        assert_eq!(
            seen(Caller::system("test-all")).await,
            all,
            "{table} reach all"
        );
    }
    // No identity, no workflow, not even the national one.
    let nobody = Caller {
        subject: String::new(),
        ..tartu.clone()
    };
    let e = store
        .workflow_in_force(&nobody, TARTU, "felling_permit", on)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::NoWorkflow(_)), "{e}");
    // Writes: not for another municipality, not national without reach all.
    for (caller, m) in [(&tallinn, Some(TARTU)), (&tartu, None)] {
        let tx = store.begin_as(caller).await.unwrap();
        let e = copy_as(&tx, m, "building_permit", 1, ("2026-01-01", None), &[])
            .await
            .unwrap_err();
        assert!(e.is_forbidden(), "{e}");
    }
    // Not edited in place: no state added to a committed version, not even one's own; no
    // update or delete at all.
    let tx = store.begin_as(&tartu).await.unwrap();
    let e = tx
        .query(COPY_STATES, &[&tartu_id, &"design_criteria"])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not edited in place"), "{e}");
    drop(tx);
    for statement in [
        format!(
            "UPDATE workflow_transition SET permits = '{{official}}' WHERE workflow_id = {tartu_id}"
        ),
        format!("DELETE FROM workflow_state WHERE workflow_id = {tartu_id}"),
        format!("UPDATE workflow_version SET valid_to = '2026-02-01' WHERE id = {tartu_id}"),
    ] {
        let tx = store.begin_as(&tartu).await.unwrap();
        let e = tx.query(&statement, &[]).await.unwrap_err();
        assert!(e.is_forbidden(), "{statement}: {e}");
    }
    db.drop_db().await;
}

#[tokio::test]
async fn a_stored_graph_that_fails_validation_is_an_error_naming_the_problem() {
    let db = FreshDb::new("wfbroken").await;
    let store = store(&db.url).await;
    let c = db.sql().await;
    // As the superuser, three broken Tartu versions, each a version with its rows in one
    // transaction: a dead end and an unreachable state; an action kovgis does not know; a
    // permit that is no role, scope or system.
    c.batch_execute(
        "BEGIN;
         INSERT INTO workflow_version (id, municipality_code, procedure_type, version, valid_from)
         VALUES (9001, '0793', 'building_permit', 1, '2026-01-01');
         INSERT INTO workflow_state (workflow_id, position, name, terminal, clock, active, public_display)
         VALUES (9001, 1, 'draft', false, 'off', false, false),
                (9001, 2, 'under_review', false, 'running', true, false),
                (9001, 3, 'granted', true, 'off', false, false);
         INSERT INTO workflow_transition (workflow_id, position, action, from_state, to_state, permits)
         VALUES (9001, 1, 'submit', 'draft', 'under_review', '{applicant}');
         COMMIT;
         BEGIN;
         INSERT INTO workflow_version (id, municipality_code, procedure_type, version, valid_from)
         VALUES (9002, '0793', 'excavation_permit', 1, '2026-01-01');
         INSERT INTO workflow_state (workflow_id, position, name, terminal, clock, active, public_display)
         VALUES (9002, 1, 'draft', false, 'off', false, false),
                (9002, 2, 'granted', true, 'off', false, false);
         INSERT INTO workflow_transition (workflow_id, position, action, from_state, to_state, permits)
         VALUES (9002, 1, 'approve', 'draft', 'granted', '{approver}');
         COMMIT;
         BEGIN;
         INSERT INTO workflow_version (id, municipality_code, procedure_type, version, valid_from)
         VALUES (9003, '0793', 'felling_permit', 1, '2026-01-01');
         INSERT INTO workflow_state (workflow_id, position, name, terminal, clock, active, public_display)
         VALUES (9003, 1, 'draft', false, 'off', false, false),
                (9003, 2, 'granted', true, 'off', false, false);
         INSERT INTO workflow_transition (workflow_id, position, action, from_state, to_state, permits)
         VALUES (9003, 1, 'decide_grant', 'draft', 'granted', '{mayor}');
         COMMIT;",
    )
    .await
    .unwrap();
    let tartu = Caller::municipal("test:tartu-official", TARTU);
    let on = day("2026-06-01");
    let reason = |e: StoreError| match e {
        StoreError::BadWorkflow { version, reason } => (version, reason),
        other => panic!("not a bad workflow: {other}"),
    };
    let (version, why) = reason(
        store
            .workflow_in_force(&tartu, TARTU, "building_permit", on)
            .await
            .unwrap_err(),
    );
    assert_eq!(version, "building_permit v1 (0793, id 9001)");
    assert!(
        why.contains("state under_review is not terminal but no end can be reached from it"),
        "{why}"
    );
    assert!(
        why.contains("state granted cannot be reached from draft"),
        "{why}"
    );
    let (_, why) = reason(
        store
            .workflow_in_force(&tartu, TARTU, "excavation_permit", on)
            .await
            .unwrap_err(),
    );
    assert_eq!(why, "unknown action \"approve\"");
    let (_, why) = reason(store.workflow_version(&tartu, 9003).await.unwrap_err());
    assert!(
        why.contains("decide_grant from draft: \"mayor\" is no role, scope or system"),
        "{why}"
    );
    // Tallinn is not affected by Tartu's broken versions.
    let tallinn = Caller::municipal("test:tallinn-official", TALLINN);
    store
        .workflow_in_force(&tallinn, TALLINN, "building_permit", on)
        .await
        .unwrap();
    db.drop_db().await;
}
