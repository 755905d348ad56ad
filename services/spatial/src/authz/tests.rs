//! The authorisation table on identities written out by hand: each role and scope gets what the
//! table says and nothing more, and the README prints the table as it is.

use super::*;

#[derive(Default)]
struct Who {
    municipality: Option<&'static str>,
    roles: Vec<&'static str>,
    scopes: Vec<&'static str>,
    personal_code: Option<&'static str>,
}

impl Principal for Who {
    fn subject(&self) -> &str {
        "test"
    }
    fn municipality(&self) -> Option<&str> {
        self.municipality
    }
    fn has_role(&self, role: &str) -> bool {
        self.roles.contains(&role)
    }
    fn scopes(&self) -> Vec<&str> {
        self.scopes.clone()
    }
    fn personal_code(&self) -> Option<&str> {
        self.personal_code
    }
}

const TARTU: &str = "0793";
const TALLINN: &str = "0784";

fn official(m: &'static str) -> Who {
    Who {
        municipality: Some(m),
        roles: vec!["official"],
        ..Who::default()
    }
}

#[test]
fn reference_data_is_open_to_every_identity() {
    let authority = Who {
        scopes: vec!["authority:Keskkonnaamet"],
        ..Who::default()
    };
    let applicant = Who {
        roles: vec!["applicant"],
        personal_code: Some("38001010008"),
        ..Who::default()
    };
    for who in [&authority, &applicant, &official(TARTU)] {
        for rpc in [
            "SpatialService/GetParcel",
            "SpatialService/ListMunicipalities",
        ] {
            assert!(grant(rpc, who).is_ok(), "{rpc}");
        }
        // …and the municipal layers to none of the first two.
    }
    for who in [&authority, &applicant] {
        for rpc in [
            "SpatialService/ListLayers",
            "SpatialService/ValidateGeometry",
            "SpatialService/ImportFeatures",
            "RuleService/CreateRuleVersion",
        ] {
            assert_eq!(grant(rpc, who), Err(Denied::NotAllowed), "{rpc}");
        }
    }
}

#[test]
fn an_official_sees_the_own_municipality_and_national_data_only() {
    let g = grant("SpatialService/ListLayers", &official(TARTU)).unwrap();
    assert!(g.sees(None));
    assert!(g.sees(Some(TARTU)));
    assert!(!g.sees(Some(TALLINN)));
    assert!(!g.may_write(Some(TARTU)) || g.municipality.as_deref() == Some(TARTU));
    assert!(!g.may_write(None), "no national writes for an official");
    assert!(g.may_validate(TARTU, "building_permit"));
    assert!(!g.may_validate(TALLINN, "building_permit"));
    // A role without a municipality acts nowhere.
    let homeless = Who {
        roles: vec!["official"],
        ..Who::default()
    };
    assert_eq!(
        grant("SpatialService/ListLayers", &homeless),
        Err(Denied::NotAllowed)
    );
}

#[test]
fn imports_need_the_gis_role_for_own_layers_and_the_national_scope_for_national_data() {
    assert_eq!(
        grant("SpatialService/ImportFeatures", &official(TARTU)),
        Err(Denied::NotAllowed)
    );
    let gis = Who {
        municipality: Some(TARTU),
        roles: vec!["gis_specialist"],
        ..Who::default()
    };
    let g = grant("SpatialService/ImportFeatures", &gis).unwrap();
    assert!(g.may_write(Some(TARTU)));
    assert!(!g.may_write(Some(TALLINN)));
    assert!(!g.may_write(None), "the cadastre and national layers");
    let national = Who {
        scopes: vec![SCOPE_WRITE_NATIONAL],
        ..Who::default()
    };
    let g = grant("SpatialService/ImportFeatures", &national).unwrap();
    assert!(g.may_write(None));
}

