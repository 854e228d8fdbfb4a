"""Browser test 4: a bad file gives a clear error, and the next good upload still works."""

from __future__ import annotations

import os

from tests.e2e.conftest import open_tab, upload, write_face_video


def test_bad_photo_then_good_photo(fer2013, page, tmp_path, artifacts):
    # A FER2013 validation face (48x48 grey) in which the still detector finds the face.
    fer_face = fer2013 / "val" / "happy" / "PublicTest_10181609.png"
    bad = tmp_path / "holiday.jpg"
    bad.write_bytes(os.urandom(4096))
    open_tab(page, "Photo")
    panel = page.get_by_role("tabpanel", name="Photo")
    upload(page, "Photo", bad)
    error = panel.get_by_test_id("stAlert").filter(has_text="holiday.jpg")
    error.wait_for()
    assert "not an image" in error.inner_text()
    assert panel.get_by_test_id("stImage").count() == 0
    page.screenshot(path=str(artifacts / "bad-photo.png"), full_page=True)

    upload(page, "Photo", fer_face)
    page.get_by_text(f"{fer_face.name}: 1 face found").wait_for()
    panel.get_by_test_id("stImage").wait_for()
    assert panel.get_by_test_id("stAlert").filter(has_text="holiday.jpg").count() == 0
    panel.locator(".js-plotly-plot").first.wait_for()
    page.screenshot(path=str(artifacts / "good-photo-after-bad.png"), full_page=True)


def test_bad_video_then_good_video(page, tmp_path, artifacts):
    bad = tmp_path / "lecture.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(20000))  # an MP4 header, then garbage
    open_tab(page, "Video")
    panel = page.get_by_role("tabpanel", name="Video")
    upload(page, "Video", bad)
    error = panel.get_by_test_id("stAlert").filter(has_text="lecture.mp4")
    error.wait_for(timeout=30_000)
    assert panel.locator("video").count() == 0
    page.screenshot(path=str(artifacts / "bad-video.png"), full_page=True)

    good = write_face_video(tmp_path / "good.mp4", seconds=2.0, fps=15)
    upload(page, "Video", good)
    panel.get_by_text("Analysed good.mp4:").wait_for(timeout=60_000)
    panel.locator("video").first.wait_for()
    assert panel.get_by_test_id("stAlert").filter(has_text="lecture.mp4").count() == 0
    panel.get_by_role("button", name="Download annotated MP4").wait_for()
