"""Browser test 3: a video upload shows progress, then the annotated video, its timeline, summary and downloads."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

import av

from tests.e2e.conftest import open_tab, upload, wait_until, write_face_video

# Records every text the progress bar shows, from before the upload until the end.
WATCH_PROGRESS_JS = """() => {
    window.__progress = [];
    new MutationObserver(() => {
        document.querySelectorAll('[data-testid="stProgress"]').forEach(p => window.__progress.push(p.innerText));
    }).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
}"""


def leftover_temp_dirs() -> list[str]:
    return sorted(p.name for p in Path(tempfile.gettempdir()).glob("fer_video_*"))


def test_video_upload_progress_result_and_downloads(page, tmp_path, artifacts):
    before = leftover_temp_dirs()
    video = write_face_video(tmp_path / "astronaut.mp4", seconds=4.0, fps=15)
    open_tab(page, "Video")
    panel = page.get_by_role("tabpanel", name="Video")
    panel.get_by_text("up to 50 MB").wait_for()
    page.evaluate(WATCH_PROGRESS_JS)
    upload(page, "Video", video)

    panel.get_by_text("Analysed astronaut.mp4:").wait_for(timeout=60_000)
    assert leftover_temp_dirs() == before, "the upload's temporary files were not removed"
    seen = page.evaluate("() => window.__progress")
    assert any("%" in text for text in seen), f"no progress shown while analysing: {seen[:5]}"

    # The annotated video plays in the page.
    player = panel.locator("video").first
    player.wait_for()
    assert wait_until(lambda: player.evaluate("v => v.readyState >= 1 && v.duration > 3"), 15), "the result video does not load"
    player.evaluate("v => { v.muted = true; return v.play(); }")
    assert wait_until(lambda: player.evaluate("v => v.currentTime > 0.3"), 10), "the result video does not play"

    # Summary and timeline chart.
    assert panel.get_by_test_id("stMetric").count() == 4
    panel.get_by_text("Most faces in a frame").wait_for()
    panel.locator(".js-plotly-plot").first.wait_for()
    page.screenshot(path=str(artifacts / "video-result.png"), full_page=True)
    panel.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "video-timeline.png"))

    # Downloads: an MP4 that decodes to the whole clip, a CSV timeline with a row per second, the JSON summary.
    with page.expect_download() as info:
        panel.get_by_role("button", name="Download annotated MP4").click()
    annotated = tmp_path / "annotated.mp4"
    info.value.save_as(annotated)
    with av.open(str(annotated)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames >= 35, f"the annotated MP4 has {frames} frames"  # 4 s analysed at 10 frames per second

    with page.expect_download() as info:
        panel.get_by_role("button", name="Download timeline CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text())))
    assert len(rows) == 4 and all(int(r["faces"]) >= 1 for r in rows), rows

    with page.expect_download() as info:
        panel.get_by_role("button", name="Download JSON").click()
    report = json.loads(Path(info.value.path()).read_text())
    assert report["file"] == "astronaut.mp4"
    assert report["summary"]["max_faces"] >= 1
    assert len(report["timeline"]) == 4
