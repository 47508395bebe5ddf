"""The embeddings handler (inference/handlers/embeddings.py) as a spec, fast: on a tiny model built in the test.

tiny_embedding_model writes a model directory the handler's model_fn accepts (a WordLevel tokenizer.json, an
onnx.helper graph whose token vectors are table look-ups, manifest.json as the build writes it), so every
expected sentence vector here is computed by hand with numpy from the same tables: tokenise by splitting on
whitespace, look the token vectors up, pool, normalise. Nothing is marked slow: mutmut runs all of it.
test_embeddings.py holds the same contract on the real all-MiniLM-L6-v2 artifact (slow).
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import types
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inference.build.artifact import write_manifest
from inference.handlers import embeddings as handler
from inference.handlers.sls_errors import RequestError
from inference.handlers.sls_integrity import IntegrityError
from tests.inference.handlers import tiny_embedding_model as tiny

JSON = "application/json"
SHAPE = '{"inputs": "text"} or {"inputs": ["text", ...]}'
MAX_SEQ = 8  # the default tiny model's max_seq_length: [CLS] + 6 words + [SEP]
MAX_BATCH = 8
MAX_PAYLOAD = 4096


# ------------------------------------------------------------------------------------------------ by hand
def hand_tokens(text: str, max_seq_length: int = MAX_SEQ) -> tuple[list[int], list[int], bool]:
    """(ids, type ids, truncated?) of `[CLS] words [SEP]`, cut to max_seq_length tokens (specials included)."""
    words = [tiny.VOCAB.get(w, tiny.UNK) for w in text.lower().split()]
    kept = words[:max_seq_length - 2]
    ids = [tiny.CLS, *kept, tiny.SEP]
    return ids, [0] + [tiny.TEXT_TYPE] * len(kept) + [0], len(kept) < len(words)


def hand_hidden(text: str, max_seq_length: int = MAX_SEQ, *, types_input: bool = True) -> np.ndarray:
    """The graph's token vectors of one unpadded text (every attention_mask entry 1), in float64."""
    ids, type_ids, _ = hand_tokens(text, max_seq_length)
    hidden = tiny.EMBED[ids].astype(np.float64) + tiny.MASKED_IN
    return hidden + tiny.TYPES[type_ids] if types_input else hidden


def hand_vector(text: str, pooling: str = "mean", normalize: bool = True, max_seq_length: int = MAX_SEQ,
                *, types_input: bool = True) -> np.ndarray:
    h = hand_hidden(text, max_seq_length, types_input=types_input)
    n = len(h)
    vector = {"mean": h.sum(axis=0) / n, "cls": h[0], "max": h.max(axis=0),
              "mean_sqrt_len": h.sum(axis=0) / math.sqrt(n)}[pooling]
    if normalize:
        norm = math.sqrt(sum(float(x) ** 2 for x in vector))
        vector = vector / max(norm, 1e-12)
    return vector


def hand_matrix(texts: list[str], **kw) -> np.ndarray:
    return np.array([hand_vector(t, **kw) for t in texts])


# ------------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(autouse=True)
def _restore_limits():
    """model_fn sets the module-level limits input_fn reads; put back what a test found."""
    saved = dict(handler._limits)
    yield
    handler._limits.clear()
    handler._limits.update(saved)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny.build_model_dir(tmp_path_factory.mktemp("tiny") / "model", max_seq_length=MAX_SEQ,
                                max_batch=MAX_BATCH, max_payload_bytes=MAX_PAYLOAD)


@pytest.fixture(scope="module")
def model(model_dir: Path):
    saved = dict(handler._limits)
    yield handler.model_fn(str(model_dir))
    handler._limits.clear()
    handler._limits.update(saved)


@pytest.fixture
def loaded(model):
    """The default tiny model, with the limits its model_fn set (max_batch 8, 4096 bytes) in force."""
    handler._limits.update(max_batch=MAX_BATCH, max_payload_bytes=MAX_PAYLOAD)
    return model


def load(tmp_path: Path, name: str = "m", **kw):
    return handler.model_fn(str(tiny.build_model_dir(tmp_path / name, **kw)))


def rewrite_manifest(model_dir: Path, edit) -> None:
    """Change manifest.json (edit(raw) in place) and rehash, as a build that wrote such a manifest would."""
    raw = json.loads((model_dir / "manifest.json").read_text())
    edit(raw)
    raw.pop("files")
    write_manifest(model_dir, raw)


def invoke(model, payload, content_type: str = JSON, accept: str | None = JSON) -> dict:
    body = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    out = handler.output_fn(handler.predict_fn(handler.input_fn(body, content_type), model), accept)
    assert isinstance(out, bytes)
    return json.loads(out)


def request_error(body, content_type: str = JSON) -> RequestError:
    with pytest.raises(RequestError) as err:
        handler.input_fn(body, content_type)
    return err.value


class RecordingSession:
    """Wraps an onnxruntime session; records each call's feeds (copies) and the thread it ran on."""

    def __init__(self, session) -> None:
        self._session = session
        self.calls: list[dict[str, np.ndarray]] = []
        self.threads: list[str] = []

    def run(self, names, feeds):
        self.calls.append({k: np.array(v, copy=True) for k, v in feeds.items()})
        self.threads.append(threading.current_thread().name)
        return self._session.run(names, feeds)

    def __getattr__(self, name):
        return getattr(self._session, name)


class RecordingTokenizer:
    def __init__(self, tokenizer) -> None:
        self._tokenizer = tokenizer
        self.called: list[str] = []

    def __getattr__(self, name):
        self.called.append(name)
        return getattr(self._tokenizer, name)


@pytest.fixture
def recorded(loaded, monkeypatch: pytest.MonkeyPatch) -> RecordingSession:
    spy = RecordingSession(loaded.session)
    monkeypatch.setattr(loaded, "session", spy)
    return spy


