"""Ensemble Kalman filters on Lorenz-96 (chapter 14, :func:`harmonia.assimilation.assimilate`): assimilation cycles
per second of the stochastic EnKF and of the LETKF, ours against DAPPER 1.7 (``EnKF('PertObs')`` and ``LETKF``) on
the same truths and observations, with the analysis RMSE of each run so that speeds are compared at a known accuracy.

The model is the chapter's: n = 40, F = 8, one RK4 step of dt = 0.05 per cycle, model noise N(0, 0.1^2 I), full
observation with sigma_r = 1; ``--members`` members (20) from x_0 + N(0, I), inflation rho = 1.05 (DAPPER's ``infl``
scales the anomalies: sqrt(1.05)), Gaspari-Cohn half-width c = 4 (DAPPER's ``loc_rad`` = c / 1.82). DAPPER's EnKF has
no localisation, so our EnKF is timed both with (the chapter's setting) and without it (DAPPER's); its LETKF is
localised like ours (single grid-point batches). The RMSE is per sample (||e|| / sqrt(n) per cycle), averaged over
the cycles after ``--spinup``. One trajectory, float64, on the CPU; the ratio is our cycles per second over DAPPER's
(> 1: we are faster), also without the time DAPPER spends in its per-cycle diagnostics (``Stats.assess``, which
its filters always call: most of its EnKF's time). Without DAPPER (in the ``bench`` extra) its rows say
"not installed".
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time

import numpy as np
import torch

from harmonia.assimilation import assimilate, lorenz96_initial, lorenz96_model, rmse_per_sample
from harmonia.course.bench import format_table

DESCRIPTION = "Lorenz-96 stochastic EnKF and LETKF: cycles per second and analysis RMSE, ours vs DAPPER"

RHO, LOC_RADIUS, DT, SIGMA_Q = 1.05, 4.0, 0.05, 0.1


def _import_dapper():
    """DAPPER's modules, or None when it is not installed (its import chatter is swallowed)."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import dapper
            import dapper.da_methods as da
            import dapper.mods as modelling
            import dapper.stats as stats
            import dapper.tools.progressbar as progressbar
            from dapper.mods.Lorenz96 import step
            from dapper.tools.localization import nd_Id_localization
            from dapper.tools.seeding import set_seed
    except ImportError:
        return None
    progressbar.disable_progbar = True
    return dict(version=dapper.__version__, da=da, modelling=modelling, stats=stats, step=step,
                nd_Id_localization=nd_Id_localization, set_seed=set_seed)


@contextlib.contextmanager
def _timed_assess(stats_module):
    """Accumulate the time DAPPER spends in its per-cycle diagnostics (``Stats.assess``) into the yielded list."""
    spent = [0.0]
    original = stats_module.Stats.assess

    def assess(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - start

    stats_module.Stats.assess = assess
    try:
        yield spent
    finally:
        stats_module.Stats.assess = original


def _dapper_run(dp: dict, method: str, xs: torch.Tensor, ys: torch.Tensor, members: int, spinup: int,
                seed: int) -> tuple[float, float, float]:
    """Time DAPPER's filter on our truths (x_0 its initial state, its k-th observation that of x_k). Returns
    (seconds, seconds in its diagnostics, RMSE of the analyses of x_{spinup+1}..)."""
    modelling, da = dp["modelling"], dp["da"]
    n = xs.shape[-1]
    tseq = modelling.Chronology(dt=DT, dko=1, K=xs.shape[0] - 1, BurnIn=0)
    obs = modelling.partial_Id_Obs(n, np.arange(n))
    obs["noise"] = 1.0
    obs["localizer"] = dp["nd_Id_localization"]((n,), (1,))
    hmm = modelling.HiddenMarkovModel({"M": n, "model": dp["step"], "noise": SIGMA_Q**2 / DT}, obs, tseq,
                                      modelling.GaussRV(mu=xs[0].numpy(), C=1.0))
    if method == "enkf":
        xp = da.EnKF("PertObs", N=members, infl=RHO**0.5)
    else:
        xp = da.LETKF(N=members, infl=RHO**0.5, loc_rad=LOC_RADIUS / 1.82)
    dp["set_seed"](seed + 1)
    with _timed_assess(dp["stats"]) as spent, contextlib.redirect_stdout(io.StringIO()):
        start = time.perf_counter()
        xp.assimilate(hmm, xs.numpy(), ys.numpy()[1:])
        seconds = time.perf_counter() - start
    mu_a = torch.as_tensor(np.asarray(xp.stats.mu.a))
    return seconds, spent[0], float(rmse_per_sample(xs[1:], mu_a)[spinup:].mean())


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m harmonia.course bench enkf", description=DESCRIPTION)
    parser.add_argument("--cycles", type=int, default=500, help="assimilation cycles of each run")
    parser.add_argument("--members", type=int, default=20, help="ensemble size")
    parser.add_argument("--spinup", type=int, default=100, help="cycles left out of the RMSE")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if not 0 <= args.spinup < args.cycles:
        parser.error(f"--spinup: expected 0 <= spinup < cycles={args.cycles}, got {args.spinup}")
    m = lorenz96_model()
    g = torch.Generator().manual_seed(args.seed)
    xs, ys = m.simulate(lorenz96_initial(1, m, generator=g)[0], args.cycles + 1, g)
    E0 = xs[0] + torch.randn(args.members, m.n, generator=g, dtype=torch.float64)
    dp = _import_dapper()
    cases = [("stochastic EnKF", "enkf", LOC_RADIUS), ("stochastic EnKF", "enkf", None),
             ("LETKF", "letkf", LOC_RADIUS)]
    rows = []
    for label, method, radius in cases:
        gen = torch.Generator().manual_seed(args.seed + 1)
        start = time.perf_counter()
        run = assimilate(m, xs, ys, E0, method=method, inflation=RHO, loc_radius=radius, generator=gen)
        ours_rate = (args.cycles + 1) / (time.perf_counter() - start)
        loc = f"GC c={radius:g}" if radius is not None else "none"
        rows.append([label, "ours", loc, ours_rate, "-", float(run.rmse_a[args.spinup + 1:].mean()), "-", "-"])
        if method == "enkf" and radius is not None:
            continue                                      # DAPPER's EnKF has no localisation: compared below
        if dp is None:
            rows.append([label, "DAPPER", loc, "not installed", "not installed", "not installed", "-", "-"])
            continue
        seconds, diagnostics, rmse = _dapper_run(dp, method, xs, ys, args.members, args.spinup, args.seed)
        rate, rate_bare = args.cycles / seconds, args.cycles / (seconds - diagnostics)
        rows.append([label, f"DAPPER {dp['version']}", loc, rate, rate_bare, rmse, f"{ours_rate / rate:.3g}",
                     f"{ours_rate / rate_bare:.3g}"])
    note = (f"Lorenz-96 n=40, N={args.members}, rho={RHO}, {args.cycles} cycles (RMSE after {args.spinup}), float64 "
            f"CPU, torch {torch.__version__}, {torch.get_num_threads()} threads; ratio = our cycles/s over DAPPER's, "
            "with and without the time of DAPPER's per-cycle diagnostics (Stats.assess)")
    headers = ["filter", "library", "localisation", "cycles/s", "cycles/s w/o diag.", "RMSE a", "ratio",
               "ratio w/o diag."]
    return format_table(headers, rows) + "\n" + note
