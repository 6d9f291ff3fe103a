"""The masking rules behind `assistant.redact` (import from there): `rules`, `public`, `person`."""
