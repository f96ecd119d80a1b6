"""Errors the command-line tools turn into one clear line and a non-zero exit."""


class ScratchnetError(Exception):
    """Base class: anything a user can cause (bad file, bad data, bad option)."""


class ModelFileError(ScratchnetError):
    """A model file is missing, corrupt, foreign, or of a newer format."""


class IDXError(ScratchnetError):
    """An IDX file is malformed: wrong magic, type, dimensions or payload length."""


class DataError(ScratchnetError):
    """The dataset cannot be found, downloaded or verified."""


class ImageError(ScratchnetError):
    """An input image cannot be read or contains no digit."""


class TrainingDiverged(ScratchnetError):
    """The loss became NaN or infinite."""
