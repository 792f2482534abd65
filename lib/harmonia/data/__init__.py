"""Layer 1: data. The dataset registry (``datasets/registry.toml``) and, chapter by chapter,
procedural generators. Nothing here downloads anything."""

from harmonia.data.digits import Digits, load_digits
from harmonia.data.registry import (
    DatasetEntry,
    DatasetError,
    dataset_path,
    datasets_dir,
    file_sha256,
    load_npz,
    read_registry,
    save_npz,
)

__all__ = [
    "Digits",
    "load_digits",
    "DatasetEntry",
    "DatasetError",
    "dataset_path",
    "datasets_dir",
    "file_sha256",
    "load_npz",
    "read_registry",
    "save_npz",
]
