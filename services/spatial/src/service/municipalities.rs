//! `ListMunicipalities` (paged by EHAK code), `GetMunicipality` and `LocateMunicipality`.

use kovgis_api::convert::{self, Output};
use kovgis_api::page_token::{Filter, page_size};
use kovgis_api::v1;
use kovgis_core::codes::parse_municipality_code;
use tonic::Status;

use super::{Result, SpatialApi};
use crate::ServiceError;
use crate::access::Access;
use crate::error::Missing;

/// The default page (all 79 at once) and the largest.
const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 1000;

pub(super) async fn list(
    api: &SpatialApi,
    caller: &Access,
    req: v1::ListMunicipalitiesRequest,
) -> std::result::Result<v1::ListMunicipalitiesResponse, Status> {
    let run = async {
        let out = convert::output("output", req.output.as_ref())?;
        let with_boundary = req.include_boundary && !out.omit_geometry;
        let filter = Filter::builder("ListMunicipalities")
            .part(&[u8::from(req.include_boundary)])
            .finish();
        let after = api.tokens.open(&filter, &req.page_token)?;
        let size = page_size(req.page_size, DEFAULT_PAGE, MAX_PAGE) as usize;
        let mut rows = api
            .store
            .list_municipalities(caller, with_boundary, after.as_deref(), size as i64 + 1)
            .await?;
        let more = rows.len() > size;
        rows.truncate(size);
        let next_page_token = match rows.last() {
            Some(last) if more => api.tokens.seal(&filter, &last.code),
            _ => String::new(),
        };
        let municipalities = rows
            .iter()
            .map(|m| convert::municipality(m, &out))
            .collect::<std::result::Result<_, _>>()?;
        Result::Ok(v1::ListMunicipalitiesResponse {
            municipalities,
            next_page_token,
        })
    };
    Ok(run.await?)
}

pub(super) async fn get(
    api: &SpatialApi,
    caller: &Access,
    req: v1::GetMunicipalityRequest,
) -> std::result::Result<v1::Municipality, Status> {
    let run = async {
        let code = parse_municipality_code("code", &req.code)?;
        let out = convert::output("output", req.output.as_ref())?;
        let m = api
            .store
            .get_municipality(caller, &code, !out.omit_geometry)
            .await?
            .ok_or_else(|| {
                ServiceError::not_found(
                    Missing::Municipality,
                    &code,
                    format!("no municipality with EHAK code {code}"),
                )
            })?;
        Result::Ok(convert::municipality(&m, &out)?)
    };
    Ok(run.await?)
}

pub(super) async fn locate(
    api: &SpatialApi,
    caller: &Access,
    req: v1::LocateMunicipalityRequest,
) -> std::result::Result<v1::LocateMunicipalityResponse, Status> {
    let run = async {
        let (g, _) = api
            .geometry_admitted("geometry", req.geometry.as_ref())
            .await?;
        let (m, share) = api
            .store
            .locate_municipality(caller, &g.geometry)
            .await?
            .ok_or_else(|| {
                ServiceError::not_found(
                    Missing::MunicipalityAt,
                    "",
                    "no municipality contains this geometry (at sea?)",
                )
            })?;
        let municipality = convert::municipality(&m, &Output::default())?;
        Result::Ok(v1::LocateMunicipalityResponse {
            municipality: Some(municipality),
            share_pct: 100.0 * share,
        })
    };
    Ok(run.await?)
}
