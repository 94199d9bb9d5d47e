#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! critloop: a workbench for LLM critique and self-correction research.
//! Layers (STYLE §2.1): domain ← {store, grade, llm, metrics, dataset, protocol} ← runner ←
//! analysis (store → metrics) ← {browse, export, report} ← {tui, cli}.

pub mod analysis;
pub mod browse;
pub mod cli;
pub mod config;
pub mod dataset;
pub mod domain;
pub mod env;
pub mod export;
pub mod fmt;
pub mod grade;
pub mod llm;
pub mod metrics;
pub mod plan;
pub mod protocol;
pub mod report;
pub mod runner;
pub mod server;
pub mod store;
pub mod tui;
