//! The long format as Parquet: one row per episode × turn, typed columns (pandas:
//! `pd.read_parquet(F)`, polars: `pl.read_parquet(F)`). The columns are the CSV's; integers are
//! INT64, rates DOUBLE, flags BOOLEAN, text UTF-8 strings, absent values null. Labels get a
//! column each as well: `label.NAME.ANNOTATOR`, the annotator's value in force on that turn
//! (episode labels on every row of the episode).

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::Arc;

use parquet::basic::{Compression, LogicalType, Repetition, Type as Physical};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;

use super::transcript::{ExportError, LongRow, each_long_row};
use crate::domain::RunRecord;
use crate::store::Store;

/// Rows per row group: bounds the writer's memory on a large run.
const GROUP: usize = 65_536;

/// A column: its name, whether it may be null, and how a row gives its value.
struct Column {
    name: String,
    optional: bool,
    get: Box<dyn Fn(&Labelled) -> Cell>,
}

enum Cell {
    Text(Option<String>),
    Int(Option<i64>),
    Real(Option<f64>),
    Flag(Option<bool>),
}

/// A long row with its labels in force, by (name, annotator).
pub struct Labelled {
    pub row: LongRow,
    pub labels: Vec<(String, String, String)>,
}

fn int(v: Option<impl Into<i64>>) -> Cell {
    Cell::Int(v.map(Into::into))
}

fn columns(label_columns: &BTreeSet<(String, String)>) -> Vec<Column> {
    fn col(name: &str, optional: bool, get: impl Fn(&Labelled) -> Cell + 'static) -> Column {
        Column { name: name.into(), optional, get: Box::new(get) }
    }
    let text = |s: &String| Cell::Text(Some(s.clone()));
    let mut cols = vec![
        col("run", false, move |l| text(&l.row.run)),
        col("item_id", false, move |l| text(&l.row.item_id)),
        col("sample", false, |l| int(Some(l.row.sample))),
        col("status", false, move |l| text(&l.row.status)),
        col("turn", false, |l| int(Some(l.row.turn))),
        col("role", false, move |l| text(&l.row.role)),
        col("attempt", true, |l| int(l.row.attempt)),
        col("answer", true, |l| Cell::Text(l.row.answer.clone())),
        col("correct", true, |l| Cell::Flag(l.row.correct)),
        col("correct_used", true, |l| Cell::Flag(l.row.correct_used)),
        col("tier", true, |l| Cell::Text(l.row.tier.clone())),
        col("verdict", true, |l| Cell::Text(l.row.verdict.clone())),
        col("verdict_method", true, |l| Cell::Text(l.row.verdict_method.clone())),
        col("confidence", true, |l| Cell::Real(l.row.confidence)),
        col("p_true", true, |l| Cell::Real(l.row.p_true)),
        col("p_true_raw", true, |l| Cell::Real(l.row.p_true_raw)),
        col("prompt_tokens", true, |l| int(l.row.prompt_tokens)),
        col("completion_tokens", true, |l| int(l.row.completion_tokens)),
        col("latency_ms", true, |l| {
            Cell::Int(l.row.latency_ms.map(|v| i64::try_from(v).unwrap_or(i64::MAX)))
        }),
        col("model", true, |l| Cell::Text(l.row.model.clone())),
        col("finish_reason", true, |l| Cell::Text(l.row.finish_reason.clone())),
        col("simulated", false, |l| Cell::Flag(Some(l.row.simulated))),
        col("synthetic", true, |l| Cell::Text(l.row.synthetic.clone())),
        col("labels", false, move |l| text(&l.row.labels)),
        col("error", true, |l| Cell::Text(l.row.error.clone())),
        col("content", false, move |l| text(&l.row.content)),
    ];
    for (name, annotator) in label_columns {
        let (n, a) = (name.clone(), annotator.clone());
        cols.push(Column {
            name: format!("label.{name}.{annotator}"),
            optional: true,
            get: Box::new(move |l| {
                Cell::Text(
                    l.labels.iter().find(|(ln, la, _)| *ln == n && *la == a).map(|x| x.2.clone()),
                )
            }),
        });
    }
    cols
}

fn schema(cols: &[Column], sample: &Labelled) -> Result<Type, ExportError> {
    let mut fields = Vec::with_capacity(cols.len());
    for c in cols {
        let repetition = if c.optional { Repetition::OPTIONAL } else { Repetition::REQUIRED };
        let (physical, logical) = match (c.get)(sample) {
            Cell::Text(_) => (Physical::BYTE_ARRAY, Some(LogicalType::String)),
            Cell::Int(_) => (Physical::INT64, None),
            Cell::Real(_) => (Physical::DOUBLE, None),
            Cell::Flag(_) => (Physical::BOOLEAN, None),
        };
        let t = Type::primitive_type_builder(&c.name, physical)
            .with_repetition(repetition)
            .with_logical_type(logical)
            .build()
            .map_err(parquet_error)?;
        fields.push(Arc::new(t));
    }
    Type::group_type_builder("long_row").with_fields(fields).build().map_err(parquet_error)
}

