"""l1 geometry: basis pursuit, its face, the depth-selected minimizer, certificates, NSP."""

from .bp import BPResult, basis_pursuit
from .certificate import CertificateConstant, certificate_constant
from .face import BPFace, bp_face
from .nsp import NSPConstant, nsp_constant
from .selection import Selection, selected_minimizer

__all__ = ["BPResult", "basis_pursuit", "BPFace", "bp_face", "Selection", "selected_minimizer",
           "CertificateConstant", "certificate_constant", "NSPConstant", "nsp_constant"]
