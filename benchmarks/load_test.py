"""Load test of the web demo on 127.0.0.1: N requests from C concurrent clients.

    python benchmarks/load_test.py [--model models/mnist_cnn.npz] [--requests 2000] [--clients 8]

Starts `python -m scratchnet.serve --port 0` as its own process, sends a 280x280 canvas-style
PNG of a digit to POST /api/predict, and prints requests/s, latency percentiles and errors.
Bounded: a fixed number of requests and a 300 s time limit; it stops the server itself.
"""
import argparse
import http.client
import io
import subprocess
import sys
import threading
import time

from common import ROOT, header


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(ROOT / "models" / "mnist_cnn.npz"))
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--data-dir")
    args = p.parse_args()
    import numpy as np
    from PIL import Image
    from scratchnet.data.mnist import load_mnist

    header(f"web demo load test: {args.requests} requests, {args.clients} concurrent clients")
    digit = load_mnist(args.data_dir, progress=False).test_images[0]
    canvas = Image.fromarray(255 - digit).resize((280, 280), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    canvas.save(buf, format="PNG")
    body = buf.getvalue()

    server = subprocess.Popen([sys.executable, "-m", "scratchnet.serve", "--model", args.model,
                               "--port", "0"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        line = server.stdout.readline()
        port = int(line.split("127.0.0.1:")[1].split("/")[0])
        latencies, errors, lock = [], [], threading.Lock()
        counter = iter(range(args.requests))
        deadline = time.monotonic() + 300

        def client():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            while time.monotonic() < deadline:
                with lock:
                    if next(counter, None) is None:
                        break
                start = time.perf_counter()
                try:
                    conn.request("POST", "/api/predict", body, {"Content-Type": "image/png"})
                    res = conn.getresponse()
                    res.read()
                    ok = res.status == 200
                except (OSError, http.client.HTTPException) as e:
                    ok = False
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    res = e
                elapsed = time.perf_counter() - start
                with lock:
                    (latencies if ok else errors).append(elapsed if ok else repr(res))
            conn.close()

        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(timeout=10)
    lat = np.array(latencies) * 1e3
    print(f"PNG body {len(body):,} bytes (280x280 canvas)")
    print(f"{len(lat)} ok, {len(errors)} errors in {wall:.2f} s = {len(lat) / wall:,.0f} requests/s")
    if len(lat):
        print("latency ms: p50 {:.1f}  p90 {:.1f}  p99 {:.1f}  max {:.1f}".format(
            *np.percentile(lat, [50, 90, 99]), lat.max()))
    if errors:
        print("first error:", errors[0])
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
