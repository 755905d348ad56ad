//! An application's contents, read and checked (`ProcedureContents` → the store's [`Contents`])
//! and given back. Every refusal names its field (`contents.applicant.id_code`, …) and says why.
//!
//! What each type asks for: the works period for excavation and felling permits (and for no
//! other type); the building register's procedure id for a building-permit review; trees for a
//! felling permit; road surface and traffic impact for an excavation permit. Attachments are
//! references to the municipality's document register, never the documents.

use chrono::NaiveDate;
use kovgis_api::v1;
use kovgis_core::{InputError, InputLimits};
use kovgis_store::procedures::Contents;
use serde_json::{Value, json};

/// At most this many parcels, attachments or tree rows per application.
pub const MAX_PARCELS: usize = 100;
pub const MAX_ATTACHMENTS: usize = 100;
pub const MAX_TREE_ROWS: usize = 500;
/// Longest description, characters.
pub const MAX_DESCRIPTION: usize = 4000;
/// Longest short text (names, species, reasons are longer: [`MAX_TEXT`]).
pub const MAX_SHORT: usize = 200;
pub const MAX_TEXT: usize = 4000;

/// The procedure types, proto ↔ stored name.
pub fn type_name(t: i32) -> Option<&'static str> {
    Some(match v1::ProcedureType::try_from(t).ok()? {
        v1::ProcedureType::DetailedPlan => "detailed_plan",
        v1::ProcedureType::DesignCriteria => "design_criteria",
        v1::ProcedureType::DesignCriteriaOpen => "design_criteria_open",
        v1::ProcedureType::BuildingPermit => "building_permit",
        v1::ProcedureType::ExcavationPermit => "excavation_permit",
        v1::ProcedureType::FellingPermit => "felling_permit",
        v1::ProcedureType::Unspecified => return None,
    })
}

pub fn type_of(name: &str) -> v1::ProcedureType {
    match name {
        "detailed_plan" => v1::ProcedureType::DetailedPlan,
        "design_criteria" => v1::ProcedureType::DesignCriteria,
        "design_criteria_open" => v1::ProcedureType::DesignCriteriaOpen,
        "building_permit" => v1::ProcedureType::BuildingPermit,
        "excavation_permit" => v1::ProcedureType::ExcavationPermit,
        "felling_permit" => v1::ProcedureType::FellingPermit,
        _ => v1::ProcedureType::Unspecified,
    }
}

/// A required, trimmed text of at most `max` characters.
pub fn text(field: &str, v: &str, max: usize) -> Result<String, InputError> {
    let v = v.trim();
    if v.is_empty() {
        return Err(InputError::new(field, "required"));
    }
    if v.chars().count() > max {
        return Err(InputError::new(field, format!("at most {max} characters")));
    }
    Ok(v.to_owned())
}

fn optional_text(field: &str, v: &str, max: usize) -> Result<String, InputError> {
    if v.trim().is_empty() {
        Ok(String::new())
    } else {
        text(field, v, max)
    }
}

/// An ISO 8601 date.
pub fn date(field: &str, v: &str) -> Result<NaiveDate, InputError> {
    let d: NaiveDate = v.parse().map_err(|_| {
        InputError::new(
            field,
            format!("expected a date such as 2027-05-01, got '{v}'"),
        )
    })?;
    if !(1990..=2200).contains(&chrono::Datelike::year(&d)) {
        return Err(InputError::new(field, "a year from 1990 to 2200"));
    }
    Ok(d)
}

/// A day period, last day not before the first.
pub fn period(
    field: &str,
    p: Option<&v1::DatePeriod>,
) -> Result<(NaiveDate, NaiveDate), InputError> {
    let p = p.ok_or_else(|| InputError::new(field, "required"))?;
    let first = date(&format!("{field}.first_day"), &p.first_day)?;
    let last = date(&format!("{field}.last_day"), &p.last_day)?;
    if last < first {
        return Err(InputError::new(
            format!("{field}.last_day"),
            "must not be before first_day",
        ));
    }
    Ok((first, last))
}

fn applicant(a: Option<&v1::Applicant>) -> Result<(String, String, String, String), InputError> {
    let a = a.ok_or_else(|| InputError::new("contents.applicant", "required"))?;
    let name = text("contents.applicant.name", &a.name, MAX_SHORT)?;
    let code = a.id_code.trim();
    let person = code.len() == 11 && kovgis_auth::is_valid_personal_code(code);
    let company = code.len() == 8 && code.bytes().all(|b| b.is_ascii_digit());
    if !person && !company {
        return Err(InputError::new(
            "contents.applicant.id_code",
            "expected an Estonian personal code (11 digits, valid check digit) or a registry code (8 digits)",
        ));
    }
    let email = optional_text("contents.applicant.email", &a.email, MAX_SHORT)?;
    if !email.is_empty() && !email.contains('@') {
        return Err(InputError::new(
            "contents.applicant.email",
            "not an e-mail address",
        ));
    }
    let phone = optional_text("contents.applicant.phone", &a.phone, 40)?;
    Ok((name, code.to_owned(), email, phone))
}

