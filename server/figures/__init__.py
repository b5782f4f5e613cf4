"""Every Plotly figure BPTT Lab draws, built here and only here: a style module and one
module per view.

A builder takes an engine result and returns ``{"title", "summary", "figure"}`` where
``figure`` is a plain Plotly dict (data + layout) and ``summary`` one sentence that states
the figure's numbers in words (read by screen readers, and by anyone in a hurry). The page,
the embed and the API all serve these dicts; the browser only calls ``Plotly.react``. The
numbers come from the engine's results: a builder formats and draws, it does not compute.
"""

from .cliff import cliff_figures, cliff_numbers
from .compare import compare_figures, compare_numbers
from .depth import depth_figures, depth_numbers
from .eigen import eigen_figures, eigen_numbers
from .gradient_flow import gradient_flow_figures
from .network import network_figures
from .style import power

__all__ = [
    "cliff_figures",
    "cliff_numbers",
    "compare_figures",
    "compare_numbers",
    "depth_figures",
    "depth_numbers",
    "eigen_figures",
    "eigen_numbers",
    "gradient_flow_figures",
    "network_figures",
    "power",
]
