"""Facial expression recognition in the browser: live webcam, photos and videos.

Run with `streamlit run streamlit_app.py`. The work happens in fer_app/; this file lays out the page.
"""

import streamlit as st

from fer_app.ui.about_tab import render_about_tab
from fer_app.ui.live_tab import render_controls, render_live_tab
from fer_app.ui.photo_tab import render_photo_tab
from fer_app.ui.video_tab import render_video_tab

st.set_page_config(page_title="Facial expression recognition", page_icon="🙂", layout="wide")

with st.sidebar:
    settings = render_controls()
    st.divider()
    chart_slot = st.container()

st.title("Facial expression recognition")
st.caption("Seven FER2013 expression labels, read from face appearance. Consent first; nothing is stored.")

live, photo, video, about = st.tabs(["Live", "Photo", "Video", "About"])
with live:
    render_live_tab(settings, chart_slot)
with photo:
    render_photo_tab()
with video:
    render_video_tab()
with about:
    render_about_tab()
