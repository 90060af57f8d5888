"""Exception classes shared by every stage.

Stage-specific errors (audio decoding, manifests, bundles) subclass
`MoodflowError` in their own subpackage, so a caller can catch one base class
at a command-line or service boundary and print the message.
"""


class MoodflowError(Exception):
    """Base class for every error that moodflow raises on bad input or state."""


class SpaceMismatchError(MoodflowError):
    """An artifact was built for a different music space than the one in use."""

    def __init__(self, what: str, expected_space_id: str, found_space_id: str) -> None:
        self.what = what
        self.expected_space_id = expected_space_id
        self.found_space_id = found_space_id
        super().__init__(
            f"{what} was built for space {found_space_id!r}, but the loaded space is "
            f"{expected_space_id!r}; rebuild {what} against this space"
        )
