//! Errors of dataset loading: every bad line names its file, line and (when known) field.

use crate::domain::text::{inert_line, one_line};

/// Anything that can go wrong while loading a dataset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatasetError {
    /// One line (JSONL) or record (CSV) could not be turned into an item.
    #[error("{}:{line}: {}", inert_line(file), one_line(&line_message(field.as_deref(), message)))]
    Line { file: String, line: usize, field: Option<String>, message: String },
    /// The file could not be read.
    #[error("{}: {}", inert_line(file), one_line(message))]
    Io { file: String, message: String },
    /// The file holds no data lines at all.
    #[error("{}: no items (the file is empty)", inert_line(file))]
    Empty { file: String },
    /// Neither a bundled dataset name nor an existing file.
    #[error("{}", one_line(&format!("unknown dataset `{name}`: not a bundled dataset ({known}) and no such file")))]
    UnknownDataset { name: String, known: String },
    /// A `--map` field mapping could not be parsed.
    #[error("{}", one_line(&format!("field map `{spec}`: {message}")))]
    FieldMap { spec: String, message: String },
}

fn line_message(field: Option<&str>, message: &str) -> String {
    match field {
        Some(name) => format!("field `{name}`: {message}"),
        None => message.to_string(),
    }
}

/// A problem inside one record, before the file and line are attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub field: Option<String>,
    pub message: String,
}

impl FieldError {
    pub(crate) fn field(name: &str, message: impl Into<String>) -> Self {
        FieldError { field: Some(name.to_string()), message: message.into() }
    }

    pub(crate) fn record(message: impl Into<String>) -> Self {
        FieldError { field: None, message: message.into() }
    }

    pub(crate) fn at(self, file: &str, line: usize) -> DatasetError {
        DatasetError::Line {
            file: file.to_string(),
            line,
            field: self.field,
            message: self.message,
        }
    }
}
