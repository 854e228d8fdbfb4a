"""The About tab and the consent notice, as a visitor sees them."""

from __future__ import annotations

import json

from tests.e2e.conftest import ROOT, camera, open_tab


def test_consent_notice_comes_before_the_camera_and_about_has_the_model_card(page, artifacts):
    notice = page.get_by_text("Nothing is stored or sent anywhere else")
    notice.wait_for()
    assert page.get_by_text("Art. 5(1)(f)").count() >= 1
    assert page.get_by_text("Tick the box above to enable the camera").is_visible()
    assert camera(page).locator("button").count() == 0  # no START before consent
    page.screenshot(path=str(artifacts / "consent.png"), full_page=True)

    open_tab(page, "About")
    panel = page.get_by_role("tabpanel", name="About")
    panel.get_by_text("Intended uses").first.wait_for()
    assert panel.get_by_text("Out of scope").count() >= 1
    card = ROOT / "models" / "card.md"
    if card.exists():
        assert panel.get_by_text("is not present in this installation").count() == 0
        accuracy = json.loads((ROOT / "models" / "card.json").read_text())["validation"]["accuracy"]
        panel.get_by_text(f"{accuracy:.2%}").first.wait_for()  # the card's figures are on the page
    else:
        panel.get_by_text("is not present in this installation").wait_for()
    text = panel.inner_text().lower()
    assert "attention" not in text and "engagement" not in text
    page.screenshot(path=str(artifacts / "about.png"), full_page=True)
