"""Input/output at the edges: image decoding with limits, manifest readers."""
