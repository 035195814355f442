"""Governance: tenants, keys and roles, quotas, personal data, the audit trail, egress."""