def close(got, want) -> None:
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64), want, rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------------------------------------------ contract
def test_one_string_gives_one_hand_computed_unit_vector_with_model_dimensions_and_flags(loaded) -> None:
    out = invoke(loaded, {"inputs": "The cat sat on the mat"})
    assert list(out) == ["embeddings", "model", "dimensions", "truncated"]
    assert out["model"] == "tiny-wordlevel" and out["dimensions"] == 4 and out["truncated"] == [False]
    assert len(out["embeddings"]) == 1 and len(out["embeddings"][0]) == 4
    close(out["embeddings"][0], hand_vector("The cat sat on the mat"))
    assert np.linalg.norm(out["embeddings"][0]) == pytest.approx(1.0, abs=1e-6)


def test_a_list_gives_one_row_per_input_in_input_order(loaded) -> None:
    texts = ["hello world", "the big red dog sat on a mat", "cat", "unknown words here", "a cat on a mat"]
    out = invoke(loaded, {"inputs": texts})
    close(out["embeddings"], hand_matrix(texts))
    assert out["truncated"] == [False, True, False, False, False]
    assert out["model"] == tiny.NAME and out["dimensions"] == tiny.DIM


def test_predict_fn_returns_a_float32_matrix_and_the_flags(loaded) -> None:
    pred = handler.predict_fn({"texts": ["cat", "dog sat"]}, loaded)
    assert set(pred) == {"embeddings", "model", "dimensions", "truncated"}
    assert pred["embeddings"].dtype == np.float32 and pred["embeddings"].shape == (2, 4)
    assert pred["model"] == "tiny-wordlevel" and pred["dimensions"] == 4 and pred["truncated"] == [False, False]
    close(pred["embeddings"], hand_matrix(["cat", "dog sat"]))
    one = handler.predict_fn({"texts": ["far"]}, loaded)["embeddings"]
    assert one.dtype == np.float32 and one.shape == (1, 4)


def test_inputs_longer_than_max_seq_length_are_cut_there_and_flagged(loaded) -> None:
    # tokenizer.json asks for truncation at 512 and padding to 12: the manifest's max_seq_length (8) must win
    six, seven = "the cat sat on a mat", "the cat sat on a mat far"
    for texts in ([six, seven], [seven]):
        vectors, truncated = loaded.embed(texts)
        assert truncated == [t == seven for t in texts]
        close(vectors[-1], hand_vector(six))  # the seventh word is cut
    assert loaded.embed([six])[1] == [False]
    long_text = " ".join(["dog"] * 40)
    vectors, truncated = loaded.embed([long_text, "cat"])
    assert truncated == [True, False]
    close(vectors, hand_matrix([long_text, "cat"]))


def test_the_tokenizer_files_padding_is_switched_off(loaded) -> None:
    enc = loaded.tokenizer.encode("cat")
    assert enc.ids == [tiny.CLS, tiny.VOCAB["cat"], tiny.SEP]
    assert loaded.tokenizer.truncation["max_length"] == MAX_SEQ and loaded.tokenizer.padding is None


# ------------------------------------------------------------------------------------------------ pooling
@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("pooling", ["mean", "cls", "max", "mean_sqrt_len"])
def test_every_pooling_mode_matches_numpy_by_hand_alone_and_padded_in_a_batch(tmp_path: Path, pooling: str,
                                                                              normalize: bool) -> None:
    m = load(tmp_path, pooling=pooling, normalize=normalize)
    assert m.pooling == pooling and m.normalize is normalize
    # lengths 3 to 8: the short ones are padded with [PAD], whose vector (9, 9, 9, 9) beats every real one
    texts = ["cat", "the big red dog sat on a mat", "hello world", "far dot", "a cat sat on the mat"]
    for text in texts:
        alone, truncated = m.embed([text])
        assert alone.shape == (1, 4) and alone.dtype == np.float32
        close(alone[0], hand_vector(text, pooling, normalize))
    together, _ = m.embed(texts)
    assert together.dtype == np.float32
    close(together, hand_matrix(texts, pooling=pooling, normalize=normalize))


def test_unnormalised_mean_and_mean_sqrt_len_divide_by_the_token_count_and_its_root(tmp_path: Path) -> None:
    text = "the cat sat"  # 5 tokens
    summed = hand_hidden(text).sum(axis=0)
    for pooling, divisor in (("mean", 5), ("mean_sqrt_len", math.sqrt(5))):
        m = load(tmp_path, pooling, pooling=pooling, normalize=False)
        close(m.embed([text])[0][0], summed / divisor)
        close(m.embed([text, "cat"])[0][0], summed / divisor)


def test_pool_masks_padding_for_every_mode(loaded, monkeypatch: pytest.MonkeyPatch) -> None:
    hidden = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2)  # row 1's pads are the largest values
    hidden[1, 0] = [-5, 7]
    mask = np.array([[1, 1, 1], [1, 0, 0]], dtype=np.int64)
    want = {"mean": [[2, 3], [-5, 7]], "cls": [[0, 1], [-5, 7]], "max": [[4, 5], [-5, 7]],
            "mean_sqrt_len": [[6 / math.sqrt(3), 9 / math.sqrt(3)], [-5, 7]]}
    for pooling, expected in want.items():
        monkeypatch.setattr(loaded, "pooling", pooling)
        pooled = loaded._pool(hidden, mask)
        close(pooled, np.array(expected))
        assert pooled.dtype == np.float32  # no float64 copy of the [rows, length, dimensions] activations


