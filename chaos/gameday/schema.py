"""The JSON Schema of the game day format (``chaosdrill schema --gameday``)."""

from __future__ import annotations

from typing import Any

from chaos.gameday.model import GameDay

SCHEMA_ID = "https://chaosdrill.dev/schema/gameday-1.json"


def gameday_schema() -> dict[str, Any]:
    schema = GameDay.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "chaosdrill game day"
    return schema
