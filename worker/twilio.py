"""Twilio's Messages API (`POST /2010-04-01/Accounts/{AccountSid}/Messages.json`),
over httpx: a form-encoded request under HTTP basic auth (the account SID and
its auth token), answered 201 with the message resource, or with Twilio's error
`{"code", "message", "more_info", "status"}`."""

from dataclasses import dataclass

import httpx


class TwilioError(Exception):
    """Twilio refused the message, or could not be reached."""

    def __init__(self, reason: str, permanent: bool):
        super().__init__(reason)
        self.permanent = permanent


@dataclass(frozen=True)
class TwilioAccount:
    account_sid: str
    auth_token: str
    api_url: str = "https://api.twilio.com"

    async def create_message(self, fields: dict[str, str], attempt_seconds: float = 60) -> str | None:
        """Send a message; its SID. TwilioError says whether trying again can help:
        a 4xx answer is final (but 429, too many requests); a 5xx, a timeout or a
        lost connection is not. A client per message: a send is one request."""
        url = f"{self.api_url}/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        try:
            async with httpx.AsyncClient(timeout=attempt_seconds) as client:
                response = await client.post(url, data=fields, auth=(self.account_sid, self.auth_token))
        except httpx.HTTPError as error:
            raise TwilioError(
                f"Twilio did not answer: {type(error).__name__}: {error}", permanent=False
            ) from None
        answer = _json(response)
        if response.is_success:
            sid = answer.get("sid")
            return sid if isinstance(sid, str) else None
        code = f", error {answer['code']}" if answer.get("code") else ""
        reason = (
            f"Twilio answered {response.status_code}{code}: {answer.get('message') or response.text[:200]}"
        )
        raise TwilioError(reason, permanent=response.is_client_error and response.status_code != 429)


def _json(response: httpx.Response) -> dict[str, object]:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}
