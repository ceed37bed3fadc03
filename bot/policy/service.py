"""The policy service: the current corpus and its engine, swapped atomically on reload.

`PolicyService()` loads bot/policy/data at start-up and raises `CorpusError` if it does not
validate (the bot should not start with a broken corpus). `reload()` loads the files again
and builds a new engine; only when both succeed does it replace the current pair, in one
assignment, so a question asked meanwhile sees either the old or the new corpus, never a
mix. On `CorpusError` the last good corpus keeps serving and the error is re-raised for the
admin. Building the engine takes about a second: call `reload` from a worker thread
(`await asyncio.to_thread(service.reload)`) in async code.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from bot.policy.corpus import Corpus, CorpusError, load_corpus
from bot.policy.engine import PolicyEngine, Result

log = logging.getLogger(__name__)

__all__ = ["CorpusError", "PolicyService"]


@dataclass(frozen=True)
class _State:
    corpus: Corpus
    engine: PolicyEngine


class PolicyService:
    """Holds the current engine; thread-safe swap on reload."""

    def __init__(self, directory: Path | None = None, *, threshold: float | None = None) -> None:
        self.directory = directory
        self.threshold = threshold
        self._reload_lock = threading.Lock()
        self._state = self._build()

    def _build(self) -> _State:
        corpus = load_corpus(self.directory)
        return _State(corpus, PolicyEngine(corpus, threshold=self.threshold))

    @property
    def corpus(self) -> Corpus:
        return self._state.corpus

    @property
    def engine(self) -> PolicyEngine:
        return self._state.engine

    def ask(self, question: str, k: int = 3) -> Result:
        """`engine.ask` on the current engine."""
        return self._state.engine.ask(question, k)

    def reload(self) -> Corpus:
        """Load the corpus again; on `CorpusError` keep the last good one and re-raise."""
        with self._reload_lock:
            try:
                state = self._build()
            except CorpusError as exc:
                log.warning("policy corpus reload failed, keeping the last good corpus: %s", exc)
                raise
            self._state = state
            log.info("policy corpus reloaded: %d sections", len(state.corpus.sections))
            return state.corpus
