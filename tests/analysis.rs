//! Bootstrap intervals on simulated runs: the sim provider's true CL and CS are known, so the
//! intervals must cover them at about their nominal rate, and shrink like 1/√n.

use std::collections::HashMap;
use std::time::Instant;

use critloop::dataset::{self, LoadOptions};
use critloop::domain::{
    Episode, EpisodeId, EpisodeStatus, Item, Role, RunId, Sampling, SimParams, Turn,
};
use critloop::grade::GradeOptions;
use critloop::llm::{Request, simulate};
use critloop::metrics::{BootstrapOptions, EpisodeObs, aggregate, intervals, observe};
use critloop::protocol::{Next, load_protocol, next_step};
use critloop::runner::{grade_turn, turn_from_reply};

fn items(n: usize) -> Vec<Item> {
    let mut items = dataset::resolve("arith", &LoadOptions::default()).unwrap().items;
    items.truncate(n);
    items
}

/// One critique-revise sim episode per item, in memory: protocol → simulator → grader →
/// observation, the pipeline of a stored run without the database.
fn sim_obs(items: &[Item], params: &SimParams, seed: u64) -> Vec<EpisodeObs> {
    let spec = load_protocol("critique-revise").unwrap();
    let sampling = Sampling { seed, ..Sampling::default() };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let mut turns: Vec<Turn> = Vec::new();
        while let Next::Request(step) = next_step(&spec, item, &turns).unwrap() {
            let req = Request {
                item,
                sample: 0,
                step: &step,
                prior: &turns,
                protocol: spec.kind,
                model: "sim",
                sampling: &sampling,
                deltas: None,
            };
            let mut t = turn_from_reply(step.role, simulate(params, &req), Instant::now());
            grade_turn(&mut t, item, GradeOptions::default(), step.wants_answer);
            turns.push(t);
        }
        assert_eq!(turns.last().map(|t| t.role), Some(Role::Revise));
        let ep = Episode {
            id: EpisodeId { run: RunId(1), item: i as u32, sample: 0 },
            item_id: item.id.clone(),
            status: EpisodeStatus::Done,
            error: None,
            meta: Default::default(),
        };
        out.push(observe(spec.kind, &ep, &turns, &HashMap::new(), &mut 0));
    }
    out
}

fn params() -> SimParams {
    SimParams { p_unparsed: 0.0, ..SimParams::default() }
}

#[test]
fn intervals_of_cl_and_cs_cover_the_truth_in_at_least_90_of_100_runs() {
    let p = params();
    let (true_cl, true_cs) = (p.true_cl(), p.true_cs());
    let items = items(200);
    let opts = BootstrapOptions { resamples: 300, ..BootstrapOptions::default() };
    let (mut cl_hits, mut cs_hits) = (0, 0);
    for seed in 0..100 {
        let agg = aggregate(&sim_obs(&items, &p, 1000 + seed));
        let ci = intervals(&agg.items, &BootstrapOptions { seed, ..opts });
        let covers =
            |k: &str, truth: f64| ci.get(k).is_some_and(|[lo, hi]| *lo <= truth && truth <= *hi);
        cl_hits += u32::from(covers("cl", true_cl));
        cs_hits += u32::from(covers("cs", true_cs));
    }
    eprintln!(
        "coverage of 100 runs: CL {cl_hits}, CS {cs_hits} (true CL {true_cl:.3}, CS {true_cs:.3})"
    );
    assert!(cl_hits >= 90, "CL covered in {cl_hits} of 100");
    assert!(cs_hits >= 90, "CS covered in {cs_hits} of 100");
}

#[test]
fn interval_width_shrinks_like_one_over_root_n() {
    let p = params();
    let opts = BootstrapOptions::default();
    let width = |n: usize, seed: u64| {
        let obs = sim_obs(&items(n), &p, seed);
        let agg = aggregate(&obs);
        let s = critloop::metrics::compute(&obs);
        let ci = intervals(&agg.items, &opts);
        // Every interval holds its point estimate.
        for (k, [lo, hi]) in &ci {
            let v = critloop::metrics::scalar_rates(&s)
                .into_iter()
                .find(|(key, _)| key == k)
                .and_then(|(_, v)| v)
                .unwrap();
            assert!(*lo <= v && v <= *hi, "{k}: {v} outside [{lo}, {hi}] at n={n}");
        }
        let [lo, hi] = ci["acc_t1"];
        hi - lo
    };
    // Averaged over seeds so one unlucky draw of p̂ does not decide.
    let mean_width = |n: usize| (0..6).map(|seed| width(n, 40 + seed)).sum::<f64>() / 6.0;
    let (small, large) = (mean_width(60), mean_width(240));
    // Four times the items: half the width (√4), within sampling noise.
    let ratio = small / large;
    eprintln!("acc_t1 width n=60 {small:.4}, n=240 {large:.4}, ratio {ratio:.2}");
    assert!((1.7..=2.3).contains(&ratio), "width ratio {ratio}");
}

#[test]
fn the_bootstrap_is_deterministic_for_a_seed() {
    let agg = aggregate(&sim_obs(&items(60), &params(), 3));
    let a = intervals(&agg.items, &BootstrapOptions { seed: 11, ..Default::default() });
    let b = intervals(&agg.items, &BootstrapOptions { seed: 11, ..Default::default() });
    let c = intervals(&agg.items, &BootstrapOptions { seed: 12, ..Default::default() });
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.contains_key("cl") && a.contains_key("critique.f1"));
}
