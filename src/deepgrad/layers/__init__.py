"""deepgrad.layers: layers with forward/backward/parameters (protocol: layers/_base.py)."""
from ._base import BufferCache, Layer, Parameter
from .activation import ACTIVATION_LAYERS, GELU, Activation, LeakyReLU, ReLU, SiLU, Sigmoid, Tanh
from .container import LayerRecord, Sequential

__all__ = ["ACTIVATION_LAYERS", "Activation", "BufferCache", "GELU", "Layer", "LeakyReLU", "Parameter",
           "ReLU", "SiLU", "Sigmoid", "Tanh"]
__all__ += ["LayerRecord", "Sequential"]
