"""The experiment format: model, YAML loader with positions, validation and schema."""
