"""The web demo's server: draw a digit in the browser, watch the prediction change, correct
a wrong answer and watch the network learn it. (Started by `python -m scratchnet.serve`,
see scratchnet/serve.py.)

GET  /scratchnet.js the page's script (the same page runs without a server: apps/web_export.py)
GET  /              the page (scratchnet/apps/web/index.html): canvas, clear, upload, live top-3,
                    a probability bar per digit, the 28x28 image the network saw (or its
                    Grad-CAM overlay), "not a digit?", and "Wrong? It was: 0 1 ... 9"
GET  /api/config    {"learn", "learned", "stored", "open_set"}: what the page should offer
POST /api/predict   body: a PNG (Content-Type: image/png, or any image/*), or JSON
                    {"image": "<base64 PNG or data: URL>"}; answers {"digit", "confidence",
                    "is_digit", "digit_score", "probabilities", "top3", "input_png",
                    "gradcam_png"} (predict.py --json's fields, from the same code:
                    apps/inference.py); is_digit false: not a digit, "digit" the closest one
POST /api/correct   JSON {"image": "<base64 PNG>", "label": 0-9}, only with --learn (else
                    403): stores the correction and fine-tunes (apps/learning.py); answers
                    {"before": answer, "after": answer, "learned", "stored", "milliseconds"}.
                    With a teaching token (a server that listens beyond 127.0.0.1), only a
                    request whose X-Scratchnet-Token header carries it (403 without); at most
                    `per_minute` corrections a minute (429 beyond)
GET  /api/health    {"status": "ok"}
Standard library only (ThreadingHTTPServer: one thread per request). Bad requests get a 4xx
JSON {"error": ...}; nothing a client sends can stop the server. Binds to localhost unless
told otherwise.
"""
import base64
import binascii
import collections
import hmac
import io
import json
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from PIL import Image

from ..data.preprocess import save_digit_png
from ..errors import ImageError, ScratchnetError
from .inference import read_picture

PAGE = Path(__file__).with_name("web") / "index.html"
MAX_BYTES = 5 * 1024 * 1024
PER_MINUTE = 30   # corrections a minute at most: each fine-tunes the network for ~0.1 s
DRAIN_LIMIT = 64 * 1024 * 1024   # oversized bodies up to this are read (and dropped) before the 413


class RequestError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class DemoServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128  # the default 5 makes a burst of clients wait 1 s for a SYN retry

    def __init__(self, address, predictor, max_bytes=MAX_BYTES, verbose=False, learner=None,
                 teach_token=None, per_minute=PER_MINUTE):
        super().__init__(address, DemoHandler)
        self._predictor, self.learner = predictor, learner
        self.max_bytes, self.verbose = max_bytes, verbose
        self.teach_token, self.per_minute = teach_token, per_minute
        self._recent, self._recent_lock = collections.deque(), threading.Lock()
        self.page = PAGE.read_bytes()
        self.script = PAGE.with_name("scratchnet.js").read_bytes()   # the page's own code (static mode)

    def handle_error(self, request, client_address):
        """A client that went away mid-answer is not the server's error: no traceback."""
        import sys
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def check_token(self, token):
        """RequestError 403 unless the request carries the teaching token (if there is one)."""
        if self.teach_token is not None and not hmac.compare_digest(token or "", self.teach_token):
            raise RequestError(HTTPStatus.FORBIDDEN, "teaching this server needs its token: open the "
                                                     "link with ?token=... that it printed at start-up")

    def _take_slot(self):
        """RequestError 429 if per_minute corrections were learnt in the last minute."""
        now = time.monotonic()
        with self._recent_lock:
            while self._recent and now - self._recent[0] > 60:
                self._recent.popleft()
            if len(self._recent) >= self.per_minute:
                raise RequestError(HTTPStatus.TOO_MANY_REQUESTS,
                                   f"too many corrections: at most {self.per_minute} a minute")
            self._recent.append(now)

    @property
    def predictor(self):
        """What answers now: the learner's latest network when learning (swapped whole)."""
        return self.learner.predictor if self.learner is not None else self._predictor

    def config(self):
        learner = self.learner
        return {"learn": learner is not None, "learned": learner.learned if learner else 0,
                "stored": learner.stored if learner else 0,
                "open_set": self.predictor.openset is not None}

    def predict(self, data):
        """PNG bytes -> the JSON-able answer (raises ImageError for a bad image)."""
        result = read_picture(io.BytesIO(data), name="uploaded image")
        if result.error is not None:
            raise ImageError(result.error)
        predictor = self.predictor
        predictor.classify([result])
        return answer_json(result, predictor)

    def correct(self, data, label):
        """PNG bytes and the right digit -> before, after, and the learner's counts."""
        if self.learner is None:
            raise RequestError(HTTPStatus.FORBIDDEN, "learning is off: start the server with "
                                                     "`python -m scratchnet.serve --learn`")
        result = read_picture(io.BytesIO(data), name="uploaded image")
        if result.error is not None:
            raise ImageError(result.error)
        self._take_slot()
        start = time.perf_counter()
        before, after = self.learner.correct(result.input, label)
        milliseconds = (time.perf_counter() - start) * 1e3
        return {"before": answer_json(before, None), "after": answer_json(after, self.learner.predictor),
                "learned": self.learner.learned, "stored": self.learner.stored,
                "milliseconds": round(milliseconds, 1)}


