"""Face detectors. Each returns ``list[Face]`` in image coordinates, best first."""
