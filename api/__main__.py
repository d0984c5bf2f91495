"""The API under uvicorn: `python -m api [--host H] [--port P]`.

With GOALFLOW_AUTH=off every request is served without a key, so it refuses
to listen anywhere but on a loopback address."""

import argparse
import ipaddress
import socket

import uvicorn

from shared.settings import settings


def loopback(host: str) -> bool:
    """Whether every address `host` stands for is a loopback one."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror:
        return False
    return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args()
    if not settings().auth and not loopback(args.host):
        raise SystemExit(
            f"GOALFLOW_AUTH is off: the API serves anyone without a key, so it listens on a loopback "
            f"address only, not on {args.host}. Turn GOALFLOW_AUTH on, or listen on 127.0.0.1."
        )
    uvicorn.run("api.app:app", host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
