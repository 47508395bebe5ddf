"""The embeddings handler (inference/handlers/embeddings.py == the artifact's code/inference.py) as a spec.

Runs the real handler on the real default artifact (built once by the demo's cache, unpacked here): the
request contract, every client error (4xx RequestError with a reason), property-based input shapes, the
manifest check in model_fn, and that the onnx runtimes never import torch or transformers.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from inference.build.artifact import IntegrityError, read_manifest, unpack
from inference.handlers import embeddings as handler
from inference.handlers.sls_errors import RequestError

ROOT = Path(__file__).resolve().parents[3]
JSON = "application/json"


@pytest.fixture(scope="module")
def artifact_tar() -> Path:
    from inference.build.cache import default_embeddings_artifact

    return default_embeddings_artifact(None, log=lambda m: print(m, file=sys.stderr))


@pytest.fixture(scope="module")
def model_dir(artifact_tar: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return unpack(artifact_tar, tmp_path_factory.mktemp("emb") / "model")


@pytest.fixture(scope="module")
def model(model_dir: Path) -> handler.EmbeddingModel:
    return handler.model_fn(str(model_dir))


@pytest.fixture(scope="module")
def max_batch(model_dir: Path, model) -> int:
    return json.loads((model_dir / "manifest.json").read_text())["handler"]["max_batch"]


def invoke(model, payload, content_type: str = JSON, accept: str = JSON) -> dict:
    body = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    out = handler.output_fn(handler.predict_fn(handler.input_fn(body, content_type), model), accept)
    assert isinstance(out, bytes)
    return json.loads(out)


def client_error(model, payload, content_type: str = JSON, accept: str = JSON) -> RequestError:
    with pytest.raises(RequestError) as err:
        invoke(model, payload, content_type, accept)
    assert 400 <= err.value.status_code < 500
    return err.value


@pytest.mark.slow
# ----------------------------------------------------------------------------------------------- contract
def test_single_string_gives_one_unit_vector_with_model_and_dimensions(model, model_dir: Path) -> None:
    out = invoke(model, {"inputs": "The cat sits on the mat."})
    manifest = json.loads((model_dir / "manifest.json").read_text())
    assert out["model"] == manifest["model"]["name"]
    assert out["dimensions"] == 384 == len(out["embeddings"][0])
    assert len(out["embeddings"]) == 1
    assert np.linalg.norm(out["embeddings"][0]) == pytest.approx(1.0, abs=1e-4)
    assert out["truncated"] == [False]


@pytest.mark.slow
def test_embeddings_agree_with_sentence_transformers(model) -> None:
    from sentence_transformers import SentenceTransformer

    from inference.build.hub import default_model_path

    texts = ["How do I reset my password?", "Wie spät ist es?", "def f(x): return x * 2", "🚀 launch day"]
    ref = SentenceTransformer(str(default_model_path()), device="cpu").encode(texts, normalize_embeddings=True)
    got = np.asarray(invoke(model, {"inputs": texts})["embeddings"])
    assert (ref * got).sum(axis=1).min() > 0.97
    # and the geometry is the model's: paraphrases are closer than unrelated texts
    pair = np.asarray(invoke(model, {"inputs": ["I forgot my password", "How can I change my password?",
                                                "The volcano erupted last night"]})["embeddings"])
    assert pair[0] @ pair[1] > pair[0] @ pair[2] + 0.2


@pytest.mark.slow
def test_inputs_longer_than_max_seq_length_are_truncated_and_flagged(model, model_dir: Path) -> None:
    max_len = json.loads((model_dir / "manifest.json").read_text())["model"]["max_seq_length"]
    long_text = " ".join(["word"] * (max_len + 50))
    longer_text = long_text + " and then many more different words at the very end"
    out = invoke(model, {"inputs": ["short text", long_text, longer_text]})
    assert out["truncated"] == [False, True, True]
    e = np.asarray(out["embeddings"])
    assert e[1] @ e[2] > 0.999  # the tail past max_seq_length does not change the embedding


@pytest.mark.slow
def test_order_follows_inputs(model) -> None:
    texts = ["apples and pears", "a volcano erupts", "quarterly tax return", "jazz saxophone solo"]
    forward = np.asarray(invoke(model, {"inputs": texts})["embeddings"])
    backward = np.asarray(invoke(model, {"inputs": texts[::-1]})["embeddings"])[::-1]
    assert np.allclose(forward, backward, atol=1e-4)
    single = [np.asarray(invoke(model, {"inputs": t})["embeddings"][0]) for t in texts]
    sims = forward @ np.asarray(single).T
    assert list(sims.argmax(axis=1)) == [0, 1, 2, 3]


@pytest.mark.slow
def test_content_type_with_charset_and_wildcard_accept_are_fine(model) -> None:
    out = invoke(model, b'{"inputs": ["x marks the spot"]}', "application/json; charset=utf-8", "*/*")
    assert len(out["embeddings"]) == 1
    out = invoke(model, '{"inputs": "text body as str (HF toolkit decodes JSON bodies)"}', JSON, "")
    assert len(out["embeddings"]) == 1


@pytest.mark.slow
# ----------------------------------------------------------------------------------------------- errors
def test_wrong_content_type_is_415_naming_the_allowed_type(model) -> None:
    err = client_error(model, b"hello", "text/plain")
    assert err.status_code == 415 and "application/json" in err.reason and "text/plain" in err.reason


@pytest.mark.slow
def test_unsupported_accept_is_406(model) -> None:
    err = client_error(model, {"inputs": "x"}, JSON, "text/csv")
    assert err.status_code == 406 and "text/csv" in err.reason


@pytest.mark.slow
@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b'{"inputs": ["a", }', "malformed JSON"),
        (b"\xff\xfe not utf-8", "UTF-8"),
        (b"[1, 2]", "JSON object"),
        (b'"just a string"', "JSON object"),
        (b'{"text": "hello"}', "missing key 'inputs'"),
        (b'{"inputs": "a", "parameters": {}}', "'parameters'"),
        (b'{"inputs": 42}', "string or a list of strings"),
        (b'{"inputs": null}', "string or a list of strings"),
        (b'{"inputs": []}', "empty list"),
        (b'{"inputs": ["ok", 3]}', "inputs[1]"),
        (b'{"inputs": ["ok", ["nested"]]}', "inputs[1]"),
        (b'{"inputs": ["ok", ""]}', "inputs[1] is empty"),
        (b'{"inputs": "   "}', "inputs[0] is empty"),
        (b'{"inputs": ["\\ud800 lone surrogate"]}', "surrogate"),
    ],
)
def test_bad_request_is_400_with_a_reason(model, body: bytes, needle: str) -> None:
    err = client_error(model, body)
    assert err.status_code == 400
    assert needle in err.reason


@pytest.mark.slow
def test_batch_larger_than_max_batch_is_413(model, max_batch: int) -> None:
    err = client_error(model, {"inputs": ["t"] * (max_batch + 1)})
    assert err.status_code == 413 and str(max_batch) in err.reason


@pytest.mark.slow
def test_payload_over_the_limit_is_413_before_json_parsing(model, model_dir: Path) -> None:
    limit = json.loads((model_dir / "manifest.json").read_text())["handler"]["max_payload_bytes"]
    assert limit <= 4 * 1024 * 1024  # the serverless request limit
    err = client_error(model, b"{" + b" " * limit)  # malformed too: the size check must win
    assert err.status_code == 413 and str(limit) in err.reason
    assert client_error(model, b'{"inputs": ["' + b"a" * (limit - 20)).status_code == 400  # under: parsed
    near = json.dumps({"inputs": ["word " * ((limit - 100) // 5)]}).encode()
    assert len(near) <= limit
    assert invoke(model, near)["truncated"] == [True]  # a near-limit request is served, not a crash


@pytest.mark.slow
def test_handler_keeps_serving_after_errors(model) -> None:
    for bad in (b"nope", b'{"inputs": []}', b'{"inputs": [1]}'):
        client_error(model, bad)
    assert len(invoke(model, {"inputs": ["still alive"]})["embeddings"]) == 1


# ----------------------------------------------------------------------------------------------- properties
_texts = st.text(min_size=1, max_size=300).filter(lambda s: s.strip())


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_list_of_strings_up_to_max_batch_gives_that_many_unit_vectors_in_order(model, max_batch, data) -> None:
    texts = data.draw(st.lists(_texts, min_size=1, max_size=max_batch))
    out = invoke(model, {"inputs": texts})
    e = np.asarray(out["embeddings"])
    assert e.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-4)
    assert len(out["truncated"]) == len(texts)
    backward = np.asarray(invoke(model, {"inputs": texts[::-1]})["embeddings"])[::-1]
    # row i belongs to input i whatever the order. int8 kernels move a row slightly with its position in the
    # batch (hypothesis found cosine 0.9988 for ['0', '݋§ੲ', '݋§ੲ'] reversed); a swapped row between different
    # texts falls far below 0.995.
    assert (e * backward).sum(axis=1).min() > 0.995


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)


def _valid(payload, max_batch: int) -> bool:
    if not isinstance(payload, dict) or set(payload) != {"inputs"}:
        return False
    inputs = payload["inputs"]
    inputs = [inputs] if isinstance(inputs, str) else inputs
    return (isinstance(inputs, list) and 0 < len(inputs) <= max_batch
            and all(isinstance(t, str) and t.strip() for t in inputs))


@settings(max_examples=200, deadline=None)
@given(payload=_json | st.fixed_dictionaries({"inputs": _json}))
def test_any_invalid_json_shape_is_a_4xx_request_error_never_another_exception(payload) -> None:
    assume(not _valid(payload, handler._limits["max_batch"]))
    with pytest.raises(RequestError) as err:
        handler.input_fn(json.dumps(payload), JSON)
    assert 400 <= err.value.status_code < 500 and err.value.reason


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=200))
def test_arbitrary_bytes_never_raise_anything_but_a_request_error(body: bytes) -> None:
    try:
        data = handler.input_fn(body, JSON)
    except RequestError as e:
        assert 400 <= e.status_code < 500
    else:
        assert all(isinstance(t, str) and t.strip() for t in data["texts"])


@pytest.mark.slow
# ----------------------------------------------------------------------------------------------- load path
def test_model_fn_refuses_a_tampered_artifact(model_dir: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(model_dir, tmp_path / "m")
    with open(copy / "tokenizer.json", "a") as f:
        f.write(" ")
    with pytest.raises(IntegrityError, match="tokenizer.json was modified"):
        handler.model_fn(str(copy))
    (copy / "code" / "extra.py").write_text("print('injected')\n")
    with pytest.raises(IntegrityError, match="unexpected file code/extra.py"):
        handler.model_fn(str(copy))


@pytest.mark.slow
def test_a_graph_with_other_inputs_fails_the_load_naming_them_and_what_is_fed(model_dir: Path,
                                                                              tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["pixel_values"], ["last_hidden_state"])], "g",
                              [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, [1, None, 384])],
                              [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "other.onnx"))
    shutil.copy(model_dir / "tokenizer.json", tmp_path / "tokenizer.json")
    manifest = json.loads((model_dir / "manifest.json").read_text())
    manifest["model"]["file"] = "other.onnx"
    with pytest.raises(ValueError, match=r"other.onnx takes inputs \['pixel_values'\]; this handler feeds input_ids, "
                                         r"attention_mask and optionally token_type_ids"):
        handler.EmbeddingModel(str(tmp_path), manifest)


@pytest.mark.slow
def test_artifact_layout_and_manifest(artifact_tar: Path, model_dir: Path) -> None:
    manifest = read_manifest(artifact_tar).to_dict()
    assert manifest["framework"] == "huggingface" and manifest["runtime"] in ("onnx", "onnx-int8", "torch")
    source = (ROOT / "inference" / "handlers" / "embeddings.py").read_bytes()
    assert (model_dir / "code" / "inference.py").read_bytes() == source
    assert (model_dir / manifest["model"]["file"]).is_file() and (model_dir / "tokenizer.json").is_file()
    from inference.build.artifact import sha256_file
    from inference.report import read_report

    report = read_report(artifact_tar, sha256_file(artifact_tar))  # what the build measured sits beside it
    assert report is not None and report.quality is not None and report.quality.passed is True
    assert report.resources.peak_rss_mb > 0 and report.resources.cold_load_s > 0
    assert not {"quality", "resources"} & set(manifest)
    assert manifest["handler"]["max_batch"] >= 1


_BLOCKER = textwrap.dedent("""
    import json, sys
    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "transformers", "sentence_transformers"):
                raise ImportError("blocked import of " + name)
            return None
    sys.meta_path.insert(0, Block())
    from inference.handlers import embeddings as h
    model = h.model_fn(sys.argv[1])
    out = json.loads(h.output_fn(h.predict_fn(h.input_fn(b'{"inputs": ["a", "b"]}', "application/json"), model),
                                 "application/json"))
    assert len(out["embeddings"]) == 2, out
    print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers"))))
