"""Per-request signals: what a request asks for, as scores with reasons.

Detections are data (``rules/*.yaml``); ``score_request`` is the one implementation that ingest
stores as columns and the gateway calls inline.
"""

from distillguard.signals.capability import CAPABILITIES
from distillguard.signals.request import INTENT_SIGNALS, RequestSignals, score_request

__all__ = ["CAPABILITIES", "INTENT_SIGNALS", "RequestSignals", "score_request"]
