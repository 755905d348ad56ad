//! kovgis-testkit: what the workspace's tests share, so that each helper exists once.
//!
//! - [`Rng`]: the seeded pseudo-random generator (SplitMix64) of every seeded test, of the
//!   validation benchmark and of the national synthetic data (`fixtures/national`, which must
//!   stay byte-for-byte reproducible: this generator is its generator).
//! - [`db`] (feature `db`, on by default): the test database `scripts/test.sh` starts
//!   (`DATABASE_URL`), plain SQL connections to it, and [`db::FreshDb`], a database of its own
//!   for a test that writes, copied from the template the script prepares.
//! - [`wait`] (feature `db`): polling with a deadline instead of bare sleeps, and the one probe
//!   several tests wait on (an import's COPY running).
//! - [`fixtures`] (feature `db`): the checkout's `fixtures/` folder.
//! - [`shapes`]: large polygons (many vertices, many holes) for tests that bound a request's cost.
//!
//! Not here: anything that starts a kovgis server or runs the `kovgis` binary — those stay in
//! the tests of the crate they belong to (`services/spatial/tests/common`,
//! `services/kovgis/tests/common`), so that this crate depends on no kovgis crate and any crate
//! of the workspace can use it as a dev-dependency without a cycle.

mod rng;
pub mod shapes;

#[cfg(feature = "db")]
pub mod db;
#[cfg(feature = "db")]
pub mod fixtures;
#[cfg(feature = "db")]
pub mod wait;

pub use rng::Rng;
