"""Command: the draw-a-digit web demo on http://127.0.0.1:8000/.

    python -m scratchnet.serve [--model models/mnist_cnn.npz] [--host 127.0.0.1] [--port 8000]
    python -m scratchnet.serve --learn [--corrections corrections/] [--save-to MODEL]

With --learn the page offers "Wrong? It was: ..." and the network learns each correction on
the spot (scratchnet/apps/learning.py): corrections are kept in a folder, the fine-tuned
model in its own file (default: the model's name + ".learned.npz"), never over --model unless
--save-to says so. Started again with the same folder and file, it resumes where it stopped,
if that file was fine-tuned from the same --model (its checksum is recorded in it).
Argument parsing and printing only; the server is scratchnet/apps/server.py.
"""
from .cli import Parser, port_number, positive_int, run
from .errors import ScratchnetError


def main(argv=None):
    from .apps.server import MAX_BYTES, PER_MINUTE
    p = Parser(prog="python -m scratchnet.serve", description="scratchnet web demo")
    p.add_argument("--model", default="models/mnist_cnn.npz", help="model file written by train.py")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0 exposes it to the network)")
    p.add_argument("--port", type=port_number, default=8000, help="0 picks a free port")
    p.add_argument("--max-bytes", type=positive_int, default=MAX_BYTES, help="largest request body accepted")
    p.add_argument("--verbose", action="store_true", help="log every request")
    p.add_argument("--learn", action="store_true",
                   help="let the page correct wrong answers: the network fine-tunes on each correction")
    p.add_argument("--corrections", default="corrections", metavar="DIR",
                   help="with --learn: where corrections are kept (PNGs and labels.csv)")
    p.add_argument("--save-to", metavar="MODEL",
                   help="with --learn: the fine-tuned model's file (default: MODEL.learned.npz beside --model)")
    p.add_argument("--max-corrections", type=positive_int, default=1000,
                   help="with --learn: the most corrections the folder keeps")
    p.add_argument("--data-dir", help="with --learn: the MNIST folder, for the replayed training "
                                      "images (default: as train.py finds it)")
    p.add_argument("--token", help="with --learn: the secret a correction must carry (default: none on "
                                   "127.0.0.1; made up and printed in the page's link on any other --host)")
    p.add_argument("--per-minute", type=positive_int, default=PER_MINUTE,
                   help="with --learn: corrections accepted a minute at most")
    args = p.parse_args(argv)
    from .apps.inference import Predictor
    from .apps.server import is_loopback, make_server
    learner = None
    if args.learn:
        from .apps.learning import start_learning
        learner, note = start_learning(args.model, args.save_to, args.corrections, args.data_dir,
                                       args.max_corrections)
        print(note, flush=True)
        predictor = learner.predictor
    else:
        predictor = Predictor.load(args.model)
    token = args.token
    if learner is not None and token is None and not is_loopback(args.host):
        import secrets
        token = secrets.token_urlsafe(12)   # anyone who can reach the port could rewrite the model
    try:
        server = make_server(predictor, args.host, args.port, args.max_bytes, args.verbose, learner,
                             teach_token=token if learner is not None else None, per_minute=args.per_minute)
    except (OSError, OverflowError) as e:
        raise ScratchnetError(f"cannot listen on {args.host}:{args.port} ({getattr(e, 'strerror', None) or e})") from None
    host, port = server.server_address[:2]
    link = f"http://{host}:{port}/" + (f"?token={token}" if learner is not None and token else "")
    print(f"Serving the scratchnet demo on {link} (Ctrl-C to stop)", flush=True)
    if learner is not None and token:
        print("Teaching it needs the token in that link: share the link only with those who may",
              flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    run(main, prog="scratchnet.serve")
