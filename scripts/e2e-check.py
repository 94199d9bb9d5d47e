"""Checks of scripts/e2e-real-model.sh on a stored run (metrics JSON + transcript export).

  e2e-check.py METRICS.json EXPORT.jsonl LIMIT NAME   the run is complete: LIMIT episodes, none
                                                      failed, each with generate/critique/revise
  e2e-check.py --kept BEFORE.jsonl AFTER.jsonl        every turn stored before a kill is kept
                                                      unchanged after the resume
Prints one summary line; problems go to stderr, exit 1.
"""
import json
import sys


def episodes(path):
    return [json.loads(line) for line in open(path) if line.strip()]


def complete(metrics_path, export_path, limit, name):
    m = json.load(open(metrics_path))
    s = m.get("summary", m)
    lines = episodes(export_path)
    problems = []
    if s.get("episodes") != limit:
        problems.append(f"episodes {s.get('episodes')}, want {limit}")
    if s.get("failed") != 0:
        problems.append(f"failed {s.get('failed')}, want 0")
    for ep in lines:
        roles = [t.get("role") for t in ep.get("turns", [])]
        if ep.get("status", "done") != "done":
            problems.append(f"item {ep.get('item_id')}: {ep.get('status')}: {ep.get('error')}")
        elif roles != ["generate", "critique", "revise"]:
            problems.append(f"item {ep.get('item_id')}: turns {roles}")
    crit = [t for ep in lines for t in ep.get("turns", []) if t.get("role") == "critique"]
    verdicts = {}
    for t in crit:
        v = f"{t.get('verdict')}/{t.get('verdict_method')}"
        verdicts[v] = verdicts.get(v, 0) + 1
    u = m.get("usage", {})
    print(
        f"  {name}: episodes {s.get('episodes')} failed {s.get('failed')} "
        f"acc_t1 {s.get('acc_t1')} acc_t2 {s.get('acc_t2')} verdicts {verdicts} "
        f"p_true {sum(t.get('p_true') is not None for t in crit)}/{len(crit)} "
        f"truncated {u.get('truncated')}/{u.get('turns')} "
        f"median latency {u.get('latency_ms_median')} ms"
    )
    return problems


def kept(before_path, after_path):
    after = {(e["item_id"], e.get("sample", 0)): e for e in episodes(after_path)}
    problems, n = [], 0
    for ep in episodes(before_path):
        other = after.get((ep["item_id"], ep.get("sample", 0)))
        for i, t in enumerate(ep.get("turns", [])):
            n += 1
            mine = other["turns"][i] if other and i < len(other.get("turns", [])) else None
            if mine is None or mine.get("content") != t.get("content"):
                problems.append(f"item {ep['item_id']} turn {i} ({t.get('role')}) changed after resume")
    print(f"  resume kept all {n} turn(s) stored before the kill" if not problems else "")
    if n == 0:
        problems.append("no turn was stored before the kill (raise E2E_KILL_AFTER)")
    return problems


def main():
    if sys.argv[1] == "--kept":
        problems = kept(sys.argv[2], sys.argv[3])
    else:
        problems = complete(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
    if problems:
        print("; ".join(problems[:3]), file=sys.stderr)
        sys.exit(1)


main()
