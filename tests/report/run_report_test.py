#!/usr/bin/env python3
"""Tests of `banyan report`, `banyan watch` and the Python reader (python/banyan), on real
runs of banyan.

usage: run_report_test.py BANYAN CONFIGS CASE

CASE:
  bistability  a small circuit run (configs/bistability-3node.ini, 3 ranks): every figure is
               a valid PNG of sensible size and not blank, with its SVG; index.html
               references only files that exist and runs no script; every best circuit is
               drawn; the confidence intervals are t intervals around the means
  synthetic    configs/synthetic-bench.ini with domain.synthetic.fail_rate = 0.1: the same
               checks, and the failures show in the figure's data and the page
  screenshot   index.html rendered by headless chromium (no network) to a PNG that is not
               blank; with BANYAN_SCREENSHOT=PATH it is also copied there (the README's
               docs/report-screenshot.png is made this way)
  reader       banyan.open round trip: counts and best states equal `banyan inspect`'s, every
               row equals `banyan export --csv`'s, state texts equal the C describe(); chunks,
               samples and the max_rows bound; numpy record arrays without pandas
  live         reading while a run checkpoints every 0.1 s: every view is consistent,
               `banyan report` on the running run, `banyan watch` started before the file
               exists, following it as it is replaced, ended by SIGINT with status 0
  circuit      the drawing of *ABC::ABi_BCi_CAi has 3 nodes and 3 inhibition (flat-headed)
               edges, self-loops are drawn, Wilson and t intervals against known values
  hostile      untrusted files: script and '$' in states and config are escaped, a command
               and a plug-in named in the file are not run, /results that is not the virtual
               view of the run's own segments, soft links, a wrong version, a huge state
               size are refused in one line; a huge declared table is read bounded; a reader
               that crashes (SIGSEGV sent to it) ends `banyan report` in one line, status 1

Exits 0 when every check holds, 1 at the first failure (printed), 77 (skip) when chromium is
missing for `screenshot`.
"""
import csv
import html.parser
import io
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

BANYAN = os.path.abspath(sys.argv[1])
CONFIGS = os.path.abspath(sys.argv[2])
CASE = sys.argv[3]
BUILD = os.path.dirname(BANYAN)
sys.path.insert(0, os.path.join(BUILD, "python"))
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1", PYTHONPATH=os.path.join(BUILD, "python"))
FIGURES = ("progress", "engines", "durations", "failures", "rewards", "terminals")

import numpy as np  # noqa: E402


class Failure(Exception):
    pass


def expect(cond, what):
    if not cond:
        raise Failure(what)


def run_search(config, out, n=3, sets=(), wait=True):
    cmd = ["mpirun", "-n", str(n), "--oversubscribe", BANYAN, "run", os.path.join(CONFIGS, config), "--quiet",
           "--overwrite", "--set", "checkpoint.file=" + out, "--set", "search.progress_seconds=0"]
    for s in sets:
        cmd += ["--set", s]
    if not wait:
        return subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    p = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=240)
    expect(p.returncode == 0, "banyan run failed (%d): %s" % (p.returncode, p.stderr[-2000:]))
    return out


