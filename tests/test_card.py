"""The shipped model card and docs/models.md show the measured candidates table as scripts/candidates.py wrote it."""

import json
from pathlib import Path

from fer_app.training.card import candidates_table

ROOT = Path(__file__).resolve().parents[1]


def test_card_and_models_doc_show_the_candidates_as_measured():
    rows = json.loads((ROOT / "models" / "candidates.json").read_text())["candidates"]
    table = candidates_table(rows)
    card = (ROOT / "models" / "card.md").read_text()
    models_doc = (ROOT / "docs" / "models.md").read_text()
    assert "\n".join(table) in card
    assert "\n".join(table) in models_doc
    assert len(table) == len(rows) + 2


def test_candidates_of_one_architecture_share_one_time():
    """The times come from one run, by architecture, so equal architectures cannot differ by the day measured."""
    rows = json.loads((ROOT / "models" / "candidates.json").read_text())["candidates"]
    by_arch: dict[str, set[float]] = {}
    for row in rows:
        if "architecture" in row:
            by_arch.setdefault(row["architecture"], set()).add(row["ms_per_face"])
    assert len(by_arch["vgg_fast"]) == 1 and len(by_arch) >= 4
    for row in rows:
        if "members" in row and not row["name"].startswith("accurate mode as shipped"):
            members = [r for r in rows if r["name"] in row["members"]]
            assert abs(row["ms_per_face"] - sum(m["ms_per_face"] for m in members)) < 0.002
