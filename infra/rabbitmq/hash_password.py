"""Print the RabbitMQ password hash (rabbit_password_hashing_sha256) of a password, for
``password_hash`` in definitions.json:

    python infra/rabbitmq/hash_password.py 'the new password'
"""

import base64
import hashlib
import os
import sys


def rabbit_hash(password: str, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else os.urandom(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    print(rabbit_hash(sys.argv[1]))
