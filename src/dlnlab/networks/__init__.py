"""Networks: each family is one module holding the network and its mirror map.

Every network trains as a mirror flow ``x(t) = X(A^T lam(t))`` (docs/theory.md section 3);
`base` declares what a solver may ask of a network (`Network`, `ScaleFamily`; `Trainable`,
`EffectiveInit` for gradient descent on its weights) and of its map (`MirrorMap`).
"""

from .azulay import AzulayDLN
from .base import EffectiveInit, MirrorMap, Network, ScaleFamily, Trainable, normalize, to_z
from .layered import LayeredDLN, LayeredMap
from .nonnegative import EntropicMap, NonNegativeDLN
from .symmetric import HyperbolicMap, PowerBarrierMap, SymmetricDLN
from .twolayer import TwoLayerDLN, TwoLayerMap
from .spec import families, network_from_spec, register_family

__all__ = ["MirrorMap", "Network", "ScaleFamily", "Trainable", "EffectiveInit", "normalize", "to_z", "SymmetricDLN",
           "HyperbolicMap", "PowerBarrierMap", "TwoLayerDLN", "TwoLayerMap", "AzulayDLN", "LayeredDLN", "LayeredMap",
           "NonNegativeDLN", "EntropicMap", "network_from_spec", "register_family", "families"]
