//! The sim provider's true CL and CS follow from its parameters; the whole pipeline (sim text →
//! grader → store → metrics) must recover them.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use critloop::analysis::run_metrics;
use critloop::dataset::{self, LoadOptions};
use critloop::domain::{ProviderSpec, Sampling, SimParams};
use critloop::grade::GradeOptions;
use critloop::llm::Provider;
use critloop::protocol::load_protocol;
use critloop::runner::{self, NewRun, RunOptions};
use critloop::store::Store;

fn run_sim(
    dataset: &str,
    items: usize,
    samples: u32,
    params: SimParams,
    seed: u64,
) -> (Store, critloop::domain::RunRecord) {
    let store = Store::temporary().unwrap();
    let mut loaded = dataset::resolve(dataset, &LoadOptions::default()).unwrap().items;
    loaded.truncate(items);
    let provider = ProviderSpec::Sim { params };
    let record = runner::create_run(
        &store,
        NewRun {
            name: "sim".into(),
            dataset: dataset.into(),
            items: loaded,
            protocol: load_protocol("critique-revise").unwrap(),
            provider: provider.clone(),
            model: "sim".into(),
            critic_model: "sim".into(),
            sampling: Sampling { seed, samples, ..Sampling::default() },
        },
        GradeOptions::default(),
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let totals = rt
        .block_on(runner::execute(
            store.clone(),
            record.id,
            Provider::from_spec(&provider).unwrap(),
            RunOptions { concurrency: 64, ..RunOptions::default() },
            tx,
            Arc::new(AtomicBool::new(false)),
        ))
        .unwrap();
    assert_eq!(totals.done, totals.total);
    (store, record)
}

#[test]
fn two_thousand_sim_episodes_recover_the_true_cl_and_cs() {
    let params = SimParams {
        p_correct: 0.5,
        tpr: 0.85,
        fpr: 0.1,
        p_fix: 0.8,
        p_fix_unflagged: 0.05,
        p_break: 0.4,
        p_break_unflagged: 0.02,
        p_unparsed: 0.0,
    };
    // By hand: CL = 1 − (0.1·0.4 + 0.9·0.02) = 0.942; CS = 0.85·0.8 + 0.15·0.05 = 0.6875.
    assert!((params.true_cl() - 0.942).abs() < 1e-12);
    assert!((params.true_cs() - 0.6875).abs() < 1e-12);
    // 250 items × 8 samples = 2,000 episodes.
    let (store, record) = run_sim("arith", 250, 8, params.clone(), 11);
    let m = run_metrics(&store, &record).unwrap().summary;
    assert_eq!(m.scored, 2000);
    let (cl, cs, a1) = (m.cl.unwrap(), m.cs.unwrap(), m.acc_t1.unwrap());
    assert!((cl - params.true_cl()).abs() <= 0.03, "cl {cl} vs {}", params.true_cl());
    assert!((cs - params.true_cs()).abs() <= 0.03, "cs {cs} vs {}", params.true_cs());
    assert!((a1 - params.p_correct).abs() <= 0.03, "acc_t1 {a1}");
    // The critic's confusion follows TPR/FPR too (positive = answer wrong).
    let c = &m.critique;
    let tpr = c.tp as f64 / (c.tp + c.fn_) as f64;
    let fpr = c.fp as f64 / (c.fp + c.tn) as f64;
    assert!((tpr - params.tpr).abs() <= 0.03, "tpr {tpr}");
    assert!((fpr - params.fpr).abs() <= 0.03, "fpr {fpr}");
}

#[test]
fn multiple_choice_items_are_simulated_and_graded_by_letter() {
    let params = SimParams { p_correct: 0.3, ..SimParams::default() };
    let (store, record) = run_sim("choice", 60, 10, params, 3);
    let m = run_metrics(&store, &record).unwrap().summary;
    assert_eq!(m.scored, 600);
    let a1 = m.acc_t1.unwrap();
    assert!((a1 - 0.3).abs() < 0.06, "acc_t1 {a1}");
}

#[test]
fn the_same_seed_gives_the_same_run_and_another_seed_differs() {
    let p = SimParams::default();
    let (s1, r1) = run_sim("arith", 40, 1, p.clone(), 5);
    let (s2, r2) = run_sim("arith", 40, 1, p.clone(), 5);
    let (s3, r3) = run_sim("arith", 40, 1, p, 6);
    let t = |s: &Store, r: &critloop::domain::RunRecord| {
        critloop::export::transcript_lines(s, r)
            .unwrap()
            .into_iter()
            .map(|l| l.turns.into_iter().map(|t| t.content).collect::<Vec<_>>())
            .collect::<Vec<_>>()
    };
    assert_eq!(t(&s1, &r1), t(&s2, &r2));
    assert_ne!(t(&s1, &r1), t(&s3, &r3));
}
