//! `kovgis import --as` records its operator, and `kovgis audit verify` / `heads` check the
//! audit chains: intact chains pass; an edited row, a deleted middle row and a deleted tail (each
//! done as the superuser, as an intruder with database rights would) are found, each in its own
//! chain; a chain head rewritten to hide a deleted tail is caught against the heads kept outside.

mod common;

use common::*;
use kovgis_testkit::fixtures;

#[tokio::test]
async fn an_import_records_its_operator_as_author_and_in_the_audit_trail() {
    let db = TestDb::new("auditimport").await;
    let species = fixtures::dir().join("layers/porijogi_species_cat3.geojson");
    let out = ok(&db.kovgis(&[
        "import",
        "layer",
        species.to_str().unwrap(),
        "--kind",
        "restriction",
        "--name",
        "species-audit",
        "--municipality",
        "0793",
        "--authority",
        "Keskkonnaamet",
        "--as",
        "ann",
        "-q",
    ]));
    let version = version_of(&out);
    let c = db.sql().await;
    let author: String = c
        .query_one(
            "SELECT author FROM dataset_version WHERE id = $1",
            &[&version],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(author, "system:import-cli:ann");
    let events = c
        .query(
            "SELECT municipality_code::text, subject, action, acting_municipality::text
             FROM audit_event WHERE entity_kind = 'dataset_version' AND entity_id = $1",
            &[&version.to_string()],
        )
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(
        (
            e.get::<_, Option<String>>(0),
            e.get::<_, String>(1),
            e.get::<_, String>(2),
            e.get::<_, Option<String>>(3)
        ),
        (
            Some("0793".into()),
            "system:import-cli:ann".into(),
            "create".into(),
            None
        )
    );
    db.drop_db().await;
}

/// The hash of an event recomputed with `sha256sum` over the encoding migration 0008 documents,
/// written out here by hand: a third implementation next to the trigger and `kovgis audit`.
fn sha256sum(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}

#[tokio::test]
async fn audit_verify_finds_edited_deleted_and_truncated_chains() {
    let db = TestDb::new("auditverify").await;
    let c = db.sql().await;
    // Five events in each of three municipal chains and two in the national one, written through
    // the trigger (the superuser's own inserts get their chain fields from it too).
    c.batch_execute(
        "BEGIN;
         SELECT set_config('kovgis.subject', 'test:writer', true);
         INSERT INTO audit_event (municipality_code, rpc, action, entity_kind, entity_id, person_code)
         SELECT m, 'Test/Read', 'read', 'procedure', m || '-' || i, CASE WHEN i = 2 THEN '38001010008' END
         FROM (VALUES ('0793'), ('0784'), ('0171')) v(m), generate_series(1, 5) i
         ORDER BY m, i;
         INSERT INTO audit_event (rpc, action, entity_kind, entity_id)
         SELECT 'Test/Write', 'write', 'layer', i::text FROM generate_series(1, 2) i;
         COMMIT",
    )
    .await
    .unwrap();

    // One event's hash, by hand.
    let r = c
        .query_one(
            "SELECT seq, (extract(epoch FROM occurred_at) * 1000000)::bigint, subject, rpc,
                    action, entity_kind, entity_id, person_code, details::text, prev_hash, hash
             FROM audit_event WHERE municipality_code = '0793' AND seq = 2",
            &[],
        )
        .await
        .unwrap();
    let f = |s: &str| format!("{}:{s},", s.len());
    let encoding = [
        f("0793"),
        f(&r.get::<_, i64>(0).to_string()),
        f(&r.get::<_, i64>(1).to_string()),
        f(r.get(2)),
        "~,".into(), // acting municipality: none
        f(r.get(3)),
        f(r.get(4)),
        f(r.get(5)),
        f(r.get(6)),
        match r.get::<_, Option<&str>>(7) {
            Some(p) => f(p),
            None => "~,".into(),
        },
        "~,".into(), // purpose: none
        f(r.get(8)),
        f(r.get(9)),
    ]
    .concat();
    assert_eq!(sha256sum(encoding.as_bytes()), r.get::<_, String>(10));

    // The national chain also holds the demo loader's events.
    let national: i64 = c
        .query_one(
            "SELECT count(*) FROM audit_event WHERE municipality_code IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let national = format!("national: {national} events, intact");
    let verify = |extra: &[&str]| {
        let mut args = vec!["audit", "verify"];
        args.extend_from_slice(extra);
        db.kovgis(&args)
    };
    let out = verify(&[]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    for line in [
        "0171: 5 events, intact",
        "0784: 5 events, intact",
        "0793: 5 events, intact",
        &national,
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }

    // The heads, kept outside the database; they agree with the chain-head table.
    let heads = ok(&db.kovgis(&["audit", "heads"]));
    let expected: Vec<String> = c
        .query(
            "SELECT coalesce(nullif(chain, ''), '-') || ' ' || seq || ' ' || hash
             FROM audit_chain_head ORDER BY chain",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(heads.lines().collect::<Vec<_>>(), expected);
    let kept = db.dir.join("heads.txt");
    std::fs::write(&kept, &heads).unwrap();

    // An edited row, a deleted middle row, a deleted tail.
    c.batch_execute(
        "UPDATE audit_event SET purpose = 'forged' WHERE municipality_code = '0793' AND seq = 3;
         DELETE FROM audit_event WHERE municipality_code = '0784' AND seq = 2;
         DELETE FROM audit_event WHERE municipality_code = '0171' AND seq = 5;",
    )
    .await
    .unwrap();
    let out = verify(&[]);
    let text = stdout(&out);
    assert!(!out.status.success(), "{text}");
    for line in [
        "0793: 5 events, BROKEN: event 3 was changed",
        "0784: 4 events, BROKEN: event 3 follows event 1: events 2..2 are missing",
        "0171: 4 events, BROKEN: the chain ends at event 4, but its chain head names event 5",
        &national,
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }

    // An intruder who also rewinds the chain head hides the deleted tail from a plain verify,
    // not from the heads kept outside.
    c.batch_execute(
        "UPDATE audit_chain_head h SET seq = 4, hash = e.hash FROM audit_event e
         WHERE h.chain = '0171' AND e.municipality_code = '0171' AND e.seq = 4",
    )
    .await
    .unwrap();
    let text = stdout(&verify(&[]));
    assert!(text.contains("0171: 4 events, intact"), "{text}");
    let out = verify(&["--heads", kept.to_str().unwrap()]);
    let text = stdout(&out);
    assert!(!out.status.success());
    assert!(
        text.contains(
            "0171: 4 events, BROKEN: the chain ends at event 4, but a kept head names event 5"
        ),
        "{text}"
    );
    db.drop_db().await;
}
