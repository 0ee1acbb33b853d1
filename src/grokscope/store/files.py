"""Atomic file writes: a reader (or a kill -9) never sees half a file. `atomic_write` is the one way
grokscope replaces a file (run files, the index, analysis tables, figures); this module imports no
torch (safetensors is imported with the first checkpoint), so the torch-free store can use it.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from grokscope.errors import RunDirError, WriteRefused

if TYPE_CHECKING:
    import torch


def atomic_write(path: Path, write: Callable[[str], Any]) -> None:
    """`write(tmp)` fills a temporary file beside `path` (a hidden name, removed if anything fails),
    which then replaces `path` in one step; a refused write (OSError) is a one-line WriteRefused."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; run files are meant to be shared
        os.replace(tmp, path)
    except OSError as e:  # a full disk, a read-only directory: the old file (if any) is still whole
        raise write_error(path, e) from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def write_error(path: Path, e: OSError) -> WriteRefused:
    """One line for a write that the file system refused (ENOSPC, EACCES, EROFS, ...)."""
    reason = e.strerror or str(e)
    return WriteRefused(path, reason, f"cannot write {path}: {reason}; free space or fix permissions, then run the "
                        "same command again (an interrupted run continues with --resume)")


def append_line(path: Path, line: str) -> None:
    """Append one line (a torn last line from a kill is skipped by its readers)."""
    try:
        with open(path, "a") as f:
            f.write(line + "\n")
    except OSError as e:
        raise write_error(path, e) from None


def read_json(path: Path, fix: str) -> Any:
    """A JSON file we wrote; a corrupt or truncated one is a RunDirError naming it and `fix`."""
    try:
        return json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunDirError(f"{path} is corrupt ({getattr(e, 'msg', type(e).__name__)}); {fix}") from None


def write_json(path: Path, data: Any) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")

    atomic_write(path, write)


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def read_parquet(path: Path) -> Any:
    """One parquet file as a pyarrow Table. Through `ParquetFile`, not `pq.read_table`: the latter goes
    through pyarrow.dataset, whose import pulls in pandas (~0.3 s of every run's report)."""
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).read()


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(rows)
    atomic_write(path, lambda tmp: pq.write_table(table, tmp))


def save_file(tensors: dict[str, torch.Tensor], filename: str, metadata: dict[str, str] | None = None) -> None:
    """safetensors.torch.save_file, imported on the first call (it imports torch)."""
    from safetensors.torch import save_file as save

    save(tensors, filename, metadata=metadata)


def write_safetensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))


def jsonable(x: Any) -> Any:
    """numpy scalars/arrays -> Python values, non-finite floats -> None, keys -> str, recursively.

    The result is strict JSON (no NaN/Infinity tokens).
    """
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
