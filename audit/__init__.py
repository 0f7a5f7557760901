"""The tamper-evident access log (Ed Code 49064; 34 CFR 99.32), as a pure library.

Standard library, ``cryptography`` and ``rfc8785`` only: no web framework, no
database. An auditor can run it on an export alone (``python -m audit.verify``).

    events      what one access-log entry says, and its stored form
    sealing     AES-256-GCM sealing of the student-identifying part
    merkle      RFC 9162 Merkle tree hashing, proofs, and the TreeStore protocol
    checkpoint  C2SP signed checkpoints (tlog-checkpoint, signed-note, Ed25519)
    log         an append-only access log in memory, tying the four together
    verify      the offline verifier and its command line
"""
