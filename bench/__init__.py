"""`make bench`: figures anyone can rerun, against a system this starts itself in test mode."""
