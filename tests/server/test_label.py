"""The layout's server side: each view's one-line label (the /figures body's ``label`` and the
form's data-label), its controls in labelled groups from the registry, its compact embed, and
the home page's links to every view."""

import re
from dataclasses import replace
from html import unescape
from urllib.parse import urlencode

import pytest

from bpttlab.server import catalog
from bpttlab.server.views import Group, Registry, compact_shown

NAMES = list(catalog.VIEWS)


def _g(x) -> str:
    return f"{float(x):g}"


def figures_body(client, name, params):
    r = client.get(f"{catalog.VIEWS[name].api}/figures", params=params)
    assert r.status_code == 200, r.text
    return r.json()


# each: a query, and what its label must say, from the query's own values (the config echoed)
def explore_facts(c):
    cell = {"rnn": f"{c['nonlinearity']} RNN", "lstm": "LSTM", "gru": "GRU"}[c["cell"]]
    facts = [
        cell,
        f"n = {c['hidden_size']}",
        f"T = {c['seq_len']}",
        f"{c['init']} init",
        f"scale {_g(c['scale'])}",
        f"seed {c['seed']}",
    ]
    if c["cell"] == "lstm":
        facts.append(f"forget bias {_g(c['forget_bias'])}")
    if c["cell"] == "gru":
        facts.append(f"update bias {_g(c['update_bias'])}")
    if c["clip"] != "none":
        facts.append(f"clipped by {c['clip']} at {_g(c['clip_threshold'])}")
    if c["truncation"]:
        facts.append(f"τ = {c['truncation']}")
    if c["keep_prob"] < 1:
        facts.append(f"p = {_g(c['keep_prob'])}, {c['draws']} draws")
    return facts


def compare_facts(c):
    return [
        f"T = {c['seq_len']}",
        f"n = {c['hidden_size']}",
        f"{c['nonlinearity']} RNN",
        f"forget bias {_g(c['forget_bias'])}",
        f"update bias {_g(c['update_bias'])}",
        f"scale {_g(c['scale'])}",
        f"seed {c['seed']}",
    ]


def cliff_facts(c):
    return [
        f"{c['nonlinearity']} unit",
        f"T = {c['seq_len']}",
        f"({_g(c['start_w'])}, {_g(c['start_b'])})",
        f"learning rate {_g(c['learning_rate'])}",
        f"{c['steps']} steps",
        f"clip at {_g(c['clip_threshold'])}",
    ]


def eigen_facts(c):
    facts = [f"T = {c['seq_len']}", f"seed {c['seed']}"]
    if c["matrix"] == "eigenvalues":
        radii = ", ".join(_g(c[f"radius{k}"]) for k in (1, 2, 3))
        facts.append(f"|λ| = {radii}")
        if c["non_normal"]:
            facts.append(f"non-normal (coupling {_g(c['coupling'])})")
    else:
        facts += [f"{c['matrix']} W", f"n = {c['hidden_size']}", f"scale {_g(c['scale'])}"]
    return facts


def network_facts(c):
    cell = {"rnn": f"{c['nonlinearity']} RNN", "lstm": "LSTM", "gru": "GRU"}[c["cell"]]
    facts = [
        f"{c['num_layers']}-layer " + ("bidirectional " if c["bidirectional"] else "") + cell,
        f"n = {c['hidden_size']}",
        f"T = {c['seq_len']}",
        "loss at every step" if c["loss"] == "every" else "loss at the last step",
        f"V = {c['vocab_size']}",
        f"scale {_g(c['scale'])}",
        f"seed {c['seed']}",
    ]
    if c["skip"] == "residual":
        facts.append("residual skips")
    return facts


def depth_facts(c):
    facts = [f"{c['depth']} layers of width {c['width']}", c["activation"], f"{c['init']} init"]
    facts += [f"gain {_g(c['gain'])}", f"batch {c['batch']}", f"seed {c['seed']}"]
    facts.append("plain, residual, dense and highway" if c["compare"] else c["architecture"])
    if c["architecture"] == "residual" or c["compare"]:
        rule = c["alpha_rule"] == "inv_sqrt_depth"
        facts.append(f"α = {_g(c['alpha'])}" + (f"/√{c['depth']}" if rule else ""))
    if c["architecture"] == "highway" or c["compare"]:
        facts.append(f"gate bias {_g(c['gate_bias'])}")
    if c["tied"]:
        facts.append("tied weights")
    return facts


