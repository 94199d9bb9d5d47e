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
