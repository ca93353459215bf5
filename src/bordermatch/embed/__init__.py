"""Face alignment and recognizers (embedders)."""
