"""Raw safetensors access for tests that edit model files (the package reads and writes them
through Rust only): the `safetensors` package, installed with the test dependencies."""

import pytest

st = pytest.importorskip("safetensors")
from safetensors.numpy import load_file, save_file  # noqa: E402


def read_safetensors(path):
    """The tensors and the `__metadata__` strings of a safetensors file."""
    with st.safe_open(str(path), "np") as f:
        md = dict(f.metadata() or {})
    return load_file(str(path)), md


def write_safetensors(path, tensors, metadata):
    """Writes tensors and string metadata (overwriting `path`)."""
    save_file(tensors, str(path), metadata=metadata)
