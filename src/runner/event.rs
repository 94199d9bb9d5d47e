use crate::domain::RunId;

/// What a running run reports. Progress is throttled at the source; lifecycle events never are.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    /// Work began; `done` episodes were already finished before (resume).
    Started { run: RunId, total: u64, done: u64 },
    /// Counts so far (done includes failed).
    Progress { run: RunId, done: u64, failed: u64, total: u64 },
    /// The run stopped: every episode finished, or it was cancelled.
    Finished { run: RunId, done: u64, failed: u64, total: u64, cancelled: bool },
}
