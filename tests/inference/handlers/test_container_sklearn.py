"""The built sklearn artifact, served by the scikit-learn image's own serving code, in a venv like the image.

What the image runs (aws/sagemaker-scikit-learn-container, src/sagemaker_sklearn_container/serving.py):
- single-model endpoints (serverless is single-model): `serving_entrypoint` -> sagemaker-containers'
  `server.start("sagemaker_sklearn_container.serving:main")`, which copies SAGEMAKER_SUBMIT_DIRECTORY to
  /opt/ml/code, pip-installs it, starts gunicorn with /opt/ml/code on --pythonpath; `serving.main` imports
  SAGEMAKER_PROGRAM, wraps model_fn/input_fn/predict_fn/output_fn in sagemaker-containers' Transformer,
  calls initialize() (model_fn("/opt/ml/model")) and serves its `transform` from a `worker.Worker` Flask app.
- multi-model endpoints: MMS with `handler_service.HandlerService` = sagemaker-inference's
  DefaultHandlerService + Transformer(default_inference_handler=DefaultSKLearnUserModuleInferenceHandler).

sagemaker_sklearn_container is not on PyPI, so the driver below repeats those few lines of serving.py and
handler_service.py around the real sagemaker-containers / sagemaker-inference packages (versions: see
tests/container_env.py), and drives the Flask app with its test client and the handler service with a fake MMS
context, as those projects' own unit tests do. Deviations from the image, on purpose: gunicorn/nginx/MMS
processes are not started, and the module is put on sys.path instead of being pip-installed into the cached venv
(the image installs the same files; installing would leave our module in the shared venv). On Python 3.10 the
driver aliases collections.Mapping, as docker/1.4-2/final/Dockerfile.cpu patches sagemaker_containers/_mapping.py
(collections.Mapping -> collections.abc.Mapping) in the image.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from container_env import call_time_estimator, sklearn_toolkit_python

from inference.build.artifact import unpack
from inference.build.containers import get_container
from inference.build.sklearn import build_sklearn, check_estimator

pytestmark = pytest.mark.slow  # builds artifacts and venvs of the images' Pythons

DRIVER = r'''
import importlib, json, os, sys
mode, base, requests_file, out_file = sys.argv[1:5]
model_dir = os.path.join(base, "model")
os.environ["SAGEMAKER_BASE_DIR"] = base  # sagemaker-containers' stand-in for /opt/ml
os.environ["SAGEMAKER_PROGRAM"] = "inference.py"  # what the Pulumi program sets on the Model
os.environ["SAGEMAKER_SUBMIT_DIRECTORY"] = os.path.join(model_dir, "code")
requests = json.load(open(requests_file))
results = []

import collections, collections.abc
if not hasattr(collections, "Mapping"):  # Python 3.10: the 1.4-2 image seds sagemaker_containers/_mapping.py
    collections.Mapping = collections.abc.Mapping

if mode == "single-model":
    from sagemaker_containers import _env, _files
    from sagemaker_containers.beta.framework import env, transformer, worker

    serving_env = env.ServingEnv()
    assert _env.model_dir == model_dir, _env.model_dir
    _files.download_and_extract(serving_env.module_dir, _env.code_dir)  # _modules.import_module's copy step
    sys.path.insert(0, _env.code_dir)  # gunicorn --pythonpath ...,/opt/ml/code
    user_module = importlib.import_module(serving_env.module_name)  # serving.import_module
    t = transformer.Transformer(model_fn=user_module.model_fn, input_fn=user_module.input_fn,
                                predict_fn=user_module.predict_fn, output_fn=user_module.output_fn)
    t.initialize()  # model_fn(/opt/ml/model)
    app = worker.Worker(transform_fn=t.transform, module_name=serving_env.module_name)
    client = app.test_client()
    ping = client.get("/ping").status_code
    for r in requests:
        resp = client.post("/invocations", data=r["body"].encode("utf-8"),
                           headers={"Content-Type": r["content_type"], "Accept": r["accept"]})
        results.append({"status": resp.status_code, "body": resp.get_data(as_text=True),
                        "content_type": resp.content_type})
else:
    from sagemaker_inference import default_inference_handler
    from sagemaker_inference.default_handler_service import DefaultHandlerService
    from sagemaker_inference.transformer import Transformer

    class DefaultSKLearnUserModuleInferenceHandler(default_inference_handler.DefaultInferenceHandler):
        @staticmethod
        def default_model_fn(model_dir):
            raise NotImplementedError("Please provide a model_fn implementation.")

    class RequestProcessor:
        def __init__(self, headers):
            self.headers = headers
        def get_request_properties(self):
            return self.headers

    class Context:  # the parts of mms.context.Context the Transformer uses
        def __init__(self, headers):
            self.system_properties = {"model_dir": model_dir, "gpu_id": None}
            self.request_processor = [RequestProcessor(headers)]
            self.status, self.phrase, self.content_type = 200, None, None
        def set_response_status(self, code, phrase):
            self.status, self.phrase = code, phrase
        def set_response_content_type(self, idx, content_type):
            self.content_type = content_type

    sys.path.insert(0, os.environ["SAGEMAKER_SUBMIT_DIRECTORY"])  # serving_mms imported/installed it first
    service = DefaultHandlerService(transformer=Transformer(
        default_inference_handler=DefaultSKLearnUserModuleInferenceHandler()))
    service.initialize(Context({}))
    ping = 200
    for r in requests:
        ctx = Context({"Content-Type": r["content_type"], "Accept": r["accept"]})
        out = service.handle([{"body": r["body"].encode("utf-8")}], ctx)[0]
        results.append({"status": ctx.status, "body": out if isinstance(out, str) else out.decode("utf-8"),
                        "content_type": ctx.content_type, "phrase": ctx.phrase})

import joblib, numpy as np, sklearn
estimator = joblib.load(os.path.join(model_dir, "model.joblib"))
direct = [estimator.predict_proba(np.array(rows, dtype=object))[:, 1].tolist() for rows in
          json.load(open(requests_file + ".rows"))]
json.dump({"ping": ping, "results": results, "direct": direct, "sklearn": sklearn.__version__,
           "python": "%d.%d" % sys.version_info[:2]}, open(out_file, "w"))
'''

CONTACTS = [
    {"segment": "enterprise", "age_band": "45-54", "channel": "landline", "timezone_offset": -5,
     "past_answer_rate": 0.35},
    {"segment": "consumer", "age_band": "25-34", "channel": "mobile", "timezone_offset": 1, "past_answer_rate": 0.6},
]
HOURS, DAY = [9, 12, 18], 1
FEATURE_ORDER = ["segment", "age_band", "channel", "timezone_offset", "past_answer_rate", "day_of_week", "hour"]
GOOD = json.dumps({"instances": CONTACTS, "hours": HOURS, "day_of_week": DAY})


def _req(body: str, content_type: str = "application/json", accept: str = "application/json") -> dict:
    return {"body": body, "content_type": content_type, "accept": accept}


REQUESTS = [
    _req(GOOD),
    _req(json.dumps({"instances": [{**CONTACTS[0], "segment": "government"}]})),
    _req("{not json"),
    _req(GOOD, content_type="text/csv"),
    _req(GOOD, accept="text/csv"),
    _req(json.dumps({"instances": []})),
    _req(GOOD),  # still serving after the bad requests
]
EXPECTED_STATUS = [200, 400, 400, 415, 406, 400, 200]


@pytest.fixture(scope="module", params=["sklearn-1.4-2", "sklearn-1.2-1"])
def served(request, tmp_path_factory) -> dict:
    key = request.param
    python = sklearn_toolkit_python(key)
    estimator = call_time_estimator(key)
    check_estimator(estimator, get_container(key))
    tmp = tmp_path_factory.mktemp(key)
    result = build_sklearn(estimator, tmp / "out", container=key, measure=False)
    requests_file = tmp / "requests.json"
    requests_file.write_text(json.dumps(REQUESTS))
    rows = [[{**c, "day_of_week": DAY, "hour": h}[n] for n in FEATURE_ORDER] for c in CONTACTS for h in HOURS]
    Path(str(requests_file) + ".rows").write_text(json.dumps([rows]))
    outputs = {}
    for mode in ("single-model", "multi-model"):
        base = tmp / mode / "opt" / "ml"
        unpack(Path(result.path), base / "model")  # the unpacked model.tar.gz stands in for /opt/ml/model
        out = tmp / f"{mode}.json"
        proc = subprocess.run([str(python), "-c", DRIVER, mode, str(base), str(requests_file), str(out)],
                              capture_output=True, text=True, timeout=600, cwd=tmp)
        assert proc.returncode == 0, proc.stderr[-4000:]
        outputs[mode] = json.loads(out.read_text())
    return {"key": key, "outputs": outputs}


@pytest.mark.parametrize("mode", ["single-model", "multi-model"])
def test_runs_in_the_images_python_and_scikit_learn(served, mode):
    from inference.build.containers import get_container

    c = get_container(served["key"])
    out = served["outputs"][mode]
    assert (out["python"], out["sklearn"]) == (c.python, c.packages["scikit-learn"])
    assert out["ping"] == 200


@pytest.mark.parametrize("mode", ["single-model", "multi-model"])
def test_valid_requests_get_the_estimators_probabilities_and_best_hour(served, mode):
    out = served["outputs"][mode]
    direct = out["direct"][0]
    for result in (out["results"][0], out["results"][-1]):
        assert result["status"] == 200
        assert result["content_type"].startswith("application/json")
        preds = json.loads(result["body"])["predictions"]
        assert len(preds) == len(CONTACTS)
        for i, pred in enumerate(preds):
            expected = direct[i * len(HOURS):(i + 1) * len(HOURS)]
            assert [pred["probabilities"][str(h)] for h in HOURS] == pytest.approx(expected, abs=1e-6)
            assert pred["best_hour"] == HOURS[expected.index(max(expected))]
            assert pred["day_of_week"] == DAY


def _reason(result: dict) -> str:
    """Flask path: our JSON error body; MMS path: sagemaker-inference's "message\ntraceback" text."""
    try:
        return json.loads(result["body"])["error"]
    except (ValueError, KeyError, TypeError):
        return result["body"].splitlines()[0]


