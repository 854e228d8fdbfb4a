"""The Photo tab: upload a still, see every face labelled, download the picture and the numbers."""

from __future__ import annotations

import json

import cv2
import streamlit as st

from fer_app.draw import draw_results
from fer_app.errors import FerError
from fer_app.media import load_image
from fer_app.ui.charts import probability_chart
from fer_app.ui.common import MAX_PHOTO_MB, PHOTO_TYPES, accurate_mode_chosen, new_recognizer, too_large


def render_photo_tab() -> None:
    st.markdown(
        f"Upload a photo ({', '.join(t.upper() for t in PHOTO_TYPES if t != 'jpeg')}, up to {MAX_PHOTO_MB} MB). "
        "It is analysed in memory and not kept."
    )
    # A photo is analysed once, so the ensemble's 60 ms a face is worth it; videos default to Fast.
    accurate = accurate_mode_chosen("photo_model", still=True)
    show_probabilities = st.checkbox("Draw all seven probabilities on the picture", key="photo_probs")
    upload = st.file_uploader("Photo", type=PHOTO_TYPES, key="photo_upload")
    if upload is None:
        return
    data = upload.getvalue()
    if too_large(len(data), MAX_PHOTO_MB):
        st.error(f"{upload.name}: {len(data) / 2**20:.1f} MB is over the {MAX_PHOTO_MB} MB limit for photos.")
        return
    try:
        result, annotated, notes = _analyse(data, upload.name, show_probabilities, accurate)
    except FerError as e:
        st.error(str(e))
        return

    for note in notes:
        st.caption(f"Note: {note}")
    st.image(
        cv2.cvtColor(annotated, cv2.COLOR_BGR2RGB),
        caption=f"{upload.name}: {_faces_text(len(result.faces))}",
    )
    if not result.faces:
        st.warning(
            "No face found. The detector looks for frontal faces at least about 40 pixels wide: "
            "try a sharper, front-on photo, or one where the faces are larger."
        )

    columns = st.columns(min(3, max(1, len(result.faces))))
    for i, face in enumerate(result.faces):
        with columns[i % len(columns)]:
            if not face.readable:
                st.caption(f"Face {i + 1}: {face.unread_note}")
                continue
            title = f"Face {i + 1}: {face.emotion} {face.confidence:.0%}"
            st.plotly_chart(
                probability_chart(face.probabilities, title),
                config={"displayModeBar": False},
                key=f"photo_face_{i}",
            )

    stem = upload.name.rsplit(".", 1)[0] or "photo"
    ok, png = cv2.imencode(".png", annotated)
    report = {"file": upload.name, "model": "accurate" if accurate else "fast", "notes": notes, **result.to_dict()}
    col_png, col_json = st.columns(2)
    if ok:
        col_png.download_button(
            "Download annotated PNG",
            png.tobytes(),
            f"{stem}_annotated.png",
            "image/png",
            key="photo_png",
            on_click="ignore",  # a download needs no rerun of the page
        )
    col_json.download_button(
        "Download JSON",
        json.dumps(report, indent=1),
        f"{stem}_emotions.json",
        "application/json",
        key="photo_json",
        on_click="ignore",  # a download needs no rerun of the page
    )


def _faces_text(n: int) -> str:
    return "no face found" if n == 0 else f"{n} face{'s' if n != 1 else ''} found"


def _analyse(data: bytes, name: str, show_probabilities: bool, accurate: bool):
    try:
        image, notes = load_image(data)
    except FerError as e:
        # media.py names the bytes "image"; say which upload it was.
        raise type(e)(str(e).replace("image:", f"{name}:", 1)) from None
    result = new_recognizer(accurate).analyze_image(image)
    annotated = draw_results(image, result, show_labels=True, show_probabilities=show_probabilities)
    return result, annotated, notes
