"""Personal-data detection (the first part of hybrid-cloud privacy, issue 4)."""
