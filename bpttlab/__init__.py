"""BPTT Lab: see why gradients vanish and explode in recurrent networks.

``bpttlab.engine`` is the NumPy engine (config dataclass in, result dataclass out);
``bpttlab.server`` the FastAPI app, its figures and the command line ``bpttlab``;
``bpttlab.analyze(path_or_state_dict)`` analyses a trained model (a notebook's way in).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bpttlab")
except PackageNotFoundError:  # pragma: no cover - a checkout that was never installed
    __version__ = "0+unknown"


def analyze(source, inputs=None, **options):
    """Analyse a trained torch.nn.RNN / LSTM / GRU state_dict (a path, bytes or a dict of
    arrays or torch tensors): see bpttlab.server.model_report.analyze. Returns an Analysis
    with .to_dict(), .figures(), .captions() and .to_html(path)."""
    from .server.model_report import analyze as _analyze

    return _analyze(source, inputs, **options)


__all__ = ["__version__", "analyze"]
