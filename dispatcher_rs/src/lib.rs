//! PAM's dispatcher.
//!
//! The core (every module but `binding`) is plain Rust with no pyo3, so it is
//! unit-tested with `cargo test` and benchmarked without Python. The `binding`
//! module, compiled only with the `python` feature, is the thin pyo3 layer.
//!
//! * [`state`]: the agent sub-states as the wire contract spells them, and the errors.
//! * [`pool`]: the available agents per job-task and the matching of calls to them.
//! * [`allocate`]: which agents serve which job-task (attach/detach plans).

pub mod allocate;
mod ordid;
pub mod pool;
mod sorted;
pub mod state;
pub mod version;

#[cfg(feature = "python")]
mod binding;
