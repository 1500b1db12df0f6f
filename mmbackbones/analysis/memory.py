"""Peak memory of one call, on CUDA or on CPU."""
from __future__ import annotations

from collections.abc import Callable

import torch


def peak_allocated_bytes(fn: Callable[[], object],
                         device: torch.device | str = 'cpu') -> int:
    """Peak bytes torch allocates while ``fn()`` runs, beyond what was allocated before.

    On CUDA ``torch.cuda.max_memory_allocated``; on CPU the running sum of the profiler's memory
    events (allocations and frees, in order), which is deterministic for a deterministic ``fn``.
    """
    device = torch.device(device)
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == '[memory]']
    current = peak = 0
    for event in sorted(events, key=lambda e: e.start_ns()):
        current += event.nbytes()
        peak = max(peak, current)
    return peak
