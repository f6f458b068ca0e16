"""Tables of the peers benchmark: text (one table per workload, banyan's ratio to every
system) and CSV (one row per figure), both with the machine description first."""
import csv

LEFT_ALIGNED = {"system", "case", "what", "domain", "ok", ""}


def _num(v, digits=3):
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.1f}"
    return f"{v:.{digits}f}"


def _ratio_text(r):
    """A ratio with about three significant digits, never rounded to 0.00."""
    if r is None:
        return "-"
    if r >= 100:
        return f"{r:,.0f}"
    if r >= 10:
        return f"{r:.1f}"
    if r >= 0.1:
        return f"{r:.2f}"
    return f"{r:.2g}"


def _ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


class Report:
    def __init__(self, machine, options):
        self.machine = machine          # [(key, value)]
        self.options = options          # one line: how it was run
        self.sections = []              # (title, note, header, rows of cells, error lines)
        self.csv_rows = []              # dicts
        self.dispatch = []              # (short name, kind, results) for the markdown summary
        self.markdown_tables = []       # (title, header, rows) of the banyan-only sections

    # ---- dispatch workloads -----------------------------------------------------------------
    def add_dispatch(self, key, title, note, results, kind, short):
        """results: [{workers, system, label, jobs, wall_seconds, sum_durations}] in table
        order, banyan first within each worker count. kind: 'throughput' or 'efficiency'."""
        self.dispatch.append((short, kind, results))
        if kind == "throughput":
            header = ["workers", "system", "jobs", "wall s", "jobs/s", "banyan / this"]
        else:
            header = ["workers", "system", "jobs", "wall s", "efficiency", "banyan / this", "tail ms",
                      "banyan / this"]
        rows, errors = [], []
        for r in results:
            base = next((b for b in results if b["workers"] == r["workers"] and b["system"] == "banyan"), None)
            figures = self._figures(r)
            bfig = self._figures(base) if base else {}
            cells = [str(r["workers"]), r["label"], f"{r['jobs']:,}" if r.get("jobs") else "-",
                     _num(r.get("wall_seconds"))]
            metrics = ["jobs_per_second"] if kind == "throughput" else ["efficiency", "tail_seconds"]
            for m in metrics:
                v, bv = figures.get(m), bfig.get(m)
                ratio = _ratio(bv, v)
                shown = v * 1000 if (m == "tail_seconds" and v is not None) else v
                cells += [_num(shown, 1 if m == "tail_seconds" else 3), _ratio_text(ratio)]
                unit = {"jobs_per_second": "jobs/s", "efficiency": "", "tail_seconds": "s"}[m]
                self.csv_rows.append({
                    "workload": key, "workers": r["workers"], "system": r["system"], "metric": m,
                    "value": "" if v is None else f"{v:.6g}", "unit": unit,
                    "banyan_value": "" if bv is None else f"{bv:.6g}",
                    "banyan_ratio": "" if ratio is None else f"{ratio:.6g}", "jobs": r.get("jobs", ""),
                    "wall_seconds": "" if r.get("wall_seconds") is None else f"{r['wall_seconds']:.6f}",
                    "sum_durations_seconds": f"{r.get('sum_durations', 0):.6f}",
                    "note": r.get("error", "")})
            if r.get("error"):
                cells[4] = "FAILED"
                errors.append(f"{r['label']}, {r['workers']} workers: {r['error']}")
            rows.append(cells)
        self.sections.append((title, note, header, rows, errors))

    @staticmethod
    def _figures(r):
        wall = r.get("wall_seconds")
        if not wall:
            return {}
        w, total = r["workers"], r.get("sum_durations", 0.0)
        return {"jobs_per_second": r["jobs"] / wall, "efficiency": total / (w * wall),
                "tail_seconds": wall - total / w}

    # ---- banyan-only sections -----------------------------------------------------------------
    def add_table(self, key, title, note, header, rows, csv_rows, short=None, errors=()):
        self.sections.append((title, note, header, rows, list(errors)))
        if short:
            self.markdown_tables.append((short, header, rows))
        for c in csv_rows:
            c.setdefault("workload", key)
            self.csv_rows.append(c)

    # ---- output -------------------------------------------------------------------------------
    def text(self):
        out = ["banyan against the tools users would pick instead (tests/bench/peers)", ""]
        width = max(len(k) for k, _ in self.machine)
        out += [f"  {k:<{width}}  {v}" for k, v in self.machine]
        out += ["", f"  run: {self.options}", ""]
        for title, note, header, rows, errors in self.sections:
            out += [title]
            if note:
                out += [f"  {line}" for line in note.splitlines()]
            widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)] if rows else [len(h) for h in header]
            left = [h in LEFT_ALIGNED for h in header]
            fmt = lambda cells: ("  " + "  ".join(  # noqa: E731
                (str(c).ljust(w) if lft else str(c).rjust(w)) for c, w, lft in zip(cells, widths, left))).rstrip()
            out += [fmt(header), "  " + "  ".join("-" * w for w in widths)]
            out += [fmt(r) for r in rows]
            out += [f"  FAILED: {e}" for e in errors]
            out += [""]
        return "\n".join(out)

    def markdown(self):
        """A compact summary for README.md: every dispatch figure with banyan / this in
        parentheses, one column per system, then the banyan-only tables."""
        keys = dict(self.machine)
        out = [f"{keys.get('cpu')}, {keys.get('cores')} cores, {keys.get('memory')}, {keys.get('os')}; "
               f"Open MPI {keys.get('Open MPI', '').split()[-1]}, Python {keys.get('Python', '').split()[0]}, "
               f"mpi4py {keys.get('mpi4py')}, Celery {keys.get('Celery')}, Redis {keys.get('Redis server')}, "
               f"Dask {keys.get('Dask distributed')}; load average {keys.get('load average at start')} at the "
               f"start. Run: `{self.options.split(';')[0]}`.", ""]
        systems = []
        for _, _, results in self.dispatch:
            for r in results:
                if r["system"] not in [s for s, _ in systems]:
                    systems.append((r["system"], r["label"]))
        if systems:
            out += ["| jobs | workers | figure | " + " | ".join(label for _, label in systems) + " |",
                    "|---|---:|---|" + "---:|" * len(systems)]
            for short, kind, results in self.dispatch:
                metrics = [("jobs_per_second", "jobs/s")] if kind == "throughput" else [
                    ("efficiency", "efficiency"), ("tail_seconds", "tail ms")]
                for workers in sorted({r["workers"] for r in results}):
                    at = {r["system"]: r for r in results if r["workers"] == workers}
                    base = self._figures(at["banyan"]) if "banyan" in at else {}
                    for m, name in metrics:
                        cells = []
                        for sysname, _ in systems:
                            v = self._figures(at[sysname]).get(m) if sysname in at else None
                            if v is None:
                                cells.append("-")
                                continue
                            text = _num(v * 1000, 1) if m == "tail_seconds" else _num(v)
                            if sysname != "banyan" and base.get(m) is not None:
                                text += f" ({_ratio_text(_ratio(base[m], v))})"
                            cells.append(text)
                        out.append(f"| {short} | {workers} | {name} | " + " | ".join(cells) + " |")
            out += ["", "In parentheses: banyan's figure divided by that system's (tail: lower is better).", ""]
        for short, header, rows in self.markdown_tables:
            out += [f"{short}:", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
            out += [""]
        return "\n".join(out)

    def write_csv(self, path):
        fields = ["workload", "workers", "system", "metric", "value", "unit", "banyan_value", "banyan_ratio",
                  "jobs", "wall_seconds", "sum_durations_seconds", "note"]
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
            w.writeheader()
            for k, v in self.machine:
                w.writerow({"workload": "machine", "metric": k, "value": v})
            w.writerow({"workload": "machine", "metric": "run", "value": self.options})
            for r in self.csv_rows:
                w.writerow(r)
