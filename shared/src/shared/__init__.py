"""The gateway's internal library, shared by the API and every worker. Free of web frameworks."""
