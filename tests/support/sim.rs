//! Running a stored run to its end from a test, the way a background run does.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use critloop::domain::RunRecord;
use critloop::llm::Provider;
use critloop::runner::{self, RunOptions};
use critloop::store::Store;

/// Runs every pending episode of `record` with its stored provider, to the end.
pub fn execute(store: &Store, record: &RunRecord) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    rt.block_on(runner::execute(
        store.clone(),
        record.id,
        Provider::from_spec(&record.provider).unwrap(),
        RunOptions::default(),
        tx,
        Arc::new(AtomicBool::new(false)),
    ))
    .unwrap();
}
