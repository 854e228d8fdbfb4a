"""The seven FER2013 emotions in the dataset's index order, and their colours."""

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
NUM_CLASSES = len(EMOTIONS)

# Other spellings met in datasets laid out as <class>/ folders.
ALIASES: dict[str, str] = {
    "anger": "angry",
    "disgusted": "disgust",
    "fearful": "fear",
    "happiness": "happy",
    "sadness": "sad",
    "surprised": "surprise",
}

# BGR, for OpenCV drawing; chosen to stay distinguishable on video.
COLORS_BGR: dict[str, tuple[int, int, int]] = {
    "angry": (40, 40, 220),
    "disgust": (40, 140, 60),
    "fear": (170, 60, 150),
    "happy": (30, 200, 250),
    "sad": (200, 120, 40),
    "surprise": (0, 140, 255),
    "neutral": (190, 190, 190),
}


def class_index(name: str) -> int:
    """FER2013 index of a class name (case-insensitive, aliases accepted); KeyError if unknown."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in EMOTIONS:
        raise KeyError(name)
    return EMOTIONS.index(key)


def color_hex(emotion: str) -> str:
    b, g, r = COLORS_BGR[emotion]
    return f"#{r:02x}{g:02x}{b:02x}"
