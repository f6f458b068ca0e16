#!/usr/bin/env python3
"""Config fuzz test: random mutations of the shipped configs/*.ini (bytes, lines, values,
keys, sections), each checked with `banyan config --show FILE`, which reads, validates and
opens the domain like `run` does, without running anything.

usage: fuzz_configs.py BANYAN CONFIG_DIR [--seconds S] [--seed N] [--keep DIR]

Every case must end with status 0 or 2 within 10 s (never a crash, a signal, another
status or a hang), and when it fails (status 2) every line banyan writes to stderr must say
where: FILE:LINE (or --set), or be about the whole file ("FILE: cannot read the config
file: ..."), or be the domain's closing line "FILE: [domain.X]: the domain rejected its
configuration (see above)" after a line that says where. Runs for --seconds (default 30)
of cases from --seed (default: random, printed), from the repository root (the exec
example's program path is relative to it). A failing case is printed (and kept in --keep
DIR). Exit status 0 = pass, 1 = fail.
"""
import argparse
import glob
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument("banyan")
ap.add_argument("config_dir")
ap.add_argument("--seconds", type=float, default=30.0)
ap.add_argument("--seed", type=int, default=None)
ap.add_argument("--keep", default=None)
args = ap.parse_args()

BANYAN = os.path.abspath(args.banyan)
ROOT = os.path.dirname(os.path.abspath(args.config_dir))
SEEDS = sorted(glob.glob(os.path.join(os.path.abspath(args.config_dir), "*.ini")))
seed = args.seed if args.seed is not None else random.randrange(1 << 30)
rng = random.Random(seed)
print(f"seed {seed}, {len(SEEDS)} shipped configs, {args.seconds:g} s", flush=True)

VALUES = ["", "0", "1", "-1", "2", "0.5", "-0.0", "1e308", "1e309", "-1e309", "nan", "inf", "-inf",
          "9223372036854775807", "9223372036854775808", "18446744073709551616", "-9223372036854775809",
          "0x10", "010", "1.5.2", "abc", "true", "false", "yes", "maybe", "\"quoted\"", "'single'",
          "a;b", "a ; comment", ";", "#", "x" * 150, "ABC::", "ABC::ABa", "AB1", "XX::", "*ABC::ABa",
          "ABCDEFGHI::", "::", "ABC::ABa_", "ABC::ADa", "Z", "AA", "ABC", "exec", "circuit", "synthetic",
          "bistability", "oscillation", "unknown", "ACGT", "AAB", "A B", "\u00e9\u00e9", "\x7f",
          "/usr/bin/python3 configs/exec/score.py", "/no/such/program", "'unterminated", "a\\",
          "./relative.so", "/dev/null"]
BYTES = [b"\0", b"\r", b"\n", b"[", b"]", b"=", b":", b";", b"#", b" ", b"\t", b"\xff", b"\xc3", b"\xef\xbb\xbf",
         b"\\", b"'", b'"', b"\x01"]
SECTIONS = ["search", "engine", "checkpoint", "domain", "domain.circuit", "domain.synthetic", "domain.exec", "exec",
            "nosuch", "domain.nosuch", "", " ", "search.c", "a" * 60, "domain.circuit.root"]


def options():
    """Known option names, for plausible keys (from `banyan config --list`)."""
    out = subprocess.run([BANYAN, "config", "--list"], capture_output=True, text=True, timeout=30).stdout
    return sorted(set(re.findall(r"^\s*([a-z_]+(?:\.[a-z_0-9]+)+)\b", out, re.M)))


OPTIONS = options() or ["search.iterations", "domain.circuit.root"]


def mutate_bytes(data):
    data = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(4)
        at = rng.randrange(len(data) + 1)
        if op == 0 and data:  # flip a byte
            data[min(at, len(data) - 1)] = rng.randrange(256)
        elif op == 1:  # insert special bytes
            data[at:at] = rng.choice(BYTES)
        elif op == 2 and data:  # delete a run
            del data[at:at + rng.randint(1, 20)]
        else:  # duplicate a run
            data[at:at] = data[at:at + rng.randint(1, 40)]
    return bytes(data)


def mutate_lines(data):
    lines = data.split(b"\n")
    for _ in range(rng.randint(1, 5)):
        op = rng.randrange(7)
        i = rng.randrange(len(lines)) if lines else 0
        if op == 0 and lines:
            del lines[i]
        elif op == 1 and lines:
            lines.insert(i, lines[rng.randrange(len(lines))])
        elif op == 2 and len(lines) > 1:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == 3:  # a very long line
            lines.insert(i, b"k = " + b"v" * rng.choice([150, 196, 197, 198, 250, 5000, 70000]))
        elif op == 4:  # an unknown or misspelt key
            key = rng.choice(OPTIONS).rsplit(".", 1)[-1]
            lines.insert(i, (key + rng.choice(["", "x", "_", " x"]) + " = 1").encode())
        elif op == 5:  # junk
            lines.insert(i, rng.choice([b"no equals sign", b"= value", b" = ", b"[", b"]", b"[]", b"[[x]]",
                                        b"key: value", b"key", b"\t\tindented = 1", b"k = v ; c", b"\xff\xfe"]))
        else:  # truncate here
            lines = lines[:i]
    return b"\n".join(lines)


