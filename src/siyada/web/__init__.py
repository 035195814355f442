"""The chat web app: static files the server ships (no CDN, fonts bundled)."""
