//! Control arms on the sim provider: they share the source run's first attempts exactly, and
//! only the critique step differs.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use critloop::analysis::run_metrics;
use critloop::dataset::{self, LoadOptions};
use critloop::domain::{
    CritiqueSource, EpisodeStatus, ProviderSpec, Role, RunRecord, Sampling, SimParams, Turn,
    Verdict,
};
use critloop::grade::GradeOptions;
use critloop::llm::Provider;
use critloop::protocol::{SYNTHETIC, load_protocol};
use critloop::runner::{self, Arm, CrossCritic, NewRun, RunError, RunOptions};
use critloop::store::Store;

const ITEMS: usize = 60;

fn create(store: &Store, name: &str, protocol: &str) -> RunRecord {
    let mut items = dataset::resolve("arith", &LoadOptions::default()).unwrap().items;
    items.truncate(ITEMS);
    let params = SimParams { p_correct: 0.5, ..SimParams::default() };
    runner::create_run(
        store,
        NewRun {
            name: name.into(),
            dataset: "arith".into(),
            items,
            protocol: load_protocol(protocol).unwrap(),
            provider: ProviderSpec::Sim { params },
            model: "sim".into(),
            critic_model: "sim".into(),
            sampling: Sampling { seed: 9, ..Sampling::default() },
        },
        GradeOptions::default(),
    )
    .unwrap()
}

fn execute(store: &Store, record: &RunRecord) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let totals = rt
        .block_on(runner::execute(
            store.clone(),
            record.id,
            Provider::from_spec(&record.provider).unwrap(),
            RunOptions { concurrency: 8, ..RunOptions::default() },
            tx,
            Arc::new(AtomicBool::new(false)),
        ))
        .unwrap();
    assert_eq!((totals.done, totals.pending), (totals.total, 0), "{}", record.name);
}

/// Turns of every episode of a run, keyed by (item, sample).
fn episodes(store: &Store, run: &RunRecord) -> Vec<((u32, u32), Vec<Turn>)> {
    let mut out: Vec<_> = store
        .turns_of_run(run.id)
        .unwrap()
        .into_iter()
        .map(|(id, turns)| ((id.item, id.sample), turns))
        .collect();
    out.sort_by_key(|(k, _)| *k);
    out
}

/// w→c transitions: first attempt wrong, final attempt right.
fn fixed(store: &Store, run: &RunRecord) -> usize {
    episodes(store, run)
        .iter()
        .filter(|(_, t)| {
            t[0].correct == Some(false) && t.last().and_then(|l| l.correct) == Some(true)
        })
        .count()
}

#[test]
fn arms_share_first_attempts_and_differ_only_in_the_critique() {
    let store = Store::temporary().unwrap();
    let source = create(&store, "src", "critique-revise");
    execute(&store, &source);
    // Mark every first attempt, so a re-requested t1 in an arm would show.
    for (id, turns) in store.turns_of_run(source.id).unwrap() {
        let mut t1 = turns[0].clone();
        t1.meta.insert("probe".into(), id.to_string().into());
        store.put_turn(id, 0, &t1).unwrap();
    }
    let src_eps = episodes(&store, &source);
    let src_acc_t1 = run_metrics(&store, &source).unwrap().summary.acc_t1;

    let mut arms = Vec::new();
    for arm in [Arm::NoCritique, Arm::Empty, Arm::Oracle, Arm::Cross] {
        let cross = (arm == Arm::Cross)
            .then(|| CrossCritic { model: "sim-critic".into(), base_urls: Vec::new() });
        let made = runner::create_arm(&store, &source, arm, format!("src~{}", arm.as_str()), cross)
            .unwrap();
        assert_eq!((made.copied, made.skipped), (ITEMS as u64, 0));
        let r = made.record;
        let origin = critloop::domain::Origin::Arm { of: "src".into(), arm: arm.as_str().into() };
        assert_eq!(r.origin(), origin);
        assert_eq!(r.arm_of().as_deref(), Some("src"));
        assert_eq!(r.dataset_hash, source.dataset_hash);
        assert_eq!(store.items(r.id).unwrap(), store.items(source.id).unwrap());
        assert_eq!(r.sampling, source.sampling);
        assert_eq!(r.protocol.critique_source, arm.critique_source());
        execute(&store, &r);
        arms.push((arm, r));
    }

    for (arm, r) in &arms {
        let eps = episodes(&store, r);
        assert_eq!(eps.len(), src_eps.len(), "{arm:?}");
        for ((key, turns), (src_key, src_turns)) in eps.iter().zip(&src_eps) {
            assert_eq!(key, src_key, "{arm:?}: episode ids stay aligned");
            assert_eq!(turns[0], src_turns[0], "{arm:?} {key:?}: the very same first attempt");
            assert!(turns[0].meta.contains_key("probe"));
            let roles: Vec<Role> = turns.iter().map(|t| t.role).collect();
            match arm {
                Arm::NoCritique => assert_eq!(roles, [Role::Generate, Role::Revise]),
                _ => assert_eq!(roles, [Role::Generate, Role::Critique, Role::Revise]),
            }
            let crit = &turns.get(1).unwrap();
            match arm {
                Arm::Empty => {
                    assert_eq!((crit.content.as_str(), crit.verdict), ("", None));
                    assert_eq!(crit.meta[SYNTHETIC], "empty");
                }
                Arm::Oracle => {
                    let want = if turns[0].correct.unwrap() {
                        Verdict::Correct
                    } else {
                        Verdict::Incorrect
                    };
                    assert_eq!(crit.verdict, Some(want), "{key:?}");
                    assert_eq!(crit.meta[SYNTHETIC], "oracle");
                }
                Arm::Cross => {
                    assert_eq!(crit.model.as_deref(), Some("sim-critic"));
                    assert!(!crit.meta.contains_key(SYNTHETIC));
                }
                Arm::NoCritique => {}
            }
        }
        let m = run_metrics(&store, r).unwrap().summary;
        assert_eq!(m.acc_t1, src_acc_t1, "{arm:?}: identical first attempts, identical acc_t1");
        assert_eq!(m.scored, ITEMS as u64, "{arm:?}");
        if matches!(arm, Arm::NoCritique | Arm::Empty | Arm::Oracle) {
            assert_eq!(m.critique.n, 0, "{arm:?}: synthetic critiques are no critic's verdicts");
        } else {
            assert_eq!(m.critique.n, ITEMS as u64);
        }
    }
    let no_critique = &arms[0].1;
    let oracle = &arms[2].1;
    let wrong_at_t1 = src_eps.iter().filter(|(_, t)| t[0].correct == Some(false)).count();
    assert!(wrong_at_t1 >= 15, "enough wrong first attempts to compare: {wrong_at_t1}");
    // sim revises with p_fix = 0.5 when flagged, p_fix_unflagged = 0.05 otherwise.
    let (with_oracle, without) = (fixed(&store, oracle), fixed(&store, no_critique));
    assert!(with_oracle >= without + 5, "oracle fixes {with_oracle}, no critique {without}");
}

