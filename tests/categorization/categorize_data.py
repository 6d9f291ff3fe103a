# ruff: noqa: E501  (the CSV rows read better unwrapped)
"""Realistic Russian ticket texts per category, a small taxonomy, and a `marts.fct_tickets`.

Shared by the categorization tests: the tables that dbt would build are created here
by hand so the tests do not depend on the dbt project.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

TAXONOMY_CSV = """category_code,name_ru,description_ru,example_phrases,taxonomy_version
forms_fields,Формы и поля,"Шаблон формы, обязательные поля, таблицы",поле красное | нет кнопки Шаблон,t1
access_roles,Права доступа и роли,"Права в форме, роли, блокировка сотрудников",коллега не видит заявки | нет прав,t1
email_notifications,Почта и уведомления,"Письма, уведомления, почтовые ящики",не приходят уведомления | письма в спам,t1
mobile_app,Мобильное приложение,"iOS и Android приложение, push",приложение вылетает | нет push,t1
licenses_billing,Лицензии и оплата,"Тарифы, счета, лицензии",нужен счёт | закончились лицензии,t1
other,Другое,"Всё остальное",вопрос не по теме,t1
"""

PHRASES: dict[str, list[str]] = {
    "forms_fields": [
        "Не могу добавить новое поле в шаблон формы заявки на оплату",
        "Поле «Цель платежа» подсвечено красным и не даёт согласовать",
        "У меня нет кнопки Шаблон, как поменять поля формы",
        "Переименовали поле в форме, таблица перестала заполняться",
        "Как сделать поле обязательным только на втором этапе формы",
        "В таблице формы не добавляется строка, поле суммы пустое",
        "Хотим добавить значение поля в заголовок задачи формы",
        "Поле дата в форме не сохраняется после редактирования шаблона",
    ],
    "access_roles": [
        "Коллега не видит заявки нашего отдела, нужны права доступа",
        "Как выдать роль администратора формы новому сотруднику",
        "Уволенный сотрудник заблокирован, кто теперь видит его задачи",
        "Нет доступа к реестру, пишет недостаточно прав",
        "Новый руководитель не может открыть задачи подчинённых, права",
        "Как добавить сотрудника в роль согласующих бухгалтерии",
        "Пропал доступ к настройкам организации у администратора",
        "Нужно ограничить права гостя, чтобы он не видел комментарии",
    ],
    "email_notifications": [
        "Не приходят уведомления на почту о новых задачах",
        "Письма от Pyrus попадают в спам у всех сотрудников",
        "Почтовый ящик поддержки перестал создавать заявки из писем",
        "Как отключить уведомления на email о каждом комментарии",
        "Клиент не получает ответ на письмо, уведомление не отправлено",
        "Уведомления о просроченных задачах дублируются на почту",
        "Подключили почту по IMAP, письма не загружаются",
        "Дайджест на почту приходит с опозданием на сутки",
    ],
    "mobile_app": [
        "Мобильное приложение на айфоне вылетает при открытии задачи",
        "Не приходят push уведомления в приложении на Android",
        "В приложении на телефоне не загружаются вложения",
        "После обновления приложения iOS не могу войти",
        "Приложение на андроиде зависает на экране входящих",
        "В мобильном приложении не видно кнопку согласовать",
        "Приложение на планшете не синхронизирует задачи",
        "Фото с камеры телефона не прикрепляется в приложении",
    ],
    "licenses_billing": [
        "Нужен счёт на оплату лицензий на следующий год",
        "Закончились лицензии, не можем добавить новых сотрудников",
        "Как перейти на другой тариф и сколько это стоит",
        "Пришёл акт, а счёт-фактуры нет, пришлите пожалуйста",
        "Оплатили счёт, но лицензии не продлились",
        "Сколько стоит лицензия для 50 пользователей",
        "Хотим уменьшить количество лицензий со следующего месяца",
        "Нужны закрывающие документы по оплате за квартал",
    ],
    "other": [
        "Добрый день, подскажите график работы поддержки в праздники",
        "Спасибо за помощь, вопрос решён, можно закрывать",
        "Хотим провести обучение для сотрудников, есть вебинары",
        "Где найти презентацию о возможностях системы для руководства",
        "Можно ли получить рекомендательное письмо для тендера",
        "Подскажите контакт менеджера по партнёрской программе",
        "Интересует кейс внедрения в розничной сети",
        "Просим прислать материалы к прошедшей конференции",
    ],
}

OPENERS = ["", "Добрый день! ", "Здравствуйте. ", "Коллеги, ", "Срочно! "]
CLOSERS = [
    "",
    " Спасибо.",
    " Заранее благодарю.",
    " Скриншот во вложении.",
    " Помогите, пожалуйста.",
]


def write_taxonomy(directory: Path, text: str = TAXONOMY_CSV) -> Path:
    path = directory / "categories.csv"
    path.write_text(text, "utf-8")
    return path


def labelled_examples(per_phrase: int = 2, seed: int = 7) -> list[tuple[str, str]]:
    """(text, label) pairs: each phrase with random openers and closers."""
    rng = random.Random(seed)
    rows = []
    for code, phrases in PHRASES.items():
        for phrase in phrases:
            for _ in range(per_phrase):
                rows.append((rng.choice(OPENERS) + phrase + rng.choice(CLOSERS), code))
    rng.shuffle(rows)
    return rows


def create_fct_tickets(
    conn: psycopg.Connection,
    rows: list[tuple[str, str | None]],
    *,
    start_id: int = 1000,
    start_at: datetime | None = None,
) -> list[int]:
    """Create `marts.fct_tickets` if needed and append tickets; returns their ids."""
    conn.execute("create schema if not exists marts")
    conn.execute(
        "create table if not exists marts.fct_tickets (ticket_id bigint primary key, "
        "created_at timestamptz, subject text, description text, staff_category_code text)"
    )
    base = start_at or datetime(2026, 1, 10, 9, tzinfo=UTC)
    ids = []
    for offset, (text, label) in enumerate(rows):
        subject, _, description = text.partition(". ")
        ticket_id = start_id + offset
        conn.execute(
            "insert into marts.fct_tickets values (%s, %s, %s, %s, %s) "
            "on conflict (ticket_id) do update set staff_category_code = excluded."
            "staff_category_code",
            (ticket_id, base + timedelta(hours=offset), subject, description, label),
        )
        ids.append(ticket_id)
    return ids
