//! `critloop labels list|export|import|add` and `critloop queue make|show` (DESIGN §6, §11).
//! Every reading of labels goes through `domain::label::slots`: the latest entry of a slot is
//! in force, the earlier ones are history.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use color_eyre::eyre::{Result, WrapErr, bail, eyre};
use serde::Serialize;

use super::args::{LabelsAction, LabelsFormat, QueueAction, TurnArg};
use crate::config::Config;
use crate::domain::label::slots;
use crate::domain::{
    AppliesTo, EpisodeId, EpisodeStatus, Label, LabelSchema, Queue, RunRecord, TurnShape,
};
use crate::export::labels::{export_labels, import_labels};
use crate::llm::doctor::inert;
use crate::runner::{now_millis, now_secs};
use crate::store::Store;

/// `critloop labels …`. `top_annotator` is the `--annotator` given before the subcommand.
pub(super) fn labels(
    store: &Store,
    config: &Config,
    config_path: &Path,
    top_annotator: Option<String>,
    action: LabelsAction,
) -> Result<()> {
    match action {
        LabelsAction::List { run, annotator, format } => {
            list(store, &run, annotator.as_deref(), format)
        }
        LabelsAction::Export { run, out } => {
            let run = store.require_run(&run)?;
            let n = match &out {
                Some(p) => {
                    let file = std::fs::File::create(p)
                        .wrap_err_with(|| format!("cannot write {}", p.display()))?;
                    let mut sink = std::io::BufWriter::new(file);
                    export_labels(store, &run, &mut sink)?
                }
                None => {
                    let mut sink = super::out::stdout_writer();
                    export_labels(store, &run, &mut sink)?
                }
            };
            if let Some(p) = out {
                crate::errln!(
                    "exported {} of run {} to {}",
                    super::commands::count(n, "label entry"),
                    inert(&run.name),
                    inert(&p.display().to_string())
                );
            }
            Ok(())
        }
        LabelsAction::Import { file } => {
            let name = file.display().to_string();
            let text = if name == "-" {
                super::out::stdin().wrap_err("cannot read standard input")?
            } else {
                std::fs::read_to_string(&file).wrap_err_with(|| format!("cannot read {name}"))?
            };
            let s = import_labels(store, &text, &name)?;
            crate::outln!(
                "{}: {} lines, {} new, {} already present, {} conflicting (kept as history; the \
                 latest entry is in force)",
                inert(&name),
                s.lines,
                s.added,
                s.present,
                s.conflicts
            );
            Ok(())
        }
        LabelsAction::Add { run, item, sample, turn, name, value, annotator } => {
            let annotator = annotator.or(top_annotator).or_else(|| config.annotator.clone());
            add(
                store,
                config,
                config_path,
                Target { run, item, sample, turn },
                name,
                value,
                annotator,
            )
        }
    }
}

/// Where `labels add` puts its label.
struct Target {
    run: String,
    item: String,
    sample: u32,
    turn: TurnArg,
}

fn add(
    store: &Store,
    config: &Config,
    config_path: &Path,
    at: Target,
    name: String,
    value: String,
    annotator: Option<String>,
) -> Result<()> {
    let run = store.require_run(&at.run)?;
    let schema = LabelSchema::load(&config.labels).map_err(|e| eyre!(e))?;
    let (item, sample) = (inert(&at.item), at.sample);
    let idx = store
        .items(run.id)?
        .iter()
        .position(|i| i.id.0 == at.item)
        .ok_or_else(|| eyre!("no item `{item}` in run `{}`", inert(&run.name)))?;
    let id = EpisodeId { run: run.id, item: idx as u32, sample };
    if store.episode(id)?.is_none() {
        bail!("item `{item}` sample {sample} is not in run `{}`", inert(&run.name));
    }
    let turns = store.turns(id)?;
    let shapes = crate::browse::shapes(run.protocol.kind, &turns);
    if value.is_empty() {
        bail!("the value is empty");
    }
    schema.validate(&name, &value).map_err(|e| eyre!(inert(&e)))?;
    let turn = at.turn.0;
    if !schema.fits(&name, turn, &shapes) {
        bail!(misfit(&schema, &name, turn, &shapes, &format!("item `{item}` sample {sample}")));
    }
    let Some(annotator) = annotator else {
        bail!(
            "name the annotator: --annotator NAME, or annotator = \"NAME\" in {}",
            config_path.display()
        );
    };
    if annotator.trim().is_empty() {
        bail!("the annotator name is empty");
    }
    let label = Label { annotator, turn, name, value, time: 0, millis: 0, retracted: false }
        .at(now_millis());
    let (_, stored) = store.add_label(id, &label)?;
    let target = turn.map_or(", the whole episode".to_string(), |t| format!(" turn {t}"));
    crate::outln!(
        "added {} on item {item} sample {sample}{target} ({})",
        inert(&stored.describe()),
        inert(&stored.annotator)
    );
    Ok(())
}

