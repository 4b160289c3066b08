"""The commands, one module per family; importing a module registers its commands.

Keep one import per line: each family's module is owned separately.
"""

from lgtt.commands import read  # noqa: F401
