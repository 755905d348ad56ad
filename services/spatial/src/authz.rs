//! Who may call what: the one table of RPC × role / scope ([`TABLE`], printed in the README by a
//! test that keeps the two equal), and what a granted call may reach ([`Grant`]).
//!
//! Two questions, asked in this order:
//! 1. May this identity call this RPC at all? Persons by a role they hold in their municipality
//!    (`official`, `approver`, `gis_specialist`, `municipality_admin`, `applicant`), machines by a
//!    scope (`kovgis:read:all`, `kovgis:validate:<procedure type>`, `kovgis:write:national`,
//!    `kovgis:rules:national`, `kovgis:data-tracker`, `authority:<name>`). No: `PERMISSION_DENIED`.
//! 2. Does the call's target lie within the grant ([`Grant::sees`], [`Grant::may_write`], …)? A
//!    resource of another municipality is answered as if it did not exist (`NOT_FOUND`) and never
//!    counted; the database's row-level security says the same a second time.
//!
//! Public reference data — the municipalities and the national cadastre — is open to every
//! verified identity. Nothing here is reached without one: the authentication layer refuses
//! anonymous calls before any handler runs.

use std::fmt;

/// What the table needs to know of a verified identity.
pub trait Principal {
    fn subject(&self) -> &str;
    /// The municipality (EHAK code) a person acts for.
    fn municipality(&self) -> Option<&str>;
    /// A role claim, e.g. `official`.
    fn has_role(&self, role: &str) -> bool;
    /// The scopes of a machine identity, e.g. `kovgis:read:all`.
    fn scopes(&self) -> Vec<&str>;
    /// The person's Estonian personal code, when the identity is a person's.
    fn personal_code(&self) -> Option<&str>;
}

/// Reads everything, in every municipality (state systems such as EHR or PLANK adapters).
pub const SCOPE_READ_ALL: &str = "kovgis:read:all";
/// Validates proposals of one procedure type, in every municipality: `kovgis:validate:<type>`.
pub const SCOPE_VALIDATE_PREFIX: &str = "kovgis:validate:";
/// Imports national layers and the cadastre.
pub const SCOPE_WRITE_NATIONAL: &str = "kovgis:write:national";
/// Creates national rule versions (and any municipality's).
pub const SCOPE_RULES_NATIONAL: &str = "kovgis:rules:national";
/// The state data tracker: any person's data usage.
pub const SCOPE_DATA_TRACKER: &str = "kovgis:data-tracker";
/// A coordinating authority: `authority:Keskkonnaamet`: the public reference data, and the
/// procedures whose coordination was asked of it.
pub const SCOPE_AUTHORITY_PREFIX: &str = "authority:";
/// A state system running procedures of one type, in every municipality:
/// `kovgis:procedures:<type>` (e.g. the building register for `building_permit` reviews).
pub const SCOPE_PROCEDURES_PREFIX: &str = "kovgis:procedures:";

const MUNICIPAL_ROLES: &[&str] = &[
    "official",
    "approver",
    "gis_specialist",
    "municipality_admin",
];
/// Validation is also open to applicants (in their municipality): the ProcedureService checks a
/// submission with the submitter's identity, and an applicant may check a proposal first.
const VALIDATING_ROLES: &[&str] = &[
    "official",
    "approver",
    "gis_specialist",
    "municipality_admin",
    "applicant",
];
/// Everyone of a municipality who works on procedures, applicants included (row-level security
/// then shows an applicant only their own procedures).
const PROCEDURE_READERS: &[&str] = &[
    "official",
    "approver",
    "gis_specialist",
    "municipality_admin",
    "applicant",
];
const PROCEDURE_READ_SCOPES: &[&str] = &[
    SCOPE_READ_ALL,
    SCOPE_PROCEDURES_PREFIX,
    SCOPE_AUTHORITY_PREFIX,
];
const OFFICIALS: &[&str] = &["official", "approver"];

/// Whom an RPC is open to.
#[derive(Debug, Clone, Copy)]
pub enum Open {
    /// Every verified identity (public reference data).
    Everyone,
    /// Persons with one of `roles` (acting in their own municipality), or machines with one of
    /// `scopes` (scopes ending in `:` are prefixes, e.g. `kovgis:validate:`).
    To {
        roles: &'static [&'static str],
        scopes: &'static [&'static str],
    },
    /// The person the data is about, or a machine with one of `scopes`.
    DataSubjectOr { scopes: &'static [&'static str] },
    /// Everyone, also without identity (what the public must be able to see; no personal data).
    Public,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// The gRPC method, `Service/Method`.
    pub rpc: &'static str,
    pub open: Open,
    /// What a granted caller reaches, for the README.
    pub reach: &'static str,
}

