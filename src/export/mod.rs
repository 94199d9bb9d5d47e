//! Transcript JSONL (import and export, DESIGN §5) and long-format CSV.

mod import;
mod transcript;

pub use import::{ImportError, ImportOptions, import_transcripts};
pub use transcript::{TranscriptLine, export_csv, export_jsonl, transcript_lines};
