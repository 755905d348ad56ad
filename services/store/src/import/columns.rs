//! The parcel columns an import writes, said once: names, SQL types and binary COPY types, and
//! the values of a [`ParcelRow`] in the same order. The stage table, the COPY column lists (stage
//! and first load), the merge's `INSERT … SELECT` and the rows written are all made from
//! [`PARCEL_CONTENT`], so a column cannot be added, dropped or reordered in one of them only.
//!
//! Not the read queries (`sql/*.sql` select parcel columns by name, not by position).

use tokio_postgres::types::{ToSql, Type};

use super::rows::ParcelRow;

/// One column: its name (the same in `parcel` and in the stage), its type as SQL declares it
/// (for the stage table) and its type on the binary COPY wire.
#[derive(Debug)]
pub(super) struct Column {
    pub(super) name: &'static str,
    pub(super) sql_type: &'static str,
    pub(super) ty: Type,
}

const fn column(name: &'static str, sql_type: &'static str, ty: Type) -> Column {
    Column { name, sql_type, ty }
}

/// How many columns [`PARCEL_CONTENT`], [`PARCEL_STAGE_ONLY`] and [`PARCEL_SET_BY_IMPORT`] have
/// (`Type` has a destructor, so the arrays are statics and their lengths said here).
const CONTENT: usize = 13;
const STAGE_ONLY: usize = 4;
const SET_BY_IMPORT: usize = 3;

/// The columns of `parcel` that carry a parcel's content, in [`content_values`]' order. The
/// stage has them under the same names, so the merge copies them across by name.
pub(super) static PARCEL_CONTENT: [Column; CONTENT] = [
    column("cadastral_code", "text", Type::TEXT),
    // NULL in the stage until placed by geometry at merge; never NULL in `parcel`.
    column("municipality_code", "char(4)", Type::BPCHAR),
    column("address", "text", Type::TEXT),
    column("use1_code", "text", Type::TEXT),
    column("use1_pct", "smallint", Type::INT2),
    column("use2_code", "text", Type::TEXT),
    column("use2_pct", "smallint", Type::INT2),
    column("use3_code", "text", Type::TEXT),
    column("use3_pct", "smallint", Type::INT2),
    column("registered_area_m2", "float8", Type::FLOAT8),
    column("attributes", "jsonb", Type::JSONB),
    column("row_hash", "bytea", Type::BYTEA),
    column("source_hash", "bytea", Type::BYTEA),
];

/// Stage-only columns, before [`PARCEL_CONTENT`] in the stage, in [`stage_values`]' order: the
/// source position (for messages), the register's municipality name, the repair flag and the
/// geometry as plain WKB (SQL repairs and places it before it becomes `geom`).
pub(super) static PARCEL_STAGE_ONLY: [Column; STAGE_ONLY] = [
    column("idx", "bigint", Type::INT8),
    column("municipality_name", "text", Type::TEXT),
    column("needs_repair", "bool", Type::BOOL),
    column("wkb", "bytea", Type::BYTEA),
];

/// Columns of `parcel` the import sets itself, after [`PARCEL_CONTENT`] in a first load's COPY
/// and in the merge's `INSERT`: the geometry (a PostGIS type whose OID is known only at run time),
/// the start of validity and the dataset version.
const PARCEL_SET_BY_IMPORT: [&str; SET_BY_IMPORT] = ["geom", "valid_from", "dataset_version_id"];

