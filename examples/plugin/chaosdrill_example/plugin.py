"""The plugin's hooks: what the ``chaosdrill`` entry point names.

chaosdrill imports this module when it loads plugins and calls each
registration hook once with the registry. Keep it light: ``chaosdrill
validate`` imports it for any file that names an ``example.*`` fault or
probe, so heavy imports belong inside the methods that need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chaos.plugin_api import hookimpl
from chaosdrill_example.file_probe import FileProbe
from chaosdrill_example.flag import FlagFile

if TYPE_CHECKING:
    from chaos.plugin_api import Registry


@hookimpl
def chaosdrill_register_faults(registry: Registry) -> None:
    registry.add_fault(FlagFile)


@hookimpl
def chaosdrill_register_probes(registry: Registry) -> None:
    registry.add_probe(FileProbe)
