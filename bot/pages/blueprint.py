"""Result pages: a Flask blueprint over an export directory (the files `engine.results.export` wrote).

URLs are stable, so the bot can link them: `/experiments/` and
`/experiments/<slug>?segment=..&basis=..&period=..&window=..&statistic=..`. The directory comes
from the app config key `RESULTS_DIR` (a directory or gs://bucket/prefix: `bot.results`); its files
are read once into an `ExportIndex` kept on the
app (re-read only when a file changes).
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request, url_for

from bot.pages.panels import panels
from bot.pages.plots import branch_colors
from bot.pages.views import WINDOW_LABELS, branch_order, groups, select
from bot.results import open_results
from engine.results.metadata import EXPERIMENTER_URL
from engine.results.store import ExportIndex

blueprint = Blueprint("results", __name__, template_folder="templates",
                      static_folder="static", static_url_path="/results-static")


def _index() -> ExportIndex:
    """The results store (a directory or gs://bucket/prefix) of RESULTS_DIR, kept across requests."""
    spec = str(current_app.config.get("RESULTS_DIR", "results"))
    indexes = current_app.extensions.setdefault("results_index", {})
    if spec not in indexes:
        indexes[spec] = open_results(spec)
    return indexes[spec]


def _failure(errors: list[dict]) -> str | None:
    """Why an experiment has no results: its first error, when it only has errors."""
    return errors[0].get("message", "failed").splitlines()[0] if errors else None


def _in_order(counts: dict[str, int], branches: dict[str, str]) -> dict[str, int]:
    """Enrollment counts in the experiment's branch order (reference first), strays last."""
    order = list(branches)
    return dict(sorted(counts.items(), key=lambda c: (order.index(c[0]) if c[0] in order
                                                       else len(order), c[0])))


@blueprint.route("/experiments/")
def index() -> str:
    store = _index()
    experiments = []
    for slug in store.slugs():
        metadata, errors = store.metadata(slug), store.errors(slug)
        experiments.append((slug, metadata, len(errors), None if metadata else _failure(errors)))
    experiments.sort(key=lambda e: (str(e[1].get("name") or e[0]).lower(), e[0]))  # as shown
    return render_template("results/index.html", experiments=experiments)


@blueprint.route("/experiments/<slug>")
def experiment(slug: str) -> str:
    store = _index()
    if not store.has(slug):
        abort(404)
    metadata, errors = store.metadata(slug), store.errors(slug)
    selection, records, period = select(store, slug, request.args)
    colors = branch_colors(branch_order(metadata, period.records))
    overview = groups(metadata, records, selection, colors)
    time_period = selection.period if selection.period in WINDOW_LABELS else "weekly"
    time_series = period if time_period == selection.period else store.statistics(slug, "weekly")
    return render_template(
        "results/experiment.html", slug=slug, metadata=metadata, selection=selection,
        groups=overview, colors=colors, errors=errors,
        failure=None if metadata else _failure(errors) or "no results exported",
        experimenter_url=metadata.get("experimenter_url") or EXPERIMENTER_URL.format(slug=slug),
        panels=panels(metadata, records, overview, selection, time_series, time_period, colors),
        enrollment=_in_order(metadata.get("enrollment", {}).get(selection.basis, {}), colors),
        window_label=WINDOW_LABELS.get(selection.period, "window").capitalize(),
        srm=metadata.get("sample_ratio", {}).get(selection.basis),
        link=lambda **change: url_for("results.experiment", slug=slug, **selection.query(**change)))
