"""Local stack for development and tests: embedded servers and the `make run` supervisor."""