FACTS = {
    "network": network_facts,
    "depth": depth_facts,
    "explore": explore_facts,
    "compare": compare_facts,
    "cliff": cliff_facts,
    "eigen": eigen_facts,
}
CASES = [
    ("explore", {}),
    ("explore", {"seq_len": "77", "hidden_size": "16", "scale": "1.25", "seed": "3"}),
    ("explore", {"cell": "lstm", "forget_bias": "3", "peephole": "true"}),
    ("explore", {"cell": "gru", "update_bias": "-2.5", "gru_form": "lecture"}),
    (
        "explore",
        {"nonlinearity": "relu", "init": "identity", "clip": "norm", "clip_threshold": "0.5"},
    ),
    ("explore", {"truncation": "20", "keep_prob": "0.5", "draws": "7"}),
    ("compare", {}),
    ("compare", {"seq_len": "400", "forget_bias": "3", "update_bias": "4", "nonlinearity": "relu"}),
    ("cliff", {}),
    ("cliff", {"start_w": "7.25", "start_b": "-1.5", "steps": "12", "learning_rate": "0.05"}),
    ("cliff", {"nonlinearity": "tanh", "clip_threshold": "2", "seq_len": "50"}),
    ("eigen", {}),
    ("eigen", {"radius1": "0.5", "radius2": "0.4", "non_normal": "true", "coupling": "-5"}),
    ("eigen", {"matrix": "gaussian", "hidden_size": "16", "scale": "0.95", "seq_len": "9"}),
    ("network", {}),
    ("network", {"cell": "rnn", "nonlinearity": "relu", "num_layers": "3", "skip": "residual"}),
    ("network", {"bidirectional": "true", "loss": "last", "vocab_size": "3", "seed": "4"}),
    ("depth", {}),
    ("depth", {"architecture": "residual", "alpha_rule": "inv_sqrt_depth", "depth": "16"}),
    ("depth", {"compare": "true", "gate_bias": "-2.5", "width": "8", "gain": "1.5"}),
    ("depth", {"activation": "identity", "tied": "true", "seed": "4", "batch": "2"}),
]


@pytest.mark.parametrize(("name", "params"), CASES)
def test_the_label_is_true_of_the_query(client, name, params):
    body = figures_body(client, name, params)
    label, config = body["label"], body["config"]
    for key, value in params.items():  # the configuration is the one asked for
        assert str(config[key]).lower() in (
            value,
            str(float(value)) if value[0] in "-0123456789" else value,
        )
    for fact in FACTS[name](config):
        assert fact in label, (fact, label)
    assert "\n" not in label and len(label) < 160  # one line


def test_labels_name_what_was_changed():
    lstm = catalog.explore_label(catalog.GradientFlowQuery(cell="lstm", forget_bias=3))
    assert lstm.startswith("LSTM, forget bias 3, n = 32, T = 100")
    assert "tanh" not in lstm  # the nonlinearity is the RNN's only
    assert "peepholes" in catalog.explore_label(
        catalog.GradientFlowQuery(cell="lstm", peephole=True)
    )
    full = catalog.explore_label(catalog.GradientFlowQuery(seq_len=10, truncation=50))
    assert "τ = 50 (full BPTT)" in full
    default = catalog.explore_label(catalog.GradientFlowQuery())
    assert default == "tanh RNN, n = 32, T = 100, gaussian init, scale 1, seed 0"
    quiet = catalog.explore_label(catalog.GradientFlowQuery(h0="random", input="zeros"))
    assert quiet.endswith("zeros inputs, random h0")
    eigen = catalog.eigen_label(catalog.EigenQuery(matrix="orthogonal", scale=1.01))
    assert eigen.startswith("orthogonal W, n = 8, scale 1.01") and "λ" not in eigen


@pytest.mark.parametrize(("name", "params"), [c for c in CASES if c[1]])
def test_the_page_and_its_embed_carry_the_apis_label(client, page_client, name, params):
    label = figures_body(client, name, params)["label"]
    for path in (f"/{name}", f"/embed/{name}"):
        r = page_client.get(path, params=params)
        assert r.context["label"] == label
        [attr] = re.findall(r'<form id="controls"[^>]* data-label="([^"]*)"', r.text)
        assert unescape(attr) == label


# -- groups -------------------------------------------------------------------------------------


def test_the_explorers_controls_are_grouped_as_a_student_reads_them():
    groups = {g.legend: [n for n, _ in g.controls] for g in catalog.EXPLORE.groups}
    assert list(groups)[:3] == ["Cell and sizes", "Weights", "Clipping and truncation"]
    assert {"cell", "seq_len", "hidden_size", "nonlinearity", "forget_bias"} <= set(
        groups["Cell and sizes"]
    )
    assert groups["Weights"] == ["init", "scale", "seed"]
    assert groups["Clipping and truncation"] == [
        "clip",
        "clip_threshold",
        "truncation",
        "keep_prob",
    ]
    [more] = [g for g in catalog.EXPLORE.groups if g.more]
    assert {n for n, _ in more.controls} == {"draws", "input_size", "input", "input_scale", "h0"}


