"""Command: the draw-a-digit web demo on http://127.0.0.1:8000/.

    python -m scratchnet.serve [--model models/mnist_cnn.npz] [--host 127.0.0.1] [--port 8000]

Argument parsing and printing only; the server is scratchnet/apps/server.py.
"""
from .cli import Parser, port_number, positive_int, run
from .errors import ScratchnetError


def main(argv=None):
    from .apps.server import MAX_BYTES
    p = Parser(prog="python -m scratchnet.serve", description="scratchnet web demo")
    p.add_argument("--model", default="models/mnist_cnn.npz")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0 exposes it to the network)")
    p.add_argument("--port", type=port_number, default=8000, help="0 picks a free port")
    p.add_argument("--max-bytes", type=positive_int, default=MAX_BYTES, help="largest request body accepted")
    p.add_argument("--verbose", action="store_true", help="log every request")
    args = p.parse_args(argv)
    from .apps.server import make_server
    from .core.model import load_model
    model = load_model(args.model)
    try:
        server = make_server(model, args.host, args.port, args.max_bytes, args.verbose)
    except (OSError, OverflowError) as e:
        raise ScratchnetError(f"cannot listen on {args.host}:{args.port} ({getattr(e, 'strerror', None) or e})") from None
    host, port = server.server_address[:2]
    print(f"Serving the scratchnet demo on http://{host}:{port}/ (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    run(main, prog="scratchnet.serve")
