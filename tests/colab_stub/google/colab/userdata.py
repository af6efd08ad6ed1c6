"""userdata.get: Colab's secrets; here from $COLAB_STUB_SECRETS (a JSON object)."""
import json
import os

from ._log import record


class SecretNotFoundError(Exception):
    pass


def get(key: str) -> str:
    secrets = json.loads(os.environ.get("COLAB_STUB_SECRETS") or "{}")
    record("userdata.get", key=key)
    if key not in secrets:
        raise SecretNotFoundError(f"Secret {key} does not exist.")
    return secrets[key]


class NotebookAccessError(Exception):
    """Colab raises this when the user denies the notebook access to a secret."""
