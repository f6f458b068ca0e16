"""`python3 -m banyan.watch FILE` (what `banyan watch` runs): a terminal view of a run from
its checkpoint, refreshed every few seconds, for people who are not on the job's node:
progress, rate and time left, failures, the best states and the engines.

Each refresh opens FILE anew (a run replaces it by an atomic rename, so every refresh is one
complete checkpoint), reads only the root attributes and the small tables (the tail of the
timeline, /best, /stats/engines, /stats/failures), and closes it. A FILE that does not exist
yet is waited for; one that cannot be read is reported and tried again. `--once` prints one
view and exits (status 1 when FILE cannot be read). Ctrl-C (or SIGTERM) ends it with status
0. Text from the file is shown with control characters replaced, so a state or reason
cannot send escape sequences to the terminal.
"""
import argparse
import datetime
import os
import shutil
import signal
import sys
import time

import numpy as np

from banyan.reader import CheckpointError, Run

RATE_WINDOW = 60.0   # seconds of timeline the rate is measured over
TAIL_ROWS = 4096     # timeline rows read per refresh (the end of the table)


def safe(text, limit=200):
    """Text from the file, fit for a terminal: control characters (C0, DEL, C1) shown as '?'."""
    s = str(text)[:limit]
    return "".join(ch if (" " <= ch < "\x7f" or ch > "\x9f") else "?" for ch in s)


def _n(x):
    return format(int(x), ",")


