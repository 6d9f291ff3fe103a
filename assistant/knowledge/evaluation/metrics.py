"""Retrieval metrics and the off-topic probes, shared by every evaluation and fit.

`query_metrics` scores one ranked document list against its judgements (hit@1/5/10,
reciprocal rank, nDCG@10); the off-topic probes are questions no support knowledge base
answers, the negatives of every no-match threshold fit (`fitting.fit_threshold`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

CUTOFF = 10
OFF_TOPIC_QUERIES = (
    "Посудомойка не сливает воду\nПосле переезда посудомоечная машина Bosch не сливает воду, "
    "горит ошибка E24. Фильтр почистили, не помогло. Что делать?",
    "Рецепт борща\nПодскажите, сколько варить говядину для борща и когда добавлять свёклу, "
    "чтобы цвет остался ярким?",
    "Зимние шины\nКакие шипованные шины выбрать для кроссовера на зиму в Подмосковье, "
    "если ездим в основном по городу?",
    "Собака не слушается\nЩенок лабрадора грызёт мебель и не реагирует на команду «сидеть». "
    "Как его приучить?",
    "Билеты в театр\nГде купить билеты в Большой театр на «Щелкунчика» в декабре и сколько "
    "они стоят?",
    "Тюльпаны осенью\nКогда сажать луковицы тюльпанов и на какую глубину, чтобы весной зацвели?",
    "Электричка до Подольска\nВо сколько первая электричка с Курского вокзала до "
    "Подольска в выходные?",
    "Протекает кран\nНа кухне капает смеситель, поменяли прокладку, всё равно течёт. "
    "Нужно ли менять картридж?",
    "Отпуск в Турции\nКакой отель в Анталии выбрать с детьми на майские праздники, "
    "чтобы был аквапарк?",
    "Глинтвейн дома\nКак сварить глинтвейн без алкоголя на вишнёвом соке, какие специи нужны?",
    "Шахматы для детей\nС какого возраста учить ребёнка играть в шахматы и какие книги "
    "подойдут для начала?",
    "Ноутбук греется\nИгровой ноутбук сильно шумит и нагревается до 95 градусов в играх, "
    "поможет ли замена термопасты?",
)


def query_metrics(ranked: Sequence[str], relevant: dict[str, int]) -> dict[str, float]:
    """hit@1/5/10, reciprocal rank and nDCG@10 of one ranked document list."""
    top = list(ranked[:CUTOFF])
    positives = {doc for doc, rel in relevant.items() if rel > 0}
    first = next((i for i, doc in enumerate(top, start=1) if doc in positives), None)
    dcg = sum((2 ** relevant.get(doc, 0) - 1) / math.log2(i + 1) for i, doc in enumerate(top, 1))
    ideal = sorted((rel for rel in relevant.values() if rel > 0), reverse=True)[:CUTOFF]
    idcg = sum((2**rel - 1) / math.log2(i + 1) for i, rel in enumerate(ideal, 1))
    return {
        "hit@1": float(first == 1),
        "hit@5": float(first is not None and first <= 5),
        "hit@10": float(first is not None),
        "mrr@10": 1.0 / first if first else 0.0,
        "ndcg@10": dcg / idcg if idcg else 0.0,
    }


def mean_metrics(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    keys = ("hit@1", "hit@5", "hit@10", "mrr@10", "ndcg@10")
    return {key: round(sum(r[key] for r in rows) / len(rows), 4) if rows else 0.0 for key in keys}
