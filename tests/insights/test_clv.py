"""BG/NBD and Gamma-Gamma against the published CDNOW parameters.

The CDNOW summaries ship inside the ``lifetimes`` wheel (data only, not a
dependency): ``make setup`` fetches it by name from PyPI into ``.venv/wheels/``
(or point ``LIFETIMES_WHEEL`` at a copy); the test skips when it is absent.
"""

from __future__ import annotations

import csv
import glob
import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from warmline.insights import clv

WHEELS = Path(__file__).resolve().parents[2] / ".venv" / "wheels" / "[Ll]ifetimes-0.11.3-*.whl"


def _cdnow(name: str) -> list[dict]:
    wheel = os.environ.get("LIFETIMES_WHEEL") or next(iter(glob.glob(str(WHEELS))), None)
    if not wheel or not os.path.exists(wheel):
        pytest.skip("the lifetimes wheel (CDNOW data) is absent")
    with zipfile.ZipFile(wheel) as z:
        text = z.read(f"lifetimes/datasets/{name}").decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_bgnbd_recovers_published_cdnow_parameters():
    rows = _cdnow("cdnow_customers_summary.csv")
    x = [float(r["frequency"]) for r in rows]
    t_x = [float(r["recency"]) for r in rows]
    big_t = [float(r["T"]) for r in rows]
    m = clv.fit_bgnbd(x, t_x, big_t)
    assert (round(m.r, 3), round(m.alpha, 2), round(m.a, 3), round(m.b, 2)) == pytest.approx(
        (0.243, 4.41, 0.793, 2.43), abs=0.011
    )
    # Fader-Hardie-Lee: customer with x=2, t_x=30.43, T=38.86 expects ≈1.226 purchases in 39 weeks.
    assert clv.expected_purchases(m, 39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=0.01)


def test_gamma_gamma_recovers_published_cdnow_parameters():
    rows = _cdnow("cdnow_customers_summary_with_transactions.csv")
    x = np.array([float(r["x"]) for r in rows])
    zbar = np.array([float(r["zbar"]) for r in rows])
    m = clv.fit_gamma_gamma(x, zbar)
    assert (m.p, m.q, m.v) == pytest.approx((6.25, 3.74, 15.44), rel=0.01)


def test_needs_enough_data():
    with pytest.raises(ValueError):
        clv.fit_bgnbd([0, 0], [0, 0], [1, 1])
