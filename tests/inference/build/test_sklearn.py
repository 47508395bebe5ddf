"""`build sklearn`: version-skew refusal, artifact layout and manifest, reproducibility, the CLI contract."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import joblib
import numpy as np
import pytest
import sklearn
from container_env import call_time_estimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from inference.build.artifact import read_manifest, unpack
from inference.build.containers import get_container
from inference.build.measure import MeasureError, measure_handler
from inference.build.sklearn import (
    SERVING_ENV,
    TRAIN_REQUIREMENTS,
    VersionSkewError,
    build_sklearn,
    check_estimator,
    pickled_versions,
    run_training_script,
    sklearn_container,
    spec_path_for,
)

ROOT = Path(__file__).resolve().parents[3]
SK14, SK12 = get_container("sklearn-1.4-2"), get_container("sklearn-1.2-1")


def _fitted():
    rng = np.random.RandomState(0)
    x = rng.normal(size=(50, 3))
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(x, x[:, 0] > 0)


# ------------------------------------------------------------------------------------------- reading versions
@pytest.mark.parametrize("save", [
    pytest.param(lambda o, p: p.write_bytes(pickle.dumps(o, protocol=0)), id="pickle-0"),
    pytest.param(lambda o, p: p.write_bytes(pickle.dumps(o, protocol=2)), id="pickle-2"),
    pytest.param(lambda o, p: p.write_bytes(pickle.dumps(o, protocol=4)), id="pickle-4"),
    pytest.param(lambda o, p: p.write_bytes(pickle.dumps(o, protocol=5)), id="pickle-5"),
    pytest.param(lambda o, p: joblib.dump(o, p), id="joblib"),
    pytest.param(lambda o, p: joblib.dump(o, p, compress=3), id="joblib-zlib"),
    pytest.param(lambda o, p: joblib.dump(o, p, compress=("gzip", 3)), id="joblib-gzip"),
    pytest.param(lambda o, p: joblib.dump(o, p, compress=("bz2", 3)), id="joblib-bz2"),
    pytest.param(lambda o, p: joblib.dump(o, p, compress=("xz", 3)), id="joblib-xz"),
    pytest.param(lambda o, p: joblib.dump(o, p, compress=("lzma", 3)), id="joblib-lzma"),
])
def test_the_pickling_scikit_learn_version_is_read_from_the_bytes(tmp_path: Path, save):
    path = tmp_path / "est.bin"
    save(_fitted(), path)
    assert pickled_versions(path)["sklearn"] == [sklearn.__version__]


def test_numpy_2_pickles_are_recognised(tmp_path: Path):
    path = tmp_path / "est.pkl"
    path.write_bytes(pickle.dumps(_fitted(), protocol=5))
    assert pickled_versions(path)["numpy2"] is (int(np.__version__.split(".")[0]) >= 2)


def test_a_pickle_without_an_estimator_is_refused(tmp_path: Path):
    path = tmp_path / "weights.pkl"
    path.write_bytes(pickle.dumps({"weights": [1.0, 2.0]}))
    with pytest.raises(VersionSkewError, match="records no scikit-learn version"):
        check_estimator(path, SK14)


def test_lz4_compressed_estimators_are_refused_with_a_hint(tmp_path: Path):
    path = tmp_path / "est.joblib"
    path.write_bytes(b"\x04\x22\x4d\x18" + b"\x00" * 32)
    with pytest.raises(VersionSkewError, match="lz4-compressed.*compress=3"):
        check_estimator(path, SK14)


def test_a_missing_estimator_file_is_named(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="nope.joblib"):
        check_estimator(tmp_path / "nope.joblib", SK14)


# ------------------------------------------------------------------------------------------- skew refusal
@pytest.mark.parametrize("container", [SK14, SK12], ids=lambda c: c.key)
def test_an_estimator_from_this_environment_is_refused_with_the_fix(tmp_path: Path, container):
    want = container.packages["scikit-learn"]
    if sklearn.__version__ == want:
        pytest.skip(f"this environment runs scikit-learn {want} itself")
    path = tmp_path / "est.joblib"
    joblib.dump(_fitted(), path)
    with pytest.raises(VersionSkewError) as info:
        build_sklearn(path, tmp_path / "out", container=container.key, measure=False)
    msg = str(info.value)
    assert f"pickled with scikit-learn {sklearn.__version__}" in msg
    assert f"runs scikit-learn {want} on Python {container.python}" in msg
    assert "--train-in-container-env" in msg and "inference.examples.call_time.train" in msg
    assert not (tmp_path / "out" / "model.tar.gz").exists()


@pytest.mark.slow
def test_a_1_4_2_estimator_is_refused_for_the_1_2_1_image_and_pointed_at_1_4_2():
    estimator = call_time_estimator("sklearn-1.4-2")
    with pytest.raises(VersionSkewError, match=r"scikit-learn 1\.4\.2.*--container sklearn-1\.4-2"):
        check_estimator(estimator, SK12)


def test_a_numpy_2_pickle_is_refused_for_an_image_with_numpy_1(tmp_path: Path):
    if int(np.__version__.split(".")[0]) < 2:
        pytest.skip("needs numpy >= 2 here to write a numpy-2 pickle")
    path = tmp_path / "est.pkl"  # shaped like a 1.2.1 estimator's state, arrays written by this numpy 2
    path.write_bytes(pickle.dumps({"_sklearn_version": "1.2.1", "coef_": np.arange(3.0)}, protocol=4))
    with pytest.raises(VersionSkewError, match="numpy >= 2.*runs numpy 1"):
        check_estimator(path, SK12)


def test_only_sklearn_images_are_accepted():
    with pytest.raises(ValueError, match="huggingface image.*sklearn-1.4-2"):
        sklearn_container("hf-2.6-py312")
    with pytest.raises(ValueError, match="unknown container 'sklearn-0.23'.*allowed"):
        sklearn_container("sklearn-0.23")


def test_every_sklearn_image_has_training_requirements_pinning_its_scikit_learn():
    from inference.build.containers import CONTAINERS

    for c in CONTAINERS.values():
        if c.framework == "sklearn":
            assert f"scikit-learn=={c.packages['scikit-learn']}" in TRAIN_REQUIREMENTS[c.key]


# ------------------------------------------------------------------------------------------- building
@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, object]:
    estimator = call_time_estimator("sklearn-1.4-2")
    out = tmp_path_factory.mktemp("built")
    return estimator, build_sklearn(estimator, out, container="1.4-2-cpu-py3", measure=True)


@pytest.mark.slow
def test_artifact_layout_follows_the_sklearn_image_contract(built):
    _, result = built
    with tarfile.open(result.path) as tar:
        names = sorted(m.name for m in tar.getmembers() if m.isfile())
    assert names == ["code/inference.py", "code/sls_errors.py", "code/sls_integrity.py", "manifest.json",
                     "model.joblib", "serving_spec.json"]


@pytest.mark.slow
def test_manifest_records_container_version_entry_point_and_the_report_the_measured_resources(built):
    estimator, result = built
    manifest = read_manifest(Path(result.path)).to_dict()
    assert manifest["framework"] == "sklearn" and manifest["runtime"] == "sklearn"
    assert manifest["container"] == SK14.as_dict() == result.container
    assert manifest["model"]["sklearn_version"] == "1.4.2"
    assert manifest["handler"]["environment"] == SERVING_ENV
    assert manifest["files"]["model.joblib"] == result.manifest["files"]["model.joblib"]
    assert "resources" not in manifest  # measured on this machine: beside the tarball, not in its bytes
    resources = json.loads(Path(result.report).read_text())["resources"]
    assert resources["peak_rss_mb"] > 0 and resources["peak_rss_mb"] % 64 == 0
    assert resources["cold_load_s"] >= 1.0
    assert json.loads((spec_path_for(estimator)).read_text()) == json.loads(
        tarfile.open(result.path).extractfile("serving_spec.json").read())


@pytest.mark.slow
def test_the_built_artifact_serves_in_the_image_matching_venv(built, tmp_path: Path):
    from inference.build.sklearn import train_python

    _, result = built
    model_dir = unpack(Path(result.path), tmp_path / "model")
    body = json.dumps({"instances": [{"segment": "consumer", "age_band": "25-34", "channel": "mobile",
                                      "timezone_offset": 1, "past_answer_rate": 0.5}], "hours": [9, 19]}).encode()
    r = measure_handler(model_dir, body, python=str(train_python("sklearn-1.4-2")))
    assert r["python_version"].startswith("3.10.")
    assert r["response_bytes"] > 0


@pytest.mark.slow
def test_a_tampered_artifact_is_refused_at_load(built, tmp_path: Path):
    from inference.build.sklearn import train_python

    _, result = built
    model_dir = unpack(Path(result.path), tmp_path / "model")
    spec = json.loads((model_dir / "serving_spec.json").read_text())
    spec["max_instances"] = 10**6
    (model_dir / "serving_spec.json").write_text(json.dumps(spec))
    with pytest.raises(MeasureError, match="serving_spec.json was modified"):
        measure_handler(model_dir, b"{}", python=str(train_python("sklearn-1.4-2")))


@pytest.mark.slow
def test_rebuilding_gives_identical_bytes(tmp_path: Path):
    estimator = call_time_estimator("sklearn-1.4-2")
    a = build_sklearn(estimator, tmp_path / "a", measure=False)
    b = build_sklearn(estimator, tmp_path / "b", measure=False)
    assert Path(a.path).read_bytes() == Path(b.path).read_bytes()
    assert a.sha256 == b.sha256


@pytest.mark.slow
def test_a_malformed_serving_spec_is_refused(tmp_path: Path):
    bad = tmp_path / "spec.json"
    bad.write_text(json.dumps({"format": 1, "features": []}))
    with pytest.raises(ValueError, match="serving spec .*spec.json is not valid.*non-empty list"):
        build_sklearn(call_time_estimator("sklearn-1.4-2"), tmp_path / "out", serving_spec=bad, measure=False)


# ------------------------------------------------------------------------------------------- training in the venv
TRAIN_SCRIPT = textwrap.dedent("""
    import argparse, joblib
    from sklearn.linear_model import LogisticRegression
    p = argparse.ArgumentParser(); p.add_argument("--out"); a = p.parse_args()
    joblib.dump(LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]), a.out)