def mutate_values(data):
    lines = data.split(b"\n")
    pairs = [i for i, l in enumerate(lines) if b"=" in l and not l.lstrip().startswith((b";", b"#"))]
    for _ in range(rng.randint(1, 4)):
        if not pairs:
            break
        i = rng.choice(pairs)
        key = lines[i].split(b"=", 1)[0]
        lines[i] = key + b"= " + rng.choice(VALUES).encode("utf-8", "surrogateescape")
    return b"\n".join(lines)


def mutate_sections(data):
    lines = data.split(b"\n")
    heads = [i for i, l in enumerate(lines) if l.lstrip().startswith(b"[")]
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(5)
        if op == 0 and heads:  # rename
            lines[rng.choice(heads)] = ("[" + rng.choice(SECTIONS) + "]").encode()
        elif op == 1 and heads:  # break
            i = rng.choice(heads)
            lines[i] = rng.choice([lines[i].rstrip(b"]"), lines[i].lstrip(b" ["), b"[" + lines[i], lines[i] + b" junk"])
        elif op == 2:  # a new section with a known option
            name = rng.choice(OPTIONS)
            sec, key = name.rsplit(".", 1)
            at = rng.randrange(len(lines) + 1)
            lines[at:at] = [f"[{sec}]".encode(), f"{key} = {rng.choice(VALUES)}".encode("utf-8", "surrogateescape")]
        elif op == 3 and heads:  # drop a header: its keys land in the previous section
            del lines[rng.choice(heads)]
            heads = [i for i, l in enumerate(lines) if l.lstrip().startswith(b"[")]
        else:  # a key set twice
            name = rng.choice(OPTIONS)
            sec, key = name.rsplit(".", 1)
            lines += [f"[{sec}]".encode(), f"{key} = 1".encode(), f"{key} = 2".encode()]
    return b"\n".join(lines)


MUTATORS = [mutate_bytes, mutate_lines, mutate_values, mutate_sections]


def says_where(line, path, prev_ok):
    """Whether one stderr line says where its problem is."""
    if re.search(re.escape(path) + r":\d+: ", line) or "--set: " in line:
        return True
    if line.startswith(f"banyan error: {path}: cannot ") and "the config file" in line:
        return True  # about the whole file: there is no line to name
    if line == f"{path}: [domain.{line.split('[domain.', 1)[-1].split(']', 1)[0]}]: the domain rejected its " \
               "configuration (see above)":
        return prev_ok
    return False


def check(path, data, tmp, n):
    with open(path, "wb") as f:
        f.write(data)
    try:
        p = subprocess.run([BANYAN, "config", "--show", path], cwd=ROOT, capture_output=True, timeout=10)
    except subprocess.TimeoutExpired:
        return "hung (no answer within 10 s)"
    if p.returncode not in (0, 2):
        return f"exit status {p.returncode}" + (f" (signal {-p.returncode})" if p.returncode < 0 else "")
    # Lines end at "\n" only: splitlines() also splits at control characters a mutated
    # value may carry into the message (seen: \x1e in exec.command, seed 898325301).
    err = [line for line in p.stderr.decode("utf-8", "replace").split("\n") if line.strip()]
    if p.returncode == 2 and not err:
        return "status 2 without a message"
    prev_ok = False
    for line in err:
        if not line.strip():
            continue
        ok = says_where(line, path, prev_ok)
        if not ok and p.returncode == 2:
            return f"a message without FILE:LINE: {line!r}"
        prev_ok = ok
    return None


failed = 0
cases = statuses = 0
counts = {0: 0, 2: 0}
t_end = time.monotonic() + args.seconds
originals = [open(s, "rb").read() for s in SEEDS]
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "case.ini")
    # The shipped files themselves first: each must pass as it is.
    for name, data in zip(SEEDS, originals):
        why = check(path, data, tmp, 0)
        if why or subprocess.run([BANYAN, "config", "--show", path], cwd=ROOT, capture_output=True).returncode:
            print(f"FAIL shipped {os.path.basename(name)}: {why or 'refused'}")
            failed += 1
    while time.monotonic() < t_end:
        cases += 1
        data = rng.choice(originals)
        for m in rng.sample(MUTATORS, rng.randint(1, 2)):
            data = m(data)
        why = check(path, data, tmp, cases)
        if why is None:
            continue
        failed += 1
        print(f"FAIL case {cases} (seed {seed}): {why}\n--- config (first 1500 bytes)\n"
              f"{data[:1500].decode('utf-8', 'replace')}\n---", flush=True)
        if args.keep:
            os.makedirs(args.keep, exist_ok=True)
            shutil.copy(path, os.path.join(args.keep, f"case-{seed}-{cases}.ini"))
        if failed >= 10:
            break
    # How the cases ended, for the log.
print(f"{cases} cases in {args.seconds:g} s, {failed} failed")
sys.exit(1 if failed else 0)
