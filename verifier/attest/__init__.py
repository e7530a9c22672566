"""Signed attestations: in-toto Statements in DSSE envelopes, signed with Ed25519.

| module       | job                                                                 |
| ------------ | ------------------------------------------------------------------- |
| `keys`       | the signing key pair under `<home>/keys/`, and key ids              |
| `dsse`       | DSSE envelopes: PAE, signing, decoding hostile files within caps    |
| `statements` | typed Statement v1 models (check), and the run and verdict statements we make |
| `store`      | the one on-disk layout: envelopes in the artifact store, an index per claim |
| `check`      | `verify attest check`: signatures, then subjects against the store  |

Nothing is imported here, so `import verifier.attest.store` (on every
`verify` run) costs no `cryptography` and no statement models. The URIs that
name our things live here, for anyone who cites them (ClaimReview, RO-Crate).
"""

from typing import Final

URI_BASE: Final = "https://claim-verifier.invalid"
VERIFIER_ID: Final = f"{URI_BASE}/verifier"
