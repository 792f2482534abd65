"""Chapter-specific experiment code: one module per chapter slug (``demos.start_here``, ...).

A chapter calls its demo in one line; the method the paper is about always lives in the library's
layer 2 and is shown in the notebook.

Every demo module has ``device_check(settings) -> dict[str, Tensor]``: the chapter's demos at their
smallest sizes on ``settings.device``. :data:`DEVICE_CHECKS` lists them by chapter id; the device
tests run them on the CPU, and ``python -m harmonia.course gpucheck`` on CUDA against the CPU.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import torch

#: chapter id -> demo module (under ``harmonia.course.demos``) that has a ``device_check``
DEVICE_CHECKS: dict[str, str] = {
    "00": "start_here",
    "01": "vsgd",
    "02": "easgd",
    "03": "distributed_sgd_theory",
    "04": "lsam",
    "05": "scattering",
    "06": "phase_harmonics",
    "07": "maxent",
    "08": "texture_synthesis",
    "09": "wireless_networks",
    "10": "point_process_synthesis",
    "11": "gan_nash_gaussian",
    "12": "riemannian_minmax",
    "13": "tl_nmf",
    "14": "data_assimilation",
    "15": "lens_depth",
    "16": "cram",
    "17": "perception_coherence",
    "18": "lipschitz_kernels",
}


def device_check(chapter_id: str) -> Callable[..., dict[str, torch.Tensor]]:
    """The ``device_check`` function of chapter ``chapter_id``'s demo module."""
    if chapter_id not in DEVICE_CHECKS:
        raise ValueError(f"chapter_id: expected one of {sorted(DEVICE_CHECKS)}, got {chapter_id!r}")
    return importlib.import_module(f"harmonia.course.demos.{DEVICE_CHECKS[chapter_id]}").device_check
