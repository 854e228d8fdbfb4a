"""The About tab: what the tool is for, what it is not for, privacy, and the model card."""

from __future__ import annotations

import re
from pathlib import Path

import streamlit as st

MODEL_CARD = Path(__file__).resolve().parents[2] / "models" / "card.md"

ABOUT_TEXT = """
### What this is
A tool that draws a box around each face in a webcam stream, photo or video and guesses which
of seven expression labels from the FER2013 dataset (angry, disgust, fear, happy, sad,
surprise, neutral) its appearance is closest to, with a confidence.

**Intended uses:** rehearsing a talk with your own camera; analysing recordings of people who
have agreed to it; learning how facial-expression models behave and where they fail.

**Out of scope, and not to be used for:** judging how people feel, whether they are
following, interested, honest or well; scoring anyone's focus or participation; decisions about any person (grading, hiring,
promotion, discipline, security); monitoring pupils, students or employees. The EU AI Act,
Art. 5(1)(f), prohibits emotion inference in workplaces and education institutions except for
medical or safety reasons. There is no scientific consensus that facial expressions reveal
inner emotional states; the labels describe what a face looks like, not what anyone feels.

### Privacy
- The camera starts only after you agree, and only while you press START.
- Live frames are analysed in memory and sent back to your browser; nothing from a live session
  is written to disk. The live timeline is kept in this browser session and is gone when you
  close the page.
- Uploaded photos are analysed in memory. Uploaded videos are written to a temporary file for
  decoding, and it is deleted as soon as the analysis ends.
- The app sends no usage statistics.
"""


def nested_headings(markdown: str, below: int = 3) -> str:
    """Markdown with every heading `below` levels deeper, so a document shown under a ### section (the model
    card's # title) is not larger than that section's own title."""
    return re.sub(r"^(#{1,6}) ", lambda m: "#" * min(len(m.group(1)) + below, 6) + " ", markdown, flags=re.MULTILINE)


def render_about_tab() -> None:
    st.markdown(ABOUT_TEXT)
    st.markdown("### Model card")
    if MODEL_CARD.exists():
        st.markdown(nested_headings(MODEL_CARD.read_text(encoding="utf-8")))
    else:
        st.info(
            "The model card (models/card.md: accuracy per class, known biases, training data) "
            "is not present in this installation."
        )
