"""What the assistant refuses, and why."""


class AssistantError(Exception):
    """A question the assistant cannot take; the message says why."""


class PersonalDataRefused(AssistantError):
    """The tenant's policy refuses questions that hold personal identifiers."""
