"""What each node fault takes, as the README and ``chaosdrill plugins`` say."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from chaos.faults.swarm_node import NodePartition, NodePause, NodeStop


def test_only_node_stop_can_be_graceful():
    assert NodeStop.Params.model_validate({"graceful": True}).graceful is True
    for fault in (NodePause, NodePartition):
        assert fault.Params.model_validate({}) is not None
        with pytest.raises(ValidationError):
            fault.Params.model_validate({"graceful": True})
