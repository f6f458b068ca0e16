#!/usr/bin/env python3
"""Search quality with many evaluations in flight (issue 12). Not a timing benchmark: every
figure counts evaluations, so it is exact and machine-independent. Each run is one process
in deterministic mode with window W (search.max_in_flight = W): iteration i selects after
exactly the results of iterations < i - W, which is what W evaluations in flight do to a
search on a cluster, at the cost of a zero-cost run here.

usage: tests/bench/quality.py [--banyan build/banyan] [--seeds 10] [--windows 1,16,64,256,1024]
                              [--rules default,virtual_loss,wu_uct] [--quick] [--csv OUT]
       tests/bench/quality.py --check    (the CTest: synthetic, W = 1 vs 256, 5 seeds,
                                          default rule; fails if the ratio exceeds 1.5)

Domains and metrics, per run:
  synthetic    configs/synthetic-bench.ini (one planted optimum of reward 1.0 among 16.7 M
               leaves): evaluations until the first evaluation of the optimum (budget 60,000;
               a run that never finds it counts as the budget and is marked).
  bistability  configs/bistability-3node.ini (3,325 terminal circuits; the true mean reward
               of a circuit is 0.25 + 0.1 k with k its number of positive-feedback patterns,
               CIRCUIT-MODEL.md §3). The truth is computed here: banyan's own enumeration
               (`banyan enumerate --terminals`) lists every terminal circuit and k is counted
               by an independent pattern matcher below. Metrics: mean k of the top-10 circuits
               by mean reward over >= 10 visits (`/best` of the checkpoint) after 20,000 and
               50,000 evaluations; in the 50,000-evaluation run, of the terminal circuits the
               search selected (results of kind reward; rollouts excluded), the share with the
               highest k, and the evaluations until the 10 best by mean reward over >= 10
               selections (replayed from /results, as the graph saw them) all have the highest k.
Each cell reports mean and range over the seeds and the ratio to W = 1 of the same rule."""
import argparse
import concurrent.futures
import csv
import io
import itertools
import os
import statistics
import subprocess
import sys
import tempfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
SYNTH = os.path.join(TOP, "configs", "synthetic-bench.ini")
BISTAB = os.path.join(TOP, "configs", "bistability-3node.ini")
SYNTH_BUDGET = 60_000
BISTAB_BUDGETS = (20_000, 50_000)
PATTERNS = ("AAa", "ABi_BAi", "ABa_BAa", "ABa_BCa_CAa", "ABa_BCi_CAi")  # CIRCUIT-MODEL.md §3


def pattern_count(text):
    """k: how many of the five bistability patterns the circuit `text` holds (for some
    renaming of the pattern's letters onto distinct components, every token present)."""
    comps, _, inter = text.lstrip("*").partition("::")
    tokens = set(inter.split("_")) if inter else set()
    k = 0
    for pattern in PATTERNS:
        pt = pattern.split("_")
        for perm in itertools.permutations(comps):
            rename = dict(zip("ABCDEFGH", perm))
            if all(rename[t[0]] + rename[t[1]] + t[2] in tokens for t in pt):
                k += 1
                break
    return k


def truth(banyan):
    """k of every terminal circuit of the bistability space, from banyan's enumeration."""
    out = subprocess.run([banyan, "enumerate", BISTAB, "--terminals"], check=True, capture_output=True,
                         text=True).stdout
    k = {line: pattern_count(line) for line in out.split()}
    if not k:
        sys.exit("quality.py: banyan enumerate listed no terminal circuits")
    return k