# ------------------------------------------------------------------------------------------------ normalisation
def test_vectors_are_unit_length_and_a_zero_vector_stays_zero(loaded) -> None:
    texts = ["nil", "dot", "far far far", "the cat sat"]
    for path in ([t] for t in texts), [texts]:  # alone (the lean path), then together (the batch path)
        for batch in path:
            vectors, _ = loaded.embed(batch)
            for text, v in zip(batch, vectors, strict=True):
                if text == "nil":  # [CLS] nil [SEP] sums to zero: no division by zero, no NaN
                    assert np.array_equal(v, np.zeros(4, dtype=np.float32))
                else:
                    assert np.linalg.norm(v) == pytest.approx(1.0, abs=1e-6)
                    close(v, hand_vector(text))
    # "dot" sums to (0.25, 0, 0, 0): shorter than 1, normalised all the same
    close(loaded.embed(["dot"])[0][0], [1, 0, 0, 0])
    close(loaded.embed(["dot", "dot"])[0], [[1, 0, 0, 0]] * 2)


def test_without_normalisation_short_and_zero_vectors_keep_their_length(tmp_path: Path) -> None:
    m = load(tmp_path, normalize=False)
    close(m.embed(["dot"])[0][0], [0.25 / 3, 0, 0, 0])
    close(m.embed(["dot", "nil", "far"])[0], [[0.25 / 3, 0, 0, 0], [0, 0, 0, 0], hand_vector("far", normalize=False)])
    assert np.linalg.norm(hand_vector("far", normalize=False)) > 10


def test_normalize_defaults_to_true_when_the_manifest_omits_it(tmp_path: Path) -> None:
    m = load(tmp_path, normalize=None)
    assert "normalize" not in json.loads((tmp_path / "m" / "manifest.json").read_text())["model"]
    assert m.normalize is True
    close(m.embed(["far"])[0][0], hand_vector("far"))


# ------------------------------------------------------------------------------------------------ batches
_WORDS = st.sampled_from([*tiny.WORDS, "zebra", "THE", "Cat"])
_TEXT = st.lists(_WORDS, min_size=1, max_size=9).map(" ".join)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(_TEXT, min_size=1, max_size=MAX_BATCH), data=st.data())
def test_a_text_gets_its_own_vector_whatever_its_batch_mates_and_position(loaded, texts, data) -> None:
    out = invoke(loaded, {"inputs": texts})
    want = hand_matrix(texts)
    close(out["embeddings"], want)
    assert out["truncated"] == [hand_tokens(t)[2] for t in texts]
    i = data.draw(st.integers(0, len(texts) - 1))
    close(invoke(loaded, {"inputs": texts[i]})["embeddings"][0], want[i])


