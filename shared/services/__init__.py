"""Services: the operations the API, the worker and (later) triggers share."""
