//! `ListMunicipalities`, `GetMunicipality` and `LocateMunicipality`.

use kovgis_api::convert::{self, Output};
use kovgis_api::v1;
use kovgis_core::codes::parse_municipality_code;
use tonic::Status;

use super::{Result, SpatialApi};
use crate::ServiceError;

pub(super) async fn list(
    api: &SpatialApi,
    req: v1::ListMunicipalitiesRequest,
) -> std::result::Result<v1::ListMunicipalitiesResponse, Status> {
    let run = async {
        let out = convert::output("output", req.output.as_ref())?;
        let with_boundary = req.include_boundary && !out.omit_geometry;
        let rows = api.store.list_municipalities(with_boundary).await?;
        let municipalities = rows
            .iter()
            .map(|m| convert::municipality(m, &out))
            .collect::<std::result::Result<_, _>>()?;
        Result::Ok(v1::ListMunicipalitiesResponse { municipalities })
    };
    Ok(run.await?)
}

pub(super) async fn get(
    api: &SpatialApi,
    req: v1::GetMunicipalityRequest,
) -> std::result::Result<v1::Municipality, Status> {
    let run = async {
        let code = parse_municipality_code("code", &req.code)?;
        let out = convert::output("output", req.output.as_ref())?;
        let m = api
            .store
            .get_municipality(&code, !out.omit_geometry)
            .await?
            .ok_or_else(|| {
                ServiceError::NotFound(format!("no municipality with EHAK code {code}"))
            })?;
        Result::Ok(convert::municipality(&m, &out)?)
    };
    Ok(run.await?)
}

pub(super) async fn locate(
    api: &SpatialApi,
    req: v1::LocateMunicipalityRequest,
) -> std::result::Result<v1::LocateMunicipalityResponse, Status> {
    let run = async {
        let g = api.geometry("geometry", req.geometry.as_ref())?;
        let (m, share) = api
            .store
            .locate_municipality(&g.geometry)
            .await?
            .ok_or_else(|| {
                ServiceError::NotFound("no municipality contains this geometry (at sea?)".into())
            })?;
        let municipality = convert::municipality(&m, &Output::default())?;
        Result::Ok(v1::LocateMunicipalityResponse {
            municipality: Some(municipality),
            share,
        })
    };
    Ok(run.await?)
}
