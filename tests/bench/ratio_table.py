"""The table every benchmark script under tests/bench prints: one row per figure with its
ratio to a baseline measured in the same invocation, the machine on top, and optionally
the same rows as CSV."""
import os
import platform
import sys


class RatioTable:
    def __init__(self, bench_width, case_width, value_format):
        self.bench_width, self.case_width, self.value_format = bench_width, case_width, value_format
        self.rows = []
        print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, {platform.platform()}")
        print(f"{'bench':{bench_width}s} {'case':{case_width}s} {'value':>14s} {'unit':9s} ratio to baseline")

    def row(self, bench, case, value, unit, baseline):
        """Print and keep one figure; its ratio is value / baseline (nan without a baseline)."""
        ratio = value / baseline if baseline else float("nan")
        self.rows.append((bench, case, value, unit, ratio))
        print(f"{bench:{self.bench_width}s} {case:{self.case_width}s} "
              f"{self.value_format(value)} {unit:9s} x{ratio:7.2f}")
        sys.stdout.flush()

    def write_csv(self, path):
        with open(path, "w") as f:
            f.write("benchmark,case,value,unit,ratio\n")
            for r in self.rows:
                f.write(f'{r[0]},"{r[1]}",{r[2]:.6g},{r[3]},{r[4]:.6g}\n')
