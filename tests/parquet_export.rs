//! `critloop export --format parquet`: read back with the parquet crate's own reader, every
//! row and column equals the long format, with typed columns and a column per label.

use std::path::Path;

use critloop::domain::{EpisodeId, Label, ProviderSpec, Sampling};
use critloop::export::{export_parquet, long_rows};
use critloop::store::Store;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;

fn label(annotator: &str, turn: Option<u32>, name: &str, value: &str, time: u64) -> Label {
    Label {
        annotator: annotator.into(),
        turn,
        name: name.into(),
        value: value.into(),
        time,
        millis: 0,
        retracted: false,
    }
}

/// A finished sim run of 12 items with labels by two annotators, one of them changed later.
fn labelled_run(db: &Path) -> (Store, critloop::domain::RunRecord) {
    let store = Store::open(db).unwrap();
    let mut items = critloop::dataset::resolve("arith", &Default::default()).unwrap().items;
    items.truncate(12);
    let record = critloop::runner::create_run(
        &store,
        critloop::runner::NewRun {
            name: "r".into(),
            dataset: "arith".into(),
            items,
            protocol: critloop::protocol::load_protocol("critique-revise").unwrap(),
            provider: ProviderSpec::Sim { params: Default::default() },
            model: "sim".into(),
            critic_model: "sim".into(),
            sampling: Sampling::default(),
        },
        Default::default(),
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    rt.block_on(critloop::runner::execute(
        store.clone(),
        record.id,
        critloop::llm::Provider::Sim(Default::default()),
        Default::default(),
        tx,
        Default::default(),
    ))
    .unwrap();
    let ep = |item| EpisodeId { run: record.id, item, sample: 0 };
    store.add_label(ep(0), &label("ana", Some(1), "error_found", "yes", 100)).unwrap();
    store.add_label(ep(0), &label("ben", Some(1), "error_found", "no", 101)).unwrap();
    store.add_label(ep(0), &label("ana", Some(1), "error_found", "partial", 102)).unwrap();
    store.add_label(ep(3), &label("ben", None, "note", "odd, \"quoted\"", 103)).unwrap();
    (store, record)
}

#[test]
fn parquet_round_trips_every_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let (store, run) = labelled_run(&dir.path().join("db"));
    let file = dir.path().join("r.parquet");
    let n = export_parquet(&store, &run, std::fs::File::create(&file).unwrap()).unwrap();
    let reader = SerializedFileReader::new(std::fs::File::open(&file).unwrap()).unwrap();
    assert_eq!(reader.metadata().num_row_groups(), 1);
    assert_eq!(n, 36, "12 episodes × 3 turns");
    round_trips(&store, &run, &file);
}

#[test]
fn a_large_run_is_written_in_row_groups_that_read_back_as_one() {
    let dir = tempfile::tempdir().unwrap();
    let (store, run) = labelled_run(&dir.path().join("db"));
    let file = dir.path().join("r.parquet");
    let n = critloop::export::export_parquet_in_groups(
        &store,
        &run,
        std::fs::File::create(&file).unwrap(),
        5,
    )
    .unwrap();
    assert_eq!(n, 36);
    let reader = SerializedFileReader::new(std::fs::File::open(&file).unwrap()).unwrap();
    assert_eq!(reader.metadata().num_row_groups(), 8, "7 groups of 5 rows and one of 1");
    round_trips(&store, &run, &file);
}

