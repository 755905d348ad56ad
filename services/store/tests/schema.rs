//! The schema's promises, read from PostgreSQL's catalogue of the migrated test database: every
//! tenant table's key leads with `municipality_code` (the distributed layout will shard on it)
//! unless listed below with its reason; every kovgis table is under forced row-level security
//! unless listed; every view runs with its caller's rights (`security_invoker`); the service role
//! owns nothing.

use kovgis_testkit::db::sql;

/// Tables with a `municipality_code` whose key does not lead with it, and why.
const KEY_EXCEPTIONS: &[(&str, &str)] = &[
    (
        "recheck_request",
        "the national re-check queue (migration 0013): a request may concern every municipality \
         (municipality_code NULL); only reach 'all' reads or writes it",
    ),
    (
        "dataset_version",
        "national versions have municipality_code NULL, which a primary key cannot hold; \
         the surrogate id is referenced by parcel, feature and layer",
    ),
    (
        "layer",
        "national layers have municipality_code NULL; its natural key UNIQUE NULLS NOT \
         DISTINCT (municipality_code, name) does lead with it",
    ),
    (
        "feature",
        "features of national layers have municipality_code NULL; a second unique index \
         (municipality_code, id) would cost every import for no check",
    ),
    (
        "validation_rule",
        "national defaults have municipality_code NULL; its natural key UNIQUE NULLS NOT \
         DISTINCT (municipality_code, code, version) does lead with it",
    ),
    (
        "workflow_version",
        "national defaults have municipality_code NULL; its natural key UNIQUE NULLS NOT \
         DISTINCT (municipality_code, procedure_type, version) does lead with it",
    ),
    (
        "workflow_state",
        "rows of one workflow version, keyed by the version's id (the foreign key of its \
         transitions); municipality_code is the version's, copied by a trigger, NULL for \
         national versions, which a primary key cannot hold",
    ),
    (
        "workflow_transition",
        "rows of one workflow version, keyed by the version's id, state and action; \
         municipality_code is the version's, copied by a trigger, NULL for national versions",
    ),
    (
        "parcel",
        "the national cadastre, not tenant data: one table shared by all municipalities, keyed \
         by its id and current cadastral code",
    ),
];

/// Tables without row-level security, and why.
const RLS_EXCEPTIONS: &[(&str, &str)] = &[
    (
        "schema_migration",
        "names of applied migrations: no tenant data",
    ),
    ("spatial_ref_sys", "PostGIS's table of coordinate systems"),
];

#[tokio::test]
async fn tenant_keys_lead_with_the_municipality_code_or_are_listed_exceptions() {
    let c = sql().await;
    // Each table with a municipality_code column, and its key: the primary key, else the first
    // unique constraint; its columns in order.
    let rows = c
        .query(
            "SELECT t.relname::text,
                    (SELECT array_agg(a.attname::text ORDER BY k.ord)
                     FROM pg_constraint con
                     CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
                     JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
                     WHERE con.oid = (SELECT oid FROM pg_constraint
                                      WHERE conrelid = t.oid AND contype IN ('p', 'u')
                                      ORDER BY contype = 'p' DESC, conname LIMIT 1))
             FROM pg_class t JOIN pg_namespace n ON n.oid = t.relnamespace
             WHERE n.nspname = 'public' AND t.relkind = 'r'
               AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = t.oid
                           AND a.attname = 'municipality_code' AND NOT a.attisdropped)
             ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    let mut offenders = Vec::new();
    let mut seen = Vec::new();
    for r in &rows {
        let table: String = r.get(0);
        let key: Option<Vec<String>> = r.get(1);
        seen.push(table.clone());
        let leads = key
            .as_ref()
            .and_then(|k| k.first())
            .is_some_and(|c| c == "municipality_code");
        let excepted = KEY_EXCEPTIONS.iter().any(|(t, _)| *t == table);
        if !leads && !excepted {
            offenders.push(format!("{table} (key {key:?})"));
        }
        if leads && excepted {
            offenders.push(format!(
                "{table} is listed as an exception but its key leads"
            ));
        }
    }
    for (t, _) in KEY_EXCEPTIONS {
        assert!(
            seen.iter().any(|s| s == t),
            "exception {t} names no tenant table"
        );
    }
    assert!(seen.iter().any(|s| s == "audit_event"), "{seen:?}");
    // The statutory clock rules (migration 0011) are tenant data, keyed by municipality first.
    assert!(seen.iter().any(|s| s == "statutory_clock_rule"), "{seen:?}");
    assert!(
        offenders.is_empty(),
        "tenant tables whose key does not lead with municipality_code: {offenders:?}"
    );
}

#[tokio::test]
async fn every_table_is_under_forced_row_level_security_and_views_run_as_their_caller() {
    let c = sql().await;
    let rows = c
        .query(
            "SELECT c.relname::text, c.relrowsecurity, c.relforcerowsecurity,
                    pg_get_userbyid(c.relowner)::text
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind = 'r'
             ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    assert!(rows.len() >= 10);
    for r in &rows {
        let (table, on, forced, owner): (String, bool, bool, String) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        assert_ne!(
            owner, "kovgis_service",
            "{table} is owned by the service role"
        );
        if RLS_EXCEPTIONS.iter().any(|(t, _)| *t == table) {
            continue;
        }
        assert!(
            on && forced,
            "{table}: row security enabled {on}, forced {forced}"
        );
        assert_eq!(owner, "kovgis_owner", "{table}");
    }
    // Views not of an extension (PostGIS's geometry_columns…) must be security_invoker.
    let views = c
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind IN ('v', 'm')
               AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
               AND NOT coalesce('security_invoker=true' = ANY(c.reloptions), false)",
            &[],
        )
        .await
        .unwrap();
    let names: Vec<String> = views.iter().map(|r| r.get(0)).collect();
    assert!(
        names.is_empty(),
        "views without security_invoker: {names:?}"
    );
    // The service role: no superuser, no RLS bypass.
    let role = c
        .query_one(
            "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles
             WHERE rolname = 'kovgis_service'",
            &[],
        )
        .await
        .unwrap();
    let flags: (bool, bool, bool, bool) = (role.get(0), role.get(1), role.get(2), role.get(3));
    assert_eq!(flags, (false, false, false, false));
}
