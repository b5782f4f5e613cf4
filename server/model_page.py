"""The /model page: drop a state_dict file (and inputs), see what was read from it, analyse it
(static/js/model.js uploads with progress, follows the analysis' events and draws the
server's figures). The state is the URL, /model?model=<sha256>&seq_len=...: the link reopens
the analysis while the server's store keeps the file."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from .model_api import MAX_BATCH, MAX_HIDDEN, MAX_LAYERS_MODEL, MAX_PROBES, MAX_SEQ_LEN
from .model_store import is_sha
from .responses import CacheableRoute

# the form's fields and defaults (the analysis body's, server/model_api.AnalysisBody)
DEFAULTS = {"nonlinearity": "tanh", "seq_len": "", "loss": "every", "seed": "0",
            "probes": "32", "mode": "auto", "sequence": "0"}  # fmt: skip


def _values(query) -> dict[str, str]:
    """The form's values from the address: digits for the numbers, a choice for the
    selects, anything else replaced by its default (the API checks the bounds)."""
    choices = {"nonlinearity": ("tanh", "relu"), "loss": ("every", "last"),
               "mode": ("auto", "exact", "matrix_free")}  # fmt: skip
    out = dict(DEFAULTS)
    for name, default in DEFAULTS.items():
        raw = query.get(name)
        if raw is None:
            continue
        ok = raw in choices[name] if name in choices else raw.isdigit() and len(raw) <= 10
        out[name] = raw if ok else default
    for name in ("model", "inputs"):
        raw = query.get(name, "")
        out[name] = raw if is_sha(raw) else ""
    return out


def model_page(request: Request) -> HTMLResponse:
    s = request.app.state.settings
    context = {
        "page": "model",
        "values": _values(request.query_params),
        "limits": {
            "mib": s.model_max_bytes / 2**20,
            "bytes": s.model_max_bytes,
            "hidden": MAX_HIDDEN,
            "layers": MAX_LAYERS_MODEL,
            "seq_len": MAX_SEQ_LEN,
            "batch": MAX_BATCH,
            "probes": MAX_PROBES,
        },  # fmt: skip
    }
    return request.app.state.templates.TemplateResponse(request, "model.html", context)


router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse,
                   route_class=CacheableRoute)  # fmt: skip
router.add_api_route("/model", model_page, methods=["GET"])
