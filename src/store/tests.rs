use super::*;
use crate::domain::{
    AnswerKind, EpisodeStatus, ItemId, Prompts, ProtocolKind, ProtocolSpec, ProviderSpec, Role,
    RunStatus, Sampling,
};

fn item(id: &str) -> Item {
    Item {
        id: ItemId(id.into()),
        question: format!("q{id}"),
        reference: "1".into(),
        answer_kind: AnswerKind::Number,
        choices: None,
        given: None,
        source: "t".into(),
        meta: Default::default(),
    }
}

fn record(store: &Store, name: &str) -> RunRecord {
    RunRecord {
        id: store.next_run_id().unwrap(),
        name: name.into(),
        dataset: "d".into(),
        dataset_hash: "h".into(),
        protocol: ProtocolSpec {
            name: "critique-revise".into(),
            kind: ProtocolKind::CritiqueRevise,
            rounds: 1,
            stop_when_correct: false,
            critique_source: Default::default(),
            prompts: Prompts::default(),
        },
        provider: ProviderSpec::Replay,
        model: "m".into(),
        critic_model: "m".into(),
        sampling: Sampling::default(),
        status: RunStatus::Created,
        version: "0".into(),
        created: 0,
        grading: Default::default(),
        origin: Default::default(),
        notes: Default::default(),
        meta: Default::default(),
    }
}

#[test]
fn runs_items_episodes_turns_and_labels_round_trip() {
    let store = Store::temporary().unwrap();
    let run = record(&store, "r1");
    store.create_run(&run, &[item("a"), item("b")]).unwrap();
    assert!(matches!(store.create_run(&run, &[]), Err(StoreError::RunExists(n)) if n == "r1"));
    assert_eq!(store.require_run("r1").unwrap(), run);
    assert_eq!(store.items(run.id).unwrap().len(), 2);

    let id = EpisodeId { run: run.id, item: 1, sample: 0 };
    let ep = Episode {
        id,
        item_id: ItemId("b".into()),
        status: EpisodeStatus::Pending,
        error: None,
        meta: Default::default(),
    };
    store.put_episode(&ep).unwrap();
    for (i, role) in [Role::Generate, Role::Critique, Role::Revise].into_iter().enumerate() {
        store.put_turn(id, i as u32, &Turn::new(role, format!("t{i}"))).unwrap();
    }
    let roles: Vec<Role> = store.turns(id).unwrap().iter().map(|t| t.role).collect();
    assert_eq!(roles, [Role::Generate, Role::Critique, Role::Revise]);
    store.truncate_turns(id, 1).unwrap();
    assert_eq!(store.turns(id).unwrap().len(), 1);

    let label = Label {
        annotator: "ana".into(),
        turn: Some(1),
        name: "error_found".into(),
        value: "yes".into(),
        time: 5,
        millis: 0,
        retracted: false,
    };
    let (seq, stored) = store.add_label(id, &label).unwrap();
    assert_eq!(stored, label);
    assert_eq!(store.labels(id).unwrap(), vec![(seq, label.clone())]);
    assert_eq!(store.labels_of_run(run.id).unwrap(), vec![(id, label.clone())]);
    // A second entry for the slot in the same millisecond is stored just after the first.
    let no = Label { value: "no".into(), ..label.clone() };
    let (_, stored) = store.add_label(id, &no).unwrap();
    assert_eq!(stored.stamp(), label.stamp() + 1);
    // Merging is idempotent: entries already held are skipped.
    assert_eq!(store.merge_labels(id, &[label.clone(), stored.clone()]).unwrap(), 0);
    let ben = Label { annotator: "ben".into(), ..label.clone() };
    assert_eq!(store.merge_labels(id, &[ben.clone(), ben]).unwrap(), 1);
    assert_eq!(store.labels(id).unwrap().len(), 3);
    let q = crate::domain::Queue::make(run.id, &[id], &["ana".into()], 0.0, 1, false, 0).unwrap();
    store.put_queue(&q).unwrap();
    assert_eq!(store.queue(run.id).unwrap(), Some(q));

    store.delete_run(run.id).unwrap();
    assert!(store.run_by_name("r1").unwrap().is_none());
    assert!(store.episodes(run.id).unwrap().is_empty());
    assert!(store.turns(id).unwrap().is_empty());
    assert!(store.items(run.id).unwrap().is_empty());
    assert!(store.labels(id).unwrap().is_empty());
    assert_eq!(store.queue(run.id).unwrap(), None);
}

#[test]
fn turns_of_run_groups_by_episode_in_order() {
    let store = Store::temporary().unwrap();
    let run = record(&store, "r");
    let a = EpisodeId { run: run.id, item: 0, sample: 0 };
    let b = EpisodeId { run: run.id, item: 0, sample: 1 };
    store.put_turn(b, 0, &Turn::new(Role::Generate, "b0")).unwrap();
    store.put_turn(a, 1, &Turn::new(Role::Critique, "a1")).unwrap();
    store.put_turn(a, 0, &Turn::new(Role::Generate, "a0")).unwrap();
    let grouped = store.turns_of_run(run.id).unwrap();
    assert_eq!(grouped.len(), 2);
    assert_eq!(grouped[0].0, a);
    assert_eq!(grouped[0].1[0].content, "a0");
    assert_eq!(grouped[0].1[1].content, "a1");
    assert_eq!(grouped[1].0, b);
}