@pytest.mark.parametrize("mode", ["single-model", "multi-model"])
def test_bad_requests_get_a_4xx_with_the_reason(served, mode):
    results = served["outputs"][mode]["results"]
    assert [r["status"] for r in results] == EXPECTED_STATUS
    reasons = [_reason(r) for r in results]
    assert 'instances[0].segment = "government" is not allowed' in reasons[1] and '"consumer"' in reasons[1]
    assert "not valid JSON" in reasons[2]
    assert "'text/csv' is not supported; send application/json" in reasons[3]
    assert "cannot answer in 'text/csv'; accept application/json" in reasons[4]
    assert '"instances" is empty' in reasons[5]


def test_an_artifact_for_one_image_refuses_to_start_on_the_other(tmp_path: Path):
    """The 1.4-2 artifact on the 1.2-1 image's stack: model_fn stops the worker with the reason, before unpickling."""
    python = sklearn_toolkit_python("sklearn-1.2-1")
    result = build_sklearn(call_time_estimator("sklearn-1.4-2"), tmp_path / "out", container="sklearn-1.4-2",
                           measure=False)
    base = tmp_path / "opt" / "ml"
    unpack(Path(result.path), base / "model")
    requests_file = tmp_path / "requests.json"
    requests_file.write_text(json.dumps(REQUESTS[:1]))
    Path(str(requests_file) + ".rows").write_text("[]")
    proc = subprocess.run([str(python), "-c", DRIVER, "single-model", str(base), str(requests_file),
                           str(tmp_path / "out.json")], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode != 0
    assert "built for scikit-learn 1.4.2" in proc.stderr and "runs scikit-learn 1.2.1" in proc.stderr
    assert not (tmp_path / "out.json").exists()
