"""hambox_core — HAMBox face-detection components on numpy and numba (never torch).

Box operations, anchor generation and statistics, the SMS / DMS / NAMS / HAMBox matching
strategies, the regression-aware focal loss and post-processing.
"""

from .analysis import anchor_statistics
from .anchors import AnchorGenerator
from .matching import (
    DMSMatcher,
    HAMBoxMatcher,
    MatchResult,
    NAMSMatcher,
    SMSMatcher,
    match_images,
)

__version__ = "0.1.0"

__all__ = [
    "AnchorGenerator",
    "DMSMatcher",
    "HAMBoxMatcher",
    "MatchResult",
    "NAMSMatcher",
    "SMSMatcher",
    "__version__",
    "anchor_statistics",
    "match_images",
]
