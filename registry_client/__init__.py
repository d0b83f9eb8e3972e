"""A client for the collection registry's API (API.md v1): signed requests, typed
answers, retries on 429/503, batches of at most 1000; and checks of what the registry
proves (API.md §15): Merkle proofs, signed checkpoints, trace receipts.

    from registry_client import Client, calls, load_private_key, receipts
"""

from registry_client import calls, merkle, models, note, receipts
from registry_client.calls import Call
from registry_client.client import AsyncClient, Client
from registry_client.paths import path_of, segment, target
from registry_client.problems import Problem, ProblemError
from registry_client.signing import Signer, load_private_key, public_jwk
from registry_client.transport import MAX_BATCH, RetryPolicy, batches

__all__ = [
    "MAX_BATCH",
    "AsyncClient",
    "Call",
    "Client",
    "Problem",
    "ProblemError",
    "RetryPolicy",
    "Signer",
    "batches",
    "calls",
    "load_private_key",
    "merkle",
    "models",
    "note",
    "path_of",
    "public_jwk",
    "receipts",
    "segment",
    "target",
]
