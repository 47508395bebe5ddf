"""measure_handler runs an artifact's handler in a fresh process, the way the container does."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from inference.build.artifact import pack, write_manifest
from inference.build.measure import MeasureError, measure_handler, time_handler
from inference.build.venvs import VenvUnavailable, find_python

ECHO_HANDLER = """
import json, sys

def model_fn(model_dir):
    with open(model_dir + "/weights.txt") as f:
        return {"scale": int(f.read()), "ballast": bytearray(int(BALLAST_MB) * 1024 * 1024)}

def input_fn(body, content_type):
    if content_type != "application/json":
        raise ValueError("unsupported content type " + content_type)
    return json.loads(body)["inputs"]

def predict_fn(data, model):
    return [x * model["scale"] for x in data]

def output_fn(prediction, accept):
    return json.dumps({"outputs": prediction, "torch_loaded": "torch" in sys.modules,
                       "module_file": __file__})
"""


def _artifact(root: Path, ballast_mb: int = 0, handler: str = ECHO_HANDLER) -> Path:
    (root / "code").mkdir(parents=True)
    (root / "code" / "inference.py").write_text(textwrap.dedent(handler).replace("BALLAST_MB", str(ballast_mb)))
    (root / "weights.txt").write_text("3")
    return root


def test_reports_every_phase_and_a_response_of_the_right_size(tmp_path: Path) -> None:
    model = _artifact(tmp_path / "m")
    r = measure_handler(model, b'{"inputs": [1, 2]}')
    for key in ("import_s", "model_fn_s", "cold_load_s", "first_request_s", "peak_rss_mb"):
        assert r[key] > 0, key
    assert r["cold_load_s"] == pytest.approx(r["import_s"] + r["model_fn_s"])
    # The response the handler produced for this input, computed independently of the child.
    expected = json.dumps({"outputs": [3, 6], "torch_loaded": False,
                           "module_file": str(model / "code" / "inference.py")})
    assert r["response_bytes"] == len(expected.encode())


def test_peak_rss_includes_what_model_fn_allocates(tmp_path: Path) -> None:
    small = measure_handler(_artifact(tmp_path / "small"), b'{"inputs": [1]}')
    big = measure_handler(_artifact(tmp_path / "big", ballast_mb=300), b'{"inputs": [1]}')
    assert big["peak_rss_mb"] >= 300
    assert big["peak_rss_mb"] - small["peak_rss_mb"] >= 250


def test_peak_rss_excludes_the_parent_process_memory(tmp_path: Path) -> None:
    """Linux keeps ru_maxrss across fork/exec; the measurement must be the child's own peak, not ours."""
    ballast = bytearray(600 * 1024 * 1024)
    ballast[:: 4096] = b"x" * len(ballast[:: 4096])  # touch every page so it is resident
    r = measure_handler(_artifact(tmp_path / "m"), b'{"inputs": [1]}')
    t = time_handler(_artifact(tmp_path / "t"), {"1": [b'{"inputs": [1]}']}, min_calls=1, budget_s=0.0)
    del ballast
    assert r["peak_rss_mb"] < 300
    assert t["peak_rss_mb"] < 300


def test_handler_error_is_raised_with_the_handlers_message(tmp_path: Path) -> None:
    model = _artifact(tmp_path / "m")
    with pytest.raises(MeasureError, match="unsupported content type text/csv"):
        measure_handler(model, b"1,2", content_type="text/csv")


def test_missing_handler_functions_are_named(tmp_path: Path) -> None:
    model = _artifact(tmp_path / "m", handler="def model_fn(d):\n    return 1\n")
    with pytest.raises(MeasureError, match="does not define input_fn, predict_fn, output_fn"):
        measure_handler(model, b"{}")


def test_directory_without_handler_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MeasureError, match="no code/inference.py"):
        measure_handler(tmp_path, b"{}")


def test_accepts_a_built_tarball_and_verifies_it(tmp_path: Path) -> None:
    root = _artifact(tmp_path / "m")
    write_manifest(root, {"framework": "test"})
    tar = tmp_path / "model.tar.gz"
    pack(root, tar)
    r = measure_handler(tar, b'{"inputs": [5]}')
    assert r["cold_load_s"] > 0
    assert r["response_bytes"] > 0


def test_runs_under_another_interpreter(tmp_path: Path) -> None:
    try:
        py = find_python("3.12")
    except VenvUnavailable as e:
        pytest.skip(f"needs a Python 3.12 interpreter: {e}")
    r = measure_handler(_artifact(tmp_path / "m"), b'{"inputs": [1]}', python=str(py))
    assert r["python_version"].startswith("3.12.")
    assert r["python"] == str(py)


COUNTING_HANDLER = """
import json

def model_fn(model_dir):
    return {"calls": []}

def input_fn(body, content_type):
    return json.loads(body)["inputs"]

def predict_fn(data, model):
    model["calls"].append(len(data))
    with open(MODEL_DIR + "/calls.log", "a") as f:
        f.write("%d\\n" % len(data))
    return data

def output_fn(prediction, accept):
    return json.dumps(prediction)
"""


def test_time_handler_times_each_group_after_warm_up(tmp_path: Path) -> None:
    model = tmp_path / "m"
    _artifact(model, handler=COUNTING_HANDLER.replace("MODEL_DIR", repr(str(model))))
    groups = {"1": [b'{"inputs": [1]}', b'{"inputs": [2]}'], "3": [b'{"inputs": [1, 2, 3]}']}
    r = time_handler(model, groups, min_calls=4, budget_s=0.0, warmup=2)
    assert set(r["groups"]) == {"1", "3"}
    assert [len(v) for v in r["groups"].values()] == [4, 4]  # timed calls per group, warm-up excluded
    assert all(t > 0 for v in r["groups"].values() for t in v)
    assert r["cold_load_s"] > 0 and r["peak_rss_mb"] > 0
    # Every call (2 warm-up + 4 timed per group) reached predict_fn with that group's batch size, in order.
    calls = (model / "calls.log").read_text().split()
    assert calls == ["1"] * 6 + ["3"] * 6


def test_time_handler_reports_handler_failures(tmp_path: Path) -> None:
    model = _artifact(tmp_path / "m")
    with pytest.raises(MeasureError, match="unsupported content type text/csv"):
        time_handler(model, {"1": [b"1"]}, content_type="text/csv", min_calls=1, budget_s=0.0)
