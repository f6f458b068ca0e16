"""`python3 -m banyan.report FILE [-o DIR]` (what `banyan report` runs): a self-contained
HTML page, DIR/index.html, with its figures beside it as PNG and SVG:

  progress.*   iterations, evaluations/s, best mean reward, failures and engine
               utilization over time (/stats/timeline)
  engines.*    busy and idle seconds per engine (/stats/engines)
  durations.*  job durations (engine start to finish) by kind (/results, bounded sample)
  failures.*   failed jobs by kind (/stats/failures)
  rewards.*    reward distribution of successful evaluations (/results, bounded sample)
  terminals.*  visits against mean reward of the finished (terminal) states (/tree)
  circuit-K.*  for the circuit domain, the K-th best circuit drawn as a network

and a table of the best states with mean, visits and a 95% confidence interval (Wilson for
0/1 rewards, t otherwise). It works on a finished, a stopped and a running run: the file is
opened once and everything comes from that one view. The page loads nothing from the
network, runs no script (its Content-Security-Policy forbids scripts), and every string
from the file is HTML-escaped; text from the file is drawn as it is (a '$' cannot start
matplotlib's math mode).

Exit status: 0 written, 1 unreadable file or DIR not writable, 2 bad command line.
"""
import argparse
import datetime
import html
import math
import os
import sys

import numpy as np

from banyan.reader import CheckpointError, Run, KINDS

SAMPLE_ROWS = 200_000   # /results rows read for the duration and reward figures
TOP_CIRCUITS = 12       # circuits drawn
MAX_ENGINE_BARS = 64    # beyond: a histogram of utilization instead of one bar per engine
MAX_SCATTER = 50_000    # terminal states drawn one by one; beyond: hexbin

FIGURES = ("progress", "engines", "durations", "failures", "rewards", "terminals")


def _setup_matplotlib():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({
        "text.usetex": False,
        "svg.fonttype": "path",        # no live text in the SVG files
        "svg.hashsalt": "banyan",      # stable ids: the same file gives the same SVG
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "figure.dpi": 100,
    })
    return plt


def _plain(text):
    """Text from the file, drawn as it is: a '$' would start matplotlib's math mode."""
    return str(text).replace("$", r"\$")


def _time_axis(t):
    """Seconds -> (values, unit label) in s, min or h."""
    t = np.asarray(t, dtype=float)
    span = float(np.nanmax(t)) if t.size else 0.0
    if span >= 3 * 3600:
        return t / 3600.0, "hours since the run started"
    if span >= 180:
        return t / 60.0, "minutes since the run started"
    return t, "seconds since the run started"


def _empty(ax, message, shared_x=False):
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, fontsize=11, color="#555")
    if not shared_x:  # ticks of a shared x axis belong to every panel
        ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)


