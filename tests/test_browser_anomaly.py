"""Real-browser test of the Anomalies page's λ slider (issue 19, point 7): a tiny WGAN trained and scored from the
page, then λ moved by clicks on the slider: each move must bring the page back to idle quickly, the gallery's tiles
carry ✓/✗ and their score, and the residual map stays drawn through the moves.

The server, browser and page fixtures are test_browser's (its own app server and empty GENLAB_HOME per test).
"""
from __future__ import annotations

import re
import statistics
import sys
from pathlib import Path

import pytest
from test_browser import (WAIT_MS, _assert_no_exception, _idle, _stopping_servers, browser, expect,  # noqa: F401
                          page, server, server_env)

pytestmark = pytest.mark.browser

#: Issue 19's target is 0.5 s per λ move in Chromium on a QUIET 2-core machine: benchmarks/anomaly_lambda.py records
#: it (median 0.34 s, every move under 0.5 s, against 0.92 s for the old page, RESULTS.md). This test runs beside
#: other work on shared CI machines (load average 2–14 on 2 cores when it was written), so it asserts a generous
#: bound on the median move that the old page fails there (its median was 5.8 s at load 13.8, and the issue measured
#: 3.5–4.3 s). A whole-page rerun (the latent size) is measured too and reported in the failure message.
BOUND_S = 3.0

# The click → idle probe (a MutationObserver on Streamlit's script state) is the benchmark's, shared.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from anomaly_lambda import DONE, ELAPSED, OBSERVE  # noqa: E402


def _move_lambda(pg, fraction: float, key: str = "an_lam") -> float:
    """Click the slider ``key``'s track (λ's by default) at ``fraction`` of its width; seconds from the click to
    the end of the run it caused."""
    track = pg.locator(f'.st-key-{key} [role="group"] > [data-rac]').first
    track.scroll_into_view_if_needed()
    box = track.bounding_box()
    assert box is not None
    pg.evaluate(OBSERVE)
    pg.mouse.click(box["x"] + box["width"] * fraction, box["y"] + box["height"] / 2)
    pg.wait_for_function(DONE, timeout=WAIT_MS)
    return float(pg.evaluate(ELAPSED))


def _auroc(pg) -> str:
    metric = pg.locator('[data-testid="stMetric"]').filter(has_text="AUROC")
    return metric.locator('[data-testid="stMetricValue"]').inner_text()


def _tile_titles(pg) -> list[str]:
    return pg.locator(".st-key-an_gallery .genlab-tile-caption").all_inner_texts()


@pytest.mark.timeout(900)   # trains and scores a GAN through the page: minutes on a busy 2-core machine
def test_moving_lambda_redraws_the_scores_quickly_and_keeps_the_residual_map(server: str, page) -> None:  # noqa: F811
    pg = page
    pg.goto(f"{server}/anomaly")
    pg.get_by_role("heading", name="Anomaly scoring").wait_for()
    steps = pg.get_by_role("spinbutton", name="training steps", exact=True)
    steps.fill("100")   # the field's minimum: the smallest GAN the page trains
    steps.press("Enter")
    pg.wait_for_url(re.compile(r"[?&]an_steps=100(&|$)"))   # the button's job is built in the run that drew it:
    _idle(pg)                                                  # let the run with 100 steps end first
    pg.get_by_role("button", name="Train", exact=True).click()
    score = pg.get_by_role("button", name="Score", exact=True)
    expect(score).to_be_enabled(timeout=WAIT_MS)   # the GAN is trained
    enc_steps = pg.get_by_role("spinbutton", name="encoder training steps")   # the default method: an encoder
    enc_steps.fill("100")
    enc_steps.press("Enter")
    _idle(pg)
    score.click()
    pg.locator(".st-key-an_gallery").wait_for()
    _assert_no_exception(pg)

    # every gallery tile: ✓ or ✗, then its score (and its row)
    titles = _tile_titles(pg)
    assert len(titles) == 8 and all(re.match(r"^[✓✗] -?\d[\d.e+-]*\s+row \d+$", t) for t in titles), titles

    pg.get_by_role("button", name="Map the flagged rows' residuals").click()
    pg.locator(".st-key-an_umap_fig").wait_for()
    _idle(pg)

    before = _auroc(pg)
    times, whole = [], []
    # alternately: λ (the fragment; from 0.9, each click a new value) and the GAN's latent size (the whole page; from
    # 16, the two ends of its four choices 4, 8, 16, 32: each click a new value, so each click gives a run)
    for fraction, end in ((0.2, 0.02), (0.8, 0.98), (0.4, 0.02), (0.95, 0.98)):
        times.append(_move_lambda(pg, fraction))
        whole.append(_move_lambda(pg, end, key="an_latent"))
    _assert_no_exception(pg)
    assert _auroc(pg) != before or _tile_titles(pg) != titles   # the moves re-scored
    assert pg.locator(".st-key-an_umap_fig").count() == 1        # the residual map is still drawn
    assert pg.get_by_text(re.compile(r"Mapped at λ = 0\.9")).count() == 1
    lam_s = statistics.median(times)
    assert lam_s < BOUND_S, f"λ moves took {times} s, whole-page reruns {whole} s (click → idle)"
