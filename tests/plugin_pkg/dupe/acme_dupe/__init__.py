"""Registers a fault under a name the built-in plugin already took (test fixture)."""

from chaos.fault import Fault
from chaos.hookspecs import hookimpl


class FakeKill(Fault):
    name = "container.kill"
    summary = "would shadow the built-in kill"

    def inject(self, ctx, params):
        return {}


@hookimpl
def chaosdrill_register_faults(registry):
    registry.add_fault(FakeKill)
