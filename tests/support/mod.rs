#![allow(dead_code)]
//! Test support shared by the integration tests (`mod support;`) and the benchmarks
//! (`#[path = "../tests/support/mod.rs"] mod support;`).

pub mod cli;
pub mod db;
pub mod mock;
pub mod world;
