"""What goalflow fetches from Amazon SNS: signing certificates (cached) and
subscription confirmations, only ever from an Amazon SNS host over HTTPS
(`shared.domain.providers.ses.sns_url`); any other URL is refused before a
connection is made. Tests hand it an HTTP client whose transport serves
Amazon's URLs from loopback."""

import httpx

from shared.domain.errors import Unavailable
from shared.domain.providers import Unsigned
from shared.domain.providers.ses import sns_url

# Certificates are a few KiB; SNS signs with a handful at a time.
MAX_CACHED = 64


class AmazonSns:
    def __init__(self, http: httpx.AsyncClient | None = None):
        # Redirects stay unfollowed: one could lead off Amazon's hosts.
        self.http = http or httpx.AsyncClient(timeout=10, follow_redirects=False)
        self._certificates: dict[str, bytes] = {}

    async def certificate(self, url: str) -> bytes:
        if not sns_url(url):
            raise Unsigned(f"SigningCertURL is not an Amazon SNS URL: {url}")
        cached = self._certificates.get(url)
        if cached is None:
            cached = (await self._get(url)).content
            if len(self._certificates) >= MAX_CACHED:
                self._certificates.pop(next(iter(self._certificates)))
            self._certificates[url] = cached
        return cached

    async def confirm(self, subscribe_url: str) -> None:
        """Confirm a subscription: a GET of its SubscribeURL."""
        if not sns_url(subscribe_url):
            raise Unsigned(f"SubscribeURL is not an Amazon SNS URL: {subscribe_url}")
        await self._get(subscribe_url)

    async def _get(self, url: str) -> httpx.Response:
        try:
            response = await self.http.get(url)
            response.raise_for_status()
        except httpx.HTTPError as error:
            # SNS tries again on anything but a 2xx.
            raise Unavailable(f"Amazon SNS did not answer {url}: {error}") from None
        return response
