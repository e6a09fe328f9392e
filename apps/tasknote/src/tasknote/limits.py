"""What this container may use, and the budgets derived from it: the memory limit as the
kernel enforces it (cgroup v2, else v1), the number of uploads the API admits at once, and the
bytes the worker may spend decoding one image. Pure functions; only memory_limit() reads a file."""

from __future__ import annotations

from pathlib import Path

MiB = 1024 * 1024
# cgroup v2 (every current runtime, Kubernetes >= 1.25 nodes with cgroup v2, Docker 20.10+) and
# the v1 memory controller. "max" (v2) or a page-rounded 2**63 (v1) mean no limit.
CGROUP_FILES = (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"))
_UNLIMITED = 1 << 60
# Without a limit (a laptop run) the budgets are computed as for the base manifests' API limit.
DEFAULT_LIMIT = 256 * MiB

# What an idle API process holds (imports, pool, caches: ~80 MB RSS measured) plus headroom for
# the JSON traffic served next to uploads.
API_BASELINE = 128 * MiB
# What one admitted upload may hold in memory at once: the multipart parser's chunk, the hex
# chunk on its way into COPY, libpq's send buffer, the Pillow header probe (the body itself is
# on disk). Measured well below this; the margin is for the kernel's socket buffers.
PER_UPLOAD = 8 * MiB
# More slots than this buy nothing on half a core, and every slot is MAX_UPLOAD_BYTES of scratch.
MAX_UPLOAD_SLOTS = 16

# The worker: imports, libpq and the compressed original (twice: the row and its bytes copy).
WORKER_BASELINE = 96 * MiB


def parse_limit(text: str) -> int | None:
    """A cgroup memory limit file's content in bytes; None when it says there is no limit."""
    text = text.strip()
    if not text or text == "max":
        return None
    value = int(text)
    return None if value >= _UNLIMITED else value


def memory_limit(files: tuple[Path, ...] = CGROUP_FILES) -> int | None:
    """The container's memory limit in bytes, or None when there is none (or no cgroup)."""
    for path in files:
        try:
            return parse_limit(path.read_text())
        except (OSError, ValueError):
            continue
    return None


def upload_slots(limit: int | None) -> int:
    """How many uploads the API handles at once under a memory limit: what is left above the
    baseline divided by one upload's share, at least 1, at most MAX_UPLOAD_SLOTS."""
    available = (limit or DEFAULT_LIMIT) - API_BASELINE
    return max(1, min(MAX_UPLOAD_SLOTS, available // PER_UPLOAD))


def scratch_bytes_needed(slots: int, max_upload_bytes: int, framing: int) -> int:
    """Disk the upload scratch needs when every slot holds a maximum-size upload."""
    return slots * (max_upload_bytes + framing)


def decode_budget(limit: int | None, max_upload_bytes: int) -> int:
    """Bytes the worker may spend on the decoded pixels of one image: the limit less the
    process baseline and the compressed original held twice."""
    return max(0, (limit or 512 * MiB) - WORKER_BASELINE - 2 * max_upload_bytes)