""")


@pytest.mark.slow
def test_onnx_runtime_never_imports_torch_or_transformers(model_dir: Path) -> None:
    manifest = json.loads((model_dir / "manifest.json").read_text())
    if manifest["runtime"] == "torch":
        pytest.skip("the default artifact uses the torch runtime")
    proc = subprocess.run([sys.executable, "-c", _BLOCKER, str(model_dir)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


# ------------------------------------------------------------------------------------------ chunk planning
def _cost(chunks, lengths, overhead):
    return sum(overhead + (stop - start) * lengths[stop - 1] for start, stop in chunks)


def _brute_force_best(lengths, overhead, budget):
    n, best = len(lengths), None
    for mask in range(1 << max(0, n - 1)):  # every set of cut points between neighbours
        cuts = [0] + [i + 1 for i in range(n - 1) if mask >> i & 1] + [n]
        chunks = list(zip(cuts, cuts[1:], strict=False))
        if any(b - a > 1 and (b - a) * lengths[b - 1] > budget for a, b in chunks):
            continue
        cost = _cost(chunks, lengths, overhead)
        best = cost if best is None else min(best, cost)
    return best


@settings(max_examples=300, deadline=None)
@given(lengths=st.lists(st.integers(1, 300), min_size=1, max_size=9).map(sorted),
       overhead=st.integers(0, 100), budget=st.integers(1, 2048))
def test_plan_chunks_covers_the_batch_in_order_within_budget_at_least_cost(lengths, overhead, budget) -> None:
    chunks = handler.plan_chunks(lengths, overhead, budget)
    assert [a for a, _ in chunks] == [0] + [b for _, b in chunks[:-1]] and chunks[-1][1] == len(lengths)
    assert all(b > a for a, b in chunks)
    assert all(b - a == 1 or (b - a) * lengths[b - 1] <= budget for a, b in chunks)
    assert _cost(chunks, lengths, overhead) == _brute_force_best(lengths, overhead, budget)


def test_plan_chunks_splits_mixed_lengths_and_keeps_similar_ones_together() -> None:
    assert handler.plan_chunks([10] * 32) == [(0, 32)]  # no padding to save: one call
    mixed = [6] * 16 + [60] * 16
    assert handler.plan_chunks(mixed) == [(0, 16), (16, 32)]  # 16 x 54 padded tokens saved > one call's cost
    assert handler.plan_chunks([5, 6]) == [(0, 2)]  # one token of padding is cheaper than a second call
    assert all((b - a) * 256 <= handler.TOKEN_BUDGET for a, b in handler.plan_chunks([256] * 32))


_BATCH_TEXTS = st.sampled_from([
    "lol", "ok", "hello world", "🎉", "?", "k8s", "42", "café", "wetter morgen", "A short sentence.",
    "def add(a, b):\n    return a + b", "今日はとても良い天気ですね。",
    "The engineer deployed the new release before lunch.",
    "A much longer sentence that goes on and on about nothing in particular, with numbers 1 2 3 " * 3,
    "word " * 300,
]) | _texts


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_text_gets_the_same_vector_alone_and_in_any_batch_at_any_position(model, max_batch, data) -> None:
    text = data.draw(_BATCH_TEXTS, label="text")
    mates = data.draw(st.lists(_BATCH_TEXTS, max_size=max_batch - 1), label="batch-mates")
    position = data.draw(st.integers(0, len(mates)), label="position")
    batch = [*mates[:position], text, *mates[position:]]
    alone = np.asarray(invoke(model, {"inputs": text})["embeddings"][0])
    inside = np.asarray(invoke(model, {"inputs": batch})["embeddings"][position])
    assert float(alone @ inside) >= 0.9999


@pytest.mark.slow
def test_batch_mates_do_not_move_a_vector_in_the_image_python_with_the_vendored_runtime(model_dir: Path) -> None:
    # what the endpoint runs: code/inference.py, the vendored onnxruntime, the image's Python
    from inference.build.vendor import image_runtime_python

    manifest = json.loads((model_dir / "manifest.json").read_text())
    python = image_runtime_python(manifest["container"]["python"])
    script = textwrap.dedent("""
        import json, sys
        sys.path.insert(0, sys.argv[1] + "/code")
        import inference
        m = inference.model_fn(sys.argv[1])
        mates = ["The engineer deployed the new release before lunch.", "SELECT name FROM users;",
                 "Der Zug nach Berlin hat zwanzig Minuten Verspätung.", "今日はとても良い天気ですね。",
                 "A small team rebuilt a broken bicycle in record time after a long debate on Tuesday.",
                 "Invoice 12345 totals $99.10", "How does jazz affect the train timetable?"]
        out = {}
        for text in ["lol", "ok", "hello world", "🎉"]:
            alone = m.embed([text])[0][0]
            out[text] = [float(alone @ m.embed(mates + [text])[0][-1]), float(alone @ m.embed([text] + mates)[0][0])]
        print(json.dumps(out))
    """)
    run = subprocess.run([str(python), "-c", script, str(model_dir)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    cosines = json.loads(run.stdout.strip().splitlines()[-1])
    assert all(c >= 0.9999 for pair in cosines.values() for c in pair), cosines


@pytest.mark.slow
def test_one_text_takes_the_lean_path_with_the_same_vector_as_a_batch_of_copies(model) -> None:
    # a batch of identical texts quantizes its activations over the same values, so int8 gives the same vector
    for text in ["ok", "A short sentence about cats.", "def add(a, b):\n    return a + b", "x " * 400]:
        alone, truncated = model.embed([text])
        copies, truncated_copies = model.embed([text, text])
        assert alone.shape == (1, 384) and alone.dtype == np.float32
        np.testing.assert_allclose(alone[0], copies[0], atol=1e-6)
        assert truncated == truncated_copies[:1] == [len(text) > 500]


@pytest.mark.slow
@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("pooling", handler.POOLING_MODES)
def test_every_pooling_mode_pools_one_text_as_sentence_transformers_does(model, monkeypatch: pytest.MonkeyPatch,
                                                                         pooling: str, normalize: bool) -> None:
    # the one-text path pools without a mask; sentence-transformers' Pooling module on the same token vectors
    # (and the batch path, which pools with the mask) must give the same sentence vector
    import torch
    from sentence_transformers.models import Pooling

    monkeypatch.setattr(model, "pooling", pooling)
    monkeypatch.setattr(model, "normalize", normalize)
    text = "A short sentence about cats, with ünïcode and 42 numbers."
    encoding = model.tokenizer.encode(text)
    ids = np.array([encoding.ids], dtype=np.int64)
    tokens = model._hidden({"input_ids": ids, "attention_mask": np.ones_like(ids),
                            "token_type_ids": np.zeros_like(ids)})
    mode = {"mean": "mean", "cls": "cls", "max": "max", "mean_sqrt_len": "mean_sqrt_len_tokens"}[pooling]
    want = Pooling(384, pooling_mode=mode)({"token_embeddings": torch.from_numpy(tokens),
                                            "attention_mask": torch.from_numpy(ids * 0 + 1)})["sentence_embedding"]
    want = torch.nn.functional.normalize(want, dim=1).numpy() if normalize else want.numpy()
    alone, _ = model.embed([text])
    np.testing.assert_allclose(alone, want, rtol=1e-5, atol=1e-6)
    copies, _ = model.embed([text, text])  # the batch path, on the same activations
    np.testing.assert_allclose(copies, np.repeat(alone, 2, axis=0), rtol=1e-5, atol=1e-6)
    hidden = np.random.default_rng(0).standard_normal((3, 7, 384)).astype(np.float32)
    mask = np.array([[1] * 7, [1] * 4 + [0] * 3, [1] + [0] * 6], dtype=np.int64)  # padded rows
    want = Pooling(384, pooling_mode=mode)({"token_embeddings": torch.from_numpy(hidden),
                                            "attention_mask": torch.from_numpy(mask)})["sentence_embedding"]
    np.testing.assert_allclose(model._pool(hidden, mask), want.numpy(), rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------------------------ response
@pytest.fixture(params=["orjson", "%.9g"])
def writer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both JSON writers: orjson (vendored by the onnx runtimes) and the fallback where it is absent (torch)."""
    if request.param == "%.9g":
        monkeypatch.setattr(handler, "orjson", None)
    else:
        assert handler.orjson is not None, "orjson is in requirements.txt; the onnx artifacts vendor it"
    return request.param