def answer_json(prediction, predictor):
    """A Prediction as the API answers it: predict.py's JSON fields, the 28x28 input as a
    PNG and, given the predictor, the input with its Grad-CAM heat map over it."""
    answer = prediction.to_json()
    del answer["file"]
    answer["input_png"] = _png(save_digit_png, prediction.input)
    if predictor is not None:
        cam = predictor.gradcam(prediction.input, prediction.digit)
        answer["gradcam_png"] = None if cam is None else _png(_heat_png, prediction.input, cam)
    return answer


def _png(write, *args):
    buf = io.BytesIO()
    write(*args, buf)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _heat_png(digit, heat, f):
    """The digit in grey with the heat map over it: red where it is hot, yellow hottest."""
    grey = np.repeat(digit[..., None] * 0.6, 3, axis=2)
    colour = np.stack([np.clip(2 * heat, 0, 1), np.clip(2 * heat - 1, 0, 1), np.zeros_like(heat)], axis=2)
    alpha = (0.2 + 0.7 * heat)[..., None]
    Image.fromarray(np.round(255 * ((1 - alpha) * grey + alpha * colour)).astype(np.uint8)).save(f, format="PNG")


class DemoHandler(BaseHTTPRequestHandler):
    server_version = "scratchnet-demo/2"
    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds a client may stall mid-request before its thread gives up

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, self.server.page, "text/html; charset=utf-8")
        elif path == "/scratchnet.js":
            self._send(HTTPStatus.OK, self.server.script, "text/javascript; charset=utf-8")
        elif path == "/api/health":
            self._json(HTTPStatus.OK, {"status": "ok"})
        elif path == "/api/config":
            self._json(HTTPStatus.OK, self.server.config())
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no such page: {path}"})

    def do_POST(self):
        try:
            path = self.path.split("?", 1)[0]
            if path == "/api/predict":
                self._json(HTTPStatus.OK, self.server.predict(self._image_bytes()))
            elif path == "/api/correct":
                payload = self._json_body()
                label = payload.get("label")
                if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label <= 9:
                    raise RequestError(HTTPStatus.BAD_REQUEST, f"label must be a digit 0-9, got {label!r}")
                if self.server.learner is not None:
                    self.server.check_token(self.headers.get("X-Scratchnet-Token"))
                self._json(HTTPStatus.OK, self.server.correct(_decode_image(payload), label))
            else:
                raise RequestError(HTTPStatus.NOT_FOUND, f"no such endpoint: {self.path}")
        except RequestError as e:
            self._json(e.status, {"error": str(e)})
        except ImageError as e:
            self._json(HTTPStatus.BAD_REQUEST, {"error": str(e)})
        except ScratchnetError as e:     # e.g. the corrections folder is full
            self._json(HTTPStatus.CONFLICT, {"error": str(e)})
        except Exception as e:  # never let one request take the server down
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"{type(e).__name__}: {e}"})

    def _body(self):
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
        return self.rfile.read(length)

    def _kind(self):
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()

    def _json_body(self):
        body = self._body()
        if self._kind() != "application/json":
            raise RequestError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                               f"send JSON (Content-Type: application/json), not {self._kind() or 'no type'}")
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise RequestError(HTTPStatus.BAD_REQUEST, 'malformed JSON: expected {"image": "<base64 PNG>", ...}')
        return payload

    def _image_bytes(self):
        kind = self._kind()
        if kind == "application/json":
            return _decode_image(self._json_body())
        body = self._body()
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
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)
        except ConnectionError:   # the client went away: nothing to tell it
            self.close_connection = True

    def log_message(self, fmt, *args):
        if self.server.verbose:
            super().log_message(fmt, *args)


def _decode_image(payload):
    """The picture bytes of a JSON payload's "image" (base64, or a data: URL)."""
    try:
        image = payload["image"]
        if "," in image and image.startswith("data:"):
            image = image.split(",", 1)[1]
        return base64.b64decode(image, validate=True)
    except (KeyError, TypeError, AttributeError, binascii.Error, ValueError):
        raise RequestError(HTTPStatus.BAD_REQUEST,
                           'malformed JSON: expected {"image": "<base64 PNG>"}') from None


def make_server(predictor, host="127.0.0.1", port=8000, max_bytes=MAX_BYTES, verbose=False, learner=None,
                teach_token=None, per_minute=PER_MINUTE):
    """A DemoServer answering with `predictor` (apps.inference.Predictor), or with the latest
    network of `learner` (apps.learning.Learner) if given, bound to (host, port);
    serve_forever() runs it. Port 0 picks a free one. teach_token: the secret a correction
    must carry (None: none needed)."""
    return DemoServer((host, port), predictor, max_bytes, verbose, learner, teach_token, per_minute)


def is_loopback(host):
    """Whether `host` is an address only this machine can reach."""
    import ipaddress
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
