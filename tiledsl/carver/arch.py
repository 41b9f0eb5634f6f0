"""``tilelang.carver.arch``: importable; constructing an architecture raises ConfigError (see the package doc)."""
from . import _name

CUDA = _name("CUDA")
CDNA = _name("CDNA")
TensorInstruction = _name("TensorInstruction")


def auto_infer_current_arch():
    """Raises ConfigError: Roller is not implemented."""
    return CUDA()


class driver:  # noqa: N801 - TileLang's module name, used as ``driver.get_num_sms()``
    """``tilelang.carver.arch.driver``: device queries through torch."""

    @staticmethod
    def get_num_sms(device_id: int = 0) -> int:
        """Streaming multiprocessors of the GPU."""
        import torch

        return torch.cuda.get_device_properties(device_id).multi_processor_count
