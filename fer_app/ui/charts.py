"""Plotly figures shared by the tabs. Plain functions: no Streamlit calls here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go

from fer_app.labels import EMOTIONS, color_hex

_LAYOUT = {
    "margin": {"l": 8, "r": 8, "t": 36, "b": 8},
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
    "font": {"size": 12},
}


def distribution_chart(distribution: Mapping[str, float], faces_now: int, window_s: float) -> go.Figure:
    """Horizontal bars: the share of each emotion over the last `window_s` seconds."""
    face_word = "face" if faces_now == 1 else "faces"
    shares = [float(distribution.get(e, 0.0)) for e in EMOTIONS]
    return _emotion_bars(shares, f"Last {window_s:.0f} s · {faces_now} {face_word} now", height=260)


def probability_chart(probabilities: Sequence[float], title: str) -> go.Figure:
    """One face's probabilities over the seven classes, as horizontal bars."""
    return _emotion_bars(probabilities, title, height=240)


def _emotion_bars(fractions: Sequence[float], title: str, height: int) -> go.Figure:
    """One horizontal bar per emotion (FER2013 order, top to bottom), labelled in percent."""
    values = [100.0 * float(f) for f in fractions]
    fig = go.Figure(
        go.Bar(
            x=values,
            y=list(EMOTIONS),
            orientation="h",
            marker_color=[color_hex(e) for e in EMOTIONS],
            text=[f"{v:.0f}%" for v in values],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:.1f}%<extra></extra>",
        )
    )
    fig.update_layout(
        title={"text": title, "x": 0, "font": {"size": 13}},
        height=height,
        xaxis={"range": [0, 115], "showticklabels": False, "showgrid": False, "zeroline": False},
        yaxis={"autorange": "reversed"},
        showlegend=False,
        **_LAYOUT,
    )
    return fig


def timeline_chart(times_s: Sequence[float], shares: Mapping[str, Sequence[float]], title: str) -> go.Figure:
    """Stacked areas: each emotion's share of the detected faces over time (0-100%)."""
    fig = go.Figure()
    for emotion in EMOTIONS:
        fig.add_trace(
            go.Scatter(
                x=list(times_s),
                y=[100.0 * float(v) for v in shares.get(emotion, [0.0] * len(times_s))],
                name=emotion,
                mode="lines",
                stackgroup="one",
                line={"width": 0.5, "color": color_hex(emotion)},
                hovertemplate=emotion + " %{y:.0f}% at %{x:.1f} s<extra></extra>",
            )
        )
    fig.update_layout(
        title={"text": title, "x": 0, "font": {"size": 13}},
        height=300,
        xaxis={"title": "time (s)"},
        yaxis={"title": "mean probability (%)", "range": [0, 100]},
        legend={"orientation": "h", "y": -0.3},
        **_LAYOUT,
    )
    return fig
