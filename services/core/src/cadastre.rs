//! The Land Board's cadastre file schemas, recognised from a file's field names.
//!
//! Maa- ja Ruumiamet publishes the cadastre (katastriüksused) nightly. Its attribute names have
//! three spellings (geoportaal.maaamet.ee, "Katastriüksuse andmed" and "Katastriüksuste
//! allalaadimine"):
//! - the SHP/MapInfo names before 08.04.2024, upper case: `TUNNUS`, `HKOOD`, `OV_NIMI`,
//!   `L_AADRESS`, `SIHT1`–`SIHT3`, `SO_PRTS1`–`SO_PRTS3`, `PINDALA`, …;
//! - the SHP names from 08.04.2024, lower case: `tunnus`, `hkood`, `ov_nimi`, `l_aadress`,
//!   `siht1`–`siht3`, `so_prts1`–`so_prts3`, `pindala`, `ads_oid`, `omvorm`, …;
//! - the GeoPackage long names: `Tunnus`, `Haldusyksuse_kood`, `Omavalitsuse_nimi`,
//!   `Lahiaadress`, `Sihtotstarve_1`–`_3`, `SO_protsent_1`–`_3`, `Pindala`, ….
//!
//! [`detect`] picks the schema and says which source field feeds each parcel column; everything
//! else is kept as attributes.

use crate::InputError;

/// Which of the published spellings a file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CadastreSchema {
    /// SHP names before 08.04.2024 (upper case).
    ShpBefore2024,
    /// SHP names from 08.04.2024 (lower case).
    Shp2024,
    /// GeoPackage long names.
    GeoPackage,
}

impl CadastreSchema {
    pub fn describe(self) -> &'static str {
        match self {
            CadastreSchema::ShpBefore2024 => {
                "Land Board SHP schema before 08.04.2024 (TUNNUS, SIHT1, …)"
            }
            CadastreSchema::Shp2024 => "Land Board SHP schema from 08.04.2024 (tunnus, siht1, …)",
            CadastreSchema::GeoPackage => {
                "Land Board GeoPackage schema (Tunnus, Sihtotstarve_1, …)"
            }
        }
    }
}

/// Where each parcel column comes from: indexes into the file's field list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CadastreColumns {
    pub schema: CadastreSchema,
    pub cadastral_code: usize,
    pub municipality_name: Option<usize>,
    pub address: Option<usize>,
    /// Intended uses 1–3 and their percentages.
    pub uses: [(Option<usize>, Option<usize>); 3],
    pub registered_area: Option<usize>,
}

impl CadastreColumns {
    /// Indexes of fields that become columns (the rest stay attributes).
    pub fn mapped(&self) -> Vec<usize> {
        let mut v = vec![self.cadastral_code];
        v.extend(self.municipality_name);
        v.extend(self.address);
        for (u, p) in self.uses {
            v.extend(u);
            v.extend(p);
        }
        v.extend(self.registered_area);
        v
    }
}

struct Names {
    municipality: &'static str,
    address: &'static str,
    uses: [&'static str; 3],
    pcts: [&'static str; 3],
    area: &'static str,
}

const SHP: Names = Names {
    municipality: "ov_nimi",
    address: "l_aadress",
    uses: ["siht1", "siht2", "siht3"],
    pcts: ["so_prts1", "so_prts2", "so_prts3"],
    area: "pindala",
};

const GPKG: Names = Names {
    municipality: "omavalitsuse_nimi",
    address: "lahiaadress",
    uses: ["sihtotstarve_1", "sihtotstarve_2", "sihtotstarve_3"],
    pcts: ["so_protsent_1", "so_protsent_2", "so_protsent_3"],
    area: "pindala",
};

/// Recognises the cadastre schema from the field names of a file.
pub fn detect(fields: &[String]) -> Result<CadastreColumns, InputError> {
    let find = |name: &str| fields.iter().position(|f| f.eq_ignore_ascii_case(name));
    let Some(code) = find("tunnus") else {
        return Err(InputError::new(
            "fields",
            format!(
                "not a Land Board cadastre file: no TUNNUS/tunnus/Tunnus field (fields: {})",
                fields.join(", ")
            ),
        ));
    };
    let is_gpkg = find("sihtotstarve_1").is_some() || find("lahiaadress").is_some();
    let (schema, names) = if is_gpkg {
        (CadastreSchema::GeoPackage, &GPKG)
    } else if fields[code] == "TUNNUS" {
        (CadastreSchema::ShpBefore2024, &SHP)
    } else {
        (CadastreSchema::Shp2024, &SHP)
    };
    Ok(CadastreColumns {
        schema,
        cadastral_code: code,
        municipality_name: find(names.municipality),
        address: find(names.address),
        uses: [0, 1, 2].map(|i| (find(names.uses[i]), find(names.pcts[i]))),
        registered_area: find(names.area),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &str) -> Vec<String> {
        s.split(',').map(|x| x.trim().to_owned()).collect()
    }

    #[test]
    fn old_upper_case_shp() {
        let f = names(
            "TUNNUS, HKOOD, MK_NIMI, OV_NIMI, AY_NIMI, L_AADRESS, REGISTR, MUUDET, SIHT1, SIHT2, SIHT3, SO_PRTS1, SO_PRTS2, SO_PRTS3, PINDALA",
        );
        let c = detect(&f).unwrap();
        assert_eq!(c.schema, CadastreSchema::ShpBefore2024);
        assert_eq!(
            (c.cadastral_code, c.municipality_name, c.address),
            (0, Some(3), Some(5))
        );
        assert_eq!(
            c.uses,
            [
                (Some(8), Some(11)),
                (Some(9), Some(12)),
                (Some(10), Some(13))
            ]
        );
        assert_eq!(c.registered_area, Some(14));
    }

    #[test]
    fn new_lower_case_shp() {
        let f = names(
            "tunnus, hkood, mk_nimi, ov_nimi, ay_nimi, l_aadress, registr, muudet, siht1, siht2, siht3, so_prts1, so_prts2, so_prts3, pindala, ads_oid, omvorm",
        );
        let c = detect(&f).unwrap();
        assert_eq!(c.schema, CadastreSchema::Shp2024);
        assert_eq!(c.registered_area, Some(14));
        assert_eq!(c.mapped().len(), 10);
    }

    #[test]
    fn geopackage_long_names() {
        let f = names(
            "Tunnus, Haldusyksuse_kood, Maakonna_nimi, Omavalitsuse_nimi, Asustusyksuse_nimi, Lahiaadress, Registreeritud, Muudetud, Sihtotstarve_1, Sihtotstarve_2, Sihtotstarve_3, SO_protsent_1, SO_protsent_2, SO_protsent_3, Pindala",
        );
        let c = detect(&f).unwrap();
        assert_eq!(c.schema, CadastreSchema::GeoPackage);
        assert_eq!((c.municipality_name, c.address), (Some(3), Some(5)));
        assert_eq!(c.uses[2], (Some(10), Some(13)));
    }

    #[test]
    fn not_a_cadastre() {
        let e = detect(&names("id, name, geom_area")).unwrap_err();
        assert!(e.reason.contains("TUNNUS"), "{e}");
    }
}
