"""Mask personal data in ticket text before it leaves for the index, logs or the LLM.

One masking for the whole product; its parts live in `assistant/masking/`: `rules` (what
is masked, as which placeholder), `public` (the organisation's own contacts, which
stay), `person` (the sender's name and identifiers). The dbt macro `mask_pii` applies
the same rules and is tested against the same cases (`tests/mask_cases.yaml`);
docs/privacy.md says what is masked where.
"""

from assistant.masking.person import greeting_name, mask_person
from assistant.masking.public import PublicContacts, load_public_contacts
from assistant.masking.rules import Redaction, placeholders, redact, redact_with_counts

__all__ = [
    "PublicContacts",
    "Redaction",
    "greeting_name",
    "load_public_contacts",
    "mask_person",
    "placeholders",
    "redact",
    "redact_with_counts",
]