fn details(procedure_type: &str, d: Option<&v1::ProcedureDetails>) -> Result<Value, InputError> {
    use v1::procedure_details::Details;
    let field = "contents.details";
    let given = d.and_then(|d| d.details.as_ref());
    match (procedure_type, given) {
        ("building_permit", Some(Details::BuildingPermit(b))) => Ok(json!({"building_permit": {
            "ehr_procedure_id": text("contents.details.building_permit.ehr_procedure_id",
                                     &b.ehr_procedure_id, 64)?}})),
        ("excavation_permit", Some(Details::Excavation(e))) => {
            let impact = match v1::TrafficImpact::try_from(e.traffic_impact) {
                Ok(v1::TrafficImpact::None) => "none",
                Ok(v1::TrafficImpact::Partial) => "partial",
                Ok(v1::TrafficImpact::Closed) => "closed",
                _ => {
                    return Err(InputError::new(
                        "contents.details.excavation.traffic_impact",
                        "required: NONE, PARTIAL or CLOSED",
                    ));
                }
            };
            Ok(json!({"excavation": {
                "road_surface": text("contents.details.excavation.road_surface", &e.road_surface, MAX_SHORT)?,
                "traffic_impact": impact}}))
        }
        ("felling_permit", Some(Details::Felling(f))) => {
            if f.trees.is_empty() || f.trees.len() > MAX_TREE_ROWS {
                return Err(InputError::new(
                    "contents.details.felling.trees",
                    format!("1 to {MAX_TREE_ROWS} rows of trees"),
                ));
            }
            let trees = f
                .trees
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let at = format!("contents.details.felling.trees[{i}]");
                    if t.trunk_diameter_cm == 0 || t.trunk_diameter_cm > 1000 {
                        return Err(InputError::new(
                            format!("{at}.trunk_diameter_cm"),
                            "1 to 1000 cm",
                        ));
                    }
                    if t.count == 0 || t.count > 10_000 {
                        return Err(InputError::new(format!("{at}.count"), "1 to 10000"));
                    }
                    Ok(
                        json!({"species": text(&format!("{at}.species"), &t.species, MAX_SHORT)?,
                              "trunk_diameter_cm": t.trunk_diameter_cm, "count": t.count}),
                    )
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(json!({"felling": {"trees": trees}}))
        }
        ("building_permit" | "excavation_permit" | "felling_permit", _) => Err(InputError::new(
            field,
            format!(
                "a {procedure_type} needs its own details ({})",
                match procedure_type {
                    "building_permit" => "building_permit: the EHR procedure id",
                    "excavation_permit" => "excavation: road surface and traffic impact",
                    _ => "felling: the trees",
                }
            ),
        )),
        (_, None) => Ok(json!({})),
        (_, Some(_)) => Err(InputError::new(
            field,
            format!("a {procedure_type} has no type-specific details"),
        )),
    }
}

fn attachments(list: &[v1::Attachment]) -> Result<Value, InputError> {
    if list.len() > MAX_ATTACHMENTS {
        return Err(InputError::new(
            "contents.attachments",
            format!("at most {MAX_ATTACHMENTS}"),
        ));
    }
    let items = list
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let at = format!("contents.attachments[{i}]");
            let media = text(&format!("{at}.media_type"), &a.media_type, 100)?;
            if !media.contains('/') {
                return Err(InputError::new(format!("{at}.media_type"), "expected a media type such as application/pdf"));
            }
            if a.sha256.len() != 64 || !a.sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                return Err(InputError::new(format!("{at}.sha256"), "expected 64 lower-case hex digits"));
            }
            let uri = text(&format!("{at}.uri"), &a.uri, 1000)?;
            if !(uri.starts_with("https://") || uri.starts_with("urn:")) {
                return Err(InputError::new(format!("{at}.uri"), "expected an https: or urn: reference to the document register"));
            }
            Ok(json!({"name": text(&format!("{at}.name"), &a.name, MAX_SHORT)?, "media_type": media,
                      "size_bytes": a.size_bytes, "sha256": a.sha256, "uri": uri}))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Value::Array(items))
}

