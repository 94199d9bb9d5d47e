use super::*;
use crate::domain::{
    AnswerKind, CritiqueSource, GivenSolution, Item, ItemId, ProtocolKind, Role, Turn, Verdict,
};
use crate::protocol::load_protocol;

fn item(given: bool) -> Item {
    Item {
        id: ItemId("7".into()),
        question: "What is 2+3?".into(),
        reference: "5".into(),
        answer_kind: AnswerKind::Number,
        choices: None,
        given: given.then(|| GivenSolution {
            text: "2+3=6. The answer is \\boxed{6}".into(),
            answer: Some("6".into()),
            correct: Some(false),
        }),
        source: "t".into(),
        meta: Default::default(),
    }
}

fn critique(v: Verdict) -> Turn {
    let mut t = Turn::new(Role::Critique, "crit");
    t.verdict = Some(v);
    t
}

fn role_of(n: Next) -> Option<Role> {
    match n {
        Next::Request(s) => Some(s.role),
        Next::Local { turn, .. } => Some(turn.role),
        Next::Done => None,
    }
}

fn with_source(source: CritiqueSource) -> crate::domain::ProtocolSpec {
    let mut spec = load_protocol("critique-revise").unwrap();
    spec.critique_source = source;
    spec
}

fn attempt(role: Role, content: &str, correct: Option<bool>) -> Turn {
    let mut t = Turn::new(role, content);
    t.correct = correct;
    t
}

#[test]
fn critique_revise_alternates_for_each_round_then_stops() {
    let mut spec = load_protocol("critique-revise").unwrap();
    spec.rounds = 2;
    let it = item(false);
    let mut turns = Vec::new();
    let expected = [Role::Generate, Role::Critique, Role::Revise, Role::Critique, Role::Revise];
    for (i, want) in expected.iter().enumerate() {
        let Next::Request(step) = next_step(&spec, &it, &turns).unwrap() else {
            panic!("ended early at {i}")
        };
        assert_eq!(step.role, *want);
        assert_eq!(step.index as usize, i);
        turns.push(if *want == Role::Critique {
            critique(Verdict::Incorrect)
        } else {
            Turn::new(*want, format!("a{i}"))
        });
    }
    assert_eq!(next_step(&spec, &it, &turns).unwrap(), Next::Done);
}

#[test]
fn conversation_appends_each_turn_and_the_next_prompt() {
    let spec = load_protocol("critique-revise").unwrap();
    let it = item(false);
    let turns = vec![Turn::new(Role::Generate, "first answer"), critique(Verdict::Incorrect)];
    let Next::Request(step) = next_step(&spec, &it, &turns).unwrap() else { panic!() };
    let roles: Vec<ChatRole> = step.messages.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [ChatRole::User, ChatRole::Assistant, ChatRole::User, ChatRole::Assistant, ChatRole::User]
    );
    assert!(step.messages[0].content.starts_with("What is 2+3?"));
    assert_eq!(step.messages[1].content, "first answer");
    assert!(step.messages[2].content.contains("Verdict"), "critique request names the verdict");
    assert_eq!(step.messages[3].content, "crit");
    assert_eq!(step.messages[4].content, spec.prompts.revise);
}

#[test]
fn stop_when_correct_skips_the_revise() {
    let mut spec = load_protocol("critique-revise").unwrap();
    spec.stop_when_correct = true;
    let it = item(false);
    let ok = vec![Turn::new(Role::Generate, "a"), critique(Verdict::Correct)];
    assert_eq!(next_step(&spec, &it, &ok).unwrap(), Next::Done);
    let bad = vec![Turn::new(Role::Generate, "a"), critique(Verdict::Unparsed)];
    assert_eq!(role_of(next_step(&spec, &it, &bad).unwrap()), Some(Role::Revise));
}

#[test]
fn self_correct_asks_the_question_again_without_critique() {
    let spec = load_protocol("self-correct").unwrap();
    let it = item(false);
    let turns = vec![Turn::new(Role::Generate, "a")];
    let Next::Request(step) = next_step(&spec, &it, &turns).unwrap() else { panic!() };
    assert_eq!(step.role, Role::Revise);
    assert!(step.messages.last().unwrap().content.contains("What is 2+3?"));
    let turns = vec![Turn::new(Role::Generate, "a"), Turn::new(Role::Revise, "b")];
    assert_eq!(next_step(&spec, &it, &turns).unwrap(), Next::Done);
}

