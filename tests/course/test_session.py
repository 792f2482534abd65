"""`setup("NN")`: seeds, style, banner."""

from __future__ import annotations

import random

import matplotlib as mpl
import numpy as np
import pytest
import torch

from harmonia.course import plots
from harmonia.course.session import banner, setup


def test_setup_prints_a_stable_banner(capsys, monkeypatch):
    monkeypatch.delenv("HARMONIA_DEVICE", raising=False)
    session = setup("00")
    out = capsys.readouterr().out
    assert out == "Harmonia 00 · Start here: how the course works | mode: fast | device: cpu\n"
    assert session.chapter is not None and session.chapter.slug == "start_here"
    assert session.mode == "fast" and session.device.type == "cpu"


def test_setup_seeds_everything(capsys):
    setup("00", seed=7, quiet=True)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    s = setup("00", seed=7, quiet=True)
    b = (random.random(), np.random.rand(), torch.rand(1).item())
    assert a == b and capsys.readouterr().out == ""
    g1 = torch.rand(3, generator=s.generator)
    g2 = torch.rand(3, generator=setup("00", seed=7, quiet=True).generator)
    assert torch.equal(g1, g2)


def test_setup_applies_the_course_style():
    mpl.rcdefaults()
    setup("01", quiet=True)
    assert mpl.rcParams["figure.facecolor"] == "white" and mpl.rcParams["savefig.transparent"] is False
    assert [c.lower() for c in mpl.rcParams["axes.prop_cycle"].by_key()["color"]] == [c.lower() for c in plots.PALETTE]
    mpl.rcdefaults()


def test_setup_full_mode_and_unknown_chapter(monkeypatch, capsys):
    monkeypatch.setenv("HARMONIA_MODE", "full")
    assert setup(5).mode == "full"
    assert "05 · " in capsys.readouterr().out
    monkeypatch.setenv("HARMONIA_MODE", "fast")
    with pytest.raises(ValueError, match="chapter_id: expected a two-digit string"):
        setup("5")


def test_banner_without_manifest():
    assert banner("07", None, "fast", torch.device("cpu")) == "Harmonia 07 | mode: fast | device: cpu"
