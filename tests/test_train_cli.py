"""train.py end to end through a subprocess: output, files, report, and one-line errors."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_train(*args, cwd=ROOT, env=None, timeout=300):
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, mnist_dir):
    out = tmp_path_factory.mktemp("train")
    proc = run_train("--data-dir", str(mnist_dir), "--epochs", "2", "--limit", "3000",
                     "--test-limit", "500", "--model", str(out / "m.npz"),
                     "--report-dir", str(out / "report"), "--seed", "1")
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_train_prints_summary_epochs_and_result(trained):
    out, proc = trained
    assert "total parameters: 542,230" in proc.stdout
    assert "epoch  1/2" in proc.stdout and "epoch  2/2" in proc.stdout and "val loss" in proc.stdout
    assert "test accuracy" in proc.stdout and f"model saved to {out / 'm.npz'}" in proc.stdout
    assert (out / "m.npz").is_file()


def test_report_files_are_valid(trained):
    out, _ = trained
    report = out / "report"
    metrics = json.loads((report / "metrics.json").read_text())
    assert 0.8 < metrics["test_accuracy"] <= 1
    assert len(metrics["history"]) == 2 and "seconds" in metrics["history"][0]
    assert len(metrics["confusion_matrix"]) == 10 and sum(map(sum, metrics["confusion_matrix"])) == 500
    assert len(metrics["per_class"]) == 10 and {"precision", "recall", "f1"} <= set(metrics["per_class"][0])
    assert metrics["seed"] == 1 and "numba" in metrics["versions"] and "train.py" in metrics["command"]
    for png in ("confusion_matrix.png", "misclassified.png", "training_curves.png"):
        data = (report / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    md = (report / "report.md").read_text()
    assert "Test accuracy" in md and "confusion_matrix.png" in md and "↔" in md


def test_evaluate_rebuilds_the_report_without_training(trained, mnist_dir, tmp_path):
    out, _ = trained
    proc = run_train("--data-dir", str(mnist_dir), "--evaluate", str(out / "m.npz"),
                     "--test-limit", "500", "--report-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    first = json.loads((out / "report" / "metrics.json").read_text())
    again = json.loads((tmp_path / "metrics.json").read_text())
    assert again["test_accuracy"] == first["test_accuracy"]
    assert again["history"] == first["history"]
    assert (tmp_path / "training_curves.png").is_file()


def one_line_error(proc, code=1):
    assert proc.returncode == code
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def test_bad_data_dir(tmp_path):
    line = one_line_error(run_train("--data-dir", str(tmp_path / "nowhere")))
    assert "does not exist" in line


def test_data_dir_with_a_corrupt_file(tmp_path, mnist_dir):
    for f in mnist_dir.glob("*.gz"):
        (tmp_path / f.name).write_bytes(f.read_bytes())
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b garbage")
    line = one_line_error(run_train("--data-dir", str(tmp_path)))
    assert "t10k-images-idx3-ubyte.gz" in line and "gzip" in line


def test_missing_model_to_evaluate(tmp_path, mnist_dir):
    line = one_line_error(run_train("--data-dir", str(mnist_dir), "--evaluate", str(tmp_path / "x.npz")))
    assert "no model at" in line


def test_diverging_training_saves_nothing(tmp_path, mnist_dir):
    line = one_line_error(run_train("--data-dir", str(mnist_dir), "--limit", "2000", "--lr", "50",
                                    "--model", str(tmp_path / "m.npz"), "--report-dir", str(tmp_path / "r")))
    assert "diverged" in line
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize("args", [["--epochs", "0"], ["--lr", "-1"], ["--momentum", "1.5"],
                                  ["--val-split", "1"], ["--bogus"], ["--batch-size", "x"]])
def test_bad_options_are_refused_in_one_line(args):
    line = one_line_error(run_train(*args), code=2)
    assert "error" in line


def test_report_has_filters_and_feature_maps(trained):
    out, _ = trained
    for png in ("filters.png", "feature_maps.png"):
        assert (out / "report" / png).read_bytes()[:4] == b"\x89PNG"
    assert "filters.png" in (out / "report" / "report.md").read_text()


def test_mlp_with_augmentation_and_plots_every_epoch(tmp_path, mnist_dir):
    proc = run_train("--data-dir", str(mnist_dir), "--arch", "mlp", "--augment", "--epochs", "2",
                     "--limit", "2000", "--test-limit", "300", "--model", str(tmp_path / "mlp.npz"),
                     "--report-dir", str(tmp_path / "r"), "--plots-every-epoch")
    assert proc.returncode == 0, proc.stderr
    assert "total parameters: 79,510" in proc.stdout
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["config"]["arch"] == "mlp" and metrics["config"]["augment"] is True
    assert not (tmp_path / "r" / "epochs").exists()   # an MLP has no conv filters to show
    assert not (tmp_path / "r" / "filters.png").exists()


def test_plots_every_epoch_for_the_cnn(tmp_path, mnist_dir):
    proc = run_train("--data-dir", str(mnist_dir), "--epochs", "2", "--limit", "1000",
                     "--test-limit", "200", "--model", str(tmp_path / "m.npz"),
                     "--report-dir", str(tmp_path / "r"), "--plots-every-epoch")
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in (tmp_path / "r" / "epochs").iterdir())
    assert names == ["feature_maps_epoch01.png", "feature_maps_epoch02.png",
                     "filters_epoch01.png", "filters_epoch02.png"]


def test_unwritable_model_path_is_one_line(tmp_path, mnist_dir):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    line = one_line_error(run_train("--data-dir", str(mnist_dir), "--epochs", "1", "--limit", "500",
                                    "--test-limit", "100", "--model", str(blocker / "m.npz"),
                                    "--report-dir", str(tmp_path / "r")))
    assert "not a directory" in line.lower()          # said before training, not after it


def test_ctrl_c_saves_the_last_finished_epoch(tmp_path, mnist_dir):
    import signal
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), "--data-dir", str(mnist_dir),
                             "--epochs", "1000", "--limit", "3000", "--test-limit", "200",
                             "--model", str(tmp_path / "m.npz"), "--report-dir", str(tmp_path / "r")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            # Ctrl-C as in a terminal, even if this suite was started in the
                            # background (whose children inherit SIGINT ignored)
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    for line in proc.stdout:
        if line.startswith("epoch  2/1000"):
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "interrupted: saved the model of epoch" in err and "Traceback" not in err
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert len(metrics["history"]) >= 2 and metrics["interrupted"] is True
    from scratchnet import load_model
    _, meta = load_model(tmp_path / "m.npz", return_metadata=True)
    assert len(meta["history"]) == len(metrics["history"])
    # predict.py says why this model has no detector (not "trained before scratchnet 0.2")
    proc = subprocess.run([sys.executable, str(ROOT / "predict.py"), "--image", str(ROOT / "docs" / "five_photo.png"),
                           "--model", str(tmp_path / "m.npz")], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0 and "interrupted before the detector was fitted" in proc.stderr


GIVE_BACK = """
import sys
from scratchnet.cli import give_back_freed_memory
def rss_mb():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
blocks = [bytearray(64 << 10) for _ in range(3000)]   # ~190 MB of heap (below mmap's threshold)
pin = blocks[-1]                                       # the top stays in use: free() cannot shrink
del blocks                                             # the heap, the holes below it stay resident
before = rss_mb()
print(give_back_freed_memory(), before, rss_mb())
"""


def test_freed_heap_memory_is_given_back_to_the_os():
    # what train.py calls before the detector and the report (to keep its peak memory down)
    import platform
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        pytest.skip("malloc_trim is glibc's: elsewhere give_back_freed_memory() returns False")
    proc = subprocess.run([sys.executable, "-c", GIVE_BACK], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    gave, before, after = proc.stdout.split()
    assert gave == "True"
    assert float(before) - float(after) > 100, proc.stdout    # MB handed back


def test_validation_scores_the_weights_that_are_saved(tmp_path, mnist_dir, mnist):
    """--augment keeps a weight average: what each epoch validates is what the file holds
    (it validated the last step's weights and saved an average still 96% initial weights)."""
    proc = run_train("--data-dir", str(mnist_dir), "--augment", "--epochs", "1", "--limit", "3000",
                     "--test-limit", "2000", "--model", str(tmp_path / "m.npz"), "--report-dir", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr
    from scratchnet import load_model
    from scratchnet.core.training import evaluate
    from scratchnet.data.mnist import split_validation, to_input
    model, meta = load_model(tmp_path / "m.npz", return_metadata=True)
    _, (val_x, val_y) = split_validation(mnist.train_images[:3000], mnist.train_labels[:3000], 0.1)
    _, saved_val_accuracy, _ = evaluate(model, val_x, val_y, prepare=to_input)
    printed = meta["history"][-1]["val_accuracy"]
    assert saved_val_accuracy == pytest.approx(printed, abs=1e-9)
    assert abs(meta["test_accuracy"] - printed) < 0.05 and meta["test_accuracy"] > 0.6


def test_a_run_says_where_it_writes_and_names_the_model_after_what_it_trains(tmp_path, mnist_dir, model_file):
    # model_file: the detector's pictures are drawn (and cached) once, whatever --limit says
    args = ["--data-dir", str(mnist_dir), "--arch", "mlp", "--epochs", "1", "--limit", "1000", "--test-limit", "200"]
    first = run_train(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "model : models/mnist_mlp.npz (creating models/)" in first.stdout
    assert "report: reports (creating reports/)" in first.stdout
    assert (tmp_path / "models" / "mnist_mlp.npz").is_file() and not (tmp_path / "models" / "mnist_cnn.npz").exists()
    assert "recipe: reference (1 epoch, " in first.stdout          # the epochs that run
    second = run_train(*args[:-4], "--limit", "1500", "--test-limit", "200", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "model : models/mnist_mlp.npz (replaces the model there: mlp, 1 epoch, limit 1,000, test accuracy" \
        in second.stdout
    assert "drawing and preprocessing" not in first.stdout + second.stdout   # cached, whatever the limit


def test_a_bad_output_path_fails_before_training_and_threads_are_capped(tmp_path, mnist_dir):
    proc = run_train("--data-dir", str(mnist_dir), "--threads", "4096", "--model", "README.md/x.npz")
    assert proc.returncode == 1 and "epoch" not in proc.stdout and "Traceback" not in proc.stderr
    cpus = len(os.sched_getaffinity(0))
    assert proc.stderr.strip().splitlines() == [
        f"train.py: note: --threads 4096 is more than the {cpus} CPUs this process may use; using {cpus}",
        "train.py: error: cannot write README.md/x.npz: README.md is a file, not a directory"]
    proc = run_train("--data-dir", str(mnist_dir), "--report-dir", "README.md")
    assert proc.returncode == 1 and proc.stderr.strip() == "train.py: error: cannot write README.md: it is a file"


@pytest.mark.parametrize("command", [["train.py"], ["predict.py"], ["-m", "scratchnet.serve"],
                                     ["-m", "scratchnet.export"], ["-m", "scratchnet.gradcheck"]])
def test_every_option_has_help_text(command):
    proc = subprocess.run([sys.executable, *command, "--help"], capture_output=True, text=True, cwd=ROOT,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    options = lines[next(i for i, l in enumerate(lines) if l.strip().startswith(("options:", "optional arguments:"))):]
    bare = [line for k, line in enumerate(options)
            if line.startswith("  -") and len(re.split(r"\s{2,}", line.strip())) == 1
            and not (k + 1 < len(options) and options[k + 1].startswith(" " * 8) and not options[k + 1].strip().startswith("-"))]
    assert not bare, f"options without help text: {bare}"


def test_fast_recipe_trains_its_network_on_every_image_and_says_so(mnist_dir, tmp_path):
    proc = run_train("--data-dir", str(mnist_dir), "--recipe", "fast", "--limit", "2000",
                     "--test-limit", "300", "--model", str(tmp_path / "fast.npz"),
                     "--report-dir", str(tmp_path / "report"))
    assert proc.returncode == 0, proc.stderr
    assert "total parameters: 215,194" in proc.stdout
    assert "validating on 0 (none held out)" in proc.stdout and "Adam lr 0.01 betas (0.7, 0.9)" in proc.stdout
    assert re.search(r"^test accuracy 0\.\d{4} on 300 images, [\d.]+ s after start", proc.stdout, re.M)
    assert re.search(r"^\(each picture's probabilities averaged over it and 4 copies moved one pixel; "
                     r"0\.\d{4} as they are\)", proc.stdout, re.M)
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.7 and len(metrics["history"]) == 1
    assert len(metrics["test_shifts"]) == 5 and metrics["test_accuracy_as_is"] > 0.7
    from scratchnet.core.model import load_model
    model, meta = load_model(tmp_path / "fast.npz", return_metadata=True)
    assert meta["config"]["arch"] == "fast" and "Adam" in meta["config"]["recipe"] and meta["config"]["test_shifts"]
    again = run_train("--data-dir", str(mnist_dir), "--evaluate", str(tmp_path / "fast.npz"), "--test-limit", "300",
                      "--report-dir", str(tmp_path / "again"))
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "again" / "metrics.json").read_text())["test_accuracy"] == metrics["test_accuracy"]


def test_augment_and_another_recipe_are_refused_together(mnist_dir):
    proc = run_train("--data-dir", str(mnist_dir), "--augment", "--recipe", "fast")
    assert proc.returncode == 2 and "--augment is --recipe augmented" in proc.stderr
    assert "Traceback" not in proc.stderr
