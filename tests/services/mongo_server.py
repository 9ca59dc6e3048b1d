"""A MongoDB wire-protocol server (mongoeco) on 127.0.0.1, for the integration tests.

Run with the services venv: `.venv-services/bin/python tests/services/mongo_server.py PORT`.
Prints `ready` once it accepts connections.
"""

import asyncio
import sys

from mongoeco.wire import AsyncMongoEcoProxyServer


async def main(port: int) -> None:
    server = AsyncMongoEcoProxyServer(host="127.0.0.1", port=port)
    await server.start()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