@pytest.mark.slow
def test_response_json_carries_every_float32_exactly(model, writer: str) -> None:
    pred = handler.predict_fn(handler.input_fn(json.dumps({"inputs": ["a", "a longer text, with ünïcode"]}), JSON),
                              model)
    out = json.loads(handler.output_fn(pred, JSON))
    assert list(out) == ["embeddings", "model", "dimensions", "truncated"]
    assert np.array_equal(np.asarray(out["embeddings"], dtype=np.float32), pred["embeddings"])
    assert out["model"] == model.name and out["dimensions"] == 384 and out["truncated"] == [False, False]
    tiny = np.array([[1e-30, -0.0, 3.4e38, -1.17549435e-38, 1e-45]], dtype=np.float32)  # ... and a subnormal
    back = json.loads(handler.output_fn({"embeddings": tiny}, JSON))["embeddings"]
    assert np.array_equal(np.asarray(back, dtype=np.float32), tiny)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bits=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=64))
def test_any_finite_float32_reads_back_bit_for_bit_with_either_writer(writer: str, bits: list[int]) -> None:
    values = np.array(bits, dtype=np.uint32).view(np.float32)
    values = values[np.isfinite(values)]
    assume(values.size)
    back = np.asarray(json.loads(handler.output_fn({"embeddings": values[None, :]}, JSON))["embeddings"][0],
                      dtype=np.float32)
    assert np.array_equal(back.view(np.uint32), values.view(np.uint32))  # -0.0 and subnormals included