/// `a, b, c` or, with a prefix, `s.a, s.b, s.c`.
fn names<'a>(columns: impl IntoIterator<Item = &'a Column>, prefix: &str) -> String {
    columns
        .into_iter()
        .map(|c| format!("{prefix}{}", c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn stage_columns() -> impl Iterator<Item = &'static Column> {
    PARCEL_STAGE_ONLY.iter().chain(PARCEL_CONTENT.iter())
}

/// `CREATE TEMP TABLE import_stage …` for a parcel import.
pub(super) fn parcel_stage_ddl() -> String {
    let columns: Vec<String> = stage_columns()
        .map(|c| format!("{} {}", c.name, c.sql_type))
        .collect();
    format!(
        "CREATE TEMP TABLE import_stage ({}) ON COMMIT DROP",
        columns.join(", ")
    )
}

/// `COPY import_stage (…) FROM STDIN` in [`stage_values`]' order.
pub(super) fn parcel_stage_copy() -> String {
    format!(
        "COPY import_stage ({}) FROM STDIN (FORMAT binary)",
        names(stage_columns(), "")
    )
}

/// The binary COPY types of [`parcel_stage_copy`].
pub(super) fn parcel_stage_types() -> Vec<Type> {
    stage_columns().map(|c| c.ty.clone()).collect()
}

/// `COPY parcel (…) FROM STDIN` of a first load, in [`direct_values`]' order.
pub(super) fn parcel_direct_copy() -> String {
    format!(
        "COPY parcel_first_load ({}, {}) FROM STDIN (FORMAT binary)",
        names(&PARCEL_CONTENT, ""),
        PARCEL_SET_BY_IMPORT.join(", ")
    )
}

/// A first load copies into this temporary table of `parcel`'s columns, because PostgreSQL
/// refuses COPY FROM into a table under row-level security; [`parcel_insert_first_load`] then
/// moves the rows in one INSERT, which the policies check.
pub(super) fn parcel_first_load_ddl() -> String {
    format!(
        "CREATE TEMP TABLE parcel_first_load ON COMMIT DROP AS
         SELECT {}, {} FROM parcel WITH NO DATA",
        names(&PARCEL_CONTENT, ""),
        PARCEL_SET_BY_IMPORT.join(", ")
    )
}

/// Moves a first load's rows into `parcel`.
pub(super) fn parcel_insert_first_load() -> String {
    let cols = format!(
        "{}, {}",
        names(&PARCEL_CONTENT, ""),
        PARCEL_SET_BY_IMPORT.join(", ")
    );
    format!("INSERT INTO parcel ({cols}) SELECT {cols} FROM parcel_first_load")
}

/// The binary COPY types of [`parcel_direct_copy`]; `geometry` is PostGIS's type in this
/// database.
pub(super) fn parcel_direct_types(geometry: Type) -> Vec<Type> {
    let mut types: Vec<Type> = PARCEL_CONTENT.iter().map(|c| c.ty.clone()).collect();
    types.extend([geometry, Type::TIMESTAMPTZ, Type::INT8]);
    types
}

/// The merge's insert of staged parcels with no current version: `$1` is the dataset version,
/// `$2` whether this is a first load (no current rows to look for).
pub(super) fn parcel_insert_from_stage() -> String {
    format!(
        "INSERT INTO parcel ({}, {})
         SELECT {}, ST_Multi(ST_GeomFromWKB(s.wkb, 3301)), now(), $1
         FROM import_stage s
         -- a first load has no current rows to keep (and no index to look them up)
         WHERE ($2 OR NOT EXISTS (SELECT 1 FROM parcel p
                                  WHERE p.cadastral_code = s.cadastral_code AND p.valid_to IS NULL))
         RETURNING cadastral_code, source_hash, row_hash",
        names(&PARCEL_CONTENT, ""),
        PARCEL_SET_BY_IMPORT.join(", "),
        names(&PARCEL_CONTENT, "s."),
    )
}

/// A value for binary COPY.
pub(super) type Value<'a> = &'a (dyn ToSql + Sync);

/// A parcel's values in [`PARCEL_CONTENT`]'s order; `municipality` is the EHAK code the import
/// placed it in, if known yet.
pub(super) fn content_values<'a>(
    r: &'a ParcelRow,
    municipality: &'a Option<&'a String>,
) -> [Value<'a>; CONTENT] {
    let [(u1, p1), (u2, p2), (u3, p3)] = &r.uses;
    [
        &r.cadastral_code,
        municipality,
        &r.address,
        u1,
        p1,
        u2,
        p2,
        u3,
        p3,
        &r.registered_area_m2,
        &r.attributes,
        &r.row_hash,
        &r.source_hash,
    ]
}

/// A staged parcel's values in [`parcel_stage_copy`]'s order.
pub(super) fn stage_values<'a>(
    r: &'a ParcelRow,
    municipality: &'a Option<&'a String>,
) -> [Value<'a>; STAGE_ONLY + CONTENT] {
    let own: [Value<'a>; STAGE_ONLY] = [&r.index, &r.municipality_name, &r.needs_repair, &r.wkb];
    join(own, content_values(r, municipality))
}

/// A first-load parcel's values in [`parcel_direct_copy`]'s order: the content, then `geom`,
/// `valid_from` and `dataset_version_id`.
pub(super) fn direct_values<'a>(
    r: &'a ParcelRow,
    municipality: &'a Option<&'a String>,
    set_by_import: [Value<'a>; SET_BY_IMPORT],
) -> [Value<'a>; CONTENT + SET_BY_IMPORT] {
    join(content_values(r, municipality), set_by_import)
}

/// `a` then `b`, without allocating (one row of a 775 000-row COPY).
fn join<'a, const A: usize, const B: usize, const N: usize>(
    a: [Value<'a>; A],
    b: [Value<'a>; B],
) -> [Value<'a>; N] {
    const { assert!(A + B == N) };
    std::array::from_fn(|i| if i < A { a[i] } else { b[i - A] })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> ParcelRow {
        ParcelRow {
            index: 7,
            cadastral_code: "78401:101:0238".into(),
            municipality_name: Some("Tallinn".into()),
            address: Some("Purje tn 13".into()),
            uses: [
                (Some("ELAMUMAA".into()), Some(90)),
                (Some("ARIMAA".into()), Some(10)),
                (None, None),
            ],
            registered_area_m2: Some(1234.5),
            attributes: serde_json::json!({"a": 1}),
            wkb: vec![1, 2, 3],
            needs_repair: true,
            row_hash: vec![9; 16],
            source_hash: Some(vec![8; 16]),
        }
    }

    /// Every value goes out with the COPY type of its column: a value put in the wrong place
    /// (an `i16` where a `text` column is) fails to encode.
    fn assert_types_match(values: &[Value<'_>], types: &[Type]) {
        assert_eq!(values.len(), types.len());
        for (i, (v, ty)) in values.iter().zip(types).enumerate() {
            let mut buf = bytes::BytesMut::new();
            v.to_sql_checked(ty, &mut buf)
                .unwrap_or_else(|e| panic!("value {i} does not encode as {ty}: {e}"));
        }
    }

    #[test]
    fn stage_values_follow_the_stage_columns() {
        let r = row();
        let municipality = String::from("0784");
        let m = Some(&municipality);
        assert_types_match(&stage_values(&r, &m), &parcel_stage_types());
    }

    #[test]
    fn direct_values_follow_the_first_load_columns() {
        let r = row();
        let municipality = String::from("0784");
        let m = Some(&municipality);
        let geom = vec![0u8];
        let now = std::time::SystemTime::now();
        let version = 1i64;
        let values = direct_values(&r, &m, [&geom, &now, &version]);
        // `geometry` has no fixed OID; bytea stands in for it in this check.
        assert_types_match(&values, &parcel_direct_types(Type::BYTEA));
    }

    #[test]
    fn the_statements_name_the_columns_in_value_order() {
        assert_eq!(
            parcel_stage_copy(),
            "COPY import_stage (idx, municipality_name, needs_repair, wkb, cadastral_code, \
             municipality_code, address, use1_code, use1_pct, use2_code, use2_pct, use3_code, \
             use3_pct, registered_area_m2, attributes, row_hash, source_hash) FROM STDIN \
             (FORMAT binary)"
        );
        assert_eq!(
            parcel_direct_copy(),
            "COPY parcel_first_load (cadastral_code, municipality_code, address, use1_code, use1_pct, \
             use2_code, use2_pct, use3_code, use3_pct, registered_area_m2, attributes, row_hash, \
             source_hash, geom, valid_from, dataset_version_id) FROM STDIN (FORMAT binary)"
        );
        assert!(parcel_stage_ddl().contains("municipality_code char(4), address text"));
        assert!(
            parcel_insert_from_stage().contains("SELECT s.cadastral_code, s.municipality_code")
        );
    }
}
