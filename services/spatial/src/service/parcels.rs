//! `GetParcel` and `FindParcels` (one page at a time, in cadastral-code order).

use kovgis_api::convert::{self, page_token};
use kovgis_api::v1;
use kovgis_core::InputError;
use kovgis_core::codes::{parse_cadastral_code, parse_municipality_code};
use kovgis_store::ParcelQuery;
use tonic::Status;

use super::{Result, SpatialApi};
use crate::ServiceError;

/// Largest page of `FindParcels`, and the default.
const MAX_PAGE: u32 = 1000;
const DEFAULT_PAGE: u32 = 100;

pub(super) async fn get(
    api: &SpatialApi,
    req: v1::GetParcelRequest,
) -> std::result::Result<v1::Parcel, Status> {
    let run = async {
        let code = parse_cadastral_code("cadastral_code", &req.cadastral_code)?;
        let out = convert::output("output", req.output.as_ref())?;
        let as_of = req
            .as_of
            .as_ref()
            .map(|t| convert::from_timestamp("as_of", t))
            .transpose()?;
        let p = api
            .store
            .get_parcel(&code, as_of, !out.omit_geometry)
            .await?
            .ok_or_else(|| match as_of {
                Some(t) => ServiceError::NotFound(format!("no parcel {code} in force at {t}")),
                None => ServiceError::NotFound(format!("no current parcel {code}")),
            })?;
        Result::Ok(convert::parcel(&p, &out)?)
    };
    Ok(run.await?)
}

pub(super) async fn find(
    api: &SpatialApi,
    req: v1::FindParcelsRequest,
) -> std::result::Result<v1::FindParcelsResponse, Status> {
    let run = async {
        use v1::find_parcels_request::Filter;
        let geometry = match &req.filter {
            Some(Filter::Intersects(g)) => api.geometry("intersects", Some(g))?,
            Some(Filter::ContainsPoint(g)) => {
                let p = api.geometry("contains_point", Some(g))?;
                if !matches!(p.geometry, geo::Geometry::Point(_)) {
                    return Err(InputError::new("contains_point", "must be a Point").into());
                }
                p
            }
            Some(Filter::Bbox(b)) => convert::bbox(b, &api.limits)?,
            None => {
                return Err(InputError::new(
                    "filter",
                    "one of intersects, bbox or contains_point must be set",
                )
                .into());
            }
        };
        let municipality_code = if req.municipality_code.is_empty() {
            None
        } else {
            Some(parse_municipality_code(
                "municipality_code",
                &req.municipality_code,
            )?)
        };
        if req.page_size > MAX_PAGE {
            return Err(InputError::new(
                "page_size",
                format!("at most {MAX_PAGE} parcels per page"),
            )
            .into());
        }
        let limit = if req.page_size == 0 {
            DEFAULT_PAGE
        } else {
            req.page_size
        } as usize;
        let out = convert::output("output", req.output.as_ref())?;
        let page = api
            .store
            .find_parcels(&ParcelQuery {
                geometry: geometry.geometry,
                municipality_code,
                after: page_token::decode(&req.page_token)?,
                limit,
                with_geometry: !out.omit_geometry,
            })
            .await?;
        let parcels = page
            .parcels
            .iter()
            .map(|p| convert::parcel(p, &out))
            .collect::<std::result::Result<_, _>>()?;
        Result::Ok(v1::FindParcelsResponse {
            parcels,
            next_page_token: page
                .next_after
                .as_deref()
                .map(page_token::encode)
                .unwrap_or_default(),
        })
    };
    Ok(run.await?)
}