/// Why field `name` does not label `turn` of an episode shaped `shapes`.
fn misfit(
    schema: &LabelSchema,
    name: &str,
    turn: Option<u32>,
    shapes: &[TurnShape],
    episode: &str,
) -> String {
    let Some(field) = schema.field(name) else { return format!("unknown label `{name}`") };
    let what = match field.applies_to {
        AppliesTo::Critique => "a critique turn",
        AppliesTo::Revise => "a revise turn",
        AppliesTo::Attempt => "an attempt (a given, generate or revise turn)",
        AppliesTo::Episode => "the episode",
    };
    let fitting: Vec<String> = shapes
        .iter()
        .enumerate()
        .filter(|(_, s)| field.applies_to.fits(s.role, s.is_attempt))
        .map(|(i, _)| i.to_string())
        .collect();
    let hint = if fitting.is_empty() {
        String::new()
    } else {
        format!(" (turns it fits here: {})", fitting.join(", "))
    };
    match turn {
        Some(_) if field.applies_to == AppliesTo::Episode => {
            format!("{name} labels the episode, not a turn: give TURN as `episode`")
        }
        None => format!("{name} labels {what}, not the episode: give TURN as a turn index{hint}"),
        Some(t) => match shapes.get(t as usize) {
            Some(s) => {
                format!("{name} labels {what}; turn {t} is a {} turn{hint}", s.role.as_str())
            }
            None => {
                let listed: Vec<String> = shapes
                    .iter()
                    .enumerate()
                    .map(|(i, s)| format!("{i} {}", s.role.as_str()))
                    .collect();
                format!(
                    "turn {t} is not in {episode} (it has {} turns{}{})",
                    shapes.len(),
                    if listed.is_empty() { "" } else { ": " },
                    listed.join(", ")
                )
            }
        },
    }
}

/// One label in force, as `labels list` prints it.
#[derive(Debug, Serialize)]
struct Row {
    run: String,
    item_id: String,
    sample: u32,
    turn: Option<u32>,
    /// Role of the turn (absent for an episode label).
    role: Option<&'static str>,
    name: String,
    value: String,
    annotator: String,
    time: u64,
    millis: u32,
    /// `time` as `YYYY-MM-DD HH:MM:SS` (UTC).
    utc: String,
    /// Entries of the slot, history included.
    entries: usize,
}

fn rows(store: &Store, run: &RunRecord, annotator: Option<&str>) -> Result<Vec<Row>> {
    let items = store.items(run.id)?;
    let mut by_episode: BTreeMap<EpisodeId, Vec<Label>> = BTreeMap::new();
    for (id, l) in store.labels_of_run(run.id)? {
        by_episode.entry(id).or_default().push(l);
    }
    let mut out = Vec::new();
    for (id, labels) in &by_episode {
        let wanted: Vec<_> = slots(labels)
            .into_iter()
            .filter(|s| s.label.is_some() && annotator.is_none_or(|a| s.slot.annotator == a))
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let turns = store.turns(*id)?;
        let item_id = match items.get(id.item as usize) {
            Some(i) => i.id.0.clone(),
            None => store.episode(*id)?.map_or(id.item.to_string(), |e| e.item_id.0),
        };
        for s in wanted {
            let Some(l) = s.label else { continue };
            out.push(Row {
                run: run.name.clone(),
                item_id: item_id.clone(),
                sample: id.sample,
                turn: l.turn,
                role: l.turn.and_then(|t| turns.get(t as usize)).map(|t| t.role.as_str()),
                name: l.name.clone(),
                value: l.value.clone(),
                annotator: l.annotator.clone(),
                time: l.time,
                millis: l.millis,
                utc: utc(l.time),
                entries: s.history.len(),
            });
        }
    }
    Ok(out)
}

