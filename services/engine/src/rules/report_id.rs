//! The report id: a SHA-256 over everything that decides a report's result, so that a procedure
//! can cite exactly what was checked — the same inputs give the same id on any server, and a
//! change of any one of them gives another.
//!
//! What goes in, in this order (the *canonical encoding*, version 1):
//!
//! 1. the tag `kovgis.report-id.v1` (str);
//! 2. the proposal's geometry as checked — a MultiPolygon in EPSG:3301, x = easting,
//!    y = northing — as ISO WKB, little-endian, XY: the bytes [`Report::input_hash`] hashes
//!    (bytes);
//! 3. the municipality code, 4. the procedure type, 5. the intended use (str each);
//! 6. the parcel codes named, as the proposal holds them — the API sorts them and drops
//!    duplicates; empty: found by intersection (list of str);
//! 7. the moment checked: seconds since 1970-01-01T00:00:00Z (i64), then nanoseconds (u32);
//! 8. every rule version used, in report order: rule code (str), the municipality whose own
//!    version it is (optional str; absent: national), version (i32) — a list;
//! 9. every dataset version used, sorted by name in byte order: name (str: `parcels`,
//!    `layer <name> (<id>)`), version (optional i64; absent: never loaded) — a list.
//!
//! - str, bytes: length as u32 big-endian, then the bytes (UTF-8 for text);
//! - list: number of items as u32 big-endian, then the items;
//! - optional: `0x00` when absent, else `0x01` and the value;
//! - i32, u32, i64: big-endian, two's complement.
//!
//! The id is the SHA-256 of those bytes in lower-case hex. Not in it: the language and the output
//! options (they change how a report reads, not what it says) and the index's build time (the
//! dataset versions say which data). A rule version is a row that is never edited (a change is a
//! new version), so its code, owner and number identify its parameters.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::context::Proposal;
use super::report::Report;

/// The tag that opens the encoding; a new encoding gets a new tag.
const TAG: &str = "kovgis.report-id.v1";

/// The id of `report`, made for `proposal` at the moment `at`: SHA-256 of [`canonical`] in
/// lower-case hex.
pub fn report_id(proposal: &Proposal, at: DateTime<Utc>, report: &Report) -> String {
    hex::encode(Sha256::digest(canonical(proposal, at, report)))
}

/// The canonical encoding of what decides `report` (see the module docs).
pub fn canonical(proposal: &Proposal, at: DateTime<Utc>, report: &Report) -> Vec<u8> {
    let geometry =
        kovgis_core::output::to_wkb(&geo::Geometry::MultiPolygon(proposal.geometry.clone()));
    let mut e = Encoder(Vec::with_capacity(256 + geometry.len()));
    e.bytes(TAG.as_bytes());
    e.bytes(&geometry);
    e.str(&proposal.municipality_code);
    e.str(&proposal.procedure);
    e.str(&proposal.intended_use);
    e.len(proposal.parcel_codes.len());
    for code in &proposal.parcel_codes {
        e.str(code);
    }
    e.0.extend_from_slice(&at.timestamp().to_be_bytes());
    e.0.extend_from_slice(&at.timestamp_subsec_nanos().to_be_bytes());
    e.len(report.rule_versions.len());
    for r in &report.rule_versions {
        e.str(r.rule.as_str());
        match &r.municipality_code {
            None => e.0.push(0),
            Some(m) => {
                e.0.push(1);
                e.str(m);
            }
        }
        e.0.extend_from_slice(&r.version.to_be_bytes());
    }
    let mut datasets: Vec<&(String, Option<i64>)> = report.dataset_versions.iter().collect();
    datasets.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    e.len(datasets.len());
    for (name, version) in datasets {
        e.str(name);
        match version {
            None => e.0.push(0),
            Some(v) => {
                e.0.push(1);
                e.0.extend_from_slice(&v.to_be_bytes());
            }
        }
    }
    e.0
}

struct Encoder(Vec<u8>);

impl Encoder {
    /// A length or a count, as u32 big-endian (nothing in a report comes near 4 GiB).
    fn len(&mut self, n: usize) {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        self.0.extend_from_slice(&n.to_be_bytes());
    }

    fn bytes(&mut self, b: &[u8]) {
        self.len(b.len());
        self.0.extend_from_slice(b);
    }

    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use geo::{LineString, MultiPolygon, Polygon};

    use super::*;
    use crate::rules::{Locale, RuleCode, RuleVersion, Status, Verdict};

    /// A triangle (0 0, 1 0, 0 1) for 0793, building permit, residential, named parcel
    /// 79301:001:0001, checked at 1 000 000 000 s + 5 ns after the epoch with SETBACK v2 of 0793
    /// and GEOMETRY_VALID v1 (national), on parcels version 7 and a layer never loaded.
    fn known() -> (Proposal, DateTime<Utc>, Report) {
        let ring = LineString::from(vec![(0., 0.), (1., 0.), (0., 1.), (0., 0.)]);
        let proposal = Proposal {
            municipality_code: "0793".into(),
            procedure: "building_permit".into(),
            geometry: MultiPolygon(vec![Polygon::new(ring, vec![])]),
            intended_use: "residential".into(),
            parcel_codes: vec!["79301:001:0001".into()],
            on: NaiveDate::from_ymd_opt(2001, 9, 9).unwrap(),
            locale: Locale::En,
            outlines: true,
            works: None,
            procedure_id: None,
        };
        let at = DateTime::from_timestamp(1_000_000_000, 5).unwrap();
        let version = |rule, version, m: Option<&str>| RuleVersion {
            rule,
            version,
            municipality_code: m.map(str::to_owned),
            status: Status::Passed,
        };
        let report = Report {
            verdict: Verdict::Clear,
            findings: Vec::new(),
            parcels: Vec::new(),
            rule_versions: vec![
                version(RuleCode::GeometryValid, 1, None),
                version(RuleCode::Setback, 2, Some("0793")),
            ],
            // Out of order on purpose: the encoding sorts them by name.
            dataset_versions: vec![("parcels".into(), Some(7)), ("layer z (3)".into(), None)],
            input_hash: String::new(),
        };
        (proposal, at, report)
    }