@pytest.mark.parametrize("name", NAMES)
def test_every_field_is_in_exactly_one_group(name):
    view = catalog.VIEWS[name]
    grouped = [n for g in view.groups for n, _ in g.controls]
    assert len(grouped) == len(set(grouped))
    assert set(view.query.model_fields) - {"include"} == set(grouped)
    assert all(g.legend for g in view.groups)
    assert sum(not g.more for g in view.groups) >= 2


@pytest.mark.parametrize("name", NAMES)
def test_the_page_renders_its_groups_as_fieldsets_and_the_rare_ones_folded(page_client, name):
    r = page_client.get(f"/{name}")
    view = catalog.VIEWS[name]
    form = r.text.split('<form id="controls"')[1].split("</form>")[0]
    legends = re.findall(r"<legend>([^<]*)</legend>", form)
    assert legends == [g.legend for g in view.groups if not g.more]
    summaries = re.findall(r'<details class="group group-more"[^>]*>\s*<summary>([^<]*)<', form)
    assert summaries == [g.legend for g in view.groups if g.more]
    assert [g.legend for g in r.context["groups"]] == [g.legend for g in view.groups]


def test_a_group_whose_controls_apply_to_some_matrices_is_shown_for_those(page_client):
    r = page_client.get("/eigen")
    [eigenvalues] = [g for g in r.context["groups"] if g.legend.startswith("Eigenvalues")]
    assert eigenvalues.cells == ("eigenvalues",)
    assert '<fieldset class="group" data-cells="eigenvalues">' in r.text


def test_the_registry_refuses_a_compact_embed_of_more_than_three_controls():
    four = ("seq_len", "scale", "seed", "init")
    with pytest.raises(ValueError, match="at most 3"):
        Registry([replace(catalog.COMPARE, compact=four)])
    twice = (*catalog.COMPARE.groups, Group("Again", (("seed", ()),)))
    with pytest.raises(ValueError, match="two groups"):
        Registry([replace(catalog.COMPARE, groups=twice)])


# -- compact embeds -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_a_compact_embed_shows_at_most_three_controls_and_keeps_the_rest(page_client, name):
    view = catalog.VIEWS[name]
    r = page_client.get(f"/embed/{name}")
    shown = re.findall(r'<label for="([^"]+)">', r.text)
    assert shown == list(view.compact)  # in the order the registry gives
    q = r.context["query"]
    selected = getattr(q, "cell", None) or getattr(q, "matrix", None)
    assert 1 <= len(compact_shown(view, selected)) <= 3
    kept = set(re.findall(r'<input type="hidden" name="([^"]+)"', r.text))
    assert kept == {n for n, _ in view.main + view.more} - set(view.compact)
    assert "<fieldset" not in r.text.split('id="controls"')[1].split("</form>")[0]
    full = page_client.get(f"/embed/{name}", params={"controls": "full"})
    assert set(re.findall(r'<label for="([^"]+)">', full.text)) == {
        n for n, _ in view.main + view.more
    }


def test_the_explorers_compact_embed_shows_the_knob_of_its_cell():
    assert compact_shown(catalog.EXPLORE, "rnn") == ["nonlinearity", "seq_len", "scale"]
    assert compact_shown(catalog.EXPLORE, "lstm") == ["forget_bias", "seq_len", "scale"]
    assert compact_shown(catalog.EXPLORE, "gru") == ["update_bias", "seq_len", "scale"]
    assert catalog.COMPARE.compact == ("seq_len", "forget_bias", "update_bias")


def test_a_compact_embed_keeps_a_changed_hidden_value_in_its_state(page_client):
    r = page_client.get("/embed/compare", params={"init": "orthogonal", "seq_len": "40"})
    assert '<input type="hidden" name="init" value="orthogonal"' in r.text
    assert r.context["label"].startswith("T = 40,") and "orthogonal init" in r.context["label"]


# -- the home page ------------------------------------------------------------------------------


def test_the_home_page_links_every_view_from_its_list_of_views(page_client):
    r = page_client.get("/")
    views_list = r.text.split('<ul class="views">')[1].split("</ul>")[0]
    cards = r.text.split('<nav class="view-cards"')[1].split("</nav>")[0]
    for block in (views_list, cards):
        hrefs = [unescape(h) for h in re.findall(r'href="([^"]+)"', block)]
        for name in NAMES:
            assert f"/{name}" in hrefs
        [truncated] = [h for h in hrefs if h.startswith("/explore?")]
        assert "truncation=" in truncated
    # the truncation link opens a view that truncates
    query = truncated.split("?", 1)[1]
    page = page_client.get(f"/explore?{query}")
    assert page.context["problems"] == [] and page.context["query"].truncation > 0
    assert "truncated to τ" in page.context["label"]
    assert urlencode({"truncation": page.context["query"].truncation}) in query
