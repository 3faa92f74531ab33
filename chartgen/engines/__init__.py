"""Adapters for the real engines chartgen drives: Helm, Kubernetes schemas, kubeconform,
NetworkPolicy evaluation, and the external programs a run may call."""
