//! The analysis on large runs: per-item aggregation, the metrics summary, 1000 bootstrap
//! resamples, calibration, and a paired comparison with 1000 resamples. Target: a 50,000-episode
//! run's full metrics (with intervals) in well under 2 s, so the Metrics screen stays usable.
//!
//! Run: `cargo bench --bench analysis` (add `-- --reps N` for more repetitions). Synthetic
//! observations: 10,000 items × 5 samples, critique-revise with verbalised confidence.

use std::time::Instant;

use critloop::domain::Verdict;
use critloop::metrics::{
    BootstrapOptions, CritiqueObs, EpisodeObs, aggregate, compare, compute, intervals,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const COMMAND: &str = "cargo bench --bench analysis";
const ITEMS: usize = 10_000;
const SAMPLES: u32 = 5;

fn observations(seed: u64) -> Vec<EpisodeObs> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(ITEMS * SAMPLES as usize);
    for i in 0..ITEMS {
        let p = rng.random_range(0.1..0.9);
        for s in 0..SAMPLES {
            let t1 = rng.random_bool(p);
            let flagged = rng.random_bool(if t1 { 0.15 } else { 0.7 });
            let t2 = if flagged { rng.random_bool(0.5) } else { t1 };
            let verdict = if flagged { Verdict::Incorrect } else { Verdict::Correct };
            out.push(EpisodeObs {
                item_id: format!("item-{i:05}"),
                sample: s,
                attempts: vec![Some(t1), Some(t2)],
                critiques: vec![CritiqueObs {
                    confidence: Some(rng.random_range(0.5..1.0)),
                    ..CritiqueObs::new(verdict, Some(t1))
                }],
                first_answer: Some(format!("{}", u8::from(t1))),
                ..Default::default()
            });
        }
    }
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time<T>(reps: usize, mut f: impl FnMut() -> T) -> f64 {
    let mut ms = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        std::hint::black_box(f());
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    median(ms)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let reps = args
        .iter()
        .position(|a| a == "--reps")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let a = observations(1);
    let b = observations(2);
    let agg = aggregate(&a);
    let opts = BootstrapOptions::default();
    println!("{COMMAND}: {} episodes ({ITEMS} items × {SAMPLES}), medians of {reps} reps", a.len());
    println!("  aggregate by item          {:>9.1} ms", time(reps, || aggregate(&a)));
    println!("  summary (compute)          {:>9.1} ms", time(reps, || compute(&a)));
    println!(
        "  1000 bootstrap resamples   {:>9.1} ms",
        time(reps, || intervals(&agg.items, &opts))
    );
    println!(
        "  compare, 1000 paired       {:>9.1} ms",
        time(reps, || compare("a", &a, "b", &b, &opts))
    );
    let run = critloop::domain::RunRecord {
        id: critloop::domain::RunId(1),
        name: "a".into(),
        dataset: "synthetic".into(),
        dataset_hash: String::new(),
        protocol: critloop::protocol::load_protocol("critique-revise").unwrap(),
        provider: critloop::domain::ProviderSpec::Replay,
        model: "m".into(),
        critic_model: "m".into(),
        sampling: Default::default(),
        status: critloop::domain::RunStatus::Finished,
        version: String::new(),
        created: 0,
        grading: Default::default(),
        origin: Default::default(),
        notes: Default::default(),
        meta: Default::default(),
    };
    let report = || {
        let data = critloop::metrics::RunData {
            obs: a.clone(),
            overrides_used: 0,
            grader: None,
            usage: Default::default(),
            labelled: Vec::new(),
        };
        critloop::metrics::report_of(&run, &data, &Default::default())
    };
    // Everything the metrics JSON holds: rates, their intervals, calibration and its intervals.
    println!("  full metrics report        {:>9.1} ms", time(reps, report));
}