@pytest.mark.slow
def test_both_writers_give_the_same_numbers_and_orjson_is_not_longer(model, monkeypatch: pytest.MonkeyPatch) -> None:
    pred = handler.predict_fn(handler.input_fn(json.dumps({"inputs": ["the same numbers", "either way"]}), JSON),
                              model)
    fast = handler.output_fn(pred, JSON)
    monkeypatch.setattr(handler, "orjson", None)
    slow = handler.output_fn(pred, JSON)
    assert json.loads(fast)["embeddings"] != [] and len(fast) <= len(slow)
    a, b = (np.asarray(json.loads(o)["embeddings"], dtype=np.float32) for o in (fast, slow))
    assert np.array_equal(a, b) and {**json.loads(fast), "embeddings": 0} == {**json.loads(slow), "embeddings": 0}


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_embedding_is_an_error_not_invalid_json(writer: str, bad: float) -> None:
    with pytest.raises(ValueError, match="non-finite"):
        handler.output_fn({"embeddings": np.array([[0.5, bad]], dtype=np.float32)}, JSON)


# ------------------------------------------------------------------------------------------------- threads
@pytest.mark.parametrize(("files", "expected"), [
    ({"cpu.max": "max 100000\n"}, None),
    ({"cpu.max": "150000 100000\n"}, 1.5),
    ({"cpu.max": "200000 100000\n"}, 2.0),
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
    ({"cpu/cpu.cfs_quota_us": "50000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 0.5),
    ({}, None),
    ({"cpu.max": "garbage\n"}, None),
], ids=["v2-unlimited", "v2-1.5", "v2-2", "v1-unlimited", "v1-0.5", "none", "unreadable"])
def test_cgroup_cpu_quota_reads_v2_then_v1(tmp_path: Path, files: dict, expected) -> None:
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    assert handler.cgroup_cpu_quota(str(tmp_path)) == expected


@pytest.mark.parametrize(("quota", "threads"), [(None, 2), (0.5, 1), (1.5, 1), (2.0, 2), (8.0, 2)])
def test_onnxruntime_threads_follow_affinity_capped_by_the_quota(monkeypatch: pytest.MonkeyPatch, quota,
                                                                 threads) -> None:
    monkeypatch.setattr(handler.os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(handler, "cgroup_cpu_quota", lambda root="/sys/fs/cgroup": quota)
    assert handler._cpu_count() == threads


@pytest.mark.parametrize(("env", "threads"), [(None, 2), ("1", 1), ("2", 2), ("8", 2), (" 1 ", 1), ("1,1", 1)])
def test_omp_num_threads_caps_the_encoder_threads(monkeypatch: pytest.MonkeyPatch, env, threads) -> None:
    monkeypatch.setattr(handler, "_cpu_count", lambda: 2)
    if env is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", env)
    assert handler._thread_count() == threads


@pytest.mark.parametrize("env", ["0", "-1", "two", "1.5", ",2", "\u00b2", "\u0663"])  # '²', Arabic-Indic '3'
def test_a_bad_omp_num_threads_fails_the_load_naming_the_variable(monkeypatch: pytest.MonkeyPatch, env) -> None:
    monkeypatch.setattr(handler, "_cpu_count", lambda: 2)
    monkeypatch.setenv("OMP_NUM_THREADS", env)
    with pytest.raises(ValueError, match=r"OMP_NUM_THREADS=.* is not a positive integer.*unset it"):
        handler._thread_count()


@pytest.mark.slow
def test_the_loaded_session_runs_on_the_capped_thread_count(model_dir: Path, model,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    one = handler.model_fn(str(model_dir))
    assert one.session.get_session_options().intra_op_num_threads == 1
    assert model.session.get_session_options().intra_op_num_threads == handler._cpu_count()
    texts = ["one thread or two", "the same vector"]
    np.testing.assert_allclose(one.embed(texts)[0], model.embed(texts)[0], atol=1e-5)


@pytest.mark.slow
def test_the_default_int8_artifact_stays_under_25_megabytes(artifact_tar: Path) -> None:
    assert read_manifest(artifact_tar).runtime == "onnx-int8"
    assert artifact_tar.stat().st_size < 25_000_000  # the artifact-size target (docs/benchmark-notes.md)
