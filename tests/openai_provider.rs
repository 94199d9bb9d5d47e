//! The `openai` provider against a real HTTP server (the in-process mock) with faults.

mod support;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use critloop::analysis::run_metrics;
use critloop::dataset::{LoadOptions, load_str};
use critloop::domain::{
    EndpointSpec, EpisodeStatus, OpenAiSpec, ProviderSpec, Role, RunRecord, Sampling,
};
use critloop::grade::GradeOptions;
use critloop::llm::Provider;
use critloop::protocol::load_protocol;
use critloop::runner::{self, NewRun, RunOptions, Totals};
use critloop::store::Store;
use support::mock::{Fault, FaultPlan, MockConfig, MockServer};
use support::world;

fn spec(urls: Vec<String>) -> OpenAiSpec {
    let mut s = OpenAiSpec::new(
        EndpointSpec { base_urls: urls, api_key_env: "CRITLOOP_TEST_NO_KEY".into() },
        32,
    );
    s.timeout_secs = 5.0;
    s.max_retries = 8;
    s
}

async fn run(
    store: &Store,
    name: &str,
    items: u64,
    spec: OpenAiSpec,
    samples: u32,
    use_cache: bool,
) -> (RunRecord, Totals) {
    let text = world::dataset_jsonl(items);
    let items = load_str("world.jsonl", &text, false, &LoadOptions::default()).unwrap().items;
    let provider_spec = ProviderSpec::OpenAi(spec.clone());
    let record = runner::create_run(
        store,
        NewRun {
            name: name.into(),
            dataset: "world".into(),
            items,
            protocol: load_protocol("critique-revise").unwrap(),
            provider: provider_spec.clone(),
            model: "mock-model".into(),
            critic_model: "mock-model".into(),
            sampling: Sampling { samples, seed: 42, ..Sampling::default() },
        },
        GradeOptions::default(),
    )
    .unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let totals = runner::execute(
        store.clone(),
        record.id,
        Provider::from_spec(&provider_spec).unwrap(),
        RunOptions { concurrency: spec.concurrency, use_cache, ..RunOptions::default() },
        tx,
        Arc::new(AtomicBool::new(false)),
    )
    .await
    .unwrap();
    (record, totals)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_episodes_with_twenty_percent_faults_give_the_scripted_metrics() {
    let mock = MockServer::start(MockConfig {
        faults: FaultPlan::Random {
            rate: 0.2,
            seed: 9,
            kinds: vec![
                Fault::RateLimited { retry_after_secs: 0 },
                Fault::ServerError,
                Fault::Unavailable,
                Fault::MalformedJson,
                Fault::TruncatedStream,
                Fault::DropConnection,
                Fault::Slow(Duration::from_millis(1500)),
            ],
        },
        ..MockConfig::replying(world::reply)
    })
    .await;
    let store = Store::temporary().unwrap();
    let mut s = spec(vec![mock.base_url()]);
    s.timeout_secs = 1.0;
    let (record, totals) = run(&store, "faults", 200, s, 1, true).await;

    let want = world::expected(200);
    assert_eq!(totals.total, 200);
    assert_eq!(totals.pending, 0);
    assert_eq!(totals.failed, want.failed, "only refused items fail");
    for ep in store.episodes(record.id).unwrap() {
        match ep.status {
            EpisodeStatus::Done => assert!(ep.error.is_none()),
            EpisodeStatus::Failed => {
                let n: u64 = ep.item_id.0[1..].parse().unwrap();
                let msg = ep.error.unwrap();
                assert!(msg.contains(&world::refusal(n)), "endpoint's message kept: {msg}");
                assert!(msg.contains("400"), "{msg}");
            }
            EpisodeStatus::Pending => panic!("episode left pending"),
        }
    }
    let m = run_metrics(&store, &record).unwrap().summary;
    let t = m.transitions;
    assert_eq!((t.cc, t.cw, t.wc, t.ww), (want.cc, want.cw, want.wc, want.ww));
    let c = m.critique;
    assert_eq!(
        (c.tp, c.fp, c.tn, c.fn_, c.unparsed),
        (want.tp, want.fp, want.tn, want.fn_, want.unparsed)
    );
    let n = (want.cc + want.cw + want.wc + want.ww) as f64;
    assert!((m.acc_t1.unwrap() - (want.cc + want.cw) as f64 / n).abs() < 1e-12);
    assert!((m.acc_t2.unwrap() - (want.cc + want.wc) as f64 / n).abs() < 1e-12);

    let log = mock.requests();
    let faults = log.iter().filter(|r| r.fault.is_some()).count();
    assert!(faults >= 60, "faults were injected ({faults} of {})", log.len());
    assert!(
        log.iter()
            .all(|r| r.request.max_tokens.is_some() && r.request.max_completion_tokens.is_none())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_and_plain_calls_agree_and_a_truncated_stream_is_retried() {
    let mut script = vec![None; 5];
    script[0] = Some(Fault::TruncatedStream);
    script[2] = Some(Fault::DropConnection);
    let streamed = MockServer::start(MockConfig {
        faults: FaultPlan::Script(script),
        ..MockConfig::replying(world::reply)
    })
    .await;
    let plain = MockServer::start(MockConfig::replying(world::reply)).await;
    let store = Store::temporary().unwrap();
    let mut s = spec(vec![streamed.base_url()]);
    s.stream = true;
    s.concurrency = 1;
    let (r1, t1) = run(&store, "stream", 30, s, 1, true).await;
    let (r2, _) = run(&store, "plain", 30, spec(vec![plain.base_url()]), 1, true).await;
    assert_eq!(t1.pending, 0);
    let a = run_metrics(&store, &r1).unwrap().summary;
    let b = run_metrics(&store, &r2).unwrap().summary;
    assert_eq!(a, b, "streamed and plain runs give the same metrics");
    let log = streamed.requests();
    assert!(log.iter().all(|r| r.request.stream));
    assert!(plain.requests().iter().all(|r| !r.request.stream));
    assert_eq!(log[0].fault, Some(Fault::TruncatedStream));
    // The truncated and the dropped request were asked again with the same messages.
    assert_eq!(log[1].request.messages, log[0].request.messages);
    assert_eq!(log[3].request.messages, log[2].request.messages);
    let first = &store.turns_of_run(r1.id).unwrap()[0].1[0];
    assert!(first.content.contains("\\boxed{2}"), "{}", first.content);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured() {
    let mock = MockServer::start(MockConfig {
        faults: FaultPlan::Script(vec![Some(Fault::RateLimited { retry_after_secs: 1 })]),
        ..MockConfig::replying(world::reply)
    })
    .await;
    let store = Store::temporary().unwrap();
    let started = Instant::now();
    let (_, totals) = run(&store, "ra", 1, spec(vec![mock.base_url()]), 1, true).await;
    assert_eq!(totals.done, 1);
    assert!(started.elapsed() >= Duration::from_secs(1), "waited for Retry-After");
    assert_eq!(mock.requests().len(), 4, "one 429 and three good calls");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_is_served_from_the_cache_unless_no_cache() {
    let mock = MockServer::start(MockConfig::replying(world::reply)).await;
    let store = Store::temporary().unwrap();
    let (r1, _) = run(&store, "a", 20, spec(vec![mock.base_url()]), 2, true).await;
    let sent = mock.requests().len();
    assert_eq!(sent, 20 * 2 * 3);
    // Item 13 is refused at its revise (both samples): failures are not cached.
    let refused = world::expected(20).failed * 2;
    assert_eq!(refused, 2);
    let (r2, t2) = run(&store, "b", 20, spec(vec![mock.base_url()]), 2, true).await;
    assert_eq!((t2.done, t2.failed), (40 - refused, refused));
    assert_eq!(
        mock.requests().len() as u64,
        sent as u64 + refused,
        "the same spec re-requests nothing but the refused calls"
    );
    let (r3, _) = run(&store, "c", 20, spec(vec![mock.base_url()]), 2, false).await;
    assert_eq!(mock.requests().len() as u64, 2 * sent as u64 + refused, "--no-cache asks again");
    let m = |r: &RunRecord| run_metrics(&store, r).unwrap().summary;
    assert_eq!(m(&r1), m(&r2));
    assert_eq!(m(&r1), m(&r3));
    let usage = run_metrics(&store, &r2).unwrap().usage;
    // 40 episodes × 3 turns, less the 2 refused revisions that never became turns.
    assert_eq!(usage.cached, 118);
    // k samples are k requests with their own seeds.
    let seeds: std::collections::BTreeSet<i64> =
        mock.requests().iter().filter_map(|r| r.request.seed).collect();
    assert_eq!(seeds, [42, 43].into_iter().collect());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logprobs_give_a_p_true_confidence_for_verdicts() {
    let mock = MockServer::start(MockConfig::replying(world::reply)).await;
    let store = Store::temporary().unwrap();
    let mut s = spec(vec![mock.base_url()]);
    s.logprobs = true;
    let (record, _) = run(&store, "lp", 10, s, 1, true).await;
    assert!(mock.requests().iter().all(|r| r.request.logprobs));
    for (id, turns) in store.turns_of_run(record.id).unwrap() {
        let n = u64::from(id.item) + 1;
        let critique = turns.iter().find(|t| t.role == Role::Critique).unwrap();
        if world::unparsed(n) {
            assert_eq!(critique.p_true, None);
            continue;
        }
        // The mock puts 0.8 on the verdict it wrote and 0.2 on the other one.
        let want = if world::flags(n) { 0.2 } else { 0.8 };
        let got = critique.p_true.unwrap();
        assert!((got - want).abs() < 1e-6, "item {n}: p_true {got} want {want}");
        assert!((critique.confidence.unwrap() - 0.8).abs() < 1e-12);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_the_load_and_a_failing_one_is_backed_off() {
    let good = MockServer::start(MockConfig::replying(world::reply)).await;
    let also_good = MockServer::start(MockConfig::replying(world::reply)).await;
    let bad = MockServer::start(MockConfig {
        faults: FaultPlan::Random { rate: 1.0, seed: 1, kinds: vec![Fault::Unavailable] },
        ..MockConfig::replying(world::reply)
    })
    .await;
    let store = Store::temporary().unwrap();
    let urls = vec![good.base_url(), also_good.base_url(), bad.base_url()];
    let (_, totals) = run(&store, "rep", 60, spec(urls), 1, true).await;
    assert_eq!(totals.done + totals.failed, 60);
    assert_eq!(totals.failed, world::expected(60).failed);
    let (g, a, b) = (good.requests().len(), also_good.requests().len(), bad.requests().len());
    assert!(g > 40 && a > 40, "both healthy replicas served: {g} {a}");
    assert!(b < 20, "the failing replica was backed off: {b} requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_separate_critic_endpoint_gets_only_critiques() {
    let generator = MockServer::start(MockConfig::replying(world::reply)).await;
    let critic = MockServer::start(MockConfig::replying(world::reply)).await;
    let store = Store::temporary().unwrap();
    let mut s = spec(vec![generator.base_url()]);
    s.critic = Some(EndpointSpec { base_urls: vec![critic.base_url()], api_key_env: "X".into() });
    run(&store, "cross", 5, s, 1, true).await;
    assert_eq!(generator.requests().len(), 10);
    assert_eq!(critic.requests().len(), 5);
    assert!(critic.requests().iter().all(|r| r.request.messages.len() == 3));
}