/// Every RPC of the server but health and reflection (open without identity), and who may call
/// it. A method missing here is refused to everyone ([`grant`] finds no row).
pub const TABLE: &[Entry] = &[
    Entry {
        rpc: "SpatialService/ListMunicipalities",
        open: Open::Everyone,
        reach: "all (public reference data)",
    },
    Entry {
        rpc: "SpatialService/GetMunicipality",
        open: Open::Everyone,
        reach: "all (public reference data)",
    },
    Entry {
        rpc: "SpatialService/LocateMunicipality",
        open: Open::Everyone,
        reach: "all (public reference data)",
    },
    Entry {
        rpc: "SpatialService/GetParcel",
        open: Open::Everyone,
        reach: "the national cadastre",
    },
    Entry {
        rpc: "SpatialService/FindParcels",
        open: Open::Everyone,
        reach: "the national cadastre",
    },
    Entry {
        rpc: "SpatialService/ListLayers",
        open: Open::To {
            roles: MUNICIPAL_ROLES,
            scopes: &[SCOPE_READ_ALL],
        },
        reach: "national layers and the own municipality's (every municipality's with `kovgis:read:all`)",
    },
    Entry {
        rpc: "SpatialService/QueryFeatures",
        open: Open::To {
            roles: MUNICIPAL_ROLES,
            scopes: &[SCOPE_READ_ALL],
        },
        reach: "as ListLayers; another municipality's layer is NOT_FOUND",
    },
    Entry {
        rpc: "SpatialService/GetIndexStats",
        open: Open::To {
            roles: MUNICIPAL_ROLES,
            scopes: &[SCOPE_READ_ALL],
        },
        reach: "as ListLayers: other municipalities' layers are not listed nor counted",
    },
    Entry {
        rpc: "SpatialService/ValidateGeometry",
        open: Open::To {
            roles: VALIDATING_ROLES,
            scopes: &[
                SCOPE_READ_ALL,
                SCOPE_VALIDATE_PREFIX,
                SCOPE_PROCEDURES_PREFIX,
            ],
        },
        reach: "proposals in the own municipality (any with a scope; `kovgis:validate:<type>` and `kovgis:procedures:<type>` that procedure type only)",
    },
    Entry {
        rpc: "SpatialService/ValidateGeometries",
        open: Open::To {
            roles: VALIDATING_ROLES,
            scopes: &[SCOPE_READ_ALL, SCOPE_VALIDATE_PREFIX],
        },
        reach: "as ValidateGeometry, for every proposal of the batch",
    },
    Entry {
        rpc: "SpatialService/ImportFeatures",
        open: Open::To {
            roles: &["gis_specialist"],
            scopes: &[SCOPE_WRITE_NATIONAL],
        },
        reach: "the own municipality's layers; national layers and the cadastre only with `kovgis:write:national`",
    },
    Entry {
        rpc: "RuleService/ListRules",
        open: Open::To {
            roles: MUNICIPAL_ROLES,
            scopes: &[SCOPE_READ_ALL, SCOPE_RULES_NATIONAL],
        },
        reach: "national rules and the own municipality's",
    },
    Entry {
        rpc: "RuleService/CreateRuleVersion",
        open: Open::To {
            roles: &["municipality_admin"],
            scopes: &[SCOPE_RULES_NATIONAL],
        },
        reach: "the own municipality's rules; national ones only with `kovgis:rules:national`",
    },
    Entry {
        rpc: "AuditService/ListDataUsage",
        open: Open::DataSubjectOr {
            scopes: &[SCOPE_DATA_TRACKER],
        },
        reach: "the caller's own personal code; any with `kovgis:data-tracker`",
    },
    Entry {
        rpc: "ProcedureService/CreateProcedure",
        open: Open::To {
            roles: &["applicant", "official"],
            scopes: &[SCOPE_PROCEDURES_PREFIX],
        },
        reach: "the own municipality (any with `kovgis:procedures:<type>`, that type only)",
    },
    Entry {
        rpc: "ProcedureService/GetProcedure",
        open: Open::To {
            roles: PROCEDURE_READERS,
            scopes: PROCEDURE_READ_SCOPES,
        },
        reach: "the own municipality's; an applicant its own; an authority those addressed to it; another's is NOT_FOUND",
    },
    Entry {
        rpc: "ProcedureService/ListProcedures",
        open: Open::To {
            roles: PROCEDURE_READERS,
            scopes: PROCEDURE_READ_SCOPES,
        },
        reach: "as GetProcedure; nothing of another municipality is listed or counted",
    },
    Entry {
        rpc: "ProcedureService/UpdateDraft",
        open: Open::To {
            roles: &["applicant", "official"],
            scopes: &[SCOPE_PROCEDURES_PREFIX],
        },
        reach: "drafts as GetProcedure",
    },
    Entry {
        rpc: "ProcedureService/SubmitProcedure",
        open: Open::To {
            roles: &["applicant", "official", "approver"],
            scopes: &[SCOPE_PROCEDURES_PREFIX],
        },
        reach: "as GetProcedure; overriding blocking findings needs `approver`",
    },
    Entry {
        rpc: "ProcedureService/OverrideFinding",
        open: Open::To {
            roles: OFFICIALS,
            scopes: &[],
        },
        reach: "the own municipality's procedures",
    },
    Entry {
        rpc: "ProcedureService/AssignProcedure",
        open: Open::To {
            roles: OFFICIALS,
            scopes: &[],
        },
        reach: "the own municipality's procedures",
    },
    Entry {
        rpc: "ProcedureService/RequestCoordination",
        open: Open::To {
            roles: OFFICIALS,
            scopes: &[],
        },
        reach: "the own municipality's procedures",
    },
    Entry {
        rpc: "ProcedureService/RecordCoordinationResponse",
        open: Open::To {
            roles: OFFICIALS,
            scopes: &[SCOPE_AUTHORITY_PREFIX],
        },
        reach: "the own municipality's procedures; an authority only requests addressed to it",
    },
    Entry {
        rpc: "ProcedureService/StartPublicDisplay",
        open: Open::To {
            roles: OFFICIALS,
            scopes: &[],
        },
        reach: "the own municipality's procedures",
    },
    Entry {
        rpc: "ProcedureService/RecordPublicOpinion",
        open: Open::To {
            roles: OFFICIALS,
            scopes: &[],
        },
        reach: "the own municipality's procedures",
    },
    Entry {
        rpc: "ProcedureService/EndPublicDisplay",
        open: Open::To {
            roles: OFFICIALS,
            scopes: &[],
        },
        reach: "the own municipality's procedures",
    },
    Entry {
        rpc: "ProcedureService/PauseClock",
        open: Open::To {
            roles: OFFICIALS,
            scopes: &[],
        },
        reach: "the own municipality's procedures",
    },
    Entry {
        rpc: "ProcedureService/ResumeClock",
        open: Open::To {
            roles: OFFICIALS,
            scopes: &[],
        },
        reach: "the own municipality's procedures",
    },
    Entry {
        rpc: "ProcedureService/AdvancePlan",
        open: Open::To {
            roles: OFFICIALS,
            scopes: &[],
        },
        reach: "the own municipality's detailed plans",
    },
    Entry {
        rpc: "ProcedureService/Decide",
        open: Open::To {
            roles: &["approver"],
            scopes: &[],
        },
        reach: "the own municipality's procedures",
    },
    Entry {
        rpc: "ProcedureService/Withdraw",
        open: Open::To {
            roles: &["applicant", "official"],
            scopes: &[SCOPE_PROCEDURES_PREFIX],
        },
        reach: "as GetProcedure",
    },
    Entry {
        rpc: "ProcedureService/GetProcedureHistory",
        open: Open::To {
            roles: PROCEDURE_READERS,
            scopes: PROCEDURE_READ_SCOPES,
        },
        reach: "as GetProcedure",
    },
    Entry {
        rpc: "ProcedureService/ListDeliveryFailures",
        open: Open::To {
            roles: &["official", "approver", "municipality_admin"],
            scopes: &[SCOPE_READ_ALL],
        },
        reach: "the own municipality's undeliverable messages",
    },
    Entry {
        rpc: "ProcedureService/WatchProcedures",
        open: Open::To {
            roles: PROCEDURE_READERS,
            scopes: PROCEDURE_READ_SCOPES,
        },
        reach: "the events of the procedures GetProcedure would show, as they are committed",
    },
    Entry {
        rpc: "ProcedureService/ListPublicNotices",
        open: Open::Public,
        reach: "what is on public display now, without personal data",
    },
];

