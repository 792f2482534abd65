"""harmonia.assimilation against DAPPER (1.7, https://github.com/nansencenter/DAPPER): the LETKF on Lorenz-96 with the
chapter's settings gives the same time-averaged analysis RMSE as DAPPER's LETKF run on the same truths and
observations.

DAPPER is configured as our model: one RK4 step of dt = 0.05 per cycle (its ``Lorenz96.step``), model noise of
covariance 0.1^2 I per cycle (DAPPER scales ``Dyn["noise"]`` by dt, so it is set to 0.1^2 / dt), full observation
with sigma_r = 1, the initial ensemble x_0 + N(0, I). Our inflation rho = 1.05 multiplies the covariance, DAPPER's
``infl`` the anomalies: infl = sqrt(1.05); DAPPER multiplies ``loc_rad`` by 1.82 to get the Gaspari-Cohn half-width:
loc_rad = 4 / 1.82; its state batches are single grid points, like ours. Two differences remain: DAPPER inflates
the analysis ensemble (we inflate the prior), and its first observation is that of x_1 (ours of x_0). Both RMSEs are
per-sample (||e|| / sqrt(n) per cycle, then averaged); DAPPER's is recomputed from its stored analysis means.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("dapper")

import dapper.da_methods as da  # noqa: E402
import dapper.mods as modelling  # noqa: E402
from dapper.mods.Lorenz96 import step  # noqa: E402
from dapper.tools.localization import nd_Id_localization  # noqa: E402
from dapper.tools.seeding import set_seed  # noqa: E402

from harmonia.assimilation import assimilate, lorenz96_initial, lorenz96_model, rmse_per_sample  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64
T, SPINUP, N_ENS, DT, SIGMA_Q = 1201, 200, 20, 0.05, 0.1


def _dapper_hmm(x0: np.ndarray, n_cycles: int):
    n = x0.shape[0]
    tseq = modelling.Chronology(dt=DT, dko=1, K=n_cycles, BurnIn=0)
    dyn = {"M": n, "model": step, "noise": SIGMA_Q**2 / DT}
    obs = modelling.partial_Id_Obs(n, np.arange(n))
    obs["noise"] = 1.0
    obs["localizer"] = nd_Id_localization((n,), (1,))
    return modelling.HiddenMarkovModel(dyn, obs, tseq, modelling.GaussRV(mu=x0, C=1.0))


def test_letkf_rmse_matches_dapper():
    m = lorenz96_model()
    ours, theirs = [], []
    for seed in (1, 2):
        g = torch.Generator().manual_seed(seed)
        xs, ys = m.simulate(lorenz96_initial(1, m, generator=g)[0], T, g)
        E0 = xs[0] + torch.randn(N_ENS, m.n, generator=g, dtype=F64)
        run = assimilate(m, xs, ys, E0, method="letkf", inflation=1.05, loc_radius=4.0, generator=g)
        ours.append(float(run.rmse_a[SPINUP + 1:].mean()))

        # DAPPER: xx[0] = x_0 is the initial state, its k-th observation yy[k - 1] is that of x_k
        hmm = _dapper_hmm(xs[0].numpy(), T - 1)
        xx, yy = xs.numpy(), ys.numpy()[1:]
        set_seed(100 + seed)
        xp = da.LETKF(N=N_ENS, infl=1.05**0.5, loc_rad=4.0 / 1.82)
        xp.assimilate(hmm, xx, yy)
        mu_a = torch.as_tensor(np.asarray(xp.stats.mu.a))                  # (T - 1, n): analyses of x_1..x_{T-1}
        rmse = rmse_per_sample(xs[1:], mu_a)
        np.testing.assert_allclose(rmse.numpy(), np.asarray(xp.stats.err.rms.a), rtol=1e-10)  # same convention
        theirs.append(float(rmse[SPINUP:].mean()))
    assert all(0.25 < r < 0.45 for r in ours + theirs), (ours, theirs)
    assert abs(np.mean(ours) - np.mean(theirs)) < 0.03, (ours, theirs)
