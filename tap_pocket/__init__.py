"""tap-pocket: a Singer tap for Pocket (getpocket.com) exports and the Pocket v3 API."""