def bn(*args, check=True, timeout=240):
    p = subprocess.run([BANYAN] + list(args), env=ENV, capture_output=True, text=True, timeout=timeout)
    if check:
        expect(p.returncode == 0, "banyan %s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr[-2000:]))
    return p


def bistability_run(tmp, name="bi.h5", iterations=3000, delay=0.0005):
    return run_search("bistability-3node.ini", os.path.join(tmp, name), sets=(
        "search.iterations=%d" % iterations, "domain.circuit.delay=%g" % delay, "checkpoint.timeline_seconds=0.05",
        "checkpoint.every_seconds=0.3"))


# --- image checks ------------------------------------------------------------------------
def png_size(path):
    with open(path, "rb") as f:
        head = f.read(33)
    expect(head[:8] == b"\x89PNG\r\n\x1a\n", "%s is not a PNG" % path)
    expect(head[12:16] == b"IHDR", "%s has no IHDR" % path)
    return struct.unpack(">II", head[16:24])


def check_png(path, min_w=150, min_h=100):
    """A valid PNG of sensible size whose pixels are not all alike."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.image as mpimg
    w, h = png_size(path)
    expect(min_w <= w <= 6000 and min_h <= h <= 12000, "%s is %dx%d pixels" % (path, w, h))
    img = mpimg.imread(path)
    expect(img.shape[0] == h and img.shape[1] == w, "%s decodes to %s" % (path, img.shape))
    rgb = img[..., :3].astype(float)
    if img.shape[-1] == 4:  # transparent pixels count as white
        rgb = rgb * img[..., 3:4] + (1 - img[..., 3:4])
    gray = rgb.mean(axis=2)
    ink = (np.abs(gray - np.median(gray)) > 0.1).mean()
    expect(gray.std() > 0.02 and ink > 0.003, "%s looks blank (std %.4f, ink %.4f)" % (path, gray.std(), ink))
    return w, h, ink


class Refs(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            if k in ("src", "href", "data", "srcset", "poster", "action", "background"):
                self.refs.append(v or "")


def check_report(outdir, expect_circuits=0):
    """Every figure as PNG (valid, not blank) and SVG (XML); index.html references only
    files that exist in outdir and has no script."""
    index = os.path.join(outdir, "index.html")
    expect(os.path.isfile(index), "no index.html in %s" % outdir)
    for name in list(FIGURES) + ["circuit-%d" % k for k in range(1, expect_circuits + 1)]:
        if name.startswith("circuit"):
            check_png(os.path.join(outdir, name + ".png"), min_w=80, min_h=80)
        else:
            check_png(os.path.join(outdir, name + ".png"))
        svg = os.path.join(outdir, name + ".svg")
        expect(os.path.getsize(svg) > 1000, "%s is too small" % svg)
        expect(ET.parse(svg).getroot().tag.endswith("svg"), "%s is not SVG" % svg)
    text = open(index, encoding="utf-8").read()
    parser = Refs()
    parser.feed(text)
    expect("script" not in parser.tags and "iframe" not in parser.tags and "object" not in parser.tags,
           "index.html has active content: %s" % sorted(set(parser.tags)))
    expect(parser.refs, "index.html references nothing")
    for ref in parser.refs:
        expect(not re.match(r"^[a-z][a-z0-9+.-]*:|^//|^/", ref, re.I) and ".." not in ref,
               "index.html references %r, not a file beside it" % ref)
        expect(os.path.isfile(os.path.join(outdir, ref.split("#")[0])), "index.html references missing %s" % ref)
    for name in FIGURES:
        expect('src="%s.png"' % name in text, "index.html does not show %s" % name)
    return text


def timed(what, fn, *args):
    t0 = time.time()
    out = fn(*args)
    print("  %-48s %.1f s" % (what, time.time() - t0))
    return out


# --- cases ----------------------------------------------------------------------------------
def case_bistability(tmp):
    import banyan
    path = timed("bistability run (3 ranks)", bistability_run, tmp)
    outdir = os.path.join(tmp, "report")
    timed("banyan report", banyan_report, path, outdir)
    with banyan.open(path) as run:
        best = run.best
        tl = run.timeline
        expect(len(tl) >= 5, "only %d timeline rows" % len(tl))
        expect(len(best) >= 3, "only %d best states" % len(best))
        k = min(12, len(best))
        text = check_report(outdir, expect_circuits=k)
        for i in range(len(best)):
            expect(html_escape(best["text"][i]) in text, "best state %s not on the page" % best["text"][i])
            if best["visits"][i] >= 2:
                expect(best["ci_method"][i] == "t", "bistability rewards are not 0/1: t interval expected")
                expect(best["ci_low"][i] < best["mean"][i] < best["ci_high"][i], "CI does not hold the mean")
                expect("[%.4f, %.4f]" % (best["ci_low"][i], best["ci_high"][i]) in text, "CI not on the page")
        expect("finished: iteration budget reached" in text, "status not on the page")


def html_escape(s):
    import html
    return html.escape(str(s), quote=True)


def banyan_report(path, outdir):
    p = bn("report", path, "-o", outdir)
    expect(p.stdout.strip() == os.path.join(outdir, "index.html"), "report printed %r" % p.stdout)
    return p


def case_synthetic(tmp):
    import banyan
    path = timed("synthetic run with failures (3 ranks)", run_search, "synthetic-bench.ini",
                 os.path.join(tmp, "syn.h5"), 3, (
                     "search.iterations=20000", "domain.synthetic.fail_rate=0.1", "domain.synthetic.cost=sleep",
                     "domain.synthetic.cost_dist=lognormal", "domain.synthetic.cost_mean=0.0001",
                     "checkpoint.timeline_seconds=0.05"))
    outdir = os.path.join(tmp, "report")
    timed("banyan report", banyan_report, path, outdir)
    text = check_report(outdir)
    with banyan.open(path) as run:
        expect(run.failure_count > 1000, "only %d failures at fail_rate 0.1" % run.failure_count)
        fl = run.failures
        expect(int(np.sum(fl["count"])) == run.failure_count, "failures table does not add up")
        expect("injected failure" in set(fl["kind"]), "no injected failure kind: %s" % list(fl["kind"]))
        expect("injected failure" in text and format(run.failure_count, ",") in text, "failures not on the page")
        expect(not os.path.exists(os.path.join(outdir, "circuit-1.png")), "circuits drawn for a synthetic run")


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


def case_screenshot(tmp):
    browser = chromium()
    if not browser:
        print("chromium is not installed: skipped")
        sys.exit(77)
    path = timed("bistability run (3 ranks, 20,000 iterations)", bistability_run, tmp, "bistability-3node.h5",
                 20000, 0.0001)
    outdir = os.path.join(tmp, "report")
    timed("banyan report", banyan_report, path, outdir)
    shot = os.path.join(tmp, "shot.png")
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           "--disable-extensions", "--disable-background-networking", "--disable-sync",
           "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
           "--user-data-dir=" + os.path.join(tmp, "chromium-profile"), "--window-size=1100,2600",
           "--screenshot=" + shot, "file://" + os.path.join(outdir, "index.html")]
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                       env=dict(ENV, HOME=tmp, XDG_CONFIG_HOME=tmp, XDG_CACHE_HOME=tmp))
    print("  %-48s %.1f s" % ("chromium --headless --screenshot", time.time() - t0))
    expect(p.returncode == 0 and os.path.exists(shot), "chromium failed (%d): %s" % (p.returncode, p.stderr[-1500:]))
    w, h, ink = check_png(shot, min_w=1000, min_h=2400)
    expect(ink > 0.01, "the screenshot has too little on it (%.3f)" % ink)
    dest = os.environ.get("BANYAN_SCREENSHOT")
    if dest:
        shutil.copyfile(shot, dest)
        print("  screenshot copied to", dest)


def parse_inspect(out):
    counts = {}
    for key in ("evaluations", "failures"):
        m = re.search(r"^\s+%s\s+(\d+)\s*$" % key, out, re.M)
        expect(m, "inspect has no %s line" % key)
        counts[key] = int(m.group(1))
    m = re.search(r"^\s+iterations\s+(\d+) of budget (\d+)", out, re.M)
    expect(m, "inspect has no iterations line")
    counts["completed"] = int(m.group(1))
    best = [(float(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4)) for m in
            re.finditer(r"^\s+\d+\. mean (\S+)\s+visits (\d+)\s+node (\d+)\s+(\S+)\s*$", out, re.M)]
    return counts, best


def case_reader(tmp):
    import banyan
    path = timed("bistability run (3 ranks)", bistability_run, tmp, "bi.h5", 2000)
    counts, best_c = parse_inspect(bn("inspect", path).stdout)
    exported = bn("export", path, "--csv", "-").stdout
    rows = list(csv.DictReader(io.StringIO(exported)))
    t0 = time.time()
    with banyan.open(path) as run:
        expect(run.completed == counts["completed"] and run.evaluations == counts["evaluations"]
               and run.failure_count == counts["failures"], "counts differ from inspect: %s vs %s"
               % ((run.completed, run.evaluations, run.failure_count), counts))
        best = run.best
        expect(len(best) == len(best_c) and len(best) > 0, "best states: %d here, %d in inspect" % (len(best), len(best_c)))
        states = run._f["tree/states"]
        for i, (mean, visits, node, text) in enumerate(best_c):
            expect(best["text"][i] == text and int(best["visits"][i]) == visits and int(best["node"][i]) == node
                   and abs(float(best["mean"][i]) - mean) <= 5e-7, "best state %d differs: %s vs %s"
                   % (i, tuple(best.iloc[i]), (mean, visits, node, text)))
            # The Python decoding of the state bytes agrees with the C describe().
            expect(run.describe(states[node].tobytes()) == text, "describe(%s) = %s" % (text, run.describe(states[node])))
        res = run.results
        expect(len(res) == len(rows) == run.completed, "results: %d rows here, %d exported" % (len(res), len(rows)))
        expect(list(res["job_id"]) == [int(r["job_id"]) for r in rows], "job ids differ from export")
        expect(all(float(r["reward"]) == x for r, x in zip(rows, res["reward"])), "rewards differ from export")
        expect(all(("ok" if s == 1 else "failed") == r["status"] for r, s in zip(rows, res["status"])),
               "statuses differ from export")
        expect(list(res["text"]) == [r["state"] for r in rows], "state texts differ from export")
        total = sum(len(c) for c in run.results_chunks(rows=333, columns=("job_id", "reward")))
        expect(total == run.completed, "chunks hold %d rows" % total)
        sample, n = run.results_sample(500, columns=("reward", "status"))
        expect(n == run.completed and 0 < len(sample) <= 500, "sample of %d rows of %d" % (len(sample), n))
        expect(len(run.timeline) >= 3 and len(run.engines) == 2, "timeline or engines missing")
        expect(run.config["domain.name"] == "circuit" and run.config["search.iterations"] == "2000",
               "config: %s" % {k: v for k, v in run.config.items() if k.startswith(("domain.name", "search.it"))})
    print("  %-48s %.1f s" % ("reader round trip", time.time() - t0))
    small = banyan.open(path, max_rows=100)
    try:
        small.results
        raise Failure("max_rows did not bound run.results")
    except banyan.CheckpointError as e:
        expect("results_chunks" in str(e), "the refusal does not say what to use: %s" % e)
    small.close()
    # Without pandas: numpy record arrays.
    code = ("import sys; sys.modules['pandas'] = None; import banyan, numpy as np\n"
            "r = banyan.open(sys.argv[1]); t = r.results; b = r.best\n"
            "assert isinstance(t, np.recarray) and isinstance(b, np.recarray), type(t)\n"
            "print(len(t), b.text[0], len(r.timeline), len(r.engines))\n")
    p = subprocess.run([sys.executable, "-c", code, path], env=ENV, capture_output=True, text=True, timeout=120)
    expect(p.returncode == 0, "numpy fallback failed: %s" % p.stderr[-1500:])
    expect(p.stdout.split()[:2] == [str(counts["completed"]), best_c[0][3]], "numpy fallback read %r" % p.stdout)


def case_live(tmp):
    import banyan
    path = os.path.join(tmp, "live.h5")
    # Its output goes to a file: a pipe nobody reads during the run would fill and stall it.
    watch_out = open(os.path.join(tmp, "watch.out"), "w+")
    watch = subprocess.Popen([BANYAN, "watch", path, "--interval", "0.2"], env=ENV, stdout=watch_out,
                             stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)  # the watcher starts before the file exists
    proc = run_search("bistability-3node.ini", path, 3, (
        "search.iterations=12000", "domain.circuit.delay=0.002", "checkpoint.every_seconds=0.1",
        "checkpoint.max_time_share=0",
        "checkpoint.timeline_seconds=0.05"), wait=False)
    views, running, reported = 0, set(), False
    t0 = time.time()
    while proc.poll() is None and time.time() - t0 < 200:
        if not os.path.exists(path):
            time.sleep(0.05)
            continue
        try:
            with banyan.open(path) as run:
                res = run.results
                ok = np.asarray(res["status"])
                expect(len(res) == run.completed, "view: %d rows, %d completed" % (len(res), run.completed))
                expect(int((ok == 1).sum()) == run.evaluations and int((ok == 2).sum()) == run.failure_count,
                       "view: statuses do not match the counters")
                ids = np.asarray(res["job_id"])
                expect(len(np.unique(ids)) == len(ids), "view: a job id twice")
                tl = run.timeline_points()
                expect(len(tl) == 0 or int(tl["iterations"][-1]) <= run.completed, "timeline ahead of the results")
                _ = run.best
                if run.status == "running":
                    running.add(run.completed)
                views += 1
        except banyan.CheckpointError as e:
            # Only a segment merged away under a long-held view may fail, and it says so.
            expect("open the file again" in str(e), "a view failed: %s" % e)
        # Three distinct views first, then the report (it may take seconds on a loaded machine,
        # and the run may end meanwhile: the report opens the file at once, while it runs).
        if len(running) >= 3 and not reported:
            outdir = os.path.join(tmp, "report-running")
            timed("banyan report on the running run", banyan_report, path, outdir)
            text = check_report(outdir, expect_circuits=0)
            expect("<td>running</td>" in text, "the page does not say the run is running")
            reported = True
        time.sleep(0.05)
    rc = proc.wait(timeout=60)
    expect(rc == 0, "the run failed (%d): %s" % (rc, proc.stderr.read()[-1500:]))
    print("  %-48s %d views, %d while running" % ("consistent views during the run", views, len(running)))
    expect(len(running) >= 3, "only %d distinct views of the running run" % len(running))
    expect(reported, "no report made while the run was going")
    time.sleep(3.0)  # a refresh of the finished file (a refresh checks every segment's seal: slow under load)
    watch.send_signal(signal.SIGINT)
    _, err = watch.communicate(timeout=30)
    watch_out.seek(0)
    out = watch_out.read()
    watch_out.close()
    expect(watch.returncode == 0, "watch ended with %d on SIGINT: %s" % (watch.returncode, err[-1500:]))
    expect("waiting for the first checkpoint" in out, "watch did not wait for the file")
    expect("status     running" in out, "watch never showed the running run")
    expect("status     finished: iteration budget reached" in out, "watch did not follow the replaced file")
    expect("Traceback" not in err, "watch printed a traceback: %s" % err[-1500:])
    once = bn("watch", "--once", path).stdout
    expect("12,000 / 12,000 results" in once and "best states" in once, "watch --once printed %r" % once[:500])
    p = bn("watch", "--once", os.path.join(tmp, "missing.h5"), check=False)
    expect(p.returncode == 1 and "does not exist yet" in p.stdout, "watch --once on a missing file: %r" % p.stdout)


def case_circuit(tmp):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import ArrowStyle, FancyArrowPatch
    import banyan
    from banyan.stats import t_quantile_975
    fig, ax = plt.subplots(figsize=(3, 3))
    d = banyan.draw_circuit("*ABC::ABi_BCi_CAi", ax=ax)
    expect(d.nodes == ["A", "B", "C"], "nodes %s" % d.nodes)
    expect(len(d.edges) == 3 and all(e["type"] == "i" and e["head"] == "bar" and not e["self_loop"]
                                     for e in d.edges), "edges %s" % d.edges)
    expect({(e["source"], e["target"]) for e in d.edges} == {("A", "B"), ("B", "C"), ("C", "A")}, "edge pairs")
    arrows = [a for a in d.artists if isinstance(a, FancyArrowPatch)]
    expect(len(arrows) == 3 and all(isinstance(a.get_arrowstyle(), ArrowStyle.BracketB) for a in arrows),
           "inhibitions are not drawn flat-headed: %s" % [type(a.get_arrowstyle()).__name__ for a in arrows])
    out = os.path.join(tmp, "repressilator.png")
    fig.savefig(out, dpi=100)
    check_png(out)
    d2 = banyan.draw_circuit("*ABC::AAa_ABa_BAi")
    loops = [e for e in d2.edges if e["self_loop"]]
    expect(len(loops) == 1 and loops[0]["source"] == "A" and loops[0]["head"] == "arrow", "self-loop %s" % d2.edges)
    arrows = [a for a in d2.artists if isinstance(a, FancyArrowPatch)]
    styles = [type(a.get_arrowstyle()).__name__ for a in arrows]
    expect(styles.count("BracketB") == 1 and styles.count("CurveFilledB") == 2, "arrow styles %s" % styles)
    loop_path = arrows[0].get_path()
    ax_pos = d2.positions["A"]
    far = max(np.hypot(v[0] - ax_pos[0], v[1] - ax_pos[1]) for v in loop_path.vertices)
    expect(far > 0.3, "the self-loop does not leave its node")
    for bad in ("ABC::ABx", "*ABC::ABi_ABa", "abc::", "<script>", "A" * 1000):
        try:
            banyan.parse_circuit(bad)
            raise Failure("parse_circuit accepted %r" % bad)
        except ValueError:
            pass
    lo, hi = banyan.wilson_interval(0, 10)
    expect(lo == 0 and abs(hi - 0.2775) < 1e-4, "wilson(0, 10) = %s" % ((lo, hi),))
    lo, hi = banyan.wilson_interval(5, 10)
    expect(abs(lo - 0.2366) < 1e-4 and abs(hi - 0.7634) < 1e-4, "wilson(5, 10) = %s" % ((lo, hi),))
    for df, t in ((1, 12.7062), (10, 2.2281), (30, 2.0423), (40, 2.0211), (60, 2.0003), (120, 1.9799),
                  (1000, 1.9623)):
        expect(abs(t_quantile_975(df) - t) < 2e-4, "t(0.975, %d) = %.5f, not %.4f" % (df, t_quantile_975(df), t))
    lo, hi, m = banyan.mean_interval(4, 2.0, 1.5, binary=False)  # rewards 0, 0.5, 0.5, 1: sd 0.408
    expect(m == "t" and abs(hi - 0.5 - 3.1824 * 0.40825 / 2) < 1e-3, "t interval %s" % ((lo, hi),))
    lo, hi, m = banyan.mean_interval(10, 5.0, 5.0, binary=True)
    expect(m == "wilson" and abs(lo - 0.2366) < 1e-4, "wilson via mean_interval")
    print("  drawing data, arrow styles, intervals: ok")


def reseal(path):
    """Make the seal of a file banyan wrote (XXH3-64 of its bytes after the 512-byte block,
    docs/checkpoint-format.md "The seal") match it again after an edit with h5py, so the
    reader's own checks behind the seal are what a test sees. Files without a seal are left."""
    import xxhash
    with open(path, "r+b") as f:
        data = f.read()
        if data[:12] != b"BANYAN-SEAL\0":
            return
        block = bytearray(data[:512])
        struct.pack_into("<QQ", block, 24, len(data), xxhash.xxh3_64_intdigest(data[512:]))
        struct.pack_into("<Q", block, 504, xxhash.xxh3_64_intdigest(bytes(block[:504])))
        f.seek(0)
        f.write(block)


def flip(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x40]))


