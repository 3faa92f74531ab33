"""Stage 1, the topology: load the spec and its overlays (load), check them against the JSON
schema (schema) and the semantic rules (rules), resolve every environment (resolve), and turn
each into the typed model (model)."""