    /// The encoding of [`known`], written out by hand from the table in the module docs.
    #[test]
    fn the_encoding_of_a_known_input_is_pinned() {
        let mut want: Vec<u8> = Vec::new();
        let mut put = |hex_text: &str| want.extend(hex::decode(hex_text.replace(' ', "")).unwrap());
        // 1. "kovgis.report-id.v1": 19 bytes.
        put("00000013");
        put(&hex::encode("kovgis.report-id.v1"));
        // 2. WKB, 86 bytes: LE, MultiPolygon (6), 1 polygon; LE, Polygon (3), 1 ring, 4 points;
        //    0.0 is 00…00 and 1.0 is 00 00 00 00 00 00 f0 3f in little-endian IEEE 754.
        put("00000056");
        put("01 06000000 01000000 01 03000000 01000000 04000000");
        put("0000000000000000 0000000000000000"); // 0 0
        put("000000000000f03f 0000000000000000"); // 1 0
        put("0000000000000000 000000000000f03f"); // 0 1
        put("0000000000000000 0000000000000000"); // 0 0
        // 3.–5. "0793" (4), "building_permit" (15), "residential" (11).
        put("00000004 30373933");
        put("0000000f");
        put(&hex::encode("building_permit"));
        put("0000000b");
        put(&hex::encode("residential"));
        // 6. one parcel code, 14 bytes.
        put("00000001 0000000e");
        put(&hex::encode("79301:001:0001"));
        // 7. 1 000 000 000 s = 0x3b9aca00; 5 ns.
        put("000000003b9aca00 00000005");
        // 8. two rule versions: GEOMETRY_VALID (14), national, 1; SETBACK (7), 0793, 2.
        put("00000002");
        put("0000000e");
        put(&hex::encode("GEOMETRY_VALID"));
        put("00 00000001");
        put("00000007");
        put(&hex::encode("SETBACK"));
        put("01 00000004 30373933 00000002");
        // 9. two datasets sorted by name: "layer z (3)" (11), absent; "parcels" (7), 7.
        put("00000002 0000000b");
        put(&hex::encode("layer z (3)"));
        put("00");
        put("00000007");
        put(&hex::encode("parcels"));
        put("01 0000000000000007");

        let (p, at, r) = known();
        assert_eq!(hex::encode(canonical(&p, at, &r)), hex::encode(&want));
        // SHA-256 of those bytes as Python's hashlib gives it, in lower-case hex.
        assert_eq!(report_id(&p, at, &r), KNOWN_ID);
    }

    /// `hashlib.sha256(b).hexdigest()` in Python, `b` built with `struct.pack` from the table in
    /// the module docs (independently of this crate).
    const KNOWN_ID: &str = "ec4f521ca50889a8ad0f2b7bfa1af45353b890a162f4902474dd5763098e9721";

    #[test]
    fn every_ingredient_changes_the_id() {
        let (p, at, r) = known();
        let id = report_id(&p, at, &r);
        assert_eq!(id, report_id(&p.clone(), at, &r.clone()), "deterministic");
        let mut changed: Vec<String> = Vec::new();
        let mut with = |f: &dyn Fn(&mut Proposal, &mut DateTime<Utc>, &mut Report)| {
            let (mut p, mut at, mut r) = known();
            f(&mut p, &mut at, &mut r);
            changed.push(report_id(&p, at, &r));
        };
        with(&|p, _, _| p.geometry.0[0].exterior_mut(|l| l.0[1].x = 2.0));
        with(&|p, _, _| p.municipality_code = "0784".into());
        with(&|p, _, _| p.procedure = "design_criteria".into());
        with(&|p, _, _| p.intended_use = "commercial".into());
        with(&|p, _, _| p.parcel_codes.clear());
        with(&|_, at, _| *at += chrono::TimeDelta::nanoseconds(1));
        with(&|_, _, r| r.rule_versions[1].version = 3);
        with(&|_, _, r| r.rule_versions[1].municipality_code = None);
        with(&|_, _, r| r.dataset_versions[0].1 = Some(8));
        with(&|_, _, r| r.dataset_versions[1].1 = Some(0));
        // Moving text from one field to the next is another input, not the same bytes.
        with(&|p, _, _| {
            p.procedure = "building_permitr".into();
            p.intended_use = "esidential".into();
        });
        for (i, c) in changed.iter().enumerate() {
            assert_ne!(c, &id, "change {i} kept the id");
        }
        // What does not decide the result does not change it.
        let (mut p, at, mut r) = known();
        p.locale = Locale::Et;
        p.outlines = false;
        r.dataset_versions.reverse();
        r.input_hash = "x".into();
        assert_eq!(report_id(&p, at, &r), id);
    }
}