/// Opens a database this process just closed: sled lets go of its lock a moment after the
/// last handle is dropped (seen failing under load without the wait).
fn open_after_close(path: &std::path::Path) -> std::result::Result<Store, StoreError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match Store::open(path) {
            Err(e) if std::time::Instant::now() < deadline && e.to_string().contains("in use") => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

#[test]
fn reopening_keeps_data_and_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let store = Store::open(&path).unwrap();
        let run = record(&store, "kept");
        store.create_run(&run, &[item("a")]).unwrap();
        store.flush().unwrap();
    }
    {
        let store = open_after_close(&path).unwrap();
        assert!(store.run_by_name("kept").unwrap().is_some());
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        store
            .meta
            .insert("schema_version", encode("meta", &(SCHEMA_VERSION + 1)).unwrap())
            .unwrap();
        store.flush().unwrap();
    }
    let err = open_after_close(&path).err().unwrap();
    assert!(matches!(err, StoreError::NewerSchema { found, .. } if found == SCHEMA_VERSION + 1));
    assert!(err.to_string().contains("upgrade critloop"));
}

#[test]
fn cache_round_trips() {
    let store = Store::temporary().unwrap();
    assert!(store.cache_get("k").unwrap().is_none());
    let t = Turn::new(Role::Generate, "x");
    store.cache_put("k", &t).unwrap();
    assert_eq!(store.cache_get("k").unwrap(), Some(t));
}

/// The cached counts follow every write: a status change, a new episode, a deleted run; a
/// clone of the store (another task of the server) sees the same.
#[test]
fn episode_counts_follow_every_write() {
    let store = Store::temporary().unwrap();
    let r = record(&store, "r");
    store.put_run(&r).unwrap();
    let ep = |item: u32, status| Episode {
        id: EpisodeId { run: r.id, item, sample: 0 },
        item_id: ItemId(item.to_string()),
        status,
        error: None,
        meta: Default::default(),
    };
    for i in 0..3 {
        store.put_episode(&ep(i, EpisodeStatus::Pending)).unwrap();
    }
    let c = |s: &Store| s.status_counts(r.id).unwrap();
    let counts = |total, done, failed, pending| StatusCounts { total, done, failed, pending };
    assert_eq!(c(&store), counts(3, 0, 0, 3));
    assert_eq!(c(&store), counts(3, 0, 0, 3), "from the cache");
    let other = store.clone();
    other.put_episode(&ep(1, EpisodeStatus::Done)).unwrap();
    assert_eq!(c(&store), counts(3, 1, 0, 2));
    store.put_episode(&ep(3, EpisodeStatus::Failed)).unwrap();
    assert_eq!(c(&other), counts(4, 1, 1, 2));
    store.delete_run(r.id).unwrap();
    assert_eq!(c(&other), counts(0, 0, 0, 0));
}

/// A derived value is kept until anything of its run is written: a turn, an episode, a label
/// or the record; another run's writes leave it alone.
#[test]
fn memo_keeps_a_value_until_its_run_is_written() {
    let store = Store::temporary().unwrap();
    let (a, b) = (record(&store, "a"), record(&store, "b"));
    store.create_run(&a, &[item("x")]).unwrap();
    store.create_run(&b, &[item("x")]).unwrap();
    let calls = std::cell::Cell::new(0);
    let get = || {
        store
            .memo(a.id, "k", || -> Result<u32> {
                calls.set(calls.get() + 1);
                Ok(calls.get())
            })
            .unwrap()
    };
    assert_eq!((get(), get()), (1, 1));
    let id = EpisodeId { run: a.id, item: 0, sample: 0 };
    let other = EpisodeId { run: b.id, item: 0, sample: 0 };
    store.put_turn(other, 0, &Turn::new(Role::Generate, "t")).unwrap();
    assert_eq!(get(), 1, "another run's write");
    store.put_turn(id, 0, &Turn::new(Role::Generate, "t")).unwrap();
    assert_eq!(get(), 2, "a turn");
    let ep = Episode {
        id,
        item_id: ItemId("x".into()),
        status: EpisodeStatus::Done,
        error: None,
        meta: Default::default(),
    };
    store.put_episode(&ep).unwrap();
    assert_eq!(get(), 3, "an episode");
    let label = Label {
        annotator: "ana".into(),
        turn: Some(0),
        name: "error_found".into(),
        value: "yes".into(),
        time: 1,
        millis: 0,
        retracted: false,
    };
    store.add_label(id, &label).unwrap();
    assert_eq!(get(), 4, "a label");
    store.put_run(&a).unwrap();
    assert_eq!(get(), 5, "the record");
    assert_eq!(get(), 5);
}

