"""The static demo page (python -m scratchnet.export --web): how much it weighs, and how long the
page takes to answer a drawing, measured in headless Chromium on this machine.

    python benchmarks/bench_web.py [--model models/mnist_cnn.npz] [--repeats 100]

The answer time is preprocessing (both views) + predict of the canvas as it is after the last
stroke (what the page runs then), median and 90th percentile of `--repeats` runs, for five
drawings; and for a small 7, whose pen is fat for its size: preprocessing thins it, so it is
scored by two views (docs/openset.md).
Needs Chromium and ChromeDriver (Debian: apt-get install chromium chromium-driver).
"""
import argparse
import functools
import http.server
import shutil
import sys
import tempfile
import threading

from common import ROOT, header


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(ROOT / "models" / "mnist_cnn.npz"))
    p.add_argument("--repeats", type=int, default=100)
    args = p.parse_args()
    import numpy as np
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from scratchnet.apps.web_export import export_web
    sys.path.insert(0, str(ROOT / "tests"))
    from test_web import QuietHandler, digit_strokes, replay

    chromium, driver_path = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
    if not (chromium and driver_path):
        sys.exit("bench_web.py needs Chromium and ChromeDriver (apt-get install chromium chromium-driver)")
    header("the static demo page: weight and answer time in the browser")
    with tempfile.TemporaryDirectory() as site:
        sizes = export_web(args.model, site)
        print("page weight: " + ", ".join(f"{name} {size:,} B" for name, size in sizes.items())
              + f"; {sum(sizes.values()):,} B in all")
        handler = functools.partial(QuietHandler, directory=site)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--window-size=1200,800"):
            options.add_argument(flag)
        browser = webdriver.Chrome(service=Service(driver_path), options=options)
        try:
            browser.get(f"http://127.0.0.1:{server.server_address[1]}/")
            browser.execute_async_script("const done = arguments[0]; (function wait() { if (window.scratchnet && "
                                         "scratchnet.ready) scratchnet.ready.then(done); else setTimeout(wait, 20); })();")
            print(f"Chromium {browser.capabilities.get('browserVersion')}; per drawing, views (preprocessing) + predict of the "
                  f"280x280 canvas, {args.repeats} runs:")
            medians = []
            rng = np.random.default_rng(0)
            drawings = [(f"a drawn {d}", digit_strokes(d, rng)) for d in (0, 2, 4, 7, 8)]
            drawings.append(("a small 7, thinned", [s * 0.35 for s in digit_strokes(7, rng)]))
            for name, strokes in drawings:
                browser.find_element("id", "clear").click()
                replay(browser, strokes)
                times, thinned = browser.execute_script(
                    "const c = document.getElementById('canvas').getContext('2d'), t = []; let v;"
                    "for (let i = 0; i < arguments[0]; i++) { const t0 = performance.now();"
                    "  v = scratchnet.views(c.getImageData(0, 0, 280, 280)); scratchnet.predict(v.pixels, v.asDrawn);"
                    "  t.push(performance.now() - t0); } return [t, v.asDrawn !== null];", args.repeats)
                if name.endswith("thinned") and not thinned:
                    sys.exit("the small 7 was not thinned: the page's pen or its preprocessing changed")
                if not name.endswith("thinned"):
                    medians.append(np.median(times))
                print(f"  {name}: median {np.median(times):.1f} ms, p90 {np.percentile(times, 90):.1f} ms")
            print(f"answer time, median of the five drawings' medians: {np.median(medians):.1f} ms")
        finally:
            browser.quit()
            server.shutdown()


if __name__ == "__main__":
    main()
