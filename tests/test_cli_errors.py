"""Every bad value a user can type is refused in one line, by every command, never with a
traceback: argparse's checks (exit 2) and what only shows once the value is used (exit 1)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TRAIN, PREDICT = [str(ROOT / "train.py")], [str(ROOT / "predict.py")]
SERVE, EXPORT = ["-m", "scratchnet.serve"], ["-m", "scratchnet.export"]


def run(args, env=None, timeout=120):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout, env=dict(os.environ, **(env or {})))


def one_line(proc, code):
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == code, proc.stderr
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


@pytest.mark.parametrize("command,args,message", [
    (TRAIN, ["--seed", "-1"], "train.py: error: argument --seed: must be at least 0, got -1"),
    (TRAIN, ["--seed", "1.5"], "expected a whole number"),
    (TRAIN, ["--threads", "0"], "argument --threads: must be at least 1"),
    (TRAIN, ["--lr", "nan"], "argument --lr"),
    (TRAIN, ["--test-limit", "-3"], "argument --test-limit"),
    (PREDICT, ["--image", "a.png", "--top-k", "0"], "argument --top-k"),
    (SERVE, ["--port", "99999"], "scratchnet.serve: error: argument --port: must be from 0 to 65535"),
    (SERVE, ["--port", "-1"], "argument --port"),
    (SERVE, ["--max-bytes", "-5"], "argument --max-bytes: must be at least 1, got -5"),
    (SERVE, ["--max-bytes", "0"], "argument --max-bytes"),
    (SERVE, ["--learn", "--max-corrections", "0"], "argument --max-corrections: must be at least 1"),
    (EXPORT, ["only-one-argument"], "scratchnet.export: error: give the ONNX file to write (or --web DIR)"),
    (EXPORT, ["--web", "site", "m.npz", "out.onnx"], "scratchnet.export: error: --web DIR takes the model only"),
])
def test_bad_option_values_are_refused_by_argparse(command, args, message):
    assert message in one_line(run(command + args), code=2)


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("these are my notes, not a model\n")
    return path


@pytest.mark.parametrize("command", ["train", "predict", "serve", "export"])
def test_a_text_file_as_model_is_named_as_such(command, text_file, tmp_path):
    args = {"train": TRAIN + ["--evaluate", str(text_file), "--test-limit", "10"],
            "predict": PREDICT + ["--image", str(text_file), "--model", str(text_file)],
            "serve": SERVE + ["--model", str(text_file), "--port", "0"],
            "export": EXPORT + [str(text_file), str(tmp_path / "m.onnx")]}[command]
    line = one_line(run(args), code=1)
    assert f"{text_file} is not a scratchnet model file" in line
    assert "pickle" not in line and "unsafe" not in line   # not NumPy's advice for data files


def test_serve_on_an_address_that_cannot_be_bound(model_file):
    line = one_line(run(SERVE + ["--model", str(model_file), "--host", "999.1.1.1", "--port", "0"]), 1)
    assert line.startswith("scratchnet.serve: error: cannot listen on 999.1.1.1:0")


def test_validation_split_that_leaves_nothing_to_train_on(mnist_dir):
    line = one_line(run(TRAIN + ["--data-dir", str(mnist_dir), "--limit", "50", "--val-split", "0.99"]), 1)
    assert "leaves none to train on" in line


def test_data_dir_that_is_a_file(text_file):
    assert "is a file, not a folder" in one_line(run(TRAIN + ["--data-dir", str(text_file)]), 1)


def test_learning_corrections_folder_that_is_a_file(model_file, text_file):
    line = one_line(run(SERVE + ["--model", str(model_file), "--learn", "--corrections", str(text_file),
                                 "--port", "0"]), 1)
    assert line == f"scratchnet.serve: error: --corrections {text_file} is a file, not a folder"


def test_extra_data_folder_that_does_not_exist(mnist_dir, tmp_path):
    line = one_line(run(TRAIN + ["--data-dir", str(mnist_dir), "--limit", "100", "--epochs", "1",
                                 "--extra-data", str(tmp_path / "missing"), "--model", str(tmp_path / "m.npz")]), 1)
    assert line == f"train.py: error: {tmp_path / 'missing'}: no such folder of labelled pictures"


def test_unknown_kernel_back_end_in_the_environment(mnist_dir, tmp_path):
    line = one_line(run(TRAIN + ["--data-dir", str(mnist_dir), "--limit", "100", "--epochs", "1",
                                 "--model", str(tmp_path / "m.npz"), "--report-dir", str(tmp_path)],
                        env={"SCRATCHNET_KERNELS": "fast"}), 1)
    assert "unknown kernel back end 'fast'" in line


REPORT_EPOCHS = [str(ROOT / "benchmarks" / "report_epochs.py")]


@pytest.mark.parametrize("content,message", [
    (None, "No such file or directory"),
    ("{not json", "Expecting property name"),
    ('{"history": [{"epoch": 1}]}', "'seconds'"),
    ('[1, 2]', "list indices must be integers"),
    ('{"history": []}', "has no epochs"),
])
def test_report_epochs_refuses_a_missing_or_malformed_metrics_file(tmp_path, content, message):
    metrics = tmp_path / "metrics.json"
    if content is not None:
        metrics.write_text(content)
    line = one_line(run(REPORT_EPOCHS + ["--metrics", str(metrics)]), 1)
    assert line.startswith("error: ") and str(metrics) in line and message in line


def test_report_epochs_prints_the_epochs_and_slowest_over_first(tmp_path):
    metrics = tmp_path / "metrics.json"
    metrics.write_text('{"command": "train.py --seed 0", "created": "today", '
                       '"history": [{"seconds": 4.0}, {"seconds": 4.4}, {"seconds": 4.2}]}')
    proc = run(REPORT_EPOCHS + ["--metrics", str(metrics)])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "train.py (train.py --seed 0), today: epochs, s: 4.000, 4.400, 4.200",
        "slowest epoch / first epoch = 1.100"]