/// Reads the contents of an application of `procedure_type`.
pub fn read(
    procedure_type: &str,
    c: Option<&v1::ProcedureContents>,
    limits: &InputLimits,
) -> Result<Contents, InputError> {
    let c = c.ok_or_else(|| InputError::new("contents", "required"))?;
    let (applicant_name, applicant_code, applicant_email, applicant_phone) =
        applicant(c.applicant.as_ref())?;
    let parsed = kovgis_api::convert::geometry("contents.geometry", c.geometry.as_ref(), limits)?;
    let geometry = match parsed.geometry {
        geo::Geometry::Polygon(p) => geo::MultiPolygon(vec![p]),
        geo::Geometry::MultiPolygon(m) => m,
        _ => {
            return Err(InputError::new(
                "contents.geometry",
                "the area of a procedure must be a Polygon or MultiPolygon",
            )
            .with_code(InputError::INVALID_GEOMETRY));
        }
    };
    if c.parcel_codes.len() > MAX_PARCELS {
        return Err(InputError::new(
            "contents.parcel_codes",
            format!("at most {MAX_PARCELS}"),
        ));
    }
    let mut parcel_codes = c
        .parcel_codes
        .iter()
        .enumerate()
        .map(|(i, p)| {
            kovgis_core::codes::parse_cadastral_code(&format!("contents.parcel_codes[{i}]"), p)
        })
        .collect::<Result<Vec<_>, _>>()?;
    parcel_codes.sort_unstable();
    parcel_codes.dedup();
    let intended_use = c.intended_use.trim();
    if intended_use.is_empty()
        || intended_use.len() > 64
        || !intended_use
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_')
    {
        return Err(InputError::new(
            "contents.intended_use",
            format!(
                "expected a lower-case code such as residential_building, got '{intended_use}'"
            ),
        ));
    }
    let needs_works = matches!(procedure_type, "excavation_permit" | "felling_permit");
    let works = match (needs_works, c.works_period.as_ref()) {
        (true, p) => Some(period("contents.works_period", p)?),
        (false, None) => None,
        (false, Some(_)) => {
            return Err(InputError::new(
                "contents.works_period",
                format!("a {procedure_type} has no works period"),
            ));
        }
    };
    Ok(Contents {
        applicant_name,
        applicant_code,
        applicant_email,
        applicant_phone,
        description: text("contents.description", &c.description, MAX_DESCRIPTION)?,
        geometry,
        parcel_codes,
        intended_use: intended_use.to_owned(),
        works,
        details: details(procedure_type, c.details.as_ref())?,
        attachments: attachments(&c.attachments)?,
    })
}

/// The contents as the API gives them; the area as WKB in EPSG:3301.
pub fn write(c: &Contents) -> v1::ProcedureContents {
    use v1::procedure_details::Details;
    let d = &c.details;
    let details = if let Some(b) = d.get("building_permit") {
        Some(Details::BuildingPermit(v1::BuildingPermitDetails {
            ehr_procedure_id: b["ehr_procedure_id"].as_str().unwrap_or_default().into(),
        }))
    } else if let Some(e) = d.get("excavation") {
        Some(Details::Excavation(v1::ExcavationDetails {
            road_surface: e["road_surface"].as_str().unwrap_or_default().into(),
            traffic_impact: match e["traffic_impact"].as_str() {
                Some("none") => v1::TrafficImpact::None,
                Some("partial") => v1::TrafficImpact::Partial,
                Some("closed") => v1::TrafficImpact::Closed,
                _ => v1::TrafficImpact::Unspecified,
            } as i32,
        }))
    } else {
        d.get("felling").map(|f| {
            Details::Felling(v1::FellingDetails {
                trees: f["trees"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| v1::Tree {
                        species: t["species"].as_str().unwrap_or_default().into(),
                        trunk_diameter_cm: t["trunk_diameter_cm"].as_u64().unwrap_or(0) as u32,
                        count: t["count"].as_u64().unwrap_or(0) as u32,
                    })
                    .collect(),
            })
        })
    };
    v1::ProcedureContents {
        applicant: Some(v1::Applicant {
            name: c.applicant_name.clone(),
            id_code: c.applicant_code.clone(),
            email: c.applicant_email.clone(),
            phone: c.applicant_phone.clone(),
        }),
        description: c.description.clone(),
        geometry: Some(v1::Geometry {
            value: Some(v1::geometry::Value::Wkb(kovgis_core::output::to_wkb(
                &geo::Geometry::MultiPolygon(c.geometry.clone()),
            ))),
            epsg: 3301,
        }),
        parcel_codes: c.parcel_codes.clone(),
        intended_use: c.intended_use.clone(),
        works_period: c.works.map(|(a, b)| v1::DatePeriod {
            first_day: a.to_string(),
            last_day: b.to_string(),
        }),
        details: details.map(|d| v1::ProcedureDetails { details: Some(d) }),
        attachments: c
            .attachments
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| v1::Attachment {
                name: a["name"].as_str().unwrap_or_default().into(),
                media_type: a["media_type"].as_str().unwrap_or_default().into(),
                size_bytes: a["size_bytes"].as_u64().unwrap_or(0),
                sha256: a["sha256"].as_str().unwrap_or_default().into(),
                uri: a["uri"].as_str().unwrap_or_default().into(),
            })
            .collect(),
    }
}