#[test]
fn rule_versions_by_the_municipality_admin_or_the_national_rules_scope() {
    let admin = Who {
        municipality: Some(TALLINN),
        roles: vec!["municipality_admin"],
        ..Who::default()
    };
    let g = grant("RuleService/CreateRuleVersion", &admin).unwrap();
    assert!(g.may_write(Some(TALLINN)));
    assert!(!g.may_write(Some(TARTU)));
    assert!(!g.may_write(None));
    assert_eq!(
        grant("RuleService/CreateRuleVersion", &official(TALLINN)),
        Err(Denied::NotAllowed)
    );
    let national = Who {
        scopes: vec![SCOPE_RULES_NATIONAL],
        ..Who::default()
    };
    assert!(
        grant("RuleService/CreateRuleVersion", &national)
            .unwrap()
            .may_write(None)
    );
}

#[test]
fn state_system_scopes_read_everywhere_or_validate_one_procedure_type() {
    let plank = Who {
        scopes: vec![SCOPE_READ_ALL],
        ..Who::default()
    };
    let g = grant("SpatialService/QueryFeatures", &plank).unwrap();
    assert!(g.sees(Some(TARTU)) && g.sees(Some(TALLINN)));
    assert!(!g.may_write(Some(TARTU)));
    assert_eq!(
        grant("SpatialService/ImportFeatures", &plank),
        Err(Denied::NotAllowed)
    );
    let ehr = Who {
        scopes: vec!["kovgis:validate:building_permit"],
        ..Who::default()
    };
    let g = grant("SpatialService/ValidateGeometry", &ehr).unwrap();
    assert!(g.may_validate(TARTU, "building_permit"));
    assert!(!g.may_validate(TARTU, "detailed_plan"));
    assert_eq!(
        grant("SpatialService/QueryFeatures", &ehr),
        Err(Denied::NotAllowed)
    );
    // The bare prefix is no scope.
    let bare = Who {
        scopes: vec!["kovgis:validate:"],
        ..Who::default()
    };
    assert_eq!(
        grant("SpatialService/ValidateGeometry", &bare),
        Err(Denied::NotAllowed)
    );
}

#[test]
fn data_usage_is_the_person_own_or_the_data_tracker() {
    let person = Who {
        roles: vec!["applicant"],
        personal_code: Some("38001010008"),
        ..Who::default()
    };
    let g = grant("AuditService/ListDataUsage", &person).unwrap();
    assert!(g.may_see_person("38001010008"));
    assert!(!g.may_see_person("49002020002"));
    let tracker = Who {
        scopes: vec![SCOPE_DATA_TRACKER],
        ..Who::default()
    };
    assert!(
        grant("AuditService/ListDataUsage", &tracker)
            .unwrap()
            .may_see_person("49002020002")
    );
    assert_eq!(
        grant("AuditService/ListDataUsage", &official(TARTU)),
        Err(Denied::NotAllowed)
    );
}

#[test]
fn a_method_not_in_the_table_is_open_to_no_one() {
    let all = Who {
        municipality: Some(TARTU),
        roles: MUNICIPAL_ROLES.to_vec(),
        scopes: vec![SCOPE_READ_ALL, SCOPE_WRITE_NATIONAL, SCOPE_RULES_NATIONAL],
        ..Who::default()
    };
    assert_eq!(
        grant("SpatialService/DropEverything", &all),
        Err(Denied::UnknownRpc)
    );
}

#[test]
fn the_readme_prints_the_table_as_it_is() {
    let readme = include_str!("../../../../README.md");
    assert!(
        readme.contains(&markdown()),
        "README.md's authorisation table differs from authz::TABLE; paste this:\n{}",
        markdown()
    );
}

#[test]
fn every_method_of_the_api_is_in_the_table() {
    use prost::Message;
    let set = prost_types::FileDescriptorSet::decode(kovgis_api::FILE_DESCRIPTOR_SET).unwrap();
    let mut methods = Vec::new();
    for file in &set.file {
        for service in &file.service {
            for m in &service.method {
                methods.push(format!("{}/{}", service.name(), m.name()));
            }
        }
    }
    assert!(methods.len() >= 14, "{methods:?}");
    for m in &methods {
        assert!(
            TABLE.iter().any(|e| e.rpc == m),
            "{m} is not in authz::TABLE"
        );
    }
    assert_eq!(
        TABLE.len(),
        methods.len(),
        "rows for methods that do not exist"
    );
}
