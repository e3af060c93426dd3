"""The deployed model as its container described it: the model card, read from S3 and kept a while.

The container writes `<SDXL_CACHE_S3_URI>model-card.json` at start (core/cache/card.py). The
gateway reads it on first use and again after `card_ttl_s` (settings.CARD_TTL_S by default), so a new
release's card takes over within that time; in between, requests are read and keyed with the card in memory (a key
of the previous model only finds that model's images, never another model's). A missing card is a
one-line NoModelCard; a card from another version of the key or scheduler rules is refused. When a
refresh fails but a card is in memory, that card is kept and the failure logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from botocore.exceptions import BotoCoreError, ClientError

from sdxl_inf2.core.cache.card import CARD_NAME, CardError, ModelCard, read_card
from sdxl_inf2.core.cache.key import KEY_VERSION
from sdxl_inf2.core.cache.s3 import S3Store
from sdxl_inf2.core.schedulers import SCHEDULERS

from .errors import IncompatibleCard, NoModelCard

log = logging.getLogger("sdxl.gateway")


class CardReader:
    def __init__(self, store: S3Store, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.store, self.ttl_s, self.clock = store, ttl_s, clock
        self.location = store.location(CARD_NAME)
        self._card: ModelCard | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()

    def current(self) -> ModelCard:
        with self._lock:
            if self._card is None or self.clock() - self._read_at >= self.ttl_s:
                self._card = self._refresh(self._card)
                self._read_at = self.clock()
            return self._card

    def _refresh(self, kept: ModelCard | None) -> ModelCard:
        try:
            return self._read()
        except (ClientError, BotoCoreError) as exc:
            if kept is None:
                raise
            log.warning("model card %s not refreshed, keeping the one in memory: %s", self.location, exc)
            return kept

    def _read(self) -> ModelCard:
        try:
            blob = self.store.get(CARD_NAME)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchBucket":
                raise
            blob = None
        if blob is None:
            raise NoModelCard(
                f"no model card at {self.location}: no sdxl-inf2 container has started with "
                f"SDXL_CACHE_S3_URI=s3://{self.store.bucket}/{self.store.prefix} (each instance writes the card "
                "there at start); start the endpoint once, or point the gateway at the endpoint's cache prefix"
            )
        try:
            card = read_card(blob, self.location)
        except CardError as exc:
            raise IncompatibleCard(str(exc)) from None
        check_compatible(card, self.location)
        return card


def check_compatible(card: ModelCard, location: str) -> None:
    """The card's key and scheduler rules must be this code's, or keys and validation would differ."""
    if card.key_version != KEY_VERSION:
        raise IncompatibleCard(
            f"{location}: written with cache-key version {card.key_version}, this gateway keys with "
            f"{KEY_VERSION}; deploy the gateway from the same sdxl-inf2 version as the image"
        )
    if card.schedulers != tuple(SCHEDULERS):
        raise IncompatibleCard(
            f"{location}: the container knows schedulers {', '.join(card.schedulers)}, this gateway "
            f"{', '.join(SCHEDULERS)}; deploy the gateway from the same sdxl-inf2 version as the image"
        )
