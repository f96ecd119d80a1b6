"""The demo learning from its mistakes: user-style pictures the model gets wrong are corrected
once each, as the page's "Wrong? It was: ..." buttons do, and the model is measured before
and after, on those pictures, on fresh pictures of the same digits, and on the MNIST test set.

    python benchmarks/bench_learning.py [--model models/mnist_cnn.npz] [--corrections 100]

Timing: the in-process time of each correction (storing, fine-tuning, swapping, saving), and
the time from a click to the new answer over HTTP, POST /api/correct to a server started
with --learn, as the page sends it.
"""
import argparse
import base64
import http.client
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, header


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(ROOT / "models" / "mnist_cnn.npz"))
    p.add_argument("--corrections", type=int, default=100)
    p.add_argument("--pool", type=int, default=7000, help="user-style pictures searched for mistakes")
    p.add_argument("--clicks", type=int, default=20, help="corrections timed over HTTP")
    p.add_argument("--data-dir")
    args = p.parse_args()
    import numpy as np
    from scratchnet.apps.inference import Predictor
    from scratchnet.apps.learning import Learner
    from scratchnet.core.training import warm_up
    from scratchnet.data.mnist import load_mnist, to_input
    from scratchnet.data.preprocess import to_mnist
    from synthetic.userstyle import STYLES, stylise

    header("learning from corrections")
    data = load_mnist(args.data_dir, progress=False)
    predictor = Predictor.load(args.model)
    rng = np.random.default_rng(2027)
    pool = rng.choice(len(data.test_images), size=args.pool, replace=False)
    start = time.perf_counter()
    pictures = np.stack([to_mnist(stylise(data.test_images[i], STYLES[n % len(STYLES)], rng))
                         for n, i in enumerate(pool)])
    labels = data.test_labels[pool]
    all_wrong = np.flatnonzero(predictor.model.predict(pictures[:, None]) != labels)
    wrong = all_wrong[:args.corrections]
    print(f"{len(pool):,} user-style pictures of MNIST test digits ({time.perf_counter() - start:.0f} s to make): "
          f"the model gets {len(all_wrong)} wrong; the first {len(wrong)} are corrected, once each")
    fresh_rng = np.random.default_rng(99)        # the same digits, drawn again in new styles
    fresh = np.stack([to_mnist(stylise(data.test_images[pool[i]], STYLES[(k + 3) % len(STYLES)], fresh_rng))
                      for k, i in enumerate(wrong)])
    test_x, test_y = to_input(data.test_images), data.test_labels

    def accuracy(model, x, y):
        return float((model.predict(x[:, None] if x.ndim == 3 else x) == y).mean())

    with tempfile.TemporaryDirectory() as tmp:
        learner = Learner(predictor, data.train_images, data.train_labels, Path(tmp) / "corrections",
                          Path(tmp) / "learned.npz", max_corrections=len(wrong) + 1)
        warm_up(learner.network)
        before = {"corrected pictures": accuracy(predictor.model, pictures[wrong], labels[wrong]),
                  "fresh pictures of the same digits": accuracy(predictor.model, fresh, labels[wrong]),
                  "MNIST test set": accuracy(predictor.model, test_x, test_y)}
        seconds, steps, fixed = [], [], 0
        for i in wrong:
            _, after = learner.correct(pictures[i].astype(np.float32), int(labels[i]))
            fixed += after.digit == labels[i]
            seconds.append(learner.last_seconds)
            steps.append(learner.last_steps)
        model = learner.predictor.model
        after = {"corrected pictures": accuracy(model, pictures[wrong], labels[wrong]),
                 "fresh pictures of the same digits": accuracy(model, fresh, labels[wrong]),
                 "MNIST test set": accuracy(model, test_x, test_y)}
        print(f"\nright at once after its own correction: {fixed} of {len(wrong)}; SGD steps per correction: "
              f"median {np.median(steps):.0f}, fine-tuning {np.median(seconds) * 1e3:.0f} ms median")
        print(f"\n{'accuracy on':36s} {'before':>8s} {f'after {len(wrong)} corrections':>22s}")
        for k in before:
            print(f"{k:36s} {before[k]:8.2%} {after[k]:22.2%}")
        print(f"MNIST test accuracy lost: {100 * (before['MNIST test set'] - after['MNIST test set']):.2f} points")

        # click to answer, over HTTP, as the page does it
        server = subprocess.Popen([sys.executable, "-m", "scratchnet.serve", "--model", args.model, "--port", "0",
                                   "--learn", "--corrections", str(Path(tmp) / "http"), "--save-to",
                                   str(Path(tmp) / "http.npz")] + (["--data-dir", args.data_dir] if args.data_dir else []),
                                  stdout=subprocess.PIPE, text=True, cwd=ROOT)
        try:
            line = ""
            while not line.startswith("Serving"):
                line = server.stdout.readline()
            port = int(line.split("127.0.0.1:")[1].split("/")[0])
            from PIL import Image
            clicks = []
            for i in wrong[:args.clicks]:
                buf = io.BytesIO()
                Image.fromarray(255 - (pictures[i] * 255).astype(np.uint8)).resize((280, 280)).save(buf, format="PNG")
                body = json.dumps({"image": base64.b64encode(buf.getvalue()).decode(), "label": int(labels[i])})
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                start = time.perf_counter()
                conn.request("POST", "/api/correct", body, {"Content-Type": "application/json"})
                answer = json.loads(conn.getresponse().read())
                clicks.append(time.perf_counter() - start)
                conn.close()
                assert "after" in answer, answer
            ms = np.array(clicks) * 1e3
            print(f"\nclick to new answer over HTTP ({len(ms)} corrections of a 280x280 canvas PNG): "
                  f"median {np.median(ms):.0f} ms, p90 {np.percentile(ms, 90):.0f} ms, max {ms.max():.0f} ms")
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
