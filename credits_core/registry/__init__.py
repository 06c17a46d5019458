"""Plans, billable tools and top-up packs, validated and versioned."""

from .model import NO_PLAN, Pack, Plan, Registry, Tool, load_default_registry, parse_registry
from .patch import apply_patch
from .repository import MemoryRegistryRepository, RegistryRepository, SqliteRegistryRepository

__all__ = [
    "NO_PLAN",
    "MemoryRegistryRepository",
    "Pack",
    "Plan",
    "Registry",
    "RegistryRepository",
    "SqliteRegistryRepository",
    "Tool",
    "apply_patch",
    "load_default_registry",
    "parse_registry",
]
