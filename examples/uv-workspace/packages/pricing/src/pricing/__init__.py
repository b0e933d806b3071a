"""pricing: a library member of the workspace, imported by orders from PYTHONPATH."""


def total(quantity: int, unit_cents: int) -> int:
    return quantity * unit_cents