def case_hostile(tmp):
    import h5py
    base = bistability_run(tmp, "base.h5", 800)
    marker = os.path.join(tmp, "MARKER")

    def copy(name):
        d = os.path.join(tmp, name)
        os.makedirs(d)
        shutil.copy(base, d)
        shutil.copytree(base + ".d", os.path.join(d, "base.h5.d"))
        return os.path.join(d, "base.h5")


    def refused(path, words, what):
        p = bn("report", path, "-o", path + "-report", check=False)
        expect(p.returncode == 1, "%s: report exit %d (%s)" % (what, p.returncode, p.stderr[-800:]))
        expect(words in p.stderr and "Traceback" not in p.stderr, "%s: %r" % (what, p.stderr[-800:]))
        lines = [ln for ln in p.stderr.splitlines() if ln.startswith("banyan report: ") and "figures" not in ln]
        expect(len(lines) == 1, "%s: not one line: %r" % (what, p.stderr[-800:]))
        print("  refused: %-40s %s" % (what, lines[0][:110]))

    # A flipped byte in the main file or a segment: refused by the seal before HDF5 parses it.
    with open(base, "rb") as f:
        sealed = f.read(12) == b"BANYAN-SEAL\0"
    if sealed:
        p = copy("flipped-main")
        flip(p, os.path.getsize(p) // 2)
        refused(p, "damaged", "a flipped byte in the main file")
        p = copy("flipped-segment")
        seg = os.path.join(p + ".d", sorted(os.listdir(p + ".d"))[0])
        flip(seg, os.path.getsize(seg) - 100)
        refused(p, "damaged", "a flipped byte in a segment")
    else:
        print("  (files without a seal: the seal checks are skipped)")

    # Script, markup and '$' in a state and in the config; a command and a plug-in named.
    p = copy("escape")
    with h5py.File(p, "r+") as f:
        best = f["best"][...]
        best["text"][0] = b'<script>alert(1)</script>"$x$\x1b[2J'
        f["best"][...] = best
        cfg = f.attrs["config"]
        cfg = (cfg.decode() if isinstance(cfg, bytes) else cfg)
        cfg += "\n[exec]\ncommand = /usr/bin/touch %s\n<img src=x onerror=alert(2)>\n" % marker
        cfg = cfg.replace("[domain]\n", "[domain]\nplugin = /tmp/evil-%s.so\n" % os.getpid())
        f.attrs["config"] = np.bytes_(cfg.encode())
    reseal(p)
    out = p + "-report"
    bn("report", p, "-o", out)
    text = check_report(out)
    expect("<script" not in text and "<img src=x" not in text, "markup from the file reached the page")
    expect("&lt;script&gt;alert(1)&lt;/script&gt;&quot;$x$" in text, "the state text is not shown escaped")
    expect("neither loads nor runs" in text and "/usr/bin/touch" in text, "the page does not say what is not run")
    once = bn("watch", "--once", p).stdout
    expect("\x1b" not in once and "<script>alert(1)</script>" in once, "watch passed an escape sequence")
    expect(not os.path.exists(marker), "a command named in the file ran")

    # /results must be the virtual view over the run's own segments.
    p = copy("plain-results")
    with h5py.File(p, "r+") as f:
        rows = f["results"][...]
        del f["results"]
        f.create_dataset("results", data=rows)
    reseal(p)
    refused(p, "not the virtual view", "/results a plain dataset")
    p = copy("foreign-vds")
    other = os.path.join(tmp, "foreign.h5")
    with h5py.File(base, "r") as f:
        dt, n = f["results"].dtype, f["results"].shape[0]
    with h5py.File(other, "w") as g:
        g.create_dataset("results", shape=(n,), dtype=dt)
    with h5py.File(p, "r+") as f:
        del f["results"]
        layout = h5py.VirtualLayout(shape=(n,), dtype=dt)
        layout[0:n] = h5py.VirtualSource(other, "results", shape=(n,))
        f.create_virtual_dataset("results", layout)
    reseal(p)
    refused(p, "not a segment the file lists", "/results over a foreign file")
    p = copy("soft")
    with h5py.File(p, "r+") as f:
        f["best_copy"] = f["best"][...]
        del f["best"]
        f["best"] = h5py.SoftLink("/best_copy")
    reseal(p)
    refused(p, "not a hard link", "/best a soft link")
    p = copy("version")
    with h5py.File(p, "r+") as f:
        f.attrs.modify("format_version", np.uint32(99))
    reseal(p)
    refused(p, "version 99", "format version 99")
    p = copy("state-size")
    with h5py.File(p, "r+") as f:
        f.attrs.modify("state_size", np.uint64(1 << 40))
    reseal(p)
    refused(p, "state_size", "a huge state size")
    refused(os.path.join(tmp, "nothing.h5"), "No such file", "a missing file")
    # A table that claims 10^9 rows (never written) is read bounded.
    p = copy("huge-timeline")
    with h5py.File(p, "r+") as f:
        dt = f["stats/timeline"].dtype
        del f["stats/timeline"]
        f.create_dataset("stats/timeline", shape=(10 ** 9,), maxshape=(None,), chunks=(65536,), dtype=dt)
    reseal(p)
    t0 = time.time()
    bn("report", p, "-o", p + "-report", timeout=120)
    expect(time.time() - t0 < 90, "the report of a huge declared table took %.0f s" % (time.time() - t0))
    bn("watch", "--once", p)
    print("  %-48s %.1f s" % ("report of a 10^9-row declared timeline", time.time() - t0))
    # A reader that crashes (as HDF5 might on a malformed object that passes every check):
    # the Python reader is a child of `banyan report`, whose crash ends in one line, status 1.
    proc = subprocess.Popen([BANYAN, "report", base, "-o", os.path.join(tmp, "crash-report")], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    child = None
    for _ in range(200):
        try:
            with open("/proc/%d/task/%d/children" % (proc.pid, proc.pid)) as f:
                kids = f.read().split()
        except OSError:
            kids = []
        if kids:
            child = int(kids[0])
            break
        time.sleep(0.02)
    expect(child is not None, "report: no reader process under banyan report")
    os.kill(child, signal.SIGSEGV)
    out, err = proc.communicate(timeout=60)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    expect(proc.returncode == 1 and len(lines) == 1 and "died of signal %d" % signal.SIGSEGV in lines[0],
           "a reader killed by SIGSEGV: status %d, stderr %r" % (proc.returncode, err[-600:]))
    print("  %-48s %s" % ("a crashed reader", lines[0][:100]))


CASES = {"bistability": case_bistability, "synthetic": case_synthetic, "screenshot": case_screenshot,
         "reader": case_reader, "live": case_live, "circuit": case_circuit, "hostile": case_hostile}


def main():
    if CASE not in CASES:
        print("unknown case %s (one of %s)" % (CASE, ", ".join(CASES)))
        return 2
    tmp = tempfile.mkdtemp(prefix="banyan-report-%s-" % CASE)
    t0 = time.time()
    try:
        CASES[CASE](tmp)
    except Failure as e:
        print("FAIL report.%s: %s (files kept in %s)" % (CASE, e, tmp))
        return 1
    print("report.%s: ok (%.1f s)" % (CASE, time.time() - t0))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
