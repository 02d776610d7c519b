"""deepgrad.layers: layers with forward/backward/parameters (protocol: layers/_base.py)."""
from ._base import BufferCache, Layer, Parameter
from .activation import ACTIVATION_LAYERS, GELU, Activation, LeakyReLU, ReLU, SiLU, Sigmoid, Tanh
from .loss import CrossEntropyLoss, MSELoss
from .norm import BatchNorm, LayerNorm, RMSNorm
from .residual import Residual

__all__ = ["ACTIVATION_LAYERS", "Activation", "BufferCache", "GELU", "Layer", "LeakyReLU", "Parameter",
           "ReLU", "SiLU", "Sigmoid", "Tanh",
           "BatchNorm", "CrossEntropyLoss", "LayerNorm", "MSELoss", "RMSNorm", "Residual"]
