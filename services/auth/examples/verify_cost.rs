//! The cost of token verification: one uncached ES256 verification (signature + claims) and one
//! cached verification (hash + lookup), medians over N runs.
//!
//! `cargo run --release --locked --example verify_cost -p kovgis-auth [-- N]` (default 10 000).

use std::time::{Duration, Instant};

use kovgis_auth::testing::TestAuth;
use kovgis_auth::{Role, Verifier};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let auth = TestAuth::new();
    let claims = |i: usize| {
        let mut c = auth.person("bench-official", "0793", &[Role::Official, Role::Approver]);
        c.token_id = Some(format!("bench-{i}"));
        c
    };
    // Distinct tokens, so that each uncached verification really checks a signature.
    let tokens: Vec<String> = (0..n).map(|i| auth.token(&claims(i))).collect();

    let mut uncached_config = auth.config.clone();
    uncached_config.cache_entries = 0;
    let uncached = Verifier::new(uncached_config).expect("verifier");
    let samples = tokens
        .iter()
        .map(|t| {
            let start = Instant::now();
            uncached.verify(t).expect("valid");
            start.elapsed()
        })
        .collect();
    let uncached_median = median(samples);
    assert_eq!(uncached.stats().signature_checks, n as u64);

    let cached = Verifier::new(auth.config.clone()).expect("verifier");
    cached.verify(&tokens[0]).expect("valid");
    let samples = (0..n)
        .map(|_| {
            let start = Instant::now();
            cached.verify(&tokens[0]).expect("valid");
            start.elapsed()
        })
        .collect();
    let cached_median = median(samples);
    assert_eq!(cached.stats().signature_checks, 1);

    println!("ES256 token of {} bytes, {n} runs each", tokens[0].len());
    println!("uncached verification (median): {uncached_median:?}");
    println!("cached verification (median):   {cached_median:?}");
}
