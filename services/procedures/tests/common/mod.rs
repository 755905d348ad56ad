//! Test harness: a real kovgis server with the SpatialService and the ProcedureService on
//! 127.0.0.1:0 over a fresh copy of the demo database (`FreshDb`), or the two services in two
//! servers talking gRPC; the generated ProcedureService client with a token per identity; a
//! clock the test sets; and builders for the requests.

#![allow(dead_code)]

pub mod layers;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use kovgis_api::page_token::PageTokenKey;
use kovgis_api::v1::procedure_service_client::ProcedureServiceClient;
use kovgis_auth::Role;
use kovgis_auth::testing::TestAuth;
use kovgis_core::InputLimits;
use kovgis_procedures::{GrpcChecker, InProcessChecker, ManualNow, ProcedureApi};
use kovgis_store::{Store, StoreConfig};
use tokio::sync::oneshot;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub use kovgis_api::v1;
pub use kovgis_testkit::db::FreshDb;

/// Tartu and Tallinn (EHAK).
pub const TARTU: &str = "0793";
pub const TALLINN: &str = "0784";
/// A 10 m square on a residential parcel in Tartu (79514:037:0056), some 65 m from the
/// Emajõgi: inside the shore zone's limited-management band, whose authority is Keskkonnaamet
/// (the demo layers, fixtures/demo).
pub const SHORE_SQUARE: &str =
    "POLYGON((657402 6476933, 657412 6476933, 657412 6476943, 657402 6476943, 657402 6476933))";
/// An 8 m square inside a residential parcel in Tartu (79301:001:0371), more than 20 m from
/// every restriction of the demo layers.
pub const CLEAR_SQUARE: &str =
    "POLYGON((657550 6476815, 657558 6476815, 657558 6476823, 657550 6476823, 657550 6476815))";
/// The demo applicant's personal code (valid check digit).
pub const APPLICANT_CODE: &str = "38001010009";

/// Puts `authorization: Bearer <token>` on every call (none: anonymous).
#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Bearer {
    /// `authorization: Bearer <token>`.
    pub fn token(token: &str) -> Bearer {
        Bearer(Some(format!("Bearer {token}").parse().unwrap()))
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut r: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            r.metadata_mut().insert("authorization", v.clone());
        }
        Ok(r)
    }
}

pub type Client = ProcedureServiceClient<InterceptedService<Channel, Bearer>>;

/// How the ProcedureService reaches the SpatialService.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One server, the check in process (`kovgis serve`).
    InProcess,
    /// Two servers, the check over gRPC (`kovgis serve --service procedures --spatial-url`).
    Grpc,
}

/// A running server (or two); stops when dropped.
pub struct Server {
    pub addr: SocketAddr,
    pub auth: Arc<TestAuth>,
    pub now: Arc<ManualNow>,
    /// The service itself, for running its jobs.
    pub api: ProcedureApi,
    pub store: Store,
    stops: Vec<oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        for s in self.stops.drain(..) {
            let _ = s.send(());
        }
    }
}

/// 2027-03-01 10:00 UTC, where the tests' clocks start unless they say otherwise.
pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 3, 1, 10, 0, 0).unwrap()
}

fn config(auth: &TestAuth) -> kovgis_spatial::Config {
    kovgis_spatial::Config {
        auth: kovgis_spatial::Auth::Jwt(auth.verifier()),
        ..Default::default()
    }
}

async fn listener() -> (tokio::net::TcpListener, SocketAddr) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    (l, a)
}

impl Server {
    /// A server over `url` in `mode`, its clock at [`start_time`].
    pub async fn start(url: &str, mode: Mode) -> Server {
        Server::start_configured(url, mode, |api| api).await
    }