/// The outcome record follows every write of its episode: turns before and after the episode
/// record, a turn rewritten, turns truncated.
#[test]
fn the_outcome_follows_the_episode_and_its_turns() {
    let store = Store::temporary().unwrap();
    let run = record(&store, "r");
    store.create_run(&run, &[item("x")]).unwrap();
    let id = EpisodeId { run: run.id, item: 0, sample: 0 };
    let outcome = |store: &Store| store.outcomes_of_run(run.id).unwrap();
    let mut g = Turn::new(Role::Generate, "g");
    g.correct = Some(false);
    store.put_turn(id, 0, &g).unwrap();
    assert!(outcome(&store).is_empty(), "no episode record yet");
    let mut ep = Episode {
        id,
        item_id: ItemId("x".into()),
        status: EpisodeStatus::Pending,
        error: None,
        meta: Default::default(),
    };
    store.put_episode(&ep).unwrap();
    let o = outcome(&store);
    assert_eq!(o.len(), 1);
    assert_eq!((o[0].1.status, o[0].1.turns.len()), (EpisodeStatus::Pending, 1));
    let mut r = Turn::new(Role::Revise, "r");
    r.correct = Some(true);
    store.put_turn(id, 1, &r).unwrap();
    g.correct = Some(true);
    store.put_turn(id, 0, &g).unwrap();
    ep.status = EpisodeStatus::Done;
    store.put_episode(&ep).unwrap();
    let o = outcome(&store);
    let seen: Vec<(Role, Option<bool>)> =
        o[0].1.turns.iter().map(|t| (t.role, t.correct)).collect();
    assert_eq!(seen, [(Role::Generate, Some(true)), (Role::Revise, Some(true))]);
    assert_eq!(o[0].1.status, EpisodeStatus::Done);
    store.truncate_turns(id, 1).unwrap();
    assert_eq!(outcome(&store)[0].1.turns.len(), 1);
    store.delete_run(run.id).unwrap();
    assert!(outcome(&store).is_empty());
}

/// New databases are compressed; one created uncompressed (by an older critloop) still opens,
/// keeps its records and stays uncompressed (sled refuses the other setting).
#[test]
fn new_databases_are_compressed_and_old_ones_still_open() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("new");
    Store::open(&fresh).unwrap().flush().unwrap();
    let conf = String::from_utf8_lossy(&std::fs::read(fresh.join("conf")).unwrap()).to_string();
    assert!(conf.contains("use_compression: true\n"), "{conf}");
    let old = dir.path().join("old");
    {
        let db = sled::Config::new().path(&old).use_compression(false).open().unwrap();
        db.open_tree("meta").unwrap().insert("schema_version", b"1".to_vec()).unwrap();
        db.flush().unwrap();
    }
    let store = Store::open(&old).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let run = record(&store, "r");
    store.create_run(&run, &[item("x")]).unwrap();
    store.flush().unwrap();
    drop(store);
    let conf = String::from_utf8_lossy(&std::fs::read(old.join("conf")).unwrap()).to_string();
    assert!(conf.contains("use_compression: false\n"), "{conf}");
    assert!(Store::open(&old).unwrap().run_by_name("r").unwrap().is_some());
}

/// sled hands on an I/O error re-created from its Debug form; the message reads as usual.
#[test]
fn an_io_error_from_sled_reads_as_plain_text() {
    let full = std::io::Error::from_raw_os_error(libc::ENOSPC);
    let debugged = std::io::Error::new(full.kind(), format!("{full:?}"));
    assert_eq!(io_text(&debugged), "No space left on device (os error 28)");
    assert_eq!(io_text(&full), "No space left on device (os error 28)");
    assert_eq!(
        StoreError::Sled(sled::Error::Io(debugged)).to_string(),
        "database error: No space left on device (os error 28); what was stored before is \
         kept: free some space, then carry on (a run: `critloop run --resume NAME`)"
    );
    let other = std::io::Error::other("Os { code: 5");
    assert_eq!(io_text(&other), "Os { code: 5", "half a form is left as it is");
}

/// A database stamped with a newer version is refused before sled creates or writes a file;
/// an unreadable stamp is ignored and rewritten (`meta` decides).
#[test]
fn a_database_stamped_newer_is_refused_before_sled_touches_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    std::fs::create_dir(&path).unwrap();
    std::fs::write(path.join(SCHEMA_FILE), format!("{}\n", SCHEMA_VERSION + 1)).unwrap();
    let err = Store::open(&path).err().unwrap();
    assert!(matches!(err, StoreError::NewerSchema { found, .. } if found == SCHEMA_VERSION + 1));
    let names: Vec<_> = std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, [SCHEMA_FILE], "nothing but the stamp");
    std::fs::write(path.join(SCHEMA_FILE), "garbage").unwrap();
    Store::open(&path).unwrap().flush().unwrap();
    assert_eq!(
        std::fs::read_to_string(path.join(SCHEMA_FILE)).unwrap(),
        format!("{SCHEMA_VERSION}\n")
    );
}
