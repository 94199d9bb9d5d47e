"""The Python side of scripts/bench-vs-python.sh: what researchers ran before critloop.

  metrics FILE RESAMPLES   numpy: the 8 core rates (acc_t1, acc_t2, delta, delta_i2c, delta_c2i,
                           CL, CS, RSS; one sample per item) and a percentile bootstrap over
                           items, from critloop's exported JSONL transcript. Prints
                           `load SECONDS`, `compute SECONDS`, `peak_mb MB` and the rates.
  runner URL DATASET CONC  AsyncOpenAI: generate -> critique -> revise for every item, at most
                           CONC requests in flight. Prints `wall SECONDS`, `requests N`, `cpu SECONDS`.
"""

import asyncio
import json
import resource
import sys
import time


def rates(t1, t2, np):
    """The core rates of per-item t1/t2 correctness (one sample per item)."""
    n = len(t1)
    acc1, acc2 = t1.mean(), t2.mean()
    cc = (t1 & t2).sum()
    cw = (t1 & ~t2).sum()
    wc = (~t1 & t2).sum()
    ww = (~t1 & ~t2).sum()
    cl = cc / (cc + cw) if cc + cw else np.nan
    cs = wc / (wc + ww) if wc + ww else np.nan
    rss = (acc2 - acc1 * acc1) / (2 * acc1 * (1 - acc1)) if 0 < acc1 < 1 else np.nan
    return np.array([acc1, acc2, acc2 - acc1, wc / n, cw / n, cl, cs, rss])


def metrics(path, resamples):
    import numpy as np

    started = time.perf_counter()
    t1, t2 = [], []
    with open(path) as f:
        for line in f:
            ep = json.loads(line)
            if ep.get("status") == "failed":
                continue
            attempts = [t for t in ep["turns"] if t["role"] in ("generate", "revise", "given")]
            if len(attempts) < 2 or attempts[0].get("correct") is None or attempts[-1].get("correct") is None:
                continue
            t1.append(bool(attempts[0]["correct"]))
            t2.append(bool(attempts[-1]["correct"]))
    t1, t2 = np.array(t1), np.array(t2)
    loaded = time.perf_counter()
    point = rates(t1, t2, np)
    rng = np.random.default_rng(0)
    n = len(t1)
    samples = np.empty((resamples, 8))
    # In blocks of 100 resamples: an index matrix per block, as the usual scripts do.
    for start in range(0, resamples, 100):
        block = min(100, resamples - start)
        idx = rng.integers(0, n, size=(block, n))
        for j in range(block):
            samples[start + j] = rates(t1[idx[j]], t2[idx[j]], np)
    lo, hi = np.nanpercentile(samples, [2.5, 97.5], axis=0)
    done = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"load {loaded - started:.3f}")
    print(f"compute {done - loaded:.3f}")
    print(f"peak_mb {peak:.0f}")
    names = ["acc_t1", "acc_t2", "delta", "delta_i2c", "delta_c2i", "cl", "cs", "rss"]
    for name, p, a, b in zip(names, point, lo, hi):
        print(f"rate {name} {p:.6f} [{a:.6f}, {b:.6f}]")


async def runner(url, dataset, conc):
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=url, api_key="unused", max_retries=0)
    items = [json.loads(line) for line in open(dataset) if line.strip()]
    gate = asyncio.Semaphore(conc)
    requests = 0

    async def ask(messages):
        nonlocal requests
        async with gate:
            r = await client.chat.completions.create(model="mock-model", messages=messages, max_tokens=256)
            requests += 1
            return r.choices[0].message.content or ""

    async def episode(item):
        q = [{"role": "user", "content": item["question"]}]
        first = await ask(q)
        q = q + [{"role": "assistant", "content": first}]
        critique = await ask(q + [{"role": "user", "content": "Review your answer. End with Verdict: correct or incorrect."}])
        q = q + [{"role": "user", "content": "Review your answer."}, {"role": "assistant", "content": critique}]
        await ask(q + [{"role": "user", "content": "Revise your answer if needed."}])

    started = time.perf_counter()
    cpu0 = time.process_time()
    await asyncio.gather(*(episode(i) for i in items))
    print(f"wall {time.perf_counter() - started:.3f}")
    print(f"requests {requests}")
    print(f"cpu {time.process_time() - cpu0:.3f}")


if __name__ == "__main__":
    if sys.argv[1] == "metrics":
        metrics(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "runner":
        asyncio.run(runner(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    else:
        sys.exit(f"unknown mode {sys.argv[1]}")
