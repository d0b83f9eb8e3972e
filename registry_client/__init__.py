"""A client for the collection registry's API (API.md v1): signed requests, typed
answers, retries on 429/503, batches of at most 1000.

    from registry_client import Client, calls, load_private_key
"""

from registry_client import calls, models
from registry_client.calls import Call
from registry_client.client import AsyncClient, Client
from registry_client.paths import path_of, segment, target
from registry_client.problems import Problem, ProblemError
from registry_client.signing import Signer, load_private_key, public_jwk
from registry_client.transport import MAX_BATCH, RetryPolicy, batches

__all__ = [
    "MAX_BATCH", "AsyncClient", "Call", "Client", "Problem", "ProblemError", "RetryPolicy",
    "Signer", "batches", "calls", "load_private_key", "models", "path_of", "public_jwk",
    "segment", "target",
]
