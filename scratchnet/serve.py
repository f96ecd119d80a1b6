"""Command: the draw-a-digit web demo on http://127.0.0.1:8000/.

    python -m scratchnet.serve [--model models/mnist_cnn.npz] [--host 127.0.0.1] [--port 8000]
    python -m scratchnet.serve --learn [--corrections corrections/] [--save-to MODEL]

With --learn the page offers "Wrong? It was: ..." and the network learns each correction on
the spot (scratchnet/apps/learning.py): corrections are kept in a folder, the fine-tuned
model in its own file (default: the model's name + ".learned.npz"), never over --model unless
--save-to says so. Started again with the same folder and file, it resumes where it stopped.
Argument parsing and printing only; the server is scratchnet/apps/server.py.
"""
from pathlib import Path

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
    args = p.parse_args(argv)
    from .apps.inference import Predictor
    from .apps.server import make_server
    learner = None
    if args.learn:
        learner = start_learning(args)
        predictor = learner.predictor
    else:
        predictor = Predictor.load(args.model)
    try:
        server = make_server(predictor, args.host, args.port, args.max_bytes, args.verbose, learner)
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


def start_learning(args):
    """A Learner for --learn: resumes from --save-to if it exists; MNIST for the replay."""
    from .apps.inference import Predictor
    from .apps.learning import Learner
    from .core.training import warm_up
    from .data.mnist import load_mnist
    model = Path(args.model)
    save_to = Path(args.save_to) if args.save_to else model.with_name(model.stem + ".learned.npz")
    corrections = Path(args.corrections)
    if corrections.exists() and not corrections.is_dir():
        raise ScratchnetError(f"--corrections {corrections} is a file, not a folder")
    resume = save_to.exists()
    predictor = Predictor.load(save_to if resume else model)
    data = load_mnist(args.data_dir, progress=False)
    learner = Learner(predictor, data.train_images, data.train_labels, corrections, save_to,
                      max_corrections=args.max_corrections)
    warm_up(learner.network)   # compile the training kernels now, not on the first correction
    print(f"Learning: corrections go to {corrections}/ ({learner.stored} there), the fine-tuned "
          f"model to {save_to}" + (" (resumed from it)" if resume else ""), flush=True)
    return learner


if __name__ == "__main__":
    run(main, prog="scratchnet.serve")
