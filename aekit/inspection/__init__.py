"""Arrays that show what a model learned: filter tiles, preferred inputs, activation maximization."""

from aekit.inspection._tiles import tile_images

__all__ = ["tile_images"]
