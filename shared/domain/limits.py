"""Size limits, refused up front with their numbers (README, "Limits").

Temporal refuses any payload over 2 MB, and every byte of an enrollment's input,
signals and state is stored in its history and held in the worker's cache. So
content stays in the database and what crosses into a workflow is bounded."""

KiB = 1024
MiB = 1024 * KiB

# One event as posted to `POST /events` (413 past it).
EVENT_BYTES = 256 * KiB
# One template of a step (a subject, a body): 422 naming the step.
TEMPLATE_BYTES = 1 * MiB
# An automation's structure, the steps without their content, is every
# enrollment's workflow input: 422 past it. A tenth of Temporal's 2 MB leaves
# room for the state a run carries into the next (CARRIED_STATE_BYTES).
STRUCTURE_BYTES = 256 * KiB
# A whole definition as posted, content included (413 past it).
DEFINITION_BYTES = 16 * MiB

# What a run carries into continue-as-new, part by part (shared.contracts.carried).
SEEN_EVENT_IDS_BYTES = 64 * KiB
EVENT_LOG_BYTES = 32 * KiB
MESSAGES_BYTES = 32 * KiB
# What the tests hold a whole carried state to: the parts above, and the counters
# per step (run counts, recent runs), which the structure's size bounds.
CARRIED_STATE_BYTES = 192 * KiB


def size(n: int) -> str:
    """`262,144 bytes (256 KiB)`: the exact number, and the round one."""
    unit = "MiB" if n >= MiB and n % MiB == 0 else "KiB"
    return f"{n:,} bytes ({n // (MiB if unit == 'MiB' else KiB)} {unit})"
