"""What the command-line scripts share (train.py, predict.py and `python -m scratchnet.serve`,
`.export`, `.gradcheck`): argument types, one-line errors, thread settings, memory.

Imports nothing heavy: the scripts parse their arguments (and set thread counts) before
NumPy is imported.
"""
import argparse
import os
import sys


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default in --help, unless there is none to show (None, or an off flag)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or action.default == []:
            return action.help
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """argparse with defaults shown in --help and errors on ONE line (no usage dump), prefixed
    like run()'s: "train.py: error: ...", "scratchnet.serve: error: ..."."""

    def __init__(self, **kwargs):
        super().__init__(formatter_class=DefaultsFormatter, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog.split()[-1]}: error: {message} (see --help)\n")


def int_in(low, high=None):
    """An argparse type: a whole number in [low, high] (no upper bound if high is None)."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(
                f"must be at least {low}, got {value}" if high is None
                else f"must be from {low} to {high}, got {value}")
        return value
    return parse


positive_int = int_in(1)
non_negative_int = int_in(0)
port_number = int_in(0, 65535)


def float_in(low, high, low_open=False, high_open=True):
    """An argparse type: a float in [low, high) (or open/closed ends as asked)."""
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        too_low = value <= low if low_open else value < low
        too_high = value >= high if high_open else value > high
        if too_low or too_high or value != value:
            raise argparse.ArgumentTypeError(
                f"must be in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}, got {text}")
        return value
    return parse


def cap_threads(n, prog):
    """--threads N, at most the CPUs there are (more threads than CPUs only take turns: an
    epoch many times slower), with a one-line note on stderr when it is capped."""
    from .core.kernels import available_cpus
    cpus = available_cpus()
    if n is not None and n > cpus:
        print(f"{prog}: note: --threads {n} is more than the {cpus} CPUs this process may use; "
              f"using {cpus}", file=sys.stderr)
        return cpus
    return n


REPLACES = "replaces the one there"


def check_writable(path, is_folder=False):
    """Check, before any long work, that `path` (a file, or a folder if is_folder) can be
    written: ScratchnetError in one line if not. Returns what will be done there, to say so:
    "new", REPLACES, "creating FOLDER/"."""
    from pathlib import Path

    from .errors import ScratchnetError
    path = Path(path)
    if path.exists() and path.is_dir() != is_folder:
        raise ScratchnetError(f"cannot write {path}: it is {'a file' if is_folder else 'a directory'}")
    folder = path if is_folder else path.parent
    existing = next(p for p in [folder, *folder.parents] if p.exists())
    if not existing.is_dir():
        raise ScratchnetError(f"cannot write {path}: {existing} is a file, not a directory")
    if not os.access(existing, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ScratchnetError(f"cannot write {path}: permission denied")
    if existing != folder:
        return f"creating {folder}/"
    if path.exists() and (not is_folder or any(path.iterdir())):
        return REPLACES
    return "new"


def set_threads(n=None):
    """Size the BLAS pool and the kernels' thread team (n threads; None: one per CPU); must
    run before NumPy is imported, since BLAS reads its settings from the environment then.

    Two pools share the cores: OpenBLAS (matrix products) and the kernel team. OpenBLAS spins
    waiting for work by default and steals the team's cores, so it is told to sleep as soon as
    it is idle (OPENBLAS_THREAD_TIMEOUT, OMP_WAIT_POLICY); a value already set in the
    environment wins. The team's size is set by a call (kernels.set_threads), not the
    environment."""
    from .core import kernels
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if n is not None:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(n)
    kernels.set_threads(n)


def give_back_freed_memory():
    """Hand the C heap's free pages back to the operating system (glibc's malloc_trim); returns
    whether it could (False without glibc: macOS, musl, Windows).

    Why: NumPy arrays freed after training (the 47 MB of training images, the detector's
    batches) leave holes in the heap that glibc keeps, so the process's resident memory stays
    at its high-water mark and the report's matplotlib lands on top of it. Trimmed before the
    "not a digit" detector and before the report, a first `train.py` peaks about 18 MB lower
    (docs/performance.md).
    """
    import ctypes
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return False
    trim(0)
    return True


def run(main, prog=None):
    """Call main(); turn user errors into one line on stderr and an exit code, never a traceback."""
    from .errors import ScratchnetError
    prog = prog or os.path.basename(sys.argv[0])
    try:
        code = main()
    except ScratchnetError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        code = 1
    except OSError as e:  # unwritable --model/--report-dir, disk full, ...
        where = f" ({e.filename})" if getattr(e, "filename", None) else ""
        print(f"{prog}: error: {e.strerror or e}{where}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        code = 130
    sys.exit(code or 0)
