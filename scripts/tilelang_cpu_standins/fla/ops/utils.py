"""CPU stand-in for ``fla.ops.utils`` (the helpers the examples use)."""
import torch


def prepare_token_indices(offsets: torch.Tensor) -> torch.Tensor:
    """For sequences packed back to back with boundaries ``offsets`` (``[0, len_0, len_0 + len_1, ...]``), one
    row ``(sequence index, position in that sequence)`` per token: shape ``[offsets[-1], 2]``, on offsets' device,
    dtype of offsets."""
    lengths = (offsets[1:] - offsets[:-1]).tolist()
    rows = [(seq, pos) for seq, n in enumerate(lengths) for pos in range(int(n))]
    return torch.tensor(rows, dtype=offsets.dtype, device=offsets.device).reshape(-1, 2)
