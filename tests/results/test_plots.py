"""SVG plots: well-formed XML, marks where the numbers say, no external references."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from bot.pages.plots import (
    BAD,
    GOOD,
    NEUTRAL,
    PALETTE,
    IntervalRow,
    Series,
    branch_colors,
    interval_plot,
    line_plot,
    nice_ticks,
)

NS = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    assert "http://" not in svg.replace("http://www.w3.org/2000/svg", "")
    return ET.fromstring(svg)


def test_nice_ticks_cover_range_with_round_steps():
    assert nice_ticks(0, 10) == [0, 2.5, 5.0, 7.5, 10.0]
    assert nice_ticks(-0.013, 0.072) == [0.0, 0.025, 0.05]
    assert nice_ticks(3, 3) == [3]


def test_forest_plot_colours_by_significance_and_places_zero():
    svg = parse(interval_plot([IntervalRow("up", 0.05, 0.01, 0.09, "#0b5cad", "good"),
                               IntervalRow("down", -0.04, -0.08, -0.01, "#e08a00", "bad"),
                               IntervalRow("unsure", 0.0, -0.02, 0.02, "#a3479b", "neutral"),
                               IntervalRow("missing", None)],
                              title="t", zero_line=True, percent=True))
    points = svg.findall(f".//{NS}circle")
    assert [p.get("fill") for p in points] == [GOOD, BAD, NEUTRAL]
    swatches = [r.get("fill") for r in svg.findall(f".//{NS}rect[@class='swatch']")]
    assert swatches == ["#0b5cad", "#e08a00", "#a3479b"]  # the branch stays recognisable
    zero = svg.find(f".//{NS}line[@class='zero']")
    xs = [float(p.get("cx")) for p in points]
    assert xs[1] < float(zero.get("x1")) < xs[0]
    assert "no estimate" in ET.tostring(svg, encoding="unicode")
    assert "5%" in ET.tostring(svg, encoding="unicode")


def test_branch_colours_are_stable_and_apart_from_significance():
    colours = branch_colors(["control", "a", "b"])
    assert colours == {"control": PALETTE[0], "a": PALETTE[1], "b": PALETTE[2]}
    assert not {GOOD, BAD, NEUTRAL} & set(PALETTE)
    svg = parse(line_plot([Series("b", (1, 2), (0.1, 0.2), color=colours["b"])], title="t",
                          percent_y=True, integer_x=True))
    assert svg.find(f".//{NS}path[@class='line']").get("stroke") == colours["b"]
    labels = [t.text for t in svg.findall(f".//{NS}text[@class='tick-label']")]
    assert "10%" in labels and "1.5" not in labels  # percent y, whole windows on x


def test_line_plot_bands_steps_and_legend():
    svg = parse(line_plot([Series("a", (0, 1, 2), (0.1, 0.5, 1.0), (0, 0.4, 0.9), (0.2, 0.6, 1)),
                           Series("b", (0, 1, 2), (0.2, 0.6, 1.0))], title="ecdf", step=True))
    lines = svg.findall(f".//{NS}path[@class='line']")
    assert len(lines) == 2 and lines[0].get("d").count("L") == 4  # 3 points as steps
    assert len(svg.findall(f".//{NS}path[@class='band']")) == 1
    assert [t.text for t in svg.findall(f".//{NS}text[@class='legend']")] == ["a", "b"]


def test_empty_input_renders_placeholder():
    assert "no data" in line_plot([], title="x") and "no data" in interval_plot([], title="x")


def test_labels_are_escaped():
    svg = interval_plot([IntervalRow("<script>", 1.0, 0.5, 1.5)], title="a&b")
    parse(svg)
    assert "<script>" not in svg
