//! Row-level security proven through the service's own connection path: deliberately unfiltered
//! statements run through `Store::query_as` (the caller-scoped transaction every store read
//! takes) over the service role's connection, compared with what the superuser counts with the
//! municipality filter written out. And what the service role may not do at all.

use kovgis_store::import::{ImportMode, ImportOptions, ImportStart, ImportTarget, LayerSpec};
use kovgis_store::{Caller, Reach, Store, StoreConfig};
use kovgis_testkit::db::FreshDb;

const TARTU: &str = "0793";
const TALLINN: &str = "0784";

async fn count(store: &Store, caller: &Caller, table: &str) -> i64 {
    store
        .query_as(caller, &format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()[0]
        .get(0)
}

/// The superuser's count of a table's rows of `municipality` plus the national ones (`None`:
/// all rows).
async fn expected(c: &tokio_postgres::Client, table: &str, municipality: Option<&str>) -> i64 {
    c.query_one(
        &format!(
            "SELECT count(*) FROM {table}
             WHERE $1::text IS NULL OR municipality_code IS NULL OR municipality_code = $1"
        ),
        &[&municipality],
    )
    .await
    .unwrap()
    .get(0)
}

#[tokio::test]
async fn unfiltered_reads_see_only_the_callers_municipality_and_national_rows() {
    let db = FreshDb::new("rlsreads").await;
    let c = db.sql().await;
    // Municipal dataset versions (the demo data's are national), written as the superuser.
    c.batch_execute(
        "INSERT INTO dataset_version (target, municipality_code, source, file_sha256, author)
         SELECT 'layer', m, 'rls test', repeat('a', 64), 'test' FROM
         (VALUES ('0793'), ('0793'), ('0784')) v(m)",
    )
    .await
    .unwrap();
    let store = Store::connect(&StoreConfig::new(db.url.clone(), 2))
        .await
        .unwrap();
    let tartu = Caller::municipal("test:tartu-official", TARTU);
    let tallinn = Caller::municipal("test:tallinn-official", TALLINN);
    let all = Caller::system("test-all");
    for table in ["feature", "layer", "dataset_version"] {
        let (t, l, a) = (
            expected(&c, table, Some(TARTU)).await,
            expected(&c, table, Some(TALLINN)).await,
            expected(&c, table, None).await,
        );
        // Each municipality misses rows the other sees, or the comparison would prove nothing.
        assert!(t < a && l < a, "{table}: {t} {l} {a}");
        assert_eq!(count(&store, &tartu, table).await, t, "{table} as Tartu");
        assert_eq!(
            count(&store, &tallinn, table).await,
            l,
            "{table} as Tallinn"
        );
        assert_eq!(
            count(&store, &all, table).await,
            a,
            "{table} with reach all"
        );
        // No rows of another municipality, even asked for by name.
        let theirs: i64 = store
            .query_as(
                &tartu,
                &format!("SELECT count(*) FROM {table} WHERE municipality_code = '0784'"),
                &[],
            )
            .await
            .unwrap()[0]
            .get(0);
        assert_eq!(theirs, 0, "{table}: Tallinn's rows seen by Tartu");
    }
    // A caller of no municipality with own reach: national rows only.
    let nobody = Caller {
        municipality: None,
        reach: Reach::Own,
        ..tartu.clone()
    };
    assert_eq!(
        count(&store, &nobody, "layer").await,
        c.query_one(
            "SELECT count(*) FROM layer WHERE municipality_code IS NULL",
            &[]
        )
        .await
        .unwrap()
        .get::<_, i64>(0)
    );
    // The national cadastre: every identified caller reads all of it.
    for table in ["parcel", "municipality"] {
        let a: i64 = c
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap()
            .get(0);
        assert!(a > 0);
        assert_eq!(count(&store, &tallinn, table).await, a, "{table}");
    }
    db.drop_db().await;
}

#[tokio::test]
async fn no_caller_sees_nothing() {
    let db = FreshDb::new("rlsclosed").await;
    let store = Store::connect(&StoreConfig::new(db.url.clone(), 2))
        .await
        .unwrap();
    // An empty subject (whatever else it claims), and a plain service-role connection that sets
    // nothing.
    let empty = Caller {
        subject: String::new(),
        ..Caller::system("x")
    };
    let plain = kovgis_testkit::db::connect(&db.url).await;
    for table in [
        "feature",
        "layer",
        "dataset_version",
        "validation_rule",
        "parcel",
        "municipality",
        "parcel_digest",
        "audit_event",
    ] {
        assert_eq!(count(&store, &empty, table).await, 0, "{table}");
        let n: i64 = plain
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 0, "{table} without settings");
    }
    // And it writes nothing either.
    let e = store
        .begin_as(&empty)
        .await
        .unwrap()
        .query(
            "INSERT INTO layer (municipality_code, name, title, kind) VALUES (NULL, 'x', 'x', 'other')",
            &[],
        )
        .await
        .unwrap_err();
    assert!(e.is_forbidden(), "{e}");
    db.drop_db().await;
}

