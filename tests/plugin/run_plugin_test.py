#!/usr/bin/env python3
"""Plug-in domains from an installed banyan, as a user would meet them.

usage: run_plugin_test.py --build BUILD --source SOURCE --cmake CMAKE --cc CC

1. `cmake --install BUILD` into a temp prefix;
2. the example N-queens plug-in (jobs/examples/queens) built through the installed CMake
   package (find_package(banyan), banyan::banyan) and, separately, with
   `cc $(pkg-config --cflags --libs banyan)`; the refused libraries of tests/plugin too;
3. the installed `banyan run` with the plug-in on 1 rank and under `mpirun -n 3`: status 0,
   search.check=true, the best state is a real N-queens solution (checked here, not by the
   plug-in) with reward 1.0; the build tree's banyan runs the same plug-in;
4. a run stopped by a small budget, then `resume`d from another directory up to a larger
   one, then `inspect` and `export` of its checkpoint;
5. a plug-in built for the wrong API version, a missing file, a library without the entry
   points and a table without functions: each refused with status 2 and a clear message
   naming the config line (the missing file also under mpirun, where every rank stops).

Every run happens in a temp directory, removed at the end. Exit status 0 = pass.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

ap = argparse.ArgumentParser()
ap.add_argument("--build", required=True)
ap.add_argument("--source", required=True)
ap.add_argument("--cmake", default="cmake")
ap.add_argument("--cc", default="cc")
ARGS = ap.parse_args()
ARGS.build, ARGS.source = os.path.abspath(ARGS.build), os.path.abspath(ARGS.source)

ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
EXAMPLE = os.path.join(ARGS.source, "jobs", "examples", "queens")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def sh(cmd, cwd=None, env=None, timeout=240):
    p = subprocess.run(cmd, cwd=cwd, env=env or ENV, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def must(cmd, what, **kw):
    rc, out, err = sh(cmd, **kw)
    if not check(rc == 0, f"{what} (status {rc})"):
        print(out[-3000:], err[-3000:], sep="\n")
        raise SystemExit(1)
    return out


def is_solution(text, n):
    """True if `text` ("c0,c1,...") places n queens, none attacking another."""
    try:
        cols = [int(c) for c in text.split(",")]
    except ValueError:
        return False
    if len(cols) != n or any(not 0 <= c < n for c in cols):
        return False
    return all(cols[i] != cols[j] and abs(cols[i] - cols[j]) != j - i
               for i in range(n) for j in range(i + 1, n))


def banyan(exe, args, cwd, mpi=0, timeout=240):
    """Run banyan (under mpirun -n mpi if mpi > 0); return (status, summary dict, stderr)."""
    summary = os.path.join(cwd, "summary.json")
    if os.path.exists(summary):
        os.remove(summary)
    cmd = ([["mpirun", "-n", str(mpi), "--oversubscribe"], []][mpi == 0] + [exe] + args)
    if args[0] in ("run", "resume"):
        cmd += ["--quiet", "--summary", summary]
    rc, out, err = sh(cmd, cwd=cwd, timeout=timeout)
    data = json.load(open(summary)) if os.path.exists(summary) else None
    return rc, data, out, err


def check_solution_found(tag, rc, s, err, n, engines):
    check(rc == 0, f"{tag}: exit status 0 (got {rc}) {err[-1500:]}")
    if not check(s is not None, f"{tag}: summary written"):
        return
    check(s["domain"] == "queens", f"{tag}: summary names the domain queens (got {s['domain']})")
    check(s["engines"] == engines, f"{tag}: {engines} engines (got {s['engines']})")
    check(s["failures"] == 0, f"{tag}: no failed evaluation")
    best = s["best"][0] if s["best"] else {"state": "-", "mean_reward": 0}
    check(best["mean_reward"] == 1.0 and is_solution(best["state"], n),
          f"{tag}: best state in the graph is a {n}-queens solution with reward 1.0 (got {best})")
    ev = s["best_evaluations"][0] if s["best_evaluations"] else {"state": "-", "reward": 0}
    check(ev["reward"] == 1.0 and is_solution(ev["state"], n),
          f"{tag}: best single evaluation is a solution (got {ev})")
    if engines:
        check(all(e["jobs"] > 0 for e in s["engine_stats"]), f"{tag}: every engine evaluated jobs")


def main(tmp):
    prefix = os.path.join(tmp, "prefix")
    must([ARGS.cmake, "--install", ARGS.build, "--prefix", prefix], "cmake --install into a temp prefix")
    exe = os.path.join(prefix, "bin", "banyan")
    libdir = next(os.path.join(prefix, d) for d in ("lib", "lib64") if os.path.isdir(os.path.join(prefix, d)))
    for f in ["include/banyan/domain.h", "include/banyan/config.h", "bin/banyan"]:
        check(os.path.exists(os.path.join(prefix, f)), f"installed {f}")
    check(os.path.exists(os.path.join(libdir, "libbanyan.so")), "installed libbanyan.so")
    check(os.path.exists(os.path.join(libdir, "cmake", "banyan", "banyanConfigVersion.cmake")),
          "installed the CMake package with a version file")
    pc_dir = os.path.join(libdir, "pkgconfig")
    check(os.path.exists(os.path.join(pc_dir, "banyan.pc")), "installed banyan.pc")

    # The example through the CMake package.
    qb = os.path.join(tmp, "queens-cmake")
    must([ARGS.cmake, "-S", EXAMPLE, "-B", qb, f"-DCMAKE_PREFIX_PATH={prefix}", f"-DCMAKE_C_COMPILER={ARGS.cc}"],
         "example configures with find_package(banyan)")
    must([ARGS.cmake, "--build", qb], "example builds against banyan::banyan")
    lib_cmake = os.path.join(qb, "libqueens.so")
    check(os.path.exists(lib_cmake), "example built libqueens.so")

    # The example and the refused libraries through pkg-config.
    pc_env = dict(ENV, PKG_CONFIG_PATH=pc_dir)
    flags = must(["pkg-config", "--cflags", "--libs", "banyan"], "pkg-config --cflags --libs banyan", env=pc_env).split()
    built = {}
    for name, src in [("queens", os.path.join(EXAMPLE, "queens.c"))] + [
            (x, os.path.join(ARGS.source, "tests", "plugin", x + ".c")) for x in ("wrong_version", "no_entry", "bad_table")]:
        out = os.path.join(tmp, "pc", f"lib{name}.so")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        must([ARGS.cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-o", out, src] + flags,
             f"{name} builds with pkg-config")
        built[name] = out

    # A run directory with the example's config; build/ there is the CMake build, so the
    # config's relative `plugin = build/libqueens.so` is found from the config's directory.
    run_dir, work = os.path.join(tmp, "run"), os.path.join(tmp, "work")
    os.makedirs(run_dir)
    os.makedirs(work)
    config = os.path.join(run_dir, "queens.ini")
    shutil.copy(os.path.join(EXAMPLE, "queens.ini"), config)
    os.symlink(qb, os.path.join(run_dir, "build"))
    common = ["--set", "search.check=true", "--set", "domain.queens.n=8", "--set", "search.iterations=4000"]

    out = must([exe, "config", "--list", config], "config --list CONFIG", cwd=work)
    check("domain.queens.n" in out and "domain.queens.noise" in out, "config --list CONFIG lists the plug-in's options")
    out = must([exe, "config", "--show", config], "config --show CONFIG", cwd=work)
    check(f"plugin = {run_dir}/build/libqueens.so" in out and "name = queens" in out,
          "config --show: the plug-in path made absolute from the config's directory, domain.name implied")

    rc, s, _, err = banyan(exe, ["run", config, "--set", "checkpoint.enabled=false"] + common, work)
    check_solution_found("installed, 1 rank, CMake-built plug-in", rc, s, err, 8, 0)

    rc, s, _, err = banyan(exe, ["run", config, "--set", "checkpoint.enabled=false",
                                 "--set", f"domain.plugin={built['queens']}"] + common, work, mpi=3)
    check_solution_found("installed, mpirun -n 3, pkg-config-built plug-in", rc, s, err, 8, 2)

    in_tree = os.path.join(ARGS.build, "banyan")
    rc, s, _, err = banyan(in_tree, ["run", config, "--set", "checkpoint.enabled=false"] + common, work)
    check_solution_found("build tree's banyan, 1 rank", rc, s, err, 8, 0)

    # Stopped by a small budget, resumed from elsewhere (the checkpoint names the plug-in by
    # its absolute path), inspected and exported.
    ckpt = os.path.join(work, "queens.h5")
    # Deterministic mode: the same graph for any timing, so the outcome does not vary.
    short = ["--set", "search.check=true", "--set", "search.deterministic=true", "--set", "domain.queens.n=8"]
    rc, s, _, err = banyan(exe, ["run", config, "--set", "search.iterations=300"] + short, work, mpi=3)
    check(rc == 0 and s and s["iterations"] == 300, f"short run: 300 iterations, status 0 (got {rc}) {err[-800:]}")
    elsewhere = os.path.join(tmp, "elsewhere")
    os.makedirs(elsewhere)
    rc, s, _, err = banyan(exe, ["resume", ckpt, "--set", "search.iterations=3000"], elsewhere, mpi=3)
    check(rc == 0, f"resume: exit status 0 (got {rc}) {err[-1500:]}")
    if check(s is not None, "resume: summary written"):
        check(s["iterations"] == 3000, f"resume: ran up to the new budget (got {s['iterations']})")
        best = s["best"][0] if s["best"] else {"state": "-", "mean_reward": 0}
        check(best["mean_reward"] == 1.0 and is_solution(best["state"], 8),
              f"resume: best state is an 8-queens solution (got {best})")
    rc, out, err = sh([exe, "inspect", ckpt], cwd=elsewhere)
    check(rc == 0 and "queens" in out, f"inspect reads the plug-in checkpoint (status {rc}) {err[-500:]}")
    csv = os.path.join(elsewhere, "results.csv")
    rc, out, err = sh([exe, "export", ckpt, "--csv", csv], cwd=elsewhere)
    rows = open(csv).read().splitlines() if os.path.exists(csv) else []
    check(rc == 0 and len(rows) == 3001, f"export writes 3000 result rows (status {rc}, {len(rows)} lines) {err[-500:]}")

    # Refusals: status 2, the config location and a reason the user can act on.
    def refused(tag, plugin_line, expected, mpi=0):
        bad = os.path.join(run_dir, f"bad-{tag}.ini")
        with open(config) as f:
            text = f.read()
        with open(bad, "w") as f:
            f.write(text.replace("plugin = build/libqueens.so", f"plugin = {plugin_line}"))
        line = 1 + text.splitlines().index("plugin = build/libqueens.so")
        rc, s, _, err = banyan(exe, ["run", bad], work, mpi=mpi)
        check(rc == 2, f"{tag}: exit status 2 (got {rc})")
        check(f"{bad}:{line}: domain.plugin: " in err and expected in err,
              f"{tag}: message names {os.path.basename(bad)}:{line} and says '{expected}' (got {err.strip()[-600:]!r})")
        check(s is None, f"{tag}: nothing run")

    refused("wrong-version", built["wrong_version"],
            f"plugin {built['wrong_version']} was built for domain API version 1, this banyan has version 2: "
            "rebuild it against this banyan's headers")
    refused("missing", "build/libmissing.so", f"plugin {run_dir}/build/libmissing.so: No such file or directory")
    refused("missing-mpi", "nowhere/libq.so", f"plugin {run_dir}/nowhere/libq.so: No such file or directory", mpi=2)
    refused("no-entry", built["no_entry"], "is not a banyan plug-in: it exports no banyan_plugin_api_version")
    refused("bad-table", built["bad_table"], 'domain "broken" lacks required functions')


tmp = tempfile.mkdtemp(prefix="banyan-plugin-test-")
try:
    main(tmp)
finally:
    shutil.rmtree(tmp, ignore_errors=True)
print(f"{len(failures)} failed" if failures else "all plug-in checks passed")
sys.exit(1 if failures else 0)