/// Why a call was refused before its target was looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// The RPC is not in the table.
    UnknownRpc,
    /// The identity holds no role or scope the RPC is open to.
    NotAllowed,
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Denied::UnknownRpc => f.write_str("this method is open to no one"),
            Denied::NotAllowed => f.write_str("no role or scope of the caller allows this method"),
        }
    }
}

/// What a granted call may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The municipality the caller acts for (persons).
    pub municipality: Option<String>,
    /// Every municipality (a national scope).
    pub all_municipalities: bool,
    /// Procedure types the caller may validate, when limited by `kovgis:validate:<type>`.
    pub procedure_types: Option<Vec<String>>,
    /// National layers, the cadastre, national rules.
    pub national_write: bool,
    /// Any person's data usage.
    pub data_tracker: bool,
    pub personal_code: Option<String>,
}

impl Grant {
    /// Whether a municipality's own resources (or, for `None`, national ones) are visible.
    pub fn sees(&self, municipality: Option<&str>) -> bool {
        match municipality {
            None => true,
            Some(m) => self.all_municipalities || self.municipality.as_deref() == Some(m),
        }
    }

    /// Whether a municipality's resources (or national ones, `None`) may be written.
    pub fn may_write(&self, municipality: Option<&str>) -> bool {
        match municipality {
            None => self.national_write,
            Some(m) => self.national_write || self.municipality.as_deref() == Some(m),
        }
    }

