"""A faithful local MediaPost API server: the default target for demos, tests and benchmarks.

It verifies requests with its own code (signature, multipart parsing) and imports nothing from the
client packages, so a bug in the client cannot hide behind the same bug in the emulator.

Decisions beyond /work/shared/mediapost-api.md (each also stated where it is implemented):

- `up.photos.get` by `aid` returns every photo of the album to its owner's own session, pending
  ones included, ordered by pid, `pageSize` default 10 (at most 1000), `pageNumber` default 1.
- A missing `api_key` is answered as an unknown key (101), a missing `sig` as a wrong one (104).
- createToken's `expires` (minutes, 0 = never) is the lifetime of the session it leads to; without
  it, sessions last `session_ttl_s`. A token is redeemed by getSession once.
- A `data` part that is not an image by its magic bytes is refused with 324 (configurable).
- Parameters of a POST come from its body only; a repeated name counts with its first value (but
  every occurrence is signed).

Entry points: `server.create_app`, `server.serve`, `server.run_in_thread`, `cli.emulator_command`.
"""