/// Every row and column of the file at `file` equals the run's long format.
fn round_trips(store: &Store, run: &critloop::domain::RunRecord, file: &Path) {
    let want = long_rows(store, run).unwrap();
    let reader = SerializedFileReader::new(std::fs::File::open(file).unwrap()).unwrap();
    let schema = reader.metadata().file_metadata().schema_descr();
    let types: Vec<(String, String)> = schema
        .columns()
        .iter()
        .map(|c| (c.name().to_string(), format!("{:?}", c.physical_type())))
        .collect();
    let ty = |name: &str| types.iter().find(|(n, _)| n == name).map(|(_, t)| t.as_str());
    assert_eq!(ty("sample"), Some("INT64"));
    assert_eq!(ty("correct"), Some("BOOLEAN"));
    assert_eq!(ty("confidence"), Some("DOUBLE"));
    assert_eq!(ty("content"), Some("BYTE_ARRAY"));
    assert_eq!(ty("label.error_found.ana"), Some("BYTE_ARRAY"));
    assert_eq!(ty("label.note.ben"), Some("BYTE_ARRAY"));

    let rows: Vec<parquet::record::Row> =
        reader.get_row_iter(None).unwrap().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), want.len());
    for (row, w) in rows.iter().zip(&want) {
        let get = |name: &str| -> Field {
            row.get_column_iter().find(|(n, _)| n.as_str() == name).map(|(_, f)| f.clone()).unwrap()
        };
        let text = |v: &Option<String>| v.clone().map_or(Field::Null, Field::Str);
        let int = |v: Option<i64>| v.map_or(Field::Null, Field::Long);
        let real = |v: Option<f64>| v.map_or(Field::Null, Field::Double);
        let flag = |v: Option<bool>| v.map_or(Field::Null, Field::Bool);
        assert_eq!(get("run"), Field::Str(w.run.clone()));
        assert_eq!(get("item_id"), Field::Str(w.item_id.clone()));
        assert_eq!(get("sample"), Field::Long(w.sample.into()));
        assert_eq!(get("status"), Field::Str(w.status.clone()));
        assert_eq!(get("turn"), Field::Long(w.turn.into()));
        assert_eq!(get("role"), Field::Str(w.role.clone()));
        assert_eq!(get("attempt"), int(w.attempt.map(i64::from)));
        assert_eq!(get("answer"), text(&w.answer));
        assert_eq!(get("correct"), flag(w.correct));
        assert_eq!(get("correct_used"), flag(w.correct_used));
        assert_eq!(get("tier"), text(&w.tier));
        assert_eq!(get("verdict"), text(&w.verdict));
        assert_eq!(get("verdict_method"), text(&w.verdict_method));
        assert_eq!(get("confidence"), real(w.confidence));
        assert_eq!(get("p_true"), real(w.p_true));
        assert_eq!(get("p_true_raw"), real(w.p_true_raw));
        assert_eq!(get("prompt_tokens"), int(w.prompt_tokens.map(i64::from)));
        assert_eq!(get("completion_tokens"), int(w.completion_tokens.map(i64::from)));
        assert_eq!(get("latency_ms"), int(w.latency_ms.map(|v| v as i64)));
        assert_eq!(get("model"), text(&w.model));
        assert_eq!(get("finish_reason"), text(&w.finish_reason));
        assert_eq!(get("simulated"), Field::Bool(w.simulated));
        assert_eq!(get("synthetic"), text(&w.synthetic));
        assert_eq!(get("labels"), Field::Str(w.labels.clone()));
        assert_eq!(get("error"), text(&w.error));
        assert_eq!(get("content"), Field::Str(w.content.clone()));
    }
    // The labels in force: ana's latest value, ben's; the episode note on all three rows.
    let cell = |i: usize, name: &str| {
        rows[i].get_column_iter().find(|(n, _)| n.as_str() == name).map(|(_, f)| f.clone())
    };
    assert_eq!(cell(1, "label.error_found.ana"), Some(Field::Str("partial".into())));
    assert_eq!(cell(1, "label.error_found.ben"), Some(Field::Str("no".into())));
    assert_eq!(cell(0, "label.error_found.ana"), Some(Field::Null), "turn 0 has none");
    for i in 9..12 {
        assert_eq!(cell(i, "label.note.ben"), Some(Field::Str("odd, \"quoted\"".into())));
    }
    assert_eq!(cell(8, "label.note.ben"), Some(Field::Null));
}

#[test]
fn parquet_needs_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    drop(labelled_run(&db));
    let out = assert_cmd::Command::new(env!("CARGO_BIN_EXE_critloop"))
        .arg("--db")
        .arg(&db)
        .args(["export", "r", "--format", "parquet"])
        .env("CRITLOOP_CONFIG", "/nonexistent/critloop.toml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("give --out FILE"), "{err}");
    let file = dir.path().join("out.parquet");
    let out = assert_cmd::Command::new(env!("CARGO_BIN_EXE_critloop"))
        .arg("--db")
        .arg(&db)
        .args(["export", "r", "--format", "parquet", "--out"])
        .arg(&file)
        .env("CRITLOOP_CONFIG", "/nonexistent/critloop.toml")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrote 36 rows"));
    assert_eq!(&std::fs::read(&file).unwrap()[..4], b"PAR1");
}

/// The streamed transcript export (turns and labels read per episode) writes exactly the
/// lines the bulk reader builds, history of labels included.
#[test]
fn the_streamed_transcript_equals_the_bulk_one() {
    let dir = tempfile::tempdir().unwrap();
    let (store, run) = labelled_run(&dir.path().join("db"));
    let mut streamed = Vec::new();
    let n = critloop::export::export_jsonl(&store, &run, &mut streamed).unwrap();
    let mut bulk = String::new();
    for line in critloop::export::transcript_lines(&store, &run).unwrap() {
        bulk.push_str(&serde_json::to_string(&line).unwrap());
        bulk.push('\n');
    }
    assert_eq!(n, 12);
    assert_eq!(String::from_utf8(streamed).unwrap(), bulk);
    assert!(bulk.contains("\"partial\"") && bulk.contains("\"yes\""), "history kept");
}
