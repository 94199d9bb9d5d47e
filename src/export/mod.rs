//! Transcript JSONL (import and export, DESIGN §5) and long-format CSV.

mod import;
pub mod labels;
mod transcript;

pub use import::{ImportError, ImportOptions, import_transcripts};
pub use transcript::{
    LongRow, TranscriptLine, export_csv, export_jsonl, export_long_jsonl, long_rows,
    transcript_lines,
};
