"""The offline HTML report of ``bpttlab analyze`` (server/model_report.py) opened from disk:
every figure renders, nothing is requested from anywhere, no script error."""

import numpy as np
from safetensors.numpy import save_file

from bpttlab.server import cli

from ..engine.test_model_io import state_dict
from .conftest import wait_until


def test_the_report_renders_every_figure_offline(make_page, tmp_path):
    sd = {f"gru.{k}": v for k, v in state_dict("gru", 2, True, hidden=4, inp=3).items()}
    model = tmp_path / "m.safetensors"
    save_file({k: np.ascontiguousarray(v) for k, v in sd.items()}, str(model))
    out = tmp_path / "report.html"
    try:
        cli.main(["analyze", str(model), "--seq-len", "8", "--html", str(out), "--quiet"])
    except SystemExit as done:
        assert done.code == 0
    p = make_page(1366, 768)
    p.page.goto(out.as_uri())
    count = p.page.evaluate("document.querySelectorAll('.figure').length")
    assert count == 5  # layer-time, influence, union, terms, Jacobian norms
    wait_until(
        p.page,
        lambda: p.page.evaluate("document.querySelectorAll('.figure .main-svg').length") >= count,
        what="every figure drawn",
    )
    heat = p.page.evaluate("document.querySelectorAll('.figure .hm').length")
    assert heat >= 4  # the heatmaps have their traces
    assert p.errors == [] and p.foreign == []
    tables = p.page.evaluate("document.querySelectorAll('table').length")
    assert tables == 3
