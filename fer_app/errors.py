"""Errors whose message is meant for the person using the tool: one clear line."""


class FerError(Exception):
    """Base class: the message is shown as is, without a traceback."""


class DatasetError(FerError):
    """A dataset file or folder cannot be read as FER2013-style data."""


class BadImageError(FerError):
    """An upload or file is not a usable image."""


class BadVideoError(FerError):
    """An upload or file is not a usable video."""


class ModelError(FerError):
    """A model file is missing or cannot be loaded."""
