//! Metrics read turns without their text (`Store::turn_facts_of_run`): the oracle is the full
//! decode, which must agree on every field the metrics can see.

use critloop::domain::{EpisodeId, ProviderSpec, Role, Sampling, Turn};
use critloop::store::Store;

/// A full turn as the metrics see it: no text, and only the meta keys they read.
fn seen(mut t: Turn) -> Turn {
    t.content.clear();
    t.meta.retain(|k, _| k == "cached" || k == critloop::protocol::SYNTHETIC);
    t
}

#[test]
fn turn_facts_equal_the_full_turns_less_their_text() {
    let store = Store::temporary().unwrap();
    let mut items = critloop::dataset::resolve("arith", &Default::default()).unwrap().items;
    items.truncate(20);
    let record = run_items(&store, "r", "critique-revise", items, Sampling::default());
    // A turn with every optional field, the two meta keys and an unknown one.
    let mut odd = Turn::new(Role::Critique, "text \"quoted\" \u{1b}[31m");
    odd.answer = Some("4".into());
    odd.correct = Some(false);
    odd.verdict = Some(critloop::domain::Verdict::Incorrect);
    odd.confidence = Some(0.25);
    odd.p_true = Some(0.125);
    odd.p_true_raw = Some(0.5);
    odd.prompt_tokens = Some(7);
    odd.completion_tokens = Some(9);
    odd.latency_ms = Some(11);
    odd.model = Some("m".into());
    odd.finish_reason = Some("length".into());
    odd.error = Some("e".into());
    odd.request_key = Some("k".into());
    odd.simulated = true;
    odd.meta.insert("cached".into(), serde_json::Value::Bool(true));
    odd.meta.insert(critloop::protocol::SYNTHETIC.into(), "oracle".into());
    odd.meta.insert("unknown".into(), serde_json::json!({"nested": [1, 2]}));
    store.put_turn(EpisodeId { run: record.id, item: 0, sample: 0 }, 7, &odd).unwrap();

    let full = store.turns_of_run(record.id).unwrap();
    let facts = store.turn_facts_of_run(record.id).unwrap();
    assert_eq!(full.len(), 20);
    let want: Vec<(EpisodeId, Vec<Turn>)> =
        full.into_iter().map(|(id, ts)| (id, ts.into_iter().map(seen).collect())).collect();
    assert_eq!(facts, want);
    assert!(facts[0].1.iter().any(|t| t.meta.contains_key("cached")), "the odd turn is there");
}

// ---- the outcome records against the full records (the reference path) ----

use critloop::analysis::{run_data, run_data_reference};
use critloop::domain::{Label, RunRecord};
use critloop::metrics::{AnalysisOptions, BootstrapOptions, report_of};
use rand::{Rng, SeedableRng};

/// The full metrics JSON of a run, from the outcome records and from the full records.
fn both_paths(store: &Store, run: &RunRecord) -> (String, String) {
    let opts = AnalysisOptions {
        bootstrap: BootstrapOptions { resamples: 60, seed: 3, level: 0.95 },
        bins: 10,
    };
    let fast = report_of(run, &run_data(store, run).unwrap(), &opts);
    let reference = report_of(run, &run_data_reference(store, run).unwrap(), &opts);
    (serde_json::to_string(&fast).unwrap(), serde_json::to_string(&reference).unwrap())
}

fn sim_run(
    store: &Store,
    name: &str,
    protocol: &str,
    items: usize,
    sampling: Sampling,
) -> RunRecord {
    let mut all = critloop::dataset::resolve("arith", &Default::default()).unwrap().items;
    all.truncate(items);
    // Given solutions (critic protocols need them), every third one wrong and labelled so,
    // one in five unlabelled (grader agreement reads the labels).
    for (i, item) in all.iter_mut().enumerate() {
        let wrong = i % 3 == 0;
        let answer = if wrong { format!("{}1", item.reference) } else { item.reference.clone() };
        item.given = Some(critloop::domain::GivenSolution {
            text: format!("Working it out, the answer is {answer}."),
            answer: Some(answer),
            correct: (i % 5 != 4).then_some(!wrong),
        });
    }
    run_items(store, name, protocol, all, sampling)
}

