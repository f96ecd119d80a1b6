"""Shared by the benchmark scripts: machine description, timing, data location."""
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def header(title, threads=None):
    """Print what was measured where: CPU, cores, threads, versions, date."""
    import numpy as np
    from scratchnet.report import machine
    m = machine()
    print(f"# {title}")
    print(f"machine : {m['cpu']}, {m['cores']} cores; threads used: {threads or m['cores']}")
    versions = f"python {platform.python_version()}, numpy {np.__version__}"
    try:
        import numba
        versions += f", numba {numba.__version__}"
    except ImportError:
        pass
    print(f"versions: {versions}")
    print(f"date    : {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print()


def data_dir(arg=None):
    if arg:
        return Path(arg)
    if os.environ.get("SCRATCHNET_DATA"):
        return Path(os.environ["SCRATCHNET_DATA"])
    shared = ROOT.parent / "shared" / "data" / "mnist"
    return shared if shared.is_dir() else None


def best_of(fn, repeat=5, number=20):
    """Best mean seconds per call over `repeat` rounds of `number` calls (least noisy)."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def peak_rss_mb():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