class Report:
    """Builds the figures and the page from one open Run."""

    def __init__(self, run, outdir, sample_rows=SAMPLE_ROWS, top_circuits=TOP_CIRCUITS, log=None):
        self.run = run
        self.outdir = outdir
        self.sample_rows = sample_rows
        self.top_circuits = top_circuits
        self.log = log or (lambda *a: None)
        self.plt = _setup_matplotlib()
        self.files = []      # every file written, relative to outdir
        self.notes = {}      # figure -> caption text
        self.sample = None
        self.sample_total = 0

    # --- output ----------------------------------------------------------------------------
    def _save(self, fig, name, transparent=False):
        for ext in ("png", "svg"):
            path = os.path.join(self.outdir, "%s.%s" % (name, ext))
            tmp = path + ".tmp"
            fig.savefig(tmp, format=ext, dpi=100 if ext == "png" else None, bbox_inches="tight",
                        transparent=transparent,
                        metadata={"Software": "banyan report"} if ext == "png" else {"Date": None})
            os.replace(tmp, path)
            self.files.append("%s.%s" % (name, ext))
        self.plt.close(fig)

    # --- figures ---------------------------------------------------------------------------
    def fig_progress(self):
        tl = self.run.timeline_points(max_points=5000)
        plt = self.plt
        fig, axes = plt.subplots(5, 1, figsize=(10, 7.8), sharex=True)
        if len(tl) == 0:
            for ax in axes:
                _empty(ax, "no timeline rows yet", shared_x=True)
            self.notes["progress"] = "No timeline row has been written yet."
            self._save(fig, "progress")
            return
        x, unit = _time_axis(tl["t"])
        style = dict(marker="o" if len(tl) <= 30 else None, ms=3, lw=1.4)
        ax = axes[0]
        ax.plot(x, tl["iterations"], color="#2c7fb8", label="iterations (results applied)", **style)
        ax.plot(x, tl["evaluations"], color="#41ab5d", ls="--", label="successful evaluations", **style)
        ax.set_ylabel("count")
        ax.legend(loc="upper left", fontsize=8, frameon=False)
        ax = axes[1]
        t = np.asarray(tl["t"], dtype=float)
        ev = np.asarray(tl["evaluations"], dtype=float) + np.asarray(tl["failures"], dtype=float)
        if len(tl) >= 2:
            dt = np.diff(t)
            rate = np.where(dt > 0, np.diff(ev) / np.where(dt > 0, dt, 1), np.nan)
            ax.step(x[1:], rate, where="pre", color="#8856a7", lw=1.4)
            ax.set_ylim(bottom=0)
        else:
            _empty(ax, "one timeline row: no rate yet", shared_x=True)
        ax.set_ylabel("evaluations/s")
        ax = axes[2]
        best = np.asarray(tl["best_reward"], dtype=float)
        if np.isfinite(best).any():
            ax.plot(x, best, color="#d95f0e", **style)
        else:
            _empty(ax, "no finished state with search.best_min_visits visits yet", shared_x=True)
        ax.set_ylabel("best mean reward")
        ax = axes[3]
        ax.plot(x, tl["failures"], color="#cb181d", **style)
        ax.set_ylabel("failures")
        ax.set_ylim(bottom=0)
        ax = axes[4]
        util = 100 * np.asarray(tl["utilization"], dtype=float)
        over = int(np.sum(util > 100.5))
        ax.plot(x, np.minimum(util, 105.0), color="#636363", label="all engines", **style)
        pools = []
        for name, color in (("reward", "#2b8cbe"), ("simulate", "#31a354")):
            col = name + "_pool_utilization"
            if col in (tl.dtype.names or ()):
                pu = 100 * np.asarray(tl[col], dtype=float)
                if np.isfinite(pu).any():
                    ax.plot(x, np.minimum(pu, 105.0), color=color, label="%s pool" % name, **style)
                    pools.append(name)
        if pools:
            ax.legend(loc="lower right", fontsize=8, frameon=False)
        ax.set_ylabel("engine utilization %")
        ax.set_ylim(0, 108)
        ax.set_xlabel(unit)
        fig.align_ylabels(axes)
        fig.tight_layout()
        self.notes["progress"] = ("From /stats/timeline (%d rows%s). Evaluations/s counts successful and "
                                  "failed results between rows; utilization is the engines' busy share "
                                  "since the previous row%s%s." % (
                                      len(tl), ", thinned for drawing" if len(tl) >= 5000 else "",
                                      " (%d rows above 100%% are drawn at 105%%)" % over if over else "",
                                      "; with engine pools, each pool's busy share of its engines' time too"
                                      if pools else ""))
        self._save(fig, "progress")

    def fig_engines(self):
        eng = self.run.engines
        plt = self.plt
        rank = np.asarray(eng["rank"])
        busy = np.asarray(eng["busy_seconds"], dtype=float)
        idle = np.asarray(eng["idle_seconds"], dtype=float)
        n = len(rank)
        if n == 0:
            fig, ax = plt.subplots(figsize=(6.4, 2.6))
            _empty(ax, "no engine figures yet")
            self.notes["engines"] = "No engine has reported yet."
        elif n <= MAX_ENGINE_BARS:
            fig, ax = plt.subplots(figsize=(6.4, max(2.6, 0.3 * n + 1.3)))
            y = np.arange(n)
            ax.barh(y, busy, color="#2c7fb8", label="busy (running jobs)")
            ax.barh(y, idle, left=busy, color="#cccccc", label="idle (waiting for work)")
            ax.set_yticks(y)
            ax.set_yticklabels(["rank %d" % r for r in rank])
            ax.set_ylim(max(2.5, n - 0.5), -0.7)  # top to bottom; a few bars stay thin
            ax.set_xlabel("seconds")
            tot = busy + idle
            for k in range(n):
                if tot[k] > 0:
                    ax.text(tot[k], y[k], " %.0f%%" % (100 * busy[k] / tot[k]), va="center", fontsize=8)
            ax.legend(loc="upper center", fontsize=8, frameon=False, ncol=2, bbox_to_anchor=(0.5, -0.3))
            ax.set_title("Engines: busy and idle time", loc="left", fontsize=11, fontweight="bold")
            ax.grid(axis="y", visible=False)
            self.notes["engines"] = ("From /stats/engines: seconds each engine spent running jobs and waiting "
                                     "for work; the percentage is its utilization.")
        else:
            fig, ax = plt.subplots(figsize=(6.4, 3.4))
            tot = busy + idle
            util = 100 * busy[tot > 0] / tot[tot > 0]
            ax.hist(util, bins=40, range=(0, 100), color="#2c7fb8")
            ax.set_xlabel("utilization % (busy / (busy + idle))")
            ax.set_ylabel("engines")
            ax.set_title("Engines: utilization of %d engines" % n, loc="left", fontsize=11, fontweight="bold")
            self.notes["engines"] = ("From /stats/engines: %d engines, too many for one bar each; the "
                                     "histogram counts engines by utilization." % n)
        fig.tight_layout()
        self._save(fig, "engines")

    def _load_sample(self):
        if self.sample is None:
            cols = ("kind", "status", "reward", "t_started", "t_finished")
            arr, total = self.run.results_sample(self.sample_rows, columns=cols)
            self.sample = {c: np.asarray(arr[c]) for c in cols}
            self.sample_total = total
        return self.sample

    def _sample_note(self):
        n = len(self.sample["kind"])
        if n < self.sample_total:
            return "a sample of %s of the %s results (contiguous runs at random places)" % (
                format(n, ","), format(self.sample_total, ","))
        return "all %s results" % format(n, ",")

    def fig_durations(self):
        s = self._load_sample()
        plt = self.plt
        fig, ax = plt.subplots(figsize=(6.4, 3.4))
        ok = (s["t_started"] > 0) & (s["t_finished"] >= s["t_started"])
        d = (s["t_finished"] - s["t_started"])[ok]
        kinds = s["kind"][ok]
        if d.size == 0:
            _empty(ax, "no finished job yet")
        else:
            pos = d[d > 0]
            lo = float(pos.min()) if pos.size else 1e-6
            hi = float(d.max()) if d.max() > 0 else 1.0
            logx = pos.size and hi / max(lo, 1e-9) > 100
            if logx:
                lo = max(lo, 1e-7)
                bins = np.logspace(np.log10(lo), np.log10(hi * 1.0001), 50)
            else:
                bins = np.linspace(0, hi * 1.0001 if hi > 0 else 1.0, 50)
            colors = {1: "#2c7fb8", 2: "#d95f0e"}
            for k in sorted(set(int(v) for v in np.unique(kinds))):
                dk = d[kinds == k]
                if logx:
                    dk = np.clip(dk, lo, None)
                ax.hist(dk, bins=bins, alpha=0.65, color=colors.get(k, "#777"),
                        label="%s (%s jobs)" % (KINDS.get(k, "kind %d" % k), format(dk.size, ",")))
            if logx:
                ax.set_xscale("log")
            ax.set_xlabel("seconds on the engine (start to finish)")
            ax.set_ylabel("jobs")
            ax.legend(fontsize=8, frameon=False)
        ax.set_title("Job durations by kind", loc="left", fontsize=11, fontweight="bold")
        fig.tight_layout()
        self.notes["durations"] = "From /results, %s." % self._sample_note()
        self._save(fig, "durations")

    def fig_failures(self):
        fl = self.run.failures
        plt = self.plt
        kinds = {}
        for kind, detail, count in zip(np.asarray(fl["kind"]), np.asarray(fl["detail"]), np.asarray(fl["count"])):
            kinds[str(kind) or "error"] = kinds.get(str(kind) or "error", 0) + int(count)
        items = sorted(kinds.items(), key=lambda kv: -kv[1])[:20]
        fig, ax = plt.subplots(figsize=(6.4, max(2.6, 0.32 * len(items) + 1.3)))
        if not items:
            _empty(ax, "no failures: every job succeeded")
        else:
            y = np.arange(len(items))
            ax.barh(y, [c for _, c in items], color="#cb181d")
            ax.set_yticks(y)
            ax.set_yticklabels([_plain(k[:40]) for k, _ in items])
            ax.set_ylim(max(2.5, len(items) - 0.5), -0.7)
            ax.set_xlabel("failed jobs")
            for k, (_, c) in enumerate(items):
                ax.text(c, k, " " + format(c, ","), va="center", fontsize=8)
            ax.grid(axis="y", visible=False)
        ax.set_title("Failures by kind (%s of %s results)" % (format(self.run.failure_count, ","),
                                                             format(self.run.completed, ",")),
                     loc="left", fontsize=11, fontweight="bold")
        fig.tight_layout()
        self.notes["failures"] = "From /stats/failures (every failure counted); details in the table below."
        self._save(fig, "failures")

    def fig_rewards(self):
        s = self._load_sample()
        plt = self.plt
        fig, ax = plt.subplots(figsize=(6.4, 3.4))
        r = s["reward"][(s["status"] == 1) & np.isfinite(s["reward"])]
        if r.size == 0:
            _empty(ax, "no successful evaluation yet")
        elif np.all((r == 0) | (r == 1)):
            ones = int((r == 1).sum())
            ax.bar([0, 1], [r.size - ones, ones], color=["#bdbdbd", "#2c7fb8"], width=0.6)
            ax.set_xticks([0, 1])
            ax.set_xticklabels(["reward 0", "reward 1"])
            ax.set_ylabel("evaluations")
            ax.grid(axis="x", visible=False)
        else:
            ax.hist(r, bins=60, color="#2c7fb8")
            ax.axvline(float(np.mean(r)), color="#333", ls="--", lw=1, label="mean %.4g" % float(np.mean(r)))
            ax.set_xlabel("reward")
            ax.set_ylabel("evaluations")
            ax.legend(fontsize=8, frameon=False)
        ax.set_title("Reward distribution of evaluated states", loc="left", fontsize=11, fontweight="bold")
        fig.tight_layout()
        self.notes["rewards"] = "Successful evaluations in /results, %s." % self._sample_note()
        self._save(fig, "rewards")

    def fig_terminals(self, best):
        term = self.run.terminals()
        plt = self.plt
        fig, ax = plt.subplots(figsize=(6.4, 3.4))
        v = np.asarray(term["visits"], dtype=float)
        m = np.asarray(term["mean"], dtype=float)
        if v.size == 0:
            _empty(ax, "no terminal state visited yet")
        else:
            if v.size <= MAX_SCATTER:
                ax.scatter(v, m, s=9, alpha=0.45, color="#2c7fb8", edgecolors="none", rasterized=v.size > 2000,
                           label="terminal states (%s)" % format(v.size, ","))
            else:
                hb = ax.hexbin(v, m, xscale="log", gridsize=70, bins="log", cmap="Blues", mincnt=1)
                fig.colorbar(hb, ax=ax, label="states")
            bn = np.asarray(best["node"]) if len(best) else np.zeros(0)
            if bn.size:
                ax.scatter(np.asarray(best["visits"], dtype=float), np.asarray(best["mean"], dtype=float), s=40,
                           facecolors="none", edgecolors="#d95f0e", lw=1.5, label="best states (table below)")
                for k, (bv, bm) in enumerate(zip(np.asarray(best["visits"], dtype=float),
                                                 np.asarray(best["mean"], dtype=float))):
                    if k < 10:
                        ax.annotate(str(k + 1), (bv, bm), xytext=(4, 3), textcoords="offset points", fontsize=7,
                                    color="#d95f0e")
            ax.set_xscale("log")
            ax.set_xlabel("visits")
            ax.set_ylabel("mean reward")
            ax.legend(fontsize=8, frameon=False, loc="lower right")
        ax.set_title("Visits against mean reward of finished states", loc="left", fontsize=11,
                     fontweight="bold")
        fig.tight_layout()
        n_nodes, _ = self.run.graph_size
        self.notes["terminals"] = ("Terminal nodes of the search graph with at least one visit (%s of %s "
                                   "nodes). The search spends its visits on the states it believes best."
                                   % (format(v.size, ","), format(n_nodes, ",")))
        self._save(fig, "terminals")

    def fig_circuits(self, best):
        from banyan.circuit import draw_circuit
        out = []
        plt = self.plt
        for k, text in enumerate(list(np.asarray(best["text"]))[:self.top_circuits]):
            try:
                fig, ax = plt.subplots(figsize=(2.2, 2.2))
                draw_circuit(str(text), ax=ax, title="")
                fig.subplots_adjust(0, 0, 1, 1)
                self._save(fig, "circuit-%d" % (k + 1), transparent=True)
                out.append("circuit-%d" % (k + 1))
            except ValueError:
                plt.close("all")
                out.append(None)
        return out

    # --- page ------------------------------------------------------------------------------
    def write(self):
        run = self.run
        best = run.best
        self.log("figures: progress")
        self.fig_progress()
        self.log("figures: engines")
        self.fig_engines()
        self.log("figures: durations, rewards (sample of /results)")
        self.fig_durations()
        self.fig_failures()
        self.fig_rewards()
        self.log("figures: terminals (search graph)")
        self.fig_terminals(best)
        circuits = self.fig_circuits(best) if run.domain == "circuit" else []
        page = self.html(best, circuits)
        path = os.path.join(self.outdir, "index.html")
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            f.write(page)
        os.replace(path + ".tmp", path)
        self.files.append("index.html")
        return path

    def html(self, best, circuits):
        run = self.run
        e = lambda s: html.escape(str(s), quote=True)  # noqa: E731
        a = run.attrs

        def when(t):
            try:
                return datetime.datetime.fromtimestamp(float(t), datetime.timezone.utc).strftime(
                    "%Y-%m-%d %H:%M:%S UTC")
            except (OverflowError, ValueError, OSError):
                return "?"

        n_nodes, n_edges = run.graph_size
        budget = a["budget"]
        pct = " (%.1f%% of the budget)" % (100.0 * a["completed"] / budget) if budget else ""
        summary = [
            ("file", os.path.abspath(run.path)),
            ("domain", run.domain),
            ("status", run.status),
            ("results", "%s of budget %s%s" % (format(a["completed"], ","), format(budget, ","), pct)),
            ("evaluations / failures", "%s / %s" % (format(a["evaluations"], ","), format(a["failures"], ","))),
            ("search time", "%.1f s" % float(a["elapsed_seconds"])),
            ("started / last checkpoint", "%s / %s" % (when(a["created"]), when(a["updated"]))),
            ("checkpoints", format(a["checkpoints"], ",")),
            ("search graph", "%s nodes, %s edges" % (format(n_nodes, ","), format(n_edges, ","))),
            ("written by", "banyan %s, checkpoint format %d" % (a["banyan_version"], run.format_version)),
            ("integrity", "sealed: the file's and its segments' checksums match" if run.sealed else
             "no seal (an older banyan or another tool wrote it): not checked for damage"),
        ]
        for key, value in run.code_named.items():
            summary.append((key, value + "  (named by the file; the report neither loads nor runs it)"))
        rows = "\n".join("<tr><th>%s</th><td>%s</td></tr>" % (e(k), e(v)) for k, v in summary)

        def figure(name, alt):
            return ('<figure id="fig-%s"><img src="%s.png" alt="%s"><figcaption>%s '
                    '<a href="%s.svg">SVG</a></figcaption></figure>'
                    % (name, name, e(alt), e(self.notes.get(name, "")), name))

        ci_methods = set(str(m) for m in np.asarray(best["ci_method"])) if len(best) else set()
        ci_note = {"wilson": "Wilson score interval (the rewards are 0 or 1: the mean is a probability)",
                   "t": "Student's t interval from the sums of rewards and squared rewards",
                   "none": ""}
        best_rows = []
        for k in range(len(best)):
            lo, hi = float(best["ci_low"][k]), float(best["ci_high"][k])
            ci = "[%.4f, %.4f]" % (lo, hi) if math.isfinite(lo) and math.isfinite(hi) else "n/a"
            pic = ""
            if k < len(circuits) and circuits[k]:
                pic = '<img class="circuit" src="%s.png" alt="circuit %d">' % (circuits[k], k + 1)
            best_rows.append("<tr><td>%d</td><td class=\"state\">%s</td><td>%.4f</td><td>%s</td><td>%s</td>"
                             "<td>%s</td></tr>" % (k + 1, e(best["text"][k]), float(best["mean"][k]),
                                                   format(int(best["visits"][k]), ","), e(ci), pic))
        best_html = ("<table class=\"best\"><tr><th>#</th><th>state</th><th>mean reward</th><th>visits</th>"
                     "<th>95%% CI</th><th>%s</th></tr>\n%s</table>"
                     % ("circuit" if circuits else "", "\n".join(best_rows))) if best_rows else \
            "<p>No state has enough visits to be listed yet.</p>"
        legend = ""
        if circuits:
            legend = ("<p class=\"note\">Circuits: components are nodes; a <span style=\"color:#1b7837\">"
                      "pointed green arrow</span> is an activation, a <span style=\"color:#b2182b\">flat-headed "
                      "red (T) arrow</span> an inhibition; a loop on a node is self-regulation.</p>")
        fl = run.failures
        fail_rows = "\n".join("<tr><td>%s</td><td>%s</td><td>%s</td></tr>" % (e(fl["kind"][k]), e(fl["detail"][k]),
                                                                           format(int(fl["count"][k]), ","))
                              for k in range(min(len(fl), 300)))
        eng = run.engines
        eng_rows = []
        for k in range(min(len(eng), 1024)):
            b, i = float(eng["busy_seconds"][k]), float(eng["idle_seconds"][k])
            eng_rows.append("<tr><td>%d</td><td>%s</td><td>%s</td><td>%.1f</td><td>%.1f</td><td>%s</td></tr>" % (
                int(eng["rank"][k]), format(int(eng["jobs"][k]), ","), format(int(eng["failures"][k]), ","), b, i,
                "%.1f%%" % (100 * b / (b + i)) if b + i > 0 else "n/a"))
        config = run.config_text[:200_000]
        css = """
body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;margin:20px auto;max-width:1100px;color:#222;
     padding:0 16px;line-height:1.4}
h1{font-size:22px;margin-bottom:4px} h2{font-size:17px;margin-top:30px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:13px} td,th{padding:3px 10px;text-align:left;vertical-align:middle}
table.summary th{color:#555;font-weight:normal} table.best tr:nth-child(even),table.list tr:nth-child(even)
{background:#f5f7fa} table.best td,table.list td{border-top:1px solid #eee}
td.state{font-family:DejaVu Sans Mono,monospace;font-size:12px;word-break:break-all;max-width:420px}
img{max-width:100%} img.circuit{width:140px;height:140px;display:block} figure{margin:12px 0}
figcaption{font-size:12px;color:#555} .note{font-size:12px;color:#555}
pre{background:#f5f7fa;padding:10px;font-size:12px;overflow-x:auto}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:16px;align-items:start}
table.best td{padding:1px 10px}"""
        csp = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'"
        return """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="%(csp)s">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>banyan report: %(title)s</title><style>%(css)s</style></head>
<body>
<h1>banyan report: %(title)s</h1>
<p class="note">Made %(now)s by <code>banyan report</code> from the checkpoint's last view.</p>
<table class="summary">%(rows)s</table>
<h2>Best states</h2>
<p class="note">Mean reward over the visits of each finished state; 95%% confidence interval: %(cinote)s.</p>
%(best)s%(legend)s
<h2>Progress</h2>%(progress)s
<h2>What was found</h2><div class="grid">%(terminals)s%(rewards)s</div>
<h2>Engines and jobs</h2><div class="grid">%(engines)s%(durations)s</div>
<details%(engopen)s><summary>Engines (%(nengines)d)</summary>
<table class="list"><tr><th>rank</th><th>jobs</th><th>failures</th><th>busy s</th><th>idle s</th>
<th>utilization</th></tr>%(engrows)s</table></details>
<h2>Failures</h2><div class="grid">%(failures)s<div>%(failtable)s</div></div>
<h2>Configuration</h2>
<details><summary>The effective configuration saved in the file</summary><pre>%(config)s</pre></details>
<p class="note">Files: %(files)s, each also as SVG.</p>
</body></html>
""" % {
            "csp": csp, "css": css, "title": e(os.path.basename(run.path)),
            "now": e(datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")),
            "rows": rows, "progress": figure("progress", "progress over time"),
            "cinote": e("; ".join(ci_note[m] for m in sorted(ci_methods) if ci_note.get(m)) or "n/a"),
            "best": best_html, "legend": legend,
            "terminals": figure("terminals", "visits against mean reward of terminal states"),
            "rewards": figure("rewards", "reward distribution"),
            "engines": figure("engines", "engine busy and idle time"),
            "durations": figure("durations", "job duration histogram"),
            "engrows": "\n".join(eng_rows), "nengines": len(eng), "engopen": " open" if len(eng) <= 16 else "", "failures": figure("failures", "failures by kind"),
            "failtable": ("<table class=\"list\"><tr><th>kind</th><th>detail</th><th>failed jobs</th></tr>%s</table>"
                          % fail_rows) if fail_rows else "",
            "config": e(config),
            "files": e(", ".join(f for f in self.files if f.endswith(".png"))),
        }


def make_report(path, outdir, sample_rows=SAMPLE_ROWS, top_circuits=TOP_CIRCUITS, log=None):
    """Write the report of checkpoint `path` into `outdir` (created); returns index.html's
    path. Raises CheckpointError for a file it cannot read."""
    os.makedirs(outdir, exist_ok=True)
    with Run(path) as run:
        return Report(run, outdir, sample_rows, top_circuits, log).write()


def make_campaign_report(path, outdir, log=None):
    """The report of a campaign (NAME.campaign): one table row per replicate (seed,
    iterations, failures, best state and mean) and two figures: each replicate's best mean
    reward over time, and each replicate's evaluations (how evenly the engines were
    shared). A replicate's full report: `banyan report NAME.r007.h5`."""
    from banyan.campaign import Campaign
    camp = Campaign(path)
    os.makedirs(outdir, exist_ok=True)
    plt = _setup_matplotlib()
    e = html.escape
    rows, curves = camp.summary(), []
    for r in range(camp.replicates):
        with camp.open(r) as run:
            tl = run.timeline_points(max_points=2000)
            curves.append((np.asarray(tl["t"], float), np.asarray(tl["best_reward"], float)))
    files = []

    def save(fig, name):
        for ext in ("png", "svg"):
            out = os.path.join(outdir, "%s.%s" % (name, ext))
            fig.savefig(out + ".tmp", format=ext, dpi=100 if ext == "png" else None, bbox_inches="tight",
                        metadata={"Software": "banyan report"} if ext == "png" else {"Date": None})
            os.replace(out + ".tmp", out)
            files.append("%s.%s" % (name, ext))
        plt.close(fig)

    fig, ax = plt.subplots(figsize=(10, 4))
    span = max([float(np.nanmax(t)) for t, _ in curves if len(t)] or [0.0])
    scale, unit = (3600.0, "hours") if span >= 3 * 3600 else (60.0, "minutes") if span >= 180 else (1.0, "seconds")
    for r, (t, b) in enumerate(curves):
        ok = np.isfinite(b)
        ax.plot(t[ok] / scale, b[ok], lw=1, label="r%d" % r if camp.replicates <= 12 else None)
    ax.set_xlabel(unit + " since the campaign started")
    ax.set_ylabel("best mean reward")
    if camp.replicates <= 12:
        ax.legend(fontsize=7, ncol=4)
    save(fig, "best")
    fig, ax = plt.subplots(figsize=(10, 3))
    ax.bar([row["replicate"] for row in rows], [row["iterations"] for row in rows], color="#4575b4")
    ax.set_xlabel("replicate")
    ax.set_ylabel("iterations")
    save(fig, "replicates")
    table = "\n".join(
        "<tr><td>%d</td><td>%d</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td class=\"state\">%s</td>"
        "<td>%s</td></tr>" % (row["replicate"], row["seed"], format(row["iterations"], ","),
                               format(row["failures"], ","), "finished" if row["finished"] else "stopped",
                               "%.4f" % row["best_mean"] if math.isfinite(row["best_mean"]) else "-", e(row["best"]),
                               e(os.path.basename(row["path"]))) for row in rows)
    csp = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'"
    page = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="%(csp)s">
<title>banyan campaign: %(title)s</title><style>
body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;margin:20px auto;max-width:1100px;color:#222;padding:0 16px}
table{border-collapse:collapse;font-size:13px} td,th{padding:2px 10px;text-align:left}
tr:nth-child(even){background:#f5f7fa} td.state{font-family:DejaVu Sans Mono,monospace;font-size:12px}
img{max-width:100%%} .note{font-size:12px;color:#555}</style></head><body>
<h1>banyan campaign: %(title)s</h1>
<p class="note">%(n)d replicates; replicate r has seed %(seed)d + r. A replicate's full report:
<code>banyan report NAME.r007.h5</code>.</p>
<table><tr><th>replicate</th><th>seed</th><th>iterations</th><th>failures</th><th>state</th><th>best mean</th>
<th>best state</th><th>file</th></tr>
%(table)s</table>
<h2>Best mean reward over time</h2><figure><img src="best.png" alt="best over time"></figure>
<h2>Iterations per replicate</h2><figure><img src="replicates.png" alt="iterations per replicate"></figure>
</body></html>
""" % {"csp": csp, "title": e(os.path.basename(camp.path)), "n": camp.replicates, "seed": camp.seed,
       "table": table}
    index = os.path.join(outdir, "index.html")
    with open(index + ".tmp", "w") as f:
        f.write(page)
    os.replace(index + ".tmp", index)
    if log:
        log("campaign of %d replicates: %s" % (camp.replicates, ", ".join(files)))
    return index


def _lockdown():
    """A command-line run reads one untrusted file: no dynamic HDF5 filter plug-in may load,
    even from paths HDF5 was given before (the reader set HDF5_PLUGIN_PRELOAD too)."""
    try:
        import h5py
        while h5py.h5pl.size() > 0:
            h5py.h5pl.remove(0)
    except (ImportError, AttributeError, RuntimeError):  # pragma: no cover
        pass


def default_outdir(path):
    base = os.path.basename(path)
    stem = base[:-3] if base.endswith(".h5") else base[:-9] if base.endswith(".campaign") else base
    return os.path.join(os.path.dirname(path) or ".", stem + "-report")


def main(argv=None, prog="banyan report"):
    p = argparse.ArgumentParser(prog=prog, description=(
        "Write an HTML report of a checkpoint FILE: DIR/index.html with its figures beside it as PNG "
        "and SVG (progress, engines, job durations, failures, rewards, the best states with 95%% "
        "confidence intervals, circuits drawn as networks). Works on finished, stopped and running "
        "runs (it reads the run's last checkpoint). The file is only read; nothing it names is "
        "loaded or run."), epilog="exit status: 0 written, 1 unreadable file or DIR not writable, 2 bad "
                                  "command line")
    p.add_argument("file", metavar="FILE", help="checkpoint (RUN.h5), or a campaign (RUN.campaign: a table "
                                                "and figures of its replicates)")
    p.add_argument("-o", "--output", metavar="DIR", help="directory to write (default: FILE without .h5, "
                                                          "plus -report)")
    p.add_argument("--sample", type=int, default=SAMPLE_ROWS, metavar="N",
                   help="rows of /results read for the duration and reward figures (default %(default)s)")
    p.add_argument("--circuits", type=int, default=TOP_CIRCUITS, metavar="K",
                   help="best circuits drawn (default %(default)s)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    args = p.parse_args(argv)
    if args.sample < 1 or args.circuits < 0:
        p.error("--sample must be at least 1 and --circuits at least 0")
    _lockdown()
    outdir = args.output or default_outdir(args.file)
    log = (lambda *a: None) if args.quiet else (lambda *a: print(prog + ":", *a, file=sys.stderr))
    for attempt in range(3):
        try:
            from banyan.campaign import is_campaign
            if is_campaign(args.file):
                index = make_campaign_report(args.file, outdir, log)
            else:
                index = make_report(args.file, outdir, args.sample, args.circuits, log)
            break
        except CheckpointError as e:
            if "open the file again" in str(e) and attempt < 2:
                log("the run replaced a segment while it was read: reading its new checkpoint")
                continue
            print("%s: %s" % (prog, e), file=sys.stderr)
            return 1
        except OSError as e:
            print("%s: %s: %s" % (prog, e.filename or outdir, e.strerror or e), file=sys.stderr)
            return 1
    if not args.quiet:
        print(index)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(prog=os.environ.get("BANYAN_PROG", "banyan report")))
    except KeyboardInterrupt:
        sys.exit(130)
