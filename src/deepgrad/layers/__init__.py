"""deepgrad.layers: layers with forward/backward/parameters (protocol: layers/_base.py)."""
from ._base import BufferCache, Layer, Parameter
from .activation import ACTIVATION_LAYERS, GELU, Activation, LeakyReLU, ReLU, SiLU, Sigmoid, Tanh
from .container import LayerRecord, Sequential
from .dense import Dense
from .loss import CrossEntropyLoss, MSELoss
from .norm import BatchNorm, LayerNorm, RMSNorm
from .residual import Residual

__all__ = ["ACTIVATION_LAYERS", "Activation", "BatchNorm", "BufferCache", "CrossEntropyLoss", "Dense", "GELU",
           "Layer", "LayerNorm", "LayerRecord", "LeakyReLU", "MSELoss", "Parameter", "RMSNorm", "ReLU", "Residual",
           "Sequential", "SiLU", "Sigmoid", "Tanh"]