def _duration(seconds):
    if not np.isfinite(seconds) or seconds < 0:
        return "?"
    seconds = int(round(seconds))
    d, rem = divmod(seconds, 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    return ("%dd " % d if d else "") + "%d:%02d:%02d" % (h, m, s)


def snapshot(path, top=10, max_engines=12):
    """What one view shows, read from one open of the file (dict of plain values)."""
    with Run(path) as run:
        a = run.attrs
        tl = run.timeline_points(tail=TAIL_ROWS)
        best = run._small("/best", ("mean", "visits", "text"), limit=100_000)[:top]
        eng = run._small("/stats/engines", ("rank", "jobs", "failures", "busy_seconds", "idle_seconds"),
                         limit=100_000)
        fl = run.failures
        kinds = {}
        for kind, count in zip(np.asarray(fl["kind"]), np.asarray(fl["count"])):
            kinds[str(kind) or "error"] = kinds.get(str(kind) or "error", 0) + int(count)
        n_nodes, _ = run.graph_size
        view = {
            "path": path, "domain": run.domain, "status": run.status, "updated": float(a["updated"]),
            "created": float(a["created"]), "checkpoints": a["checkpoints"], "completed": a["completed"],
            "budget": a["budget"], "evaluations": a["evaluations"], "failures": a["failures"],
            "elapsed": float(a["elapsed_seconds"]), "nodes": n_nodes, "finished": run.finished,
            "best": [(float(r["mean"]), int(r["visits"]), run_text(r["text"])) for r in best],
            "kinds": sorted(kinds.items(), key=lambda kv: -kv[1]),
            "engines": [(int(r["rank"]), int(r["jobs"]), int(r["failures"]), float(r["busy_seconds"]),
                         float(r["idle_seconds"])) for r in eng],
            "max_engines": max_engines,
        }
        view["in_flight"] = int(tl["in_flight"][-1]) if len(tl) else 0
        view["utilization"] = float(tl["utilization"][-1]) if len(tl) else float("nan")
        view["rate"] = float("nan")
        if len(tl) >= 2:
            t = np.asarray(tl["t"], dtype=float)
            done = np.asarray(tl["evaluations"], dtype=float) + np.asarray(tl["failures"], dtype=float)
            k = int(np.searchsorted(t, t[-1] - RATE_WINDOW))
            k = min(k, len(t) - 2)
            if t[-1] > t[k]:
                view["rate"] = (done[-1] - done[k]) / (t[-1] - t[k])
                view["rate_window"] = t[-1] - t[k]
        return view


def run_text(value):
    if isinstance(value, (bytes, np.bytes_)):
        value = bytes(value).split(b"\0", 1)[0].decode("utf-8", "replace")
    return str(value)


def render(view, width=100, now=None, interval=None):
    """The lines of one view."""
    now = time.time() if now is None else now
    out = []
    head = "banyan watch: %s" % safe(view["path"], 120)
    right = "%s%s" % (datetime.datetime.now().strftime("%H:%M:%S"),
                      " (every %g s, Ctrl-C quits)" % interval if interval else "")
    out.append(head + " " * max(1, width - len(head) - len(right)) + right)
    age = now - view["updated"]
    out.append("status     %s (%s domain)" % (safe(view["status"]), safe(view["domain"], 40)))
    out.append("checkpoint %s, written %s ago" % (_n(view["checkpoints"]), _duration(age)))
    done, budget = view["completed"], view["budget"]
    if budget:
        share = min(1.0, done / budget)
        bar_w = max(10, min(40, width - 50))
        fill = int(round(share * bar_w))
        out.append("progress   [%s%s] %5.1f%%  %s / %s results" % ("#" * fill, "-" * (bar_w - fill), 100 * share,
                                                                  _n(done), _n(budget)))
    else:
        out.append("progress   %s results (no iteration budget)" % _n(done))
    rate = view["rate"]
    if np.isfinite(rate):
        line = "rate       %s results/s over the last %s" % (format(rate, ",.1f"), _duration(view["rate_window"]))
        if budget and rate > 0 and not view["finished"] and done < budget:
            line += "; about %s to the budget" % _duration((budget - done) / rate)
        out.append(line)
    else:
        out.append("rate       (not enough timeline rows yet)")
    out.append("search     %s elapsed, %s in flight, graph of %s nodes" % (
        _duration(view["elapsed"]), _n(view["in_flight"]), _n(view["nodes"])))
    f = view["failures"]
    line = "failures   %s" % _n(f)
    if done:
        line += " (%.2f%%)" % (100.0 * f / done)
    if view["kinds"]:
        line += ": " + ", ".join("%s %s" % (safe(k, 40), _n(c)) for k, c in view["kinds"][:4])
        if len(view["kinds"]) > 4:
            line += ", ..."
    out.append(line)
    out.append("")
    if view["best"]:
        out.append("best states    mean reward     visits  state")
        for k, (mean, visits, text) in enumerate(view["best"]):
            out.append("  %3d    %12.6f %10s  %s" % (k + 1, mean, _n(visits), safe(text, max(20, width - 34))))
    else:
        out.append("best states    (none with enough visits yet)")
    out.append("")
    eng = view["engines"]
    util = view["utilization"]
    out.append("engines    %d%s" % (len(eng), ", utilization %.0f%% (last timeline row)" % (100 * util)
                                     if np.isfinite(util) else ""))
    if eng:
        out.append("   rank         jobs   failures    busy%")
        for rank, jobs, fails, busy, idle in eng[:view["max_engines"]]:
            tot = busy + idle
            out.append("  %5d %12s %10s   %6s" % (rank, _n(jobs), _n(fails),
                                                   "%.1f" % (100 * busy / tot) if tot > 0 else "-"))
        if len(eng) > view["max_engines"]:
            out.append("  ... %d more" % (len(eng) - view["max_engines"]))
    return [ln[:width] for ln in out]


def _campaign_frame(path, width):
    """A campaign (NAME.campaign): one line per replicate, from each one's last checkpoint."""
    from banyan.campaign import Campaign
    camp = Campaign(path)
    rows = camp.summary()
    done = sum(r["iterations"] for r in rows)
    budget = sum(r["budget"] for r in rows)
    lines = ["banyan watch: campaign %s, %d replicates, %d of %d iterations, %d finished" % (
        safe(path, 120), camp.replicates, done, budget, sum(r["finished"] for r in rows)),
        "  replicate        seed  iterations  failures  best mean  best state"]
    for r in rows:
        mean = "%.4f" % r["best_mean"] if r["best_mean"] == r["best_mean"] else "-"
        lines.append(("  %9d  %10d  %10d  %8d  %9s  %s" % (r["replicate"], r["seed"], r["iterations"], r["failures"],
                                                         mean, safe(r["best"], 200)))[:width])
    return lines


def _frame(path, top, width, interval):
    from banyan.campaign import is_campaign
    if is_campaign(path):
        try:
            return _campaign_frame(path, width), True
        except CheckpointError as e:
            return ["banyan watch: %s" % safe(path, 120), "cannot read it now: %s" % safe(e, 400)], False
    if not os.path.exists(path):
        return ["banyan watch: %s" % safe(path, 120),
                "waiting for the first checkpoint (the file does not exist yet)"], False
    try:
        return render(snapshot(path, top=top), width=width, interval=interval), True
    except CheckpointError as e:
        return ["banyan watch: %s" % safe(path, 120), "cannot read it now: %s" % safe(e, 400)], False


def main(argv=None, prog="banyan watch"):
    p = argparse.ArgumentParser(prog=prog, description=(
        "Show a run's progress, rate, failures, best states and engines from its checkpoint FILE, "
        "refreshed every few seconds (for people not on the job's node). FILE is opened anew at "
        "each refresh (a run replaces it atomically); one that does not exist yet is waited for. "
        "The file is only read; nothing it names is loaded or run."),
        epilog="exit status: 0 (Ctrl-C ends it), 1 with --once when FILE cannot be read, 2 bad command line")
    p.add_argument("file", metavar="FILE", help="checkpoint (RUN.h5), or a campaign (RUN.campaign: one line per "
                                                "replicate)")
    p.add_argument("-n", "--interval", type=float, default=5.0, metavar="S",
                   help="seconds between refreshes (default %(default)s)")
    p.add_argument("--top", type=int, default=10, metavar="K", help="best states shown (default %(default)s)")
    p.add_argument("--once", action="store_true", help="print one view and exit")
    args = p.parse_args(argv)
    if not (0.1 <= args.interval <= 86400) or not (0 <= args.top <= 1000):
        p.error("--interval must be in [0.1, 86400] and --top in [0, 1000]")
    from banyan.report import _lockdown
    _lockdown()
    tty = sys.stdout.isatty()

    def width():
        return shutil.get_terminal_size((100, 40)).columns if tty else 100

    if args.once:
        lines, ok = _frame(args.file, args.top, width(), None)
        try:
            print("\n".join(lines), flush=True)
        except BrokenPipeError:  # e.g. `banyan watch --once FILE | head`
            sys.stdout = None
        return 0 if ok else 1

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        while True:
            lines, _ = _frame(args.file, args.top, width(), args.interval)
            if tty:
                sys.stdout.write("\x1b[H\x1b[2J" + "\n".join(lines) + "\n")
            else:
                sys.stdout.write("\n".join(lines) + "\n\n")
            sys.stdout.flush()
            time.sleep(args.interval)
    except KeyboardInterrupt:
        sys.stdout.write("\n")
        sys.stdout.flush()
        return 0
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
