//! Transcript JSONL (import and export, DESIGN §5) and the long format (CSV, JSONL, Parquet).

mod import;
pub mod labels;
mod parquet;
mod transcript;

pub use self::parquet::{Labelled, export_parquet, export_parquet_in_groups};
pub use import::{ImportError, ImportOptions, import_transcripts, parse_transcript_line};
pub use transcript::{
    LongRow, TranscriptLine, export_csv, export_jsonl, export_long_jsonl, long_rows,
    transcript_lines,
};