    /// Whether a proposal of `procedure_type` may be validated in `municipality`.
    pub fn may_validate(&self, municipality: &str, procedure_type: &str) -> bool {
        if let Some(types) = &self.procedure_types {
            return types.iter().any(|t| t == procedure_type);
        }
        self.sees(Some(municipality))
    }

    /// Whether the data usage of the person with `personal_code` may be read.
    pub fn may_see_person(&self, personal_code: &str) -> bool {
        self.data_tracker || self.personal_code.as_deref() == Some(personal_code)
    }
}

/// The grant of `who` for `rpc` (`Service/Method`), or why there is none.
pub fn grant(rpc: &str, who: &impl Principal) -> Result<Grant, Denied> {
    let entry = TABLE
        .iter()
        .find(|e| e.rpc == rpc)
        .ok_or(Denied::UnknownRpc)?;
    let scopes = who.scopes();
    let has = |wanted: &str| {
        scopes.iter().any(|s| {
            if wanted.ends_with(':') {
                s.starts_with(wanted) && s.len() > wanted.len()
            } else {
                *s == wanted
            }
        })
    };
    let municipality = who.municipality().map(str::to_owned);
    let mut g = Grant {
        municipality: None,
        all_municipalities: has(SCOPE_READ_ALL),
        procedure_types: None,
        national_write: false,
        data_tracker: false,
        personal_code: who.personal_code().map(str::to_owned),
    };
    match entry.open {
        Open::Everyone | Open::Public => {
            g.municipality = municipality;
            Ok(g)
        }
        Open::To { roles, scopes } => {
            let by_role = municipality.is_some() && roles.iter().any(|r| who.has_role(r));
            let by_scope: Vec<&&str> = scopes.iter().filter(|s| has(s)).collect();
            if !by_role && by_scope.is_empty() {
                return Err(Denied::NotAllowed);
            }
            if by_role {
                g.municipality = municipality;
            }
            g.national_write = by_scope
                .iter()
                .any(|s| **s == SCOPE_WRITE_NATIONAL || **s == SCOPE_RULES_NATIONAL);
            if !by_role && !g.all_municipalities && by_scope.iter().all(|s| s.ends_with(':')) {
                // Only `kovgis:validate:<type>` or `kovgis:procedures:<type>` scopes (or an
                // authority's, which names no type): those types, everywhere.
                let types = who
                    .scopes()
                    .into_iter()
                    .filter_map(|s| {
                        by_scope
                            .iter()
                            .filter(|p| ***p != SCOPE_AUTHORITY_PREFIX)
                            .find_map(|p| s.strip_prefix(**p))
                    })
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect();
                g.procedure_types = Some(types);
            }
            Ok(g)
        }
        Open::DataSubjectOr { scopes } => {
            g.data_tracker = scopes.iter().any(|s| has(s));
            if !g.data_tracker && g.personal_code.is_none() {
                return Err(Denied::NotAllowed);
            }
            Ok(g)
        }
    }
}

/// The table as the README prints it (a test keeps the README's copy equal to this).
pub fn markdown() -> String {
    let mut out = String::from(
        "| RPC | persons (role, in their municipality) | machines (scope) | reaches |\n|---|---|---|---|\n",
    );
    for e in TABLE {
        let (persons, machines) = match e.open {
            Open::Everyone => ("every identity".to_owned(), "every identity".to_owned()),
            Open::Public => (
                "everyone, no identity needed".to_owned(),
                "everyone, no identity needed".to_owned(),
            ),
            Open::To { roles, scopes } => (
                roles
                    .iter()
                    .map(|r| format!("`{r}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                scopes
                    .iter()
                    .map(|s| {
                        if *s == SCOPE_AUTHORITY_PREFIX {
                            format!("`{s}<authority>`")
                        } else if s.ends_with(':') {
                            format!("`{s}<procedure type>`")
                        } else {
                            format!("`{s}`")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            Open::DataSubjectOr { scopes } => (
                "the person the data is about".to_owned(),
                scopes
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        };
        out.push_str(&format!(
            "| `{}` | {persons} | {machines} | {} |\n",
            e.rpc, e.reach
        ));
    }
    out
}

#[cfg(test)]
mod tests;