/// A sim run of `items`, executed to the end.
fn run_items(
    store: &Store,
    name: &str,
    protocol: &str,
    items: Vec<critloop::domain::Item>,
    sampling: Sampling,
) -> RunRecord {
    let record = critloop::runner::create_run(
        store,
        critloop::runner::NewRun {
            name: name.into(),
            dataset: "arith".into(),
            items,
            protocol: critloop::protocol::load_protocol(protocol).unwrap(),
            provider: ProviderSpec::Sim { params: Default::default() },
            model: "sim".into(),
            critic_model: "sim".into(),
            sampling,
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
    record
}

#[test]
fn outcome_records_give_the_reference_metrics_on_every_transcript_fixture() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/transcripts");
    let store = Store::temporary().unwrap();
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        // The malformed fixtures are refused before anything is stored.
        let Ok(runs) = critloop::export::import_transcripts(&store, &path, &Default::default())
        else {
            continue;
        };
        for run in runs {
            let (fast, reference) = both_paths(&store, &run);
            assert_eq!(fast, reference, "{}", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 12, "{checked} fixture runs checked");
}

#[test]
fn outcome_records_give_the_reference_metrics_on_sim_runs_with_labels_and_overrides() {
    let store = Store::temporary().unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let (mut used, mut graded) = (0, 0);
    let mut runs = Vec::new();
    for (i, protocol) in critloop::protocol::preset_names().into_iter().enumerate() {
        let sampling = Sampling { samples: 1 + (i as u32 % 3), ..Sampling::default() };
        runs.push(sim_run(&store, &format!("r{i}"), protocol, 25, sampling));
    }
    for run in &runs {
        // Random labels: grade overrides on random turns (some retracted, some twice), and
        // other labels, by two annotators.
        let turns = store.turns_of_run(run.id).unwrap();
        for (id, ts) in &turns {
            for _ in 0..rng.random_range(0..3) {
                let turn = rng.random_range(0..ts.len() as u32 + 1);
                let (name, value) = if rng.random_bool(0.6) {
                    ("grade_override", if rng.random_bool(0.5) { "correct" } else { "incorrect" })
                } else {
                    ("error_found", "yes")
                };
                let label = Label {
                    annotator: if rng.random_bool(0.5) { "ana" } else { "bob" }.into(),
                    turn: Some(turn),
                    name: name.into(),
                    value: value.into(),
                    time: 1_700_000_000 + rng.random_range(0..1000),
                    millis: 0,
                    retracted: rng.random_bool(0.1),
                };
                store.add_label(*id, &label).unwrap();
            }
        }
        let (fast, reference) = both_paths(&store, run);
        assert_eq!(fast, reference, "run {}", run.name);
        let v: serde_json::Value = serde_json::from_str(&fast).unwrap();
        used += v["overrides_used"].as_u64().unwrap();
        graded += u64::from(!v["grader"].is_null());
    }
    // The paths were compared where it matters: overrides applied, given solutions graded.
    assert!(used > 20, "{used} overrides used");
    assert!(graded >= 2, "{graded} runs with grader agreement");
}

/// A database written before the outcome records existed gets them built on first use, and
/// they give the same metrics.
#[test]
fn a_database_without_outcome_records_gets_them_built() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let want = {
        let store = Store::open(&path).unwrap();
        let run = sim_run(&store, "old", "critique-revise", 30, Sampling::default());
        let (fast, reference) = both_paths(&store, &run);
        assert_eq!(fast, reference);
        store.flush().unwrap();
        fast
    };
    // What a version-1 database looks like: no outcomes tree, no format. sled may release its
    // lock a moment after the last handle drops (its epoch-deferred frees): wait for it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let db = loop {
        match sled::Config::new().path(&path).use_compression(true).open() {
            Ok(db) => break db,
            Err(e) if std::time::Instant::now() < deadline => {
                assert!(e.to_string().contains("lock"), "{e}");
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("{e}"),
        }
    };
    db.drop_tree("outcomes").unwrap();
    let meta = db.open_tree("meta").unwrap();
    meta.remove("outcomes_format").unwrap();
    meta.insert("schema_version", b"1".to_vec()).unwrap();
    db.flush().unwrap();
    drop((meta, db));
    let store = loop {
        match Store::open(&path) {
            Err(critloop::store::StoreError::Locked { .. })
                if std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => break other.unwrap(),
        }
    };
    let run = store.require_run("old").unwrap();
    assert!(store.outcomes_pending(run.id).unwrap());
    assert_eq!(store.schema_version().unwrap(), critloop::store::SCHEMA_VERSION);
    let mut seen = Vec::new();
    store.build_outcomes(run.id, &mut |done, total| seen.push((done, total))).unwrap();
    assert_eq!(seen.last(), Some(&(30, 30)));
    assert!(!store.outcomes_pending(run.id).unwrap());
    let (fast, _) = both_paths(&store, &run);
    assert_eq!(fast, want);
}