#[tokio::test]
async fn writing_into_another_municipality_is_refused() {
    let db = FreshDb::new("rlswrite").await;
    let store = Store::connect(&StoreConfig::new(db.url.clone(), 2))
        .await
        .unwrap();
    let tartu = Caller::municipal("test:tartu-gis", TARTU);
    // An import into a Tallinn layer, as Tartu.
    let target = ImportTarget::Layer(LayerSpec {
        municipality_code: Some(TALLINN.into()),
        name: "zoning".into(),
        title: "Tallinn zoning".into(),
        kind: kovgis_core::model::LayerKind::Zoning,
        description: String::new(),
        attribution: String::new(),
        authority: None,
        keyed: false,
    });
    let options = ImportOptions {
        mode: ImportMode::Replace,
        ..Default::default()
    };
    let e = store
        .begin_import(
            &tartu,
            target.clone(),
            "rls",
            Some(&"b".repeat(64)),
            options.clone(),
        )
        .await
        .err()
        .expect("refused");
    assert!(e.is_forbidden(), "{e}");
    // A national layer needs reach all, too.
    let national = ImportTarget::Layer(LayerSpec {
        municipality_code: None,
        name: "national-test".into(),
        ..match &target {
            ImportTarget::Layer(s) => s.clone(),
            _ => unreachable!(),
        }
    });
    let e = store
        .begin_import(
            &tartu,
            national,
            "rls",
            Some(&"b".repeat(64)),
            options.clone(),
        )
        .await
        .err()
        .expect("refused");
    assert!(e.is_forbidden(), "{e}");
    // Tallinn's own official may (the refusal above is about the municipality, not the import).
    let tallinn = Caller::municipal("test:tallinn-gis", TALLINN);
    let start = store
        .begin_import(&tallinn, target, "rls", Some(&"b".repeat(64)), options)
        .await
        .unwrap();
    let ImportStart::Ready(import) = start else {
        panic!("a new import")
    };
    import.abort().await.unwrap();
    // Plain statements: another municipality's rows are not there to update, and a row for it
    // cannot be inserted.
    let tx = store.begin_as(&tartu).await.unwrap();
    let updated = tx
        .query(
            "UPDATE layer SET title = 'taken' WHERE municipality_code = '0784' RETURNING id",
            &[],
        )
        .await
        .unwrap();
    assert!(updated.is_empty());
    let e = tx
        .query(
            "INSERT INTO feature (layer_id, municipality_code, geom, dataset_version_id)
             SELECT id, '0784', ST_SetSRID(ST_MakePoint(659000, 6474000), 3301), 1
             FROM layer LIMIT 1",
            &[],
        )
        .await
        .unwrap_err();
    assert!(e.is_forbidden(), "{e}");
    drop(tx);
    let c = db.sql().await;
    let titles: i64 = c
        .query_one("SELECT count(*) FROM layer WHERE title = 'taken'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(titles, 0);
    db.drop_db().await;
}

/// `statement` as the service role with a caller of reach all: refused with SQLSTATE 42501
/// (insufficient privilege) — not an error of some other kind.
async fn refused(c: &tokio_postgres::Client, statement: &str) {
    c.batch_execute(
        "BEGIN; SELECT set_config('kovgis.subject', 'test', true), set_config('kovgis.reach', 'all', true)",
    )
    .await
    .unwrap();
    let e = c.batch_execute(statement).await.expect_err(statement);
    c.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(
        e.code(),
        Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
        "{statement}: {e:?}"
    );
}

#[tokio::test]
async fn the_service_role_cannot_edit_the_audit_trail_or_the_schema() {
    let db = FreshDb::new("rlsrole").await;
    let c = kovgis_testkit::db::connect(&db.url).await;
    let who: String = c
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(who, "kovgis_service");
    for statement in [
        "UPDATE audit_event SET purpose = 'x'",
        "DELETE FROM audit_event",
        "TRUNCATE audit_event",
        "UPDATE audit_chain_head SET seq = 0",
        "DELETE FROM audit_chain_head",
        "UPDATE validation_rule SET severity = 'info'",
        "DELETE FROM validation_rule",
        "TRUNCATE feature",
        "DELETE FROM feature",
        "ALTER TABLE feature DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE audit_event NO FORCE ROW LEVEL SECURITY",
        "ALTER TABLE layer ADD COLUMN x int",
        "DROP POLICY tenant_read ON feature",
        "ALTER TABLE audit_event DISABLE TRIGGER audit_event_chain",
        "CREATE TABLE mine (x int)",
        "SET ROLE kovgis_owner",
        "SET SESSION AUTHORIZATION kovgis_owner",
    ] {
        refused(&c, statement).await;
    }
    // Turning row security off does not show more: the query is refused instead.
    refused(
        &c,
        "SET LOCAL row_security = off; SELECT count(*) FROM feature",
    )
    .await;
    db.drop_db().await;
}
