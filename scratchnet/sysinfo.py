"""What machine and software a figure was measured with (reports and benchmarks name it:
the same code runs 1.5-2.5x apart on different CPUs, and float32 rounding differs)."""
import os
import platform
from pathlib import Path

# CPU features that decide which code NumPy's BLAS and Numba pick
_FEATURES = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile")


def machine():
    """{"cpu", "vendor", "family", "model", "features", "cores", "platform"} of this machine."""
    info = {"cpu": platform.processor() or platform.machine(), "vendor": None, "family": None,
            "model": None, "features": [], "cores": os.cpu_count(), "platform": platform.platform()}
    try:
        fields = {}
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())   # the first processor's entry
    except OSError:
        return info
    info["cpu"] = fields.get("model name", info["cpu"])
    info["vendor"] = fields.get("vendor_id")
    info["family"], info["model"] = fields.get("cpu family"), fields.get("model")
    flags = set(fields.get("flags", "").split())
    info["features"] = [f for f in _FEATURES if f in flags]
    return info


def describe_machine():
    """One line, e.g. 'AMD EPYC (AuthenticAMD family 25 model 1; avx2 fma), 2 cores'."""
    m = machine()
    detail = "; ".join(filter(None, [
        f"{m['vendor']} family {m['family']} model {m['model']}" if m["vendor"] else None,
        " ".join(m["features"]) or None]))
    return f"{m['cpu']}{f' ({detail})' if detail else ''}, {m['cores']} cores"


def versions():
    """Python, NumPy, Numba (if installed) and scratchnet versions."""
    import numpy as np

    from . import __version__
    out = {"python": platform.python_version(), "numpy": np.__version__}
    try:
        import numba
        out["numba"] = numba.__version__
    except ImportError:
        pass
    out["scratchnet"] = __version__
    return out