#[test]
fn critic_protocols_start_from_the_given_solution() {
    for (name, wants_answer) in [("critic-correct", true), ("critique-only", false)] {
        let spec = load_protocol(name).unwrap();
        let it = item(true);
        let turns = initial_turns(&spec, &it).unwrap();
        assert_eq!(turns.len(), 1);
        assert_eq!(turns[0].role, Role::Given);
        assert_eq!(turns[0].answer.as_deref(), Some("6"));
        let Next::Request(step) = next_step(&spec, &it, &turns).unwrap() else { panic!() };
        assert_eq!(step.role, Role::Critique);
        assert_eq!(step.wants_answer, wants_answer);
        assert_eq!(step.messages.len(), 1);
        assert!(step.messages[0].content.contains("2+3=6"), "{name}: solution is quoted");
        let mut done = turns.clone();
        done.push(critique(Verdict::Incorrect));
        assert_eq!(next_step(&spec, &it, &done).unwrap(), Next::Done);
        assert!(matches!(
            initial_turns(&spec, &item(false)),
            Err(ProtocolError::NoGivenSolution { .. })
        ));
    }
}

#[test]
fn attempts_include_the_critic_correct_answer_only_there() {
    let turns = vec![Turn::new(Role::Given, "g"), critique(Verdict::Incorrect)];
    assert_eq!(attempt_indices(ProtocolKind::CriticCorrect, &turns), [0, 1]);
    assert_eq!(attempt_indices(ProtocolKind::CritiqueOnly, &turns), [0]);
}

#[test]
fn choices_are_listed_with_letters() {
    let spec = load_protocol("critique-revise").unwrap();
    let mut it = item(false);
    it.choices = Some(vec!["four".into(), "five".into()]);
    let Next::Request(step) = next_step(&spec, &it, &[]).unwrap() else { panic!() };
    assert!(step.messages[0].content.contains("(A) four\n(B) five"));
}

#[test]
fn user_protocol_files_load_with_inline_and_file_prompts() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mine.txt"), "Critique please. Verdict?").unwrap();
    let path = dir.path().join("my.toml");
    std::fs::write(
        &path,
        "kind = \"critique-revise\"\nrounds = 3\n[prompts]\nsystem = \"Be brief.\"\nquestion = \"Q: {question}\"\ncritique = \"mine.txt\"\nrevise = \"revise.txt\"\n",
    )
    .unwrap();
    let spec = load_protocol(path.to_str().unwrap()).unwrap();
    assert_eq!(spec.name, "my");
    assert_eq!(spec.rounds, 3);
    assert_eq!(spec.prompts.critique, "Critique please. Verdict?");
    assert!(spec.prompts.revise.contains("\\boxed"), "falls back to the embedded prompt file");
    let Next::Request(step) = next_step(&spec, &item(false), &[]).unwrap() else { panic!() };
    assert_eq!(step.messages[0].role, ChatRole::System);
    assert_eq!(step.messages[1].content, "Q: What is 2+3?");
}

