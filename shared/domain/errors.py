"""What the services refuse: the API maps each to its status code."""


class NotFound(LookupError):
    def __init__(self, what: str, id: str, why: str = ""):
        super().__init__(f"{what} '{id}' not found" + (f": {why}" if why else ""))
        self.what = what


class Conflict(Exception):
    pass


class Unavailable(Exception):
    """A service goalflow depends on (Temporal, the database) did not answer in time."""
