//! Control arms of a critique-revise run: the same first attempts, revised after no critique,
//! an empty one, an oracle one, or another model's, so that the paired comparison with the
//! source run reads off the critique's own effect.

use crate::domain::{
    CritiqueSource, EndpointSpec, Episode, EpisodeId, EpisodeStatus, ProtocolKind, ProviderSpec,
    Role, RunRecord, RunStatus,
};
use crate::store::Store;

use super::{RunError, now_secs, totals};

pub use crate::domain::ARM_OF;
/// Meta key of an arm run naming its arm (`no-critique`, …).
pub const ARM: &str = "arm";

/// What replaces the source run's critique.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arm {
    /// No critique turn: the model is asked to try again (second try only).
    NoCritique,
    /// An empty critique turn before the usual revise request.
    Empty,
    /// "The answer above is wrong/right", from the grade of the first attempt.
    Oracle,
    /// Another critic model (and possibly another endpoint).
    Cross,
}

impl Arm {
    pub const ALL: [Arm; 4] = [Arm::NoCritique, Arm::Empty, Arm::Oracle, Arm::Cross];

    pub fn as_str(self) -> &'static str {
        match self {
            Arm::NoCritique => "no-critique",
            Arm::Empty => "empty-critique",
            Arm::Oracle => "oracle-critique",
            Arm::Cross => "cross-critique",
        }
    }

    pub fn critique_source(self) -> CritiqueSource {
        match self {
            Arm::NoCritique => CritiqueSource::None,
            Arm::Empty => CritiqueSource::Empty,
            Arm::Oracle => CritiqueSource::Oracle,
            Arm::Cross => CritiqueSource::Model,
        }
    }
}

/// The critic of a cross-critique arm. Empty `base_urls` keep the source run's critic endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrossCritic {
    pub model: String,
    pub base_urls: Vec<String>,
}

/// A created (not yet executed) arm run.
#[derive(Debug, Clone)]
pub struct ArmRun {
    pub record: RunRecord,
    /// Episodes whose first attempt was copied.
    pub copied: u64,
    /// Source episodes without a first attempt (failed at t1), left out of the arm.
    pub skipped: u64,
}

/// Creates the arm run `name` of the finished critique-revise run `source`: same items,
/// sampling and provider, and for every source episode with a first attempt an episode holding
/// an exact copy of it, pending. Executing the arm then continues from turn 1.
pub fn create_arm(
    store: &Store,
    source: &RunRecord,
    arm: Arm,
    name: String,
    cross: Option<CrossCritic>,
) -> Result<ArmRun, RunError> {
    let arm_error = |message: String| RunError::Arm { run: source.name.clone(), message };
    if source.protocol.kind != ProtocolKind::CritiqueRevise {
        return Err(arm_error(format!(
            "control arms need a critique-revise run, this one is {}",
            source.protocol.kind.as_str()
        )));
    }
    if !source.protocol.critique_source.is_model() {
        return Err(arm_error(format!(
            "it is itself a control arm (critique source: {}); make arms of the run it came from",
            source.protocol.critique_source.as_str()
        )));
    }
    let pending = totals(store, source.id)?.pending;
    if pending > 0 {
        return Err(arm_error(format!(
            "{pending} episode(s) are not finished and the arms need their first attempts; \
             finish it first (critloop run --resume {})",
            source.name
        )));
    }
    if matches!(&source.provider, ProviderSpec::Replay) {
        return Err(arm_error(
            "it is an imported (replay) run: there is no model to continue its episodes".into(),
        ));
    }
    let mut protocol = source.protocol.clone();
    protocol.critique_source = arm.critique_source();
    if arm == Arm::NoCritique && protocol.prompts.retry.is_none() {
        // Stored whole so the arm's record states the exact prompt it sent.
        protocol.prompts.retry = crate::protocol::embedded_prompt("retry.txt").map(String::from);
    }
    let mut provider = source.provider.clone();
    let mut critic_model = source.critic_model.clone();
    if arm == Arm::Cross {
        let cross = cross.ok_or_else(|| {
            arm_error("the cross-critique arm needs a critic model (--critic-model)".into())
        })?;
        if cross.model.trim().is_empty() {
            return Err(arm_error("the cross-critique arm needs a critic model name".into()));
        }
        if cross.model == source.critic_model && cross.base_urls.is_empty() {
            return Err(arm_error(format!(
                "{} already critiques this run; a cross-critique needs another critic model",
                cross.model
            )));
        }
        if !cross.base_urls.is_empty() {
            match &mut provider {
                ProviderSpec::OpenAi(o) => {
                    // The same key variable as the source's critic: the key is never stored.
                    let api_key_env = o.critic.as_ref().unwrap_or(&o.generator).api_key_env.clone();
                    o.critic = Some(EndpointSpec { base_urls: cross.base_urls, api_key_env });
                }
                other => {
                    return Err(arm_error(format!(
                        "a critic base URL needs an openai run, this one uses {}",
                        other.name()
                    )));
                }
            }
        }
        critic_model = cross.model;
    }

    // Collect the first attempts before writing anything, so a failure leaves no half run.
    let mut firsts = Vec::new();
    let mut skipped = 0;
    for ep in store.episodes(source.id)? {
        // A failed source episode is out of the source's metrics: keep it out of the arm's too,
        // so both are measured on the same samples.
        if ep.status == EpisodeStatus::Failed {
            skipped += 1;
            continue;
        }
        match store.turns(ep.id)?.into_iter().next() {
            Some(t) if t.role == Role::Generate => firsts.push((ep, t)),
            _ => skipped += 1,
        }
    }
    if firsts.is_empty() {
        return Err(arm_error("no episode has a first attempt to share".into()));
    }
    let items = store.items(source.id)?;
    let record = RunRecord {
        id: store.next_run_id()?,
        name,
        dataset: source.dataset.clone(),
        dataset_hash: source.dataset_hash.clone(),
        protocol,
        provider,
        model: source.model.clone(),
        critic_model,
        sampling: source.sampling.clone(),
        status: RunStatus::Created,
        version: env!("CARGO_PKG_VERSION").to_string(),
        created: now_secs(),
        grading: source.grading(),
        origin: crate::domain::Origin::Arm { of: source.name.clone(), arm: arm.as_str().into() },
        notes: source.notes.clone(),
        meta: Default::default(),
    };
    store.create_run(&record, &items)?;
    let copied = u64::try_from(firsts.len()).unwrap_or(u64::MAX);
    for (ep, t1) in firsts {
        let id = EpisodeId { run: record.id, ..ep.id };
        store.put_turn(id, 0, &t1)?;
        // The shared first attempt keeps the human grade it has in the source (as of now).
        for (_, l) in store.labels(ep.id)? {
            if l.name == crate::domain::GRADE_OVERRIDE && l.turn == Some(0) {
                store.insert_label(id, &l)?;
            }
        }
        store.put_episode(&Episode {
            id,
            item_id: ep.item_id,
            status: EpisodeStatus::Pending,
            error: None,
            meta: Default::default(),
        })?;
    }
    store.flush()?;
    Ok(ArmRun { record, copied, skipped })
}
