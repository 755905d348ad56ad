//! Validation benchmark (run by `scripts/bench-validate.sh`, not a test).
//!
//! `kovgis-bench-validate inprocess`: builds the index from DATABASE_URL (time, resident memory),
//! then checks seeded footprints (100–2 000 m², rotated rectangles and many-vertex round shapes on
//! random parcels) and large plan areas with the engine on one thread (numbers, no outlines, like
//! the SQL), and the same checks with one prepared PostGIS statement (GiST, JIT off) on one
//! connection; prints p50, p99 and ratios.
//!
//! `kovgis-bench-validate grpc ADDR`: a bounded load client against a running `kovgis serve`:
//! unary ValidateGeometry at concurrency 1, 16 and 64 over 4 HTTP/2 connections, then
//! ValidateGeometries in batches; prints throughput and latency percentiles.
//!
//! `kovgis-bench-validate hostile ADDR PID`: the ceiling (health checks/s against validations/s
//! with the same client), then worst-case requests from 8 clients while 16 send ordinary
//! footprints; prints hostile calls answered and refused, the ordinary p50/p99 and the server's
//! (process PID) resident memory idle and at its peak.
//!
//! `kovgis-bench-validate auth KEY PLAIN AUTHED FULL`: ValidateGeometry and QueryFeatures against
//! three servers on the same data — authentication off, on, and on with row-level security —
//! in alternating rounds; prints the throughput ratios (`auth_cost`).
//!
//! `kovgis-bench-validate procedures KEY ADDR COUNT`: procedures at national scale
//! (`scripts/bench-procedures.sh`): COUNT synthetic procedures; `procedures-submit KEY ADDR
//! SERVICE_URL`: SubmitProcedure beside its floor, ListProcedures with a spatial and a state
//! filter, on the filled database; `procedures-recheck STARTED IMPORTED
//! TARGET`: the re-checks after the script's layer change; `procedures-watch KEY ADDR`:
//! WatchProcedures with 1 000 watchers (`procedures`).
//!
//! Modules: `samples` (seeded footprints and plan areas on random parcels), `inprocess` (the
//! engine against PostGIS in one process), `grpc` (the load client), `hostile` (the hostile-load
//! run), `auth_cost` (identity and row-level security), `stats` (percentiles).

mod auth_cost;
mod grpc;
mod hostile;
mod inprocess;
mod procedures;
mod samples;
mod stats;

/// The same allocator as `kovgis serve`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("inprocess") => inprocess::run(&url).await,
        Some("grpc") => grpc::run(args.get(2).expect("grpc ADDR"), &url).await,
        Some("hostile") => {
            let pid = args
                .get(3)
                .and_then(|p| p.parse().ok())
                .expect("hostile ADDR PID");
            hostile::run(args.get(2).expect("hostile ADDR PID"), pid, &url).await
        }
        Some("auth") => match &args[2..] {
            [key, plain, authed, full] => auth_cost::run(key, [plain, authed, full], &url).await,
            _ => eprintln!("usage: kovgis-bench-validate auth KEY PLAIN AUTHED FULL"),
        },
        Some("procedures") => match &args[2..] {
            [key, addr, count] => {
                let count = count.parse().expect("procedures … COUNT: a number");
                procedures::run(key, addr, count, &url).await
            }
            _ => eprintln!("usage: kovgis-bench-validate procedures KEY ADDR COUNT"),
        },
        Some("procedures-list") => match &args[2..] {
            [key, addr, service_url] => procedures::run_list(key, addr, service_url, &url).await,
            _ => eprintln!("usage: kovgis-bench-validate procedures-list KEY ADDR SERVICE_URL"),
        },
        Some("procedures-submit") => match &args[2..] {
            [key, addr, service_url] => procedures::run_submit(key, addr, service_url, &url).await,
            _ => eprintln!("usage: kovgis-bench-validate procedures-submit KEY ADDR SERVICE_URL"),
        },
        Some("procedures-recheck") => match &args[2..] {
            [started, imported, target] => {
                let n = |v: &str| v.parse::<f64>().expect("procedures-recheck: numbers");
                procedures::run_recheck(&url, n(started), n(imported), n(target) as i64).await
            }
            _ => {
                eprintln!("usage: kovgis-bench-validate procedures-recheck STARTED IMPORTED TARGET")
            }
        },
        Some("procedures-watch") => match &args[2..] {
            [key, addr] => procedures::run_watch(key, addr, &url).await,
            _ => eprintln!("usage: kovgis-bench-validate procedures-watch KEY ADDR"),
        },
        _ => eprintln!(
            "usage: kovgis-bench-validate inprocess | grpc ADDR | hostile ADDR PID | auth KEY PLAIN AUTHED FULL | procedures KEY ADDR COUNT"
        ),
    }
}