fn parquet_error(e: parquet::errors::ParquetError) -> ExportError {
    ExportError::Io(std::io::Error::other(format!("parquet: {e}")))
}

/// Writes the run's long format as Parquet to `out`, a row group at a time; returns the
/// number of rows.
pub fn export_parquet<W: Write + Send>(
    store: &Store,
    run: &RunRecord,
    out: W,
) -> Result<u64, ExportError> {
    export_parquet_in_groups(store, run, out, GROUP)
}

/// `export_parquet` with `group` rows per row group (tests use small groups).
#[doc(hidden)]
pub fn export_parquet_in_groups<W: Write + Send>(
    store: &Store,
    run: &RunRecord,
    out: W,
    group: usize,
) -> Result<u64, ExportError> {
    let group = group.max(1);
    // The schema comes first, so the label columns are gathered from the labels alone (an
    // effective label on a turn the episode lacks gets an all-null column).
    let label_columns: BTreeSet<(String, String)> = store
        .labels_by_episode(run.id)?
        .values()
        .flat_map(|ls| {
            crate::domain::label::effective(ls)
                .into_iter()
                .map(|l| (l.name.clone(), l.annotator.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let cols = columns(&label_columns);
    // The columns' types come from their getters, whatever the row (an empty run has them too).
    let blank = Labelled { row: LongRow::default(), labels: Vec::new() };
    let schema = Arc::new(schema(&cols, &blank)?);
    let props = Arc::new(WriterProperties::builder().set_compression(Compression::SNAPPY).build());
    let mut writer = SerializedFileWriter::new(out, schema, props).map_err(parquet_error)?;
    let mut chunk = Vec::with_capacity(group);
    let mut n = 0u64;
    each_long_row::<ExportError>(store, run, |row| {
        chunk.push(row);
        if chunk.len() == group {
            write_group(&mut writer, &cols, &blank, &chunk)?;
            n += chunk.len() as u64;
            chunk.clear();
        }
        Ok(())
    })?;
    if !chunk.is_empty() {
        write_group(&mut writer, &cols, &blank, &chunk)?;
        n += chunk.len() as u64;
    }
    writer.close().map_err(parquet_error)?;
    Ok(n)
}

/// Writes `chunk` as one row group.
fn write_group<W: Write + Send>(
    writer: &mut SerializedFileWriter<W>,
    cols: &[Column],
    blank: &Labelled,
    chunk: &[Labelled],
) -> Result<(), ExportError> {
    let mut group = writer.next_row_group().map_err(parquet_error)?;
    for c in cols {
        let Some(mut w) = group.next_column().map_err(parquet_error)? else {
            return Err(parquet_error(parquet::errors::ParquetError::General(
                "fewer columns than the schema".into(),
            )));
        };
        // The column's type is its getter's; each arm gathers the chunk's values of it.
        match (c.get)(blank) {
            Cell::Text(_) => {
                let (vals, d) = split(chunk, |r| match (c.get)(r) {
                    Cell::Text(v) => v.map(|s| ByteArray::from(s.into_bytes())),
                    _ => None,
                });
                w.typed::<ByteArrayType>()
                    .write_batch(&vals, c.optional.then_some(d.as_slice()), None)
                    .map_err(parquet_error)?;
            }
            Cell::Int(_) => {
                let (vals, d) =
                    split(chunk, |r| if let Cell::Int(v) = (c.get)(r) { v } else { None });
                w.typed::<Int64Type>()
                    .write_batch(&vals, c.optional.then_some(d.as_slice()), None)
                    .map_err(parquet_error)?;
            }
            Cell::Real(_) => {
                let (vals, d) =
                    split(chunk, |r| if let Cell::Real(v) = (c.get)(r) { v } else { None });
                w.typed::<DoubleType>()
                    .write_batch(&vals, c.optional.then_some(d.as_slice()), None)
                    .map_err(parquet_error)?;
            }
            Cell::Flag(_) => {
                let (vals, d) =
                    split(chunk, |r| if let Cell::Flag(v) = (c.get)(r) { v } else { None });
                w.typed::<BoolType>()
                    .write_batch(&vals, c.optional.then_some(d.as_slice()), None)
                    .map_err(parquet_error)?;
            }
        }
        w.close().map_err(parquet_error)?;
    }
    group.close().map_err(parquet_error)?;
    Ok(())
}

/// A column's present values over `rows`, and a definition level per row (1 present, 0 null).
fn split<T>(rows: &[Labelled], get: impl Fn(&Labelled) -> Option<T>) -> (Vec<T>, Vec<i16>) {
    let mut defs = Vec::with_capacity(rows.len());
    let mut vals = Vec::with_capacity(rows.len());
    for r in rows {
        let v = get(r);
        defs.push(i16::from(v.is_some()));
        vals.extend(v);
    }
    (vals, defs)
}