#[test]
fn arms_leave_out_episodes_without_a_first_attempt_and_refuse_bad_sources() {
    let store = Store::temporary().unwrap();
    let source = create(&store, "src", "critique-revise");
    // A run still pending cannot lend its first attempts yet.
    let err = runner::create_arm(&store, &source, Arm::NoCritique, "a".into(), None).unwrap_err();
    assert!(matches!(err, RunError::Arm { .. }), "{err}");
    assert!(err.to_string().contains("critloop run --resume src"), "{err}");
    execute(&store, &source);
    // An episode that failed at its first attempt has nothing to share.
    let mut failed = store.episodes(source.id).unwrap().remove(3);
    store.truncate_turns(failed.id, 0).unwrap();
    failed.status = EpisodeStatus::Failed;
    failed.error = Some("endpoint down".into());
    store.put_episode(&failed).unwrap();
    // One that failed after its first attempt is out of the source's metrics: out of the arm's.
    let mut late = store.episodes(source.id).unwrap().remove(5);
    late.status = EpisodeStatus::Failed;
    late.error = Some("timeout at the critique".into());
    store.put_episode(&late).unwrap();
    // A human grade of a shared first attempt goes with it.
    let over = critloop::domain::Label {
        annotator: "ana".into(),
        turn: Some(0),
        name: critloop::metrics::GRADE_OVERRIDE.into(),
        value: "correct".into(),
        time: 1,
        millis: 0,
        retracted: false,
    };
    let graded = store.episodes(source.id).unwrap().remove(7);
    store.add_label(graded.id, &over).unwrap();
    let made = runner::create_arm(&store, &source, Arm::Oracle, "o".into(), None).unwrap();
    assert_eq!((made.copied, made.skipped), (ITEMS as u64 - 2, 2));
    let ids: Vec<u32> = store.episodes(made.record.id).unwrap().iter().map(|e| e.id.item).collect();
    assert!(!ids.contains(&failed.id.item) && !ids.contains(&late.id.item));
    assert_eq!(ids.len(), ITEMS - 2);
    let copied = store.labels(critloop::domain::EpisodeId { run: made.record.id, ..graded.id });
    assert_eq!(copied.unwrap().into_iter().map(|(_, l)| l).collect::<Vec<_>>(), [over]);

    // Arms of an arm, of another protocol, a cross-critique without a new critic: refused,
    // and nothing is stored for them.
    let before = store.runs().unwrap().len();
    let arm_of_arm = runner::create_arm(&store, &made.record, Arm::Empty, "x1".into(), None);
    assert!(arm_of_arm.unwrap_err().to_string().contains("itself a control arm"));
    let other = create(&store, "sc", "self-correct");
    execute(&store, &other);
    let before = before + 1;
    let err = runner::create_arm(&store, &other, Arm::Empty, "x2".into(), None).unwrap_err();
    assert!(err.to_string().contains("critique-revise"), "{err}");
    let err = runner::create_arm(&store, &source, Arm::Cross, "x3".into(), None).unwrap_err();
    assert!(err.to_string().contains("critic model"), "{err}");
    let same = CrossCritic { model: "sim".into(), base_urls: Vec::new() };
    let err = runner::create_arm(&store, &source, Arm::Cross, "x4".into(), Some(same)).unwrap_err();
    assert!(err.to_string().contains("another critic"), "{err}");
    let url = CrossCritic { model: "m2".into(), base_urls: vec!["http://127.0.0.1:9/v1".into()] };
    let err = runner::create_arm(&store, &source, Arm::Cross, "x5".into(), Some(url)).unwrap_err();
    assert!(err.to_string().contains("openai"), "{err}");
    assert_eq!(store.runs().unwrap().len(), before);
    assert_eq!(made.record.protocol.critique_source, CritiqueSource::Oracle);
}