    /// A server as [`Server::start`], its service passed through `configure` first.
    pub async fn start_configured(
        url: &str,
        mode: Mode,
        configure: fn(ProcedureApi) -> ProcedureApi,
    ) -> Server {
        // The server's errors in the test's output.
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter("warn")
            .try_init();
        let auth = Arc::new(TestAuth::new());
        let now = Arc::new(ManualNow::new(start_time()));
        let store = Store::connect(&StoreConfig::new(url, 8)).await.unwrap();
        let tokens = PageTokenKey::random();
        let make = {
            let (store, now, tokens) = (store.clone(), now.clone(), tokens.clone());
            move |checker: Arc<dyn kovgis_procedures::SpatialChecker>| {
                configure(ProcedureApi::new(
                    store,
                    checker,
                    now,
                    InputLimits::default(),
                    tokens,
                    Duration::from_secs(30),
                ))
            }
        };
        let mut stops = Vec::new();
        let (l, addr) = listener().await;
        let api = match mode {
            Mode::InProcess => {
                let slot: Arc<Mutex<Option<ProcedureApi>>> = Arc::default();
                let (stop, stopped) = oneshot::channel::<()>();
                stops.push(stop);
                let cfg = config(&auth);
                let s2 = slot.clone();
                let store2 = store.clone();
                tokio::spawn(async move {
                    kovgis_spatial::run_with(
                        l,
                        store2,
                        cfg,
                        move |spatial| {
                            let api = make(Arc::new(InProcessChecker::new(spatial.clone())));
                            *s2.lock().unwrap() = Some(api.clone());
                            Some(api.into_extra(16 * 1024 * 1024))
                        },
                        async {
                            let _ = stopped.await;
                        },
                    )
                    .await
                    .expect("server");
                });
                // The service exists once the index is built and the server is about to serve.
                loop {
                    if let Some(api) = slot.lock().unwrap().clone() {
                        break api;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            Mode::Grpc => {
                let (sl, saddr) = listener().await;
                let (stop, stopped) = oneshot::channel::<()>();
                stops.push(stop);
                tokio::spawn(kovgis_spatial::run(
                    sl,
                    store.clone(),
                    config(&auth),
                    async {
                        let _ = stopped.await;
                    },
                ));
                let channel = tonic::transport::Endpoint::from_shared(format!("http://{saddr}"))
                    .unwrap()
                    .connect_lazy();
                let api = make(Arc::new(GrpcChecker::new(channel)));
                let (stop, stopped) = oneshot::channel::<()>();
                stops.push(stop);
                let extra = api.clone().into_extra(16 * 1024 * 1024);
                tokio::spawn(kovgis_spatial::run_only(l, config(&auth), extra, async {
                    let _ = stopped.await;
                }));
                api
            }
        };
        let s = Server {
            addr,
            auth,
            now,
            api,
            store,
            stops,
        };
        // Wait until it answers.
        for _ in 0..500 {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        s
    }

    pub async fn channel(&self) -> Channel {
        tonic::transport::Endpoint::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .expect("cannot connect to the test server")
    }

    /// A client whose calls carry `token` (`None`: anonymous).
    pub async fn client(&self, token: Option<&str>) -> Client {
        let bearer = Bearer(token.map(|t| format!("Bearer {t}").parse().unwrap()));
        ProcedureServiceClient::with_interceptor(self.channel().await, bearer)
    }

    /// A person of `municipality` with `roles`.
    pub fn person(&self, subject: &str, municipality: &str, roles: &[Role]) -> String {
        self.auth
            .token(&self.auth.person(subject, municipality, roles))
    }

    /// The demo applicant in Tartu, with the personal code [`APPLICANT_CODE`].
    pub fn applicant(&self) -> String {
        let claims = self.auth.person("EE38001010009", TARTU, &[Role::Applicant]);
        self.auth.token(&claims)
    }

    pub fn official(&self, municipality: &str) -> String {
        self.person(
            &format!("official-{municipality}"),
            municipality,
            &[Role::Official],
        )
    }

    pub fn approver(&self, municipality: &str) -> String {
        self.person(
            &format!("approver-{municipality}"),
            municipality,
            &[Role::Approver],
        )
    }

    pub fn authority(&self, name: &str) -> String {
        self.auth.token(&self.auth.machine(
            &format!("authority-{name}"),
            &[&format!("authority:{name}")],
        ))
    }

    /// Sets the service's clock.
    pub fn set_now(&self, at: DateTime<Utc>) {
        self.now.set(at);
    }
}

/// A WKT geometry in EPSG:3301.
pub fn wkt(s: &str) -> v1::Geometry {
    v1::Geometry {
        value: Some(v1::geometry::Value::Wkt(s.to_owned())),
        epsg: 3301,
    }
}

/// An axis-aligned square (EPSG:3301).
pub fn square(x: f64, y: f64, side: f64) -> String {
    format!(
        "POLYGON(({x} {y}, {} {y}, {} {}, {x} {}, {x} {y}))",
        x + side,
        x + side,
        y + side,
        y + side
    )
}

pub fn applicant() -> v1::Applicant {
    v1::Applicant {
        name: "Mari Maasikas".into(),
        id_code: APPLICANT_CODE.into(),
        email: "mari@example.ee".into(),
        phone: "+372 5555 5555".into(),
    }
}

/// Contents of a procedure of `t` on the area `wkt_text`, with the fields its type needs.
pub fn contents(t: v1::ProcedureType, wkt_text: &str) -> v1::ProcedureContents {
    use v1::procedure_details::Details;
    let (works, details, intended_use) = match t {
        v1::ProcedureType::ExcavationPermit => (
            Some(v1::DatePeriod {
                first_day: "2027-05-03".into(),
                last_day: "2027-05-21".into(),
            }),
            Some(Details::Excavation(v1::ExcavationDetails {
                road_surface: "asphalt".into(),
                traffic_impact: v1::TrafficImpact::Partial as i32,
            })),
            "excavation",
        ),
        v1::ProcedureType::FellingPermit => (
            Some(v1::DatePeriod {
                first_day: "2027-10-01".into(),
                last_day: "2027-10-15".into(),
            }),
            Some(Details::Felling(v1::FellingDetails {
                trees: vec![v1::Tree {
                    species: "Tilia cordata".into(),
                    trunk_diameter_cm: 42,
                    count: 2,
                }],
            })),
            "tree_felling",
        ),
        v1::ProcedureType::BuildingPermit => (
            None,
            Some(Details::BuildingPermit(v1::BuildingPermitDetails {
                ehr_procedure_id: "EHR-2027-000123".into(),
            })),
            "residential_building",
        ),
        _ => (None, None, "residential_building"),
    };
    v1::ProcedureContents {
        applicant: Some(applicant()),
        description: format!("{} test: {wkt_text}", t.as_str_name()),
        geometry: Some(wkt(wkt_text)),
        parcel_codes: vec![],
        intended_use: intended_use.into(),
        works_period: works,
        details: details.map(|d| v1::ProcedureDetails { details: Some(d) }),
        attachments: vec![v1::Attachment {
            name: "plan.pdf".into(),
            media_type: "application/pdf".into(),
            size_bytes: 12345,
            sha256: "a".repeat(64),
            uri: "https://dhs.example.ee/documents/1".into(),
        }],
    }
}

pub fn create(t: v1::ProcedureType, wkt_text: &str) -> v1::CreateProcedureRequest {
    v1::CreateProcedureRequest {
        municipality_code: TARTU.into(),
        r#type: t as i32,
        contents: Some(contents(t, wkt_text)),
        idempotency_key: String::new(),
    }
}

/// Asserts a status code and, when given, the ErrorInfo reason.
pub fn assert_status(s: &tonic::Status, code: tonic::Code, reason: Option<&str>) {
    use tonic_types::StatusExt;
    assert_eq!(s.code(), code, "{s:?}");
    if let Some(reason) = reason {
        let info = s
            .get_error_details()
            .error_info()
            .cloned()
            .unwrap_or_else(|| panic!("no ErrorInfo in {s:?}"));
        assert_eq!(info.reason, reason, "{s:?}");
    }
}
