"""Command: prove every backward pass against finite differences, or watch a planted bug
get caught.

    python -m scratchnet.gradcheck                       # every check
    python -m scratchnet.gradcheck --only fused          # one check
    python -m scratchnet.gradcheck --plant-bug relu-mask-off-by-one
    python -m scratchnet.gradcheck --list
    scratchnet-gradcheck                                 # the same, installed as a command

Argument parsing and printing only; the checks are scratchnet/core/gradcheck.py.
"""
import time

from .cli import Parser, float_in, non_negative_int, run


def main(argv=None):
    from .core.gradcheck import CHECKS, PLANTED_BUGS, TOLERANCE
    p = Parser(prog="python -m scratchnet.gradcheck",
               description="Check every backward pass of scratchnet against central finite "
                           "differences in float64, with random upstream gradients.")
    p.add_argument("--only", metavar="NAME", choices=sorted(CHECKS),
                   help="run one check: " + ", ".join(CHECKS))
    p.add_argument("--seed", type=non_negative_int, default=0, help="seeds inputs, weights and upstream gradients")
    p.add_argument("--eps", type=float_in(0, 1, low_open=True), default=1e-5,
                   help="finite-difference step h: (f(x+h) - f(x-h)) / 2h")
    p.add_argument("--plant-bug", metavar="NAME", choices=sorted(PLANTED_BUGS),
                   help="swap in a deliberately wrong backward pass first: " + ", ".join(PLANTED_BUGS))
    p.add_argument("--list", action="store_true", help="list the checks and the bugs that can be planted")
    args = p.parse_args(argv)
    if args.list:
        print("checks:", ", ".join(CHECKS))
        print("bugs to plant:")
        for name, (text, _) in PLANTED_BUGS.items():
            print(f"  {name:24s} {text}")
        return 0

    from .core.gradcheck import compile_jit_kernels, run_checks
    print(f"scratchnet gradient check: float64, central differences (h = {args.eps:g}), random "
          f"upstream gradients, seed {args.seed}")
    print(f"pass: relative error per array < {TOLERANCE:g} (a correct backward pass gives ~1e-10, "
          f"a bug > 1e-3)")
    if args.plant_bug:
        print(f"planted bug: {args.plant_bug} ({PLANTED_BUGS[args.plant_bug][0]})")
    print()
    start = time.perf_counter()
    compile_jit_kernels(lambda n: print(f"compiling {n} float64 kernels for this CPU (first run only) ...",
                                        flush=True))
    rows = run_checks(args.only, args.seed, args.eps, args.plant_bug)
    print(f"{'check':38s} {'gradient':10s} {'shape':16s} {'per element':>11s} {'per array':>10s}  result")
    for r in rows:
        print(f"{r.check:38s} {r.what:10s} {str(tuple(r.shape)):16s} {r.per_element:11.1e} "
              f"{r.per_array:10.1e}  {'ok' if r.passed else 'FAIL'}")
    failed = [r for r in rows if not r.passed]
    worst = max(rows, key=lambda r: r.per_array)
    print(f"\n{len(rows)} gradients in {time.perf_counter() - start:.1f} s; worst per-array error "
          f"{worst.per_array:.1e} ({worst.check}, {worst.what})")
    if args.plant_bug:
        if failed:
            print(f"the planted bug was found: {len(failed)} of {len(rows)} rows fail "
                  f"({', '.join(sorted({r.check for r in failed}))})")
            return 1
        print("the planted bug was NOT found by these checks (try without --only)")
        return 2
    if failed:
        print(f"{len(failed)} of {len(rows)} gradients FAIL")
        return 1
    print("every gradient passes")
    return 0


def console():
    """The `scratchnet-gradcheck` command (installed with the package)."""
    run(main, prog="scratchnet-gradcheck")


if __name__ == "__main__":
    run(main, prog="scratchnet.gradcheck")
