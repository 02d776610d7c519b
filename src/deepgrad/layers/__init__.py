"""deepgrad.layers: layers with forward/backward/parameters (protocol: layers/_base.py)."""
from ._base import BufferCache, Layer, Parameter
from .activation import ACTIVATION_LAYERS, GELU, Activation, LeakyReLU, ReLU, SiLU, Sigmoid, Tanh
from .dense import Dense

__all__ = ["ACTIVATION_LAYERS", "Activation", "BufferCache", "Dense", "GELU", "Layer", "LeakyReLU", "Parameter",
           "ReLU", "SiLU", "Sigmoid", "Tanh"]
