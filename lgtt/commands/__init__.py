"""The commands, one module per family; importing a module registers its commands.

Keep one import per line: each family's module is owned separately.
"""
# ruff: noqa: I001

from lgtt.commands import read  # noqa: F401
from lgtt.commands import compare  # noqa: F401
from lgtt.commands import fork  # noqa: F401
from lgtt.commands import maintenance  # noqa: F401
from lgtt.commands import recovery  # noqa: F401
