"""ACL identities derived from the topology spec, and an evaluator of Redis 7.0 ACL rules."""