def test_one_text_takes_the_lean_path_unpadded_with_encode(loaded, recorded,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    spy = RecordingTokenizer(loaded.tokenizer)
    monkeypatch.setattr(loaded, "tokenizer", spy)
    loaded.embed(["the cat sat"])
    assert spy.called == ["encode"]  # no encode_batch: its thread pool would compete with the encoder's
    [feeds] = recorded.calls
    ids, type_ids, _ = hand_tokens("the cat sat")
    assert feeds["input_ids"].tolist() == [ids] and feeds["attention_mask"].tolist() == [[1] * 5]
    assert feeds["token_type_ids"].tolist() == [type_ids]
    assert {k: v.dtype for k, v in feeds.items()} == dict.fromkeys(feeds, np.dtype(np.int64))


def test_a_batch_runs_sorted_by_length_then_text_padded_to_its_longest(loaded, recorded) -> None:
    texts = ["the cat", "dog", "a cat", "red dog sat"]
    loaded.embed(texts)
    [feeds] = recorded.calls  # one chunk: splitting would save less padding than a call costs
    rows = ["dog", "a cat", "the cat", "red dog sat"]  # (length, text) order
    pad = tiny.PAD
    want_ids = [hand_tokens(t)[0] + [pad] * (5 - len(hand_tokens(t)[0])) for t in rows]
    assert feeds["input_ids"].tolist() == want_ids
    assert feeds["attention_mask"].tolist() == [[1] * len(hand_tokens(t)[0]) + [0] * (5 - len(hand_tokens(t)[0]))
                                                for t in rows]
    assert feeds["token_type_ids"].tolist() == [hand_tokens(t)[1] + [0] * (5 - len(hand_tokens(t)[1]))
                                                for t in rows]
    assert {k: v.dtype for k, v in feeds.items()} == dict.fromkeys(feeds, np.dtype(np.int64))
    recorded.calls.clear()
    loaded.embed(texts[::-1])  # any input order: the same encoder call
    assert recorded.calls[0]["input_ids"].tolist() == want_ids


def test_mixed_lengths_run_in_the_chunks_that_save_padding(loaded, recorded) -> None:
    texts = ["the big red dog sat on"] + ["cat"] * 8  # 8 x 3 tokens and one of 8: 8 x 5 pads cost more than a call
    vectors, truncated = loaded.embed(texts)
    assert [c["input_ids"].shape for c in recorded.calls] == [(8, 3), (1, 8)]
    close(vectors, hand_matrix(texts))
    assert vectors.dtype == np.float32 and truncated == [False] * 9


def test_a_large_batch_is_split_at_the_token_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    m = load(tmp_path, max_seq_length=64, max_batch=64)
    spy = RecordingSession(m.session)
    monkeypatch.setattr(m, "session", spy)
    texts = [" ".join(["dog"] * 62)] * 40 + ["cat"]  # 40 x 64 tokens > 2048: at most 32 of them per call
    vectors, _ = m.embed(texts)
    assert [c["input_ids"].shape for c in spy.calls] == [(1, 3), (32, 64), (8, 64)]
    close(vectors, hand_matrix(texts, max_seq_length=64))


@pytest.mark.parametrize(("lengths", "overhead", "budget", "chunks"), [
    ([], 32, 2048, []),
    ([7], 32, 2048, [(0, 1)]),
    ([50], 0, 20, [(0, 1)]),  # a single text longer than the budget still runs, alone
    ([50, 50], 100, 20, [(0, 1), (1, 2)]),  # two such texts never share a call, however dear a call is
    ([10, 10], 5, 20, [(0, 2)]),  # exactly at the budget: allowed
    ([10, 10], 5, 19, [(0, 1), (1, 2)]),  # one token over: split
    ([10, 10, 10], 1, 20, [(0, 2), (2, 3)]),  # at most two per call; of the equal-cost plans, the last chunk short
    ([1, 1], 0, 2048, [(0, 1), (1, 2)]),  # a tie between one call and two: the split found first (shortest) stays
    ([2, 3], 2, 2048, [(0, 2)]),  # one call: 2 + 2 x 3 = 8 < 2 + 2 + 2 + 3
    ([2, 5], 1, 2048, [(0, 1), (1, 2)]),  # two calls: 1 + 2 + 1 + 5 = 9 < 1 + 2 x 5
    ([1, 2, 9, 9, 9, 30], 4, 2048, [(0, 2), (2, 5), (5, 6)]),
    ([3] * 8 + [8], 32, 2048, [(0, 8), (8, 9)]),  # the handler's overhead: 8 x 5 padded tokens cost more than a call
])
def test_plan_chunks_exact_plans(lengths, overhead, budget, chunks) -> None:
    assert handler.plan_chunks(lengths, overhead, budget) == chunks


def test_plan_chunks_defaults_are_the_measured_call_cost_and_token_budget() -> None:
    assert (handler.CHUNK_OVERHEAD, handler.TOKEN_BUDGET) == (32, 2048)
    assert handler.plan_chunks([3] * 8 + [8]) == [(0, 8), (8, 9)]
    assert handler.plan_chunks([64] * 33) == [(0, 32), (32, 33)]  # 33 x 64 > 2048
    assert handler.plan_chunks([64] * 32) == [(0, 32)]


def test_a_graph_without_token_type_ids_is_fed_without_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    m = load(tmp_path, inputs=("input_ids", "attention_mask"))
    assert m.input_names == ["input_ids", "attention_mask"]
    spy = RecordingSession(m.session)
    monkeypatch.setattr(m, "session", spy)
    texts = ["the cat sat", "dog"]
    close(m.embed(texts)[0], hand_matrix(texts, types_input=False))
    close(m.embed(["dog"])[0], hand_matrix(["dog"], types_input=False))
    assert [sorted(c) for c in spy.calls] == [["attention_mask", "input_ids"]] * 2


# ------------------------------------------------------------------------------------------------ onnx-int8
def test_int8_on_one_thread_runs_each_text_alone_on_the_main_session(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    m = load(tmp_path, runtime="onnx-int8")
    spy = RecordingSession(m.session)
    monkeypatch.setattr(m, "session", spy)
    texts = ["the big red dog", "cat", "the cat sat on a mat far"]
    vectors, truncated = m.embed(texts)
    assert vectors.dtype == np.float32 and truncated == [False, False, True]
    close(vectors, hand_matrix(texts))
    assert [c["input_ids"].tolist() for c in spy.calls] == [[hand_tokens(t)[0]] for t in texts]  # unpadded
    assert all(c["attention_mask"].min() == 1 for c in spy.calls)
    assert m._workers is None


class SpySession(ort.InferenceSession):
    made: list[tuple] = []
    runs: list[tuple[str, int]] = []

    def __init__(self, path, sess_options=None, providers=None):
        o = sess_options
        SpySession.made.append((path, o.intra_op_num_threads, o.inter_op_num_threads, o.execution_mode,
                                o.graph_optimization_level, o.log_severity_level, providers))
        super().__init__(path, sess_options=sess_options, providers=providers)

    def run(self, names, feeds):
        SpySession.runs.append((threading.current_thread().name, feeds["input_ids"].shape[0]))
        return super().run(names, feeds)


def test_int8_batches_run_on_one_thread_sessions_one_worker_per_thread(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(handler, "_cpu_count", lambda: 3)
    monkeypatch.setattr(SpySession, "made", [])
    monkeypatch.setattr(SpySession, "runs", [])
    monkeypatch.setattr(ort, "InferenceSession", SpySession)
    m = load(tmp_path, runtime="onnx-int8")
    path = str(tmp_path / "m" / "model-int8.onnx")
    sequential, enable_all = ort.ExecutionMode.ORT_SEQUENTIAL, ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    main = (path, 3, 1, sequential, enable_all, 3, ["CPUExecutionProvider"])
    assert SpySession.made == [main]
    close(m.embed(["far dog"])[0], hand_matrix(["far dog"]))  # batch 1: the main session, no workers
    assert SpySession.made == [main] and m._workers is None
    texts = ["the big red dog", "cat", "the cat sat on a mat far", "hello", "world hello"]
    for _ in range(2):
        vectors, truncated = m.embed(texts)
        close(vectors, hand_matrix(texts))
        assert truncated == [False, False, True, False, False]
    assert SpySession.made == [main, (path, 1, 1, sequential, enable_all, 3, ["CPUExecutionProvider"])]
    executor, _ = m._workers
    assert executor._max_workers == 3
    batch_runs = SpySession.runs[1:]
    assert len(batch_runs) == 10 and all(rows == 1 for _, rows in batch_runs)
    assert all(name.startswith("sls-encoder") for name, _ in batch_runs)


# ------------------------------------------------------------------------------------------------ torch runtime
class _Tensor:
    def __init__(self, a: np.ndarray) -> None:
        self.a = a

    def float(self) -> _Tensor:
        return _Tensor(self.a.astype(np.float32))

    def numpy(self) -> np.ndarray:
        return self.a


def _fake_torch_and_transformers(log: dict):
    """torch / transformers stand-ins: AutoModel computes the tiny graph's function (in float64) from the tables
    in model.safetensors, refusing to run outside inference_mode or in training mode."""
    torch = types.ModuleType("torch")
    torch.set_num_threads = lambda n: log.setdefault("threads", []).append(n)
    torch.from_numpy = _Tensor

    @contextlib.contextmanager
    def inference_mode():
        log["inference_mode"] = True
        yield
        log["inference_mode"] = False

    torch.inference_mode = inference_mode

    class Encoder:
        def __init__(self, model_dir: str) -> None:
            with open(Path(model_dir) / "model.safetensors", "rb") as f:
                self.tables = dict(np.load(f))
            self.training = True

        def eval(self):
            self.training = False
            return self

        def __call__(self, **feeds):
            assert log.get("inference_mode") and not self.training
            log.setdefault("feeds", []).append(sorted(feeds))
            t = self.tables
            ids, mask, type_ids = (feeds[k].a for k in ("input_ids", "attention_mask", "token_type_ids"))
            hidden = t["embed"][ids].astype(np.float64) + t["types"][type_ids] + mask[..., None] * t["masked_in"]
            return types.SimpleNamespace(last_hidden_state=_Tensor(hidden))

    class AutoModel:
        @staticmethod
        def from_pretrained(path):
            log["from_pretrained"] = path
            return Encoder(path)

    transformers = types.ModuleType("transformers")
    transformers.AutoModel = AutoModel
    return torch, transformers


def test_the_torch_runtime_loads_with_automodel_and_pools_the_same(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    log: dict = {}
    torch, transformers = _fake_torch_and_transformers(log)
    monkeypatch.setitem(__import__("sys").modules, "torch", torch)
    monkeypatch.setitem(__import__("sys").modules, "transformers", transformers)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(handler, "_cpu_count", lambda: 3)
    m = load(tmp_path, runtime="torch")
    assert log["threads"] == [3] and log["from_pretrained"] == str(tmp_path / "m")
    assert m.runtime == "torch" and m._model_path is None
    texts = ["the big red dog", "cat", "the cat sat on a mat far"]
    vectors, truncated = m.embed(texts)
    assert vectors.dtype == np.float32 and truncated == [False, False, True]
    close(vectors, hand_matrix(texts))
    one, _ = m.embed(["far dog"])
    assert one.dtype == np.float32  # last_hidden_state.float(): float32 like the onnx graphs
    close(one[0], hand_vector("far dog"))
    assert log["feeds"] == [["attention_mask", "input_ids", "token_type_ids"]] * 2
    assert m.input_names == ["input_ids", "attention_mask", "token_type_ids"]  # what it feeds, as for a graph
    assert log["inference_mode"] is False
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    load(tmp_path, "two", runtime="torch")
    assert log["threads"] == [3, 2]


# ------------------------------------------------------------------------------------------------ request errors
@pytest.mark.parametrize("content_type", [JSON, "application/json; charset=utf-8", "Application/JSON",
                                          " application/json ;charset=UTF-8", "application/json; charset=utf-8; v=2"])
def test_json_content_types_are_accepted(loaded, content_type: str) -> None:
    assert handler.input_fn(b'{"inputs": "cat"}', content_type) == {"texts": ["cat"]}


@pytest.mark.parametrize("content_type", ["text/plain", "application/jsonl", "", None, "application/x-json"])
def test_other_content_types_are_415_naming_what_to_send(loaded, content_type) -> None:
    err = request_error(b'{"inputs": "cat"}', content_type)
    assert err.status_code == 415
    assert err.reason == f"content type {content_type!r} is not supported; send application/json with {SHAPE}"


def test_bodies_may_be_bytes_str_bytearray_or_memoryview(loaded) -> None:
    for body in (b'{"inputs": ["cat"]}', '{"inputs": ["cat"]}', bytearray(b'{"inputs": ["cat"]}'),
                 memoryview(b'{"inputs": ["cat"]}')):
        assert handler.input_fn(body, JSON) == {"texts": ["cat"]}
    assert handler.input_fn('{"inputs": "caf\u00e9"}', JSON) == {"texts": ["caf\u00e9"]}


@pytest.mark.parametrize(("body", "kind"), [(None, "NoneType"), (42, "int"), (["cat"], "list"),
                                            ({"inputs": "cat"}, "dict")])
def test_a_body_of_another_type_is_400(loaded, body, kind: str) -> None:
    err = request_error(body)
    assert err.status_code == 400 and err.reason == f"request body must be bytes or text, got {kind}"


def test_a_str_body_that_is_not_encodable_is_400(loaded) -> None:
    err = request_error('{"inputs": "\ud800"}')
    assert err.status_code == 400 and err.reason.startswith("request body is not valid UTF-8 text: ")
    assert "surrogate" in err.reason


def test_bytes_that_are_not_utf8_are_400(loaded) -> None:
    err = request_error(b'{"inputs": "\xff"}')
    assert err.status_code == 400 and err.reason.startswith("request body is not valid UTF-8: ")
    assert "0xff" in err.reason


def test_malformed_and_too_deep_json_are_400(loaded) -> None:
    err = request_error(b'{"inputs": ')
    assert err.status_code == 400 and err.reason == "malformed JSON: Expecting value: line 1 column 12 (char 11)"
    err = request_error(b"[" * 4000)
    assert err.status_code == 400 and err.reason == "malformed JSON: nested too deeply"


def test_the_payload_limit_is_the_manifests_checked_before_parsing(loaded) -> None:
    assert handler._limits["max_payload_bytes"] == MAX_PAYLOAD
    at_limit = b'{"inputs": "cat"}'.ljust(MAX_PAYLOAD)
    assert handler.input_fn(at_limit, JSON) == {"texts": ["cat"]}
    assert handler.input_fn(at_limit.decode(), JSON) == {"texts": ["cat"]}
    for body in (at_limit + b" ", b"{" * (MAX_PAYLOAD + 1), (at_limit + b" ").decode()):
        err = request_error(body)  # malformed or not: the size check comes first
        assert err.status_code == 413
        assert err.reason == ("request body is 4097 bytes; this endpoint accepts at most 4096 bytes (serverless "
                              "payload limit 4 MB): send fewer or shorter inputs per request")
    err = request_error("\u00e9" * 2049)  # 2049 characters, 4098 bytes: the limit counts UTF-8 bytes
    assert err.status_code == 413 and "4098 bytes" in err.reason


@pytest.mark.parametrize(("payload", "reason"), [
    ([1], f"expected a JSON object {SHAPE}, got a JSON array"),
    ("cat", f"expected a JSON object {SHAPE}, got a JSON string"),
    (None, f"expected a JSON object {SHAPE}, got a JSON null"),
    ({"text": "cat", "other": 1}, f"missing key 'inputs'; expected {SHAPE}"),
    ({"inputs": "cat", "z": 1, "parameters": {}}, "unsupported key(s) 'parameters', 'z'; the only allowed key is "
                                                  "'inputs'"),
    ({"inputs": 3}, "'inputs' must be a string or a list of strings, got a JSON number"),
    ({"inputs": {"a": "b"}}, "'inputs' must be a string or a list of strings, got a JSON object"),
    ({"inputs": None}, "'inputs' must be a string or a list of strings, got a JSON null"),
    ({"inputs": []}, "'inputs' is an empty list; send at least one string"),
    ({"inputs": ["cat", True]}, "inputs[1] is a JSON boolean; every input must be a string"),
    ({"inputs": ["cat", "dog", 2.5]}, "inputs[2] is a JSON number; every input must be a string"),
    ({"inputs": ["cat", ["dog"]]}, "inputs[1] is a JSON array; every input must be a string"),
    ({"inputs": [" \t\n"]}, "inputs[0] is empty or only whitespace; every input must contain text"),
    ({"inputs": "\u3000"}, "inputs[0] is empty or only whitespace; every input must contain text"),
    ({"inputs": ["cat", ""]}, "inputs[1] is empty or only whitespace; every input must contain text"),
    ({"inputs": ["cat", "dog \ud800"]}, "inputs[1] contains an unpaired UTF-16 surrogate escape; send valid Unicode"),
])
def test_a_bad_shape_is_400_with_its_reason(loaded, payload, reason: str) -> None:
    err = request_error(json.dumps(payload).encode())
    assert (err.status_code, err.reason) == (400, reason)


def test_more_inputs_than_max_batch_is_413_and_max_batch_is_served(loaded) -> None:
    assert handler._limits["max_batch"] == MAX_BATCH
    assert len(invoke(loaded, {"inputs": ["cat"] * MAX_BATCH})["embeddings"]) == MAX_BATCH
    err = request_error(json.dumps({"inputs": ["cat"] * (MAX_BATCH - 1) + [1, 2]}))  # counted before items
    assert (err.status_code, err.reason) == (413, "'inputs' has 9 items; this endpoint accepts at most 8 per request")


def test_json_type_names_every_json_value_and_falls_back_to_the_python_type() -> None:
    values = [None, True, False, 0, -1.5, "s", [], {}, (1,), b"x"]
    assert [handler._json_type(v) for v in values] == ["null", "boolean", "boolean", "number", "number", "string",
                                                       "array", "object", "tuple", "bytes"]


def test_the_handler_keeps_serving_after_client_errors(loaded) -> None:
    for body in (b"nope", b'{"inputs": []}', b'{"inputs": [1]}', b"{" * 5000):
        with pytest.raises(RequestError):
            invoke(loaded, body)
    close(invoke(loaded, {"inputs": ["still here"]})["embeddings"], hand_matrix(["still here"]))


# ------------------------------------------------------------------------------------------------ response
@pytest.mark.parametrize("accept", [None, "", "  ", JSON, "application/json; q=0.9", "text/csv, application/json",
                                    "application/*", "*/*", "text/html,*/*;q=0.1", "APPLICATION/JSON",
                                    "application/json; q=0.9; level=1"])
def test_accept_headers_that_admit_json(loaded, accept) -> None:
    close(invoke(loaded, {"inputs": "cat"}, accept=accept)["embeddings"], hand_matrix(["cat"]))


@pytest.mark.parametrize("accept", ["text/csv", "application/xml", "text/*", "application/jsonl, text/plain"])
def test_other_accept_headers_are_406(loaded, accept: str) -> None:
    pred = handler.predict_fn({"texts": ["cat"]}, loaded)
    with pytest.raises(RequestError) as err:
        handler.output_fn(pred, accept)
    assert err.value.status_code == 406
    assert err.value.reason == f"Accept {accept!r} is not supported; this endpoint answers application/json"


@pytest.fixture(params=["orjson", "%.9g"])
def writer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "%.9g":
        monkeypatch.setattr(handler, "orjson", None)
    return request.param


def test_output_bytes_are_compact_json_in_the_documents_order(writer: str) -> None:
    pred = {"embeddings": np.array([[0.5, -1.0], [0.25, 3.0]], dtype=np.float32), "model": "tiny",
            "dimensions": 2, "truncated": [False, True]}
    one = "-1.0" if writer == "orjson" else "-1"
    three = "3.0" if writer == "orjson" else "3"
    assert handler.output_fn(pred, JSON) == (f'{{"embeddings":[[0.5,{one}],[0.25,{three}]],"model":"tiny",'
                                             '"dimensions":2,"truncated":[false,true]}').encode()
    assert handler.output_fn({"embeddings": pred["embeddings"][:1]}, JSON) == (
        f'{{"embeddings":[[0.5,{one}]]}}').encode()


def test_output_writes_float32_values_of_any_input_array(writer: str) -> None:
    third = np.array([[1 / 3, 2 / 3, 0.1, 7.0]])  # float64, and sliced below (not contiguous)
    first = b"0.33333334" if writer == "orjson" else b"0.333333343"  # float32(1/3), not float64's 0.3333333333...
    for array in (third, third[:, ::2], np.asfortranarray(np.vstack([third, third]))):
        out = handler.output_fn({"embeddings": array}, JSON)
        assert out.startswith(b'{"embeddings":[[' + first + b",")
        back = json.loads(out)["embeddings"]
        assert np.array_equal(np.asarray(back, dtype=np.float32), np.asarray(array, dtype=np.float32))
    huge = np.array([[3e38, 3e38, -3e38]], dtype=np.float32)  # finite, though a float32 sum would overflow
    back = json.loads(handler.output_fn({"embeddings": huge}, JSON))["embeddings"]
    assert np.array_equal(np.asarray(back, dtype=np.float32), huge)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_value_is_refused(writer: str, bad: float) -> None:
    with pytest.raises(ValueError, match="^the model produced a non-finite embedding; refusing to send invalid JSON$"):
        handler.output_fn({"embeddings": np.array([[0.5, bad]], dtype=np.float32)}, JSON)


def test_json_matrix_writes_nine_significant_digits_per_value() -> None:
    m = np.array([[1 / 3, -2.5e-8], [1e20, 0]], dtype=np.float32)
    assert handler._json_matrix(m) == "[[0.333333343,-2.50000003e-08],[1.00000002e+20,0]]"


# ------------------------------------------------------------------------------------------------ threads
@pytest.mark.parametrize(("raw", "cap"), [("", None), ("   ", None), ("1", 1), ("4", 4), (" 2 ", 2), ("3,1", 3),
                                          (" 2 , 8", 2), ("16", 16)])
def test_thread_cap_reads_the_first_entry(raw: str, cap) -> None:
    assert handler.thread_cap(raw) == cap


@pytest.mark.parametrize("raw", ["0", "-1", "two", "1.5", ",2", "\u00b2", "\u0663", "1e3", "+1", "00"])
def test_thread_cap_refuses_anything_but_a_positive_integer(raw: str) -> None:
    with pytest.raises(ValueError) as err:
        handler.thread_cap(raw)
    assert str(err.value) == (f"OMP_NUM_THREADS={raw!r} is not a positive integer (e.g. 1 or 2); unset it to use "
                              "every vCPU")


@pytest.mark.parametrize(("files", "expected"), [
    ({"cpu.max": "max 100000\n"}, None),
    ({"cpu.max": "max\n"}, None),
    ({"cpu.max": "max 100000\n", "cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
    ({"cpu.max": "150000 100000\n"}, 1.5),
    ({"cpu.max": "  50000   200000 \n"}, 0.25),
    ({"cpu.max": "50000\n"}, 0.5),  # no period: the default 100000
    ({"cpu.max": "150000 100000\n", "cpu/cpu.cfs_quota_us": "400000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1.5),
    ({"cpu.max": "150000 0\n", "cpu/cpu.cfs_quota_us": "400000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 4.0),
    ({"cpu.max": "lots 100000\n", "cpu/cpu.cfs_quota_us": "300000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 3.0),
    ({"cpu.max": "150000 0\n"}, None),
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
    ({"cpu/cpu.cfs_quota_us": "0\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
    ({"cpu/cpu.cfs_quota_us": "25000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 0.25),
    ({"cpu/cpu.cfs_quota_us": "1\n", "cpu/cpu.cfs_period_us": "100000\n"}, 0.00001),
    ({"cpu/cpu.cfs_quota_us": " 50000 \n", "cpu/cpu.cfs_period_us": " 200000\n"}, 0.25),
    ({"cpu/cpu.cfs_quota_us": "50000\n", "cpu/cpu.cfs_period_us": "0\n"}, None),
    ({"cpu/cpu.cfs_quota_us": "50000\n"}, None),
    ({"cpu/cpu.cfs_quota_us": "x\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
    ({}, None),
])
def test_cgroup_cpu_quota_reads_v2_then_v1(tmp_path: Path, files: dict, expected) -> None:
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    assert handler.cgroup_cpu_quota(str(tmp_path)) == expected


def test_cgroup_cpu_quota_reads_sys_fs_cgroup_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened = []
    files = {"/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "50000\n", "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n"}

    def fake_open(path, *args, **kwargs):
        opened.append(path)
        if path not in files:
            raise FileNotFoundError(path)
        (tmp_path / "f").write_text(files[path])
        return open(tmp_path / "f", *args, **kwargs)

    monkeypatch.setattr(handler, "open", fake_open, raising=False)
    assert handler.cgroup_cpu_quota() == 0.5
    assert opened == ["/sys/fs/cgroup/cpu.max", *files]


@pytest.mark.parametrize(("affinity", "cpu_count", "quota", "expected"), [
    ({0, 1, 2}, 8, None, 3), ({0, 1, 2}, 8, 2.5, 2), ({0, 1, 2}, 8, 0.25, 1), ({0, 1, 2}, 8, 16.0, 3),
    ({5}, 8, None, 1), (AttributeError, 6, None, 6), (OSError, 6, 4.0, 4), (OSError, None, None, 1),
    (AttributeError, None, 0.5, 1), (AttributeError, 4, 1.0, 1),
])
def test_cpu_count_is_the_affinity_capped_by_the_quota(monkeypatch: pytest.MonkeyPatch, affinity, cpu_count, quota,
                                                       expected: int) -> None:
    if affinity is AttributeError:
        monkeypatch.delattr(handler.os, "sched_getaffinity", raising=False)
    elif affinity is OSError:
        def refuse(pid):
            raise OSError("no affinity here")
        monkeypatch.setattr(handler.os, "sched_getaffinity", refuse)
    else:
        monkeypatch.setattr(handler.os, "sched_getaffinity", lambda pid: affinity if pid == 0 else set())
    monkeypatch.setattr(handler.os, "cpu_count", lambda: cpu_count)
    monkeypatch.setattr(handler, "cgroup_cpu_quota", lambda root="/sys/fs/cgroup": quota)
    assert handler._cpu_count() == expected


@pytest.mark.parametrize(("env", "threads"), [(None, 3), ("", 3), ("1", 1), ("2", 2), ("8", 3), ("2,1", 2)])
def test_the_session_runs_on_the_cpus_capped_by_omp_num_threads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                env, threads: int) -> None:
    monkeypatch.setattr(handler, "_cpu_count", lambda: 3)
    if env is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", env)
    assert handler._thread_count() == threads
    m = load(tmp_path)
    opts = m.session.get_session_options()
    assert (opts.intra_op_num_threads, opts.inter_op_num_threads, m._threads) == (threads, 1, threads)
    assert opts.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    assert opts.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert opts.log_severity_level == 3
    assert m.session.get_providers() == ["CPUExecutionProvider"]


def test_a_bad_omp_num_threads_fails_the_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "0")
    with pytest.raises(ValueError, match="OMP_NUM_THREADS='0' is not a positive integer"):
        load(tmp_path)


# ------------------------------------------------------------------------------------------------ model_fn
def test_model_fn_takes_names_sizes_and_limits_from_the_manifest(model, model_dir: Path) -> None:
    handler._limits.update(max_batch=1, max_payload_bytes=1)
    m = handler.model_fn(str(model_dir))
    assert handler._limits == {"max_batch": MAX_BATCH, "max_payload_bytes": MAX_PAYLOAD}
    assert (m.name, m.dimensions, m.max_seq_length, m.pooling, m.normalize, m.runtime) == (
        "tiny-wordlevel", 4, MAX_SEQ, "mean", True, "onnx")
    assert (m.pad_id, m.pad_token) == (tiny.PAD, "[PAD]")
    assert m.input_names == ["input_ids", "attention_mask", "token_type_ids"]


def test_limits_default_when_the_manifest_gives_none(tmp_path: Path) -> None:
    handler._limits.update(max_batch=1, max_payload_bytes=1)
    load(tmp_path, max_batch=None, max_payload_bytes=None)
    assert handler._limits == {"max_batch": 32, "max_payload_bytes": 4 * 1024 * 1024}
    handler._limits.update(max_batch=1, max_payload_bytes=1)
    root = tiny.build_model_dir(tmp_path / "no-handler")
    rewrite_manifest(root, lambda raw: raw.pop("handler"))
    handler.model_fn(str(root))
    assert handler._limits == {"max_batch": 32, "max_payload_bytes": 4 * 1024 * 1024}
    rewrite_manifest(root, lambda raw: raw.update(handler={"max_batch": "5", "max_payload_bytes": 1000.0}))
    handler.model_fn(str(root))
    assert handler._limits == {"max_batch": 5, "max_payload_bytes": 1000}
    assert type(handler._limits["max_payload_bytes"]) is int


def test_model_fn_refuses_a_tampered_artifact_naming_the_file(model_dir: Path, tmp_path: Path) -> None:
    import shutil

    copy = Path(shutil.copytree(model_dir, tmp_path / "m"))
    with open(copy / "tokenizer.json", "a") as f:
        f.write(" ")
    with pytest.raises(IntegrityError, match="tokenizer.json was modified"):
        handler.model_fn(str(copy))
    shutil.copyfile(model_dir / "tokenizer.json", copy / "tokenizer.json")
    (copy / "code" / "extra.py").write_text("print('injected')\n")
    with pytest.raises(IntegrityError, match="unexpected file code/extra.py"):
        handler.model_fn(str(copy))
    (copy / "code" / "extra.py").unlink()
    (copy / "model.onnx").unlink()
    with pytest.raises(IntegrityError, match="missing file model.onnx"):
        handler.model_fn(str(copy))


@pytest.mark.parametrize(("key", "value", "message"), [
    ("runtime", "tensorrt", "manifest runtime 'tensorrt' is not one of torch, onnx, onnx-int8"),
    ("pooling", "sum", "manifest pooling 'sum' is not one of mean, cls, max, mean_sqrt_len"),
])
def test_an_unknown_runtime_or_pooling_fails_the_load(tmp_path: Path, key: str, value: str, message: str) -> None:
    root = tiny.build_model_dir(tmp_path / "m")
    rewrite_manifest(root, lambda raw: (raw if key == "runtime" else raw["model"]).update({key: value}))
    with pytest.raises(ValueError) as err:
        handler.model_fn(str(root))
    assert str(err.value) == message


@pytest.mark.parametrize("inputs", [("input_ids", "attention_mask", "position_ids"), ("input_ids",),
                                    ("input_ids", "token_type_ids"),
                                    ("input_ids", "attention_mask", "token_type_ids", "pixel_values")])
def test_a_graph_with_other_inputs_fails_the_load_naming_them(tmp_path: Path, inputs) -> None:
    with pytest.raises(ValueError) as err:
        load(tmp_path, inputs=inputs)
    assert str(err.value) == (f"model.onnx takes inputs {list(inputs)}; this handler feeds input_ids, attention_mask "
                              "and optionally token_type_ids")


def test_the_manifest_is_the_builds_schema_with_every_files_sha256(model_dir: Path) -> None:
    import hashlib

    from inference.manifest import read_manifest

    manifest = read_manifest(model_dir)
    assert manifest.model.file == "model.onnx" and manifest.handler.max_batch == MAX_BATCH
    files = sorted(p.relative_to(model_dir).as_posix() for p in model_dir.rglob("*")
                   if p.is_file() and p.name != "manifest.json")
    assert files == ["code/inference.py", "code/sls_errors.py", "code/sls_integrity.py", "model.onnx",
                     "tokenizer.json"]
    assert manifest.files == {f: hashlib.sha256((model_dir / f).read_bytes()).hexdigest() for f in files}
