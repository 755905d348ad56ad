//! The stored reports of the synthetic active procedures: each one's own area checked by the
//! running server (`ValidateGeometries`, batches of 500, as a national reader), with the
//! request the service makes at submission (type, intended use, parcels, locale `et`, the
//! findings' outlines kept). The report, its id, verdict and the authorities its failed
//! findings name are written back, so that a re-check on unchanged data finds nothing changed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kovgis_api::v1;
use kovgis_api::v1::spatial_service_client::SpatialServiceClient;
use kovgis_auth::{Claims, DevKey};
use prost::Message;
use tokio_postgres::Client;
use tonic::transport::Channel;

use crate::auth_cost::with_token;

const BATCH: usize = 500;
const ACTIVE: &str = "('under_review', 'initiation', 'waiting_for_applicant')";

/// A national reader's token (validates in every municipality).
pub fn national_token(key: &DevKey) -> String {
    key.mint(
        &Claims::dev("bench-national-reader", Duration::from_secs(6 * 3600))
            .scope("kovgis:read:all"),
    )
    .expect("minting")
}

/// Checks every active procedure and stores its report; (procedures, mean report bytes, s).
pub async fn write(db: &Client, channels: &[Channel], token: &str) -> (usize, usize, f64) {
    let started = Instant::now();
    let rows = db
        .query(
            &format!(
                "SELECT municipality_code::text, id::text, procedure_type, intended_use,
                        parcel_codes, ST_AsBinary(geom)
                 FROM procedure WHERE state IN {ACTIVE}"
            ),
            &[],
        )
        .await
        .expect("reading the active procedures");
    let items: Arc<Vec<(String, String, v1::ValidateGeometryRequest)>> = Arc::new(
        rows.iter()
            .map(|r| {
                let wkb: Vec<u8> = r.get(5);
                (
                    r.get(0),
                    r.get(1),
                    v1::ValidateGeometryRequest {
                        municipality_code: r.get(0),
                        procedure_type: r.get(2),
                        geometry: Some(v1::Geometry {
                            value: Some(v1::geometry::Value::Wkb(wkb)),
                            epsg: 3301,
                        }),
                        intended_use: r.get(3),
                        parcel_codes: r.get(4),
                        as_of: None,
                        locale: "et".into(),
                        output: None,
                        // The synthetic reports are stored without conflicts between procedures:
                        // their works periods are not sent.
                        works_period: None,
                        procedure_id: r.get(1),
                    },
                )
            })
            .collect(),
    );
    let batches = items.len().div_ceil(BATCH);
    let in_flight = channels.len().min(2);
    let mut tasks = Vec::new();
    for (w, channel) in channels.iter().take(in_flight).enumerate() {
        let mut client = SpatialServiceClient::new(channel.clone())
            .max_decoding_message_size(512 << 20)
            .max_encoding_message_size(64 << 20);
        let (items, token) = (items.clone(), token.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for b in (w..batches).step_by(in_flight) {
                let chunk = &items[b * BATCH..((b + 1) * BATCH).min(items.len())];
                let proposals = chunk.iter().map(|(_, _, r)| r.clone()).collect();
                let reports = client
                    .validate_geometries(with_token(
                        v1::ValidateGeometriesRequest { proposals },
                        &token,
                    ))
                    .await
                    .expect("ValidateGeometries")
                    .into_inner()
                    .reports;
                assert_eq!(reports.len(), chunk.len(), "one report a proposal");
                out.extend(
                    chunk
                        .iter()
                        .zip(reports)
                        .map(|((m, id, _), r)| (m.clone(), id.clone(), r)),
                );
            }
            out
        }));
    }
    let mut done = Vec::new();
    for t in tasks {
        done.extend(t.await.expect("a validating task"));
    }
    let mut bytes_total = 0usize;
    for chunk in done.chunks(5000) {
        let mut m = Vec::new();
        let mut ids = Vec::new();
        let mut reports = Vec::new();
        let mut report_ids = Vec::new();
        let mut verdicts = Vec::new();
        let mut authorities = Vec::new();
        for (municipality, id, r) in chunk {
            let b = r.encode_to_vec();
            bytes_total += b.len();
            let mut a: Vec<String> = r
                .findings
                .iter()
                .filter(|f| f.status == v1::FindingStatus::Failed as i32)
                .map(|f| f.authority.trim().to_owned())
                .filter(|a| !a.is_empty())
                .collect();
            a.sort();
            a.dedup();
            m.push(municipality.clone());
            ids.push(id.clone());
            reports.push(b);
            report_ids.push(r.report_id.clone());
            verdicts.push(
                v1::Verdict::try_from(r.verdict)
                    .map(|v| v.as_str_name().to_owned())
                    .unwrap_or_default(),
            );
            authorities.push(a.join(","));
        }
        db.execute(
            "UPDATE procedure p SET report = u.report, report_id = u.report_id,
                    verdict = u.verdict,
                    authorities = coalesce(string_to_array(nullif(u.authorities, ''), ','), '{}')
             FROM unnest($1::text[], $2::text[], $3::bytea[], $4::text[], $5::text[], $6::text[])
                  AS u(m, id, report, report_id, verdict, authorities)
             WHERE p.municipality_code = u.m::char(4) AND p.id = u.id::uuid",
            &[&m, &ids, &reports, &report_ids, &verdicts, &authorities],
        )
        .await
        .expect("storing the reports");
    }
    let n = done.len();
    (n, bytes_total / n.max(1), started.elapsed().as_secs_f64())
}
