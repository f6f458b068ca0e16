#!/usr/bin/env python3
"""Reward program of configs/exec-example.ini: a stand-in for a user's simulation code.

banyan runs it once per evaluation (no shell), with the design on stdin: one line, an
6-letter DNA string such as TATAGC. It may print anything to stdout and stderr while it
works; banyan reads the reward from the LAST non-empty line of stdout, which must be a
single number. A non-zero exit status, a crash, a time-out or a last line that is not a
finite number makes the evaluation fail (it is counted, and the search goes on).

The "simulation" here: how well the string matches the -10 promoter box TATAAT (the best
alignment), how close its GC content is to 50%, plus a little measurement noise drawn
from BANYAN_SEED, so the same (design, seed) always gives the same reward.
"""
import os
import random
import sys

MOTIF = "TATAAT"


def main():
    design = sys.stdin.readline().strip()
    job = os.environ.get("BANYAN_JOB_ID", "?")
    seed = int(os.environ.get("BANYAN_SEED", "0"))
    if not design or set(design) - set("ACGT"):
        print(f"score.py: job {job}: not a DNA string: {design!r}", file=sys.stderr)
        return 2
    # Diagnostic lines, as a real simulation would print: banyan ignores all but the last.
    best = max(sum(a == b for a, b in zip(design[i:], MOTIF)) for i in range(len(design)))
    gc = sum(c in "GC" for c in design) / len(design)
    print(f"design {design}: best motif match {best}/{len(MOTIF)}, GC content {gc:.2f}")
    noise = random.Random(seed).gauss(0.0, 0.01)
    reward = 0.7 * best / len(MOTIF) + 0.3 * (1.0 - 2.0 * abs(gc - 0.5)) + noise
    print(f"noise {noise:+.4f}")
    print(f"{reward:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
