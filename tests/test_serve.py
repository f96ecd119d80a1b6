"""The web demo's HTTP API, on a real server on 127.0.0.1."""
import base64
import http.client
import json
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from scratchnet.apps.inference import Predictor
from scratchnet.apps.server import make_server


@pytest.fixture(scope="module")
def server(model_file):
    srv = make_server(Predictor.load(model_file), port=0, max_bytes=2_000_000)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def seven(mnist):
    import io

    import numpy as np
    from synthetic.userstyle import stylise
    buf = io.BytesIO()
    stylise(mnist.test_images[0], "ink_on_paper", np.random.default_rng(0)).save(buf, format="PNG")
    return buf.getvalue()


def request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    res = conn.getresponse()
    data = res.read()
    conn.close()
    return res.status, res.getheader("Content-Type"), data


def post_png(port, png):
    status, _, data = request(port, "POST", "/api/predict", png, {"Content-Type": "image/png"})
    return status, json.loads(data)


def test_page_has_canvas_clear_upload_and_bars(server):
    status, kind, html = request(server, "GET", "/")
    assert status == 200 and kind.startswith("text/html")
    for element in (b'id="canvas"', b'id="clear"', b'id="upload"', b'id="bars"', b'id="seen"',
                    b'id="top3"', b"/api/predict"):
        assert element in html


def test_predict_png(server, seven):
    status, answer = post_png(server, seven)
    assert status == 200
    assert answer["digit"] == 7 and answer["confidence"] > 0.5
    assert len(answer["probabilities"]) == 10 and abs(sum(answer["probabilities"]) - 1) < 1e-5
    assert [d for d, _ in answer["top3"]][0] == 7
    assert base64.b64decode(answer["input_png"])[:4] == b"\x89PNG"


@pytest.mark.parametrize("prefix", ["", "data:image/png;base64,"])
def test_predict_json_base64(server, seven, prefix):
    body = json.dumps({"image": prefix + base64.b64encode(seven).decode()})
    status, _, data = request(server, "POST", "/api/predict", body, {"Content-Type": "application/json"})
    assert status == 200 and json.loads(data)["digit"] == 7


@pytest.mark.parametrize("body,kind,status,message", [
    (b"{not json", "application/json", 400, "malformed JSON"),
    (b'{"picture": 1}', "application/json", 400, "malformed JSON"),
    (b'{"image": "%%%"}', "application/json", 400, "malformed JSON"),
    (b"GIF89a not really", "image/png", 400, "not an image"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png", 400, "broken or truncated"),
    (b"hello", "text/plain", 415, "send a PNG"),
])
def test_bad_requests_get_a_4xx_and_a_message(server, body, kind, status, message):
    got, ctype, data = request(server, "POST", "/api/predict", body, {"Content-Type": kind})
    assert got == status and ctype == "application/json"
    assert message in json.loads(data)["error"]


def test_blank_drawing(server):
    import io

    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (280, 280), "white").save(buf, format="PNG")
    status, answer = post_png(server, buf.getvalue())
    assert status == 400 and "no digit found" in answer["error"]


def test_body_too_large_is_refused(server):
    for _ in range(3):   # the client always gets to read the answer (no broken pipe)
        status, answer = post_png(server, b"\x00" * 2_500_000)
        assert status == 413 and "exceeds" in answer["error"]


def test_huge_declared_body_is_refused_without_reading_it(server):
    status, answer = raw_request(server, b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                         b"image/png\r\nContent-Length: 1000000000000\r\n\r\n")
    assert status == 413 and "exceeds" in answer["error"]


def test_unknown_paths(server):
    assert request(server, "GET", "/nope")[0] == 404
    assert request(server, "POST", "/api/other", b"x", {"Content-Type": "image/png"})[0] == 404
    assert json.loads(request(server, "GET", "/api/health")[2]) == {"status": "ok"}


def test_many_concurrent_requests_agree(server, seven):
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: post_png(server, seven), range(48)))
    assert all(status == 200 for status, _ in answers)
    assert len({json.dumps(a["probabilities"]) for _, a in answers}) == 1   # no cross-talk


def test_command_line_server_starts_and_binds_localhost(model_file):
    proc = subprocess.Popen([sys.executable, "-m", "scratchnet.serve", "--model", str(model_file),
                             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("Serving the scratchnet demo on http://127.0.0.1:")
        port = int(line.split(":")[2].split("/")[0])
        assert request(port, "GET", "/api/health")[0] == 200
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_command_line_server_missing_model(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "scratchnet.serve", "--model", str(tmp_path / "m.npz"),
                           "--port", "0"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "no model at" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def raw_request(port, head):
    """Send hand-written request headers; return (status, parsed JSON body)."""
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        res = http.client.HTTPResponse(sock)
        res.begin()
        return res.status, json.loads(res.read())


@pytest.mark.parametrize("length", ["-5", "abc"])
def test_bad_content_length(server, length):
    status, answer = raw_request(server, f"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                         f"image/png\r\nContent-Length: {length}\r\n\r\n".encode())
    assert status == 400 and "bad Content-Length" in answer["error"]


def test_missing_content_length(server):
    status, answer = raw_request(server, b"POST /api/predict HTTP/1.1\r\nHost: x\r\n"
                                         b"Content-Type: image/png\r\n\r\n")
    assert status == 411 and "Content-Length required" in answer["error"]


def test_command_line_server_port_in_use(model_file, server):
    proc = subprocess.run([sys.executable, "-m", "scratchnet.serve", "--model", str(model_file),
                           "--port", str(server)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1
    assert f"cannot listen on 127.0.0.1:{server}" in proc.stderr