#[test]
fn bad_protocols_are_explained() {
    let err = load_protocol("nope").unwrap_err().to_string();
    assert!(err.contains("critique-revise"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "kind = \"critique-revise\"\n[prompts]\nquestion = \"q\"\n").unwrap();
    let err = load_protocol(path.to_str().unwrap()).unwrap_err().to_string();
    assert!(err.contains("critique"), "{err}");
    std::fs::write(&path, "kind = \"sideways\"\n").unwrap();
    assert!(load_protocol(path.to_str().unwrap()).is_err());
}

#[test]
fn every_preset_loads() {
    for name in crate::protocol::preset_names() {
        let spec = load_protocol(name).unwrap();
        assert_eq!(spec.name, name);
    }
}

#[test]
fn no_critique_arm_asks_to_try_again_without_a_critique_turn() {
    let mut spec = with_source(CritiqueSource::None);
    spec.rounds = 2;
    let it = item(false);
    let mut turns = Vec::new();
    for (i, want) in [Role::Generate, Role::Revise, Role::Revise].into_iter().enumerate() {
        let Next::Request(step) = next_step(&spec, &it, &turns).unwrap() else {
            panic!("no request at {i}")
        };
        assert_eq!((step.role, step.index as usize), (want, i));
        if want == Role::Revise {
            let prompt = &step.messages.last().unwrap().content;
            assert!(!prompt.to_lowercase().contains("critique"), "{prompt}");
            assert!(prompt.contains("\\boxed"), "{prompt}");
            assert_eq!(step.messages.len(), 2 * i + 1, "question, then answer + retry per attempt");
        }
        turns.push(Turn::new(want, format!("a{i}")));
    }
    assert_eq!(next_step(&spec, &it, &turns).unwrap(), Next::Done);
    // A stored retry prompt is the one sent.
    spec.prompts.retry = Some("Once more.".into());
    let Next::Request(step) = next_step(&spec, &it, &turns[..1]).unwrap() else { panic!() };
    assert_eq!(step.messages.last().unwrap().content, "Once more.");
}

#[test]
fn empty_critique_arm_stores_an_empty_critique_without_a_model() {
    let mut spec = with_source(CritiqueSource::Empty);
    spec.rounds = 2;
    let it = item(false);
    let mut turns = vec![attempt(Role::Generate, "a0", Some(false))];
    for round in 0..2 {
        let Next::Local { index, turn } = next_step(&spec, &it, &turns).unwrap() else {
            panic!("round {round}: expected a local critique")
        };
        assert_eq!(index as usize, turns.len());
        assert_eq!(turn.role, Role::Critique);
        assert_eq!(turn.content, "");
        assert_eq!(turn.verdict, None);
        assert_eq!(turn.meta[SYNTHETIC], "empty");
        turns.push(*turn);
        let Next::Request(step) = next_step(&spec, &it, &turns).unwrap() else { panic!() };
        assert_eq!(step.role, Role::Revise);
        // The revise request follows an empty assistant message, then the usual revise prompt.
        let n = step.messages.len();
        assert_eq!(step.messages[n - 2].role, ChatRole::Assistant);
        assert_eq!(step.messages[n - 2].content, "");
        assert_eq!(step.messages[n - 1].content, spec.prompts.revise);
        turns.push(attempt(Role::Revise, "a1", Some(false)));
    }
    assert_eq!(next_step(&spec, &it, &turns).unwrap(), Next::Done);
}

#[test]
fn oracle_critique_states_the_truth_of_the_last_attempt_but_not_the_reference() {
    let spec = with_source(CritiqueSource::Oracle);
    let mut it = item(false);
    it.reference = "4817".into();
    it.question = "What is 4000+817?".into();
    let cases = [
        (attempt(Role::Generate, "x", Some(true)), Verdict::Correct),
        (attempt(Role::Generate, "x", Some(false)), Verdict::Incorrect),
        // Ungraded: the machine grades it against the reference itself.
        (attempt(Role::Generate, "So \\boxed{4817}", None), Verdict::Correct),
        (attempt(Role::Generate, "So \\boxed{4818}", None), Verdict::Incorrect),
    ];
    for (t1, want) in cases {
        let Next::Local { turn, .. } = next_step(&spec, &it, std::slice::from_ref(&t1)).unwrap()
        else {
            panic!("expected a local critique")
        };
        assert_eq!(turn.verdict, Some(want), "{}", t1.content);
        assert_eq!(turn.meta[SYNTHETIC], "oracle");
        assert!(!turn.content.contains("4817"), "the oracle must not reveal the reference");
        assert_eq!(crate::grade::parse_verdict(&turn.content), want, "text and verdict agree");
    }
    // The verdict follows the last attempt, not the first.
    let turns = vec![
        attempt(Role::Generate, "x", Some(false)),
        critique(Verdict::Incorrect),
        attempt(Role::Revise, "y", Some(true)),
    ];
    let mut two = spec.clone();
    two.rounds = 2;
    let Next::Local { turn, .. } = next_step(&two, &it, &turns).unwrap() else { panic!() };
    assert_eq!(turn.verdict, Some(Verdict::Correct));
    // stop_when_correct stops after an oracle's "correct" and revises after "incorrect".
    let mut stop = spec.clone();
    stop.stop_when_correct = true;
    let right = vec![attempt(Role::Generate, "x", Some(true))];
    let Next::Local { turn, .. } = next_step(&stop, &it, &right).unwrap() else { panic!() };
    assert_eq!(next_step(&stop, &it, &[right[0].clone(), *turn]).unwrap(), Next::Done);
}

#[test]
fn critique_source_is_invisible_in_old_records_and_hashes() {
    let spec = load_protocol("critique-revise").unwrap();
    let json = serde_json::to_value(&spec).unwrap();
    assert!(json.get("critique_source").is_none(), "model source is not written: {json}");
    assert!(json["prompts"].get("retry").is_none(), "no retry prompt is written: {json}");
    // A record written before arms existed still loads, as a model-critique run.
    let old = r#"{"name":"critique-revise","kind":"critique-revise","rounds":1,
        "stop_when_correct":false,"prompts":{"question":"q","critique":"c","revise":"r",
        "second":"","critic":""}}"#;
    let back: crate::domain::ProtocolSpec = serde_json::from_str(old).unwrap();
    assert_eq!(back.critique_source, CritiqueSource::Model);
    assert_eq!(back.prompts.retry, None);
    // sha256 of {"question":"q","critique":"c","revise":"r","second":"","critic":""}, the
    // serialisation before `retry` existed: old runs keep their prompts hash.
    assert_eq!(prompts_hash(&back.prompts), "6aa8f31ac0adc184");
    let mut arm = spec.clone();
    arm.critique_source = CritiqueSource::None;
    let json = serde_json::to_value(&arm).unwrap();
    assert_eq!(json["critique_source"], "none");
}

#[test]
fn user_protocol_files_may_set_the_critique_source() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oracle.toml");
    std::fs::write(
        &path,
        "kind = \"critique-revise\"\ncritique_source = \"oracle\"\n[prompts]\nquestion = \"question.txt\"\ncritique = \"critique.txt\"\nrevise = \"revise.txt\"\nretry = \"retry.txt\"\n",
    )
    .unwrap();
    let spec = load_protocol(path.to_str().unwrap()).unwrap();
    assert_eq!(spec.critique_source, CritiqueSource::Oracle);
    assert!(spec.prompts.retry.as_deref().is_some_and(|r| r.contains("\\boxed")));
}