""")


@pytest.mark.slow
def test_train_in_container_env_runs_the_users_script_with_the_images_scikit_learn(tmp_path: Path):
    script = tmp_path / "train.py"
    script.write_text(TRAIN_SCRIPT)
    estimator = run_training_script(script, tmp_path / "est.joblib", "sklearn-1.4-2", log=lambda m: None)
    assert pickled_versions(estimator)["sklearn"] == ["1.4.2"]
    result = build_sklearn(estimator, tmp_path / "out", measure=False)
    assert read_manifest(Path(result.path)).handler.contract == "generic"


@pytest.mark.slow
def test_a_training_script_that_writes_nothing_is_reported(tmp_path: Path):
    script = tmp_path / "train.py"
    script.write_text("print('forgot to save')\n")
    with pytest.raises(RuntimeError, match="did not write .*est.joblib.*--out PATH"):
        run_training_script(script, tmp_path / "est.joblib", "sklearn-1.4-2", log=lambda m: None)


# ------------------------------------------------------------------------------------------- the command line
def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "inference", "build", "sklearn", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_cli_prints_the_build_result_as_the_last_stdout_line(tmp_path: Path):
    proc = _cli("--estimator", str(call_time_estimator("sklearn-1.4-2")), "--container", "sklearn-1.4-2",
                "--out", str(tmp_path), "--no-measure")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["path"] == str(tmp_path / "model.tar.gz") and Path(result["path"]).is_file()
    assert result["framework"] == "sklearn" and result["container"]["tag"] == "1.4-2-cpu-py3"
    assert result["size_bytes"] == Path(result["path"]).stat().st_size


def test_cli_refuses_skew_with_exit_2_and_the_reason(tmp_path: Path):
    if sklearn.__version__ == "1.4.2":
        pytest.skip("this environment runs the image's scikit-learn")
    path = tmp_path / "est.joblib"
    joblib.dump(_fitted(), path)
    proc = _cli("--estimator", str(path), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "error:" in proc.stderr and "scikit-learn 1.4.2" in proc.stderr and proc.stdout == ""


@pytest.mark.slow
def test_cli_train_in_container_env(tmp_path: Path):
    script = tmp_path / "train.py"
    script.write_text(TRAIN_SCRIPT)
    proc = _cli("--train-in-container-env", str(script), "--estimator", str(tmp_path / "est.joblib"),
                "--out", str(tmp_path / "out"), "--no-measure")
    assert proc.returncode == 0, proc.stderr
    built = Path(json.loads(proc.stdout.splitlines()[-1])["path"])
    assert read_manifest(built).model.sklearn_version == "1.4.2"


@pytest.mark.slow
def test_estimator_bytes_are_packed_unchanged(built):
    estimator, result = built
    with tarfile.open(result.path) as tar:
        packed = tar.extractfile("model.joblib").read()
    assert packed == Path(estimator).read_bytes()
