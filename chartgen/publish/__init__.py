"""`chartgen publish`: package the validated chart, add it to a Helm repository directory and/or
push it to an OCI registry. One module per responsibility: archive (deterministic package),
durable (crash-safe writes), index (index.yaml merge), signing (provenance), oci (registry push),
run (the pipeline)."""
