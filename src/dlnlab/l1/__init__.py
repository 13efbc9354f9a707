"""l1 geometry: basis pursuit, its face, the depth-selected minimizer, certificates, NSP."""

from .core import (BPFace, BPResult, CertificateConstant, Selection, basis_pursuit, bp_face, certificate_constant,
                   selected_minimizer)
from .nsp import NSPConstant, nsp_constant

__all__ = ["BPResult", "basis_pursuit", "BPFace", "bp_face", "Selection", "selected_minimizer",
           "CertificateConstant", "certificate_constant", "NSPConstant", "nsp_constant"]