def run(banyan, config, window, seed, rule, iterations, ck):
    cmd = [banyan, "run", config, "--quiet", "--overwrite"]
    for kv in ("search.deterministic=true", f"search.max_in_flight={window}", f"search.seed={seed}",
               f"search.iterations={iterations}", f"checkpoint.file={ck}", "checkpoint.every_seconds=0",
               "search.progress_seconds=0"):
        cmd += ["--set", kv]
    if rule != "default":
        cmd += ["--set", f"search.selection={rule}"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def synthetic_cell(banyan, window, seed, rule, tmp):
    ck = os.path.join(tmp, f"s-{window}-{seed}-{rule}.h5")
    run(banyan, SYNTH, window, seed, rule, SYNTH_BUDGET, ck)
    with h5py.File(ck, "r") as f:
        hits = np.nonzero(f["results"]["reward"][...] == 1.0)[0]
    return {"to_optimum": int(hits[0]) + 1 if len(hits) else SYNTH_BUDGET, "found": bool(len(hits))}


def replay_until_best(states, rewards, selected, k, kmax, every=100):
    """Evaluations until the 10 circuits of best mean reward over >= 10 selections all have
    k = kmax (None if never within the results). Only `selected` rows (terminals the search
    chose, not rollouts) count, as in the graph's statistics."""
    ids = {s: i for i, s in enumerate(sorted(set(states)))}
    idx = np.array([ids[s] for s in states])
    good = np.array([k.get(s, -1) == kmax for s in sorted(ids)])
    total, count = np.zeros(len(ids)), np.zeros(len(ids))
    for start in range(0, len(idx), every):
        end = min(start + every, len(idx))
        sel = selected[start:end]
        np.add.at(total, idx[start:end][sel], rewards[start:end][sel])
        np.add.at(count, idx[start:end][sel], 1)
        ok = count >= 10
        if ok.sum() < 10:
            continue
        cand = np.nonzero(ok)[0]
        best = cand[np.argsort(-(total[cand] / count[cand]), kind="stable")[:10]]
        if good[best].all():
            return end
    return None


def bistability_cell(banyan, window, seed, rule, tmp, k, kmax):
    out = {}
    for budget in BISTAB_BUDGETS:
        ck = os.path.join(tmp, f"b-{window}-{seed}-{rule}-{budget}.h5")
        run(banyan, BISTAB, window, seed, rule, budget, ck)
        with h5py.File(ck, "r") as f:
            best = [b["text"].decode() for b in f["best"][...]][:10]
        out[f"top10_k_{budget}"] = statistics.mean(k[s] for s in best) if best else float("nan")
        if budget == max(BISTAB_BUDGETS):
            text = subprocess.run([banyan, "export", ck, "--csv", "-"], check=True, capture_output=True,
                                  text=True).stdout
            # Terminals the search selected (kind reward; rollouts are kind simulate): exactly
            # the evaluations behind the graph's statistics of terminal circuits.
            rows = [r for r in csv.DictReader(io.StringIO(text)) if r["status"] == "ok"]
            states = [r["state"] for r in rows]
            rewards = np.array([float(r["reward"]) for r in rows])
            selected = np.array([r["kind"] == "reward" for r in rows])
            chosen = [s for s, c in zip(states, selected) if c]
            out["share_kmax"] = sum(k.get(s, -1) == kmax for s in chosen) / max(len(chosen), 1)
            out["to_best10"] = replay_until_best(states, rewards, selected, k, kmax)
    return out


def summarize(values):
    vals = [v for v in values if v is not None]
    if not vals:
        return None, None, None, len(values)
    return statistics.mean(vals), min(vals), max(vals), len(values) - len(vals)


def table(banyan, seeds, windows, rules, domains, jobs):
    """All cells: {(domain, rule, window): [metrics per seed]}."""
    k = truth(banyan) if "bistability" in domains else {}
    kmax = max(k.values()) if k else None
    cells = {}
    with tempfile.TemporaryDirectory() as tmp, concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        futures = {}
        for dom, rule, w, s in itertools.product(domains, rules, windows, range(1, seeds + 1)):
            if dom == "synthetic":
                fut = pool.submit(synthetic_cell, banyan, w, s, rule, tmp)
            else:
                fut = pool.submit(bistability_cell, banyan, w, s, rule, tmp, k, kmax)
            futures[fut] = (dom, rule, w)
        for fut in concurrent.futures.as_completed(futures):
            cells.setdefault(futures[fut], []).append(fut.result())
    return cells, kmax, k


METRICS = {
    "synthetic": [("to_optimum", "evaluations to the optimum", "lower")],
    "bistability": [("top10_k_20000", "top-10 mean k at 20,000 evaluations", "higher"),
                    ("top10_k_50000", "top-10 mean k at 50,000 evaluations", "higher"),
                    ("share_kmax", "share of selected terminals with k = max (50,000 evaluations)", "higher"),
                    ("to_best10", "evaluations until the top 10 are all k = max", "lower")],
}


def fmt(v):
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def report(cells, seeds, windows, rules, domains, kmax, k, csv_path):
    print(f"quality: {seeds} seeds per cell, deterministic mode, window W = evaluations in flight")
    if kmax is not None:
        n = sum(v == kmax for v in k.values())
        print(f"bistability truth: {len(k)} terminal circuits, highest k = {kmax} ({n} circuits)")
    rows = []
    for dom in domains:
        for key, what, better in METRICS[dom]:
            print(f"\n{dom}: {what} ({better} is better); mean [min, max], ratio to W = 1 of the same rule")
            print(f"  {'rule':14s}" + "".join(f"{'W=' + str(w):>30s}" for w in windows))
            for rule in rules:
                base = summarize([c[key] for c in cells[(dom, rule, windows[0])]])[0]
                line = f"  {rule:14s}"
                for w in windows:
                    mean, lo, hi, missing = summarize([c[key] for c in cells[(dom, rule, w)]])
                    if mean is None:
                        line += f"{'never':>30s}"
                        continue
                    ratio = mean / base if base else float("nan")
                    cell = f"{fmt(mean)} [{fmt(lo)}, {fmt(hi)}] x{ratio:.2f}" + ("*" * (missing > 0))
                    line += f"{cell:>30s}"
                    rows.append([dom, key, rule, w, mean, lo, hi, ratio, missing])
                print(line)
    if any(r[-1] for r in rows):
        print("\n* some seeds never got there within the budget: the mean is over the others")
    if csv_path:
        with open(csv_path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["domain", "metric", "rule", "window", "mean", "min", "max", "ratio_to_w1", "seeds_missing"])
            w.writerows(rows)


def check(banyan):
    """The CTest: with the default rule, W = 256 needs at most 1.5x the evaluations W = 1
    needs to find the synthetic optimum (mean of 5 seeds)."""
    cells, _, _ = table(banyan, 5, [1, 256], ["default"], ["synthetic"], 2)
    mean = {w: statistics.mean(c["to_optimum"] for c in cells[("synthetic", "default", w)]) for w in (1, 256)}
    found = all(c["found"] for cs in cells.values() for c in cs)
    ratio = mean[256] / mean[1]
    print(f"synthetic, default rule, 5 seeds: evaluations to the optimum W=1 {mean[1]:,.0f}, W=256 {mean[256]:,.0f}, "
          f"ratio {ratio:.2f} (limit 1.5){'' if found else '; some runs never found it'}")
    return 0 if ratio <= 1.5 and found else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--banyan", default=os.path.join(TOP, "build", "banyan"))
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--windows", default="1,16,64,256,1024")
    ap.add_argument("--rules", default="default,virtual_loss,wu_uct")
    ap.add_argument("--domains", default="synthetic,bistability")
    ap.add_argument("--jobs", type=int, default=2, help="runs at once")
    ap.add_argument("--quick", action="store_true", help="3 seeds, W = 1, 64, 1024")
    ap.add_argument("--check", action="store_true", help="the CTest (see above)")
    ap.add_argument("--csv", help="also write the table as CSV")
    a = ap.parse_args()
    if a.check:
        sys.exit(check(a.banyan))
    seeds = 3 if a.quick else a.seeds
    windows = [1, 64, 1024] if a.quick else [int(w) for w in a.windows.split(",")]
    rules, domains = a.rules.split(","), a.domains.split(",")
    cells, kmax, k = table(a.banyan, seeds, windows, rules, domains, a.jobs)
    report(cells, seeds, windows, rules, domains, kmax, k, a.csv)


if __name__ == "__main__":
    main()
