use super::*;
use crate::domain::{AnswerKind, GivenSolution, Item, ItemId, ProtocolKind, Role, Turn, Verdict};
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
        Next::Done => None,
    }
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
