//! Statements sent together: tokio-postgres writes a request to the connection at its future's
//! first poll and reads the answers in the order sent, so futures polled together go out as one
//! pipeline — one round trip for all of them. [`in_order`] polls a list of such futures in the
//! order given (the order the server executes them in) until all are done, and gives their
//! outputs in that order. A statement that fails aborts the transaction it runs in, and the
//! statements after it fail too; a `COMMIT` sent after them then ends the transaction as a
//! rollback.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use futures_util::future::{MaybeDone, maybe_done};

/// One step of a pipeline.
pub(crate) type Step<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs `steps` together, first polling each in the given order (so their requests are sent
/// in that order), and returns their outputs in the same order.
pub(crate) async fn in_order<T>(steps: Vec<Step<'_, T>>) -> Vec<T> {
    let mut steps: Vec<MaybeDone<Step<'_, T>>> = steps.into_iter().map(maybe_done).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for s in steps.iter_mut() {
            if Pin::new(s).poll(cx).is_pending() {
                done = false;
            }
        }
        if done { Poll::Ready(()) } else { Poll::Pending }
    })
    .await;
    steps
        .iter_mut()
        .map(|s| {
            Pin::new(s)
                .take_output()
                .expect("every step of a pipeline is done")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// The steps start in the order given (each records its start at its first poll, as a
    /// tokio-postgres request is sent), whatever order they finish in, and the outputs keep
    /// the order given.
    #[tokio::test]
    async fn steps_start_in_order_and_keep_it() {
        let started = Arc::new(Mutex::new(Vec::new()));
        let mut steps: Vec<Step<'_, usize>> = Vec::new();
        for i in 0..40usize {
            let started = started.clone();
            steps.push(Box::pin(async move {
                started.lock().unwrap().push(i);
                // Later steps finish first.
                for _ in 0..(40 - i) {
                    tokio::task::yield_now().await;
                }
                i * 10
            }));
        }
        let out = in_order(steps).await;
        assert_eq!(*started.lock().unwrap(), (0..40).collect::<Vec<_>>());
        assert_eq!(out, (0..40).map(|i| i * 10).collect::<Vec<_>>());
    }
}
