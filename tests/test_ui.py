"""The Streamlit layer without a browser: charts, ICE configuration, and the page rendered by AppTest."""

from __future__ import annotations

import re
from pathlib import Path
from unittest import mock

import pytest

from fer_app.labels import EMOTIONS, color_hex
from fer_app.ui.charts import distribution_chart, probability_chart, timeline_chart

ROOT = Path(__file__).resolve().parent.parent


def test_distribution_chart_shows_every_emotion_in_its_colour():
    dist = {e: 0.0 for e in EMOTIONS} | {"happy": 0.75, "neutral": 0.25}
    fig = distribution_chart(dist, faces_now=2, window_s=10)
    bar = fig.data[0]
    assert list(bar.y) == list(EMOTIONS)
    assert list(bar.x) == [100 * dist[e] for e in EMOTIONS]
    assert list(bar.marker.color) == [color_hex(e) for e in EMOTIONS]
    assert "2 faces now" in fig.layout.title.text


def test_probability_and_timeline_charts():
    fig = probability_chart([0.1, 0, 0, 0.6, 0.1, 0.1, 0.1], "Face 1: happy 60%")
    assert fig.data[0].x[3] == pytest.approx(60.0)
    times = [0, 1, 2]
    shares = {e: [1 / 7] * 3 for e in EMOTIONS}
    fig = timeline_chart(times, shares, "t")
    assert [trace.name for trace in fig.data] == list(EMOTIONS)
    assert sum(trace.y[0] for trace in fig.data) == pytest.approx(100.0)


def test_ice_servers_default_to_none(monkeypatch):
    from fer_app.ui.common import ice_configuration

    monkeypatch.delenv("FER_ICE_SERVERS", raising=False)
    assert ice_configuration() == {"iceServers": []}


def test_ice_servers_from_the_environment(monkeypatch):
    from fer_app.ui.common import ice_configuration

    turn = '[{"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "c"}]'
    monkeypatch.setenv("FER_ICE_SERVERS", turn)
    assert ice_configuration()["iceServers"][0]["urls"] == ["turn:turn.example.org:3478"]
    monkeypatch.setenv("FER_ICE_SERVERS", '{"iceServers": [{"urls": "stun:stun.example.org"}]}')
    assert ice_configuration() == {"iceServers": [{"urls": "stun:stun.example.org"}]}
    monkeypatch.setenv("FER_ICE_SERVERS", "not json")
    assert ice_configuration() == {"iceServers": []}


def test_the_app_never_calls_its_output_attention_or_engagement():
    sources = [ROOT / "streamlit_app.py", *sorted((ROOT / "fer_app" / "ui").glob("*.py")), ROOT / "fer_app" / "live.py"]
    for path in sources:
        text = path.read_text()
        assert not re.search(r"attention|engag", text, re.IGNORECASE), path


def test_usage_statistics_are_off():
    config = (ROOT / ".streamlit" / "config.toml").read_text()
    assert re.search(r"^gatherUsageStats\s*=\s*false", config, re.MULTILINE)


@pytest.fixture
def app():
    """The page under AppTest. webrtc_streamer cannot run there (no session manager), so its
    session lookup is patched out (../shared/notes/browser-testing.md, pitfall 2), in the library and in the page."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_resource.clear()
    with (
        mock.patch("streamlit_webrtc.component.get_this_session_info", return_value=None),
        mock.patch("fer_app.ui.live_tab.get_this_session_info", return_value=None),
    ):
        yield AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    st.cache_resource.clear()


def test_page_asks_for_consent_before_the_camera(app):
    app.run()
    assert not app.exception
    assert app.title[0].value == "Facial expression recognition"
    consent = app.checkbox(key="live_consent")
    assert consent.value is False
    notice = " ".join(m.value for m in app.markdown)
    assert "Art. 5(1)(f)" in notice and "Nothing is stored" in notice
    assert any("Tick the box" in i.value for i in app.info)


def test_about_tab_has_intended_and_out_of_scope_uses(app):
    app.run()
    text = " ".join(m.value for m in app.markdown)
    assert "Intended uses" in text and "Out of scope" in text
    card = ROOT / "models" / "card.md"
    if card.exists():
        shown = next(m.value for m in app.markdown if "Model card: default" in m.value)
        body = card.read_text().splitlines()[2]  # the card's first paragraph, under its title
        assert body in shown
        headings = re.findall(r"^(#+) ", shown, flags=re.MULTILINE)
        assert headings and min(map(len, headings)) == 4  # all below the tab's own "### Model card"
    else:
        assert any("model card" in i.value for i in app.info)


def test_consent_shows_the_camera_component(app):
    app.run()
    app.checkbox(key="live_consent").check().run()
    assert not app.exception
    assert not any("Tick the box" in i.value for i in app.info)


def test_a_missing_model_is_one_clear_line_not_a_traceback(app, monkeypatch, tmp_path):
    import fer_app.classify

    monkeypatch.setattr(fer_app.classify, "DEFAULT_MODEL", tmp_path / "missing.onnx")
    app.run()
    app.checkbox(key="live_consent").check().run()
    assert not app.exception
    assert any("missing.onnx: model file not found" in e.value for e in app.error)


def test_starting_as_deployed_makes_no_lookup_of_the_public_address(monkeypatch):
    """Headless on 0.0.0.0, Streamlit's banner would ask checkip.amazonaws.com for the public IP."""
    from streamlit import config, net_util
    from streamlit.web import bootstrap

    monkeypatch.chdir(ROOT)
    lookups = []
    monkeypatch.setattr(net_util, "_make_blocking_http_get", lambda url, timeout: lookups.append(url))
    monkeypatch.setattr(net_util, "_external_ip", None)
    keys = ("server.headless", "server.address", "logger.hideWelcomeMessage")
    saved = {key: (config.get_option(key), config.get_where_defined(key)) for key in keys}
    try:
        config.get_config_options(force_reparse=True)  # reads .streamlit/config.toml from the app folder
        config.set_option("server.address", "0.0.0.0", where_defined="command-line")  # as the Procfile and Dockerfile do
        assert config.get_option("server.headless") is True
        bootstrap._print_url(is_running_hello=False)
        assert lookups == []

        config.set_option("logger.hideWelcomeMessage", False, where_defined="command-line")
        bootstrap._print_url(is_running_hello=False)
        assert lookups, "the check above would not have seen a lookup"
    finally:
        for key, (value, where) in saved.items():
            config.set_option(key, value, where_defined=where)
