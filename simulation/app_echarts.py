"""The page's chart widget: ECharts drawn in the browser, filling its box.

A :class:`solara.components.echarts.EchartsWidget` with its own template
(``app_chart.vue``): it loads ``echarts.min.js`` from the page's server (Solara serves it from
the ``solara-assets`` package; no internet), resizes with its box, and marks its element with
the ``mlmStamp`` of the option it has drawn (see :mod:`simulation.app_charts`).
"""

from __future__ import annotations

import json

import solara
import traitlets
from solara.components.echarts import EchartsWidget


class ChartWidget(EchartsWidget):
    """EchartsWidget with the page's template (``simulation/app_chart.vue``).

    The option travels as one JSON string (``spec``), not as a dict: Reacton walks every list
    and dict in a component's arguments on each render looking for child elements, and a tree
    of 2,000 people is tens of thousands of small lists (about 90 ms a Step at 2,000 people).
    """

    template_file = (__file__, "app_chart.vue")
    spec = traitlets.Unicode("{}").tag(sync=True)
    # The text under the chart and its CSS classes (none: no caption). Part of the chart's
    # widget so that a month's option and caption reach the browser in one message.
    caption = traitlets.Unicode("").tag(sync=True)
    caption_class = traitlets.Unicode("").tag(sync=True)


def to_spec(option: dict) -> str:
    """An ECharts option as the compact JSON string :class:`ChartWidget` draws."""
    return json.dumps(option, separators=(",", ":"), allow_nan=False)


@solara.component
def Chart(  # noqa: N802 (Solara components are CamelCase)
    spec: str, css_class: str = "", caption: str = "", caption_class: str = ""
):
    """An ECharts chart of ``spec`` (:func:`to_spec` of an option) that fills its container.

    ``caption`` is drawn under the chart in a ``span`` with the classes ``caption_class``
    (nothing if that is empty).
    """
    return ChartWidget.element(
        spec=spec,
        attributes={"class": f"mlm-chart-box {css_class}".strip()},
        caption=caption,
        caption_class=caption_class,
    )
