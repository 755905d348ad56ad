//! Percentiles and means of measured latencies.

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// (p50, p99, mean) of the values.
pub fn summary(mut micros: Vec<f64>) -> (f64, f64, f64) {
    micros.sort_by(f64::total_cmp);
    let mean = micros.iter().sum::<f64>() / micros.len().max(1) as f64;
    (percentile(&micros, 0.5), percentile(&micros, 0.99), mean)
}
