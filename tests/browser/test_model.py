"""/model in Chromium: a safetensors file written here (PyTorch's names, NumPy values) goes
in through the file input, the upload bar reaches its max, the architecture comes back, the
analysis runs with its progress bar and the figures render with their captions; the page's
link reopens the analysis; an evicted model is said to be gone; axe finds nothing serious on a
laptop or a phone; nothing leaves the machine."""

import numpy as np
import pytest
from safetensors.numpy import save_file

from .conftest import wait_until
from .test_a11y import AXE_FILE, assert_no_blocking, audit


@pytest.fixture(scope="module")
def axe_js() -> str:
    assert AXE_FILE.is_file(), f"{AXE_FILE} is missing: `make axe` (part of `make test`)"
    return AXE_FILE.read_text(encoding="utf-8")


def gru_file(tmp_path, seed=0, hidden=4, inp=3):
    """A 2-layer bidirectional nn.GRU's state_dict in PyTorch's names and shapes."""
    rng = np.random.default_rng(seed)
    sd = {}
    for k in range(2):
        width = inp if k == 0 else 2 * hidden
        for s in ("", "_reverse"):
            sd[f"weight_ih_l{k}{s}"] = rng.uniform(-0.5, 0.5, (3 * hidden, width))
            sd[f"weight_hh_l{k}{s}"] = rng.uniform(-0.5, 0.5, (3 * hidden, hidden))
            sd[f"bias_ih_l{k}{s}"] = rng.uniform(-0.5, 0.5, 3 * hidden)
            sd[f"bias_hh_l{k}{s}"] = rng.uniform(-0.5, 0.5, 3 * hidden)
    path = tmp_path / f"gru-{seed}.safetensors"
    save_file({k: v.astype(np.float32) for k, v in sd.items()}, str(path))
    return path


def _text(page, selector) -> str:
    return page.evaluate(f"document.querySelector({selector!r}).textContent")


def _figures(page) -> list[str]:
    return page.evaluate(
        """() => [...document.querySelectorAll('#figures figure.fig')]
          .filter((f) => f.querySelector('.main-svg') !== null).map((f) => f.id)"""
    )


def _analysed(p, path, seq_len="8", seed="0"):
    page = p.open("/model")
    page.fill("#seq_len", seq_len)
    page.fill("#seed", seed)
    page.set_input_files("#model-file", str(path))
    bar = "document.getElementById('upload-bar')"
    wait_until(page, lambda: page.evaluate("!document.getElementById('architecture').hidden"),
               20, "the architecture")  # fmt: skip
    value, maximum = page.evaluate(f"[{bar}.value, {bar}.max]")
    assert value == maximum == path.stat().st_size
    page.click("#analyse")
    wait_until(page, lambda: page.evaluate("document.body.dataset.ended") == "true", 60, "end")
    return page


def test_upload_a_file_see_its_architecture_and_the_figures(make_page, tmp_path):
    p = make_page()
    path = gru_file(tmp_path, seed=11)
    page = _analysed(p, path)
    summary = _text(page, "#summary")
    for words in ("nn.GRU", "Layers2", "Bidirectionalyes", "Hidden size4", "Input size3"):
        assert words in summary, summary
    assert "drawn from the seed (V = 8)" in summary
    assert _text(page, "#analysis-status").startswith("Ended: finished"), _text(
        page, "#analysis-status"
    )
    bar = "document.getElementById('analysis-bar')"
    assert page.evaluate(f"{bar}.value === {bar}.max")
    names = _figures(page)
    assert names[0] == "figure-layer_time" and names[-1] == "figure-jacobians", names
    assert "figure-influence" in names  # exact mode: /network's figures of these weights
    for name in names:
        caption = _text(page, f"#{name} figcaption")
        assert len(caption) > 20, (name, caption)
    assert _text(page, "#mode-line").startswith("Mode: exact. Every number")
    url = page.url
    assert "model=" in url and "seq_len=8" in url
    assert p.errors == [] and p.foreign == [] and p.csp_violations() == []
    # the link reopens the analysis: from the server's cache, at once
    page.goto(url)
    wait_until(page, lambda: page.evaluate("document.body.dataset.ended") == "true", 20, "reopen")
    assert "from the server's cache" in _text(page, "#analysis-status")
    assert _figures(page) == names
    assert p.errors == []


def test_a_refused_file_is_said_and_a_gone_model_asks_for_the_file(make_page, tmp_path):
    p = make_page()
    page = p.open("/model")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(gru_file(tmp_path).read_bytes()[:50])
    page.set_input_files("#model-file", str(bad))
    wait_until(page, lambda: page.evaluate("!document.getElementById('model-problem').hidden"),
               20, "refusal")  # fmt: skip
    assert "not a readable safetensors file" in _text(page, "#model-problem")
    assert page.evaluate("document.getElementById('analyse').disabled")
    page = p.open("/model?model=" + "0" * 64 + "&seq_len=8")
    wait_until(page, lambda: "no longer has" in _text(page, "#model-status"), 10, "gone")
    assert "drop the file again" in _text(page, "#model-status")
    errors = [e for e in p.errors if "404" not in e and "422" not in e]  # the refusals
    assert errors == [] and p.csp_violations() == []


def test_axe_finds_no_serious_violation_on_the_model_page(make_page, tmp_path, axe_js):
    p = make_page(width=1366, height=768)
    _analysed(p, gru_file(tmp_path, seed=12))
    assert_no_blocking("/model", audit(p, axe_js))


def test_axe_on_a_phone(make_page, tmp_path, axe_js):
    p = make_page(width=390, height=844)
    _analysed(p, gru_file(tmp_path, seed=13))
    assert_no_blocking("/model on a phone", audit(p, axe_js))


def test_a_dropped_file_and_uploaded_inputs_are_analysed(make_page, tmp_path):
    """The drop zone takes a file (a drop event carrying it, as a browser makes one), and an
    inputs .npy sets T and is the analysis' input: the server says the inputs were given."""
    p = make_page()
    page = p.open("/model")
    data = list(gru_file(tmp_path, seed=14).read_bytes())
    page.evaluate(
        """(bytes) => {
          const dt = new DataTransfer();
          dt.items.add(new File([new Uint8Array(bytes)], "dropped.safetensors"));
          const zone = document.getElementById("dropzone");
          const init = {dataTransfer: dt, bubbles: true, cancelable: true};
          zone.dispatchEvent(new DragEvent("drop", init));
        }""",
        data,
    )
    wait_until(page, lambda: "dropped.safetensors: read" in _text(page, "#model-status"), 20,
               "the dropped file")  # fmt: skip
    x = np.random.default_rng(3).normal(size=(2, 6, 3))
    inputs = tmp_path / "x.npy"
    np.save(inputs, x)
    page.set_input_files("#inputs-file", str(inputs))
    wait_until(page, lambda: "B = 2" in _text(page, "#inputs-status"), 20, "the inputs")
    assert _text(page, "#inputs-status") == "x.npy: B = 2 sequence(s) of T = 6 steps, d = 3."
    assert page.evaluate("document.getElementById('seq_len').value") == "6"
    page.fill("#sequence", "1")
    page.click("#analyse")
    wait_until(page, lambda: page.evaluate("document.body.dataset.ended") == "true", 60, "end")
    assert _text(page, "#analysis-status").startswith("Ended: finished")
    assert "inputs=" in page.url and "sequence=1" in page.url
    assert _figures(page)[-1] == "figure-jacobians"
    assert p.errors == [] and p.csp_violations() == []