fn list(store: &Store, run: &str, annotator: Option<&str>, format: LabelsFormat) -> Result<()> {
    let run = store.require_run(run)?;
    let rows = rows(store, &run, annotator)?;
    if rows.is_empty() {
        match annotator {
            Some(a) => crate::errln!("no labels by {} on run {}", inert(a), inert(&run.name)),
            None => crate::errln!("no labels on run {}", inert(&run.name)),
        }
        return Ok(());
    }
    let mut out = super::out::stdout_writer();
    match format {
        LabelsFormat::Table => {
            let header = [
                "ITEM",
                "SAMPLE",
                "TURN",
                "ROLE",
                "NAME",
                "VALUE",
                "ANNOTATOR",
                "TIME (UTC)",
                "ENTRIES",
            ];
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        inert(&r.item_id),
                        r.sample.to_string(),
                        r.turn.map_or("episode".into(), |t| t.to_string()),
                        r.role.unwrap_or("-").to_string(),
                        inert(&r.name),
                        clip(&inert(&r.value), VALUE_WIDTH),
                        inert(&r.annotator),
                        r.utc.clone(),
                        r.entries.to_string(),
                    ]
                })
                .collect();
            let right = [false, true, true, false, false, false, false, false, true];
            out.write_all(aligned(&header, &cells, &right).as_bytes())?;
        }
        LabelsFormat::Jsonl => {
            for r in &rows {
                serde_json::to_writer(&mut out, r).map_err(std::io::Error::from)?;
                out.write_all(b"\n")?;
            }
        }
        LabelsFormat::Csv => {
            // Data stays as it is, except on a terminal, where escape sequences must not act.
            let tty = super::out::stdout_tty();
            let shown = |s: &str| if tty { inert(s) } else { s.to_string() };
            let mut w = csv::Writer::from_writer(&mut out);
            w.write_record([
                "item",
                "sample",
                "turn",
                "role",
                "name",
                "value",
                "annotator",
                "time",
                "entries",
            ])?;
            for r in &rows {
                w.write_record([
                    shown(&r.item_id),
                    r.sample.to_string(),
                    r.turn.map_or("episode".into(), |t| t.to_string()),
                    r.role.unwrap_or_default().to_string(),
                    shown(&r.name),
                    shown(&r.value),
                    shown(&r.annotator),
                    r.utc.clone(),
                    r.entries.to_string(),
                ])?;
            }
            w.flush()?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Widest value column of the table (longer notes end in `…`; jsonl and csv keep them whole).
const VALUE_WIDTH: usize = 60;

/// Columns a string takes on a terminal.
fn width(s: &str) -> usize {
    ratatui::text::Span::raw(s).width()
}

/// `s` cut to `max` columns, ending in `…` when cut.
fn clip(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    let mut buf = [0u8; 4];
    for c in s.chars() {
        let w = width(c.encode_utf8(&mut buf));
        if used + w + 1 > max {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

/// A table aligned by display width (two spaces between columns; `right` columns right-aligned).
fn aligned(header: &[&str], rows: &[Vec<String>], right: &[bool]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(width(c));
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut s = String::new();
        for (i, c) in cells.enumerate() {
            let pad = " ".repeat(widths[i].saturating_sub(width(c)));
            if i > 0 {
                s.push_str("  ");
            }
            if right.get(i).copied().unwrap_or(false) {
                s.push_str(&pad);
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&pad);
            }
        }
        s.truncate(s.trim_end().len());
        s.push('\n');
        s
    };
    let mut out = line(&mut header.iter().copied());
    for r in rows {
        out.push_str(&line(&mut r.iter().map(String::as_str)));
    }
    out
}

/// Seconds since the epoch as `YYYY-MM-DD HH:MM:SS` (UTC).
pub(super) fn utc(secs: u64) -> String {
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `critloop queue …`.
pub(super) fn queue(store: &Store, config: &Config, action: QueueAction) -> Result<()> {
    match action {
        QueueAction::Make { run, annotators, overlap, seed, blind, replace } => {
            let run = store.require_run(&run)?;
            let shown = inert(&run.name);
            if let Some(q) = store.queue(run.id)?
                && !replace
            {
                bail!(
                    "run `{shown}` already has a queue ({}; made {} UTC); pass --replace to make a \
                     new one (labels are kept)",
                    names(&q.annotators),
                    utc(q.created)
                );
            }
            let annotators: Vec<String> = annotators.iter().map(|a| a.trim().to_string()).collect();
            let episodes = store.episodes(run.id)?;
            let done: Vec<EpisodeId> =
                episodes.iter().filter(|e| e.status == EpisodeStatus::Done).map(|e| e.id).collect();
            let failed = episodes.iter().filter(|e| e.status == EpisodeStatus::Failed).count();
            let pending = episodes.len() - done.len() - failed;
            if done.is_empty() {
                bail!("run `{shown}` has no finished episodes to assign");
            }
            let q = Queue::make(run.id, &done, &annotators, overlap, seed, blind, now_secs())
                .map_err(|e| eyre!(inert(&e)))?;
            store.put_queue(&q)?;
            if failed + pending > 0 {
                crate::errln!(
                    "left out {} episodes that did not finish ({failed} failed, {pending} pending)",
                    failed + pending
                );
            }
            let shares: Vec<String> =
                q.annotators.iter().map(|a| format!("{} {}", inert(a), q.of(a).len())).collect();
            let shared = match q.annotators.len() {
                1 => String::new(),
                2 => format!("; {} to both", q.overlap_set().len()),
                n => format!("; {} to all {n}", q.overlap_set().len()),
            };
            crate::outln!(
                "queue for {shown}: {} episodes; {}{shared} (overlap {overlap}, seed {seed}){}",
                q.order.len(),
                shares.join(", "),
                if blind { ", blind" } else { "" }
            );
            Ok(())
        }
        QueueAction::Show { run } => {
            let run = store.require_run(&run)?;
            let shown = inert(&run.name);
            let Some(q) = store.queue(run.id)? else {
                bail!(
                    "run `{shown}` has no annotation queue; make one with `critloop queue make \
                     {shown} --annotators NAME,NAME`"
                );
            };
            let schema = LabelSchema::load(&config.labels).map_err(|e| eyre!(e))?;
            let rows = crate::browse::episodes(store, &run)?;
            let p = crate::browse::queue_progress(&q, &rows, &schema);
            crate::outln!(
                "queue for {shown}: {} episodes, {} to every annotator (overlap {}), seed {}{}, \
                 made {} UTC",
                q.order.len(),
                p.overlap,
                q.overlap,
                q.seed,
                if q.blind { ", blind" } else { "" },
                utc(q.created)
            );
            let cells: Vec<Vec<String>> = p
                .annotators
                .iter()
                .map(|(a, done, n)| vec![inert(a), format!("{done}/{n}")])
                .collect();
            crate::outp!("{}", aligned(&["ANNOTATOR", "DONE"], &cells, &[false, true]));
            crate::outln!("(done: every required label of the episode set)");
            Ok(())
        }
    }
}

/// `ana, ben` (inert).
fn names(list: &[String]) -> String {
    list.iter().map(|a| inert(a)).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13:20");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(utc(4_107_542_399), "2100-02-28 23:59:59");
    }

    #[test]
    fn tables_align_by_display_width() {
        let t = aligned(
            &["A", "N"],
            &[vec!["日本".into(), "1".into()], vec!["x".into(), "22".into()]],
            &[false, true],
        );
        assert_eq!(t, "A      N\n日本   1\nx     22\n");
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("日本語", 5), "日本…");
    }
}
