"""Which knowledge section a staff reply follows: tf-idf cosine, judged against chance.

A resolving reply that paraphrases a Confluence section shares that section's rare stems
(field names, error codes, menu paths). Reply and sections are tf-idf vectors over the
stems the knowledge base uses (`assistant.knowledge.text.terms`, sublinear tf, idf fitted
on the sections), so greetings and signatures weigh nothing. Any reply shares a little
with many sections by chance; the label is taken only when the best section stands out:
its cosine must beat the best section of any *other* document by `DEFAULT_MIN_MARGIN`
(the runner-up document is this reply's own chance level). The constant is the margin
5-fold cross-validation picks on a degraded copy of the sample history (typos, dropped
words, truncation), where the generator knows which pages each resolution came from;
on the clean sample CV would pick 0, which real, messier replies do not justify
(benchmarks/answer_labels.py prints recall and precision per margin on both). An
idf-weighted containment score topped out at 79 % top-1 accuracy, tf-idf cosine at 92 %.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from assistant.knowledge.text import terms

DEFAULT_MIN_MARGIN = 0.03
MIN_REPLY_TERMS = 5  # a one-line "closing, write again" carries no knowledge
BATCH = 64  # replies per similarity block: 64 × sections floats in memory


@dataclass(frozen=True)
class Section:
    chunk_id: str
    document_id: str
    text: str


@dataclass(frozen=True)
class OverlapMatch:
    document_id: str
    chunk_id: str
    cosine: float  # tf-idf cosine of reply and best section, 0..1
    margin: float  # lead over the best section of another document

    def clears(self, min_margin: float) -> bool:
        return self.cosine > 0 and self.margin >= min_margin


class OverlapIndex:
    """Tf-idf vectors of the knowledge sections; fit once per run."""

    def __init__(self, sections: Sequence[Section]) -> None:
        self.sections = list(sections)
        self.documents = np.array([s.document_id for s in self.sections], dtype=object)
        self.vectorizer = TfidfVectorizer(analyzer=terms, sublinear_tf=True)
        self.matrix = (
            self.vectorizer.fit_transform([s.text for s in self.sections])
            if len({s.document_id for s in self.sections}) >= 2
            else None
        )

    def match(self, reply: str) -> OverlapMatch | None:
        return self.match_many([reply])[0]

    def match_many(self, replies: Sequence[str]) -> list[OverlapMatch | None]:
        """The best section for each reply (None: too short, or no knowledge to compare)."""
        if self.matrix is None:
            return [None] * len(replies)
        out: list[OverlapMatch | None] = []
        vocabulary = self.vectorizer.vocabulary_
        for start in range(0, len(replies), BATCH):
            batch = replies[start : start + BATCH]
            sims = (self.vectorizer.transform(batch) @ self.matrix.T).toarray()
            for reply, row in zip(batch, sims, strict=True):
                if len({t for t in terms(reply) if t in vocabulary}) < MIN_REPLY_TERMS:
                    out.append(None)
                    continue
                best = int(row.argmax())
                document = self.documents[best]
                other = float(row[self.documents != document].max())
                out.append(
                    OverlapMatch(
                        document_id=str(document),
                        chunk_id=self.sections[best].chunk_id,
                        cosine=round(float(row[best]), 6),
                        margin=round(float(row[best]) - other, 6),
                    )
                )
        return out
