"""The generic training loop and its contract with models."""

from aekit.training._module import TrainableModule

__all__ = ["TrainableModule"]
