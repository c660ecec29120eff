"""The watermark as a sampler applies it: ``delta`` added to the green tokens' logits.

``bias`` works on a NumPy row; ``HFWatermark`` is a Hugging Face ``transformers`` logits
processor (``model.generate(..., logits_processor=[HFWatermark(key)])``). A model server gives
it only to the requests it was asked to mark; every other request is sampled as before.

>>> import numpy as np
>>> from distillguard.provenance.keys import derive, green_mask
>>> key = derive(b"secret", "c7")
>>> row = bias(key, [17], np.zeros(8, dtype=np.float32))
>>> bool((row[green_mask(key, [17], 8)] == key.delta).all())
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from distillguard.provenance.keys import WatermarkKey, green_mask


def bias(key: WatermarkKey, context: Sequence[int], logits: NDArray[Any]) -> NDArray[Any]:
    """Logits for the next token after ``context``, with the green ones raised by ``delta``."""
    if len(context) < key.context:
        return logits  # too little context to pick a green list: unmarked
    mask = green_mask(key, context, logits.shape[-1])
    marked: NDArray[Any] = logits + mask.astype(logits.dtype) * np.asarray(key.delta, logits.dtype)
    return marked


class HFWatermark:
    """A ``transformers`` logits processor: ``__call__(input_ids, scores)`` on torch tensors."""

    def __init__(self, key: WatermarkKey) -> None:
        self.key = key

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        rows = []
        for ids, row in zip(input_ids.tolist(), scores, strict=True):
            if len(ids) < self.key.context:
                rows.append(row)
                continue
            mask = torch.from_numpy(green_mask(self.key, ids, row.shape[-1])).to(row.device)
            rows.append(row + mask.to(row.dtype) * self.key.delta)
        return torch.stack(rows)
