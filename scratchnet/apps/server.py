"""The web demo's server: draw a digit in the browser, watch the prediction change.
(Started by `python -m scratchnet.serve`, see scratchnet/serve.py.)

GET  /              the page (scratchnet/apps/web/index.html): canvas, clear, upload, live top-3,
                    a probability bar per digit, and the 28x28 image the network saw
POST /api/predict   body: a PNG (Content-Type: image/png, or any image/*), or JSON
                    {"image": "<base64 PNG or data: URL>"}; answers
                    {"digit", "confidence", "probabilities", "top3", "input_png"} (the same
                    fields as predict.py --json, from the same code: apps/inference.py)
GET  /api/health    {"status": "ok"}
Standard library only (ThreadingHTTPServer: one thread per request). Bad requests get a 4xx
JSON {"error": ...}; nothing a client sends can stop the server. Binds to localhost unless
told otherwise. The forward pass runs on the NumPy kernels under a lock (layers keep per-call
state), which costs ~1 ms per image.
"""
import base64
import binascii
import io
import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ..data.preprocess import save_digit_png
from ..errors import ImageError
from .inference import classify, read_picture

PAGE = Path(__file__).with_name("web") / "index.html"
MAX_BYTES = 5 * 1024 * 1024
DRAIN_LIMIT = 64 * 1024 * 1024   # oversized bodies up to this are read (and dropped) before the 413


class RequestError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class DemoServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128  # the default 5 makes a burst of clients wait 1 s for a SYN retry

    def __init__(self, address, model, max_bytes=MAX_BYTES, verbose=False):
        super().__init__(address, DemoHandler)
        self.model, self.max_bytes, self.verbose = model, max_bytes, verbose
        self.model_lock = threading.Lock()
        self.page = PAGE.read_bytes()

    def predict(self, data):
        """PNG bytes -> the JSON-able answer (raises ImageError for a bad image)."""
        result = read_picture(io.BytesIO(data), name="uploaded image")
        if result.error is not None:
            raise ImageError(result.error)
        with self.model_lock:
            classify(self.model, [result])
        png = io.BytesIO()
        save_digit_png(result.input, png)
        answer = result.to_json()
        del answer["file"]
        answer["input_png"] = base64.b64encode(png.getvalue()).decode("ascii")
        return answer


class DemoHandler(BaseHTTPRequestHandler):
    server_version = "scratchnet-demo/1"
    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds a client may stall mid-request before its thread gives up

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, self.server.page, "text/html; charset=utf-8")
        elif path == "/api/health":
            self._json(HTTPStatus.OK, {"status": "ok"})
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no such page: {path}"})

    def do_POST(self):
        try:
            if self.path.split("?", 1)[0] != "/api/predict":
                raise RequestError(HTTPStatus.NOT_FOUND, f"no such endpoint: {self.path}")
            self._json(HTTPStatus.OK, self.server.predict(self._image_bytes()))
        except RequestError as e:
            self._json(e.status, {"error": str(e)})
        except ImageError as e:
            self._json(HTTPStatus.BAD_REQUEST, {"error": str(e)})
        except Exception as e:  # never let one request take the server down
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"{type(e).__name__}: {e}"})

    def _image_bytes(self):
        length = self.headers.get("Content-Length")
        if length is None:
            raise RequestError(HTTPStatus.LENGTH_REQUIRED, "Content-Length required")
        try:
            length = int(length)
        except ValueError:
            length = -1
        if length < 0:
            raise RequestError(HTTPStatus.BAD_REQUEST, "bad Content-Length")
        if length > self.server.max_bytes:
            self.close_connection = True
            if length <= DRAIN_LIMIT:   # read and drop it, so the client gets to read our answer
                self._discard(length)   # instead of a broken pipe while it is still sending
            raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                               f"request body of {length:,} bytes exceeds {self.server.max_bytes:,}")
        body = self.rfile.read(length)
        kind = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if kind == "application/json":
            try:
                payload = json.loads(body)
                image = payload["image"]
                if "," in image and image.startswith("data:"):
                    image = image.split(",", 1)[1]
                return base64.b64decode(image, validate=True)
            except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
                raise RequestError(HTTPStatus.BAD_REQUEST,
                                   'malformed JSON: expected {"image": "<base64 PNG>"}') from None
        if kind.startswith("image/") or kind == "application/octet-stream":
            return body
        raise RequestError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                           f"send a PNG (Content-Type: image/png) or JSON, not {kind or 'no type'}")

    def _discard(self, length, chunk=1 << 16):
        while length > 0:
            got = len(self.rfile.read(min(chunk, length)))
            if not got:
                return
            length -= got

    def _json(self, status, obj):
        self._send(status, json.dumps(obj).encode(), "application/json")

    def _send(self, status, body, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        if self.server.verbose:
            super().log_message(fmt, *args)


def make_server(model, host="127.0.0.1", port=8000, max_bytes=MAX_BYTES, verbose=False):
    """A DemoServer bound to (host, port); serve_forever() runs it. Port 0 picks a free one."""
    return DemoServer((host, port), model, max_bytes, verbose)
