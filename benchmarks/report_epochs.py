"""The epoch times of the last `python train.py` run, to the millisecond, from the report it
wrote (reports/metrics.json): train.py prints them to a tenth of a second, too coarse for
the target "no epoch more than 1.1x the first"."""
import argparse
import json
import sys

from common import slowest_over_first


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--metrics", default="reports/metrics.json")
    args = p.parse_args(argv)
    try:
        with open(args.metrics) as f:
            metrics = json.load(f)
        seconds = [float(e["seconds"]) for e in metrics["history"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"error: cannot read epoch times from {args.metrics}: {e}", file=sys.stderr)
        return 1
    if not seconds:
        print(f"error: {args.metrics} has no epochs", file=sys.stderr)
        return 1
    print(f"train.py ({metrics.get('command', '?')}), {metrics.get('created', '?')}: "
          f"epochs, s: " + ", ".join(f"{s:.3f}" for s in seconds))
    print(f"slowest epoch / first epoch = {slowest_over_first(seconds):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
