"""Browser test 2: a photo upload shows the annotated image, the probability chart and the downloads."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np

from fer_app.labels import COLORS_BGR
from tests.e2e.conftest import face_frame, open_tab


def test_photo_upload_shows_annotated_image_chart_and_downloads(page, tmp_path, artifacts):
    photo = tmp_path / "astronaut.png"
    source = face_frame()
    cv2.imwrite(str(photo), source)

    open_tab(page, "Photo")
    panel = page.get_by_role("tabpanel", name="Photo")
    panel.get_by_test_id("stFileUploader").locator('input[type="file"]').set_input_files(str(photo))

    image = panel.get_by_test_id("stImage")
    image.wait_for()
    page.get_by_text(re.compile(r"astronaut\.png: \d+ faces? found")).wait_for()
    # The per-face probability chart (plotly) with its title.
    panel.locator(".js-plotly-plot").first.wait_for()
    assert panel.get_by_text("Face 1:").count() >= 1
    page.screenshot(path=str(artifacts / "photo-result.png"), full_page=True)

    # The annotated PNG download: same size as the upload, with a box drawn in an emotion colour.
    with page.expect_download() as info:
        panel.get_by_role("button", name="Download annotated PNG").click()
    annotated_path = tmp_path / "annotated.png"
    info.value.save_as(annotated_path)
    annotated = cv2.imread(str(annotated_path))
    assert annotated.shape == source.shape
    changed = np.any(annotated != source, axis=2)
    assert changed.mean() > 0.002, "nothing was drawn on the photo"
    drawn = annotated[changed]
    palette = np.array(list(COLORS_BGR.values()), dtype=np.int32)
    near_palette = np.min(np.abs(drawn[:, None, :].astype(np.int32) - palette[None]).sum(axis=2), axis=1) < 40
    assert near_palette.mean() > 0.3, "the overlay is not in the emotion colours"

    with page.expect_download() as info:
        panel.get_by_role("button", name="Download JSON").click()
    report = json.loads(Path(info.value.path()).read_text())
    assert report["file"] == "astronaut.png"
    assert report["model"] == "accurate"  # the photo tab's default
    assert report["faces"], "no face in the JSON"
    for face in report["faces"]:
        assert abs(sum(face["probabilities"].values()) - 1.0) < 0.01
    # The astronaut's face is centred near (290, 106) in this frame; extra boxes are the detector's business.
    centres = [(x + w / 2, y + h / 2) for x, y, w, h in (f["box"] for f in report["faces"])]
    assert any(abs(cx - 290) < 40 and abs(cy - 106) < 40 for cx, cy in centres), centres


def test_fast_mode_analyses_the_same_photo_with_the_live_model(page, tmp_path, artifacts):
    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), face_frame())

    open_tab(page, "Photo")
    panel = page.get_by_role("tabpanel", name="Photo")
    panel.get_by_text("Fast", exact=True).click()
    panel.get_by_test_id("stFileUploader").locator('input[type="file"]').set_input_files(str(photo))
    panel.get_by_test_id("stImage").wait_for()
    panel.locator(".js-plotly-plot").first.wait_for()
    page.screenshot(path=str(artifacts / "photo-fast.png"), full_page=True)
    with page.expect_download() as info:
        panel.get_by_role("button", name="Download JSON").click()
    report = json.loads(Path(info.value.path()).read_text())
    assert report["model"] == "fast"
    centres = {(x + w // 2, y + h // 2): f["emotion"] for f in report["faces"] for x, y, w, h in [f["box"]]}
    astronaut = [emotion for (cx, cy), emotion in centres.items() if abs(cx - 290) < 40 and abs(cy - 106) < 40]
    assert astronaut == ["happy"], report["faces"]
