"""Domain errors: raised by services, shown to the user as a message and a 4xx."""


class DomainError(Exception):
    """A request the domain rules refuse. `status` is the HTTP status a view answers with."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ConflictError(DomainError):
    """The request conflicts with the current state (e.g. a record already resolved)."""

    status = 409
