"""Question -> Answer over the current index generation: the one entry point of every face."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace

from rag.answering.grounding import Policy, answer
from rag.config import Settings
from rag.embedding.base import Embedder
from rag.errors import IndexMissing, RagError
from rag.index.backends import open_published, published_generation
from rag.index.base import Store, Vectors
from rag.reading.base import Reader, Reading
from rag.reading.features import store_lexicon
from rag.reading.load import load_reader
from rag.retrieval.retriever import Retriever, interleave
from rag.text.followup import bridge_names, standalone_query
from rag.text.lexicon import Lexicon
from rag.types import Answer, Hit, Turn

log = logging.getLogger(__name__)

BRIDGE_HITS = 4  # chunks the second hop may add
# A quote from a source not yet quoted needs at most this share of the best quote's
# probability (or the quote ratio, if lower): a question that joins facts from two documents
# is answered by quoting both.
OTHER_SOURCE_RATIO = 0.2


def other_source_ratio(quote_ratio: float) -> float:
    """The share a quote from a source not yet quoted needs, given the quote ratio."""
    return min(quote_ratio, OTHER_SOURCE_RATIO)


@dataclass(frozen=True, slots=True)
class _Loaded:
    """Everything that belongs to one generation, swapped in as a whole."""

    store: Store
    retriever: Retriever
    lexicon: Lexicon


class Assistant:
    """Answers questions with verbatim quotes from the current index generation."""

    def __init__(
        self, settings: Settings, embedder: Embedder, reader: Reader | None = None
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.reader: Reader = reader or load_reader(settings.reader)
        threshold = settings.refusal_threshold
        self.policy = Policy(
            threshold=self.reader.threshold if threshold is None else threshold,
            quote_ratio=self.reader.quote_ratio,
            max_quotes=settings.max_quotes,
            other_source_ratio=other_source_ratio(self.reader.quote_ratio),
            short_threshold=self.reader.short_threshold,
        )
        self._loaded: _Loaded | None = None
        self._error: RagError | None = None  # why the last load failed, if it did
        self._lock = threading.Lock()
        self.reload()

    @property
    def ready(self) -> bool:
        """True once an index generation is loaded."""
        return self._loaded is not None

    @property
    def generation(self) -> int:
        """The loaded generation number, 0 if none."""
        return self._loaded.store.generation if self._loaded else 0

    @property
    def store(self) -> Store:
        """The loaded store; raise IndexMissing if none."""
        return self._current().store

    @property
    def problems(self) -> list[str]:
        """What is wrong with the index on disk, if anything (a refused generation, ...)."""
        found = list(self._loaded.store.problems) if self._loaded else []
        if self._error is not None and not isinstance(self._error, IndexMissing):
            found.append(str(self._error))
        return found

    def _current(self) -> _Loaded:
        loaded = self._loaded
        if loaded is None:
            error = self._error or IndexMissing("no index is loaded yet: run `rag index`")
            # a fresh exception each time: re-raising one object would grow its traceback
            raise type(error)(str(error))
        return loaded

    def reload(self) -> bool:
        """Load the current generation if it is newer; return whether one was swapped in.

        A generation that cannot be loaded is recorded in `problems`; the one already loaded
        keeps serving, and with none loaded `ask` raises that error.
        """
        with self._lock:
            if self._loaded and published_generation(self.settings) == self.generation:
                return False
            try:
                store = open_published(self.settings, self.embedder)
            except RagError as exc:
                self._error = exc
                if isinstance(exc, IndexMissing):  # expected before the first build
                    log.debug("no index yet in %s", self.settings.index_dir)
                else:
                    log.warning("index not loaded: %s", exc)
                return False
            self._error = None
            if self._loaded and store.generation == self.generation:
                return False
            lexicon = store_lexicon(store)
            self._loaded = _Loaded(store, Retriever(store, self.embedder), lexicon)
            log.debug("serving index generation %d", store.generation)
            return True

    def _second_hop(
        self, loaded: _Loaded, question: str, query: str, vector: Vectors, hits: list[Hit]
    ) -> tuple[Reading, list[Hit]]:
        """Read the hits; return the reading and the passages about its bridge names (or [])."""
        reading = self.reader.read(question, vector, hits, loaded.store, loaded.lexicon)
        best = reading.candidates[0] if reading.candidates else None
        bridge = bridge_names(question, best.text, best.title) if best else ""
        if not bridge:
            return reading, []
        return reading, loaded.retriever.widen(hits, f"{query} {bridge}", BRIDGE_HITS)[len(hits) :]

    def second_hop(self, question: str, vector: Vectors, hits: list[Hit]) -> list[Hit]:
        """The passages `ask` adds to these hits: those about the bridge name that their best
        sentence adds to the question (none if it adds none)."""
        return self._second_hop(self._current(), question, question, vector, hits)[1]

    def search(self, query: str, k: int) -> list[Hit]:
        """Return the k best passages for a query, following one bridge hop as `ask` does.

        The passages the second hop finds (about a name the best sentence adds to the query)
        are interleaved with the first hop's, which keep ranks 1, 3, 5, ...: a two-document
        question finds both documents, and a one-document question keeps its best ones on top.
        """
        loaded = self._current()
        vector = self.embedder.embed([query])[0]
        hits = loaded.retriever.retrieve_embedded(query, vector, max(k, self.settings.top_k))
        _, extra = self._second_hop(loaded, query, query, vector, hits[: self.settings.top_k])
        return interleave(hits, extra)[:k]

    def ask(
        self,
        question: str,
        history: Sequence[Turn] = (),
        top_k: int | None = None,
        max_quotes: int | None = None,
        threshold: float | None = None,
        quote_ratio: float | None = None,
    ) -> Answer:
        """Answer a question with verbatim quotes, or refuse.

        Args:
            top_k, max_quotes, threshold, quote_ratio: this question's passages to read, most
                quotes, refusal threshold and quote ratio, instead of the settings' and the
                reader's.
        """
        ratio = self.policy.quote_ratio if quote_ratio is None else quote_ratio
        policy = replace(
            self.policy,
            max_quotes=max_quotes or self.policy.max_quotes,
            threshold=self.policy.threshold if threshold is None else threshold,
            quote_ratio=ratio,
            other_source_ratio=other_source_ratio(ratio),
        )
        loaded = self._current()  # one generation serves the whole question
        query = standalone_query(question, history)
        vectors = self.embedder.embed([query] if query == question else [query, question])
        hits = loaded.retriever.retrieve_embedded(query, vectors[0], top_k or self.settings.top_k)
        # A follow-up searches with the conversation's names but is read as asked, so that
        # "What about the drones?" picks the drone sentence, not the earlier topic's.
        reading, extra = self._second_hop(loaded, question, query, vectors[-1], hits)
        if extra:
            hits = [*hits, *extra]
            reading = self.reader.read(question, vectors[-1], hits, loaded.store, loaded.lexicon)
        store = loaded.store
        return answer(
            question,
            reading,
            store,
            policy,
            query,
            store.generation,
            loaded.lexicon,
            self.reader,
        )
