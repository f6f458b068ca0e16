"""The machine description printed at the top of the peers benchmark's tables: CPU, cores,
memory, OS, load, and the versions of everything measured."""
import os
import platform
import re
import subprocess


def _first(path, pattern):
    try:
        with open(path) as f:
            for line in f:
                m = re.match(pattern, line)
                if m:
                    return m.group(1).strip()
    except OSError:
        pass
    return "?"


def _command_output(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "?"


def _module_version(name):
    try:
        module = __import__(name)
        return getattr(module, "__version__", "?")
    except Exception:  # noqa: BLE001 - any import failure means "not available"
        return "not installed"


def describe(banyan):
    """An ordered list of (key, value) pairs."""
    mem_kb = _first("/proc/meminfo", r"MemTotal:\s+(\d+)")
    mem = f"{int(mem_kb) / 1048576:.1f} GiB" if mem_kb.isdigit() else "?"
    redis = _command_output(["redis-server", "--version"])
    m = re.search(r"v=(\S+)", redis)
    return [
        ("host", platform.node()),
        ("cpu", _first("/proc/cpuinfo", r"model name\s*:\s*(.*)")),
        ("cores", str(os.cpu_count())),
        ("memory", mem),
        ("os", _first("/etc/os-release", r'PRETTY_NAME="?([^"]*)"?') + f", Linux {platform.release()}"),
        ("load average at start", " ".join(f"{x:.2f}" for x in os.getloadavg())),
        ("banyan", _command_output([banyan, "--version"])),
        ("Open MPI", _command_output(["mpirun", "--version"])),
        ("Python", platform.python_version() + f" ({os.path.realpath('/usr/bin/python3')})"),
        ("mpi4py", _module_version("mpi4py")),
        ("Celery", _module_version("celery")),
        ("redis-py", _module_version("redis")),
        ("Redis server", m.group(1) if m else redis),
        ("Dask", _module_version("dask")),
        ("Dask distributed", _module_version("distributed")),
    ]
