"""The README's picture of the app: the Live tab with a face on camera and the sidebar chart.

    python scripts/screenshot.py [--out assets/screenshot-live.png]

Starts the app on a free loopback port, opens it in Debian's headless Chromium (the browser tests'
helpers) with a fake camera showing a real face (scikit-image's astronaut), gives consent, starts the
camera, waits for the labelled face and the chart, and saves a screenshot. Run it after a change to
the app's look; tests/e2e/test_browser_screenshot.py runs it into a temporary folder.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import (  # noqa: E402
    AppServer,
    face_frame,
    give_consent,
    grab_frame,
    launch_chromium,
    overlay_fraction,
    start_camera,
    wait_until,
    write_y4m,
)

DEFAULT_OUT = ROOT / "assets" / "screenshot-live.png"


def take_screenshot(out: Path, width: int = 1280, height: int = 800) -> Path:
    from playwright.sync_api import sync_playwright

    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        camera_file = write_y4m(Path(tmp) / "face.y4m", [face_frame()] * 10)
        server = AppServer(Path(tmp) / "server.log")
        try:
            with sync_playwright() as p:
                browser = launch_chromium(p, camera_file)
                page = browser.new_context(viewport={"width": width, "height": height}).new_page()
                page.set_default_timeout(30_000)
                page.goto(server.url)
                give_consent(page)
                start_camera(page)
                sidebar = page.get_by_test_id("stSidebar")
                sidebar.get_by_text("Faces now: 1").wait_for(timeout=30_000)
                sidebar.locator(".js-plotly-plot").first.wait_for()
                source = face_frame()
                if not wait_until(lambda: overlay_fraction(grab_frame(page), source) > 0.004, 15):
                    raise RuntimeError("the returned video shows no labelled face")
                page.wait_for_timeout(2500)  # a few chart refreshes, so the window is filled
                page.screenshot(path=str(out))
                browser.close()
        except Exception:
            print(Path(tmp, "server.log").read_text(errors="replace")[-3000:], file=sys.stderr)
            raise
        finally:
            server.stop()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    print(f"wrote {take_screenshot(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
