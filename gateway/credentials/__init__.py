"""Credentials: the one model integrations (which check them) and subscribers (which sign
with them) share.

- `schemes`: what a credential is, scheme by scheme (Hubster key pair, Standard Webhooks
  secret or public key, SCG Basic or Bearer, Twilio token, Telnyx key): its fields, how a
  given one is checked, how a missing one is generated and what a regeneration issues. A
  `whsec_` secret and a Hubster key are checked by the same validator on both sides.
- `rotation`: a holder's `Credentials`, the current one and those replaced by rotations,
  each valid until an absolute expiry; rotation with a grace in seconds, the caps on how
  many previous credentials are kept, and the record member they are stored in.

A credential is a flat mapping of field name to text (`{"secret": "whsec_..."}`,
`{"publicSigningKey": ..., "privateSigningKey": ...}`): the fields an integration's
`configuration` shows and a subscriber's view carries. Pure: no I/O, no aiohttp.
"""
